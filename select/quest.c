/* quest.c - Quest's page selection. Each page of `page` keys keeps its
 * channel-wise min and max; the bound sum_c max(q_c min_c, q_c max_c)
 * is computed as one dot product, [q, |q|] . [(max + min) / 2,
 * (max - min) / 2], so the fast path is the kernels' dot micro-kernel.
 * Decode selects per step; prefill per block of query_block queries by
 * the largest bound among them. The pages holding the queries are always
 * read; of the others, the best budget / page minus those. A GQA group
 * sharing its selection sums its heads' bounds (Sparse Frontier's
 * share_pages). */
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

/* Bounds of the nq (<= TILE_Q) queries from history row r for pages
 * [0, np) into s (np apart): the reference takes the max per channel in
 * double, the fast path dots [q, |q|] with the page rows in tiles (its
 * bounds carry a positive factor, which leaves the ranking alone). */
static int page_bounds(const struct sel_input *in, int b, int h, long r, int nq,
		       const float *meta, long np, long ld, float *qa, float *s)
{
	int d = in->p->d;

	for (int i = 0; i < nq; i++) {
		const float *q = sel_query(in, b, h, r + i);
		float *out = s + (size_t)i * ld;
		if (!in->ref) {
			for (int j = 0; j < d; j++) {
				qa[(size_t)i * 2 * d + j] = q[j];
				qa[(size_t)i * 2 * d + d + j] = fabsf(q[j]);
			}
			continue;
		}
		for (long P = 0; P < np; P++) {
			const float *c = meta + (size_t)P * 2 * d, *rad = c + d;
			double acc = 0.0;
			for (int j = 0; j < d; j++) {
				double mn = (double)c[j] - rad[j], mx = (double)c[j] + rad[j];
				acc += fmax(q[j] * mn, q[j] * mx);
			}
			out[P] = (float)acc;
		}
	}
	return in->ref ? 0 : sel_dots_block(in, qa, 2 * d, nq, meta, np, 2 * d, 1.0, s, ld);
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

/* Pages a decode cell's prompt filled: their metadata is the prompt's,
 * written as it was prefilled (sel_prepare), not part of a step. */
static long prompt_pages(const struct pattern *pat, const struct sel_input *in)
{
	return in->decode ? (in->p->n_kv - in->p->n_q) / (long)pat->val[QUEST_PAGE].i : 0;
}

static int quest_prepare(const struct pattern *pat, const struct sel_input *in,
			 int b, int h, void **state)
{
	const struct problem *p = in->p;
	long np = prompt_pages(pat, in);
	float *meta;

	*state = NULL;
	if (np == 0)
		return 0;
	meta = malloc((size_t)np * 2 * p->d * sizeof *meta);
	if (!meta)
		return -1;
	page_meta(p->k + kern_kv_off(p, b, h), np * (long)pat->val[QUEST_PAGE].i, p->d,
		  (long)pat->val[QUEST_PAGE].i, np, meta);
	*state = meta;
	return 0;
}

/* best[P] for P < cur0: the largest bound of the nq queries from history
 * row r, over the prompt's pages (pre, n_pre of them) and the rest (tail). */
static int block_bounds(const struct sel_input *in, int b, int h, long r, int nq,
			const float *pre, long n_pre, const float *tail, long cur0, long np,
			float *qa, float *s, float *best)
{
	long n_head = cur0 < n_pre ? cur0 : n_pre;

	if (page_bounds(in, b, h, r, nq, pre, n_head, np, qa, s) ||
	    page_bounds(in, b, h, r, nq, tail, cur0 - n_head, np, qa, s + n_head))
		return -1;
	for (int i = 0; i < nq; i++)
		for (long P = 0; P < cur0; P++)
			best[P] = s[(size_t)i * np + P] > best[P] ? s[(size_t)i * np + P] : best[P];
	return 0;
}

static int quest_select(const struct pattern *pat, const struct sel_input *in,
			const void *state, int b, int h, struct sel_rows *rows)
{
	const struct problem *p = in->p;
	long ps = (long)pat->val[QUEST_PAGE].i, np = (p->n_kv + ps - 1) / ps;
	long qb = in->decode ? 1 : (long)pat->val[QUEST_QBLOCK].i, q0 = p->n_kv - p->n_q;
	long n_pre = state ? prompt_pages(pat, in) : 0;
	float *tail = malloc(((size_t)(np - n_pre) + 1) * 2 * p->d * sizeof *tail);
	int group = sel_group(pat, p);
	float *s = malloc((size_t)TILE_Q * np * sizeof *s), *best = malloc((size_t)np * sizeof *best);
	float *sum = malloc((size_t)np * sizeof *sum);
	float *qa = malloc((size_t)TILE_Q * 2 * p->d * sizeof *qa);
	int32_t *work = malloc((size_t)np * sizeof *work), *keep = malloc(((size_t)np + 1) * sizeof *keep);
	int rc = -1;

	if (!tail || !s || !best || !sum || !qa || !work || !keep)
		goto out;
	/* the pages the cell writes, kept as a server keeps them per token */
	page_meta(p->k + kern_kv_off(p, b, h) + (size_t)n_pre * ps * p->d, p->n_kv - n_pre * ps,
		  p->d, ps, np - n_pre, tail);
	for (long r0 = 0; r0 < p->n_q; r0 += qb) {
		long r1 = r0 + qb < p->n_q ? r0 + qb : p->n_q, cur0 = (q0 + r0) / ps;
		for (long P = 0; P < cur0; P++)
			sum[P] = 0.0f;
		for (int g = 0; g < group; g++) {
			for (long P = 0; P < cur0; P++)
				best[P] = -INFINITY;
			for (long c0 = r0; c0 < r1 && cur0 > 0; c0 += TILE_Q) {
				int nq = r1 - c0 < TILE_Q ? (int)(r1 - c0) : TILE_Q;
				if (block_bounds(in, b, h + g, in->n_hist - p->n_q + c0, nq, state, n_pre, tail,
						 cur0, np, qa, s, best))
					goto out;
			}
			for (long P = 0; P < cur0; P++)
				sum[P] += best[P];
		}
		if (quest_rows(pat, in, rows, r0, r1, sum, work, keep))
			goto out;
	}
	rc = 0;
out:
	free(tail);
	free(s);
	free(best);
	free(sum);
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
	/* a decode cell's prompt pages were summarised when it was prefilled */
	double kept = decode ? floor(off / ps) : 0.0, fresh = (double)p->n_kv - kept * ps;

	/* each query row bounds the pages before its own: about (off + r) / ps */
	pairs = (double)p->n_q * (off / ps) + (double)p->n_q * (double)p->n_q / (2.0 * ps);
	c->flops = bh * (pairs * 4.0 * d + 2.0 * fresh * d);
	c->bytes = (double)p->batch * p->kv_heads * (4.0 * fresh * d + np * 8.0 * d);
}

const struct sel_kind sel_quest = {
	.kind = &pat_quest,                     /* patterns/quest.c */
	.history = NULL,                        /* the cell's own rows */
	.unservable = NULL,                     /* any shape */
	.prepare = quest_prepare,               /* the prompt's page metadata */
	.select = quest_select,                 /* page bounds, top pages */
	.cost = quest_cost,                     /* a 2d dot per page per query */
};
