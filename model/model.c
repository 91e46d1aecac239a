/* model.c - loading a model from its GGUF file and its forward pass
 * (model.h). Loading: the family from general.architecture, the shape
 * from "<arch>.*" keys, each tensor the block needs found and its shape
 * checked, weights dequantised once to fp32. The forward pass, per
 * layer: RMSNorm, the Q, K and V projections (sgemm), QK-norm and RoPE
 * as the family says, attention through a sabench kernel over the
 * layer's G (its window or dense, or the design the caller gives), the
 * output projection, the post-norm and the residual; then the FFN
 * likewise; at the end the output norm and the vocabulary projection.
 * Each part's time is kept. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef SABENCH_HAVE_CBLAS
#include <cblas.h>
#endif

#include "../patterns/gset.h"
#include "../select/select.h"
#include "model.h"
#include "tensor.h"

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int bad(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- loading ---- */

/* "<arch>.<key>" as an integer of at least min; -1 when absent (def < 0)
 * or out of range. */
static int arch_int(const struct model *m, const char *key, long def, long min, long max, long *out,
		    char *why, size_t len)
{
	char name[128];
	int64_t v;

	snprintf(name, sizeof name, "%s.%s", m->fam->arch, key);
	if (gg_get_int(&m->file, name, &v)) {
		if (def < 0)
			return bad(why, len, "'%s' has no %s (an integer)", m->file.path, name);
		*out = def;
		return 0;
	}
	if (v < min || v > max)
		return bad(why, len, "'%s': %s is %lld, must be in [%ld, %ld]", m->file.path, name,
			   (long long)v, min, max);
	*out = (long)v;
	return 0;
}

static double arch_float(const struct model *m, const char *key, double def)
{
	char name[128];
	double v;

	snprintf(name, sizeof name, "%s.%s", m->fam->arch, key);
	return gg_get_float(&m->file, name, &v) ? def : v;
}

/* Tensor name (with %d for the layer) dequantised to fp32, of shape
 * [rows][cols] (rows 1 for a vector); NULL with why when missing or of
 * another shape. *owned says whether the caller frees it. */
static float *weights(const struct model *m, const char *fmt, int il, long cols, long rows, char *why,
		      size_t len)
{
	char name[128];
	const struct gg_tensor *t;
	int tt;
	float *w;

	snprintf(name, sizeof name, fmt, il);
	t = gg_find_tensor(&m->file, name);
	if (!t)
		return bad(why, len, "'%s' has no tensor '%s', which %s needs", m->file.path, name, m->fam->arch),
		       NULL;
	if (t->ne[0] != cols || t->ne[1] * t->ne[2] * t->ne[3] != rows)
		return bad(why, len, "'%s': tensor '%s' is [%lld, %lld], %s needs [%ld, %ld]", m->file.path, name,
			   (long long)t->ne[0], (long long)(t->ne[1] * t->ne[2] * t->ne[3]), m->fam->arch, cols, rows),
		       NULL;
	tt = tensor_type_find(t->type);
	w = malloc((size_t)rows * (size_t)cols * sizeof *w);
	if (!w)
		return bad(why, len, "out of memory for tensor '%s' of '%s'", name, m->file.path), NULL;
#pragma omp parallel for schedule(static)
	for (long r = 0; r < rows; r++)
		tensor_type_of((enum tensor_type)tt)->dequant(t->data + (uint64_t)r * tensor_row_bytes((enum tensor_type)tt, cols),
							      w + (size_t)r * (size_t)cols, cols);
	return w;
}

static int read_shape(struct model *m, char *why, size_t len)
{
	long v = 0;

	if (arch_int(m, "block_count", -1, 1, 1024, &v, why, len))
		return -1;
	m->n_layer = (int)v;
	if (arch_int(m, "embedding_length", -1, 1, 1 << 16, &v, why, len))
		return -1;
	m->d_model = (int)v;
	if (arch_int(m, "feed_forward_length", -1, 1, 1 << 20, &v, why, len))
		return -1;
	m->n_ff = (int)v;
	if (arch_int(m, "attention.head_count", -1, 1, 1024, &v, why, len))
		return -1;
	m->heads = (int)v;
	if (arch_int(m, "attention.head_count_kv", m->heads, 1, m->heads, &v, why, len))
		return -1;
	m->kv_heads = (int)v;
	if (m->heads % m->kv_heads)
		return bad(why, len, "'%s': %d K/V heads do not divide %d heads", m->file.path, m->kv_heads, m->heads);
	if (arch_int(m, "attention.key_length", m->d_model / m->heads, 1, 4096, &v, why, len))
		return -1;
	m->head_dim = (int)v;
	if (arch_int(m, "attention.value_length", m->head_dim, 1, 4096, &v, why, len))
		return -1;
	m->head_dim_v = (int)v;
	if (arch_int(m, "context_length", 2048, 1, 1L << 24, &m->n_ctx, why, len) ||
	    arch_int(m, "attention.sliding_window", 0, 0, 1L << 24, &m->window, why, len))
		return -1;
	m->eps = arch_float(m, "attention.layer_norm_rms_epsilon", 1e-6);
	return 0;
}

static int load_layer(struct model *m, int il, char *why, size_t len)
{
	struct model_layer *L = &m->layer[il];
	const long d = m->d_model, q = (long)m->heads * m->head_dim, k = (long)m->kv_heads * m->head_dim;
	const long v = (long)m->kv_heads * m->head_dim_v, o = (long)m->heads * m->head_dim_v;

	if (!(L->wq = weights(m, "blk.%d.attn_q.weight", il, d, q, why, len)) ||
	    !(L->wk = weights(m, "blk.%d.attn_k.weight", il, d, k, why, len)) ||
	    !(L->wv = weights(m, "blk.%d.attn_v.weight", il, d, v, why, len)) ||
	    !(L->wo = weights(m, "blk.%d.attn_output.weight", il, o, d, why, len)) ||
	    !(L->w_gate = weights(m, "blk.%d.ffn_gate.weight", il, d, m->n_ff, why, len)) ||
	    !(L->w_up = weights(m, "blk.%d.ffn_up.weight", il, d, m->n_ff, why, len)) ||
	    !(L->w_down = weights(m, "blk.%d.ffn_down.weight", il, m->n_ff, d, why, len)) ||
	    !(L->attn_norm = weights(m, "blk.%d.attn_norm.weight", il, d, 1, why, len)) ||
	    !(L->ffn_norm = weights(m, "blk.%d.ffn_norm.weight", il, d, 1, why, len)))
		return -1;
	if (m->fam->qk_norm && (!(L->q_norm = weights(m, "blk.%d.attn_q_norm.weight", il, m->head_dim, 1, why, len)) ||
				!(L->k_norm = weights(m, "blk.%d.attn_k_norm.weight", il, m->head_dim, 1, why, len))))
		return -1;
	if (m->fam->post_norms &&
	    (!(L->post_attn_norm = weights(m, "blk.%d.post_attention_norm.weight", il, d, 1, why, len)) ||
	     !(L->post_ffn_norm = weights(m, "blk.%d.post_ffw_norm.weight", il, d, 1, why, len))))
		return -1;
	L->windowed = m->fam->swa_period && m->window > 0 && (il + 1) % m->fam->swa_period != 0;
	L->rope_base = arch_float(m, "rope.freq_base", 10000.0);
	if (L->windowed && m->fam->swa_rope_base > 0)
		L->rope_base = m->fam->swa_rope_base;
	return 0;
}

int model_load(struct model *m, const char *path, char *why, size_t len)
{
	char arch[64];

	memset(m, 0, sizeof *m);
	if (gg_open(&m->file, path, why, len))
		return -1;
	if (gg_get_string(&m->file, "general.architecture", arch, sizeof arch)) {
		bad(why, len, "'%s' names no general.architecture", path);
		goto fail;
	}
	m->fam = model_family_find(arch);
	if (!m->fam) {
		bad(why, len, "'%s' is a '%s' model; sabench runs %s", path, arch, "gemma3 and llama");
		goto fail;
	}
	if (read_shape(m, why, len) || tok_load(&m->tok, &m->file, why, len))
		goto fail;
	m->n_vocab = (long)m->tok.n;
	if (!(m->tok_embd = weights(m, "token_embd.weight", 0, m->d_model, m->n_vocab, why, len)) ||
	    !(m->output_norm = weights(m, "output_norm.weight", 0, m->d_model, 1, why, len)))
		goto fail;
	m->output = gg_find_tensor(&m->file, "output.weight")
			    ? weights(m, "output.weight", 0, m->d_model, m->n_vocab, why, len)
			    : m->tok_embd;      /* tied */
	m->layer = calloc((size_t)m->n_layer, sizeof *m->layer);
	if (!m->output || !m->layer) {
		if (!m->layer)
			bad(why, len, "out of memory loading '%s'", path);
		goto fail;
	}
	for (int il = 0; il < m->n_layer; il++)
		if (load_layer(m, il, why, len))
			goto fail;
	return 0;
fail:
	model_free(m);
	return -1;
}

void model_free(struct model *m)
{
	for (int il = 0; m->layer && il < m->n_layer; il++) {
		struct model_layer *L = &m->layer[il];
		float *f[] = { L->wq, L->wk, L->wv, L->wo, L->w_gate, L->w_up, L->w_down,
			       (float *)L->attn_norm, (float *)L->q_norm, (float *)L->k_norm,
			       (float *)L->post_attn_norm, (float *)L->ffn_norm, (float *)L->post_ffn_norm };
		for (size_t i = 0; i < sizeof f / sizeof *f; i++)
			free(f[i]);
	}
	free(m->layer);
	if (m->output != m->tok_embd)
		free(m->output);
	free(m->tok_embd);
	free((float *)m->output_norm);
	tok_free(&m->tok);
	gg_close(&m->file);
	memset(m, 0, sizeof *m);
}

/* ---- the forward pass ---- */

/* y[n][out] = x[n][in] w^T, w [out][in]. */
static void matmul(const float *x, long n, int in, const float *w, long out, float *y)
{
#ifdef SABENCH_HAVE_CBLAS
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, in, 1.0f, x, in, w, in,
		    0.0f, y, (int)out);
#else
#pragma omp parallel for collapse(2) schedule(static)
	for (long i = 0; i < n; i++)
		for (long o = 0; o < out; o++) {
			float s = 0.0f;
			for (int c = 0; c < in; c++)
				s += x[(size_t)i * in + c] * w[(size_t)o * in + c];
			y[(size_t)i * out + o] = s;
		}
#endif
}

/* Each of the rows of width d: x / rms(x) w (in place, out may be x). */
static void rms_norm(const float *x, long rows, int d, const float *w, double eps, float *out)
{
#pragma omp parallel for schedule(static)
	for (long r = 0; r < rows; r++) {
		const float *a = x + (size_t)r * d;
		float *b = out + (size_t)r * d;
		double ss = 0.0;
		for (int c = 0; c < d; c++)
			ss += (double)a[c] * a[c];
		const float scale = (float)(1.0 / sqrt(ss / d + eps));
		for (int c = 0; c < d; c++)
			b[c] = a[c] * scale * w[c];
	}
}

/* RoPE on x[heads][n][d] at positions 0 .. n - 1: the angles' cosines
 * and sines made once (in double) for every head. */
static int rope(float *x, int heads, long n, int d, double base, enum model_rope form)
{
	const int half = d / 2;
	float *cs = malloc((size_t)n * (size_t)half * 2 * sizeof *cs);

	if (!cs)
		return -1;
#pragma omp parallel for schedule(static)
	for (long p = 0; p < n; p++)
		for (int i = 0; i < half; i++) {
			double theta = (double)p * pow(base, -2.0 * i / d);
			cs[((size_t)p * half + i) * 2] = (float)cos(theta);
			cs[((size_t)p * half + i) * 2 + 1] = (float)sin(theta);
		}
#pragma omp parallel for collapse(2) schedule(static)
	for (int h = 0; h < heads; h++)
		for (long p = 0; p < n; p++) {
			float *r = x + ((size_t)h * n + p) * d;
			for (int i = 0; i < half; i++) {
				float c = cs[((size_t)p * half + i) * 2], s = cs[((size_t)p * half + i) * 2 + 1];
				int a = form == ROPE_NEOX ? i : 2 * i, b = form == ROPE_NEOX ? i + half : 2 * i + 1;
				float x0 = r[a], x1 = r[b];
				r[a] = x0 * c - x1 * s;
				r[b] = x0 * s + x1 * c;
			}
		}
	free(cs);
	return 0;
}

/* [n][heads * d] -> [heads][n][d]. */
static void split_heads(const float *x, long n, int heads, int d, float *out)
{
#pragma omp parallel for collapse(2) schedule(static)
	for (int h = 0; h < heads; h++)
		for (long p = 0; p < n; p++)
			memcpy(out + ((size_t)h * n + p) * d, x + ((size_t)p * heads + h) * d, (size_t)d * sizeof *x);
}

static void join_heads(const float *x, long n, int heads, int d, float *out)
{
#pragma omp parallel for collapse(2) schedule(static)
	for (int h = 0; h < heads; h++)
		for (long p = 0; p < n; p++)
			memcpy(out + ((size_t)p * heads + h) * d, x + ((size_t)h * n + p) * d, (size_t)d * sizeof *x);
}

static float act(float x, enum model_act a)
{
	if (a == ACT_SILU)
		return x / (1.0f + expf(-x));
	return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

/* The G a layer attends over: the design's, or its own window or dense. */
static int layer_gset(const struct model *m, int il, const struct model_run *r, long n, struct gset *g,
		      char *why, size_t len)
{
	const struct pattern *given = r->pat ? r->pat[il] : NULL;
	struct pattern own;
	int rc;

	if (given)
		return gset_build(g, given, n, n, m->heads, why, len);
	if (m->layer[il].windowed) {
		pat_init(&own, &pat_window, 1);
		own.val[pat_param_index(&pat_window, "size")].i = m->window;
	} else {
		pat_init(&own, &pat_dense, 1);
	}
	rc = gset_build(g, &own, n, n, m->heads, why, len);
	pat_free(&own);
	return rc;
}

/* A selected design's G, chosen from the layer's own Q and K (after
 * RoPE) as a server would at prefill; dsa_topk makes its synthetic
 * indexer from them (sabench has no trained one for this model). */
static int selected_gset(const struct pattern *pat, const struct problem *p, struct gset *g, char *why,
			 size_t len)
{
	struct sel_input si = { .p = p, .q_hist = p->q, .ops = kern_simd() };

	memset(g, 0, sizeof *g);
	if (sel_unservable(pat, p, 0, why, len))
		return -1;
	si.n_hist = sel_history(pat, p->n_q, p->n_kv, 0);
	if (si.n_hist != p->n_q)
		return bad(why, len, "design '%s' reads %ld query rows before the prompt's", pat->label,
			   si.n_hist - p->n_q);
	return sel_run(pat, &si, g, why, len);
}

/* A selected layer's G against the previous selected layer's (kept in
 * r->prev, which then takes g's arrays): the run's layer_overlap is the
 * mean over the pairs. */
static void keep_selection(struct model_run *r, struct gset *g)
{
	if (r->prev) {
		double o = gset_overlap(g, r->prev);
		r->layer_overlap = (r->layer_overlap * r->layer_pairs + o) / (r->layer_pairs + 1);
		r->layer_pairs++;
		gset_free(r->prev);
	} else {
		r->prev = malloc(sizeof *r->prev);
		if (!r->prev)
			return;
	}
	*r->prev = *g;
	memset(g, 0, sizeof *g);
}

/* Attention of one layer: q [heads][n][d], k, v [kv_heads][n][d(v)] into
 * o [heads][n][dv] through the run's kernel over the layer's G. */
static int attend(const struct model *m, int il, struct model_run *r, long n, const float *q,
		  const float *k, const float *v, float *o, char *why, size_t len)
{
	const struct kern_desc *kd = r->kernel ? r->kernel : kern_find("tiled");
	struct gset g;
	struct problem p = { .batch = 1, .heads = m->heads, .kv_heads = m->kv_heads, .n_q = n, .n_kv = n,
			     .d = m->head_dim, .dv = m->head_dim_v, .q = q, .k = k, .v = v, .o = o,
			     .dtype = DT_F32, .kv_dtype = DT_F32 };
	void *ws = NULL;

	const struct pattern *given = r->pat ? r->pat[il] : NULL;

	if (given && pat_selected(given) ? selected_gset(given, &p, &g, why, len)
					 : layer_gset(m, il, r, n, &g, why, len))
		return -1;
	p.g = &g;
	if (kd->prepare(&p, kern_max_threads(), &ws)) {
		gset_free(&g);
		return bad(why, len, "out of memory preparing kernel '%s' for layer %d", kd->name, il);
	}
	kd->run(&p, ws);
	kd->release(ws);
	if (given && pat_selected(given))
		keep_selection(r, &g);
	gset_free(&g);
	return 0;
}

/* Buffers of one forward pass. */
struct bufs {
	float *x, *h, *qp, *kp, *vp, *q, *k, *v, *o, *oj, *f1, *f2;
};

static void bufs_free(struct bufs *b)
{
	float *f[] = { b->x, b->h, b->qp, b->kp, b->vp, b->q, b->k, b->v, b->o, b->oj, b->f1, b->f2 };

	for (size_t i = 0; i < sizeof f / sizeof *f; i++)
		free(f[i]);
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
	b->q = aligned_alloc(64, (N * qd * 4 + 63) / 64 * 64);
	b->k = aligned_alloc(64, (N * kd * 4 + 63) / 64 * 64);
	b->v = aligned_alloc(64, (N * vd * 4 + 63) / 64 * 64);
	b->o = aligned_alloc(64, (N * od * 4 + 63) / 64 * 64);
	b->oj = malloc(N * od * 4);
	b->f1 = malloc(N * (size_t)m->n_ff * 4);
	b->f2 = malloc(N * (size_t)m->n_ff * 4);
	return b->x && b->h && b->qp && b->kp && b->vp && b->q && b->k && b->v && b->o && b->oj && b->f1 &&
	       b->f2 ? 0 : -1;
}

static int attention_block(const struct model *m, int il, struct model_run *r, long n, struct bufs *b,
			   char *why, size_t len)
{
	const struct model_layer *L = &m->layer[il];
	const int d = m->d_model;
	double t = now_s();

	rms_norm(b->x, n, d, L->attn_norm, m->eps, b->h);
	r->t.norms += now_s() - t;
	t = now_s();
	matmul(b->h, n, d, L->wq, (long)m->heads * m->head_dim, b->qp);
	matmul(b->h, n, d, L->wk, (long)m->kv_heads * m->head_dim, b->kp);
	matmul(b->h, n, d, L->wv, (long)m->kv_heads * m->head_dim_v, b->vp);
	r->t.proj += now_s() - t;
	t = now_s();
	split_heads(b->qp, n, m->heads, m->head_dim, b->q);
	split_heads(b->kp, n, m->kv_heads, m->head_dim, b->k);
	split_heads(b->vp, n, m->kv_heads, m->head_dim_v, b->v);
	if (m->fam->qk_norm) {
		rms_norm(b->q, (long)m->heads * n, m->head_dim, L->q_norm, m->eps, b->q);
		rms_norm(b->k, (long)m->kv_heads * n, m->head_dim, L->k_norm, m->eps, b->k);
	}
	if (rope(b->q, m->heads, n, m->head_dim, L->rope_base, m->fam->rope) ||
	    rope(b->k, m->kv_heads, n, m->head_dim, L->rope_base, m->fam->rope))
		return bad(why, len, "out of memory for RoPE's angles at %ld tokens", n);
	r->t.rope += now_s() - t;
	if (il == r->capture) {
		memcpy(r->q, b->q, (size_t)m->heads * n * m->head_dim * sizeof *b->q);
		memcpy(r->k, b->k, (size_t)m->kv_heads * n * m->head_dim * sizeof *b->k);
		memcpy(r->v, b->v, (size_t)m->kv_heads * n * m->head_dim_v * sizeof *b->v);
	}
	t = now_s();
	if (attend(m, il, r, n, b->q, b->k, b->v, b->o, why, len))
		return -1;
	r->t.attn += now_s() - t;
	t = now_s();
	join_heads(b->o, n, m->heads, m->head_dim_v, b->oj);
	matmul(b->oj, n, m->heads * m->head_dim_v, L->wo, d, b->h);
	r->t.proj += now_s() - t;
	t = now_s();
	if (m->fam->post_norms)
		rms_norm(b->h, n, d, L->post_attn_norm, m->eps, b->h);
#pragma omp parallel for schedule(static)
	for (long i = 0; i < n * d; i++)
		b->x[i] += b->h[i];
	r->t.norms += now_s() - t;
	return 0;
}

static void ffn_block(const struct model *m, int il, struct model_run *r, long n, struct bufs *b)
{
	const struct model_layer *L = &m->layer[il];
	const int d = m->d_model;
	double t = now_s();

	rms_norm(b->x, n, d, L->ffn_norm, m->eps, b->h);
	matmul(b->h, n, d, L->w_gate, m->n_ff, b->f1);
	matmul(b->h, n, d, L->w_up, m->n_ff, b->f2);
#pragma omp parallel for schedule(static)
	for (long i = 0; i < n * m->n_ff; i++)
		b->f1[i] = act(b->f1[i], m->fam->act) * b->f2[i];
	matmul(b->f1, n, m->n_ff, L->w_down, d, b->h);
	if (m->fam->post_norms)
		rms_norm(b->h, n, d, L->post_ffn_norm, m->eps, b->h);
#pragma omp parallel for schedule(static)
	for (long i = 0; i < n * d; i++)
		b->x[i] += b->h[i];
	r->t.ffn += now_s() - t;
}

int model_forward(const struct model *m, const int32_t *tokens, long n, struct model_run *r,
		  char *why, size_t len)
{
	const int d = m->d_model;
	const int last = r->last_layer >= 0 && r->last_layer < m->n_layer ? r->last_layer : m->n_layer - 1;
	const float scale = m->fam->embed_scale ? sqrtf((float)d) : 1.0f;
	struct bufs b;
	double t = now_s();
	int rc = 0;

	memset(&r->t, 0, sizeof r->t);
	r->layer_overlap = 0.0;
	r->layer_pairs = 0;
	r->prev = NULL;
	for (long i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= m->n_vocab)
			return bad(why, len, "token %ld is %d, outside the vocabulary of %ld", i, tokens[i], m->n_vocab);
	if (bufs_alloc(m, n, &b)) {
		bufs_free(&b);
		return bad(why, len, "out of memory for a forward pass of %ld tokens", n);
	}
#pragma omp parallel for schedule(static)
	for (long i = 0; i < n; i++)
		for (int c = 0; c < d; c++)
			b.x[(size_t)i * d + c] = m->tok_embd[(size_t)tokens[i] * d + c] * scale;
	r->t.embed = now_s() - t;
	for (int il = 0; il <= last && !rc; il++) {
		rc = attention_block(m, il, r, n, &b, why, len);
		if (!rc)
			ffn_block(m, il, r, n, &b);
	}
	if (!rc && r->logits && last == m->n_layer - 1) {
		t = now_s();
		rms_norm(b.x, n, d, m->output_norm, m->eps, b.h);
		matmul(b.h, n, d, m->output, m->n_vocab, r->logits);
		r->t.out = now_s() - t;
	}
	bufs_free(&b);
	if (r->prev)
		gset_free(r->prev);
	free(r->prev);
	r->prev = NULL;
	return rc;
}
