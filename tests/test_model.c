/* test_model.c - the forward pass of each model family on a small GGUF
 * written here with seeded random weights in every tensor type sabench
 * reads (f32, f16, bf16, q8_0, q5_0, q4_K, q6_K), against the independent
 * NumPy forward of tests/model_ref.py (its own GGUF parser, its own
 * dequantisation from the block layouts, the architecture in float64):
 * the logits agree; the captured Q, K, V are the layer's; a model file
 * that lacks a tensor, has one of the wrong shape or an architecture no
 * family serves is refused with its message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness/config/experiment.h"
#include "../harness/npy.h"
#include "../model/eval.h"
#include "../model/model.h"
#include "gguf_writer.h"
#include "helpers.h"

#define D 256                   /* d_model: a k-quant row */
#define H 2
#define KV 1                    /* K/V heads of the files the tests write... */
static int kv_heads = KV;       /* ...unless a test asks for more (GQA off: 2) */
#define HD 64
#define FF 512
#define VOCAB 300

static unsigned long long rng = 88172645463325252ULL;

static unsigned rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng >> 32);
}

/* An f16 of about magnitude m (a positive normal). */
static uint16_t f16_about(double m)
{
	int e = (int)floor(log2(m)) + 15;

	return (uint16_t)((e << 10) | (rnd() & 0x3ff));
}

/* Random blocks of ggml type `type` for n values, scales of about `mag`. */
static uint8_t *blocks(uint32_t type, long n, double mag, size_t *bytes)
{
	static const struct { uint32_t id; int block, size; } b[] = {
		{ 0, 1, 4 }, { 1, 1, 2 }, { 30, 1, 2 }, { 8, 32, 34 }, { 6, 32, 22 }, { 12, 256, 144 }, { 14, 256, 210 },
	};
	size_t k = 0;

	while (b[k].id != type)
		k++;
	*bytes = (size_t)(n / b[k].block * b[k].size);
	uint8_t *p = malloc(*bytes);
	cr_assert_not_null(p);
	for (size_t i = 0; i < *bytes; i++)
		p[i] = (uint8_t)rnd();
	for (long blk = 0; blk < n / b[k].block; blk++) {
		uint8_t *x = p + (size_t)blk * (size_t)b[k].size;
		uint16_t h;
		if (type == 0)
			for (int j = 0; j < 1; j++) {
				float f = (float)(mag * ((double)(rnd() % 2001) / 1000.0 - 1.0));
				memcpy(x, &f, 4);
			}
		if (type == 1 || type == 30) {
			float f = (float)(mag * ((double)(rnd() % 2001) / 1000.0 - 1.0));
			uint32_t u;
			memcpy(&u, &f, 4);
			h = type == 30 ? (uint16_t)(u >> 16) : 0;
			if (type == 1) {     /* f16 of f: sign, exponent, 10 bits */
				int e = f == 0 ? 0 : (int)floor(log2(fabs(f))) + 15;
				h = (uint16_t)((f < 0) << 15 | (e > 0 ? e : 0) << 10 | (rnd() & 0x3ff));
			}
			memcpy(x, &h, 2);
		}
		if (type == 8 || type == 6) {
			h = f16_about(mag / (type == 8 ? 64 : 8));
			memcpy(x, &h, 2);
		}
		if (type == 12) {
			h = f16_about(mag / 256);
			memcpy(x, &h, 2);
			h = f16_about(mag / 128);
			memcpy(x + 2, &h, 2);
		}
		if (type == 14) {
			h = f16_about(mag / 512);
			memcpy(x + 208, &h, 2);
			for (int s = 0; s < 16; s++)
				x[192 + s] = (uint8_t)(int8_t)((int)(rnd() % 17) - 8);
		}
	}
	return p;
}

struct spec {
	char name[64];
	int n_dims;
	int64_t ne[2];
	uint32_t type;
	double mag;
};

/* The tensors of a family: every type sabench reads appears. */
static int tensors_of(int gemma, int layers, struct spec *s)
{
	int n = 0;

	s[n++] = (struct spec){ "token_embd.weight", 2, { D, VOCAB }, 14, 1.0 };
	s[n++] = (struct spec){ "output_norm.weight", 1, { D, 1 }, 0, 1.0 };
	if (!gemma)
		s[n++] = (struct spec){ "output.weight", 2, { D, VOCAB }, 12, 0.5 };
	for (int il = 0; il < layers; il++) {
		const struct { const char *t; int64_t ne0, ne1; uint32_t type; double mag; int gemma_only; } w[] = {
			{ "attn_norm", D, 1, 0, 1.0, 0 },
			{ "attn_q", D, H * HD, il % 2 ? 12 : 6, 0.3, 0 },
			{ "attn_k", D, kv_heads * HD, il % 2 ? 8 : 14, 0.3, 0 },
			{ "attn_v", D, kv_heads * HD, il % 2 ? 1 : 30, 0.3, 0 },
			{ "attn_output", H * HD, D, il % 2 ? 8 : 6, 0.3, 0 },
			{ "attn_q_norm", HD, 1, 0, 1.0, 1 },
			{ "attn_k_norm", HD, 1, 0, 1.0, 1 },
			{ "post_attention_norm", D, 1, 0, 1.0, 1 },
			{ "ffn_norm", D, 1, 0, 1.0, 0 },
			{ "ffn_gate", D, FF, il % 2 ? 14 : 12, 0.3, 0 },
			{ "ffn_up", D, FF, 6, 0.3, 0 },
			{ "ffn_down", FF, D, il % 2 ? 12 : 14, 0.3, 0 },
			{ "post_ffw_norm", D, 1, 0, 1.0, 1 },
		};
		for (size_t k = 0; k < sizeof w / sizeof *w; k++) {
			if (w[k].gemma_only && !gemma)
				continue;
			snprintf(s[n].name, sizeof s[n].name, "blk.%d.%s.weight", il, w[k].t);
			s[n].n_dims = w[k].ne1 > 1 ? 2 : 1;
			s[n].ne[0] = w[k].ne0;
			s[n].ne[1] = w[k].ne1;
			s[n].type = w[k].type;
			s[n++].mag = w[k].mag;
		}
	}
	return n;
}

/* Writes the small model file of a family to path; `drop` leaves out
 * the tensor of that name, `wrong` gives it another shape. */
static void write_model(const char *path, int gemma, const char *drop, const char *wrong, const char *arch)
{
	struct spec s[256];
	struct gw_tensor t[256];
	uint8_t *data[256];
	struct gbuf kv = { 0 }, f = { 0 };
	int layers = gemma ? 6 : 2, n = tensors_of(gemma, layers, s), m = 0;
	const char *a = arch ? arch : gemma ? "gemma3" : "llama";
	char key[96];
	float eps = 1e-6f, base = gemma ? 1000000.0f : 10000.0f;
	FILE *fp;

	gb_key(&kv, "general.architecture", 8);
	gb_str(&kv, a);
#define ARCH_U32(k, v) (snprintf(key, sizeof key, "%s." k, a), gb_key(&kv, key, 4), gb_u32(&kv, v))
	ARCH_U32("block_count", (uint32_t)layers);
	ARCH_U32("embedding_length", D);
	ARCH_U32("feed_forward_length", FF);
	ARCH_U32("attention.head_count", H);
	ARCH_U32("attention.head_count_kv", (uint32_t)kv_heads);
	ARCH_U32("attention.key_length", HD);
	ARCH_U32("attention.value_length", HD);
	ARCH_U32("context_length", 1024);
	ARCH_U32("attention.sliding_window", 8);
	snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", a);
	gb_key(&kv, key, 6);
	gb_bytes(&kv, &eps, 4);
	snprintf(key, sizeof key, "%s.rope.freq_base", a);
	gb_key(&kv, key, 6);
	gb_bytes(&kv, &base, 4);
	gw_byte_vocab(&kv, VOCAB);
	for (int i = 0; i < n; i++) {
		size_t bytes;
		if (drop && !strcmp(s[i].name, drop))
			continue;
		if (wrong && !strcmp(s[i].name, wrong))
			s[i].ne[0] *= 2;
		data[m] = blocks(s[i].type, s[i].ne[0] * s[i].ne[1], s[i].mag, &bytes);
		t[m] = (struct gw_tensor){ s[i].name, s[i].n_dims, { s[i].ne[0], s[i].ne[1] }, s[i].type, data[m], bytes };
		m++;
	}
	gw_file(&f, 3, &kv, 15, t, m);
	fp = fopen(path, "wb");
	cr_assert_not_null(fp);
	fwrite(f.p, 1, f.n, fp);
	fclose(fp);
	for (int i = 0; i < m; i++)
		free(data[i]);
	gb_free(&kv);
	gb_free(&f);
}

/* sabench's logits of tokens against model_ref.py's: the largest
 * difference relative to the largest logit. */
static double against_numpy(const char *dir, const char *file, const struct model *m, const float *logits,
			    const int32_t *tok, long n)
{
	char cmd[8192], out[400], *at = cmd;
	struct npy_array a;
	struct err e;
	double worst = 0, big = 0;

	snprintf(out, sizeof out, "%s/ref.npy", dir);
	at += snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s'", root_path("tests/model_ref.py"), file, out);
	for (long i = 0; i < n; i++)
		at += snprintf(at, sizeof cmd - (size_t)(at - cmd), " %d", tok[i]);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	cr_assert_eq(npy_map(out, &a, NPY_WANT_FLOAT, &e), 0, "%s", e.msg);
	cr_assert_eq(a.count, (size_t)n * (size_t)m->n_vocab);
	for (size_t i = 0; i < a.count; i++) {
		double r = npy_get(&a, i);
		worst = fmax(worst, fabs(r - logits[i]));
		big = fmax(big, fabs(r));
	}
	npy_unmap(&a);
	cr_assert_gt(big, 1e-3, "the logits are all zero: nothing was compared");
	return worst / big;
}

static void family_matches_numpy(int gemma)
{
	const char *dir = temp_dir();
	char path[300], why[1024];
	struct model m;
	int32_t tok[40];
	long n = 40;
	float *logits;

	snprintf(path, sizeof path, "%s/%s.gguf", dir, gemma ? "gemma3" : "llama");
	write_model(path, gemma, NULL, NULL, NULL);
	cr_assert_eq(model_load(&m, path, why, sizeof why), 0, "%s", why);
	for (long i = 0; i < n; i++)
		tok[i] = (int32_t)(rnd() % VOCAB);
	logits = malloc((size_t)n * VOCAB * sizeof *logits);
	float *q = malloc((size_t)H * n * HD * 4), *k = malloc((size_t)KV * n * HD * 4), *v = malloc((size_t)KV * n * HD * 4);
	struct model_run r = { .capture = 1, .q = q, .k = k, .v = v, .last_layer = -1, .logits = logits };
	cr_assert_eq(model_forward(&m, tok, n, &r, why, sizeof why), 0, "%s", why);
	double rel = against_numpy(dir, path, &m, logits, tok, n);
	cr_assert_lt(rel, 2e-4, "%s: logits differ by %g of the largest", gemma ? "gemma3" : "llama", rel);
	/* the windowed layers are what makes them Gemma: with every layer dense
	 * the logits move (negative control of the window) */
	if (gemma) {
		struct pattern dense;
		const struct pattern *all[6];
		float *l2 = malloc((size_t)n * VOCAB * sizeof *l2);
		pat_init(&dense, &pat_dense, 1);
		for (int il = 0; il < 6; il++)
			all[il] = &dense;
		struct model_run r2 = { .pat = all, .capture = -1, .last_layer = -1, .logits = l2 };
		cr_assert_eq(model_forward(&m, tok, n, &r2, why, sizeof why), 0, "%s", why);
		double moved = 0;
		for (long i = 0; i < n * VOCAB; i++)
			moved = fmax(moved, fabs(l2[i] - logits[i]));
		cr_assert_gt(moved, 1e-3, "dense everywhere gave the windowed model's logits");
		pat_free(&dense);
		free(l2);
	}
	cr_assert(isfinite(q[0]) && isfinite(k[HD * n - 1]) && isfinite(v[0]));
	free(q);
	free(k);
	free(v);
	free(logits);
	model_free(&m);
}

Test(model, gemma3_logits_match_numpy, .timeout = 120)
{
	family_matches_numpy(1);
}

Test(model, llama_logits_match_numpy, .timeout = 120)
{
	family_matches_numpy(0);
}

/* Model files that cannot be run, each with its message. */
Test(model, bad_model_files_are_refused, .timeout = 60)
{
	const char *dir = temp_dir();
	char path[300], why[1024], want[1200];
	struct model m;

	snprintf(path, sizeof path, "%s/m.gguf", dir);
	write_model(path, 1, "blk.3.ffn_up.weight", NULL, NULL);
	cr_assert_eq(model_load(&m, path, why, sizeof why), -1);
	snprintf(want, sizeof want, "'%s' has no tensor 'blk.3.ffn_up.weight', which gemma3 needs", path);
	cr_assert_str_eq(why, want);
	write_model(path, 0, NULL, "blk.1.attn_k.weight", NULL);
	cr_assert_eq(model_load(&m, path, why, sizeof why), -1);
	snprintf(want, sizeof want, "'%s': tensor 'blk.1.attn_k.weight' is [512, 64], llama needs [256, 64]", path);
	cr_assert_str_eq(why, want);
	write_model(path, 0, NULL, NULL, "mamba");
	cr_assert_eq(model_load(&m, path, why, sizeof why), -1);
	snprintf(want, sizeof want, "'%s' is a 'mamba' model; sabench runs gemma3 and llama", path);
	cr_assert_str_eq(why, want);
}

/* A model's layer as the inputs of a run: the cells take its shape (2
 * heads on 1 K/V head of 16), run verified, and the quality pass
 * measures its real attention (dense keeps all of it, a window less). */
Test(model, a_layer_is_the_inputs_of_a_run, .timeout = 120)
{
	char yaml[2048], gguf[1024], text[1024];
	struct csv t;

	snprintf(gguf, sizeof gguf, "%s", root_path("build/fixtures/tiny.gguf"));
	snprintf(text, sizeof text, "%s", root_path("tests/bad/model/text.txt"));
	snprintf(yaml, sizeof yaml,
		 "sweep: {seq_len: [12, 24]}\n"
		 "inputs:\n  - model: {gguf: %s, text: %s, layer: 1}\n"
		 "patterns: [dense, {window: {size: 4}}]\nkernels: [naive, tiled]\n"
		 "run: {warmup: 0, repeats: 2, min_time_ms: 0}\n",
		 gguf, text);
	run_yaml_results(yaml, &t);
	cr_assert_eq(t.nrow, 8);
	for (int i = 0; i < t.nrow; i++) {
		cr_assert_str_eq(csv_get(&t, i, "status"), "ok");
		cr_assert_str_eq(csv_get(&t, i, "verified"), "yes");
		cr_assert_str_eq(csv_get(&t, i, "heads"), "2");
		cr_assert_str_eq(csv_get(&t, i, "kv_heads"), "1");
		cr_assert_str_eq(csv_get(&t, i, "head_dim"), "16");
		double recall = atof(csv_get(&t, i, "recall_mean"));
		if (!strcmp(csv_get(&t, i, "pattern"), "dense"))
			cr_assert_float_eq(recall, 1.0, 1e-9);
		else
			cr_assert(recall > 0.0 && recall < 1.0, "window keeps %g", recall);
	}
	csv_free(&t);
}

/* The end-to-end measures on a small model: the model against itself has
 * KL 0, the same perplexity and top-1 agreement 1; a design equal to the
 * model's own on every layer (dense on Llama's global layers) gives the
 * same logits, so KL 0; a window of 2 on every layer moves them (KL > 0,
 * top-1 below 1: the negative control); the passkey's log-probability
 * is the sum of its tokens'. */
Test(model, end_to_end_measures, .timeout = 120)
{
	const char *dir = temp_dir();
	char path[300], why[1024];
	struct model m;
	struct model_compare c;
	int32_t tok[40];
	long n = 40;
	struct pattern dense, win;
	const struct pattern *all_dense[2], *all_win[2];

	snprintf(path, sizeof path, "%s/llama.gguf", dir);
	write_model(path, 0, NULL, NULL, NULL);
	cr_assert_eq(model_load(&m, path, why, sizeof why), 0, "%s", why);
	for (long i = 0; i < n; i++)
		tok[i] = (int32_t)(rnd() % VOCAB);
	float *own = malloc((size_t)n * VOCAB * 4), *a = malloc((size_t)n * VOCAB * 4), *b = malloc((size_t)n * VOCAB * 4);
	pat_init(&dense, &pat_dense, 1);
	pat_init(&win, &pat_window, 1);
	win.val[pat_param_index(&pat_window, "size")].i = 2;
	for (int il = 0; il < 2; il++) {
		all_dense[il] = &dense;
		all_win[il] = &win;
	}
	struct model_run r0 = { .capture = -1, .last_layer = -1, .logits = own };
	struct model_run r1 = { .pat = all_dense, .capture = -1, .last_layer = -1, .logits = a };
	struct model_run r2 = { .pat = all_win, .capture = -1, .last_layer = -1, .logits = b };
	cr_assert_eq(model_forward(&m, tok, n, &r0, why, sizeof why), 0, "%s", why);
	cr_assert_eq(model_forward(&m, tok, n, &r1, why, sizeof why), 0, "%s", why);
	cr_assert_eq(model_forward(&m, tok, n, &r2, why, sizeof why), 0, "%s", why);
	cr_assert_eq(model_compare(own, own, tok, n, VOCAB, &c), 0);
	cr_assert(c.kl_mean == 0.0 && c.kl_p99 == 0.0 && c.top1 == 1.0 && c.ppl_dense == c.ppl_design);
	cr_assert_eq(c.positions, n - 1);
	cr_assert_eq(model_compare(own, a, tok, n, VOCAB, &c), 0);
	cr_assert_lt(c.kl_mean, 1e-9, "dense on every layer is the model's own: KL %g", c.kl_mean);
	cr_assert_lt(fabs(c.ppl_design / c.ppl_dense - 1), 1e-6);
	cr_assert_eq(model_compare(own, b, tok, n, VOCAB, &c), 0);
	cr_assert_gt(c.kl_mean, 1e-4, "a window of 2 changed nothing");
	cr_assert_gt(c.kl_p99, c.kl_mean);
	cr_assert_lt(c.top1, 1.0);
	/* the passkey: its tokens' log-probabilities, summed */
	double lp = model_logprob(own, tok, VOCAB, n - 3, 3), sum = 0;
	for (long i = n - 3; i < n; i++)
		sum += model_logprob(own, tok, VOCAB, i, 1);
	cr_assert_float_eq(lp, sum, 1e-9);
	cr_assert_lt(lp, 0.0);
	pat_free(&dense);
	pat_free(&win);
	free(own);
	free(a);
	free(b);
	model_free(&m);
}

/* sabench model over the tiny model's first 24 tokens with a design on
 * layers; returns its standard output (the run must succeed). */
static char *run_design(const char *spec, const char *layers)
{
	char gguf[1024], text[1024], *err = NULL, *out = NULL;

	snprintf(gguf, sizeof gguf, "%s", root_path("build/fixtures/tiny.gguf"));
	snprintf(text, sizeof text, "%s", root_path("tests/bad/model/text.txt"));
	char *argv[] = { "sabench", "model", gguf, "--text", text, "--tokens", "24", "--design",
			 (char *)spec, "--layers", (char *)layers, NULL };
	cr_assert_eq(run_bin(argv, &out, &err), 0, "%s: %s", spec, err);
	free(err);
	return out;
}

/* sabench model's refusals, each with its message and before any pass
 * runs: --design without --text, a design that is not a pattern, layers
 * the model lacks; a static design on the same files runs and prints its
 * measures (negative control). */
Test(model, cli_refuses_bad_designs, .timeout = 120)
{
	char gguf[1024], text[1024], *err = NULL, *out = NULL;

	snprintf(gguf, sizeof gguf, "%s", root_path("build/fixtures/tiny.gguf"));
	snprintf(text, sizeof text, "%s", root_path("tests/bad/model/text.txt"));
	struct {
		const char *design, *layers, *text, *want;
	} bad[] = {
		{ "dense", "global", NULL, "sabench: --design and --needle need --text\n" },
		{ "vertical_slash: {last_q: 4, verticals: 4, slashes: 4}", "global", text,
		  "sabench: <spec>:1:1: pattern 'vertical_slash(last_q=4 verticals=4 slashes=4)': "
		  "'sink_keys' is 30, above 'verticals' 4\n" },
		{ "window: {size: 4}", "0,7", text,
		  "sabench: --layers must be global, all or layers 0 to 1 as a list (5,11,17), not '0,7'\n" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *argv[] = { "sabench", "model", gguf, "--design", (char *)bad[i].design, "--layers",
				 (char *)bad[i].layers, bad[i].text ? "--text" : NULL, (char *)bad[i].text, NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 2, "%s: %s", bad[i].design, err);
		cr_assert(strstr(err, bad[i].want) != NULL, "%s: got '%s'", bad[i].design, err);
		free(err);
	}
	/* the text and the kernel, checked before the model is read */
	char latin[1024], missing[1200], want[1400];
	snprintf(latin, sizeof latin, "%s", root_path("tests/bad/model/latin1.txt"));
	snprintf(missing, sizeof missing, "%s.none", text);
	struct {
		const char *text, *kernel, *want;
	} early[] = {
		{ missing, "tiled", "sabench: cannot read text '%s': no such file\n" },
		{ latin, "tiled", "sabench: text '%s' is not UTF-8 (at byte 3)\n" },
		{ text, "tild", "sabench: unknown kernel 'tild'\n" },
	};
	for (size_t i = 0; i < sizeof early / sizeof *early; i++) {
		char *argv[] = { "sabench", "model", gguf, "--text", (char *)early[i].text, "--kernel",
				 (char *)early[i].kernel, NULL };
		snprintf(want, sizeof want, early[i].want, early[i].text);
		cr_assert_eq(run_bin(argv, &out, &err), 2, "%s: %s", early[i].text, err);
		cr_assert_str_eq(err, want);
		cr_assert_str_eq(out, "", "the model was read before the refusal: %s", out);
		free(out);
		free(err);
	}
	out = run_design("window: {size: 4}", "all");
	cr_assert(strstr(out, "design window(size=4) on layers all over 24 tokens\n"), "%s", out);
	cr_assert(strstr(out, "KL(dense || design) mean "), "%s", out);
	free(out);
}

/* A selected design takes its G from each layer's own Q and K during the
 * pass: the top-k oracle keeping at least every causal key is the model
 * itself (KL 0, the same perplexity, the layers' selections equal), MoBA
 * keeping 2 blocks of 4 on the last layer is not, and on both layers
 * chooses in part alike. */
Test(model, a_selected_design_selects_from_the_layer, .timeout = 120)
{
	char *out = run_design("topk_oracle: {k: 64}", "all");

	cr_assert(strstr(out, "KL(dense || design) mean 0.00000, p99 0.00000 nats;"), "%s", out);
	cr_assert(strstr(out, "(+0.00%); top-1 agreement 1.0000\n"), "%s", out);
	cr_assert(strstr(out, "selection overlap between adjacent designed layers: 1.0000 of a layer's keys "
			      "kept by the next (mean over 1 pairs)\n"), "%s", out);
	free(out);
	out = run_design("moba: {block: 4, topk: 2}", "1");
	cr_assert(strstr(out, "design moba(block=4 topk=2) on layers 1 over 24 tokens\n"), "%s", out);
	cr_assert_null(strstr(out, "KL(dense || design) mean 0.00000,"), "%s", out);
	cr_assert_null(strstr(out, "selection overlap"), "one selected layer has no pair: %s", out);
	free(out);
	out = run_design("moba: {block: 4, topk: 2}", "all");
	const char *o = strstr(out, "selection overlap between adjacent designed layers: ");
	cr_assert_not_null(o, "%s", out);
	double overlap = atof(o + strlen("selection overlap between adjacent designed layers: "));
	cr_assert(overlap > 0.0 && overlap < 1.0, "layers 0 and 1 chose alike or nothing alike: %s", out);
	free(out);
}

/* The largest |a - b| over n values, relative to the largest |a|. */
static double rel_diff(const float *a, const float *b, size_t n)
{
	double worst = 0, big = 0;

	for (size_t i = 0; i < n; i++) {
		worst = fmax(worst, fabs((double)a[i] - b[i]));
		big = fmax(big, fabs((double)a[i]));
	}
	return big > 0 ? worst / big : worst;
}

/* A pass over n tokens then steps over the next ones gives, at each step,
 * the logits of one pass over them all (the last row's), with the
 * model's own layers and with designs (static, and selected again from
 * the cached Q and K each step); a pass scoring from a position gives
 * the full pass's rows there. */
static void steps_extend_the_pass(int gemma, const char *spec)
{
	const char *dir = temp_dir();
	char path[300], why[1024];
	struct model m;
	struct pattern des;
	struct err e;
	const struct pattern *pat[6];
	const long n = 30, steps = 4;
	int32_t tok[34];

	snprintf(path, sizeof path, "%s/m.gguf", dir);
	write_model(path, gemma, NULL, NULL, NULL);
	cr_assert_eq(model_load(&m, path, why, sizeof why), 0, "%s", why);
	if (spec)
		cr_assert_eq(exp_parse_spec(spec, 1, &des, &e), 0, "%s", e.msg);
	for (int il = 0; il < m.n_layer; il++)
		pat[il] = spec ? &des : NULL;
	for (long i = 0; i < n + steps; i++)
		tok[i] = (int32_t)(rnd() % VOCAB);
	float *full = malloc((size_t)(n + steps) * VOCAB * 4), *part = malloc((size_t)n * VOCAB * 4);
	float *tail = malloc((size_t)10 * VOCAB * 4), *step = malloc(VOCAB * 4);
	struct model_run whole = { .pat = pat, .capture = -1, .last_layer = -1, .logits = full };
	cr_assert_eq(model_forward(&m, tok, n + steps, &whole, why, sizeof why), 0, "%s", why);
	struct model_cache c;
	struct model_run r = { .pat = pat, .capture = -1, .last_layer = -1, .logits = part };
	cr_assert_eq(model_cache_init(&m, &r, n + steps, &c, why, sizeof why), 0, "%s", why);
	r.cache = &c;
	cr_assert_eq(model_forward(&m, tok, n, &r, why, sizeof why), 0, "%s", why);
	cr_assert_lt(rel_diff(full, part, (size_t)n * VOCAB), 1e-5, "the prompt's own rows");
	for (long s = 0; s < steps; s++) {
		cr_assert_eq(model_step(&m, tok[n + s], &r, step, why, sizeof why), 0, "%s", why);
		double d = rel_diff(full + (size_t)(n + s) * VOCAB, step, VOCAB);
		cr_assert_lt(d, 2e-5, "%s, %s: step %ld differs from the pass by %g", gemma ? "gemma3" : "llama",
			     spec ? spec : "own layers", s, d);
	}
	cr_assert_eq(c.n, n + steps);
	cr_assert_neq(model_step(&m, tok[0], &r, step, why, sizeof why), 0);
	cr_assert_str_eq(why, "the cache is full");
	/* negative control: another token at the last position moves them */
	c.n--;
	cr_assert_eq(model_step(&m, (tok[n + steps - 1] + 1) % VOCAB, &r, step, why, sizeof why), 0, "%s", why);
	cr_assert_gt(rel_diff(full + (size_t)(n + steps - 1) * VOCAB, step, VOCAB), 1e-4);
	model_run_end(&m, &r);
	model_cache_free(&m, &c);
	/* scoring from position n - 10: the full pass's last ten rows */
	struct model_run sc = { .pat = pat, .capture = -1, .last_layer = -1, .logits = tail, .score_from = n - 10 };
	cr_assert_eq(model_forward(&m, tok, n, &sc, why, sizeof why), 0, "%s", why);
	cr_assert_lt(rel_diff(full + (size_t)(n - 10) * VOCAB, tail, (size_t)10 * VOCAB), 1e-5);
	cr_assert(sc.t.out_last > 0 && sc.t.out_last <= sc.t.out);
	if (spec)
		pat_free(&des);
	free(full);
	free(part);
	free(tail);
	free(step);
	model_free(&m);
}

Test(model, steps_extend_the_pass, .timeout = 120)
{
	steps_extend_the_pass(1, NULL);
	steps_extend_the_pass(0, NULL);
	steps_extend_the_pass(1, "window: {size: 5}");
	steps_extend_the_pass(0, "sink_window: {sinks: 2, size: 6}");
	steps_extend_the_pass(1, "topk_oracle: {k: 64}");
	/* two K/V heads: a step reads the cache's rows laid out per head anew
	 * (one head reads the cache in place) */
	kv_heads = 2;
	steps_extend_the_pass(0, NULL);
	steps_extend_the_pass(1, "window: {size: 5}");
	steps_extend_the_pass(1, "moba: {block: 4, topk: 2}");
	kv_heads = KV;
}

/* Decode steps of a selected design select again each step: MoBA's blocks
 * move as the query does (overlap of step to step in (0, 1]); the oracle
 * keeping every key keeps the same keys plus the new one (overlap 1). */
Test(model, steps_measure_how_selection_moves, .timeout = 120)
{
	const char *dir = temp_dir();
	char path[300], why[1024];
	struct model m;
	struct err e;
	const char *specs[] = { "moba: {block: 4, topk: 2}", "topk_oracle: {k: 64}" };
	int32_t tok[48];

	snprintf(path, sizeof path, "%s/m.gguf", dir);
	write_model(path, 0, NULL, NULL, NULL);
	cr_assert_eq(model_load(&m, path, why, sizeof why), 0, "%s", why);
	for (long i = 0; i < 48; i++)
		tok[i] = (int32_t)(rnd() % VOCAB);
	for (size_t k = 0; k < 2; k++) {
		struct pattern des;
		const struct pattern *pat[2] = { NULL, NULL };
		struct model_cache c;
		cr_assert_eq(exp_parse_spec(specs[k], 1, &des, &e), 0, "%s", e.msg);
		pat[1] = &des;
		struct model_run r = { .pat = pat, .capture = -1, .last_layer = -1 };
		cr_assert_eq(model_cache_init(&m, &r, 48, &c, why, sizeof why), 0, "%s", why);
		cr_assert_not_null(c.q[1]);
		cr_assert_null(c.q[0], "layer 0 has no selected design: no Q kept");
		r.cache = &c;
		cr_assert_eq(model_forward(&m, tok, 40, &r, why, sizeof why), 0, "%s", why);
		for (long s = 40; s < 48; s++)
			cr_assert_eq(model_step(&m, tok[s], &r, NULL, why, sizeof why), 0, "%s", why);
		cr_assert_eq(r.step_pairs, 7, "one selected layer, 8 steps: 7 pairs");
		if (k == 0)
			cr_assert(r.step_overlap > 0.0 && r.step_overlap < 1.0, "MoBA: %g", r.step_overlap);
		else
			cr_assert_float_eq(r.step_overlap, 1.0, 1e-12);
		model_run_end(&m, &r);
		model_cache_free(&m, &c);
		pat_free(&des);
	}
	model_free(&m);
}

/* A kind that selects at prefill only (block_topk) decodes over the
 * layer's own G, as MInference serves it: on the last layer of the Llama
 * model its cache holds the same K and V as the model's own (they come
 * from the layer before), so its decode steps give the own steps'
 * logits, though its prefill's differ (negative control); it selects no
 * step, so no step overlap. */
Test(model, prefill_only_designs_decode_over_their_own_layer, .timeout = 120)
{
	const char *dir = temp_dir();
	char path[300], why[1024];
	struct model m;
	struct pattern des;
	struct err e;
	int32_t tok[44];
	float *l_own = malloc((size_t)40 * VOCAB * 4), *l_des = malloc((size_t)40 * VOCAB * 4);
	float *s_own = malloc(VOCAB * 4), *s_des = malloc(VOCAB * 4);

	snprintf(path, sizeof path, "%s/m.gguf", dir);
	write_model(path, 0, NULL, NULL, NULL);
	cr_assert_eq(model_load(&m, path, why, sizeof why), 0, "%s", why);
	cr_assert_eq(exp_parse_spec("block_topk: {block: 4, k: 2}", 1, &des, &e), 0, "%s", e.msg);
	for (long i = 0; i < 44; i++)
		tok[i] = (int32_t)(rnd() % VOCAB);
	const struct pattern *own[2] = { NULL, NULL }, *pat[2] = { NULL, &des };
	struct model_cache c_own, c_des;
	struct model_run r_own = { .pat = own, .capture = -1, .last_layer = -1, .logits = l_own };
	struct model_run r_des = { .pat = pat, .capture = -1, .last_layer = -1, .logits = l_des };
	cr_assert_eq(model_cache_init(&m, &r_own, 44, &c_own, why, sizeof why), 0, "%s", why);
	cr_assert_eq(model_cache_init(&m, &r_des, 44, &c_des, why, sizeof why), 0, "%s", why);
	r_own.cache = &c_own;
	r_des.cache = &c_des;
	cr_assert_eq(model_forward(&m, tok, 40, &r_own, why, sizeof why), 0, "%s", why);
	cr_assert_eq(model_forward(&m, tok, 40, &r_des, why, sizeof why), 0, "%s", why);
	cr_assert_gt(rel_diff(l_own, l_des, (size_t)40 * VOCAB), 1e-4, "block_topk's prefill was the model's own");
	for (long s = 40; s < 44; s++) {
		cr_assert_eq(model_step(&m, tok[s], &r_own, s_own, why, sizeof why), 0, "%s", why);
		cr_assert_eq(model_step(&m, tok[s], &r_des, s_des, why, sizeof why), 0, "%s", why);
		cr_assert_lt(rel_diff(s_own, s_des, VOCAB), 1e-6, "step %ld", s);
	}
	cr_assert_eq(r_des.step_pairs, 0);
	model_run_end(&m, &r_own);
	model_run_end(&m, &r_des);
	model_cache_free(&m, &c_own);
	model_cache_free(&m, &c_des);
	pat_free(&des);
	free(l_own);
	free(l_des);
	free(s_own);
	free(s_des);
	model_free(&m);
}
