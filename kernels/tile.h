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

_Static_assert(TILE_Q == 64 && TILE_K == 64, "tile masks are 64-bit words");

/* A thread's tile: qt and ot (d x TILE_Q), scores s (TILE_K x TILE_Q),
 * running max m and sum l (TILE_Q each), and kw, vw (TILE_K x d): a bf16
 * chunk's K and V widened to fp32 (and the query rows as they are packed). */
struct tile {
	float *qt, *ot, *s, *m, *l, *kw, *vw;
	long rows;              /* real query rows (the rest are padding) */
	const float *bias;      /* bias (log2 units) of lane q and key j at
				 * bias[q - j], or NULL (score.h) */
	float cap;              /* soft cap in log2 units, or 0 */
	int bf16;               /* Q, K, V in bf16; P rounded to bf16 for P V */
};

/* Floats of a tile's buffer, a multiple of 16 (64-byte aligned tiles). */
static inline size_t tile_floats(int d)
{
	return (4 * (size_t)d * TILE_Q + TILE_K * TILE_Q + 2 * TILE_Q + 15) / 16 * 16;
}

/* K (which 0) or V (1) rows of the head at kv_off from key j, in the
 * problem's dtype: what tile_fold takes. */
static inline const void *tile_kv(const struct problem *p, int which, size_t kv_off, long j)
{
	size_t at = kv_off + (size_t)j * (size_t)p->d;

	if (p->dtype == KV_BF16)
		return (which ? p->v16 : p->k16) + at;
	return (which ? p->v : p->k) + at;
}

/* Task t of the query-tile kernels over blocks query tiles per head: head
 * after head (a head's K/V stay in L2/L3 between its query tiles: 1.1x on
 * dense here), last tiles first within a head (causal rows near the end
 * hold more keys). Sets the head index (batch x heads) and the tile. */
static inline void tile_task_order(long t, long blocks, long *bh, long *tile)
{
	*bh = t / blocks;
	*tile = blocks - 1 - t % blocks;
}

/* Lays a tile out in buf and packs query rows r0 .. r0 + rows of head h
 * of sequence b into it (widened first when bf16), transposed and scaled
 * by log2(e) times p's score scale, with empty states. */
static inline struct tile tile_start(float *buf, const struct simd_ops *ops,
				     const struct problem *p, int b, int h, long r0, long rows)
{
	int d = p->d;
	struct tile t = { buf, buf + (size_t)d * TILE_Q, buf + 2 * (size_t)d * TILE_Q,
			  NULL, NULL, NULL, NULL, rows, NULL, 0.0f, p->dtype == KV_BF16 };
	float scale = (float)(1.4426950408889634 * score_scale(p->score, d));
	const float *bias = score_bias2_row(p->score, h);
	const float *q = p->q + kern_q_off(p, b, h) + (size_t)r0 * (size_t)d;
	long pos = p->n_kv - p->n_q + r0;

	t.bias = bias ? bias + pos : NULL;
	t.cap = p->score && p->score->kind == SCORE_SOFTCAP ?
		(float)(p->score->cap * 1.4426950408889634) : 0.0f;
	t.m = t.s + TILE_K * TILE_Q;
	t.l = t.m + TILE_Q;
	t.kw = t.l + TILE_Q;
	t.vw = t.kw + (size_t)TILE_K * (size_t)d;
	if (t.bf16) {
		kern_bf16_widen_rows(p->q16 + kern_q_off(p, b, h) + (size_t)r0 * (size_t)d, t.kw,
				     (size_t)rows * (size_t)d);
		q = t.kw;
	}
	if (rows < TILE_Q)
		memset(t.qt, 0, (size_t)d * TILE_Q * sizeof *t.qt);
	ops->transpose(q, d, t.qt, TILE_Q, (int)rows, d, scale);
	memset(t.ot, 0, (size_t)d * TILE_Q * sizeof *t.ot);
	for (int i = 0; i < TILE_Q; i++) {
		t.m[i] = -INFINITY;
		t.l[i] = 0.0f;
	}
	return t;
}

/* Turns TILE_Q row masks (bit j of m[q]: key j is in query q's G) into
 * key masks (bit q of m[j]), in place: a 64 x 64 bit transpose by block
 * swaps (Hacker's Delight, 7-3), a few hundred operations. */
static inline void tile_keys_mask(uint64_t m[TILE_Q])
{
	uint64_t lo = 0x00000000ffffffffULL;

	for (int j = 32; j; j >>= 1, lo ^= lo << j)
		for (int k = 0; k < 64; k = ((k | j) + 1) & ~j) {
			uint64_t t = ((m[k] >> j) ^ m[k | j]) & lo;
			m[k] ^= t << j;
			m[k | j] ^= t;
		}
}

/* Which halves of the query lanes (bit 0: 0-31, bit 1: 32-63) have a key
 * of keep[0, n) in their G. */
static inline int tile_halves(const uint64_t *keep, int n)
{
	uint64_t any = 0;

	for (int j = 0; j < n; j++)
		any |= keep[j];
	return ((any & 0xffffffffULL) != 0) | ((any >> 32) != 0) << 1;
}

/* The score function on the chunk's scores of lanes [q0, q1), keys key0
 * and on: the bias by offset, then the cap, before the mask. */
static inline void tile_score_mod(const struct tile *t, const struct simd_ops *ops,
				  long key0, int nk, int q0, int q1)
{
	if (t->bias)
		ops->bias(t->s, nk, t->bias - key0, q0, q1);
	for (int k = 0; t->cap > 0.0f && k < nk; k++)
		ops->softcap(t->s + (size_t)k * TILE_Q + q0, q1 - q0, t->cap);
}

/* Folds keys [j0, j1) of the chunk (its first key is key0) into the query
 * lanes of halves. */
static inline void tile_pass(const struct tile *t, const struct simd_ops *ops,
			     const float *k, const float *v, long key0, int j0, int j1,
			     int d, const uint64_t *keep, int halves)
{
	int q0 = halves & 1 ? 0 : TILE_Q / 2, q1 = halves & 2 ? TILE_Q : TILE_Q / 2;

	if (!halves || j0 >= j1)
		return;
	ops->qk(t->qt, k + (size_t)j0 * (size_t)d, j1 - j0, d, t->s, q0, q1);
	tile_score_mod(t, ops, key0 + j0, j1 - j0, q0, q1);
	if (keep)
		ops->mask(t->s, j1 - j0, (const unsigned long long *)keep + j0);
	ops->softmax(t->s, j1 - j0, t->m, t->l, t->ot, d, q0, q1);
	for (int j = 0; t->bf16 && j < j1 - j0; j++)      /* P in bf16, as FlashAttention */
		kern_bf16_round(t->s + (size_t)j * TILE_Q + q0, (size_t)(q1 - q0));
	ops->pv(t->s, v + (size_t)j0 * (size_t)d, j1 - j0, d, t->ot, q0, q1);
}

/* Folds nk keys (K and V rows d apart from kx and vx, in the problem's
 * dtype: tile_kv; the first is key0) into the tile, a bf16 chunk widened
 * into kw and vw first; keep, when given, holds per key the bits of the
 * queries whose G has it (tile_keys_mask). A partial chunk goes in two
 * halves of keys, each over only the halves of query lanes it feeds: the
 * diagonal tile of a causal band and its first tile lose their empty
 * quarter. The V rows are
 * fetched toward L1 while Q K^T runs, and next_k (the next chunk's K rows,
 * or NULL) while softmax and P V run: the tiles stream from L2/L3 and the
 * fetches hide their latency (3-9% on dense at n = 4096 here). */
static inline void tile_fold(const struct tile *t, const struct simd_ops *ops,
			     const void *kx, const void *vx, long key0, int nk, int d,
			     const uint64_t *keep, const void *next_k)
{
	int half = nk < TILE_K / 2 ? nk : TILE_K / 2;
	int a = keep ? tile_halves(keep, half) : 3, b = keep ? tile_halves(keep + half, nk - half) : 3;
	size_t row = (size_t)d * (t->bf16 ? 2 : 4);     /* bytes of a K or V row */
	const float *k = kx, *v = vx;

	for (size_t x = 0; x < (size_t)nk * row; x += 64)
		__builtin_prefetch((const char *)vx + x, 0, 3);
	for (size_t x = 0; next_k && x < TILE_K * row; x += 64)
		__builtin_prefetch((const char *)next_k + x, 0, 3);
	if (t->bf16) {
		kern_bf16_widen_rows(kx, t->kw, (size_t)nk * (size_t)d);
		kern_bf16_widen_rows(vx, t->vw, (size_t)nk * (size_t)d);
		k = t->kw;
		v = t->vw;
	}
	if (a == b) {
		tile_pass(t, ops, k, v, key0, 0, nk, d, keep, a);
		return;
	}
	tile_pass(t, ops, k, v, key0, 0, half, d, keep, a);
	tile_pass(t, ops, k, v, key0, half, nk, d, keep, b);
}

/* Writes the tile's rows to o (d apart): ot / l, zeros for empty rows. */
static inline void tile_finish(const struct tile *t, const struct simd_ops *ops,
			       float *o, int d)
{
	float inv[TILE_Q];

	for (long q = 0; q < TILE_Q; q++)
		inv[q] = t->l[q] > 0.0f ? 1.0f / t->l[q] : 0.0f;
	for (int c = 0; c < d; c++)
		for (long q = 0; q < TILE_Q; q++)
			t->ot[c * TILE_Q + q] *= inv[q];
	ops->transpose(t->ot, TILE_Q, o, d, d, (int)t->rows, 1.0f);
}

#endif
