/* gather.c - row-wise attention over the CSR view: every key of G_i is
 * gathered by index, so no structure is assumed. The honest cost of
 * arbitrary sets (random, content-selected); online softmax per 64 keys. */
#include <stdlib.h>

#include "rowwise.h"

struct gather_ws {
	const struct simd_ops *ops;     /* exp2 of the ISA in use */
	int64_t **indptr;               /* per layout: CSR row offsets */
	int32_t **indices;              /* per layout: key indices */
	int n_layouts;
	float *buf;                     /* per thread: q, acc, scores */
	size_t stride;                  /* floats per thread */
};

static void gather_release(void *ws)
{
	struct gather_ws *w = ws;

	if (!w)
		return;
	for (int l = 0; l < w->n_layouts; l++) {
		if (w->indptr)
			free(w->indptr[l]);
		if (w->indices)
			free(w->indices[l]);
	}
	free(w->indptr);
	free(w->indices);
	free(w->buf);
	free(w);
}

static int gather_index(const struct problem *p, void *ws)
{
	struct gather_ws *w = ws;
	int failed = 0;

#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
	for (int l = 0; l < w->n_layouts; l++) {
		free(w->indptr[l]);
		free(w->indices[l]);
		w->indptr[l] = NULL;
		w->indices[l] = NULL;
		failed |= gset_csr(p->g, l, &w->indptr[l], &w->indices[l]) != 0;
	}
	return failed ? -1 : 0;
}

static int gather_prepare(const struct problem *p, int threads, void **ws)
{
	struct gather_ws *w = calloc(1, sizeof *w);

	if (!w)
		return -1;
	w->ops = kern_simd();
	w->n_layouts = p->g->n_layouts;
	w->stride = row_ws_floats(p->d, kern_dv(p));
	w->indptr = calloc((size_t)w->n_layouts, sizeof *w->indptr);
	w->indices = calloc((size_t)w->n_layouts, sizeof *w->indices);
	w->buf = aligned_alloc(64, (size_t)threads * w->stride * sizeof(float));
	if (!w->indptr || !w->indices || !w->buf) {
		gather_release(w);
		return -1;
	}
	for (int l = 0; l < w->n_layouts; l++)
		if (gset_csr(p->g, l, &w->indptr[l], &w->indices[l])) {
			gather_release(w);
			return -1;
		}
	*ws = w;
	return 0;
}

static void gather_row(const struct problem *p, const void *ws,
		       float *buf, int b, int h, long r)
{
	const struct gather_ws *w = ws;
	int d = p->d, dv = kern_dv(p), l = gset_layout(p->g, b, h);
	const float *q = p->q + kern_q_off(p, b, h) + (size_t)r * (size_t)d;
	size_t k_off = kern_kv_off(p, b, h), v_off = kern_v_off(p, b, h);
	float *kw = row_widened(buf, d, dv);
	const int32_t *idx = w->indices[l] + w->indptr[l][r];
	long keys = (long)(w->indptr[l][r + 1] - w->indptr[l][r]);
	float *qs = buf, *s = row_scores(buf, d, dv);
	float scale = (float)(1.4426950408889634 * score_scale(p->score, d));
	const float **krows = (const float **)(s + ROW_CHUNK), **vrows = krows + ROW_CHUNK;
	struct row_state st = { -INFINITY, 0.0f, row_acc(buf, d) };
	struct row_mod rm = row_mod_of(p, h, p->n_kv - p->n_q + r);

	for (int c = 0; c < d; c++)
		qs[c] = q[c] * scale;
	for (int c = 0; c < dv; c++)
		st.acc[c] = 0.0f;
	for (long j0 = 0; j0 < keys; j0 += ROW_CHUNK) {
		int cnt = (int)(keys - j0 < ROW_CHUNK ? keys - j0 : ROW_CHUNK);
		row_chunk(p, k_off, v_off, idx + j0, cnt, krows, vrows, kw, kw + (size_t)ROW_CHUNK * d);
		row_fold(&st, qs, krows, vrows, idx + j0, &rm, p->dtype == DT_BF16, cnt, d, dv,
			 w->ops, s);
	}
	row_finish(&st, p->o + kern_o_off(p, b, h) + (size_t)r * (size_t)dv, dv);
	kern_tally_row(p, keys, keys);
}

static void gather_run(const struct problem *p, void *ws)
{
	const struct gather_ws *w = ws;

	row_run_all(p, w, w->buf, w->stride, gather_row);
}

static void gather_cost(const struct problem *p, int threads, struct kern_cost *c)
{
	c->flops_exec = kern_pair_flops(p) * (double)gset_pairs(p->g, p->heads) * p->batch;
	c->score_bytes = ROW_CHUNK * sizeof(float);
	c->workspace_bytes = (double)threads * (double)row_ws_floats(p->d, kern_dv(p)) * sizeof(float) +
			     (double)p->g->n_layouts * ((double)(p->n_q + 1) * 8.0 +
							(double)p->g->st.nnz * 4.0);
}

const struct kern_desc kern_gather = {
	.name = "gather",                       /* keys by index */
	.summary = "row-wise over the CSR view, K/V gathered by index, online softmax",
	.unavailable = NULL,                    /* portable path everywhere */
	.prepare = gather_prepare,              /* CSR view, buffers */
	.index = gather_index,                  /* CSR of a selected G */
	.run = gather_run,                      /* rows, longest first */
	.release = gather_release,
	.cost = gather_cost,                    /* 2 d + 2 dv per pair of G */
	.simd = 1,                              /* exp2 or tiles per ISA */
};
