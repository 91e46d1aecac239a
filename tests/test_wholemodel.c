/* test_wholemodel.c - the e2e block end to end on the tiny test GGUF:
 * `sabench run` writes e2e.csv (the own pass KL 0; dense on every layer
 * the model itself, KL 0 and the same perplexity; a window of 4 not), a
 * resumed run keeps the rows it has and runs the one missing, the report
 * and the review read it, a damaged e2e.csv is refused with its line,
 * and the run's refusals (layers the model lacks, a missing model) name
 * what is wrong. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness/report/e2e.h"
#include "helpers.h"

/* An experiment over the tiny model into dir/x.yaml; designs the e2e
 * block's designs list (flow YAML). */
static void write_experiment(const char *dir, const char *designs, const char *review)
{
	char path[600], yaml[4096], gguf[1024], text[1024];

	snprintf(gguf, sizeof gguf, "%s", root_path("build/fixtures/tiny.gguf"));   /* one buffer a call */
	snprintf(text, sizeof text, "%s", root_path("tests/bad/model/text.txt"));
	snprintf(yaml, sizeof yaml,
		 "name: tiny-e2e\n"
		 "shape: {heads: 2, kv_heads: 1, head_dim: 16, threads: 2}\n"
		 "sweep: {seq_len: [24, 32]}\n"
		 "patterns:\n  - dense\n  - {label: win4, window: {size: 4}}\n  - {label: moba, moba: {block: 4, topk: 2}}\n"
		 "kernels: [tiled]\n"
		 "run: {warmup: 0, repeats: 1, min_time_ms: 0}\n"
		 "e2e:\n  gguf: %s\n  text: %s\n  needle: false\n  score_last: 16\n  decode_steps: 3\n  designs: %s\n%s",
		 gguf, text, designs, review);
	snprintf(path, sizeof path, "%s/x.yaml", dir);
	write_text(path, yaml);
}

static int run(const char *dir, const char *extra, char **err)
{
	char yaml[600], out[600];

	snprintf(yaml, sizeof yaml, "%s/x.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	char *argv[] = { "sabench", "run", yaml, "-o", out, (char *)extra, NULL };
	return run_bin(argv, NULL, err);
}

/* The row of design at context in t, or -1. */
static int row_of(const struct csv *t, const char *design, const char *context)
{
	for (int i = 0; i < t->nrow; i++)
		if (!strcmp(csv_get(t, i, "design"), design) && !strcmp(csv_get(t, i, "context"), context))
			return i;
	return -1;
}

static const char designs[] = "[{pattern: win4, layers: all}, {pattern: moba, layers: [1]}, {pattern: dense, layers: all}]";

Test(wholemodel, e2e_rows_measure_each_design, .timeout = 120)
{
	const char *dir = temp_dir();
	char path[600], *err = NULL;
	struct csv t;

	write_experiment(dir, designs,
			 "review: {prompt: 32, context: 48, tenants: 4, kv_memory: 16 KiB, kl: 0.05, recall: 0.5}\n");
	snprintf(path, sizeof path, "%s/x.yaml", dir);
	char *va[] = { "sabench", "validate", path, NULL }, *vout = NULL;
	cr_assert_eq(run_bin(va, &vout, &err), 0, "%s", err);
	cr_assert(strstr(vout, "e2e: the model's own pass and 3 designs x 2 seq_len inside '") &&
		  strstr(vout, "  design win4@all\n  design moba@1\n  design dense@all\n"), "%s", vout);
	free(vout);
	free(err);
	cr_assert_eq(run(dir, NULL, &err), 0, "%s", err);
	free(err);
	snprintf(path, sizeof path, "%s/out/e2e.csv", dir);
	char *text = read_text(path);
	cr_assert(!strncmp(text, e2e_header, strlen(e2e_header)) && text[strlen(e2e_header)] == '\n', "%s", text);
	free(text);
	csv_load(&t, path);
	cr_assert_eq(t.nrow, 8, "own and 3 designs at 2 contexts");
	for (int i = 0; i < t.nrow; i++) {
		cr_assert_str_eq(csv_get(&t, i, "status"), "ok", "%s", csv_get(&t, i, "reason"));
		cr_assert_gt(atof(csv_get(&t, i, "decode_tok_s")), 0);
		cr_assert_gt(atof(csv_get(&t, i, "prefill_s")), 0);
	}
	int own = row_of(&t, "own", "32"), dense = row_of(&t, "dense@all", "32"), win = row_of(&t, "win4@all", "32");
	int moba = row_of(&t, "moba@1", "32");
	cr_assert(own >= 0 && dense >= 0 && win >= 0 && moba >= 0);
	cr_assert_str_eq(csv_get(&t, own, "kl_mean"), "0");
	cr_assert_str_eq(csv_get(&t, dense, "kl_mean"), "0", "dense on every layer is the model itself");
	cr_assert_str_eq(csv_get(&t, dense, "ppl"), csv_get(&t, own, "ppl"));
	cr_assert_str_eq(csv_get(&t, dense, "ppl_change"), "0");
	cr_assert_str_eq(csv_get(&t, own, "tokens"), "32");
	cr_assert_str_eq(csv_get(&t, own, "scored"), "16");
	cr_assert_gt(atof(csv_get(&t, win, "kl_mean")), 1e-3, "a window of 4 changed nothing");
	cr_assert_lt(atof(csv_get(&t, win, "kv_bytes_per_token")), atof(csv_get(&t, own, "kv_bytes_per_token")));
	/* 2 layers x 1 K/V head x (16 + 16) values x 2 bytes a token, whole cache */
	cr_assert_str_eq(csv_get(&t, own, "kv_bytes_per_token"), "128");
	double step = atof(csv_get(&t, moba, "step_overlap"));
	cr_assert(step > 0 && step <= 1, "MoBA's steps: %g", step);
	cr_assert_str_eq(csv_get(&t, moba, "layer_overlap"), "", "one selected layer has no pair");
	cr_assert_str_eq(csv_get(&t, moba, "designed_layers"), "1");
	csv_free(&t);
	/* the report's section, the review's answer on the real model */
	snprintf(path, sizeof path, "%s/out", dir);
	char *rv[] = { "sabench", "review", path, NULL }, *out = NULL;
	cr_assert_eq(run_bin(rv, &out, &err), 0, "%s", err);
	cr_assert(strstr(out, "## Review: tiny.gguf, a prompt of 32 tokens, 48 tokens cached, 4 tenants"), "%s", out);
	cr_assert(strstr(out, "| own | "), "%s", out);
	/* recall: the pattern's on the run's inputs; the model's own keeps all */
	cr_assert(strstr(out, "| 32 (carried) | 1 | "), "the own row's recall: %s", out);
	cr_assert(strstr(out, "| win4@all | ") && !strstr(strstr(out, "| win4@all | "), "| 32 (carried) | - |"),
		  "win4's recall not read: %s", out);
	cr_assert(strstr(out, "| 32 (carried) |"), "48 tokens were not measured: %s", out);
	cr_assert(strstr(out, "**Answer:**"), "%s", out);
	free(out);
	free(err);
	snprintf(path, sizeof path, "%s/out/report.md", dir);
	text = read_text(path);
	cr_assert(strstr(text, "## The whole model: each design inside the real model (e2e.csv)"), "%s", text);
	cr_assert(strstr(text, "### 32 tokens (32 in the text, the last 16 scored)"), "%s", text);
	free(text);
}

/* --resume keeps the rows e2e.csv has and runs the missing one: the
 * other rows stay as they were, byte for byte. */
Test(wholemodel, resume_runs_the_missing_rows, .timeout = 120)
{
	const char *dir = temp_dir();
	char path[600], *err = NULL;

	write_experiment(dir, designs, "");
	cr_assert_eq(run(dir, NULL, &err), 0, "%s", err);
	free(err);
	snprintf(path, sizeof path, "%s/out/e2e.csv", dir);
	char *whole = read_text(path), *cut = strdup(whole), *at = strstr(cut, "\nmoba@1,moba,1,32,");
	cr_assert_not_null(at);
	char *end = strchr(at + 1, '\n');
	memmove(at + 1, end + 1, strlen(end + 1) + 1);   /* drop that row */
	write_text(path, cut);
	cr_assert_eq(run(dir, "--resume", &err), 0, "%s", err);
	free(err);
	char *after = read_text(path);
	cr_assert_eq(count_lines(after), count_lines(whole));
	cr_assert(!strncmp(after, cut, strlen(cut)), "the kept rows changed");
	cr_assert(strstr(after + strlen(cut), "moba@1,moba,1,32,"), "the missing row was not run: %s", after);
	free(whole);
	free(cut);
	free(after);
}

/* What the run refuses, with its message: layers the model lacks (exit
 * 1, after the cells), a model file that is not there. */
Test(wholemodel, run_refuses_what_the_model_cannot_take, .timeout = 120)
{
	const char *dir = temp_dir();
	char *err = NULL, want[1200];

	write_experiment(dir, "[{pattern: win4, layers: [0, 7]}]", "");
	cr_assert_eq(run(dir, NULL, &err), 1, "%s", err);
	snprintf(want, sizeof want, "sabench: e2e design 'win4' names layers '0,7'; '%s' has layers 0 to 1\n",
		 root_path("build/fixtures/tiny.gguf"));
	cr_assert(strstr(err, want), "%s", err);
	free(err);
	char yaml[600], *text;
	snprintf(yaml, sizeof yaml, "%s/x.yaml", dir);
	write_experiment(dir, designs, "");
	text = read_text(yaml);
	char *g = strstr(text, "tiny.gguf");
	memcpy(g, "none.gguf", 9);
	write_text(yaml, text);
	free(text);
	cr_assert_eq(run(dir, "--force", &err), 1, "%s", err);
	snprintf(want, sizeof want, "sabench: cannot read the e2e model '%s': no such file (make model fetches Gemma 3 270M)\n",
		 root_path("build/fixtures/none.gguf"));
	cr_assert(strstr(err, want), "%s", err);
	free(err);
}

/* A context past the model's is a row skipped with the reason for each
 * design, the others run; --resume keeps the skipped rows. */
Test(wholemodel, a_context_past_the_model_is_skipped, .timeout = 120)
{
	const char *dir = temp_dir();
	char path[600], *err = NULL;
	struct csv t;

	write_experiment(dir, "[{pattern: win4, layers: all}]", "");
	snprintf(path, sizeof path, "%s/x.yaml", dir);
	char *yaml = read_text(path), *at = strstr(yaml, "[24, 32]");
	cr_assert_not_null(at);
	memcpy(at, "[24, 99]", 8);
	write_text(path, yaml);
	free(yaml);
	cr_assert_eq(run(dir, NULL, &err), 0, "%s", err);
	free(err);
	snprintf(path, sizeof path, "%s/out/e2e.csv", dir);
	csv_load(&t, path);
	cr_assert_eq(t.nrow, 4);
	for (int i = 0; i < 4; i++) {
		int past = !strcmp(csv_get(&t, i, "context"), "99");
		cr_assert_str_eq(csv_get(&t, i, "status"), past ? "skipped" : "ok");
		cr_assert_str_eq(csv_get(&t, i, "reason"), past ? "99 tokens are past the model's context of 64" : "");
	}
	csv_free(&t);
	char *before = read_text(path);
	cr_assert_eq(run(dir, "--resume", &err), 0, "%s", err);
	free(err);
	char *after = read_text(path);
	cr_assert_str_eq(after, before, "a resumed run wrote the skipped rows again");
	free(before);
	free(after);
}

/* A damaged e2e.csv is refused by report and review with its line and
 * column; the undamaged file is read (negative control). */
Test(wholemodel, a_damaged_e2e_csv_is_refused, .timeout = 120)
{
	const char *dir = temp_dir();
	char path[600], out[600], *err = NULL;
	struct res_table t;
	struct err e;

	write_experiment(dir, designs, "");
	cr_assert_eq(run(dir, NULL, &err), 0, "%s", err);
	free(err);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(path, sizeof path, "%s/out/e2e.csv", dir);
	cr_assert_eq(e2e_read(out, &t, &e), 0, "%s", e.msg);
	res_table_free(&t);
	char *whole = read_text(path);
	struct {
		const char *from, *to, *want;
	} dmg[] = {
		{ ",tiled,2,ok,\n", ",tiled,2,bogus,\n", "line 2: status 'bogus' is not ok, failed or skipped" },
		{ "\nown,,,24,24,16,0,", "\nown,,,24,24,16,-1,", "line 2: column 'kl_mean' is '-1', not a finite non-negative number" },
		{ "design,pattern,", "design,pattern_label,", "is not an e2e.csv of this sabench: its header differs" },
	};
	for (size_t i = 0; i < sizeof dmg / sizeof *dmg; i++) {
		char *bad = strdup(whole), *at = strstr(bad, dmg[i].from);
		cr_assert_not_null(at, "%s", dmg[i].from);
		size_t n = strlen(dmg[i].from), m = strlen(dmg[i].to);
		char *s = malloc(strlen(bad) + m + 1);
		snprintf(s, strlen(bad) + m + 1, "%.*s%s%s", (int)(at - bad), bad, dmg[i].to, at + n);
		write_text(path, s);
		cr_assert_eq(e2e_read(out, &t, &e), -1, "%s read", dmg[i].to);
		cr_assert(strstr(e.msg, dmg[i].want), "got '%s'", e.msg);
		free(s);
		free(bad);
	}
	free(whole);
}

/* A sharded run: shard 1 runs the e2e block, shard 2 does not, and merge
 * carries shard 1's e2e.csv over byte for byte. */
Test(wholemodel, merge_carries_the_e2e_rows, .timeout = 120)
{
	const char *dir = temp_dir();
	char yaml[600], a[600], b[600], c[600], path[700], *err = NULL;

	write_experiment(dir, designs, "");
	snprintf(yaml, sizeof yaml, "%s/x.yaml", dir);
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	snprintf(c, sizeof c, "%s/c", dir);
	char *s1[] = { "sabench", "run", yaml, "-o", a, "--shard", "1/2", NULL };
	char *s2[] = { "sabench", "run", yaml, "-o", b, "--shard", "2/2", NULL };
	char *mg[] = { "sabench", "merge", a, b, "-o", c, NULL };
	cr_assert_eq(run_bin(s1, NULL, &err), 0, "%s", err);
	free(err);
	cr_assert_eq(run_bin(s2, NULL, &err), 0, "%s", err);
	free(err);
	snprintf(path, sizeof path, "%s/e2e.csv", b);
	cr_assert_neq(access(path, F_OK), 0, "shard 2 ran the e2e block too");
	cr_assert_eq(run_bin(mg, NULL, &err), 0, "%s", err);
	free(err);
	snprintf(path, sizeof path, "%s/e2e.csv", a);
	char *one = read_text(path);
	snprintf(path, sizeof path, "%s/e2e.csv", c);
	char *merged = read_text(path);
	cr_assert_eq(count_lines(one), 9);
	cr_assert_str_eq(merged, one);
	free(one);
	free(merged);
}
