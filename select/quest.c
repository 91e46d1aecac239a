/* quest.c - Quest's page selection. Each page of `page` keys keeps its
 * channel-wise min and max; the bound sum_c max(q_c min_c, q_c max_c)
 * is computed as one dot product, [q, |q|] . [(max + min) / 2,
 * (max - min) / 2], so the fast path is the kernels' dot micro-kernel.
 * Decode selects per step; prefill per block of query_block queries by
 * the largest bound among them. The pages holding the queries are always
 * read; of the others, the best budget / page minus those. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

enum { QUEST_PAGE, QUEST_BUDGET, QUEST_QBLOCK };

/* meta row P = [centre, radius] of page P's keys (2 d floats). */
static void page_meta(const float *k, long n, int d, long ps, long np, float *meta)
{
	for (long P = 0; P < np; P++) {
		float *c = meta + (size_t)P * 2 * d, *rad = c + d;
		long hi = (P + 1) * ps < n ? (P + 1) * ps : n;
		for (int j = 0; j < d; j++) {
			float mn = k[(size_t)P * ps * d + j], mx = mn;
			for (long r = P * ps + 1; r < hi; r++) {
				float x = k[(size_t)r * d + j];
				mn = x < mn ? x : mn;
				mx = x > mx ? x : mx;
			}
			c[j] = 0.5f * (mx + mn);
			rad[j] = 0.5f * (mx - mn);
		}
	}
}

/* Bounds of query q for pages [0, np) into s: the reference takes the
 * max per channel in double, the fast path one dot with [q, |q|]. */
static void page_bounds(const struct sel_input *in, const float *q, const float *meta,
			long np, int d, float *qa, float *s)
{
	if (in->ref) {
		for (long P = 0; P < np; P++) {
			const float *c = meta + (size_t)P * 2 * d, *rad = c + d;
			double acc = 0.0;
			for (int j = 0; j < d; j++) {
				double mn = (double)c[j] - rad[j], mx = (double)c[j] + rad[j];
				acc += fmax(q[j] * mn, q[j] * mx);
			}
			s[P] = (float)acc;
		}
		return;
	}
	for (int j = 0; j < d; j++) {
		qa[j] = q[j];
		qa[d + j] = fabsf(q[j]);
	}
	in->ops->dots_kv(qa, meta, KV_F32, (int)np, 2 * d, s);
}

/* Rows [r0, r1) read pages cur0 .. cur1 and the best of [0, cur0) by
 * best[]; pushes them clipped to each row's position. */
static int quest_rows(const struct pattern *pat, const struct sel_input *in,
		      struct sel_rows *rows, long r0, long r1, const float *best,
		      int32_t *work, int32_t *keep)
{
	const struct problem *p = in->p;
	long ps = (long)pat->val[QUEST_PAGE].i, pages = (long)pat->val[QUEST_BUDGET].i / ps;
	long q0 = p->n_kv - p->n_q;
	long cur0 = (q0 + r0) / ps, cur1 = (q0 + r1 - 1) / ps;
	long extra = pages - (cur1 - cur0 + 1), n;

	n = sel_topk(best, cur0, extra > 0 ? extra : 0, NULL, work, keep);
	for (long P = cur0; P <= cur1; P++)
		keep[n++] = (int32_t)P;
	for (long r = r0; r < r1; r++)
		if (sel_push_blocks(rows->out, keep, n, ps) || sel_end_row(rows, r, q0 + r + 1))
			return -1;
	return 0;
}

static int quest_select(const struct pattern *pat, const struct sel_input *in,
			int b, int h, struct sel_rows *rows)
{
	const struct problem *p = in->p;
	long ps = (long)pat->val[QUEST_PAGE].i, np = (p->n_kv + ps - 1) / ps;
	long qb = in->decode ? 1 : (long)pat->val[QUEST_QBLOCK].i, q0 = p->n_kv - p->n_q;
	float *meta = malloc((size_t)np * 2 * p->d * sizeof *meta);
	float *s = malloc((size_t)np * sizeof *s), *best = malloc((size_t)np * sizeof *best);
	float *qa = malloc(2 * (size_t)p->d * sizeof *qa);
	int32_t *work = malloc((size_t)np * sizeof *work), *keep = malloc(((size_t)np + 1) * sizeof *keep);
	int rc = -1;

	if (!meta || !s || !best || !qa || !work || !keep)
		goto out;
	page_meta(p->k + kern_kv_off(p, b, h), p->n_kv, p->d, ps, np, meta);
	for (long r0 = 0; r0 < p->n_q; r0 += qb) {
		long r1 = r0 + qb < p->n_q ? r0 + qb : p->n_q, cur0 = (q0 + r0) / ps;
		for (long P = 0; P < cur0; P++)
			best[P] = -INFINITY;
		for (long r = r0; r < r1 && cur0 > 0; r++) {
			page_bounds(in, sel_query(in, b, h, in->n_hist - p->n_q + r), meta, cur0, p->d, qa, s);
			for (long P = 0; P < cur0; P++)
				best[P] = s[P] > best[P] ? s[P] : best[P];
		}
		if (quest_rows(pat, in, rows, r0, r1, best, work, keep))
			goto out;
	}
	rc = 0;
out:
	free(meta);
	free(s);
	free(best);
	free(qa);
	free(work);
	free(keep);
	return rc;
}

static void quest_cost(const struct pattern *pat, const struct problem *p, int decode,
		       struct sel_cost *c)
{
	double bh = (double)p->batch * p->heads, ps = (double)pat->val[QUEST_PAGE].i;
	double np = ceil((double)p->n_kv / ps), d = p->d;
	double off = (double)(p->n_kv - p->n_q), pairs = 0.0;

	(void)decode;
	/* each query row bounds the pages before its own: about (off + r) / ps */
	pairs = (double)p->n_q * (off / ps) + (double)p->n_q * (double)p->n_q / (2.0 * ps);
	c->flops = bh * (pairs * 4.0 * d + 2.0 * np * ps * d);
	c->bytes = (double)p->batch * p->kv_heads * (4.0 * p->n_kv * d + np * 8.0 * d);
}

const struct sel_kind sel_quest = {
	.kind = &pat_quest,                     /* patterns/quest.c */
	.history = NULL,                        /* the cell's own rows */
	.unservable = NULL,                     /* any shape */
	.select = quest_select,                 /* page bounds, top pages */
	.cost = quest_cost,                     /* a 2d dot per page per query */
};
