/* oracle.c - the exact reference: attention over the ranges in double
 * precision with an online softmax. Slow on purpose and simple enough to
 * trust; every other kernel is verified against kern_oracle_row. */
#include <math.h>
#include <stdlib.h>

#include "kernel.h"
#include "kvcache.h"

void kern_oracle_row_view(const struct problem *p, const struct kv_view *view, int b,
			  int h, long r, double *out)
{
	const float *q = p->q + kern_q_off(p, b, h) + (size_t)r * (size_t)p->d;
	const float *k = p->k + kern_kv_off(p, b, h);
	const float *v = p->v + kern_v_off(p, b, h);
	long len = kvc_len_at(p, r);            /* what the cache holds when r reads */
	double scale = score_scale(p->score, p->d), m = -INFINITY, l = 0.0;
	long pos = p->n_kv - p->n_q + r;
	int dv = kern_dv(p);
	int64_t n;
	const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, b, h), r, &n);

	for (int c = 0; c < dv; c++)
		out[c] = 0.0;
	for (int64_t i = 0; i < n; i++) {
		for (long j = rg[i].lo; j < rg[i].hi; j++) {
			const float *kj = view ? kv_view_row(view, 0, kern_kv_off(p, b, h), j, len, p->d)
					       : k + (size_t)j * (size_t)p->d;
			const float *vj = view ? kv_view_row(view, 1, kern_v_off(p, b, h), j, len, dv)
					       : v + (size_t)j * (size_t)dv;
			double s = 0.0, w;
			for (int c = 0; c < p->d; c++)
				s += (double)q[c] * (double)kj[c];
			s = score_apply(p->score, h, pos, j, s * scale);
			if (s > m) {
				double shrink = exp(m - s);
				l *= shrink;
				for (int c = 0; c < dv; c++)
					out[c] *= shrink;
				m = s;
			}
			w = exp(s - m);
			l += w;
			for (int c = 0; c < dv; c++)
				out[c] += w * (double)vj[c];
		}
	}
	if (l > 0.0)
		for (int c = 0; c < dv; c++)
			out[c] /= l;
}

void kern_oracle_row(const struct problem *p, int b, int h, long r, double *out)
{
	kern_oracle_row_view(p, NULL, b, h, r, out);
}

static int oracle_prepare(const struct problem *p, int threads, void **ws)
{
	*ws = malloc((size_t)threads * (size_t)kern_dv(p) * sizeof(double));
	return *ws ? 0 : -1;
}

static void oracle_run(const struct problem *p, void *ws)
{
	long rows = (long)p->batch * p->heads * p->n_q;

#pragma omp parallel
	{
		double *acc = (double *)ws + (size_t)kern_thread() * (size_t)kern_dv(p);
#pragma omp for schedule(dynamic, 16)
		for (long t = 0; t < rows; t++) {
			int b = (int)(t / ((long)p->heads * p->n_q));
			int h = (int)(t / p->n_q % p->heads);
			long r = t % p->n_q;
			float *o = p->o + kern_o_off(p, b, h) + (size_t)r * (size_t)kern_dv(p);
			int64_t n;
			const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, b, h), r, &n);
			kern_oracle_row(p, b, h, r, acc);
			kern_tally_row(p, gset_row_keys(rg, n), gset_row_keys(rg, n));
			for (int c = 0; c < kern_dv(p); c++)
				o[c] = (float)acc[c];
		}
	}
}

static void oracle_cost(const struct problem *p, int threads,
			struct kern_cost *c)
{
	c->flops_exec = kern_pair_flops(p) * (double)gset_pairs(p->g, p->heads) * p->batch;
	c->score_bytes = 0;
	c->workspace_bytes = (double)threads * kern_dv(p) * sizeof(double);
}

const struct kern_desc kern_oracle = {
	.name = "oracle",                       /* the reference */
	.summary = "double precision over the ranges, online softmax (reference)",
	.unavailable = NULL,                    /* always available */
	.prepare = oracle_prepare,              /* per-thread accumulators */
	.run = oracle_run,                      /* rows in parallel */
	.release = free,                        /* the accumulators */
	.cost = oracle_cost,                    /* 2 d + 2 dv per pair of G */
};
