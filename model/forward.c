/* forward.c - a model's forward pass (model.h): the whole sequence at
 * once, or one decode step over the cache a pass kept. Per layer:
 * RMSNorm, the Q, K and V projections (sgemm), QK-norm and RoPE as the
 * family says, attention through a sabench kernel over the layer's G
 * (attend.c), the output projection, the post-norm and the residual; then
 * the FFN likewise; at the end the output norm and the vocabulary
 * projection. Each part's time is kept. A step is the same layer code on
 * one row at its position, its keys the cache's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../patterns/gset.h"
#include "attend.h"
#include "model.h"
#include "ops.h"


/* ---- buffers ---- */

/* Buffers of n rows of a pass. */
struct bufs {
	float *x, *h, *qp, *kp, *vp, *q, *k, *v, *o, *oj, *f1, *f2;
	float *kh, *vh, *qh;    /* a step's keys, values and query history laid
				 * out as the kernel reads them (when the cache's
				 * room differs), or NULL */
};

static void bufs_free(struct bufs *b)
{
	float *f[] = { b->x, b->h, b->qp, b->kp, b->vp, b->q, b->k, b->v, b->o, b->oj, b->f1, b->f2,
		       b->kh, b->vh, b->qh };

	for (size_t i = 0; i < sizeof f / sizeof *f; i++)
		free(f[i]);
}

static float *aligned(size_t bytes)
{
	return aligned_alloc(64, (bytes + 63) / 64 * 64);
}

static int bufs_alloc(const struct model *m, long n, struct bufs *b)
{
	size_t d = (size_t)m->d_model, qd = (size_t)m->heads * m->head_dim;
	size_t kd = (size_t)m->kv_heads * m->head_dim, vd = (size_t)m->kv_heads * m->head_dim_v;
	size_t od = (size_t)m->heads * m->head_dim_v, N = (size_t)n;

	memset(b, 0, sizeof *b);
	b->x = malloc(N * d * 4);
	b->h = malloc(N * d * 4);
	b->qp = malloc(N * qd * 4);
	b->kp = malloc(N * kd * 4);
	b->vp = malloc(N * vd * 4);
	b->q = aligned(N * qd * 4);
	b->k = aligned(N * kd * 4);
	b->v = aligned(N * vd * 4);
	b->o = aligned(N * od * 4);
	b->oj = malloc(N * od * 4);
	b->f1 = malloc(N * (size_t)m->n_ff * 4);
	b->f2 = malloc(N * (size_t)m->n_ff * 4);
	return b->x && b->h && b->qp && b->kp && b->vp && b->q && b->k && b->v && b->o && b->oj && b->f1 &&
	       b->f2 ? 0 : -1;
}

/* ---- the cache ---- */

int model_cache_init(const struct model *m, const struct model_run *r, long cap, struct model_cache *c,
		     char *why, size_t len)
{
	const size_t L = (size_t)m->n_layer, C = (size_t)cap;

	memset(c, 0, sizeof *c);
	c->cap = cap;
	c->k = calloc(L, sizeof *c->k);
	c->v = calloc(L, sizeof *c->v);
	c->q = calloc(L, sizeof *c->q);
	if (!c->k || !c->v || !c->q)
		goto oom;
	for (int il = 0; il < m->n_layer; il++) {
		c->k[il] = aligned((size_t)m->kv_heads * C * m->head_dim * 4);
		c->v[il] = aligned((size_t)m->kv_heads * C * m->head_dim_v * 4);
		if (!c->k[il] || !c->v[il])
			goto oom;
		if (att_selected(r, il) && !(c->q[il] = aligned((size_t)m->heads * C * m->head_dim * 4)))
			goto oom;
	}
	return 0;
oom:
	model_cache_free(m, c);
	return ops_why(why, len, "out of memory for a cache of %ld tokens", cap);
}

void model_cache_free(const struct model *m, struct model_cache *c)
{
	for (int il = 0; il < m->n_layer; il++) {
		if (c->k)
			free(c->k[il]);
		if (c->v)
			free(c->v[il]);
		if (c->q)
			free(c->q[il]);
	}
	free(c->k);
	free(c->v);
	free(c->q);
	memset(c, 0, sizeof *c);
}

/* Rows x[heads][n][w] written at rows pos .. pos + n - 1 of cache
 * [heads][cap][w]. */
static void cache_put(float *cache, long cap, const float *x, int heads, long n, int w, long pos)
{
	for (int h = 0; h < heads; h++)
		memcpy(cache + ((size_t)h * cap + pos) * w, x + (size_t)h * n * w, (size_t)n * w * sizeof *x);
}

/* Rows from .. from + n - 1 of cache [heads][cap][w] as [heads][n][w]:
 * the cache itself when one head starts it, else copied into *buf. */
static const float *cache_view(const float *cache, long cap, int heads, long from, long n, int w, float **buf)
{
	if (heads == 1)
		return cache + (size_t)from * w;
	if (!*buf && !(*buf = aligned((size_t)heads * n * w * 4)))
		return NULL;
	for (int h = 0; h < heads; h++)
		memcpy(*buf + (size_t)h * n * w, cache + ((size_t)h * cap + from) * w, (size_t)n * w * sizeof *cache);
	return *buf;
}

/* ---- a layer ---- */

/* Where the rows of a pass sit: n rows at positions pos .. pos + n - 1;
 * a step (pos > 0 or a cache being extended) reads its keys from the
 * cache. */
struct rows {
	long n, pos;
	int step;
	struct gset *prev_layer;        /* the last selected layer's G (whole pass) */
};

/* A selected layer's G, now the run's last: its overlap with the one
 * before it (the previous layer's in a pass, this layer's previous step
 * in decode) added to the run's mean. */
static void keep_selection(struct model_run *r, int il, const struct rows *w, struct gset *g)
{
	struct gset *prev = w->step ? (r->step_prev ? r->step_prev[il] : NULL) : w->prev_layer;

	if (prev && prev->row_ptr) {
		if (w->step)
			att_mean_add(&r->step_overlap, &r->step_pairs, gset_overlap(prev, g));
		else
			att_mean_add(&r->layer_overlap, &r->layer_pairs, gset_overlap(g, prev));
	}
	if (prev) {
		gset_free(prev);
		*prev = *g;
	} else {
		gset_free(g);
	}
	memset(g, 0, sizeof *g);
}

/* Attention of layer il for the pass's rows: K, V (and the query history
 * a selection reads) from the rows themselves in a whole pass, from the
 * cache in a step. */
static int attention(const struct model *m, int il, struct model_run *r, const struct rows *w, struct bufs *b,
		     char *why, size_t len)
{
	struct model_cache *c = r->cache;
	const long n_kv = w->pos + w->n, n_hist = att_history(r, il, w->n, n_kv, w->step);
	struct problem p = { .batch = 1, .heads = m->heads, .kv_heads = m->kv_heads, .n_q = w->n, .n_kv = n_kv,
			     .d = m->head_dim, .dv = m->head_dim_v, .q = b->q, .k = b->k, .v = b->v, .o = b->o,
			     .dtype = DT_F32, .kv_dtype = DT_F32 };
	const float *q_hist = b->q;
	struct gset sel = { 0 };

	if (w->step) {
		p.k = cache_view(c->k[il], c->cap, m->kv_heads, 0, n_kv, m->head_dim, &b->kh);
		p.v = cache_view(c->v[il], c->cap, m->kv_heads, 0, n_kv, m->head_dim_v, &b->vh);
		if (n_hist != w->n && c->q[il])
			q_hist = cache_view(c->q[il], c->cap, m->heads, n_kv - n_hist, n_hist, m->head_dim, &b->qh);
		if (!p.k || !p.v || !q_hist)
			return ops_why(why, len, "out of memory reading layer %d's cache", il);
	}
	if (att_layer(m, il, r, &p, q_hist, n_hist, w->step, &sel, why, len))
		return -1;
	if (sel.row_ptr)
		keep_selection(r, il, w, &sel);
	return 0;
}

static int attention_block(const struct model *m, int il, struct model_run *r, const struct rows *w,
			   struct bufs *b, char *why, size_t len)
{
	const struct model_layer *L = &m->layer[il];
	const int d = m->d_model;
	const long n = w->n;
	double t = ops_now();

	ops_rms_norm(b->x, n, d, L->attn_norm, m->eps, b->h);
	r->t.norms += ops_now() - t;
	t = ops_now();
	ops_matmul(b->h, n, d, L->wq, (long)m->heads * m->head_dim, b->qp);
	ops_matmul(b->h, n, d, L->wk, (long)m->kv_heads * m->head_dim, b->kp);
	ops_matmul(b->h, n, d, L->wv, (long)m->kv_heads * m->head_dim_v, b->vp);
	r->t.proj += ops_now() - t;
	t = ops_now();
	ops_split_heads(b->qp, n, m->heads, m->head_dim, b->q);
	ops_split_heads(b->kp, n, m->kv_heads, m->head_dim, b->k);
	ops_split_heads(b->vp, n, m->kv_heads, m->head_dim_v, b->v);
	if (m->fam->qk_norm) {
		ops_rms_norm(b->q, (long)m->heads * n, m->head_dim, L->q_norm, m->eps, b->q);
		ops_rms_norm(b->k, (long)m->kv_heads * n, m->head_dim, L->k_norm, m->eps, b->k);
	}
	if (ops_rope(b->q, m->heads, n, m->head_dim, L->rope_base, m->fam->rope, w->pos) ||
	    ops_rope(b->k, m->kv_heads, n, m->head_dim, L->rope_base, m->fam->rope, w->pos))
		return ops_why(why, len, "out of memory for RoPE's angles at %ld tokens", n);
	if (r->cache) {
		cache_put(r->cache->k[il], r->cache->cap, b->k, m->kv_heads, n, m->head_dim, w->pos);
		cache_put(r->cache->v[il], r->cache->cap, b->v, m->kv_heads, n, m->head_dim_v, w->pos);
		if (r->cache->q[il])
			cache_put(r->cache->q[il], r->cache->cap, b->q, m->heads, n, m->head_dim, w->pos);
	}
	r->t.rope += ops_now() - t;
	if (il == r->capture && !w->step) {
		memcpy(r->q, b->q, (size_t)m->heads * n * m->head_dim * sizeof *b->q);
		memcpy(r->k, b->k, (size_t)m->kv_heads * n * m->head_dim * sizeof *b->k);
		memcpy(r->v, b->v, (size_t)m->kv_heads * n * m->head_dim_v * sizeof *b->v);
	}
	t = ops_now();
	if (attention(m, il, r, w, b, why, len))
		return -1;
	r->t.attn += ops_now() - t;
	t = ops_now();
	ops_join_heads(b->o, n, m->heads, m->head_dim_v, b->oj);
	ops_matmul(b->oj, n, m->heads * m->head_dim_v, L->wo, d, b->h);
	r->t.proj += ops_now() - t;
	t = ops_now();
	if (m->fam->post_norms)
		ops_rms_norm(b->h, n, d, L->post_attn_norm, m->eps, b->h);
	ops_add(b->x, b->h, n * d);
	r->t.norms += ops_now() - t;
	return 0;
}

static void ffn_block(const struct model *m, int il, struct model_run *r, long n, struct bufs *b)
{
	const struct model_layer *L = &m->layer[il];
	const int d = m->d_model;
	double t = ops_now();

	ops_rms_norm(b->x, n, d, L->ffn_norm, m->eps, b->h);
	ops_matmul(b->h, n, d, L->w_gate, m->n_ff, b->f1);
	ops_matmul(b->h, n, d, L->w_up, m->n_ff, b->f2);
	ops_gate(b->f1, b->f2, n * m->n_ff, m->fam->act);
	ops_matmul(b->f1, n, m->n_ff, L->w_down, d, b->h);
	if (m->fam->post_norms)
		ops_rms_norm(b->h, n, d, L->post_ffn_norm, m->eps, b->h);
	ops_add(b->x, b->h, n * d);
	r->t.ffn += ops_now() - t;
}

/* ---- passes ---- */

double model_times_total(const struct model_times *t)
{
	return t->embed + t->norms + t->proj + t->rope + t->attn + t->ffn + t->out;
}

/* The output layer over rows [from, n) of b->x into logits: the last row
 * alone first (its time is out_last, a server's first token), then the
 * rest (scoring). */
static void output_layer(const struct model *m, struct model_run *r, long n, long from, struct bufs *b,
			 float *logits)
{
	const int d = m->d_model;
	const size_t last = (size_t)(n - 1 - from);
	double t = ops_now();

	ops_rms_norm(b->x + (size_t)from * d, n - from, d, m->output_norm, m->eps, b->h);
	ops_matmul(b->h + last * d, 1, d, m->output, m->n_vocab, logits + last * (size_t)m->n_vocab);
	r->t.out_last = ops_now() - t;
	if (n - 1 > from)
		ops_matmul(b->h, n - 1 - from, d, m->output, m->n_vocab, logits);
	r->t.out = ops_now() - t;
}

/* Embeddings of tokens[0, n) into b->x, checked against the vocabulary. */
static int embed(const struct model *m, const int32_t *tokens, long n, struct bufs *b, char *why, size_t len)
{
	const int d = m->d_model;
	const float scale = m->fam->embed_scale ? sqrtf((float)d) : 1.0f;

	for (long i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= m->n_vocab)
			return ops_why(why, len, "token %ld is %d, outside the vocabulary of %ld", i, tokens[i], m->n_vocab);
#pragma omp parallel for schedule(static)
	for (long i = 0; i < n; i++)
		for (int c = 0; c < d; c++)
			b->x[(size_t)i * d + c] = m->tok_embd[(size_t)tokens[i] * d + c] * scale;
	return 0;
}

/* The layers 0 .. last over the rows w, then the output layer into
 * logits from row `from` (NULL: none). */
static int layers(const struct model *m, int last, struct model_run *r, struct rows *w, struct bufs *b,
		  float *logits, long from, char *why, size_t len)
{
	int rc = 0;

	for (int il = 0; il <= last && !rc; il++) {
		rc = attention_block(m, il, r, w, b, why, len);
		if (!rc)
			ffn_block(m, il, r, w->n, b);
	}
	if (!rc && logits && last == m->n_layer - 1)
		output_layer(m, r, w->n, from, b, logits);
	return rc;
}

int model_forward(const struct model *m, const int32_t *tokens, long n, struct model_run *r,
		  char *why, size_t len)
{
	const int last = r->last_layer >= 0 && r->last_layer < m->n_layer ? r->last_layer : m->n_layer - 1;
	struct gset prev = { 0 };
	struct rows w = { .n = n, .pos = 0, .step = 0, .prev_layer = &prev };
	struct bufs b;
	double t = ops_now();
	int rc;

	memset(&r->t, 0, sizeof r->t);
	r->layer_overlap = 0.0;
	r->layer_pairs = 0;
	if (r->score_from < 0 || r->score_from >= n)
		return ops_why(why, len, "scoring from position %ld of a pass of %ld tokens", r->score_from, n);
	if (r->cache && r->cache->cap < n)
		return ops_why(why, len, "a cache of %ld tokens cannot hold a pass of %ld", r->cache->cap, n);
	if (bufs_alloc(m, n, &b)) {
		bufs_free(&b);
		return ops_why(why, len, "out of memory for a forward pass of %ld tokens", n);
	}
	rc = embed(m, tokens, n, &b, why, len);
	r->t.embed = ops_now() - t;
	if (!rc)
		rc = layers(m, last, r, &w, &b, r->logits, r->score_from, why, len);
	if (!rc && r->cache)
		r->cache->n = n;
	bufs_free(&b);
	gset_free(&prev);
	return rc;
}

int model_step(const struct model *m, int32_t token, struct model_run *r, float *logits, char *why,
	       size_t len)
{
	struct model_cache *c = r->cache;
	struct rows w = { .n = 1, .step = 1 };
	struct bufs b;
	double t = ops_now();
	int rc;

	memset(&r->t, 0, sizeof r->t);
	if (!c || c->n >= c->cap)
		return ops_why(why, len, "%s", c ? "the cache is full" : "a decode step needs the cache of a pass");
	if (!r->step_prev && !(r->step_prev = calloc((size_t)m->n_layer, sizeof *r->step_prev)))
		return ops_why(why, len, "out of memory for a decode step");
	for (int il = 0; il < m->n_layer; il++)
		if (att_selected(r, il) && !r->step_prev[il] && !(r->step_prev[il] = calloc(1, sizeof **r->step_prev)))
			return ops_why(why, len, "out of memory for a decode step");
	w.pos = c->n;
	if (bufs_alloc(m, 1, &b)) {
		bufs_free(&b);
		return ops_why(why, len, "out of memory for a decode step");
	}
	rc = embed(m, &token, 1, &b, why, len);
	r->t.embed = ops_now() - t;
	if (!rc)
		rc = layers(m, m->n_layer - 1, r, &w, &b, logits, 0, why, len);
	if (!rc)
		c->n++;
	bufs_free(&b);
	return rc;
}

void model_run_end(const struct model *m, struct model_run *r)
{
	for (int il = 0; r->step_prev && il < m->n_layer; il++)
		if (r->step_prev[il]) {
			gset_free(r->step_prev[il]);
			free(r->step_prev[il]);
		}
	free(r->step_prev);
	r->step_prev = NULL;
}
