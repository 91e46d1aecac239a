/* test_slurm.c - sharding and merging locally, and the whole path on a
 * real one-node SLURM cluster (tests/slurm/cluster-test.sh, which installs
 * slurm-wlm and munge when it can and says why when it cannot). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.h"

static const char *const sharded =
	"name: sharded\n"
	"shape: {heads: 2, head_dim: 16, threads: 1}\n"
	"sweep: {seq_len: [64, 128, 256]}\n"
	"patterns: [dense, {window: {size: 16}}]\n"
	"kernels: [naive, tiled]\n"
	"run: {warmup: 0, repeats: 2, min_time_ms: 0}\n"
	"counters: [sabench::pairs]\n";

Test(shards, shards_partition_the_plan_and_merge_back, .timeout = 60)
{
	const char *dir = temp_dir();
	char exp[256], shard[300], spec[16], merged[300], path[400], *out = NULL, *err = NULL;
	struct csv t;

	snprintf(exp, sizeof exp, "%s/sharded.yaml", dir);
	write_text(exp, sharded);
	for (int k = 1; k <= 3; k++) {
		snprintf(shard, sizeof shard, "%s/shards/%d-of-3", dir, k);
		snprintf(spec, sizeof spec, "%d/3", k);
		char *argv[] = { "sabench", "run", exp, "--shard", spec, "-o", shard, NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
		free(err);
	}
	snprintf(shard, sizeof shard, "%s/shards", dir);
	snprintf(merged, sizeof merged, "%s/merged", dir);
	char *merge[] = { "sabench", "merge", shard, "-o", merged, NULL };
	cr_assert_eq(run_bin(merge, &out, &err), 0, "%s", err);
	cr_assert(strstr(out, "merged 3 shards, 12 cells, from 1 machine"), "%s", out);
	free(out);
	free(err);
	snprintf(path, sizeof path, "%s/results.csv", merged);
	csv_load(&t, path);
	cr_assert_eq(t.nrow, 12);
	for (int i = 0; i < t.nrow; i++)
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(csv_get(&t, i, "cell"), csv_get(&t, j, "cell"));
	csv_free(&t);
	/* again: the folder holds a run; a shard given twice; a shard missing */
	cr_assert_eq(run_bin(merge, NULL, &err), 1);
	cr_assert(strstr(err, "holds a run already"), "%s", err);
	free(err);
	snprintf(path, sizeof path, "%s/shards/1-of-3", dir);
	char *twice[] = { "sabench", "merge", path, path, "-o", merged, "--force", NULL };
	cr_assert_eq(run_bin(twice, NULL, &err), 1);
	cr_assert(strstr(err, "shard 1 of 3 is given twice"), "%s", err);
	free(err);
	char *missing[] = { "sabench", "merge", path, "-o", merged, "--force", NULL };
	cr_assert_eq(run_bin(missing, NULL, &err), 1);
	cr_assert(strstr(err, "shard 2 of 3 is missing"), "%s", err);
	free(err);
}

/* Columns a rerun may change: the times and what is derived from them. */
static int measured_column(const char *name)
{
	static const char *const measured[] = { "time_", "gflops", "gbs", "peak_rss_bytes", "pct_",
						"ctr_", "round", "tokens_per_s", "probe_gbs", "kv_gbs",
						"seq_time_s" };

	for (size_t i = 0; i < sizeof measured / sizeof *measured; i++)
		if (!strncmp(name, measured[i], strlen(measured[i])))
			return 1;
	return 0;
}

/* a and b have the same columns and rows, equal in every column that is
 * not a measurement. */
static void same_up_to_timings(const char *a, const char *b)
{
	struct csv x, y;
	int compared = 0;

	csv_load(&x, a);
	csv_load(&y, b);
	cr_assert_eq(x.ncol, y.ncol, "%s and %s", a, b);
	cr_assert_eq(x.nrow, y.nrow, "%s has %d rows, %s %d", a, x.nrow, b, y.nrow);
	for (int j = 0; j < x.ncol; j++) {
		cr_assert_str_eq(x.head[j], y.head[j]);
		if (measured_column(x.head[j]))
			continue;
		for (int i = 0; i < x.nrow; i++, compared++)
			cr_assert_str_eq(x.row[i][j], y.row[i][j], "%s row %d, %s: '%s' merged as '%s'", a,
					 i + 1, x.head[j], x.row[i][j], y.row[i][j]);
	}
	cr_assert_gt(compared, x.nrow, "nothing compared in %s", a);
	csv_free(&x);
	csv_free(&y);
}

/* The section of report.md that starts with title, to the next "## ",
 * with the table cells past the first keep of each row cut (speed-up and
 * the front it decides are timings). */
static char *report_section(const char *dir, const char *title, int keep)
{
	char path[400], *text, *at, *end, *w;

	snprintf(path, sizeof path, "%s/report.md", dir);
	text = read_text(path);
	at = strstr(text, title);
	cr_assert_not_null(at, "no '%s' in %s", title, path);
	end = strstr(at + 3, "\n## ");
	if (end)
		end[1] = 0;
	w = text;
	for (const char *r = at; *r; ) {
		const char *nl = strchr(r, '\n');
		size_t len = nl ? (size_t)(nl - r + 1) : strlen(r);
		int bars = 0;
		for (size_t i = 0; i < len; i++) {
			bars += r[i] == '|';
			if (r[0] == '|' && bars > keep && r[i] == '|') {
				*w++ = '\n';
				break;
			}
			*w++ = r[i];
		}
		r += len;
	}
	*w = 0;
	return text;
}

/* Three shards merged are the single run, file by file, up to timings:
 * results.csv and samples.csv row for row in the same order, quality.csv
 * byte for byte, and the report's quality sections alike. */
Test(shards, merged_shards_equal_the_single_run, .timeout = 120)
{
	const char *dir = temp_dir();
	char exp[256], single[300], shard[300], spec[16], merged[300], a[400], b[400], *ta, *tb;
	static const char *const files[] = { "results.csv", "samples.csv" };
	static const char *const sections[] = { "## What each pattern keeps", "## Per head" };

	snprintf(exp, sizeof exp, "%s/q.yaml", dir);
	write_text(exp, "name: qshards\n"
			"shape: {heads: 2, kv_heads: 1, head_dim: 32, threads: 1}\n"
			"sweep: {seq_len: [40, 96], kv_dtype: [f16, q8_0], mode: [prefill, decode]}\n"
			"patterns: [dense, {window: {size: 8}}, {sink_window: {sinks: 2, size: 8}}]\n"
			"kernels: [naive, tiled, decode]\n"
			"run: {warmup: 0, repeats: 2, min_time_ms: 0}\n"
			"quality: {rows: 16}\n");
	snprintf(single, sizeof single, "%s/single", dir);
	char *one[] = { "sabench", "run", exp, "-o", single, NULL };
	cr_assert_eq(run_bin(one, NULL, NULL), 0);
	for (int k = 1; k <= 3; k++) {
		snprintf(shard, sizeof shard, "%s/shards/%d-of-3", dir, k);
		snprintf(spec, sizeof spec, "%d/3", k);
		char *argv[] = { "sabench", "run", exp, "--shard", spec, "-o", shard, NULL };
		cr_assert_eq(run_bin(argv, NULL, NULL), 0);
	}
	snprintf(shard, sizeof shard, "%s/shards", dir);
	snprintf(merged, sizeof merged, "%s/merged", dir);
	char *merge[] = { "sabench", "merge", shard, "-o", merged, NULL };
	cr_assert_eq(run_bin(merge, NULL, NULL), 0);
	for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
		snprintf(a, sizeof a, "%s/%s", single, files[f]);
		snprintf(b, sizeof b, "%s/%s", merged, files[f]);
		same_up_to_timings(a, b);
	}
	snprintf(a, sizeof a, "%s/quality.csv", single);
	snprintf(b, sizeof b, "%s/quality.csv", merged);
	ta = read_text(a);
	tb = read_text(b);
	cr_assert_gt(count_lines(ta), 10, "%s", ta);
	cr_assert_str_eq(ta, tb, "quality.csv differs");
	free(ta);
	free(tb);
	char *rep_single[] = { "sabench", "report", single, NULL };
	char *rep_merged[] = { "sabench", "report", merged, NULL };
	cr_assert_eq(run_bin(rep_single, NULL, NULL), 0);
	cr_assert_eq(run_bin(rep_merged, NULL, NULL), 0);
	for (size_t k = 0; k < sizeof sections / sizeof *sections; k++) {
		ta = report_section(single, sections[k], 6);
		tb = report_section(merged, sections[k], 6);
		cr_assert_str_eq(ta, tb);
		free(ta);
		free(tb);
	}
}

/* --shard takes K/N and nothing after it. */
Test(shards, a_shard_spec_with_a_tail_is_refused)
{
	static const char *const bad[] = { "1/2x", "1/2/3", "1/ 2 ", "0/2", "3/2", "1/0", "/2" };
	char *err = NULL;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char want[200];
		char *argv[] = { "sabench", "run", (char *)root_path("experiments/default.yaml"), "--shard",
				 (char *)bad[i], NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 2, "%s", bad[i]);
		snprintf(want, sizeof want, "sabench: --shard must be K/N with 1 <= K <= N, not '%s'\n", bad[i]);
		cr_assert(!strncmp(err, want, strlen(want)), "%s: %s", bad[i], err);
		free(err);
	}
}

Test(shards, merge_refuses_other_experiments, .timeout = 60)
{
	const char *dir = temp_dir();
	char a[256], b[256], s1[300], s2[300], merged[300], *err = NULL;

	snprintf(a, sizeof a, "%s/a.yaml", dir);
	snprintf(b, sizeof b, "%s/b.yaml", dir);
	write_text(a, sharded);
	write_text(b, "name: sharded\nshape: {heads: 2, head_dim: 16, threads: 1}\n"
		      "sweep: {seq_len: [64, 128, 256]}\npatterns: [dense]\nkernels: [naive]\n"
		      "run: {warmup: 0, repeats: 2, min_time_ms: 0}\ncounters: [sabench::pairs]\n");
	snprintf(s1, sizeof s1, "%s/s1", dir);
	snprintf(s2, sizeof s2, "%s/s2", dir);
	char *r1[] = { "sabench", "run", a, "--shard", "1/2", "-o", s1, NULL };
	char *r2[] = { "sabench", "run", b, "--shard", "2/2", "-o", s2, NULL };
	cr_assert_eq(run_bin(r1, NULL, NULL), 0);
	cr_assert_eq(run_bin(r2, NULL, NULL), 0);
	snprintf(merged, sizeof merged, "%s/m", dir);
	char *merge[] = { "sabench", "merge", s1, s2, "-o", merged, NULL };
	cr_assert_eq(run_bin(merge, NULL, &err), 1);
	cr_assert(strstr(err, "they ran different experiments"), "%s", err);
	free(err);
}

Test(slurm, real_cluster_runs_shards_and_merges, .timeout = 600)
{
	char cmd[8400];
	FILE *p;
	char line[1024];
	int status;

	snprintf(cmd, sizeof cmd, "bash '%s' '%s' 2>&1", root_path("tests/slurm/cluster-test.sh"),
		 getenv("SABENCH_BIN"));
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof line, p))
		cr_log_info("%s", line);        /* job ids, timings, the comparison */
	status = pclose(p);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		cr_skip_test("no SLURM cluster could be started here (see the log above)");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the SLURM test failed");
}

/* Paths with spaces and quotes are quoted in the scripts: a shard task's
 * line, run by bash as SLURM would, runs its shard; options SLURM would
 * misread are refused with exit 2 before any script is written. */
Test(slurm, scripts_quote_paths_and_options_are_checked, .timeout = 60)
{
	const char *dir = temp_dir();
	char sub[300], exp[400], out[400], cmd[2000], path[500], *err = NULL;
	struct csv t;

	snprintf(sub, sizeof sub, "%s/it's a dir", dir);
	cr_assert_eq(mkdir(sub, 0777), 0);
	snprintf(exp, sizeof exp, "%s/my exp.yaml", sub);
	snprintf(out, sizeof out, "%s/out dir", sub);
	write_text(exp, sharded);
	char *argv[] = { "sabench", "slurm", exp, "--shards", "2", "-o", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
	free(err);
	/* the script's body, as an array task 1 runs it (the #SBATCH lines are comments) */
	snprintf(cmd, sizeof cmd, "cd / && SLURM_ARRAY_TASK_ID=1 bash \"%s/slurm/shards.sbatch\" >/dev/null 2>&1",
		 out);
	cr_assert_eq(system(cmd), 0, "the shard script fails on a path with a space and a quote");
	snprintf(path, sizeof path, "%s/shards/1-of-2/results.csv", out);
	csv_load(&t, path);
	cr_assert(t.nrow > 0 && t.nrow < 12, "shard 1 of 2 holds some of the 12 cells: %d", t.nrow);
	csv_free(&t);
	struct { const char *flag, *value, *want; } bad[] = {
		{ "--partition", "debug\n#SBATCH --mem=1T", "--partition must be SLURM partition names" },
		{ "--partition", "a b", "--partition must be SLURM partition names" },
		{ "--time", "1:00:00; rm -rf /", "--time must be a SLURM time" },
		{ "--time", "soon", "--time must be a SLURM time" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *args[] = { "sabench", "slurm", exp, (char *)bad[i].flag, (char *)bad[i].value, "-o", out, NULL };
		cr_assert_eq(run_bin(args, NULL, &err), 2, "%s '%s'", bad[i].flag, bad[i].value);
		cr_assert(strstr(err, bad[i].want), "%s", err);
		free(err);
	}
	const char *good[] = { "30", "90:00", "1:00:00", "2-0", "2-12:30", "1-00:00:00", "UNLIMITED" };
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		char *args[] = { "sabench", "slurm", exp, "--time", (char *)good[i], "--partition", "gpu,cpu-big", "-o", out, NULL };
		cr_assert_eq(run_bin(args, NULL, &err), 0, "--time %s: %s", good[i], err);
		free(err);
	}
}
