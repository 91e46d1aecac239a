/* ranges.c - row-wise attention that walks each row's ranges: the scores of
 * a run of keys come from contiguous K rows, with an online softmax between
 * chunks of 64 keys. The natural kernel for windows, sinks, strided and
 * chunked patterns, whose rows are a few long runs. */
#include <stdlib.h>

#include "rowwise.h"

struct ranges_ws {
	const struct simd_ops *ops;     /* exp2 of the ISA in use */
	float *buf;                     /* per thread: q, acc, scores */
	size_t stride;                  /* floats per thread */
};

static int ranges_prepare(const struct problem *p, int threads, void **ws)
{
	struct ranges_ws *w = malloc(sizeof *w);

	if (!w)
		return -1;
	w->ops = kern_simd();
	w->stride = row_ws_floats(p->d);
	w->buf = aligned_alloc(64, (size_t)threads * w->stride * sizeof(float));
	if (!w->buf) {
		free(w);
		return -1;
	}
	*ws = w;
	return 0;
}

static void ranges_release(void *ws)
{
	struct ranges_ws *w = ws;

	if (w)
		free(w->buf);
	free(w);
}

static void ranges_row(const struct problem *p, const void *ws,
		       float *buf, int b, int h, long r)
{
	const struct ranges_ws *w = ws;
	int d = p->d;
	const float *q = p->q + kern_q_off(p, b, h) + (size_t)r * (size_t)d;
	const float *k = p->k + kern_kv_off(p, b, h), *v = p->v + kern_kv_off(p, b, h);
	float *qs = buf, *s = buf + 2 * d, scale = (float)(1.4426950408889634 / sqrt((double)d));
	const float **krows = (const float **)(s + ROW_CHUNK), **vrows = krows + ROW_CHUNK;
	struct row_state st = { -INFINITY, 0.0f, buf + d };
	int64_t n;
	const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, h), r, &n);
	long long keys = 0;

	for (int c = 0; c < d; c++) {
		qs[c] = q[c] * scale;
		st.acc[c] = 0.0f;
	}
	for (int64_t t = 0; t < n; t++)
		for (long j0 = rg[t].lo; j0 < rg[t].hi; j0 += ROW_CHUNK) {
			int cnt = (int)(rg[t].hi - j0 < ROW_CHUNK ? rg[t].hi - j0 : ROW_CHUNK);
			for (int i = 0; i < cnt; i++) {
				krows[i] = k + (size_t)(j0 + i) * (size_t)d;
				vrows[i] = v + (size_t)(j0 + i) * (size_t)d;
			}
			row_fold(&st, qs, krows, vrows, cnt, d, w->ops, s);
			keys += cnt;
		}
	row_finish(&st, p->o + kern_q_off(p, b, h) + (size_t)r * (size_t)d, d);
	kern_tally_row(p, keys, keys);
}

static void ranges_run(const struct problem *p, void *ws)
{
	const struct ranges_ws *w = ws;

	row_run_all(p, w, w->buf, w->stride, ranges_row);
}

static void ranges_cost(const struct problem *p, int threads, struct kern_cost *c)
{
	c->flops_exec = 4.0 * p->d * (double)gset_pairs(p->g, p->heads) * p->batch;
	c->score_bytes = ROW_CHUNK * sizeof(float);
	c->workspace_bytes = (double)threads * (double)row_ws_floats(p->d) * sizeof(float);
}

const struct kern_desc kern_ranges = {
	.name = "ranges",                       /* contiguous runs of keys */
	.summary = "row-wise over contiguous ranges, online softmax per 64 keys",
	.unavailable = NULL,                    /* portable path everywhere */
	.prepare = ranges_prepare,              /* per-thread buffers */
	.run = ranges_run,                      /* rows, longest first */
	.release = ranges_release,
	.cost = ranges_cost,                    /* 4 d per pair of G */
	.simd = 1,                              /* exp2 or tiles per ISA */
};
