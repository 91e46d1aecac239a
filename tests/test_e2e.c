/* test_e2e.c - the built binary end to end: a tiny experiment's CSV has
 * the documented columns and one row per cell; an existing folder is
 * refused; SIGINT then --resume gives exactly the cells of an
 * uninterrupted run; dumps are valid .npy; the CLI's documented outputs. */
#include <criterion/criterion.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kernels/kernel.h"
#include "../patterns/pattern.h"
#include "helpers.h"

/* The results.csv column contract of DESIGN.md, in order. */
static const char *const contract =
	"experiment,cell,pattern,pattern_label,kernel,inputs,score,mode,causal,batch,heads,"
	"kv_heads,seq_len,n_q,head_dim,head_dim_v,dtype,threads,kv_layout,kv_dtype,"
	"decode_steps,extend_tokens,ragged,kv_layout_note,isa,nnz,density,row_min,row_max,"
	"row_mean,empty_rows,flops,flops_exec,bytes_min,bytes_gather,"
	"kv_cache_bytes,score_bytes,pattern_bytes,workspace_bytes,reps,"
	"time_min_s,time_median_s,time_mean_s,time_p90_s,time_max_s,time_cv,"
	"select_s,select_flops,select_bytes,"
	"gflops,gflops_exec,gbs,intensity,time_per_token_s,time_per_chunk_s,tokens_per_s,"
	"keys_read,kv_bytes_per_token,time_one_by_one_s,seq_time_s,kv_gbs,probe_gbs,pct_bw,pct_peak,peak_rss_bytes,max_abs_err,nmse,"
	"verified,recall_mean,recall_min,recall_p10,recall_best_mean,"
	"recall_efficiency,out_err_mean,out_err_max,kv_recall_mean,kv_err_dense_mean,kv_err_mean,quality_rows,"
	"ipc,flops_hw,flops_hw_ratio,dram_bytes_hw,intensity_hw,"
	"ctr_sabench::pairs,status\n";

static const char *const tiny =
	"name: tiny\n"
	"shape: {heads: 2, kv_heads: 1, head_dim: 16, threads: 2}\n"
	"sweep: {seq_len: [32, 100]}\n"
	"patterns: [dense, {window: {size: 8}}]\n"
	"kernels: [naive, masked]\n"
	"run: {warmup: 1, repeats: 2, min_time_ms: 0}\n"
	"counters: [sabench::pairs]\n";

static char *run_ok(const char *exp, const char *out, const char *extra)
{
	char *err = NULL;
	char *argv[] = { "sabench", "run", (char *)exp, "-o", (char *)out,
			 (char *)extra, NULL };
	int rc = run_bin(argv, NULL, &err);

	cr_assert_eq(rc, 0, "run failed (%d): %s", rc, err);
	return err;
}

/* Number of data rows whose field `col` (0-based) equals value. */
static int rows_with(const char *csv, int col, const char *value)
{
	int n = 0;
	const char *line = strchr(csv, '\n');

	while (line && line[1]) {
		const char *f = line + 1;
		for (int c = 0; c < col && f; c++) {
			f = strchr(f, ',');
			f = f ? f + 1 : NULL;
		}
		if (f && !strncmp(f, value, strlen(value)) &&
		    (f[strlen(value)] == ',' || f[strlen(value)] == '\n'))
			n++;
		line = strchr(line + 1, '\n');
	}
	return n;
}

Test(e2e, tiny_run_writes_the_contract)
{
	const char *dir = temp_dir();
	char exp[256], out[256], path[300];
	char *csv, *samples, *manifest;

	snprintf(exp, sizeof exp, "%s/tiny.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, tiny);
	free(run_ok(exp, out, NULL));
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv = read_text(path);
	cr_assert_not_null(csv);
	cr_assert(!strncmp(csv, contract, strlen(contract)), "header:\n%.*s",
		  (int)(strchr(csv, '\n') - csv), csv);
	cr_assert_eq(count_lines(csv), 1 + 2 * 2 * 2);
	cr_assert_eq(rows_with(csv, 4, "naive"), 4);
	cr_assert_eq(rows_with(csv, 67, "yes"), 8, "every row verified");
	/* dense at n = 32 with 2 heads: 2 * 528 pairs */
	cr_assert(strstr(csv, "dense/naive/n32/d16/b1/h2/kv1/t2/causal/f32"));
	cr_assert(strstr(csv, ",528,1,1,32,16.5,0,"), "dense n=32 G-set statistics");
	cr_assert(strstr(csv, ",gaussian,plain,prefill,1,1,2,1,32,32,16,16,f32,2,,,0,0,,,"), "prefill identity");
	cr_assert(strstr(csv, ",1056,ok\n"), "sabench::pairs of dense n=32");
	snprintf(path, sizeof path, "%s/samples.csv", out);
	samples = read_text(path);
	cr_assert_not_null(samples);
	cr_assert_eq(count_lines(samples), 1 + 8 * 2, "two repetitions per cell");
	snprintf(path, sizeof path, "%s/manifest.yaml", out);
	manifest = read_text(path);
	cr_assert(strstr(manifest, "status: complete"));
	cr_assert(strstr(manifest, "cells: 8"));
	free(csv);
	free(samples);
	free(manifest);
}

Test(e2e, existing_folder_is_refused)
{
	const char *dir = temp_dir();
	char exp[256], out[256], want[600];
	char *err = NULL;

	snprintf(exp, sizeof exp, "%s/tiny.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, tiny);
	free(run_ok(exp, out, NULL));
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 2);
	snprintf(want, sizeof want,
		 "sabench: results folder '%s' holds a run already; use --resume to continue it or --force to start over\n",
		 out);
	cr_assert(strstr(err, want), "%s", err);
	free(err);
	free(run_ok(exp, out, "--force"));
}

/* Sorted cell keys (column 1) of a results.csv, one per line. */
static char *sorted_cells(const char *out)
{
	char cmd[600];
	FILE *p;
	char *buf = calloc(1, 65536);
	size_t got;

	snprintf(cmd, sizeof cmd, "tail -n +2 '%s/results.csv' | cut -d, -f2 | sort", out);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	got = fread(buf, 1, 65535, p);
	buf[got] = 0;
	pclose(p);
	return buf;
}

Test(e2e, interrupted_then_resumed_equals_uninterrupted, .timeout = 120)
{
	const char *dir = temp_dir();
	char exp[256], a[256], b[256], csv[300], manifest[300];
	char *cells_a, *cells_b, *text;
	int status, lines = 0;
	pid_t pid;

	snprintf(exp, sizeof exp, "%s/slow.yaml", dir);
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	write_text(exp,
		   "shape: {heads: 2, head_dim: 16, threads: 1}\n"
		   "sweep: {seq_len: [64, 96, 128, 160]}\n"
		   "patterns: [dense, {window: {size: 8}}, {sink_window: {sinks: 2, size: 6}}]\n"
		   "kernels: [naive, masked]\n"
		   "run: {warmup: 0, repeats: 3, min_time_ms: 60}\n");
	free(run_ok(exp, a, NULL));
	snprintf(csv, sizeof csv, "%s/results.csv", b);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		execl(getenv("SABENCH_BIN"), "sabench", "run", exp, "-o", b, (char *)NULL);
		_exit(127);
	}
	while (lines < 3) {             /* header and two cells written */
		usleep(20000);
		text = read_text(csv);
		lines = count_lines(text);
		free(text);
	}
	kill(pid, SIGINT);
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "interrupted run exits 1");
	text = read_text(csv);
	cr_assert(count_lines(text) < 1 + 24, "the run stopped early");
	free(text);
	snprintf(manifest, sizeof manifest, "%s/manifest.yaml", b);
	text = read_text(manifest);
	cr_assert(strstr(text, "status: interrupted"));
	free(text);
	free(run_ok(exp, b, "--resume"));
	cells_a = sorted_cells(a);
	cells_b = sorted_cells(b);
	cr_assert_eq(count_lines(cells_a), 24);
	cr_assert_str_eq(cells_b, cells_a);
	free(cells_a);
	free(cells_b);
}

Test(e2e, dump_writes_npy_files)
{
	const char *dir = temp_dir();
	char exp[256], out[256], dump[256], path[400];
	char *index, *npy;

	snprintf(exp, sizeof exp, "%s/tiny.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(dump, sizeof dump, "%s/dump", dir);
	write_text(exp, tiny);
	char *argv[] = { "sabench", "run", exp, "-o", out, "--dump", dump, NULL };
	cr_assert_eq(run_bin(argv, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/index.csv", dump);
	index = read_text(path);
	cr_assert_not_null(index);
	cr_assert_eq(count_lines(index), 1 + 8);
	snprintf(path, sizeof path, "%s/g00000_q.npy", dump);
	npy = read_text(path);
	cr_assert_not_null(npy);
	cr_assert(!memcmp(npy, "\x93NUMPY\x01\x00", 8));
	cr_assert(strstr(npy + 10, "'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 32, 16), }"));
	free(npy);
	snprintf(path, sizeof path, "%s/g00000_indptr.npy", dump);
	npy = read_text(path);
	cr_assert(strstr(npy + 10, "'descr': '<i8', 'fortran_order': False, 'shape': (33,), }"));
	free(npy);
	free(index);
}

Test(cli, pattern_prints_the_worked_case)
{
	char *out = NULL;
	char *argv[] = { "sabench", "pattern", "sink_window: {sinks: 1, size: 3}",
			 "--n", "1024", "--query", "499", NULL };

	cr_assert_eq(run_bin(argv, &out, NULL), 0);
	cr_assert(strstr(out, "G_499 = {0, 497, 498, 499}\n|G_499| = 4\n"), "%s", out);
	cr_assert(strstr(out, "nnz = 4090\n"), "%s", out);
	free(out);
}

Test(cli, every_subcommand_has_help)
{
	const char *cmds[] = { "run", "validate", "patterns", "kernels", "pattern",
			       "inputs", "attention", "plot", "counters", "columns", "machine" };

	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		char *out = NULL;
		char *argv[] = { "sabench", (char *)cmds[i], "--help", NULL };
		cr_assert_eq(run_bin(argv, &out, NULL), 0, "%s --help", cmds[i]);
		cr_assert(!strncmp(out, "usage: sabench ", 15), "%s", out);
		free(out);
	}
}

/* The listings name every kind with its parameters' types. */
Test(cli, patterns_and_inputs_list_every_kind)
{
	char *out = NULL;
	char *pats[] = { "sabench", "patterns", NULL };
	char *ins[] = { "sabench", "inputs", NULL };

	cr_assert_eq(run_bin(pats, &out, NULL), 0);
	for (int k = 0; k < pat_kind_count; k++) {
		char want[64];
		snprintf(want, sizeof want, "\n%s - ", pat_kinds[k]->name);
		cr_assert(strstr(out, want), "patterns lacks %s", pat_kinds[k]->name);
	}
	cr_assert(strstr(out, "indptr     file "), "%s", out);
	free(out);
	cr_assert_eq(run_bin(ins, &out, NULL), 0);
	cr_assert(strstr(out, "synthetic\n") && strstr(out, "npy\n") && strstr(out, "gaussian\n"));
	cr_assert(strstr(out, "heads           names "), "%s", out);
	free(out);
}

/* sabench kernels lists every kernel, each unavailable one or one without
 * bf16 here with its reason on its own line, and the instruction sets a
 * run would use (as SABENCH_ISA forces them). */
Test(cli, kernels_list_every_kernel_and_the_isa)
{
	char *out = NULL, line[512];
	char *argv[] = { "sabench", "kernels", NULL };

	setenv("SABENCH_ISA", "portable", 1);
	cr_assert_eq(run_bin(argv, &out, NULL), 0);
	unsetenv("SABENCH_ISA");
	for (int i = 0; i < kern_count; i++) {
		const struct kern_desc *k = kern_table[i];
		const char *why = k->unavailable ? k->unavailable() : NULL;
		const char *no16 = !why && k->no_bf16 ? k->no_bf16() : NULL;
		snprintf(line, sizeof line, "%-8s %s%s%s%s\n", k->name, k->summary,
			 why ? "  [unavailable: " : no16 ? "  [no bf16: " : "",
			 why ? why : no16 ? no16 : "", why || no16 ? "]" : "");
		cr_assert(strstr(out, line), "kernels lacks \"%s\" in:\n%s", line, out);
	}
	cr_assert(strstr(out, "\ninstruction sets here: fp32 portable; bf16 in tiled and ranges portable "),
		  "%s", out);
	free(out);
}

/* sabench attention prints each head's summary and refuses bad options. */
Test(cli, attention_summarises_the_heads)
{
	char *out = NULL, *err = NULL;
	char *ok[] = { "sabench", "attention", "synthetic: {heads: [sink_local, local]}", "--n", "128", NULL };
	char *bad[] = { "sabench", "attention", "synthetic", "--head-dim", "4", NULL };

	cr_assert_eq(run_bin(ok, &out, NULL), 0);
	cr_assert(strstr(out, "2 heads (2 K/V), head_dim 64, n = 128"), "%s", out);
	cr_assert(strstr(out, "head 0 sink_local ") && strstr(out, "head 1 local "), "%s", out);
	free(out);
	cr_assert_eq(run_bin(bad, NULL, &err), 2);
	cr_assert(strstr(err, "--head-dim is below what this input needs"), "%s", err);
	free(err);
}

Test(cli, unknown_command_and_version)
{
	char *out = NULL, *err = NULL;
	char *bad[] = { "sabench", "rnu", NULL };
	char *ver[] = { "sabench", "--version", NULL };

	cr_assert_eq(run_bin(bad, NULL, &err), 2);
	cr_assert_str_eq(err, "sabench: unknown command 'rnu'; see 'sabench --help'\n");
	cr_assert_eq(run_bin(ver, &out, NULL), 0);
	cr_assert(!strncmp(out, "sabench ", 8));
	free(out);
	free(err);
}

Test(e2e, plot_draws_pngs, .timeout = 120)
{
	const char *dir = temp_dir();
	char exp[256], out[256], path[400];
	const char *names[] = { "latency", "flops", "memory" };
	struct stat st;

	if (system("command -v gnuplot >/dev/null 2>&1") != 0)
		cr_skip_test("gnuplot is not installed");
	snprintf(exp, sizeof exp, "%s/tiny.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, tiny);
	free(run_ok(exp, out, NULL));
	char *argv[] = { "sabench", "plot", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, NULL), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/plots/%s.png", out, names[i]);
		cr_assert_eq(stat(path, &st), 0, "%s", path);
		cr_assert_gt(st.st_size, 10000, "%s is nearly empty", path);
		snprintf(path, sizeof path, "%s/plots/%s.svg", out, names[i]);
		cr_assert_eq(stat(path, &st), 0, "%s", path);
	}
}

Test(docs, results_readme_lists_every_column)
{
	char *out = NULL, *doc = read_text(root_path("results/README.md"));
	char *argv[] = { "sabench", "columns", NULL };
	char *line, *save = NULL;

	cr_assert_not_null(doc);
	cr_assert_eq(run_bin(argv, &out, NULL), 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char want[128];
		snprintf(want, sizeof want, "| `%.*s` |", (int)strcspn(line, " "), line);
		cr_assert(strstr(doc, want), "results/README.md lacks %s (make columns rewrites it)", want);
	}
	free(out);
	free(doc);
}

Test(cli, pattern_layout_and_png)
{
	char *out = NULL;
	char png[300];
	struct stat st;
	char *layout[] = { "sabench", "pattern", "window: {size: 4}", "--n", "8",
			   "--layout", "4", NULL };

	cr_assert_eq(run_bin(layout, &out, NULL), 0);
	cr_assert(strstr(out, "+.\n++\nblocks 4x4: 0 full, 3 partial, 1 empty\n"), "%s", out);
	free(out);
	if (system("command -v gnuplot >/dev/null 2>&1") != 0)
		cr_skip_test("gnuplot is not installed");
	snprintf(png, sizeof png, "%s/mask.png", temp_dir());
	char *draw[] = { "sabench", "pattern", "strided: {stride: 8}", "--n", "300",
			 "--png", png, NULL };
	cr_assert_eq(run_bin(draw, NULL, NULL), 0);
	cr_assert_eq(stat(png, &st), 0);
	cr_assert_gt(st.st_size, 1000);
}

/* `pattern --inputs` selects a content-selected G over the given inputs;
 * a malformed input spec is a usage error (exit 2, the parser's words), a
 * cell the kind cannot serve a failure (exit 1, the reason). */
Test(cli, pattern_selects_over_inputs)
{
	char *out = NULL, *err = NULL;
	char *ok[] = { "sabench", "pattern", "quest: {page: 8, budget: 64}", "--n", "256",
		       "--inputs", "synthetic: {heads: [local]}", "--head-dim", "32", NULL };
	char *bad[] = { "sabench", "pattern", "quest: {page: 8, budget: 64}", "--n", "256",
			"--inputs", "syntetic: {}", NULL };
	char *cannot[] = { "sabench", "pattern", "snapkv: {}", "--n", "256", NULL };

	cr_assert_eq(run_bin(ok, &out, NULL), 0);
	cr_assert(strstr(out, "selected over 'synthetic: {heads: [local]}' (head 0, head_dim 32)"), "%s", out);
	cr_assert(strstr(out, "row_max = 64\n"), "%s", out);         /* the budget */
	free(out);
	cr_assert_eq(run_bin(bad, NULL, &err), 2);
	cr_assert(strstr(err, "unknown input 'syntetic'; did you mean 'synthetic'?"), "%s", err);
	free(err);
	cr_assert_eq(run_bin(cannot, NULL, &err), 1);
	cr_assert(strstr(err, "sabench: pattern 'snapkv': 'snapkv' selects in mode decode only\n"), "%s", err);
	free(err);
}

/* Dependencies run one way, between files as between folders: no two
 * files use each other, directly or round a circle (from the objects'
 * symbols, tools/dep-cycles.py), and kernels/isa includes nothing above. */
Test(layout, no_import_circles, .timeout = 120)
{
	char cmd[8400], bin[4096], *slash;
	const char *root = getenv("SABENCH_ROOT"), *exe = getenv("SABENCH_BIN");

	cr_assert(root && exe, "run the tests through make test");
	snprintf(bin, sizeof bin, "%s", exe);
	slash = strrchr(bin, '/');
	cr_assert_not_null(slash);
	*slash = 0;                     /* the build folder whose objects made it */
	snprintf(cmd, sizeof cmd, "cd '%s' && python3 tools/dep-cycles.py '%s' > /tmp/dep-cycles.$$ 2>&1; rc=$?; "
		 "cat /tmp/dep-cycles.$$ >&2; rm -f /tmp/dep-cycles.$$; exit $rc", root, bin);
	cr_assert_eq(system(cmd), 0, "a circle or an upward include (above)");
}

/* Scans text (the file at path) for relative links "](target)" and for
 * experiments/NAME.yaml; fails on any that does not resolve. Returns the
 * links and experiment names checked. */
static int check_refs(const char *path)
{
	char *text = read_text(root_path(path)), dir[4096], target[4096], full[8300];
	const char *slash = strrchr(path, '/');
	int checked = 0;

	cr_assert_not_null(text, "%s", path);
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 0, path);
	for (char *at = strstr(text, "]("); at; at = strstr(at + 2, "](")) {
		size_t len = strcspn(at + 2, ")# \n");
		snprintf(target, sizeof target, "%.*s", (int)len, at + 2);
		if (!len || strstr(target, "://") || target[0] == '#')
			continue;
		snprintf(full, sizeof full, "%s%s%s", dir, dir[0] ? "/" : "", target);
		cr_assert_eq(access(root_path(full), F_OK), 0, "%s links to '%s', which is not there", path, target);
		checked++;
	}
	for (char *at = strstr(text, "experiments/"); at; at = strstr(at + 1, "experiments/")) {
		size_t len = strspn(at + 12, "abcdefghijklmnopqrstuvwxyz0123456789_-");
		if (strncmp(at + 12 + len, ".yaml", 5))
			continue;
		snprintf(target, sizeof target, "experiments/%.*s.yaml", (int)len, at + 12);
		cr_assert_eq(access(root_path(target), F_OK), 0, "%s names '%s', which is not there", path, target);
		checked++;
	}
	free(text);
	return checked;
}

/* README.md and every page of docs/ (findings too): each relative link
 * resolves and each experiment file named exists; the README stays short
 * and names every page; every command's --help names a page that exists. */
Test(docs, links_and_experiments_resolve, .timeout = 60)
{
	char *readme = read_text(root_path("README.md")), cmd[600], *out = NULL;
	glob_t g;
	int checked = check_refs("README.md");

	cr_assert_leq(count_lines(readme), 200, "README.md has %d lines", count_lines(readme));
	snprintf(cmd, sizeof cmd, "%s/docs/*.md", getenv("SABENCH_ROOT"));
	cr_assert_eq(glob(cmd, 0, NULL, &g), 0);
	snprintf(cmd, sizeof cmd, "%s/docs/findings/*.md", getenv("SABENCH_ROOT"));
	cr_assert_eq(glob(cmd, GLOB_APPEND, NULL, &g), 0);
	cr_assert_geq(g.gl_pathc, 12, "docs/ has %zu pages", g.gl_pathc);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *rel = g.gl_pathv[i] + strlen(getenv("SABENCH_ROOT")) + 1;
		checked += check_refs(rel);
		if (strcmp(rel, "docs/findings/README.md"))
			cr_assert(strstr(readme, rel), "README.md does not name %s", rel);
	}
	globfree(&g);
	cr_assert_gt(checked, 30, "only %d references checked", checked);
	free(readme);
	char *help[] = { "sabench", "--help", NULL };
	cr_assert_eq(run_bin(help, &out, NULL), 0);
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64], *more = NULL, page[300];
		if (sscanf(line, " %63[a-z]", name) != 1 || line[0] != ' ' || line[1] != ' ' || line[2] == '-')
			continue;
		char *argv[] = { "sabench", name, "--help", NULL };
		cr_assert_eq(run_bin(argv, &more, NULL), 0, "%s --help", name);
		char *at = strstr(more, "\nMore: ");
		cr_assert_not_null(at, "%s --help names no page", name);
		snprintf(page, sizeof page, "%.*s", (int)strcspn(at + 7, "\n"), at + 7);
		cr_assert_eq(access(root_path(page), F_OK), 0, "%s --help names '%s'", name, page);
		free(more);
	}
	free(out);
}
