/* test_readback.c - report and plot on results folders damaged one field
 * or one column at a time: every column a run writes is checked against
 * its definition when read back (type, range, vocabulary), results.csv
 * and quality.csv alike, and each damage is refused with exit 2 and the
 * file, line, column and value; the undamaged folder passes (negative
 * control). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

static const char *const small_decode =
	"name: readback\n"
	"shape: {heads: 2, kv_heads: 1, head_dim: 32, threads: 1}\n"
	"sweep: {seq_len: [48], mode: [prefill, decode], kv_dtype: [f16, q8_0]}\n"
	"patterns: [dense, {window: {size: 8}}]\n"
	"kernels: [naive, decode]\n"
	"run: {warmup: 0, repeats: 2, min_time_ms: 0}\n"
	"quality: {rows: 8}\n";

/* A field written back as CSV: quoted when it holds a comma or quote. */
static void put_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* Writes t to path with field (row 0, column col) set to value, or with
 * column col left out when value is NULL. */
static void write_damaged(const struct csv *t, const char *path, int col, const char *value)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	for (int i = -1; i < t->nrow; i++) {
		int first = 1;
		for (int j = 0; j < t->ncol; j++) {
			if (j == col && !value)
				continue;
			if (!first)
				fputc(',', f);
			first = 0;
			put_field(f, i < 0 ? t->head[j] : i == 0 && j == col ? value : t->row[i][j]);
		}
		fputc('\n', f);
	}
	fclose(f);
}

/* Writes t to path with every non-empty pct_peak and pct_bw at 50: a
 * folder whose cells are all below their ceilings, whatever the run
 * measured on a loaded host. */
static void write_below_ceilings(const struct csv *t, const char *path)
{
	int peak = csv_col(t, "pct_peak"), bw = csv_col(t, "pct_bw");
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	for (int i = -1; i < t->nrow; i++) {
		for (int j = 0; j < t->ncol; j++) {
			const char *v = i < 0 ? t->head[j] : t->row[i][j];

			if (j)
				fputc(',', f);
			put_field(f, i >= 0 && (j == peak || j == bw) && *v ? "50" : v);
		}
		fputc('\n', f);
	}
	fclose(f);
}

struct damage {
	const char *file;       /* results.csv or quality.csv */
	const char *column;
	const char *value;      /* NULL: the column is left out */
	const char *why;        /* after "'value' ", or the whole message tail */
};

static const struct damage damages[] = {
	/* results.csv: the last wave's columns */
	{ "results.csv", "mode", "prefil", "is not a mode (prefill, decode, extend)" },
	{ "results.csv", "kv_dtype", "q5_1", "is not a storage type (sabench list dtypes)" },
	{ "results.csv", "kv_layout", "ringg", "is not a cache layout (full, ring, sink_ring, paged)" },
	{ "results.csv", "head_dim_v", "0", "is below 1" },
	{ "results.csv", "seq_time_s", "0.1 abc", "is not numbers separated by spaces" },
	{ "results.csv", "seq_time_s", "0.1 -2", "is not numbers separated by spaces" },
	{ "results.csv", "ragged", "lengths(1, 2)", "holds a comma, quote or newline, which sabench never writes there" },
	{ "results.csv", "ragged", "batch(1 2)", "is not a ragged batch's label (lengths(...), lognormal(...), uniform(...))" },
	{ "results.csv", "ragged", "lengths(1 2", "is not a ragged batch's label (lengths(...), lognormal(...), uniform(...))" },
	{ "results.csv", "extend_tokens", "-3", "is negative" },
	{ "results.csv", "decode_steps", "two", "is not a whole number" },
	{ "results.csv", "time_one_by_one_s", "inf", "is not finite" },
	/* and the older ones, for their vocabularies and ranges */
	{ "results.csv", "dtype", "f33", "is not a storage type (sabench list dtypes)" },
	{ "results.csv", "verified", "maybe", "is not yes or no" },
	{ "results.csv", "causal", "2", "is not 0 or 1" },
	{ "results.csv", "heads", "0", "is below 1" },
	{ "results.csv", "threads", "0", "is below 1" },
	{ "results.csv", "seq_len", "0", "is below 1" },
	{ "results.csv", "density", "1.5", "is above 1, a share's most" },
	{ "results.csv", "recall_mean", "1.2", "is above 1, a share's most" },
	{ "results.csv", "pattern_label", "window(size=8), x", "holds a comma, quote or newline, which sabench never writes there" },
	{ "results.csv", "kernel", "naive\"", "holds a comma, quote or newline, which sabench never writes there" },
	{ "results.csv", "time_median_s", NULL, "no column 'time_median_s'" },
	{ "results.csv", "cell", NULL, "no column 'cell'" },
	{ "results.csv", "kv_dtype", NULL, "no column 'kv_dtype'" },
	/* quality.csv */
	{ "quality.csv", "recall_mean", "2.5", "is above 1, a share's most" },
	{ "quality.csv", "recall_min", "-0.1", "is negative" },
	{ "quality.csv", "recall_best_mean", "1.01", "is above 1, a share's most" },
	{ "quality.csv", "density", "nan", "is not finite" },
	{ "quality.csv", "head", "-1", "is negative" },
	{ "quality.csv", "heads", "0", "is below 1" },
	{ "quality.csv", "mode", "decoding", "is not a mode (prefill, decode, extend)" },
	{ "quality.csv", "kv_dtype", "q9", "is not a storage type (sabench list dtypes)" },
	{ "quality.csv", "kv_recall_mean", "3", "is above 1, a share's most" },
	{ "quality.csv", "head_type", "sink, local", "holds a comma, quote or newline, which sabench never writes there" },
	{ "quality.csv", "out_err_mean", "", "is empty" },
	{ "quality.csv", "group", NULL, "no column 'group'" },
	{ "quality.csv", "recall_mean", NULL, "no column 'recall_mean'" },
};

static void copy_file(const char *from, const char *to)
{
	char *text = read_text(from);

	write_text(to, text);
	free(text);
}

Test(readback, each_damaged_column_is_refused_by_report_and_plot, .timeout = 120)
{
	const char *dir = temp_dir();
	char exp[300], good[300], bad[300], path[400], want[800], *err = NULL;
	static const char *const files[] = { "results.csv", "quality.csv", "manifest.yaml", "samples.csv" };

	snprintf(exp, sizeof exp, "%s/r.yaml", dir);
	snprintf(good, sizeof good, "%s/good", dir);
	snprintf(bad, sizeof bad, "%s/bad", dir);
	write_text(exp, small_decode);
	char *run[] = { "sabench", "run", exp, "-o", good, NULL };
	cr_assert_eq(run_bin(run, NULL, &err), 0, "%s", err);
	free(err);
	char *report_good[] = { "sabench", "report", good, NULL };
	cr_assert_eq(run_bin(report_good, NULL, &err), 0, "the undamaged folder: %s", err);
	free(err);
	mkdir(bad, 0777);
	for (size_t k = 0; k < sizeof damages / sizeof *damages; k++) {
		const struct damage *d = &damages[k];
		struct csv t;
		for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
			char from[400], to[400];
			snprintf(from, sizeof from, "%s/%s", good, files[f]);
			snprintf(to, sizeof to, "%s/%s", bad, files[f]);
			copy_file(from, to);
		}
		snprintf(path, sizeof path, "%s/%s", good, d->file);
		csv_load(&t, path);
		int col = csv_col(&t, d->column);
		cr_assert_geq(col, 0, "%s has no column %s", d->file, d->column);
		snprintf(path, sizeof path, "%s/%s", bad, d->file);
		write_damaged(&t, path, col, d->value);
		csv_free(&t);
		if (d->value)
			snprintf(want, sizeof want, "sabench: %s:2: column '%s': '%s' %s\n", path, d->column,
				 d->value, d->why);
		else
			snprintf(want, sizeof want, "sabench: %s:1: %s: not a file this sabench wrote (or written by another version)\n",
				 path, d->why);
		for (int cmd = 0; cmd < 2; cmd++) {
			char *argv[] = { "sabench", cmd ? "plot" : "report", bad, NULL };
			cr_assert_eq(run_bin(argv, NULL, &err), 2, "%s of %s %s '%s': %s", argv[1], d->file,
				     d->column, d->value ? d->value : "(left out)", err);
			cr_assert_str_eq(err, want, "%s", argv[1]);
			free(err);
		}
	}
}

/* At least thirty damages, a class each: the corpus the issue asks of
 * post-processing. */
Test(readback, the_corpus_is_broad)
{
	cr_assert_geq(sizeof damages / sizeof *damages, 30);
}

/* A cell above 100% of its ceiling is a ceiling defect in report.md,
 * never a figure: its own section names it and the table says so; the
 * same folder with every cell at 50% has no such section (negative
 * control; what a real run measures on a shared host is for benchmarks,
 * not for a test). */
Test(readback, a_cell_above_its_ceiling_is_a_defect, .timeout = 120)
{
	const char *dir = temp_dir();
	char exp[300], out[300], path[400], *err = NULL, *text;
	struct csv t;

	snprintf(exp, sizeof exp, "%s/r.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, small_decode);
	char *run[] = { "sabench", "run", exp, "-o", out, NULL };
	char *report[] = { "sabench", "report", out, NULL };
	cr_assert_eq(run_bin(run, NULL, &err), 0, "%s", err);
	free(err);
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);
	write_below_ceilings(&t, path);
	cr_assert_eq(run_bin(report, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/report.md", out);
	text = read_text(path);
	cr_assert_null(strstr(text, "## Ceiling defects"), "%s", text);
	free(text);
	snprintf(path, sizeof path, "%s/results.csv", out);
	write_damaged(&t, path, csv_col(&t, "pct_peak"), "115.25");
	cr_assert_eq(run_bin(report, NULL, &err), 0, "%s", err);
	free(err);
	snprintf(path, sizeof path, "%s/report.md", out);
	text = read_text(path);
	cr_assert(strstr(text, "## Ceiling defects\n"), "%s", text);
	char want[600];
	snprintf(want, sizeof want, "| %s | 115.25 | ", t.row[0][csv_col(&t, "cell")]);
	cr_assert(strstr(text, want), "%s", text);
	cr_assert(strstr(text, "| 115.2 (ceiling defect) |"), "%s", text);
	free(text);
	csv_free(&t);
}

/* sabench plot names only the pictures it drew: a prefill run has no
 * decode cell for kv.png, whose script says why, and no "plot: .../kv.png"
 * follows (nor an old kv.png stays); latency.png is drawn and named
 * (negative control). */
Test(readback, plot_names_only_what_it_drew, .timeout = 120)
{
	const char *dir = temp_dir();
	char exp[300], out[300], path[400], want[500], *text = NULL, *err = NULL;

	if (system("command -v gnuplot >/dev/null 2>&1"))
		cr_skip_test("gnuplot is not installed");
	snprintf(exp, sizeof exp, "%s/p.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, "shape: {heads: 2, head_dim: 16, threads: 1}\nsweep: {seq_len: [32, 64]}\n"
			"patterns: [dense, {window: {size: 8}}]\nkernels: [naive]\n"
			"run: {warmup: 0, repeats: 2, min_time_ms: 0}\n");
	char *run[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(run, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/plots", out);
	mkdir(path, 0777);
	snprintf(path, sizeof path, "%s/plots/kv.png", out);
	write_text(path, "an old picture\n");
	char *plot[] = { "sabench", "plot", out, NULL };
	cr_assert_eq(run_bin(plot, &text, &err), 0, "%s", err);
	cr_assert(strstr(text, "kv.gp left out: no decode cell with a quality measure") ||
		  strstr(err, "kv.gp left out: no decode cell with a quality measure"), "%s%s", text, err);
	cr_assert_null(strstr(text, "/plots/kv.png"), "%s", text);
	cr_assert_null(strstr(err, "/plots/kv.png"), "%s", err);
	cr_assert_neq(access(path, F_OK), 0, "an old kv.png stayed");
	snprintf(want, sizeof want, "plot: %s/plots/latency.png and .svg", out);
	cr_assert(strstr(text, want) || strstr(err, want), "%s%s", text, err);
	free(text);
	free(err);
}
