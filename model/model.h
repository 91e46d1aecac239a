/* model.h - a real model read from its GGUF file (gguf.h), its weights
 * dequantised once to fp32 (tensor.h), its tokenizer, and the forward
 * pass of its family (family.h) whose attention runs through one of
 * sabench's kernels over each layer's G: a design is applied inside the
 * model exactly as it is timed outside it. */
#ifndef SABENCH_MODEL_H
#define SABENCH_MODEL_H

#include <stdint.h>

#include "../kernels/kernel.h"
#include "../patterns/pattern.h"
#include "family.h"
#include "gguf.h"
#include "tokenizer.h"

struct model_layer {
	const float *attn_norm, *q_norm, *k_norm, *post_attn_norm;
	const float *ffn_norm, *post_ffn_norm;
	float *wq, *wk, *wv, *wo;       /* [out][in] */
	float *w_gate, *w_up, *w_down;
	int windowed;                   /* attends through the sliding window */
	double rope_base;
};

struct model {
	const struct model_family *fam;
	struct gg_file file;
	struct tokenizer tok;
	int n_layer, d_model, n_ff, heads, kv_heads, head_dim, head_dim_v;
	long n_vocab, n_ctx, window;     /* window: 0 none */
	double eps;
	float *tok_embd;                /* [n_vocab][d_model] */
	float *output;                  /* [n_vocab][d_model]: tok_embd when tied */
	const float *output_norm;
	struct model_layer *layer;
	float *owned_norms;             /* norm weights dequantised (f32 in place otherwise) */
};

/* Reads path: the family by general.architecture, the shape, every
 * tensor the family needs with its shape checked, and the tokenizer.
 * 0, or -1 with why naming the file and what is missing or wrong. */
int model_load(struct model *m, const char *path, char *why, size_t len);

void model_free(struct model *m);

/* Time of a forward pass (or a decode step) by part, in seconds. */
struct model_times {
	double embed, norms, proj, rope, attn, ffn, out;
	double out_last;        /* of out: the last position's logits alone (a
				 * server's first token; the rest are scoring) */
};

/* The seconds of all parts. */
double model_times_total(const struct model_times *t);

/* What a pass keeps for the decode steps after it: every layer's K and V
 * (post-RoPE) and the Q of the layers whose design is selected (a
 * selection may read the queries before the step's). */
struct model_cache {
	long n, cap;            /* tokens held, room */
	float **k, **v;         /* per layer, [kv_heads][cap][head_dim(_v)] */
	float **q;              /* per layer, [heads][cap][head_dim] or NULL */
};

/* What one forward pass computes and keeps. */
struct model_run {
	const struct pattern *const *pat;       /* per layer, the G it attends over;
						 * NULL (or a NULL entry): the
						 * family's own (window or dense) */
	const struct kern_desc *kernel;         /* the attention kernel (NULL: tiled) */
	int last_layer;                         /* run layers 0 .. last_layer (-1: all) */
	int capture;                            /* a layer whose Q, K, V to keep, or -1 */
	float *q, *k, *v;                       /* capture's, [heads][n][head_dim] and
						 * [kv_heads][n][head_dim(_v)], post-norm,
						 * post-RoPE (caller's) */
	float *logits;                          /* [n - score_from][n_vocab], or NULL:
						 * no output layer */
	long score_from;                        /* the first position whose logits
						 * are made (0: all) */
	struct model_cache *cache;              /* NULL, or one model_cache_init
						 * made: the pass fills it, steps
						 * read and extend it */
	struct model_times t;                   /* filled (by a step: the step's) */
	/* filled for a selected design: the mean overlap (gset_overlap) of
	 * each layer's selection with the previous selected layer's, over
	 * layer_pairs pairs (0: fewer than two such layers) */
	double layer_overlap;
	long layer_pairs;
	/* filled by decode steps of a selected design: the mean overlap of
	 * each step's selection with the step before's, over step_pairs
	 * (layer, step) pairs; step_prev[layer] holds the last step's G */
	double step_overlap;
	long step_pairs;
	struct gset **step_prev;
};

/* The forward pass over tokens[0, n) (positions 0 .. n - 1). 0, or -1
 * with why (out of memory, a kernel that cannot run). */
int model_forward(const struct model *m, const int32_t *tokens, long n, struct model_run *r,
		  char *why, size_t len);

/* Room for cap tokens of r's layers (Q where r's design is selected).
 * 0, or -1 with why (out of memory). */
int model_cache_init(const struct model *m, const struct model_run *r, long cap, struct model_cache *c,
		     char *why, size_t len);
void model_cache_free(const struct model *m, struct model_cache *c);

/* One decode step: token at position r->cache->n through every layer,
 * attending over the cache (the layer's G for that row: the design's,
 * selected again from the cached Q and K for a selected one), its K and
 * V appended; logits [n_vocab] (NULL: none). r->t holds the step's time.
 * 0, or -1 with why (the cache full, out of memory). */
int model_step(const struct model *m, int32_t token, struct model_run *r, float *logits, char *why,
	       size_t len);

/* Frees what steps kept between them (r->step_prev). */
void model_run_end(const struct model *m, struct model_run *r);

#endif
