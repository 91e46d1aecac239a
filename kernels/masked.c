/* masked.c - sparse attention the way a framework does it without sparse
 * support: the whole causal score matrix of a head is computed and stored,
 * entries outside G are set to -inf, softmax over the row, then P V over
 * every causal key. Dense work for any pattern: the waste the curves show. */
#include <math.h>
#include <stdlib.h>

#include "kernel.h"

/* Keys a framework scores for row r: causal prefix, or every key. */
static long masked_limit(const struct problem *p, long r)
{
	return p->g->causal ? p->n_kv - p->n_q + r + 1 : p->n_kv;
}

static int masked_prepare(const struct problem *p, int threads, void **ws)
{
	(void)threads;
	*ws = malloc((size_t)p->n_q * (size_t)p->n_kv * sizeof(float));
	return *ws ? 0 : -1;
}

/* Sets the scores of s[0, limit) outside the row's ranges to -inf. */
static void masked_apply(float *s, long limit, const struct pat_range *rg,
			 int64_t n)
{
	long j = 0;

	for (int64_t i = 0; i < n && j < limit; i++) {
		for (; j < rg[i].lo && j < limit; j++)
			s[j] = -INFINITY;
		j = rg[i].hi;
	}
	for (; j < limit; j++)
		s[j] = -INFINITY;
}

static void masked_row(const struct problem *p, int b, int h, long r,
		       float *s)
{
	const float *q = p->q + kern_q_off(p, b, h) + (size_t)r * (size_t)p->d;
	const float *k = p->k + kern_kv_off(p, b, h);
	const float *v = p->v + kern_v_off(p, b, h);
	int dv = kern_dv(p);
	float *o = p->o + kern_o_off(p, b, h) + (size_t)r * (size_t)dv;
	float scale = (float)score_scale(p->score, p->d), m = -INFINITY, sum = 0.0f;
	long pos = p->n_kv - p->n_q + r;
	long limit = masked_limit(p, r);
	int64_t n;
	const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, b, h), r, &n);

	for (long j = 0; j < limit; j++) {
		const float *kj = k + (size_t)j * (size_t)p->d;
		float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
		for (int c = 0; c < p->d; c++)
			dot += q[c] * kj[c];
		s[j] = p->score ? (float)score_apply(p->score, h, pos, j, dot * scale) : dot * scale;
	}
	masked_apply(s, limit, rg, n);
	kern_tally_row(p, gset_row_keys(rg, n), limit);
	for (long j = 0; j < limit; j++)
		if (s[j] > m)
			m = s[j];
	for (int c = 0; c < dv; c++)
		o[c] = 0.0f;
	if (m == -INFINITY)
		return;         /* empty row: zeros, as every kernel */
	for (long j = 0; j < limit; j++) {
		s[j] = expf(s[j] - m);
		sum += s[j];
	}
	for (long j = 0; j < limit; j++) {
		const float *vj = v + (size_t)j * (size_t)dv;
		for (int c = 0; c < dv; c++)
			o[c] += s[j] * vj[c];
	}
	for (int c = 0; c < dv; c++)
		o[c] /= sum;
}

static void masked_run(const struct problem *p, void *ws)
{
	float *scores = ws;

	for (int b = 0; b < p->batch; b++)
		for (int h = 0; h < p->heads; h++) {
#pragma omp parallel for schedule(dynamic, 16)
			for (long r = 0; r < p->n_q; r++)
				masked_row(p, b, h, r,
					   scores + (size_t)r * (size_t)p->n_kv);
		}
}

static void masked_cost(const struct problem *p, int threads,
			struct kern_cost *c)
{
	double pairs = (double)gset_dense_pairs(p->n_q, p->n_kv, p->g->causal);
	double s = (double)p->n_q * (double)p->n_kv * sizeof(float);

	(void)threads;
	c->flops_exec = kern_pair_flops(p) * pairs * p->batch * p->heads;
	c->score_bytes = s;
	c->workspace_bytes = s;
}

const struct kern_desc kern_masked = {
	.name = "masked",                       /* framework-style baseline */
	.summary = "whole causal score matrix per head, -inf outside G, dense P V",
	.unavailable = NULL,                    /* always available */
	.prepare = masked_prepare,              /* the n_q x n_kv score matrix */
	.run = masked_run,                      /* rows of a head in parallel */
	.release = free,                        /* the score matrix */
	.cost = masked_cost,                    /* dense causal work */
	.dense_work = 1,                        /* every pair, then the mask */
};
