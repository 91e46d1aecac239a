/* test_needle.c - the needle measure on a model built by hand: one Llama
 * layer whose weights make the question token look up the passkey token
 * planted far before it (its query matches only the passkey's key, its
 * value carries the passkey's identity to the output layer), so the model
 * answers the passkey with near certainty when the passkey is in the
 * question's G, and cannot when a window shorter than the distance hides
 * it. RoPE's base is 1e30 so the features (dims 4 and up) barely rotate. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../model/eval.h"
#include "../model/model.h"
#include "gguf_writer.h"
#include "helpers.h"

#define D 32                    /* d_model */
#define HD 16                   /* one head, one K/V head */
#define FF 8
#define VOCAB 260
#define PASS 200                /* passkeys 200 .. 209 */
#define QUESTION 250
#define FILLER_DIM 30
#define BIAS_DIM 31             /* every token: keeps RMSNorm away from 0 */
#define NEEDLE_DIM 4            /* a passkey's key feature */
#define ASK_DIM 5               /* the question's query feature */
#define ID_DIM 10               /* a passkey's identity: dims 10 .. 19 */

static float *zeros(size_t n)
{
	float *p = calloc(n, sizeof *p);

	cr_assert_not_null(p);
	return p;
}

static void tensor(struct gw_tensor *t, int *n, const char *name, int64_t ne0, int64_t ne1, const float *w)
{
	t[*n] = (struct gw_tensor){ name, ne1 > 1 ? 2 : 1, { ne0, ne1 }, 0, w, (size_t)(ne0 * ne1) * 4 };
	(*n)++;
}

/* Writes the model to path. */
static void write_lookup_model(const char *path)
{
	float *embd = zeros((size_t)VOCAB * D), *out = zeros((size_t)VOCAB * D), *ones = zeros(D);
	float *wq = zeros((size_t)HD * D), *wk = zeros((size_t)HD * D), *wv = zeros((size_t)HD * D);
	float *wo = zeros((size_t)D * HD), *gate = zeros((size_t)FF * D), *up = zeros((size_t)FF * D);
	float *down = zeros((size_t)D * FF), base = 1e30f, eps = 1e-6f;
	struct gbuf kv = { 0 }, f = { 0 };
	struct gw_tensor t[16];
	int n = 0;
	FILE *fp;

	for (int c = 0; c < D; c++)
		ones[c] = 1;
	for (int v = 0; v < VOCAB; v++) {
		embd[(size_t)v * D + BIAS_DIM] = 1;
		if (v >= PASS && v < PASS + 10) {
			embd[(size_t)v * D + NEEDLE_DIM] = 1;
			embd[(size_t)v * D + ID_DIM + v - PASS] = 1;
			out[(size_t)v * D + ID_DIM + v - PASS] = 3;     /* its logit reads its identity */
		} else if (v == QUESTION) {
			embd[(size_t)v * D + ASK_DIM] = 1;
		} else {
			embd[(size_t)v * D + FILLER_DIM] = 1;
		}
	}
	wq[(size_t)NEEDLE_DIM * D + ASK_DIM] = 6;       /* q[4] = 6 x[5]: the question asks */
	wk[(size_t)NEEDLE_DIM * D + NEEDLE_DIM] = 1;    /* k[4] = x[4]: the passkey answers */
	for (int j = 0; j < 10; j++) {
		wv[(size_t)(6 + j) * D + ID_DIM + j] = 1;       /* v[6 + j] = x[10 + j] */
		wo[(size_t)(ID_DIM + j) * HD + 6 + j] = 3;      /* back to the identity dims */
	}
	gb_key(&kv, "general.architecture", 8);
	gb_str(&kv, "llama");
#define U32(k, v) (gb_key(&kv, "llama." k, 4), gb_u32(&kv, v))
	U32("block_count", 1);
	U32("embedding_length", D);
	U32("feed_forward_length", FF);
	U32("attention.head_count", 1);
	U32("attention.head_count_kv", 1);
	U32("attention.key_length", HD);
	U32("attention.value_length", HD);
	U32("context_length", 512);
	gb_key(&kv, "llama.attention.layer_norm_rms_epsilon", 6);
	gb_bytes(&kv, &eps, 4);
	gb_key(&kv, "llama.rope.freq_base", 6);
	gb_bytes(&kv, &base, 4);
	gw_byte_vocab(&kv, VOCAB);
	tensor(t, &n, "token_embd.weight", D, VOCAB, embd);
	tensor(t, &n, "output_norm.weight", D, 1, ones);
	tensor(t, &n, "output.weight", D, VOCAB, out);
	tensor(t, &n, "blk.0.attn_norm.weight", D, 1, ones);
	tensor(t, &n, "blk.0.attn_q.weight", D, HD, wq);
	tensor(t, &n, "blk.0.attn_k.weight", D, HD, wk);
	tensor(t, &n, "blk.0.attn_v.weight", D, HD, wv);
	tensor(t, &n, "blk.0.attn_output.weight", HD, D, wo);
	tensor(t, &n, "blk.0.ffn_norm.weight", D, 1, ones);
	tensor(t, &n, "blk.0.ffn_gate.weight", D, FF, gate);
	tensor(t, &n, "blk.0.ffn_up.weight", D, FF, up);
	tensor(t, &n, "blk.0.ffn_down.weight", FF, D, down);
	gw_file(&f, 3, &kv, 14, t, n);   /* the metadata entries above */
	fp = fopen(path, "wb");
	cr_assert_not_null(fp);
	cr_assert_eq(fwrite(f.p, 1, f.n, fp), f.n);
	fclose(fp);
	gb_free(&kv);
	gb_free(&f);
	float *all[] = { embd, out, ones, wq, wk, wv, wo, gate, up, down };
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		free(all[i]);
}

/* The passkey's log-probability at the end of: 10 fillers, the passkey,
 * `gap` fillers, the question, the passkey, with G the model's own
 * (spec NULL) or the design. */
static double answer_logprob(const struct model *m, const char *spec, long gap)
{
	const long n = 10 + 1 + gap + 2;
	int32_t *tok = malloc((size_t)n * sizeof *tok);
	float *logits = malloc((size_t)n * VOCAB * sizeof *logits);
	struct pattern des;
	struct err e;
	const struct pattern *pat[1] = { NULL };
	char why[1024];
	double lp;

	cr_assert(tok && logits);
	for (long i = 0; i < n; i++)
		tok[i] = (int32_t)(i * 7 % 150);        /* fillers */
	tok[10] = PASS + 3;
	tok[n - 2] = QUESTION;
	tok[n - 1] = PASS + 3;
	if (spec) {
		cr_assert_eq(exp_parse_spec(spec, 1, &des, &e), 0, "%s", e.msg);
		pat[0] = &des;
	}
	struct model_run r = { .pat = pat, .capture = -1, .last_layer = -1, .logits = logits };
	cr_assert_eq(model_forward(m, tok, n, &r, why, sizeof why), 0, "%s", why);
	lp = model_logprob(logits, tok, VOCAB, n - 1, 1);
	if (spec)
		pat_free(&des);
	free(tok);
	free(logits);
	return lp;
}

Test(needle, a_window_shorter_than_the_distance_loses_it, .timeout = 60)
{
	const char *dir = temp_dir();
	char path[400], why[1024];
	struct model m;

	snprintf(path, sizeof path, "%s/lookup.gguf", dir);
	write_lookup_model(path);
	cr_assert_eq(model_load(&m, path, why, sizeof why), 0, "%s", why);
	/* the question is 81 tokens after the passkey */
	double own = answer_logprob(&m, NULL, 80), far = answer_logprob(&m, "window: {size: 128}", 80);
	double near = answer_logprob(&m, "window: {size: 64}", 80);
	double sinks = answer_logprob(&m, "sink_window: {sinks: 16, size: 48}", 80);
	cr_assert_gt(exp(own), 0.99, "the model built to look the passkey up does not: p = %g", exp(own));
	cr_assert_float_eq(far, own, 1e-6, "a window holding the passkey keeps it: %g against %g", far, own);
	cr_assert_lt(exp(near - own), 0.01, "a window of 64 kept a passkey 81 tokens away: ratio %g", exp(near - own));
	cr_assert_gt(exp(sinks - own), 0.99, "16 sinks hold the passkey at 10: ratio %g", exp(sinks - own));
	/* the same window keeps a passkey 40 tokens away */
	cr_assert_gt(exp(answer_logprob(&m, "window: {size: 64}", 40) - answer_logprob(&m, NULL, 40)), 0.99);
	model_free(&m);
}
