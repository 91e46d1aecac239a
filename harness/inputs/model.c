/* model.c - a real model's Q, K and V as inputs: the GGUF model is read
 * (model/), the text tokenized once at load; a cell's tensors are layer
 * `layer`'s post-norm, post-RoPE Q, K and V for the text's first seq_len
 * tokens, from the model's own forward pass (its windowed and global
 * layers as the file says, attention through sabench's tiled kernel).
 * The pass runs once for the longest seq_len asked so far: a causal
 * model's first n tokens do not depend on later ones, so a shorter cell
 * takes a prefix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../model/model.h"
#include "../textfile.h"
#include "inputs.h"

enum { MODEL_GGUF, MODEL_TEXT, MODEL_LAYER, MODEL_PARAMS };

static const struct pat_param model_params[] = {
	[MODEL_GGUF] = { "gguf", PAT_PATH, 1, 0, 0, 0,
		"the model's GGUF file (make model fetches Gemma 3 270M)", NULL, NULL, 0 },
	[MODEL_TEXT] = { "text", PAT_PATH, 1, 0, 0, 0,
		"a UTF-8 text whose first seq_len tokens the model reads", NULL, NULL, 0 },
	[MODEL_LAYER] = { "layer", PAT_INT, 1, 0, 0, 4095,
		"the layer whose Q, K, V are the inputs (0-based)", NULL, NULL, 0 },
};

/* A model loaded once for every input that names its file (four layers
 * of one model are four inputs, one copy of its weights). */
struct shared_model {
	char path[4096];
	struct model m;
	int refs;
	struct shared_model *next;
};

static struct shared_model *loaded;

/* The model at path, loaded or shared; NULL with why. */
static struct shared_model *model_get(const char *path, char *why, size_t len)
{
	struct shared_model *s;

	for (s = loaded; s; s = s->next)
		if (!strcmp(s->path, path)) {
			s->refs++;
			return s;
		}
	s = calloc(1, sizeof *s);
	if (!s)
		return snprintf(why, len, "out of memory loading '%s'", path), NULL;
	if (model_load(&s->m, path, why, len)) {
		free(s);
		return NULL;
	}
	snprintf(s->path, sizeof s->path, "%s", path);
	s->refs = 1;
	s->next = loaded;
	loaded = s;
	return s;
}

static void model_put(struct shared_model *s)
{
	struct shared_model **at;

	if (!s || --s->refs > 0)
		return;
	for (at = &loaded; *at && *at != s; at = &(*at)->next)
		;
	if (*at)
		*at = s->next;
	model_free(&s->m);
	free(s);
}

struct model_state {
	struct shared_model *shared;
	const struct model *m;
	int32_t *tok;                   /* the text's tokens */
	size_t n_tok;
	long n_done;                    /* tokens the captured tensors cover; 0: none */
	float *q, *k, *v;               /* [heads][n_done][d], [kv_heads][n_done][d(v)] */
	char limit[600];                /* what caps seq_len, for messages */
};

static void model_close(struct exp_input *in)
{
	struct model_state *st = in->state;

	if (!st)
		return;
	model_put(st->shared);
	free(st->tok);
	free(st->q);
	free(st->k);
	free(st->v);
	free(st);
	in->state = NULL;
}

/* The text at path, tokenized: 0, or -1 with e. */
static int read_text_tokens(struct model_state *st, const char *path, struct err *e)
{
	char *s, why[512];
	size_t n;

	if (text_read(path, "text", "", &s, &n, e))
		return -1;
	if (tok_encode(&st->m->tok, s, n, &st->tok, &st->n_tok, why, sizeof why)) {
		free(s);
		return err_set(e, "cannot tokenize '%s': %s", path, why);
	}
	free(s);
	return 0;
}

static int model_open(struct exp_input *in, struct err *e)
{
	struct model_state *st = calloc(1, sizeof *st);
	const char *gguf = in->val[MODEL_GGUF].path, *text = in->val[MODEL_TEXT].path;
	char why[1024];
	long layer = (long)in->val[MODEL_LAYER].i, n;

	if (!st)
		return err_set(e, "out of memory reading inputs");
	in->state = st;
	if (!(st->shared = model_get(gguf, why, sizeof why))) {
		struct stat sb;
		err_set(e, "%s%s", why, stat(gguf, &sb) ? " (`make model` fetches Gemma 3 270M into models/)" : "");
		goto fail;
	}
	st->m = &st->shared->m;
	if (layer >= st->m->n_layer) {
		err_set(e, "layer %ld is past the %d layers of '%s' (0 to %d)", layer, st->m->n_layer, gguf,
			st->m->n_layer - 1);
		goto fail;
	}
	if (read_text_tokens(st, text, e))
		goto fail;
	n = (long)st->n_tok < st->m->n_ctx ? (long)st->n_tok : st->m->n_ctx;
	snprintf(st->limit, sizeof st->limit, (long)st->n_tok < st->m->n_ctx ? "the %ld tokens of text '%s'"
		 : "the context of %ld tokens of '%s'", n, (long)st->n_tok < st->m->n_ctx ? text : gguf);
	in->shape = (struct inp_shape){ .batch = 1, .heads = st->m->heads, .kv_heads = st->m->kv_heads,
		.head_dim = st->m->head_dim, .head_dim_v = st->m->head_dim_v, .v_file = gguf, .n = n,
		.limit = st->limit };
	return 0;
fail:
	model_close(in);
	return -1;
}

/* The captured tensors cover the first n tokens: 0, or -1. */
static int capture(const struct exp_input *in, struct model_state *st, long n)
{
	const struct model *m = st->m;
	struct model_run r = { .capture = (int)in->val[MODEL_LAYER].i, .last_layer = (int)in->val[MODEL_LAYER].i };
	char why[1024];

	if (st->n_done >= n)
		return 0;
	free(st->q);
	free(st->k);
	free(st->v);
	st->n_done = 0;
	st->q = malloc((size_t)m->heads * (size_t)n * (size_t)m->head_dim * sizeof *st->q);
	st->k = malloc((size_t)m->kv_heads * (size_t)n * (size_t)m->head_dim * sizeof *st->k);
	st->v = malloc((size_t)m->kv_heads * (size_t)n * (size_t)m->head_dim_v * sizeof *st->v);
	if (!st->q || !st->k || !st->v)
		return -1;
	r.q = st->q;
	r.k = st->k;
	r.v = st->v;
	if (model_forward(m, st->tok, n, &r, why, sizeof why))
		return -1;
	st->n_done = n;
	return 0;
}

/* Rows [from, from + rows) of each of heads slabs of n_done rows of d. */
static void rows_of(const float *src, long heads, long n_done, long d, long from, long rows, float *out)
{
	for (long h = 0; h < heads; h++)
		memcpy(out + (size_t)h * (size_t)rows * (size_t)d,
		       src + ((size_t)h * (size_t)n_done + (size_t)from) * (size_t)d,
		       (size_t)rows * (size_t)d * sizeof *out);
}

static int model_fill(const struct exp_input *in, const struct problem *p, float *q, float *k, float *v,
		      unsigned long long seed)
{
	struct model_state *st = in->state;

	(void)seed;
	if (!st || p->batch != 1 || p->n_kv > in->shape.n || p->heads != in->shape.heads ||
	    p->kv_heads != in->shape.kv_heads || p->d != in->shape.head_dim || kern_dv(p) != in->shape.head_dim_v ||
	    capture(in, st, p->n_kv))
		return -1;
	rows_of(st->q, p->heads, st->n_done, p->d, p->n_kv - p->n_q, p->n_q, q);
	rows_of(st->k, p->kv_heads, st->n_done, p->d, 0, p->n_kv, k);
	rows_of(st->v, p->kv_heads, st->n_done, kern_dv(p), 0, p->n_kv, v);
	return 0;
}

const struct inp_kind inp_model = {
	.name = "model",                        /* YAML key */
	.summary = "a real model's Q, K, V at one layer over a text (GGUF: Gemma 3, Llama)",
	.params = model_params,                 /* gguf, text, layer */
	.n_params = MODEL_PARAMS,
	.open = model_open,                     /* load the model, tokenize the text */
	.close = model_close,
	.fill = model_fill,                     /* the layer's Q, K, V of the first seq_len tokens */
	.head_type = NULL,                      /* a real head has no declared type */
	.label_file = MODEL_GGUF,               /* the model file names the inputs */
};
