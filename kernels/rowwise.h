/* rowwise.h - the engine of the row-wise kernels (ranges, gather): one
 * query row at a time over its keys, in chunks of up to ROW_CHUNK keys,
 * with an online softmax between chunks (log2 domain, exp2 from the ISA's
 * micro-kernel). The kernels differ in how they name keys: contiguous runs
 * or gathered indices. */
#ifndef SABENCH_ROWWISE_H
#define SABENCH_ROWWISE_H

#include <math.h>
#include <string.h>

#include "kernel.h"
#include "simd.h"

#define ROW_CHUNK 64

/* Running state of one row: max, sum and the unnormalised output. */
struct row_state {
	float m;                /* running max (log2 domain) */
	float l;                /* running sum of exp2 */
	float *acc;             /* d accumulators */
};

static inline float row_dot(const float *q, const float *k, int d)
{
	float s = 0.0f;

#pragma omp simd reduction(+ : s)
	for (int c = 0; c < d; c++)
		s += q[c] * k[c];
	return s;
}

static inline void row_axpy(float *acc, float p, const float *v, int d)
{
#pragma omp simd
	for (int c = 0; c < d; c++)
		acc[c] += p * v[c];
}

/* Folds a chunk of n scores s (and the V rows they weigh, v_of(i)) into
 * the row state. Scores are consumed (turned into probabilities). */
#define ROW_FOLD(st, s, n, d, ops, v_of)                                        \
	do {                                                                    \
		float mx_ = (st)->m, safe_, alpha_;                             \
		for (int i_ = 0; i_ < (n); i_++)                                \
			mx_ = (s)[i_] > mx_ ? (s)[i_] : mx_;                    \
		safe_ = mx_ == -INFINITY ? 0.0f : mx_;                          \
		alpha_ = exp2f((st)->m - safe_);                                \
		if (alpha_ != 1.0f) {                                           \
			for (int c_ = 0; c_ < (d); c_++)                        \
				(st)->acc[c_] *= alpha_;                        \
			(st)->l *= alpha_;                                      \
		}                                                               \
		(st)->l += (ops)->exp2_sum((s), (n), safe_);                    \
		for (int i_ = 0; i_ < (n); i_++)                                \
			row_axpy((st)->acc, (s)[i_], v_of(i_), (d));           \
		(st)->m = mx_;                                                  \
	} while (0)

/* Writes acc / l to o (zeros for an empty row). */
static inline void row_finish(const struct row_state *st, float *o, int d)
{
	float inv = st->l > 0.0f ? 1.0f / st->l : 0.0f;

	for (int c = 0; c < d; c++)
		o[c] = st->acc[c] * inv;
}

/* Per-thread workspace of a row-wise kernel: scaled query, scores, acc. */
static inline size_t row_ws_floats(int d)
{
	return ((size_t)d * 2 + ROW_CHUNK + 15) / 16 * 16;
}

#endif
