/* block_topk.c - block scores per (query block, key block), estimated from
 * mean-pooled Q and K or from strided antidiagonal sums (XAttention: the
 * stride x stride cells of Q K^T summed along their antidiagonals, a
 * softmax over the cells of each strided row, summed per block), then per
 * query block the k best key blocks or the fewest covering `coverage` of
 * the row's mass; the first and the diagonal block always. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

enum { BT_BLOCK, BT_ESTIMATE, BT_STRIDE, BT_K, BT_COVERAGE };
enum { EST_MEAN_POOL, EST_ANTIDIAGONAL };

#define BT_MAX_BLOCKS 4096      /* block rows x columns of mass per head */

static const char *bt_unservable(const struct pattern *pat, const struct problem *p,
				 int decode, char *buf, size_t len)
{
	long nb = (p->n_kv + pat->val[BT_BLOCK].i - 1) / pat->val[BT_BLOCK].i;

	(void)decode;
	if (nb > BT_MAX_BLOCKS)
		return snprintf(buf, len, "'block' %lld makes %ld blocks at seq_len %ld; at most %d",
				pat->val[BT_BLOCK].i, nb, p->n_kv, BT_MAX_BLOCKS), buf;
	return NULL;
}

/* Means of the rows of x in blocks of bs (the last may be short). */
static void pool_rows(const float *x, long n, int d, long bs, float *out)
{
	for (long B = 0; B * bs < n; B++) {
		long hi = (B + 1) * bs < n ? (B + 1) * bs : n;
		float *o = out + (size_t)B * d;
		memset(o, 0, (size_t)d * sizeof *o);
		for (long r = B * bs; r < hi; r++)
			for (int c = 0; c < d; c++)
				o[c] += x[(size_t)r * d + c];
		for (int c = 0; c < d; c++)
			o[c] /= (float)(hi - B * bs);
	}
}

/* mass[I][J]: softmax of pooled scores over the key blocks row I sees. */
static int mean_pool_mass(const struct pattern *pat, const struct sel_input *in,
			  int b, int h, long nb, float *mass)
{
	const struct problem *p = in->p;
	long bs = (long)pat->val[BT_BLOCK].i;
	float *qb = malloc((size_t)nb * p->d * sizeof *qb), *kb = malloc((size_t)nb * p->d * sizeof *kb);

	if (!qb || !kb) {
		free(qb);
		free(kb);
		return -1;
	}
	pool_rows(sel_query(in, b, h, 0), p->n_q, p->d, bs, qb);
	pool_rows(p->k + kern_kv_off(p, b, h), p->n_kv, p->d, bs, kb);
	for (long I = 0; I < nb; I++) {
		long nj = pat->causal ? I + 1 : nb;
		float *row = mass + (size_t)I * nb;
		memset(row, 0, (size_t)nb * sizeof *row);
		sel_dots(in, qb + (size_t)I * p->d, kb, nj, p->d, 1.0 / sqrt((double)p->d), row);
		sel_softmax(in, row, nj);
	}
	free(qb);
	free(kb);
	return 0;
}

/* x' row i = concat over t < S of x[i S + (rev ? S-1-t : t)] (zeros past n). */
static void stride_rows(const float *x, long n, int d, long S, int rev, long cells, float *out)
{
	for (long i = 0; i < cells; i++)
		for (long t = 0; t < S; t++) {
			long r = i * S + (rev ? S - 1 - t : t);
			float *o = out + ((size_t)i * S + t) * d;
			if (r < n)
				memcpy(o, x + (size_t)r * d, (size_t)d * sizeof *o);
			else
				memset(o, 0, (size_t)d * sizeof *o);
		}
}

/* Adds strided row i's softmax s[0, nj) to its block row of mass. */
static void add_cells(float *mass, long nb, long per, long i, const float *s, long nj)
{
	float *row = mass + (size_t)(i / per) * nb;

	for (long j = 0; j < nj; j++)
		row[j / per] += s[j];
}

/* Key slice t of the strided rows: row j = k[j S + t] (zeros past n), so
 * a strided score is the sum over t of S plain dots of d channels. */
static void key_slices(const float *k, long n, int d, long S, long cells, float *out)
{
	for (long t = 0; t < S; t++)
		for (long j = 0; j < cells; j++) {
			long r = j * S + t;
			float *o = out + ((size_t)t * cells + j) * d;
			if (r < n)
				memcpy(o, k + (size_t)r * d, (size_t)d * sizeof *o);
			else
				memset(o, 0, (size_t)d * sizeof *o);
		}
}

/* s[q][j] (cells apart), q < nq, j < nj: scores of strided rows i0 + q.
 * The reference dots whole strided rows (S d channels) in double; the
 * fast path sums S tiles of d channels. */
static int antidiag_scores(const struct sel_input *in, const float *qs, const float *ks,
			   long S, long cells, long i0, int nq, long nj, double scale, float *s)
{
	int d = in->p->d;
	long dd = S * d;

	if (in->ref)
		return sel_dots_block(in, qs + (size_t)i0 * dd, dd, nq, ks, nj, (int)dd, scale, s, cells);
	return sel_dots_sliced(in, qs + (size_t)i0 * dd, dd, d, ks, cells * d, (int)S, nq, nj, d,
			       scale, s, cells);
}

/* mass[I][J]: XAttention's antidiagonal estimate, each block row summing
 * to one. */
static int antidiagonal_mass(const struct pattern *pat, const struct sel_input *in,
			     int b, int h, long nb, float *mass)
{
	const struct problem *p = in->p;
	long S = (long)pat->val[BT_STRIDE].i, per = (long)pat->val[BT_BLOCK].i / S;
	long cells = (p->n_kv + S - 1) / S;
	int dd = (int)(S * p->d);
	double scale = 1.0 / (sqrt((double)p->d) * (double)S);
	float *qs = malloc((size_t)cells * dd * sizeof *qs), *ks = malloc((size_t)cells * dd * sizeof *ks);
	float *s = malloc((size_t)TILE_Q * cells * sizeof *s);
	int rc = -1;

	if (!qs || !ks || !s)
		goto out;
	memset(mass, 0, (size_t)nb * nb * sizeof *mass);
	stride_rows(sel_query(in, b, h, 0), p->n_q, p->d, S, 1, cells, qs);
	if (in->ref)
		stride_rows(p->k + kern_kv_off(p, b, h), p->n_kv, p->d, S, 0, cells, ks);
	else
		key_slices(p->k + kern_kv_off(p, b, h), p->n_kv, p->d, S, cells, ks);
	for (long i0 = 0; i0 < cells; i0 += TILE_Q) {
		int nq = cells - i0 < TILE_Q ? (int)(cells - i0) : TILE_Q;
		if (antidiag_scores(in, qs, ks, S, cells, i0, nq, pat->causal ? i0 + nq : cells,
				    scale, s))
			goto out;
		for (int q = 0; q < nq; q++) {
			long nj = pat->causal ? i0 + q + 1 : cells;
			sel_softmax(in, s + (size_t)q * cells, nj);
			add_cells(mass, nb, per, i0 + q, s + (size_t)q * cells, nj);
		}
	}
	for (long I = 0; I < nb; I++) {
		double z = 0.0;
		for (long J = 0; J < nb; J++)
			z += mass[(size_t)I * nb + J];
		for (long J = 0; z > 0.0 && J < nb; J++)
			mass[(size_t)I * nb + J] = (float)(mass[(size_t)I * nb + J] / z);
	}
	rc = 0;
out:
	free(qs);
	free(ks);
	free(s);
	return rc;
}

/* The kept key blocks of block row I (ascending) into keep; returns how
 * many. */
static long bt_keep(const struct pattern *pat, const float *row, long nj, long I,
		    unsigned char *taken, int32_t *work, int32_t *keep)
{
	long n = 0, k = (long)pat->val[BT_K].i;
	double covered = 0.0, total = 0.0, want;

	memset(taken, 0, (size_t)nj);
	taken[0] = 1;
	if (I < nj)
		taken[I] = 1;
	for (long J = 0; J < nj; J++) {
		total += row[J];
		if (taken[J])
			covered += row[J], keep[n++] = (int32_t)J;
	}
	if (k > 0) {
		n += sel_topk(row, nj, k, taken, work, keep + n);
	} else {
		long m = 0;
		want = pat->val[BT_COVERAGE].f * total;
		for (long J = 0; J < nj; J++)
			if (!taken[J])
				work[m++] = (int32_t)J;
		sel_order(row, work, m, work + m);
		for (long i = 0; i < m && covered < want; i++) {
			covered += row[work[i]];
			keep[n++] = work[i];
		}
	}
	return n;
}

static int bt_select(const struct pattern *pat, const struct sel_input *in,
		     const void *state, int b, int h, struct sel_rows *rows)
{
	const struct problem *p = in->p;
	long bs = (long)pat->val[BT_BLOCK].i, nb = (p->n_kv + bs - 1) / bs;
	int group = sel_group(pat, p);
	float *mass = malloc((size_t)nb * nb * (group > 1 ? 2 : 1) * sizeof *mass), *one = mass + (size_t)nb * nb;
	unsigned char *taken = malloc((size_t)nb);
	int32_t *work = malloc(2 * (size_t)nb * sizeof *work), *keep = malloc(((size_t)nb + 2) * sizeof *keep);
	int rc = -1;

	(void)state;
	if (!mass || !taken || !work || !keep)
		goto out;
	/* a sharing group's estimates add up (the keep rule reads shares of the total) */
	for (int g = 0; g < group; g++) {
		float *to = g ? one : mass;
		if (pat->val[BT_ESTIMATE].i == EST_ANTIDIAGONAL ? antidiagonal_mass(pat, in, b, h + g, nb, to)
								: mean_pool_mass(pat, in, b, h + g, nb, to))
			goto out;
		for (size_t x = 0; g && x < (size_t)nb * nb; x++)
			mass[x] += one[x];
	}
	for (long I = 0; I < nb; I++) {
		long nj = pat->causal ? I + 1 : nb;
		long n = bt_keep(pat, mass + (size_t)I * nb, nj, I, taken, work, keep);
		qsort(keep, (size_t)n, sizeof *keep, sel_by_index);
		for (long r = I * bs; r < (I + 1) * bs && r < p->n_q; r++)
			if (sel_push_blocks(rows->out, keep, n, bs) ||
			    sel_end_row(rows, r, pat->causal ? r + 1 : p->n_kv))
				goto out;
	}
	rc = 0;
out:
	free(mass);
	free(taken);
	free(work);
	free(keep);
	return rc;
}

static void bt_cost(const struct pattern *pat, const struct problem *p, int decode,
		    struct sel_cost *c)
{
	double bh = (double)p->batch * p->heads, n = (double)p->n_kv, d = p->d;
	double bs = (double)pat->val[BT_BLOCK].i, nb = ceil(n / bs), pairs;

	(void)decode;
	if (pat->val[BT_ESTIMATE].i == EST_ANTIDIAGONAL) {
		double S = (double)pat->val[BT_STRIDE].i, cells = ceil(n / S);
		pairs = pat->causal ? cells * (cells + 1) / 2 : cells * cells;
		c->flops = bh * pairs * (2.0 * S * d + 4.0);
	} else {
		pairs = pat->causal ? nb * (nb + 1) / 2 : nb * nb;
		c->flops = bh * (2.0 * n * d + pairs * (2.0 * d + 4.0));
	}
	c->bytes = 4.0 * d * n * (bh + (double)p->batch * p->kv_heads);
}

const struct sel_kind sel_block_topk = {
	.kind = &pat_block_topk,                /* patterns/block_topk.c */
	.history = NULL,                        /* the cell's own rows */
	.unservable = bt_unservable,            /* blocks per row bounded */
	.prepare = NULL,                        /* keeps nothing between selections */
	.select = bt_select,                    /* estimate, then keep */
	.cost = bt_cost,                        /* pooled or strided dots */
	.bidirectional = 1,                     /* whole key blocks either way */
};
