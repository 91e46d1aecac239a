/* vertical_slash.c - MInference's estimate: the last last_q queries'
 * softmax rows, summed per key column (verticals) and per diagonal offset
 * (slashes); the top columns and offsets are kept, the first sink_keys
 * columns and local_offsets nearest offsets always (minference_forward.py
 * sets their scores to +inf before its top-k). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "select.h"

enum { VS_LAST_Q, VS_VERTICALS, VS_SLASHES, VS_SINK_KEYS, VS_LOCAL };

static const char *vs_unservable(const struct pattern *pat, const struct problem *p,
				 int decode, char *buf, size_t len)
{
	(void)decode;
	if (pat->val[VS_LAST_Q].i > p->n_q)
		return snprintf(buf, len, "'last_q' is %lld, above seq_len %ld",
				pat->val[VS_LAST_Q].i, p->n_q), buf;
	return NULL;
}

/* Column and offset scores of layout (b, h) from the last last_q rows,
 * TILE_Q rows at a time; s holds TILE_Q rows of n scores. */
static int vs_scores(const struct pattern *pat, const struct sel_input *in,
		     int b, int h, float *s, double *vert, double *slash)
{
	const struct problem *p = in->p;
	long n = p->n_kv;
	const float *k = p->k + kern_kv_off(p, b, h);

	for (long r0 = in->n_hist - (long)pat->val[VS_LAST_Q].i; r0 < in->n_hist; r0 += TILE_Q) {
		int nq = in->n_hist - r0 < TILE_Q ? (int)(in->n_hist - r0) : TILE_Q;
		if (sel_dots_block(in, sel_query(in, b, h, r0), p->d, nq, k,
				   sel_pos(in, r0 + nq - 1) + 1, p->d, 1.0 / sqrt((double)p->d), s, n))
			return -1;
		for (int i = 0; i < nq; i++) {
			long pos = sel_pos(in, r0 + i);
			float *row = s + (size_t)i * n;
			sel_softmax(in, row, pos + 1);
			for (long j = 0; j <= pos; j++) {
				vert[j] += row[j];
				slash[pos - j] += row[j];
			}
		}
	}
	return 0;
}

/* The top `keep` of score[0, n), the first `forced` always among them. */
static long vs_pick(double *score, long n, long keep, long forced, float *f,
		    int32_t *work, int32_t *idx)
{
	for (long j = 0; j < n; j++)
		f[j] = j < forced ? INFINITY : (float)score[j];
	return sel_topk(f, n, keep, NULL, work, idx);
}

/* Row r at pos, from the compact form, as ranges written in place (a
 * row holds at most n_cols + n_offs). */
static int vs_row(struct sel_rows *rows, long r, long pos)
{
	struct pat_ranges *out = rows->out;

	if (sel_reserve(out, (size_t)(rows->vs->n_cols + rows->vs->n_offs)))
		return -1;
	out->n += (size_t)gset_vslash_row(rows->vs, pos, out->r + out->n);
	rows->ptr[r + 1] = (int64_t)out->n;
	return 0;
}

static int vs_select(const struct pattern *pat, const struct sel_input *in,
		     const void *state, int b, int h, struct sel_rows *rows)
{
	const struct problem *p = in->p;
	long n = p->n_kv, nv, ns;
	float *s = malloc((size_t)TILE_Q * n * sizeof *s);
	double *vert = calloc((size_t)n, sizeof *vert), *slash = calloc((size_t)n, sizeof *slash);
	int32_t *work = malloc((size_t)n * sizeof *work);
	struct gset_vslash *vs = rows->vs;
	int rc = -1;

	(void)state;
	if (!s || !vert || !slash || !work)
		goto out;
	for (int g = 0; g < sel_group(pat, p); g++)    /* a sharing group's sums add up */
		if (vs_scores(pat, in, b, h + g, s, vert, slash))
			goto out;
	/* the compact form (sel_run gives it room for n of each) ... */
	nv = vs_pick(vert, n, (long)pat->val[VS_VERTICALS].i, (long)pat->val[VS_SINK_KEYS].i,
		     s, work, vs->cols);
	ns = vs_pick(slash, n, (long)pat->val[VS_SLASHES].i, (long)pat->val[VS_LOCAL].i,
		     s, work, vs->offs);
	vs->n_cols = nv;
	vs->n_offs = ns;
	/* ... and, unless a kernel reads only that, the rows */
	for (long r = 0; !in->compact && r < p->n_q; r++)
		if (vs_row(rows, r, p->n_kv - p->n_q + r))
			goto out;
	rc = 0;
out:
	free(s);
	free(vert);
	free(slash);
	free(work);
	return rc;
}

static void vs_cost(const struct pattern *pat, const struct problem *p, int decode,
		    struct sel_cost *c)
{
	double last_q = (double)pat->val[VS_LAST_Q].i, bh = (double)p->batch * p->heads;

	(void)decode;
	/* last_q rows of about n keys: a dot (2d) and an exp per pair */
	c->flops = bh * last_q * (double)p->n_kv * (2.0 * p->d + 4.0);
	c->bytes = bh * last_q * p->d * 4.0 + (double)p->batch * p->kv_heads * p->n_kv * p->d * 4.0;
}

const struct sel_kind sel_vertical_slash = {
	.kind = &pat_vertical_slash,            /* patterns/vertical_slash.c */
	.history = NULL,                        /* the cell's own rows */
	.unservable = vs_unservable,            /* last_q within the rows */
	.prepare = NULL,                        /* keeps nothing between selections */
	.select = vs_select,                    /* columns and offsets */
	.cost = vs_cost,                        /* last_q x n dots */
	.compact = 1,                           /* columns and offsets: gset_vslash */
};
