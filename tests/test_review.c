/* test_review.c - the design-review outputs: every gnuplot script on a
 * small results.csv made here (PNG of the right size), a CSV missing
 * optional columns, report.md values for a known run, and compare against
 * U tests computed here independently, with its --fail exit status. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kernels/kernel.h"
#include "helpers.h"

static const char *const tiny_review =
	"name: review\n"
	"shape: {heads: 1, kv_heads: 1, head_dim: 16, threads: 1}\n"
	"sweep: {seq_len: [32, 100]}\n"
	"patterns: [dense, {window: {size: 8}}]\n"
	"kernels: [naive, masked]\n"
	"run: {warmup: 0, repeats: 3, min_time_ms: 0}\n"
	"counters: [sabench::pairs]\n";

static void run_review(const char *dir, char *out)
{
	char exp[256];
	char *err = NULL;

	snprintf(exp, sizeof exp, "%s/review.yaml", dir);
	snprintf(out, 256, "%s/out", dir);
	write_text(exp, tiny_review);
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
	free(err);
}

static int has_gnuplot(void)
{
	return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

/* Width and height from a PNG's IHDR chunk; 0 when not a PNG. */
static void png_size(const char *path, unsigned *w, unsigned *h)
{
	unsigned char b[24] = { 0 };
	FILE *f = fopen(path, "rb");

	*w = *h = 0;
	if (!f)
		return;
	if (fread(b, 1, 24, f) == 24 && !memcmp(b, "\x89PNG", 4)) {
		*w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
		*h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
	}
	fclose(f);
}

Test(review, every_script_draws_its_picture, .timeout = 120)
{
	char out[256], png[400];
	const char *names[] = { "latency", "flops", "memory", "speedup", "roofline", "pareto",
				"quality", "masks" };
	unsigned w, h;

	if (!has_gnuplot())
		cr_skip_test("gnuplot is not installed");
	run_review(temp_dir(), out);
	char *argv[] = { "sabench", "plot", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, NULL), 0);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		snprintf(png, sizeof png, "%s/plots/%s.png", out, names[i]);
		png_size(png, &w, &h);
		cr_assert(w >= 600 && h >= 350, "%s is %ux%u", png, w, h);
	}
	snprintf(png, sizeof png, "%s/plots/latency.png", out);
	png_size(png, &w, &h);
	cr_assert_eq(w, 560 + 80, "one facet: latency is 640 pixels wide");
}

Test(review, missing_optional_columns_still_plot, .timeout = 60)
{
	const char *dir = temp_dir();
	char csv[300], plots[300], cmd[1200], png[400], *out = NULL;
	struct stat st;
	FILE *p;
	size_t got;

	if (!has_gnuplot())
		cr_skip_test("gnuplot is not installed");
	snprintf(csv, sizeof csv, "%s/results.csv", dir);
	snprintf(plots, sizeof plots, "%s/plots", dir);
	mkdir(plots, 0777);
	write_text(csv,
		   "pattern,pattern_label,kernel,threads,head_dim,seq_len,time_median_s,time_min_s,time_p90_s,flops,flops_exec,gflops,kv_cache_bytes,score_bytes\n"
		   "window,w8,naive,1,16,32,0.001,0.0009,0.0011,1e6,1e6,1,1024,64\n"
		   "window,w8,naive,1,16,64,0.002,0.0019,0.0021,2e6,2e6,1,1024,64\n");
	snprintf(cmd, sizeof cmd,
		 "for s in latency memory roofline; do gnuplot -e \"csv='%s'; outdir='%s'\" %s/$s.gp 2>&1; done",
		 csv, plots, root_path("plots"));
	p = popen(cmd, "r");
	out = calloc(1, 8192);
	got = fread(out, 1, 8191, p);
	out[got] = 0;
	cr_assert_eq(pclose(p), 0, "%s", out);
	cr_assert(strstr(out, "memory.gp left out peak_rss_bytes"), "%s", out);
	cr_assert(strstr(out, "roofline.gp left out"), "%s", out);
	snprintf(png, sizeof png, "%s/latency.png", plots);
	cr_assert_eq(stat(png, &st), 0);
	snprintf(png, sizeof png, "%s/memory.png", plots);
	cr_assert_eq(stat(png, &st), 0);
	free(out);
}

/* A manifest's kernel entry with its bf16 path on another ISA (as on a
 * CPU with AMX): rewritten in place. */
static void manifest_kernel_on_amx(const char *out)
{
	char path[300], *text, *at, *fixed;
	const char *from = "{name: naive, isa: compiler}", *to = "{name: naive, isa: avx512, isa_bf16: amx}";

	snprintf(path, sizeof path, "%s/manifest.yaml", out);
	text = read_text(path);
	at = text ? strstr(text, from) : NULL;
	cr_assert_not_null(at, "%s", text);
	fixed = calloc(1, strlen(text) + strlen(to));
	memcpy(fixed, text, (size_t)(at - text));
	strcat(fixed, to);
	strcat(fixed, at + strlen(from));
	write_text(path, fixed);
	free(fixed);
	free(text);
}

Test(review, report_holds_the_tables, .timeout = 60)
{
	char out[256], path[300], *md;

	run_review(temp_dir(), out);
	manifest_kernel_on_amx(out);
	char *argv[] = { "sabench", "report", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/report.md", out);
	md = read_text(path);
	cr_assert_not_null(md);
	cr_assert(strstr(md, "# review: sabench report\n"));
	cr_assert(strstr(md, "## Results at n = 32\n"));
	cr_assert(strstr(md, "## Results at n = 100\n"));
	/* dense keeps 2 x 100 x 16 x 4 B = 12.5 KiB; window 8 keeps 1 KiB: 12.5x */
	cr_assert(strstr(md, "| 1.00x | 12.5 KiB | 1.0x | yes |"), "%s", md);
	cr_assert(strstr(md, "| 1.0 KiB | 12.5x | yes |"), "%s", md);
	cr_assert(strstr(md, "| window(size=8) | `window: {size: 8}` |"));
	cr_assert(strstr(md, "## Best kernel per pattern (n = 100)"));
	cr_assert(strstr(md, "## Skipped or failed cells\n\nNone."));
	cr_assert(strstr(md, "| naive | avx512 (bf16: amx) |"), "%s", md);
	cr_assert(strstr(md, "| masked | compiler |"), "%s", md);
	free(md);
}

/* U of a against b by counting pairs, and its two-sided p by the normal
 * approximation with continuity correction (no ties in these samples). */
static void reference_u(const double *a, int na, const double *b, int nb,
			double *u, double *p)
{
	double mu = na * nb / 2.0, sd = sqrt(na * nb * (na + nb + 1) / 12.0), z;

	*u = 0;
	for (int i = 0; i < na; i++)
		for (int j = 0; j < nb; j++)
			*u += a[i] > b[j] ? 1 : a[i] == b[j] ? 0.5 : 0;
	z = (fabs(*u - mu) - 0.5) / sd;
	*p = 2 * (1 - 0.5 * (1 + erf(z / sqrt(2))));
}

/* A results folder with cells c1 (times ta) and c2 (times tb) or c3. */
static void fake_run(const char *dir, const double *t1, const double *t2,
		     int n, const char *second)
{
	char path[400], line[200];
	FILE *f;

	mkdir(dir, 0777);
	snprintf(path, sizeof path, "%s/results.csv", dir);
	f = fopen(path, "w");
	fprintf(f, "experiment,cell,time_median_s,status\n");
	fprintf(f, "x,c1,%.9g,ok\nx,%s,%.9g,ok\n", t1[n / 2], second, t2[n / 2]);
	fclose(f);
	snprintf(path, sizeof path, "%s/samples.csv", dir);
	f = fopen(path, "w");
	fputs("experiment,cell,kernel,rep,time_s\n", f);
	for (int i = 0; i < n; i++) {
		snprintf(line, sizeof line, "x,c1,k,%d,%.9g\nx,%s,k,%d,%.9g\n", i, t1[i], second, i, t2[i]);
		fputs(line, f);
	}
	fclose(f);
}

Test(review, compare_matches_independent_u_tests, .timeout = 60)
{
	const char *dir = temp_dir();
	char a[300], b[300], path[400], *out = NULL, *csv;
	/* sorted samples (the medians sit in the middle) */
	double a1[9] = { 1.00, 1.01, 1.02, 1.03, 1.04, 1.05, 1.06, 1.07, 1.08 };
	double b1[9] = { 1.20, 1.21, 1.22, 1.23, 1.24, 1.25, 1.26, 1.27, 1.28 };
	double a2[9] = { 2.00, 2.10, 2.20, 2.30, 2.40, 2.50, 2.60, 2.70, 2.80 };
	double b2[9] = { 2.05, 2.15, 2.25, 2.35, 2.45, 2.55, 2.65, 2.75, 2.85 };
	double u, p;
	char want[200];

	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	fake_run(a, a1, a2, 9, "c2");
	fake_run(b, b1, b2, 9, "c3");
	char *argv[] = { "sabench", "compare", a, b, NULL };
	cr_assert_eq(run_bin(argv, &out, NULL), 0);
	cr_assert(strstr(out, "only in A: c2\n"), "%s", out);
	cr_assert(strstr(out, "only in B: c3\n"), "%s", out);
	snprintf(path, sizeof path, "%s/compare/compare.csv", b);
	csv = read_text(path);
	cr_assert_not_null(csv);
	reference_u(a1, 9, b1, 9, &u, &p);
	snprintf(want, sizeof want, "c1,1.04,1.24,%.6g,%.1f,%.6g,9,9,slower\n", 1.24 / 1.04, u, p);
	cr_assert(strstr(csv, want), "want %s in\n%s", want, csv);
	cr_assert(strstr(out, "geometric mean of B/A over 1 cells: 1.1923"), "%s", out);
	free(out);
	free(csv);
	char *fail[] = { "sabench", "compare", a, b, "--fail", NULL };
	cr_assert_eq(run_bin(fail, NULL, NULL), 1, "c1 is 19% slower: --fail exits 1");
	char *loose[] = { "sabench", "compare", a, b, "--fail", "--threshold", "25%", NULL };
	cr_assert_eq(run_bin(loose, NULL, NULL), 0, "under a 25% threshold it passes");
	/* overlapping samples: no significant difference */
	fake_run(a, a2, a1, 9, "c2");
	fake_run(b, b2, a1, 9, "c2");
	char *same[] = { "sabench", "compare", a, b, "--fail", NULL };
	cr_assert_eq(run_bin(same, &out, NULL), 0, "%s", out);
	reference_u(a2, 9, b2, 9, &u, &p);
	snprintf(path, sizeof path, "%s/compare/compare.csv", b);
	csv = read_text(path);
	snprintf(want, sizeof want, "c1,2.4,2.45,%.6g,%.1f,%.6g,9,9,same\n", 2.45 / 2.4, u, p);
	cr_assert(strstr(csv, want), "want %s in\n%s", want, csv);
	free(out);
	free(csv);
}

/* Inputs and quality end to end: gaussian and synthetic inputs crossed
 * with the patterns, the quality columns (dense keeps exactly all),
 * quality.csv per head with the head types, the heads picture, and the
 * report's per-head choice, which validates as an experiment's patterns. */
Test(review, quality_outputs_end_to_end, .timeout = 120)
{
	const char *dir = temp_dir();
	char exp[300], out[300], path[400], *md, *snip, *end, back[4096];
	struct csv t;
	int dense = 0, window = 0;

	snprintf(exp, sizeof exp, "%s/q.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, "name: q\nshape: {heads: 5, head_dim: 16, threads: 2}\nsweep: {seq_len: [64, 200]}\n"
		   "inputs: [gaussian, synthetic]\n"
		   "patterns: [dense, {window: {size: 16}}, {sink_window: {sinks: 4, size: 12}}]\n"
		   "kernels: [naive, tiled]\nrun: {warmup: 0, repeats: 1, min_time_ms: 0}\nquality: {rows: 32}\n");
	char *run[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(run, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);
	cr_assert_eq(t.nrow, 2 * 2 * 3 * 2, "seq_len x inputs x patterns x kernels");
	for (int i = 0; i < t.nrow; i++) {
		if (!strcmp(csv_get(&t, i, "pattern"), "dense")) {
			cr_assert_str_eq(csv_get(&t, i, "recall_mean"), "1");
			cr_assert_str_eq(csv_get(&t, i, "out_err_max"), "0");
			dense++;
		} else if (!strcmp(csv_get(&t, i, "pattern"), "window")) {
			cr_assert(atof(csv_get(&t, i, "recall_mean")) < 1.0);
			cr_assert(atof(csv_get(&t, i, "recall_mean")) <= atof(csv_get(&t, i, "recall_best_mean")) + 1e-9);
			window++;
		}
		cr_assert_str_eq(csv_get(&t, i, "quality_rows"), atol(csv_get(&t, i, "seq_len")) == 64 ? "320" : "1000",
				 "every row of the 5 heads (n x n <= 2^20)");
	}
	cr_assert(dense == 8 && window == 8);
	csv_free(&t);
	snprintf(path, sizeof path, "%s/quality.csv", out);
	csv_load(&t, path);
	cr_assert_eq(t.nrow, 2 * 2 * 3 * 5, "a line per group and head");
	cr_assert_str_eq(csv_get(&t, 15, "inputs"), "synthetic");
	cr_assert_str_eq(csv_get(&t, 15, "head_type"), "sink_local");
	cr_assert_str_eq(csv_get(&t, 19, "head_type"), "diffuse");
	csv_free(&t);
	if (has_gnuplot()) {
		unsigned w, h;
		char *plot[] = { "sabench", "plot", out, NULL };
		cr_assert_eq(run_bin(plot, NULL, NULL), 0);
		snprintf(path, sizeof path, "%s/plots/heads.png", out);
		png_size(path, &w, &h);
		cr_assert(w > 0 && h > 0, "heads.png");
	}
	char *rep[] = { "sabench", "report", out, NULL };
	cr_assert_eq(run_bin(rep, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/report.md", out);
	md = read_text(path);
	cr_assert(strstr(md, "## What each pattern keeps"));
	cr_assert(strstr(md, "| dense | 1.0000 | 1.000 | 1.000 | 1.000 | 0.000 | 1.00x | **yes** |"));
	snip = strstr(md, "  - label: per-head-synthetic\n");
	cr_assert_not_null(snip, "a per_head snippet for the synthetic inputs");
	end = strstr(snip, "```");
	cr_assert_not_null(end);
	snprintf(back, sizeof back, "name: back\nshape: {heads: 5, head_dim: 16}\nsweep: {seq_len: [64]}\npatterns:\n%.*skernels: [naive]\n",
		 (int)(end - snip), snip);
	snprintf(exp, sizeof exp, "%s/back.yaml", dir);
	write_text(exp, back);
	char *val[] = { "sabench", "validate", exp, NULL };
	cr_assert_eq(run_bin(val, NULL, NULL), 0, "the snippet is an experiment's patterns:\n%s", back);
	free(md);
}

/* Past twelve (and twenty-four) patterns, every series of a picture
 * keeps its own colour and marker pair: common.gp's choice for 30 patterns
 * x 3 kernels, and for the pattern-only series, printed by gnuplot. */
Test(review, series_never_share_colour_and_marker, .timeout = 60)
{
	const char *dir = temp_dir();
	char csv[300], gp[300], cmd[1200], line[128], seen[200][32];
	FILE *f, *p;
	int n = 0, per_pattern = 0;

	if (!has_gnuplot())
		cr_skip_test("gnuplot is not installed");
	snprintf(csv, sizeof csv, "%s/results.csv", dir);
	f = fopen(csv, "w");
	cr_assert_not_null(f);
	fputs("pattern_label,kernel,threads,head_dim,seq_len,time_median_s\n", f);
	for (int i = 0; i < 30; i++)
		for (int j = 0; j < 3; j++)
			fprintf(f, "p%d,k%d,1,16,64,0.001\n", i, j);
	fclose(f);
	snprintf(gp, sizeof gp, "%s/probe.gp", dir);
	f = fopen(gp, "w");
	cr_assert_not_null(f);
	fprintf(f, "load '%s/common.gp'\n"
		"do for [i=1:NP] { do for [j=1:NK] { print sprintf('s %%s %%d', colour(i), marker(i, j)) } }\n"
		"do for [i=1:NP] { print sprintf('p %%s %%d', colour(i), pmark(i)) }\n",
		root_path("plots"));
	fclose(f);
	snprintf(cmd, sizeof cmd, "gnuplot -e \"csv='%s'; outdir='%s'\" '%s' 2>&1", csv, dir, gp);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof line, p) && n < 200) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] != 's' && line[0] != 'p')
			continue;
		for (int k = 0; k < n; k++)
			cr_assert_str_neq(seen[k], line, "two series share colour and marker: %s", line);
		snprintf(seen[n++], sizeof seen[0], "%s", line);
		per_pattern += line[0] == 'p';
	}
	cr_assert_eq(pclose(p), 0);
	cr_assert_eq(n, 30 * 3 + 30, "every series printed: %d", n);
	cr_assert_eq(per_pattern, 30);
}

/* The quick mode of `sabench machine` (what a first `make run` does
 * without results/machine.yaml): a row per thread count, marked quick,
 * and a run reading it fills pct_peak. */
Test(review, quick_machine_fills_pct_peak, .timeout = 120)
{
	const char *dir = temp_dir();
	char m[300], exp[300], out[300], path[400], *text;
	struct csv t;
	int filled = 0;

	snprintf(m, sizeof m, "%s/machine.yaml", dir);
	char *argv[] = { "sabench", "machine", "--quick", "--threads", "2", "-o", m, NULL };
	cr_assert_eq(run_bin(argv, NULL, NULL), 0);
	text = read_text(m);
	cr_assert_not_null(text);
	cr_assert(strstr(text, "\nquick: true"), "%s", text);
	cr_assert(strstr(text, "{threads: 1, ") && strstr(text, "{threads: 2, "), "%s", text);
	/* the bf16 ceilings: measured where the CPU has the instructions */
	for (int isa = KERN_AVX512BF16; isa <= KERN_AMX; isa++) {
		char key[64];
		const char *at;
		snprintf(key, sizeof key, "bf16_%s_gflops: ", kern_isa_name((enum kern_isa)isa));
		at = strstr(text, key);
		cr_assert_not_null(at, "%s lacks %s", text, key);
		cr_assert((atof(at + strlen(key)) > 0) == !kern_isa_unsupported((enum kern_isa)isa),
			  "%s%s on a CPU that %s", key, at + strlen(key),
			  kern_isa_unsupported((enum kern_isa)isa) ? "lacks it" : "has it");
	}
	free(text);
	setenv("SABENCH_MACHINE", m, 1);
	snprintf(exp, sizeof exp, "%s/p.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, "name: p\nshape: {heads: 2, head_dim: 16, threads: 2}\nsweep: {seq_len: [128]}\n"
		   "patterns: [dense]\nkernels: [naive, tiled]\nrun: {warmup: 0, repeats: 1, min_time_ms: 0}\n");
	char *run[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(run, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);
	for (int i = 0; i < t.nrow; i++)
		filled += csv_get(&t, i, "pct_peak")[0] != 0;
	cr_assert_eq(filled, t.nrow, "pct_peak in every row");
	csv_free(&t);
}

/* The ceiling a row's pct_peak divides by is that of the path the row ran
 * (its isa column): the bf16 dot products' for the bf16 paths, fp32 FMA's
 * otherwise, the best fp32 one for plain C. The ceilings are made up and
 * distinct, so a row measured against another's is caught. */
Test(review, pct_peak_uses_the_ceiling_of_the_rows_path, .timeout = 120)
{
	const char *dir = temp_dir();
	static const struct { const char *isa; double peak; } ceiling[] = {
		{ "amx", 5000 }, { "avx512bf16", 1000 }, { "avx512", 300 }, { "avx2", 100 },
		{ "portable", 300 }, { "compiler", 300 },
	};
	char m[300], exp[300], out[300], path[400];
	struct csv t;

	snprintf(m, sizeof m, "%s/machine.yaml", dir);
	write_text(m, "cpu: \"made up\"\nquick: false\nthreads:\n"
		   "  - {threads: 1, fma_avx512_gflops: 300.0, fma_avx2_gflops: 100.0, "
		   "bf16_amx_gflops: 5000.0, bf16_avx512bf16_gflops: 1000.0, triad_gbs: 10.0, read_gbs: 10.0}\n");
	setenv("SABENCH_MACHINE", m, 1);
	snprintf(exp, sizeof exp, "%s/p.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, "name: p\nshape: {heads: 2, head_dim: 32, threads: 1}\n"
		   "sweep: {seq_len: [128], dtype: [f32, bf16]}\npatterns: [dense]\n"
		   "kernels: [naive, gather, tiled]\nrun: {warmup: 0, repeats: 1, min_time_ms: 0}\n");
	char *run[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(run, NULL, NULL), 0);
	unsetenv("SABENCH_MACHINE");
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);
	cr_assert_eq(t.nrow, 6);
	for (int i = 0; i < t.nrow; i++) {
		const char *isa = csv_get(&t, i, "isa"), *k = csv_get(&t, i, "kernel");
		int bf16 = !strcmp(csv_get(&t, i, "dtype"), "bf16");
		const struct kern_desc *kd = kern_find(k);
		double peak = 0, want;
		cr_assert_str_eq(isa, kd->simd ? kern_isa_name(kern_desc_isa(kd, bf16)) : "compiler",
				 "%s %s", k, csv_get(&t, i, "dtype"));
		for (size_t c = 0; c < sizeof ceiling / sizeof ceiling[0]; c++)
			if (!strcmp(isa, ceiling[c].isa))
				peak = ceiling[c].peak;
		want = 100.0 * atof(csv_get(&t, i, "gflops")) / peak;
		cr_assert(fabs(atof(csv_get(&t, i, "pct_peak")) - want) <= 0.01 * want + 1e-3,
			  "%s %s on %s: pct_peak %s, want %g", k, csv_get(&t, i, "dtype"), isa,
			  csv_get(&t, i, "pct_peak"), want);
	}
	csv_free(&t);
}

/* The report's tables show each axis that varies in the run and only
 * those: with gaussian and synthetic inputs a row names its inputs (the
 * default run's "dense | naive | 1 | 64" rows twice, told apart), and
 * threads and head_dim, fixed here, take no column. */
Test(review, report_rows_name_every_axis_that_varies, .timeout = 60)
{
	const char *dir = temp_dir();
	char exp[300], out[300], path[400], *md, *table, *end;
	char *err = NULL;

	snprintf(exp, sizeof exp, "%s/two.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, "name: two\nshape: {heads: 2, head_dim: 16, threads: 1}\nsweep: {seq_len: [64]}\n"
		   "inputs: [gaussian, synthetic]\npatterns: [dense, {window: {size: 8}}]\n"
		   "kernels: [naive]\nrun: {warmup: 0, repeats: 1, min_time_ms: 0}\n");
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
	free(err);
	char *rep[] = { "sabench", "report", out, NULL };
	cr_assert_eq(run_bin(rep, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/report.md", out);
	md = read_text(path);
	cr_assert_not_null(md);
	table = strstr(md, "## Results at n = 64\n\n");
	cr_assert_not_null(table, "%s", md);
	end = strstr(table + 3, "\n## ");
	cr_assert_not_null(end);
	*end = 0;
	cr_assert(strstr(table, "| pattern | kernel | inputs | median (ms) |"), "%s", table);
	cr_assert_null(strstr(table, "threads"), "threads does not vary: %s", table);
	cr_assert_null(strstr(table, "head_dim"), "head_dim does not vary: %s", table);
	cr_assert(strstr(table, "| dense | naive | gaussian | "), "%s", table);
	cr_assert(strstr(table, "| dense | naive | synthetic | "), "%s", table);
	/* each window row is measured against the dense row of its own inputs */
	cr_assert(strstr(table, "| window(size=8) | naive | synthetic | "), "%s", table);
	*end = '\n';
	cr_assert(strstr(md, "| pattern | inputs | best kernel |"), "%s", md);
	free(md);
}

/* A picture whose panel would hold more than about eight series splits
 * its panels by the first varying axis instead (inputs): 3 patterns x 2
 * kernels x 2 inputs are 12 series in one panel, 6 in each of two. */
Test(review, crowded_panels_split_by_inputs, .timeout = 60)
{
	const char *dir = temp_dir();
	char csv[300], gp[300], cmd[1200], buf[512] = "";
	FILE *f, *p;
	size_t got;

	if (!has_gnuplot())
		cr_skip_test("gnuplot is not installed");
	snprintf(csv, sizeof csv, "%s/results.csv", dir);
	f = fopen(csv, "w");
	cr_assert_not_null(f);
	fputs("pattern_label,kernel,inputs,threads,head_dim,seq_len,time_median_s\n", f);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 2; j++)
			for (int k = 0; k < 2; k++)
				fprintf(f, "p%d,k%d,%s,1,16,64,0.001\n", i, j, k ? "synthetic" : "gaussian");
	fclose(f);
	snprintf(gp, sizeof gp, "%s/probe.gp", dir);
	f = fopen(gp, "w");
	cr_assert_not_null(f);
	fprintf(f, "load '%s/common.gp'\nprint sprintf('NK %%d NF %%d', NK, NF)\n"
		"do for [f=1:NF] { print facet(f) }\n", root_path("plots"));
	fclose(f);
	snprintf(cmd, sizeof cmd, "gnuplot -e \"csv='%s'; outdir='%s'\" '%s' 2>&1", csv, dir, gp);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	got = fread(buf, 1, sizeof buf - 1, p);
	buf[got] = 0;
	cr_assert_eq(pclose(p), 0, "%s", buf);
	cr_assert(strstr(buf, "NK 2 NF 2\n"), "%s", buf);
	cr_assert(strstr(buf, "threads 1, head_dim 16, inputs gaussian\n"), "%s", buf);
	cr_assert(strstr(buf, "threads 1, head_dim 16, inputs synthetic\n"), "%s", buf);
}
