/* moba.c - MoBA's gate: the mean of each complete key block, every query
 * token's score q . mean(K_P) for the complete blocks before its own,
 * the top-k of them and its own block (causal inside). Query tiles score
 * the blocks every row of the tile may see at once (sel_dots_block); each
 * row then ranks only those before its own block. The means are pooled in
 * every selection (a decoding server would keep the prompt's). A GQA
 * group sharing its selection sums its heads' gate scores. */
#include <math.h>
#include <stdlib.h>

#include "select.h"

enum { MOBA_BLOCK, MOBA_TOPK };

/* mean[P] of the nb complete blocks of bs rows of k (d floats apart). */
static void block_means(const float *k, long nb, long bs, int d, float *mean)
{
	for (long P = 0; P < nb; P++) {
		float *m = mean + (size_t)P * d;
		for (int c = 0; c < d; c++) {
			double acc = 0.0;
			for (long r = P * bs; r < (P + 1) * bs; r++)
				acc += k[(size_t)r * d + c];
			m[c] = (float)(acc / (double)bs);
		}
	}
}

static int moba_select(const struct pattern *pat, const struct sel_input *in,
		       const void *state, int b, int h, struct sel_rows *rows)
{
	const struct problem *p = in->p;
	long bs = (long)pat->val[MOBA_BLOCK].i, k = (long)pat->val[MOBA_TOPK].i;
	long nb = p->n_kv / bs, q0 = p->n_kv - p->n_q;
	float *mean = malloc(((size_t)nb + 1) * p->d * sizeof *mean);
	int group = sel_group(pat, p);
	size_t tile = (size_t)TILE_Q * ((size_t)nb + 1);
	float *s = malloc(tile * (group > 1 ? 2 : 1) * sizeof *s), *one = s + tile;
	int32_t *work = malloc(((size_t)nb + 1) * sizeof *work), *keep = malloc(((size_t)nb + 1) * sizeof *keep);
	int rc = -1;

	(void)state;
	if (!mean || !s || !work || !keep)
		goto out;
	block_means(p->k + kern_kv_off(p, b, h), nb, bs, p->d, mean);
	for (long r0 = 0; r0 < p->n_q; r0 += TILE_Q) {
		int nq = p->n_q - r0 < TILE_Q ? (int)(p->n_q - r0) : TILE_Q;
		long seen = (q0 + r0 + nq - 1) / bs;    /* blocks before the tile's last row's */
		for (int g = 0; seen > 0 && g < group; g++) {
			if (sel_dots_block(in, sel_query(in, b, h + g, in->n_hist - p->n_q + r0), p->d, nq,
					   mean, seen, p->d, 1.0, g ? one : s, nb + 1))
				goto out;
			for (size_t x = 0; g && x < (size_t)nq * (nb + 1); x++)
				s[x] += one[x];
		}
		for (int i = 0; i < nq; i++) {
			long r = r0 + i, pos = q0 + r, cur = pos / bs, n;
			n = sel_topk(s + (size_t)i * (nb + 1), cur, k, NULL, work, keep);
			if (sel_push_blocks(rows->out, keep, n, bs) || sel_push(rows->out, cur * bs, pos + 1) ||
			    sel_end_row(rows, r, pos + 1))
				goto out;
		}
	}
	rc = 0;
out:
	free(mean);
	free(s);
	free(work);
	free(keep);
	return rc;
}

static void moba_cost(const struct pattern *pat, const struct problem *p, int decode,
		      struct sel_cost *c)
{
	double bh = (double)p->batch * p->heads, bs = (double)pat->val[MOBA_BLOCK].i;
	double off = (double)(p->n_kv - p->n_q), d = p->d;
	/* each query row scores the complete blocks before its own */
	double pairs = (double)p->n_q * (off / bs) + (double)p->n_q * (double)p->n_q / (2.0 * bs);

	(void)decode;
	c->flops = bh * (pairs * 2.0 * d + (double)p->n_kv * d);
	c->bytes = 4.0 * d * (bh * p->n_q + (double)p->batch * p->kv_heads * p->n_kv);
}

const struct sel_kind sel_moba = {
	.kind = &pat_moba,                      /* patterns/moba.c */
	.history = NULL,                        /* the cell's own rows */
	.unservable = NULL,                     /* any shape */
	.prepare = NULL,                        /* the means are pooled each time */
	.select = moba_select,                  /* block means, gate, top-k */
	.cost = moba_cost,                      /* a d dot per block per query */
};
