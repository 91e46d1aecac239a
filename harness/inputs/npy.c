/* npy.c - tensors captured from a real model (after RoPE), as .npy files:
 * q [batch, heads, n, d] or [heads, n, d], k and v the same with kv_heads
 * heads (GQA), float32 or float16. The files are mapped and checked once
 * at load (shapes agree, every value finite); a group's tensors are then
 * filled from the mapping (the first seq_len tokens, f16 widened), so
 * they are first-touched and laid out like every other input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../npy.h"
#include "inputs.h"

enum { NPY_Q, NPY_K, NPY_V, NPY_QI, NPY_KI, NPY_WI, NPY_FILES };

static const struct pat_param npy_params[] = {
	[NPY_Q] = { "q", PAT_PATH, 1, 0, 0, 0,
		"queries: [batch, heads, n, d] or [heads, n, d]", NULL, NULL },
	[NPY_K] = { "k", PAT_PATH, 1, 0, 0, 0,
		"keys: [batch, kv_heads, n, d] or [kv_heads, n, d]", NULL, NULL },
	[NPY_V] = { "v", PAT_PATH, 1, 0, 0, 0,
		"values: the shape of k but its last dimension, head_dim_v", NULL, NULL },
	[NPY_QI] = { "q_index", PAT_PATH, 0, 0, 0, 0,
		"dsa_topk's indexer queries: [batch, n, index_heads, index_dim] or [n, index_heads, index_dim]", NULL, NULL },
	[NPY_KI] = { "k_index", PAT_PATH, 0, 0, 0, 0,
		"its keys, one per token: [batch, n, index_dim] or [n, index_dim]", NULL, NULL },
	[NPY_WI] = { "index_weights", PAT_PATH, 0, 0, 0, 0,
		"its head weights: [batch, n, index_heads] or [n, index_heads]", NULL, NULL },
};

struct npy_state {
	struct npy_array a[NPY_FILES];  /* q, k, v, and the indexer's when given */
};

/* The indexer files: their shapes against q's batch and n (dims of
 * [batch, n, heads, dim], [batch, n, dim], [batch, n, heads]). */
static int check_indexer(struct exp_input *in, const struct npy_state *st, const long q[4], struct err *e)
{
	/* dimensions of each file without its batch */
	static const int ranks[NPY_FILES] = { [NPY_QI] = 3, [NPY_KI] = 2, [NPY_WI] = 2 };
	const int *rank = ranks + NPY_QI;
	long s[NPY_FILES - NPY_QI][3];

	for (int f = 0; f < NPY_FILES - NPY_QI; f++) {
		const struct npy_array *a = &st->a[NPY_QI + f];
		int extra = a->ndim - rank[f];
		if (extra != 0 && extra != 1)
			return err_set(e, "'%s' has %d dimensions; %s takes %d or %d", in->val[NPY_QI + f].path,
				       a->ndim, npy_params[NPY_QI + f].name, rank[f], rank[f] + 1);
		if ((extra ? (long)a->shape[0] : 1) != q[0] || (long)a->shape[extra] != q[2])
			return err_set(e, "'%s' does not cover the batch of %ld and the %ld tokens of '%s'",
				       in->val[NPY_QI + f].path, q[0], q[2], in->val[NPY_Q].path);
		for (int i = 0; i < rank[f] - 1; i++)
			s[f][i] = (long)a->shape[extra + 1 + i];
	}
	if (s[0][1] != s[1][0] || s[0][0] != s[2][0])
		return err_set(e, "indexer shapes disagree: '%s' has %ld heads of %ld, '%s' keys of %ld, '%s' %ld weights",
			       in->val[NPY_QI].path, s[0][0], s[0][1], in->val[NPY_KI].path, s[1][0],
			       in->val[NPY_WI].path, s[2][0]);
	in->shape.index_heads = s[0][0];
	in->shape.index_dim = s[0][1];
	return 0;
}

/* [batch, heads, n, d] of a tensor (batch 1 for three dimensions). */
static int dims_of(const struct npy_array *a, const char *path, long out[4],
		   struct err *e)
{
	if (a->ndim != 3 && a->ndim != 4)
		return err_set(e, "'%s' has %d dimensions; tensors need [batch, heads, n, d] or [heads, n, d]",
			       path, a->ndim);
	out[0] = a->ndim == 4 ? (long)a->shape[0] : 1;
	for (int i = 1; i < 4; i++)
		out[i] = (long)a->shape[a->ndim - 4 + i];
	if (out[0] < 1 || out[1] < 1 || out[2] < 1 || out[3] < 1)
		return err_set(e, "'%s' has an empty dimension", path);
	return 0;
}

static int check_shapes(const struct exp_input *in, const long s[3][4], struct err *e)
{
	const char *q = in->val[NPY_Q].path, *k = in->val[NPY_K].path, *v = in->val[NPY_V].path;

	for (int i = 0; i < 3; i++)     /* V's rows may be narrower or wider: head_dim_v */
		if (s[1][i] != s[2][i])
			return err_set(e, "shapes of k and v disagree: '%s' is [%ld, %ld, %ld, %ld], '%s' is [%ld, %ld, %ld, %ld] "
				       "(batch, heads and n must match; v's last dimension is head_dim_v)",
				       k, s[1][0], s[1][1], s[1][2], s[1][3], v, s[2][0], s[2][1], s[2][2], s[2][3]);
	if (s[0][0] != s[1][0] || s[0][2] != s[1][2] || s[0][3] != s[1][3])
		return err_set(e, "shapes of q and k disagree: '%s' is [%ld, %ld, %ld, %ld], '%s' is [%ld, %ld, %ld, %ld] (batch, n and d must match)",
			       q, s[0][0], s[0][1], s[0][2], s[0][3], k, s[1][0], s[1][1], s[1][2], s[1][3]);
	if (s[0][1] % s[1][1])
		return err_set(e, "'%s' has %ld heads, which %ld K/V heads of '%s' do not divide",
			       q, s[0][1], s[1][1], k);
	return 0;
}

static void npy_close(struct exp_input *in)
{
	struct npy_state *st = in->state;

	if (!st)
		return;
	for (int i = 0; i < NPY_FILES; i++)
		npy_unmap(&st->a[i]);
	free(st);
	in->state = NULL;
}

static int npy_open(struct exp_input *in, struct err *e)
{
	struct npy_state *st = calloc(1, sizeof *st);
	long s[3][4];
	int given = !!in->val[NPY_QI].path + !!in->val[NPY_KI].path + !!in->val[NPY_WI].path;

	if (!st)
		return err_set(e, "out of memory reading inputs");
	in->state = st;
	if (given && given < 3) {
		err_set(e, "an indexer needs q_index, k_index and index_weights together");
		goto fail;
	}
	for (int i = 0; i < 3; i++)
		if (npy_map(in->val[i].path, &st->a[i], NPY_WANT_FLOAT, e) ||
		    dims_of(&st->a[i], in->val[i].path, s[i], e))
			goto fail;
	if (check_shapes(in, (const long (*)[4])s, e))
		goto fail;
	for (int i = 0; i < 3; i++)
		if (npy_check_finite(&st->a[i], in->val[i].path, e))
			goto fail;
	in->shape = (struct inp_shape){ .batch = s[0][0], .heads = s[0][1],
		.kv_heads = s[1][1], .head_dim = s[0][3], .head_dim_v = s[2][3], .n = s[0][2],
		.v_file = in->val[NPY_V].path };
	for (int i = NPY_QI; given && i < NPY_FILES; i++)
		if (npy_map(in->val[i].path, &st->a[i], NPY_WANT_FLOAT, e) ||
		    npy_check_finite(&st->a[i], in->val[i].path, e))
			goto fail;
	if (given && check_indexer(in, st, s[0], e))
		goto fail;
	return 0;
fail:
	npy_close(in);
	return -1;
}

/* Rows [from, from + rows) of every [batch][head] slab of a mapped tensor
 * with file_n tokens into out ([batch][heads][rows][d]). */
static void copy_rows(const struct npy_array *a, long heads, long file_n, long d,
		      long batch, long from, long rows, float *out)
{
	long slabs = batch * heads;

#pragma omp parallel for schedule(static)
	for (long t = 0; t < slabs * rows; t++) {
		long slab = t / rows, r = t % rows;
		size_t src = ((size_t)slab * (size_t)file_n + (size_t)(from + r)) * (size_t)d;
		float *o = out + (size_t)t * (size_t)d;
		if (a->elem == 4)
			memcpy(o, (const float *)a->data + src, (size_t)d * sizeof *o);
		else
			for (long c = 0; c < d; c++)
				o[c] = (float)npy_get(a, src + (size_t)c);
	}
}

static int npy_fill(const struct exp_input *in, const struct problem *p,
		    float *q, float *k, float *v, unsigned long long seed)
{
	const struct npy_state *st = in->state;
	long n = in->shape.n;

	(void)seed;
	if (!st || p->n_kv > n || p->heads != in->shape.heads || p->d != in->shape.head_dim ||
	    kern_dv(p) != in->shape.head_dim_v || p->kv_heads != in->shape.kv_heads ||
	    p->batch != in->shape.batch)
		return -1;
	copy_rows(&st->a[0], p->heads, n, p->d, p->batch, p->n_kv - p->n_q, p->n_q, q);
	copy_rows(&st->a[1], p->kv_heads, n, p->d, p->batch, 0, p->n_kv, k);
	copy_rows(&st->a[2], p->kv_heads, n, kern_dv(p), p->batch, 0, p->n_kv, v);
	return 0;
}

/* The indexer's rows: q and w of the last n_hist tokens, k of the first
 * n_kv, sequence by sequence (the files hold n tokens each). */
static int npy_indexer(const struct exp_input *in, const struct problem *p, long n_hist,
		       float *q, float *k, float *w)
{
	const struct npy_state *st = in->state;
	long n = in->shape.n, H = in->shape.index_heads, di = in->shape.index_dim;

	if (!st || !H || p->n_kv > n)
		return -1;
	for (int b = 0; b < p->batch; b++) {
		size_t qsrc = ((size_t)b * n + (size_t)(p->n_kv - n_hist)) * H * di;
		size_t wsrc = ((size_t)b * n + (size_t)(p->n_kv - n_hist)) * H;
		for (size_t i = 0; i < (size_t)n_hist * H * di; i++)
			q[(size_t)b * n_hist * H * di + i] = (float)npy_get(&st->a[NPY_QI], qsrc + i);
		for (size_t i = 0; i < (size_t)p->n_kv * di; i++)
			k[(size_t)b * p->n_kv * di + i] = (float)npy_get(&st->a[NPY_KI], (size_t)b * n * di + i);
		for (size_t i = 0; i < (size_t)n_hist * H; i++)
			w[(size_t)b * n_hist * H + i] = (float)npy_get(&st->a[NPY_WI], wsrc + i);
	}
	return 0;
}

const struct inp_kind inp_npy = {
	.name = "npy",                          /* YAML key */
	.summary = "q, k, v captured from a model (.npy, float32 or float16, after RoPE)",
	.params = npy_params,                   /* q, k, v, the indexer's */
	.n_params = NPY_FILES,
	.open = npy_open,                       /* map, check shapes and values */
	.close = npy_close,                     /* unmap */
	.fill = npy_fill,                       /* prefix of seq_len tokens */
	.indexer = npy_indexer,                 /* dsa_topk's, when given */
	.head_type = NULL,                      /* unknown */
	.label_file = NPY_Q,                    /* q's file names the inputs */
};
