/* nsa_select.c - NSA's selection branch without training: compressed keys
 * are the means of compress_block keys every compress_stride (NSA learns
 * an MLP there; the mean is its training-free stand-in); a query's softmax
 * over the compressed keys it has wholly seen is summed onto the
 * select_block blocks each compressed key overlaps (Eq. 9 of the paper
 * for aligned blocks), and the top select_n blocks are read, the first
 * and the local_blocks nearest always among them. A GQA group sharing
 * its selection sums its heads' block scores, as NSA does (Eq. 10). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

enum { NSA_CBLOCK, NSA_CSTRIDE, NSA_SBLOCK, NSA_SN, NSA_LOCAL };

/* Compressed key i: the mean of keys [i s, i s + l). */
static void compress_keys(const float *k, int d, long l, long s, long nc, float *out)
{
	for (long i = 0; i < nc; i++) {
		float *o = out + (size_t)i * d;
		memset(o, 0, (size_t)d * sizeof *o);
		for (long r = i * s; r < i * s + l; r++)
			for (int c = 0; c < d; c++)
				o[c] += k[(size_t)r * d + c];
		for (int c = 0; c < d; c++)
			o[c] /= (float)l;
	}
}

/* Compressed keys the query at pos has wholly seen. */
static long nsa_seen(const struct pattern *pat, long pos, long nc)
{
	long l = (long)pat->val[NSA_CBLOCK].i, st = (long)pat->val[NSA_CSTRIDE].i;
	long nv = pos + 1 >= l ? (pos + 1 - l) / st + 1 : 0;

	return nv < nc ? nv : nc;
}

/* Adds to blk[0 .. cur] the block scores of row r from its scores s over
 * the compressed keys (softmax taken in place): block J sums the keys
 * whose span meets it, in key order (0 when the query has seen no whole
 * compressed key). */
static void nsa_blocks(const struct pattern *pat, const struct sel_input *in, long r,
		       long nc, float *s, float *blk)
{
	const struct problem *p = in->p;
	long l = (long)pat->val[NSA_CBLOCK].i, st = (long)pat->val[NSA_CSTRIDE].i;
	long L = (long)pat->val[NSA_SBLOCK].i, pos = p->n_kv - p->n_q + r, cur = pos / L;
	long nv = nsa_seen(pat, pos, nc);

	sel_softmax(in, s, nv);
	for (long J = 0; J <= cur; J++) {
		long first = J * L - l + 1, i1 = ((J + 1) * L - 1) / st;
		float acc = 0.0f;
		i1 = i1 < nv - 1 ? i1 : nv - 1;
		for (long i = first > 0 ? (first + st - 1) / st : 0; i <= i1; i++)
			acc += s[i];
		blk[J] += acc;
	}
}

/* Row r from its block scores: forced blocks, the best of the rest. */
static int nsa_row(const struct pattern *pat, const struct sel_input *in, long r,
		   float *blk, unsigned char *taken, int32_t *work, int32_t *keep,
		   struct sel_rows *rows)
{
	const struct problem *p = in->p;
	long L = (long)pat->val[NSA_SBLOCK].i, pos = p->n_kv - p->n_q + r, cur = pos / L;
	long n = 0;

	memset(taken, 0, (size_t)(cur + 1));
	taken[0] = 1;
	for (long j = cur; j > cur - (long)pat->val[NSA_LOCAL].i && j >= 0; j--)
		taken[j] = 1;
	for (long j = 0; j <= cur; j++)
		if (taken[j])
			keep[n++] = (int32_t)j;
	n += sel_topk(blk, cur + 1, (long)pat->val[NSA_SN].i - n, taken, work, keep + n);
	qsort(keep, (size_t)n, sizeof *keep, sel_by_index);
	if (sel_push_blocks(rows->out, keep, n, L) || sel_end_row(rows, r, pos + 1))
		return -1;
	return 0;
}

static int nsa_select(const struct pattern *pat, const struct sel_input *in,
		      const void *state, int b, int h, struct sel_rows *rows)
{
	const struct problem *p = in->p;
	long l = (long)pat->val[NSA_CBLOCK].i, st = (long)pat->val[NSA_CSTRIDE].i;
	long nb = (p->n_kv + pat->val[NSA_SBLOCK].i - 1) / pat->val[NSA_SBLOCK].i;
	long nc = p->n_kv >= l ? (p->n_kv - l) / st + 1 : 0;
	float *ck = malloc(((size_t)nc + 1) * p->d * sizeof *ck);
	int group = sel_group(pat, p);
	size_t tile = (size_t)TILE_Q * ((size_t)nc + 1);
	float *s = malloc(tile * (size_t)group * sizeof *s);
	float *blk = malloc((size_t)nb * sizeof *blk);
	unsigned char *taken = malloc((size_t)nb);
	int32_t *work = malloc((size_t)nb * sizeof *work), *keep = malloc((size_t)nb * sizeof *keep);
	int rc = -1;

	(void)state;
	if (!ck || !s || !blk || !taken || !work || !keep)
		goto out;
	compress_keys(p->k + kern_kv_off(p, b, h), p->d, l, st, nc, ck);
	for (long r0 = 0; r0 < p->n_q; r0 += TILE_Q) {
		int nq = p->n_q - r0 < TILE_Q ? (int)(p->n_q - r0) : TILE_Q;
		long last = nsa_seen(pat, p->n_kv - p->n_q + r0 + nq - 1, nc);
		for (int g = 0; g < group; g++)
			if (sel_dots_block(in, sel_query(in, b, h + g, in->n_hist - p->n_q + r0), p->d, nq,
					   ck, last, p->d, 1.0 / sqrt((double)p->d), s + (size_t)g * tile, nc + 1))
				goto out;
		for (int i = 0; i < nq; i++) {
			memset(blk, 0, (size_t)nb * sizeof *blk);
			for (int g = 0; g < group; g++)
				nsa_blocks(pat, in, r0 + i, nc, s + (size_t)g * tile + (size_t)i * (nc + 1), blk);
			if (nsa_row(pat, in, r0 + i, blk, taken, work, keep, rows))
				goto out;
		}
	}
	rc = 0;
out:
	free(ck);
	free(s);
	free(blk);
	free(taken);
	free(work);
	free(keep);
	return rc;
}

static void nsa_cost(const struct pattern *pat, const struct problem *p, int decode,
		     struct sel_cost *c)
{
	double bh = (double)p->batch * p->heads, st = (double)pat->val[NSA_CSTRIDE].i;
	double off = (double)(p->n_kv - p->n_q), d = p->d;
	double pairs = (double)p->n_q * (off / st) + (double)p->n_q * (double)p->n_q / (2.0 * st);

	(void)decode;
	c->flops = bh * pairs * (2.0 * d + 5.0) +
		   (double)p->batch * p->kv_heads * (double)p->n_kv * d * pat->val[NSA_CBLOCK].i / st;
	c->bytes = 4.0 * d * (bh * p->n_q + (double)p->batch * p->kv_heads * p->n_kv);
}

const struct sel_kind sel_nsa_select = {
	.kind = &pat_nsa_select,                /* patterns/nsa_select.c */
	.history = NULL,                        /* the cell's own rows */
	.unservable = NULL,                     /* any shape */
	.prepare = NULL,                        /* keeps nothing between selections */
	.select = nsa_select,                   /* compressed softmax, top blocks */
	.cost = nsa_cost,                       /* a dot per compressed key */
};
