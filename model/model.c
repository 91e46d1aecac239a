/* model.c - loading a model from its GGUF file (model.h): the family
 * from general.architecture, the shape from "<arch>.*" keys, each tensor
 * the block needs found and its shape checked, weights dequantised once
 * to fp32. The forward pass is forward.c's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "ops.h"
#include "tensor.h"


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
			return ops_why(why, len, "'%s' has no %s (an integer)", m->file.path, name);
		*out = def;
		return 0;
	}
	if (v < min || v > max)
		return ops_why(why, len, "'%s': %s is %lld, must be in [%ld, %ld]", m->file.path, name,
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
		return ops_why(why, len, "'%s' has no tensor '%s', which %s needs", m->file.path, name, m->fam->arch),
		       NULL;
	if (t->ne[0] != cols || t->ne[1] * t->ne[2] * t->ne[3] != rows)
		return ops_why(why, len, "'%s': tensor '%s' is [%lld, %lld], %s needs [%ld, %ld]", m->file.path, name,
			   (long long)t->ne[0], (long long)(t->ne[1] * t->ne[2] * t->ne[3]), m->fam->arch, cols, rows),
		       NULL;
	tt = tensor_type_find(t->type);
	w = malloc((size_t)rows * (size_t)cols * sizeof *w);
	if (!w)
		return ops_why(why, len, "out of memory for tensor '%s' of '%s'", name, m->file.path), NULL;
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
		return ops_why(why, len, "'%s': %d K/V heads do not divide %d heads", m->file.path, m->kv_heads, m->heads);
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
		ops_why(why, len, "'%s' names no general.architecture", path);
		goto fail;
	}
	m->fam = model_family_find(arch);
	if (!m->fam) {
		ops_why(why, len, "'%s' is a '%s' model; sabench runs %s", path, arch, "gemma3 and llama");
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
			ops_why(why, len, "out of memory loading '%s'", path);
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

