/* naive.c - the plain fp32 baseline: row by row, scores of G into a row
 * buffer, a two-pass softmax (max, then exp and sum), then the weighted
 * sum of V rows. What a first implementation of sparse attention does. */
#include <math.h>
#include <stdlib.h>

#include "kernel.h"

/* Workspace: one score row of row_max floats per thread. */
struct naive_ws {
	float *scores;          /* threads x stride floats */
	size_t stride;          /* row_max, at least 1 */
};

static int naive_prepare(const struct problem *p, int threads, void **ws)
{
	struct naive_ws *w = malloc(sizeof *w);

	if (!w)
		return -1;
	w->stride = p->g->st.row_max > 0 ? (size_t)p->g->st.row_max : 1;
	w->scores = malloc((size_t)threads * w->stride * sizeof(float));
	if (!w->scores) {
		free(w);
		return -1;
	}
	*ws = w;
	return 0;
}

/* Scores of row q (head h, at pos) over the ranges into s; returns their
 * maximum. */
static float naive_scores(const struct problem *p, int h, long pos, const float *q,
			  const float *k, const struct pat_range *rg,
			  int64_t n, float *s)
{
	float scale = (float)score_scale(p->score, p->d), m = -INFINITY;
	size_t at = 0;

	for (int64_t i = 0; i < n; i++)
		for (long j = rg[i].lo; j < rg[i].hi; j++) {
			const float *kj = k + (size_t)j * (size_t)p->d;
			float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
			for (int c = 0; c < p->d; c++)
				dot += q[c] * kj[c];
			s[at] = p->score ? (float)score_apply(p->score, h, pos, j, dot * scale)
					 : dot * scale;
			if (s[at] > m)
				m = s[at];
			at++;
		}
	return m;
}

static void naive_row(const struct problem *p, int b, int h, long r, float *s)
{
	const float *q = p->q + kern_q_off(p, b, h) + (size_t)r * (size_t)p->d;
	const float *k = p->k + kern_kv_off(p, b, h);
	const float *v = p->v + kern_v_off(p, b, h);
	int dv = kern_dv(p);
	float *o = p->o + kern_o_off(p, b, h) + (size_t)r * (size_t)dv;
	int64_t n;
	const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, b, h), r, &n);
	long long keys = gset_row_keys(rg, n);
	float m, sum = 0.0f;
	size_t at = 0;

	for (int c = 0; c < dv; c++)
		o[c] = 0.0f;
	kern_tally_row(p, keys, keys);
	if (!keys)
		return;
	m = naive_scores(p, h, p->n_kv - p->n_q + r, q, k, rg, n, s);
	for (long long j = 0; j < keys; j++) {
		s[j] = expf(s[j] - m);
		sum += s[j];
	}
	for (int64_t i = 0; i < n; i++)
		for (long j = rg[i].lo; j < rg[i].hi; j++, at++) {
			const float *vj = v + (size_t)j * (size_t)dv;
			for (int c = 0; c < dv; c++)
				o[c] += s[at] * vj[c];
		}
	for (int c = 0; c < dv; c++)
		o[c] /= sum;
}

static void naive_run(const struct problem *p, void *ws)
{
	struct naive_ws *w = ws;
	long rows = (long)p->batch * p->heads * p->n_q;

#pragma omp parallel
	{
		float *s = w->scores + (size_t)kern_thread() * w->stride;
#pragma omp for schedule(dynamic, 16)
		for (long t = 0; t < rows; t++)
			naive_row(p, (int)(t / ((long)p->heads * p->n_q)),
				  (int)(t / p->n_q % p->heads), t % p->n_q, s);
	}
}

static void naive_release(void *ws)
{
	struct naive_ws *w = ws;

	if (w)
		free(w->scores);
	free(w);
}

static void naive_cost(const struct problem *p, int threads,
		       struct kern_cost *c)
{
	double row_max = p->g->st.row_max > 0 ? (double)p->g->st.row_max : 1;

	c->flops_exec = kern_pair_flops(p) * (double)gset_pairs(p->g, p->heads) * p->batch;
	c->score_bytes = row_max * sizeof(float);
	c->workspace_bytes = threads * row_max * sizeof(float);
}

const struct kern_desc kern_naive = {
	.name = "naive",                        /* the plain baseline */
	.summary = "row by row over G, two-pass softmax, fp32",
	.unavailable = NULL,                    /* always available */
	.prepare = naive_prepare,               /* a score row per thread */
	.run = naive_run,                       /* rows in parallel */
	.release = naive_release,
	.cost = naive_cost,                     /* 2 d + 2 dv per pair of G */
};
