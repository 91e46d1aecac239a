/* tile.h - the framework of the query-tile kernels (tiled, and ranges on
 * blocks of rows that share their runs): TILE_Q queries packed transposed
 * and pre-scaled into vector lanes, chunks of up to TILE_K keys scored,
 * masked, folded by the ISA's micro-kernels (simd.h), and the output
 * written back. */
#ifndef SABENCH_TILE_H
#define SABENCH_TILE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernel.h"
#include "simd.h"

/* A thread's tile: qt and ot (d x TILE_Q), scores s (TILE_K x TILE_Q),
 * running max m and sum l (TILE_Q each). */
struct tile {
	float *qt, *ot, *s, *m, *l;
	long rows;              /* real query rows (the rest are padding) */
};

/* Floats of a tile's buffer, a multiple of 16 (64-byte aligned tiles). */
static inline size_t tile_floats(int d)
{
	return (2 * (size_t)d * TILE_Q + TILE_K * TILE_Q + 2 * TILE_Q + 15) / 16 * 16;
}

/* Lays a tile out in buf and packs query rows q[0, rows) into it,
 * transposed and scaled by log2(e)/sqrt(d), with empty states. */
static inline struct tile tile_start(float *buf, const float *q, long rows, int d)
{
	struct tile t = { buf, buf + (size_t)d * TILE_Q, buf + 2 * (size_t)d * TILE_Q,
			  NULL, NULL, rows };
	float scale = (float)(1.4426950408889634 / sqrt((double)d));

	t.m = t.s + TILE_K * TILE_Q;
	t.l = t.m + TILE_Q;
	for (int c = 0; c < d; c++)
		for (long i = 0; i < TILE_Q; i++)
			t.qt[c * TILE_Q + i] = i < rows ? q[i * d + c] * scale : 0.0f;
	memset(t.ot, 0, (size_t)d * TILE_Q * sizeof *t.ot);
	for (int i = 0; i < TILE_Q; i++) {
		t.m[i] = -INFINITY;
		t.l[i] = 0.0f;
	}
	return t;
}

/* Folds nk keys (K and V rows d apart from k and v) into the tile; mask,
 * when given, holds per query the bits of the keys in its G. */
static inline void tile_fold(const struct tile *t, const struct simd_ops *ops,
			     const float *k, const float *v, int nk, int d,
			     const uint64_t *mask)
{
	ops->qk(t->qt, k, nk, d, t->s);
	if (mask)
		for (int j = 0; j < nk; j++)
			for (int q = 0; q < TILE_Q; q++)
				if (!((mask[q] >> j) & 1))
					t->s[j * TILE_Q + q] = -INFINITY;
	ops->softmax(t->s, nk, t->m, t->l, t->ot, d);
	ops->pv(t->s, v, nk, d, t->ot);
}

/* Writes the tile's rows to o (d apart): ot / l, zeros for empty rows. */
static inline void tile_finish(const struct tile *t, float *o, int d)
{
	for (long q = 0; q < t->rows; q++)
		for (int c = 0; c < d; c++)
			o[q * d + c] = t->l[q] > 0.0f ? t->ot[c * TILE_Q + q] / t->l[q] : 0.0f;
}

#endif
