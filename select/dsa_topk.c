/* dsa_topk.c - DeepSeek Sparse Attention's lightning indexer and top-k.
 * The indexer of a sequence (made once per cell, untimed, as the model's
 * projections make it in its forward pass): one key per token, k_I(s) =
 * R [k_0(s), ..., k_(kv_heads-1)(s)] (the K/V heads' keys side by side),
 * and per query token and indexer head j, q_I(t, j) = faithful R q~ +
 * (1 - faithful) noise of the same scale, q~ holding query head
 * h = j mod heads in its K/V head's place and zeros elsewhere, so that
 * q_I . k_I follows head h's own logits q_h . k_kv(h) (R is a seeded
 * d_I x (kv_heads d) projection of variance 1 / d_I: dots are kept, as
 * Johnson-Lindenstrauss has it); seeded weights w(t, j); all held as
 * bf16 values (the indexer's dtype here; DeepSeek runs it in fp8). When
 * the inputs give an indexer (npy files), it is read instead, rounded to
 * bf16 likewise. The
 * selection, timed: I(t, s) = sum_j w(t, j) ReLU(q_I(t, j) . k_I(s)) for
 * every key s a query sees, in query tiles through the selectors' dot
 * tiles, then its k best keys: one G for every head of the sequence. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

enum { DSA_K, DSA_HEADS, DSA_DIM, DSA_FAITHFUL, DSA_SEED };

/* A sequence's indexer. */
struct indexer {
	float *q;               /* [n_hist][H][d_I] */
	float *k;               /* [n_kv][d_I] */
	float *w;               /* [n_hist][H] */
};

/* The seeded uniform value in [-1, 1) of (stream, i). */
static float uniform(unsigned long long seed, unsigned long long stream, unsigned long long i)
{
	return (float)((double)(pat_hash(seed, stream, i, 0) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float bf16(float x)
{
	return dt_from_bf16(dt_to_bf16(x));
}

/* out = R x~ for x~ of width D holding x (d values) at offset and zeros
 * elsewhere; R the seeded d_I x D projection of variance 1 / d_I. */
static void project(unsigned long long seed, const float *x, int d, int offset, int D, int di, float *out)
{
	float scale = sqrtf(3.0f / (float)di);

	for (int a = 0; a < di; a++) {
		double acc = 0.0;
		for (int c = 0; c < d; c++)
			acc += (double)uniform(seed, 1, (unsigned long long)a * (unsigned long long)D +
							(unsigned long long)(offset + c)) * x[c];
		out[a] = (float)acc * scale;
	}
}

static void indexer_free(struct indexer *x)
{
	if (!x)
		return;
	free(x->q);
	free(x->k);
	free(x->w);
	free(x);
}

/* The indexer's keys: R times the sequence's K/V heads' keys side by side
 * (the sum of each head's block projected). */
static void index_keys(const struct problem *p, int b, unsigned long long seed, int di, float *part, float *out)
{
	int D = p->d * p->kv_heads;

	for (long s = 0; s < p->n_kv; s++) {
		float *o = out + (size_t)s * di;
		memset(o, 0, (size_t)di * sizeof *o);
		for (int g = 0; g < p->kv_heads; g++) {
			project(seed, p->k + (((size_t)b * p->kv_heads + g) * p->n_kv + s) * p->d, p->d, g * p->d, D, di, part);
			for (int a = 0; a < di; a++)
				o[a] += part[a];
		}
		for (int a = 0; a < di; a++)
			o[a] = bf16(o[a]);
	}
}

/* Indexer query (t, j) from query q of a head reading K/V head g:
 * faithful R q~ plus (1 - faithful) noise of its norm. */
static void index_query(const struct pattern *pat, const struct problem *p, const float *q, int g,
			int di, unsigned long long t, int j, float *out)
{
	unsigned long long seed = (unsigned long long)pat->val[DSA_SEED].i;
	double f = pat->val[DSA_FAITHFUL].f, norm = 0.0;

	project(seed, q, p->d, g * p->d, p->d * p->kv_heads, di, out);
	for (int a = 0; a < di; a++)
		norm += (double)out[a] * out[a];
	norm = sqrt(norm / di) * sqrt(3.0);
	for (int a = 0; a < di; a++) {
		float noise = uniform(seed, 2, (t * 4096 + (unsigned long long)j) * 4096 + (unsigned long long)a);
		out[a] = bf16((float)(f * out[a] + (1.0 - f) * norm * noise));
	}
}

static int dsa_prepare(const struct pattern *pat, const struct sel_input *in, int b, int h, void **state)
{
	const struct problem *p = in->p;
	int H = (int)pat->val[DSA_HEADS].i, di = (int)pat->val[DSA_DIM].i;
	unsigned long long seed = (unsigned long long)pat->val[DSA_SEED].i;
	struct indexer *x = calloc(1, sizeof *x);
	float *part = malloc((size_t)di * sizeof *part);

	(void)h;
	*state = NULL;
	if (x) {
		x->q = malloc((size_t)in->n_hist * H * di * sizeof *x->q);
		x->k = malloc((size_t)p->n_kv * di * sizeof *x->k);
		x->w = malloc((size_t)in->n_hist * H * sizeof *x->w);
	}
	if (!x || !part || !x->q || !x->k || !x->w) {
		indexer_free(x);
		free(part);
		return -1;
	}
	if (in->index_q) {              /* the inputs' own indexer */
		size_t nq = (size_t)in->n_hist * H;
		for (size_t i = 0; i < nq * di; i++)
			x->q[i] = bf16(in->index_q[(size_t)b * nq * di + i]);
		for (size_t i = 0; i < (size_t)p->n_kv * di; i++)
			x->k[i] = bf16(in->index_k[(size_t)b * p->n_kv * di + i]);
		for (size_t i = 0; i < nq; i++)
			x->w[i] = bf16(in->index_w[(size_t)b * nq + i]);
		free(part);
		*state = x;
		return 0;
	}
	index_keys(p, b, seed, di, part, x->k);
	for (long t = 0; t < in->n_hist; t++)
		for (int j = 0; j < H; j++) {
			int qh = j % p->heads;
			index_query(pat, p, sel_query(in, b, qh, t), qh / (p->heads / p->kv_heads), di,
				    (unsigned long long)t, j, x->q + ((size_t)t * H + j) * di);
			x->w[(size_t)t * H + j] = bf16((1.5f + 0.5f * uniform(seed, 3, (unsigned long long)t * H + j)) / H);
		}
	free(part);
	*state = x;
	return 0;
}

static void dsa_release(void *state)
{
	indexer_free(state);
}

static int dsa_select(const struct pattern *pat, const struct sel_input *in, const void *state,
		      int b, int h, struct sel_rows *rows)
{
	const struct problem *p = in->p;
	const struct indexer *x = state;
	void *own = NULL;               /* an indexer made here when handed none */
	int H = (int)pat->val[DSA_HEADS].i, di = (int)pat->val[DSA_DIM].i;
	long q0 = p->n_kv - p->n_q, first = in->n_hist - p->n_q;
	float *s = malloc((size_t)TILE_Q * p->n_kv * sizeof *s), *acc = malloc((size_t)TILE_Q * p->n_kv * sizeof *acc);
	int32_t *work = malloc((size_t)p->n_kv * sizeof *work), *keep = malloc((size_t)p->n_kv * sizeof *keep);
	int rc = -1;

	if (!x && !dsa_prepare(pat, in, b, h, &own))
		x = own;
	if (!s || !acc || !work || !keep || !x)
		goto out;
	for (long r0 = 0; r0 < p->n_q; r0 += TILE_Q) {
		int nq = p->n_q - r0 < TILE_Q ? (int)(p->n_q - r0) : TILE_Q;
		long seen = q0 + r0 + nq;
		memset(acc, 0, (size_t)nq * p->n_kv * sizeof *acc);
		for (int j = 0; j < H; j++) {
			/* indexer head j of the tile's queries: rows H d_I apart */
			if (sel_dots_block(in, x->q + ((size_t)(first + r0) * H + j) * di, (long)H * di, nq,
					   x->k, seen, di, 1.0, s, p->n_kv))
				goto out;
			for (int i = 0; i < nq; i++) {
				float wt = x->w[(size_t)(first + r0 + i) * H + j], *a = acc + (size_t)i * p->n_kv;
				const float *row = s + (size_t)i * p->n_kv;
				for (long t = 0; t < q0 + r0 + i + 1; t++)
					a[t] += row[t] > 0.0f ? wt * row[t] : 0.0f;
			}
		}
		for (int i = 0; i < nq; i++) {
			long r = r0 + i, hi = q0 + r + 1;
			long n = sel_topk(acc + (size_t)i * p->n_kv, hi, (long)pat->val[DSA_K].i, NULL, work, keep);
			for (long t = 0; t < n; t++)
				if (sel_push_key(rows, r, keep[t]))
					goto out;
			if (sel_end_row(rows, r, hi))
				goto out;
		}
	}
	rc = 0;
out:
	indexer_free(own);
	free(s);
	free(acc);
	free(work);
	free(keep);
	return rc;
}

static void dsa_indexer(const struct pattern *pat, int *heads, int *dim)
{
	*heads = (int)pat->val[DSA_HEADS].i;
	*dim = (int)pat->val[DSA_DIM].i;
}

/* The indexer's scoring per sequence (one G for all heads): H_I dots of
 * d_I a pair (2 FLOPs a MAC) plus ReLU and weight, on bf16 values. */
static void dsa_cost(const struct pattern *pat, const struct problem *p, int decode,
		     struct sel_cost *c)
{
	double H = (double)pat->val[DSA_HEADS].i, di = (double)pat->val[DSA_DIM].i;
	double pairs = (double)gset_dense_pairs(p->n_q, p->n_kv, 1);

	(void)decode;
	c->flops = (double)p->batch * pairs * H * (2.0 * di + 2.0);
	c->bytes = 2.0 * (double)p->batch * ((double)p->n_q * H * (di + 1.0) + (double)p->n_kv * di);
}

const struct sel_kind sel_dsa_topk = {
	.kind = &pat_dsa_topk,                  /* patterns/dsa_topk.c */
	.history = NULL,                        /* the cell's own rows */
	.unservable = NULL,                     /* any shape */
	.prepare = dsa_prepare,                 /* the sequence's indexer */
	.release = dsa_release,                 /* frees it */
	.indexer = dsa_indexer,                 /* H_I x d_I, which inputs may give */
	.select = dsa_select,                   /* indexer scores, k best */
	.cost = dsa_cost,                       /* H_I d_I-dots a pair */
	.all_heads = 1,                         /* one G per token for every head */
};
