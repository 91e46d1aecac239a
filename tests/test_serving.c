/* test_serving.c - whole-model figures and the review: the model block's
 * time to first token, time per output token, KV per sequence and
 * sequences that fit equal sums of the cells this test reads from
 * results.csv by hand (and fitted ones the fit worked by hand); the
 * review's figures, verdicts and cheapest design likewise; a review that
 * cannot be judged exits 2 with its reason. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* Prefill and decode of a window and dense at 128 and 256 tokens; a
 * model of 3 window layers and 1 dense, 1 MiB of memory of which the
 * weights take 768 KiB; `review` is appended. */
static const char *const serving_run =
	"name: srv\n"
	"shape: {heads: 2, kv_heads: 1, head_dim: 16, threads: 1, decode_steps: 4}\n"
	"sweep: {seq_len: [128, 256], mode: [prefill, decode]}\n"
	"patterns: [dense, {label: local, window: {size: 32}}]\n"
	"kernels: [ranges, decode]\n"
	"run: {warmup: 0, repeats: 3, min_time_ms: 0}\n"
	"model: {name: mixed, kv_heads: 1, head_dim: 16, layers: [{count: 3, pattern: local}, {count: 1, pattern: dense}],"
	" serving: {memory: 1 MiB, weights: 768 KiB}}\n";

/* Runs serving_run with extra appended into a fresh folder; out gets
 * the results folder. */
static void run_serving(const char *extra, char *out, size_t len)
{
	const char *dir = temp_dir();
	char exp[300], *text, *err = NULL;
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };

	snprintf(exp, sizeof exp, "%s/srv.yaml", dir);
	snprintf(out, len, "%s/out", dir);
	text = malloc(strlen(serving_run) + strlen(extra) + 1);
	strcpy(text, serving_run);
	strcat(text, extra);
	write_text(exp, text);
	free(text);
	cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
	free(err);
}

/* The fastest prefill time per sequence (decode 0) or the decode
 * kernel's time per token (1) of label at n, read from the rows. */
static double cell_time(const struct csv *t, const char *label, long n, int decode)
{
	double best = -1;

	for (int i = 0; i < t->nrow; i++) {
		const char *col = decode ? "time_per_token_s" : "time_median_s";
		if (strcmp(csv_get(t, i, "pattern_label"), label) || atol(csv_get(t, i, "seq_len")) != n ||
		    strcmp(csv_get(t, i, "mode"), decode ? "decode" : "prefill") ||
		    strcmp(csv_get(t, i, "status"), "ok") || (decode && strcmp(csv_get(t, i, "kernel"), "decode")))
			continue;
		if (best < 0 || atof(csv_get(t, i, col)) < best)
			best = atof(csv_get(t, i, col));
	}
	cr_assert(best > 0, "no %s cell of %s at %ld", decode ? "decode" : "prefill", label, n);
	return best;
}

/* The cell's time at 32768, by the fit through 128 and 256 (two points:
 * the line through them) scaled from 256. */
static double fitted_32k(const struct csv *t, const char *label, int decode)
{
	double a = cell_time(t, label, 128, decode), b = cell_time(t, label, 256, decode);

	return b * pow(128.0, log(b / a) / log(2.0));
}

static void fmt_time(double s, int fitted, char *buf, size_t len)
{
	snprintf(buf, len, "%s%.3g %s%s", fitted ? "~" : "", s < 1 ? s * 1e3 : s, s < 1 ? "ms" : "s",
		 fitted ? " (fitted)" : "");
}

Test(serving, model_figures_are_sums_of_their_cells, .timeout = 120)
{
	char out[300], path[400], line[400], ttft[64], tpot[64], *md, *err = NULL;
	struct csv t;
	char *rep[] = { "sabench", "report", out, NULL };

	run_serving("", out, sizeof out);
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);
	cr_assert_eq(run_bin(rep, NULL, &err), 0, "%s", err);
	snprintf(path, sizeof path, "%s/report.md", out);
	md = read_text(path);
	/* at 256: caches of 3 x 32 + 256 rows x K and V x 1 head x 16 x 4 B =
	 * 45056 B = 44.0 KiB; (1024 - 768) KiB / 44 KiB = 5 sequences */
	fmt_time(3 * cell_time(&t, "local", 256, 0) + cell_time(&t, "dense", 256, 0), 0, ttft, sizeof ttft);
	fmt_time(3 * cell_time(&t, "local", 256, 1) + cell_time(&t, "dense", 256, 1), 0, tpot, sizeof tpot);
	snprintf(line, sizeof line, "| 256 | 44.0 KiB | %s | %s | 5 |", ttft, tpot);
	cr_assert(strstr(md, line), "want %s in\n%s", line, md);
	/* at 32768, past every measured context: fitted, marked; 3 x 32 +
	 * 32768 rows x 128 B leave no room for a sequence */
	fmt_time(3 * fitted_32k(&t, "local", 0) + fitted_32k(&t, "dense", 0), 1, ttft, sizeof ttft);
	fmt_time(3 * fitted_32k(&t, "local", 1) + fitted_32k(&t, "dense", 1), 1, tpot, sizeof tpot);
	snprintf(line, sizeof line, "| 32768 | 4.0 MiB | %s | %s | 0 |", ttft, tpot);
	cr_assert(strstr(md, line), "want %s in\n%s", line, md);
	cr_assert(strstr(md, "~ (fitted): no cell measured that context"));
	free(md);
	free(err);
	csv_free(&t);
}

/* review.csv's line of a design (label, kv_layout). */
static int design_row(const struct csv *r, const char *label, const char *layout)
{
	for (int i = 0; i < r->nrow; i++)
		if (!strcmp(csv_get(r, i, "pattern_label"), label) && !strcmp(csv_get(r, i, "kv_layout"), layout))
			return i;
	cr_assert_fail("no design %s on %s", label, layout);
	return -1;
}

Test(review, answers_from_the_cells_it_measured, .timeout = 120)
{
	char out[300], path[400], *text = NULL, *err = NULL, *md;
	struct csv t, r;
	char *rev[] = { "sabench", "review", out, NULL };
	int w, d;

	/* 4 tenants in 160 KiB: the window's 4 layers x 32 rows x 128 B
	 * (16 KiB a sequence) fit 10, dense's 4 x 256 rows (128 KiB) fit 1 */
	run_serving("review: {model: mixed, prompt: 256, context: 256, tenants: 4, kv_memory: 160 KiB,"
		    " ttft_s: 10, tpot_s: 10, recall: 0.01}\n", out, sizeof out);
	cr_assert_eq(run_bin(rev, &text, &err), 0, "%s", err);
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);
	snprintf(path, sizeof path, "%s/review.csv", out);
	csv_load(&r, path);
	cr_assert_eq(r.nrow, 2, "a design per pattern on its decode cache");
	w = design_row(&r, "local", "ring");
	d = design_row(&r, "dense", "full");
	cr_assert_eq(atof(csv_get(&r, w, "kv_bytes_per_seq")), 4.0 * 32 * 2 * 16 * 4);
	cr_assert_eq(atof(csv_get(&r, d, "kv_bytes_per_seq")), 4.0 * 256 * 2 * 16 * 4);
	cr_assert_str_eq(csv_get(&r, w, "tenants_fit"), "10");
	cr_assert_str_eq(csv_get(&r, d, "tenants_fit"), "1");
	cr_assert(fabs(atof(csv_get(&r, w, "ttft_s")) / (4 * cell_time(&t, "local", 256, 0)) - 1) < 1e-6);
	cr_assert(fabs(atof(csv_get(&r, w, "tpot_s")) / (4 * cell_time(&t, "local", 256, 1)) - 1) < 1e-6);
	cr_assert_str_eq(csv_get(&r, w, "ttft_fitted"), "0");
	cr_assert_str_eq(csv_get(&r, w, "feasible"), "yes");
	cr_assert_str_eq(csv_get(&r, d, "feasible"), "no");
	cr_assert_str_eq(csv_get(&r, d, "binding"), "tenants_fit");
	cr_assert(fabs(atof(csv_get(&r, d, "binding_ratio")) - 4.0) < 1e-9, "4 tenants wanted, 1 fits");
	cr_assert_str_eq(csv_get(&r, w, "cheapest"), "1");
	/* the picture's x axis is the limit that binds the answer */
	cr_assert_neq(csv_get(&r, w, "binding")[0], 0);
	cr_assert(fabs(atof(csv_get(&r, w, "x")) - atof(csv_get(&r, w, csv_get(&r, w, "binding")))) < 1e-9,
		  "x is %s, %s is %s", csv_get(&r, w, "x"), csv_get(&r, w, "binding"),
		  csv_get(&r, w, csv_get(&r, w, "binding")));
	cr_assert(strstr(text, "**Answer:** the cheapest design that meets every limit is **local** on a ring cache of f32"),
		  "%s", text);
	snprintf(path, sizeof path, "%s/report.md", out);
	md = read_text(path);
	cr_assert(strstr(md, "## Review: mixed, a prompt of 256 tokens"), "report.md ends with the review");
	free(md);
	free(text);
	free(err);
	csv_free(&t);
	csv_free(&r);
}

Test(review, names_the_limit_that_binds_when_none_meets_all, .timeout = 120)
{
	char out[300], *text = NULL, *err = NULL;
	char *rev[] = { "sabench", "review", out, NULL };

	run_serving("review: {model: mixed, prompt: 256, context: 256, tpot_s: 1e-9}\n", out, sizeof out);
	cr_assert_eq(run_bin(rev, &text, &err), 0, "%s", err);
	cr_assert(strstr(text, "**Answer:** no design measured meets every limit. The closest is **local** (ring, f32): "
			       "time per output token binds"), "%s", text);
	free(text);
	free(err);
}

/* Each review that no cell can answer, with its message and exit 2. */
Test(review, refuses_what_no_cell_measured, .timeout = 120)
{
	static const struct { const char *review, *msg; } cases[] = {
		{ "review: {model: mixed, prompt: 1024, ttft_s: 1, extrapolate: false}\n",
		  "sabench: review limit 'ttft_s' cannot be judged: no cell measured a context of 1024 tokens "
		  "(the longest is 256) and extrapolate is false\n" },
		{ "review: {model: mixed, prompt: 256, context: 4096, tpot_s: 1, extrapolate: false}\n",
		  "sabench: review limit 'tpot_s' cannot be judged: no cell measured a context of 4096 tokens "
		  "(the longest is 256) and extrapolate is false\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char out[300], *err = NULL;
		char *rev[] = { "sabench", "review", out, NULL };
		run_serving(cases[i].review, out, sizeof out);
		cr_assert_eq(run_bin(rev, NULL, &err), 2, "%s", cases[i].review);
		cr_assert_str_eq(err, cases[i].msg);
		free(err);
	}
}

Test(review, a_run_without_a_review_block_is_refused, .timeout = 120)
{
	char out[300], *err = NULL, want[600];
	char *rev[] = { "sabench", "review", out, NULL };

	run_serving("", out, sizeof out);
	cr_assert_eq(run_bin(rev, NULL, &err), 2);
	snprintf(want, sizeof want, "sabench: no review in '%s': its experiment has no review block (see docs/serving.md)\n", out);
	cr_assert_str_eq(err, want);
	free(err);
}

/* The fastest extend cell per sequence of label at n (chunks of 64). */
static double extend_time(const struct csv *t, const char *label, long n)
{
	double best = -1;

	for (int i = 0; i < t->nrow; i++) {
		double v = atof(csv_get(t, i, "time_median_s"));
		if (strcmp(csv_get(t, i, "pattern_label"), label) || atol(csv_get(t, i, "seq_len")) != n ||
		    strcmp(csv_get(t, i, "mode"), "extend") || strcmp(csv_get(t, i, "status"), "ok"))
			continue;
		best = best < 0 || v < best ? v : best;
	}
	cr_assert(best > 0, "no extend cell of %s at %ld", label, n);
	return best;
}

/* prefill_chunk: time to first token is the sum of the layers' extend
 * chunks ending at 64, 128, 192 and 256 tokens, read by hand. */
Test(serving, a_chunked_prefill_sums_its_chunks, .timeout = 120)
{
	const char *dir = temp_dir();
	char exp[300], out[300], path[400], line[200], ttft[64], *md, *err = NULL;
	char *run[] = { "sabench", "run", exp, "-o", out, NULL }, *rep[] = { "sabench", "report", out, NULL };
	double sum = 0;
	struct csv t;

	snprintf(exp, sizeof exp, "%s/chunk.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, "shape: {heads: 2, kv_heads: 1, head_dim: 16, threads: 1, mode: extend, extend_tokens: 64}\n"
			"sweep: {seq_len: [64, 128, 192, 256]}\n"
			"patterns: [dense, {label: local, window: {size: 32}}]\nkernels: [ranges, decode]\n"
			"run: {warmup: 0, repeats: 3, min_time_ms: 0}\n"
			"model: {name: chunked, kv_heads: 1, head_dim: 16, prefill_chunk: 64,"
			" layers: [{count: 3, pattern: local}, {count: 1, pattern: dense}]}\n");
	cr_assert_eq(run_bin(run, NULL, &err), 0, "%s", err);
	cr_assert_eq(run_bin(rep, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);
	for (long n = 64; n <= 256; n += 64)
		sum += 3 * extend_time(&t, "local", n) + extend_time(&t, "dense", n);
	fmt_time(sum, 0, ttft, sizeof ttft);
	snprintf(line, sizeof line, "| 256 | 44.0 KiB | %s |", ttft);
	snprintf(path, sizeof path, "%s/report.md", out);
	md = read_text(path);
	cr_assert(strstr(md, line), "want %s in\n%s", line, md);
	cr_assert(strstr(md, "prefill in chunks of 64"));
	free(md);
	free(err);
	csv_free(&t);
}
