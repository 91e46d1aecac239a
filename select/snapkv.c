/* snapkv.c - SnapKV's prompt compression. The prompt is the sequence
 * before the decoded tokens; its last `window` queries each take a
 * softmax over the keys they see, summed per earlier key, max-pooled over
 * `kernel` keys; the top capacity - window earlier keys and the window are
 * kept for every decoded token, which also reads the tokens decoded since
 * (the queries of the window come from the history rows). A GQA group
 * sharing its selection sums its heads' votes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "select.h"

enum { SNAP_WINDOW, SNAP_KERNEL, SNAP_CAPACITY };

static long snap_history(const struct pattern *pat, long n_q, long n_kv, int decode)
{
	long h = decode ? n_q + (long)pat->val[SNAP_WINDOW].i : n_q;

	return h < n_kv ? h : n_kv;
}

static const char *snap_unservable(const struct pattern *pat, const struct problem *p,
				   int decode, char *buf, size_t len)
{
	long prompt = p->n_kv - p->n_q;

	(void)decode;
	if (prompt <= pat->val[SNAP_WINDOW].i)
		return snprintf(buf, len, "'snapkv' needs a prompt longer than its window of %lld; it has %ld tokens",
				pat->val[SNAP_WINDOW].i, prompt), buf;
	return NULL;
}

/* votes[j], j < pre: the window's softmax mass on prompt key j, TILE_Q
 * window queries at a time; s holds TILE_Q rows of prompt scores. */
static int snap_votes(const struct pattern *pat, const struct sel_input *in, int b, int h,
		      long prompt, float *s, double *votes)
{
	const struct problem *p = in->p;
	long w = (long)pat->val[SNAP_WINDOW].i, pre = prompt - w;
	const float *k = p->k + kern_kv_off(p, b, h);

	/* votes add up: a group's heads vote in turn */
	for (long t0 = 0; t0 < w; t0 += TILE_Q) {
		int nq = w - t0 < TILE_Q ? (int)(w - t0) : TILE_Q;
		long r0 = in->n_hist - p->n_q - w + t0;
		if (sel_dots_block(in, sel_query(in, b, h, r0), p->d, nq, k, pre + t0 + nq, p->d,
				   1.0 / sqrt((double)p->d), s, prompt))
			return -1;
		for (int i = 0; i < nq; i++) {
			float *row = s + (size_t)i * prompt;
			sel_softmax(in, row, pre + t0 + i + 1);
			for (long j = 0; j < pre; j++)
				votes[j] += row[j];
		}
	}
	return 0;
}

static int snap_select(const struct pattern *pat, const struct sel_input *in,
		       const void *state, int b, int h, struct sel_rows *rows)
{
	const struct problem *p = in->p;
	long prompt = p->n_kv - p->n_q, w = (long)pat->val[SNAP_WINDOW].i, pre = prompt - w;
	long half = (long)pat->val[SNAP_KERNEL].i / 2, n;
	float *s = malloc((size_t)TILE_Q * prompt * sizeof *s), *pooled = malloc((size_t)pre * sizeof *pooled);
	double *votes = calloc((size_t)pre, sizeof *votes);
	int32_t *work = malloc((size_t)pre * sizeof *work), *keep = malloc((size_t)pre * sizeof *keep);
	int rc = -1;

	(void)state;
	if (!s || !pooled || !votes || !work || !keep)
		goto out;
	for (int g = 0; g < sel_group(pat, p); g++)
		if (snap_votes(pat, in, b, h + g, prompt, s, votes))
			goto out;
	for (long j = 0; j < pre; j++) {
		double m = votes[j];
		for (long i = j - half; i <= j + half; i++)
			if (i >= 0 && i < pre && votes[i] > m)
				m = votes[i];
		pooled[j] = (float)m;
	}
	n = sel_topk(pooled, pre, (long)pat->val[SNAP_CAPACITY].i - w, NULL, work, keep);
	for (long r = 0; r < p->n_q; r++) {
		for (long i = 0; i < n; i++)
			if (sel_push_key(rows, r, keep[i]))
				goto out;
		if (sel_push(rows->out, pre, prompt + r + 1))
			goto out;
		if (sel_end_row(rows, r, prompt + r + 1))
			goto out;
	}
	rc = 0;
out:
	free(s);
	free(pooled);
	free(votes);
	free(work);
	free(keep);
	return rc;
}

static void snap_cost(const struct pattern *pat, const struct problem *p, int decode,
		      struct sel_cost *c)
{
	double bh = (double)p->batch * p->heads, w = (double)pat->val[SNAP_WINDOW].i;
	double prompt = (double)(p->n_kv - p->n_q);

	(void)decode;
	c->flops = bh * w * prompt * (2.0 * p->d + 5.0);
	c->bytes = 4.0 * p->d * (bh * w + (double)p->batch * p->kv_heads * prompt);
}

const struct sel_kind sel_snapkv = {
	.kind = &pat_snapkv,                    /* patterns/snapkv.c */
	.history = snap_history,                /* the window's queries too */
	.unservable = snap_unservable,          /* a prompt past the window */
	.prepare = NULL,                        /* keeps nothing between selections */
	.select = snap_select,                  /* votes, pooling, top keys */
	.cost = snap_cost,                      /* window x prompt dots */
};
