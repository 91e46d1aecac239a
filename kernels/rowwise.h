/* rowwise.h - the engine of the row-wise kernels (ranges, gather): one
 * query row at a time over its keys, in chunks of up to ROW_CHUNK keys,
 * with an online softmax between chunks (log2 domain; dot products, exp2
 * and the weighted V sum from the ISA's micro-kernels). The kernels differ
 * in how they name keys: contiguous runs or gathered indices. */
#ifndef SABENCH_ROWWISE_H
#define SABENCH_ROWWISE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernel.h"
#include "isa/simd.h"

#define ROW_CHUNK 64

/* Running state of one row: max, sum and the unnormalised output. */
struct row_state {
	float m;                /* running max (log2 domain) */
	float l;                /* running sum of exp2 */
	float *acc;             /* dv accumulators */
};

/* The online-softmax step for a chunk of n scores s (log2 domain): new
 * max, acc (dv wide) and sum rescaled to it, s := exp2(s - max) added to
 * the sum. The caller then weighs the chunk's V rows by s into acc. */
static inline void row_step(struct row_state *st, float *s, int n, int dv,
			    const struct simd_ops *ops)
{
	float mx = st->m, safe, alpha;

	mx = ops->max(s, n, mx);
	safe = mx == -INFINITY ? 0.0f : mx;
	alpha = exp2f(st->m - safe);
	if (alpha != 1.0f) {
		for (int c = 0; c < dv; c++)
			st->acc[c] *= alpha;
		st->l *= alpha;
	}
	st->l += ops->exp2_sum(s, n, safe);
	st->m = mx;
}

/* The score function of one query row (score.h) in log2 units. */
struct row_mod {
	const float *bias;      /* bias of key j at bias[-j], or NULL */
	float cap;              /* soft cap, or 0 */
};

/* The row_mod of head h's query at position pos under p's score. */
static inline struct row_mod row_mod_of(const struct problem *p, int h, long pos)
{
	const float *b = score_bias2_row(p->score, h);
	struct row_mod rm = { b ? b + pos : NULL, 0.0f };

	if (p->score && p->score->kind == SCORE_SOFTCAP)
		rm.cap = (float)(p->score->cap * 1.4426950408889634);
	return rm;
}

/* Applies rm to n scores of keys keys[i] (keys == NULL: key0 + i). */
static inline void row_mod_apply(const struct row_mod *rm, const int32_t *keys, long key0,
				 float *s, int n, const struct simd_ops *ops)
{
	if (rm->bias && keys)
		for (int i = 0; i < n; i++)
			s[i] += rm->bias[-(long)keys[i]];
	else if (rm->bias)
		for (int i = 0; i < n; i++)
			s[i] += rm->bias[-(key0 + i)];
	if (rm->cap > 0.0f)
		ops->softcap(s, n, rm->cap);
}

/* The K and V rows of keys keys[0, n) of the head whose K starts at
 * k_off and V at v_off: pointers into K and V, or in bf16 the rows
 * widened into kw (n x d) and vw (n x dv). */
static inline void row_chunk(const struct problem *p, size_t k_off, size_t v_off,
			     const int32_t *keys, int n, const float **krows,
			     const float **vrows, float *kw, float *vw)
{
	size_t d = (size_t)p->d, dv = (size_t)kern_dv(p);

	for (int i = 0; i < n; i++) {
		size_t at = k_off + (size_t)keys[i] * d, vat = v_off + (size_t)keys[i] * dv;
		if (p->dtype != DT_BF16) {
			krows[i] = p->k + at;
			vrows[i] = p->v + vat;
			continue;
		}
		kern_bf16_widen_rows(p->k16 + at, kw + (size_t)i * d, d);
		kern_bf16_widen_rows(p->v16 + vat, vw + (size_t)i * dv, dv);
		krows[i] = kw + (size_t)i * d;
		vrows[i] = vw + (size_t)i * dv;
	}
}

/* Folds a chunk of n keys (indices keys[i]) into the row state: scores of
 * q against the K rows krows[i] (d wide) under rm, online softmax step
 * (P rounded to bf16 when bf16), then the V rows vrows[i] (dv wide)
 * weighed into acc. s is scratch for n scores. */
static inline void row_fold(struct row_state *st, const float *q,
			    const float *const *krows, const float *const *vrows,
			    const int32_t *keys, const struct row_mod *rm, int bf16,
			    int n, int d, int dv, const struct simd_ops *ops, float *s)
{
	ops->dots(q, krows, n, d, s);
	row_mod_apply(rm, keys, 0, s, n, ops);
	row_step(st, s, n, dv, ops);
	if (bf16)
		kern_bf16_round(s, (size_t)n);
	ops->axpys(st->acc, s, vrows, n, dv);
}

/* One row of a row-wise kernel: ws is the kernel's, buf its thread's. */
typedef void (*row_fn)(const struct problem *p, const void *ws, float *buf,
		       int b, int h, long r);

/* Runs every (batch, head, row) in parallel, each thread with its
 * stride-float slice of bufs: head after head (consecutive rows share
 * their keys, which then stay in cache), last rows first within a head
 * (causal rows grow toward the end). */
static inline void row_run_all(const struct problem *p, const void *ws,
			       float *bufs, size_t stride, row_fn row)
{
	long rows = (long)p->batch * p->heads * p->n_q;

#pragma omp parallel
	{
		float *buf = bufs + (size_t)kern_thread() * stride;
#pragma omp for schedule(dynamic, 32)
		for (long t = 0; t < rows; t++) {
			long bh = t / p->n_q;
			row(p, ws, buf, (int)(bh / p->heads), (int)(bh % p->heads),
			    p->n_q - 1 - t % p->n_q);
		}
	}
}

/* Writes acc / l to o, dv wide (zeros for an empty row). */
static inline void row_finish(const struct row_state *st, float *o, int dv)
{
	float inv = st->l > 0.0f ? 1.0f / st->l : 0.0f;

	for (int c = 0; c < dv; c++)
		o[c] = st->acc[c] * inv;
}

/* Per-thread workspace of a row-wise kernel: scaled query (d), acc (dv),
 * scores, the chunk's K and V row pointers and its key indices, then the
 * chunk widened from bf16 (row_widened: K, then V). */
static inline size_t row_vectors_floats(int d, int dv)
{
	return ((size_t)d + (size_t)dv + 15) / 16 * 16;  /* the scores 64-byte aligned */
}

static inline size_t row_head_floats(int d, int dv)
{
	return row_vectors_floats(d, dv) + 2 * ROW_CHUNK +
	       2 * ROW_CHUNK * sizeof(float *) / sizeof(float);
}

static inline size_t row_ws_floats(int d, int dv)
{
	return row_head_floats(d, dv) + (size_t)ROW_CHUNK * ((size_t)d + (size_t)dv);
}

/* Where a thread's buffer holds the accumulators, the scores and the
 * widened K chunk (n x d; V's n x dv follow it). */
static inline float *row_acc(float *buf, int d)
{
	return buf + d;
}

static inline float *row_scores(float *buf, int d, int dv)
{
	return buf + row_vectors_floats(d, dv);
}

static inline float *row_widened(float *buf, int d, int dv)
{
	return buf + row_head_floats(d, dv);
}

#endif
