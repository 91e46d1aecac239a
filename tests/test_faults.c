/* test_faults.c - what a run leaves behind after faults, and what the
 * post-processing refuses: torn and duplicated quality lines and torn
 * samples repaired on --resume (a cell whose samples are incomplete runs
 * again), a full disk (a small tmpfs, where root may mount one) that
 * leaves whole rows and a manifest marked interrupted, a changed grid
 * refused, a dump folder that is one run's, a FIFO refused without
 * hanging, results.csv files that report and plot refuse with their line
 * and column, compare's exit codes, --png beside a user's files, locks
 * of processes that are not sabench, and grids expanded in linear time. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness/config/experiment.h"
#include "../harness/config/ytree.h"
#include "../harness/report/manifest.h"
#include "../harness/report/resume.h"
#include "helpers.h"

/* dir/small.yaml and dir/out, run once to the end. */
static void small_done(const char *dir, char *exp, char *out)
{
	char *err = NULL;

	snprintf(exp, 300, "%s/small.yaml", dir);
	snprintf(out, 300, "%s/out", dir);
	write_text(exp, fx_small_run);
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
	free(err);
}

/* Cuts the last `bytes` bytes off path (a torn last line). */
static void tear(const char *path, long bytes)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(truncate(path, st.st_size - bytes), 0);
}

static void append(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* The n-th line (1-based) of path, malloc'ed. */
static char *line_of(const char *path, int n)
{
	char *text = read_text(path), *at = text, *end, *line;

	cr_assert_not_null(text);
	for (int i = 1; i < n && at; i++)
		at = strchr(at, '\n') ? strchr(at, '\n') + 1 : NULL;
	cr_assert_not_null(at);
	end = strchr(at, '\n');
	line = strndup(at, end ? (size_t)(end - at + 1) : strlen(at));
	free(text);
	return line;
}

/* Every line of path has the header's field count and no two lines are
 * equal; returns the rows. */
static int whole_and_unique(const char *path)
{
	struct csv t;
	int n;

	csv_load(&t, path);             /* fails the test on a torn row */
	for (int i = 0; i < t.nrow; i++)
		for (int j = 0; j < i; j++) {
			int same = 1;
			for (int c = 0; c < t.ncol && same; c++)
				same = !strcmp(t.row[i][c], t.row[j][c]);
			cr_assert(!same, "%s: rows %d and %d are the same", path, j + 2, i + 2);
		}
	n = t.nrow;
	csv_free(&t);
	return n;
}

/* Samples of every timed cell of out: as many as its reps column. */
static void samples_complete(const char *out)
{
	char path[400];
	struct csv r, s;

	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&r, path);
	snprintf(path, sizeof path, "%s/samples.csv", out);
	csv_load(&s, path);
	for (int i = 0; i < r.nrow; i++) {
		int have = 0;
		for (int j = 0; j < s.nrow; j++)
			have += !strcmp(csv_get(&s, j, "cell"), csv_get(&r, i, "cell"));
		cr_assert_eq(have, atoi(csv_get(&r, i, "reps")), "cell %s has %d samples of %s",
			     csv_get(&r, i, "cell"), have, csv_get(&r, i, "reps"));
	}
	csv_free(&r);
	csv_free(&s);
}

Test(faults, resume_repairs_quality_and_reruns_cells_with_torn_samples, .timeout = 60)
{
	char exp[300], out[300], path[400], *dup, *err = NULL;

	small_done(temp_dir(), exp, out);
	snprintf(path, sizeof path, "%s/quality.csv", out);
	dup = line_of(path, 2);
	append(path, dup);              /* a group measured twice */
	tear(path, 9);                  /* and a torn last line */
	free(dup);
	snprintf(path, sizeof path, "%s/samples.csv", out);
	tear(path, 5);                  /* the last cell's last sample torn */
	char *argv[] = { "sabench", "run", exp, "-o", out, "--resume", NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
	cr_assert(strstr(err, "repaired '"), "%s", err);
	cr_assert(strstr(err, "1 cell(s) whose samples and 0 whose quality lines were incomplete run again"), "%s", err);
	cr_assert(strstr(err, "11 from an earlier run"), "the torn cell runs again: %s", err);
	free(err);
	snprintf(path, sizeof path, "%s/quality.csv", out);
	cr_assert_eq(whole_and_unique(path), 12, "one line a group and head");
	snprintf(path, sizeof path, "%s/results.csv", out);
	cr_assert_eq(whole_and_unique(path), 12);
	samples_complete(out);
}

/* RLIMIT_FSIZE on the run (bash's ulimit -f): stopped, then resumed to
 * the end, every file whole and once. */
Test(faults, file_size_limit_then_resume_leaves_every_file_whole, .timeout = 60)
{
	char exp[300], out[300], path[400];
	const char *dir = temp_dir();
	int status;
	pid_t pid;

	snprintf(exp, sizeof exp, "%s/small.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, fx_small_run);
	for (int round = 0; round < 3; round++) {
		pid = fork();
		cr_assert(pid >= 0);
		if (pid == 0) {
			char lim[32];
			snprintf(lim, sizeof lim, "%d", 3 + 2 * round);
			freopen("/dev/null", "w", stdout);
			freopen("/dev/null", "w", stderr);
			execl("/bin/bash", "bash", "-c", "ulimit -f \"$1\"; exec \"$2\" run \"$3\" -o \"$4\" --resume",
			      "bash", lim, getenv("SABENCH_BIN"), exp, out, (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &status, 0);
	}
	char *argv[] = { "sabench", "run", exp, "-o", out, "--resume", NULL };
	cr_assert_eq(run_bin(argv, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/quality.csv", out);
	cr_assert_eq(whole_and_unique(path), 12);
	snprintf(path, sizeof path, "%s/results.csv", out);
	cr_assert_eq(whole_and_unique(path), 12);
	snprintf(path, sizeof path, "%s/samples.csv", out);
	whole_and_unique(path);
	samples_complete(out);
}

/* A 40 KiB tmpfs fills mid-run: the run exits 1 with whole rows and the
 * manifest marked interrupted with the reason, no manifest.yaml.tmp; the
 * folder, copied to a disk with room, resumes to the end. */
Test(faults, full_disk_marks_the_manifest_and_resumes, .timeout = 120)
{
	const char *dir = temp_dir();
	char mnt[300], exp[300], out[300], copy[300], path[400], cmd[1200], *text, *err = NULL;
	char sweep[200] = "";

	snprintf(mnt, sizeof mnt, "%s/disk", dir);
	mkdir(mnt, 0777);
	if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=40k"))
		cr_skip_test("cannot mount a small tmpfs here (needs root)");
	for (int n = 40; n <= 150; n += 10)
		snprintf(sweep + strlen(sweep), sizeof sweep - strlen(sweep), "%s%d", n > 40 ? ", " : "", n);
	snprintf(exp, sizeof exp, "%s/big.yaml", dir);
	snprintf(out, sizeof out, "%s/out", mnt);
	snprintf(cmd, sizeof cmd, "name: big\nshape: {heads: 2, head_dim: 16, threads: 1}\n"
		 "sweep: {seq_len: [%s]}\npatterns: [dense, {window: {size: 8}}]\n"
		 "kernels: [naive, tiled]\nrun: {warmup: 0, repeats: 2, min_time_ms: 0}\n", sweep);
	write_text(exp, cmd);
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	int rc = run_bin(argv, NULL, &err);
	cr_assert_eq(rc, 1, "the full disk stops the run with 1: %s", err);
	cr_assert(strstr(err, "No space left on device"), "%s", err);
	free(err);
	snprintf(path, sizeof path, "%s/manifest.yaml", out);
	text = read_text(path);
	cr_assert(text && strstr(text, "status: interrupted"), "%s", text);
	cr_assert(strstr(text, "No space left on device"), "%s", text);
	free(text);
	snprintf(path, sizeof path, "%s/manifest.yaml.tmp", out);
	cr_assert_neq(access(path, F_OK), 0, "manifest.yaml.tmp is left behind");
	snprintf(copy, sizeof copy, "%s/copy", dir);
	snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", out, copy);
	cr_assert_eq(system(cmd), 0);
	umount(mnt);
	char *resume[] = { "sabench", "run", exp, "-o", copy, "--resume", NULL };
	cr_assert_eq(run_bin(resume, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/results.csv", copy);
	cr_assert_eq(whole_and_unique(path), 48);
	snprintf(path, sizeof path, "%s/quality.csv", copy);
	cr_assert_eq(whole_and_unique(path), 48);
	samples_complete(copy);
}

Test(faults, resume_with_another_grid_is_refused)
{
	char exp[300], out[300], *err = NULL;

	small_done(temp_dir(), exp, out);
	write_text(exp, "name: small\nshape: {heads: 2, head_dim: 16, threads: 1}\n"
		   "sweep: {seq_len: [256]}\npatterns: [dense]\nkernels: [naive]\n"
		   "counters: [sabench::pairs]\n");
	char *argv[] = { "sabench", "run", exp, "-o", out, "--resume", NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 2);
	cr_assert(strstr(err, "cannot resume '"), "%s", err);
	cr_assert(strstr(err, "it holds 12 cell(s) this experiment does not have"), "%s", err);
	free(err);
}

Test(faults, a_dump_folder_holds_one_run)
{
	const char *dir = temp_dir();
	char exp[300], out[300], other[300], dump[300], path[400], *before, *after, *err = NULL;

	snprintf(exp, sizeof exp, "%s/small.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(other, sizeof other, "%s/other", dir);
	snprintf(dump, sizeof dump, "%s/dump", dir);
	write_text(exp, fx_small_run);
	char *first[] = { "sabench", "run", exp, "-o", out, "--dump", dump, NULL };
	cr_assert_eq(run_bin(first, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/index.csv", dump);
	before = read_text(path);
	cr_assert_eq(count_lines(before), 13);
	char *second[] = { "sabench", "run", exp, "-o", other, "--dump", dump, NULL };
	cr_assert_eq(run_bin(second, NULL, &err), 1);
	cr_assert(strstr(err, "holds the dump of another run"), "%s", err);
	free(err);
	after = read_text(path);
	cr_assert_str_eq(after, before, "the first run's index is untouched");
	free(after);
	/* the same run, forced again: its own dump starts over, no duplicate */
	char *again[] = { "sabench", "run", exp, "-o", out, "--force", "--dump", dump, NULL };
	cr_assert_eq(run_bin(again, NULL, NULL), 0);
	cr_assert_eq(whole_and_unique(path), 12);
	free(before);
	/* a folder of the user's files is not a dump folder */
	snprintf(path, sizeof path, "%s/mine", dir);
	mkdir(path, 0777);
	snprintf(path, sizeof path, "%s/mine/notes.txt", dir);
	write_text(path, "mine\n");
	snprintf(path, sizeof path, "%s/mine", dir);
	char *mine[] = { "sabench", "run", exp, "-o", other, "--force", "--dump", path, NULL };
	cr_assert_eq(run_bin(mine, NULL, &err), 1);
	cr_assert(strstr(err, "is not empty and holds no sabench dump"), "%s", err);
	free(err);
}

/* A FIFO where an .npy is expected: refused at once, in validate and run. */
Test(faults, a_fifo_input_is_refused_without_hanging, .timeout = 20)
{
	const char *dir = temp_dir();
	char fifo[300], exp[300], text[1200], want[400], *err = NULL;

	snprintf(fifo, sizeof fifo, "%s/q.npy", dir);
	cr_assert_eq(mkfifo(fifo, 0644), 0);
	snprintf(exp, sizeof exp, "%s/e.yaml", dir);
	snprintf(text, sizeof text, "shape: {seq_len: 32}\npatterns:\n  - csr: {indptr: q.npy, indices: q.npy}\n"
		 "inputs:\n  - npy: {q: q.npy, k: q.npy, v: q.npy}\nkernels: [naive]\n");
	write_text(exp, text);
	char *argv[] = { "sabench", "validate", exp, NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 2);
	snprintf(want, sizeof want, "cannot read '%s': not a regular file", fifo);
	cr_assert(strstr(err, want), "%s", err);
	free(err);
	char *pat[] = { "sabench", "pattern", "csr: {indptr: q.npy, indices: q.npy}", "--n", "8", NULL };
	cr_assert_neq(chdir(dir), -1);
	cr_assert_eq(run_bin(pat, NULL, &err), 2, "%s", err);
	cr_assert(strstr(err, "not a regular file"), "%s", err);
	free(err);
}

/* ---- report and plot on results.csv files a run did not write ---- */

/* out's results.csv with line `line` (1-based) given to edit(). */
static void edit_results(const char *out, const char *good, int line,
			 void (*edit)(char *row, size_t len))
{
	char path[400], *copy = strdup(good), *at = copy, row[65536];
	FILE *f;

	snprintf(path, sizeof path, "%s/results.csv", out);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	for (int i = 1; at && *at; i++) {
		char *end = strchr(at, '\n');
		size_t n = end ? (size_t)(end - at + 1) : strlen(at);
		snprintf(row, sizeof row, "%.*s", (int)n, at);
		if (i == line && edit)
			edit(row, sizeof row);
		fputs(row, f);
		at += n;
	}
	fclose(f);
	free(copy);
}

/* Field k (0-based) of a CSV row replaced by v. */
static void set_field(char *row, size_t len, int k, const char *v)
{
	char out[65536], *at = row;
	size_t o = 0;

	for (int i = 0; i < k; i++)
		at = strchr(at, ',') + 1;
	o = (size_t)snprintf(out, sizeof out, "%.*s%s", (int)(at - row), row, v);
	snprintf(out + o, sizeof out - o, "%s", strpbrk(at, ",\n"));
	snprintf(row, len, "%s", out);
}

static int col_time, col_seq;
static void bad_time(char *row, size_t len) { set_field(row, len, col_time, "abc"); }
static void nan_time(char *row, size_t len) { set_field(row, len, col_time, "nan"); }
static void negative_time(char *row, size_t len) { set_field(row, len, col_time, "-0.5"); }
static void bad_seq_len(char *row, size_t len) { set_field(row, len, col_seq, "n64"); }
static void drop_field(char *row, size_t len) { (void)len; memmove(strchr(row, ','), strchr(row, ',') + 1, strlen(strchr(row, ','))); }
static void cut_row(char *row, size_t len) { (void)len; row[strlen(row) / 2] = 0; }

Test(faults, report_and_plot_refuse_results_a_run_did_not_write, .timeout = 120)
{
	char exp[300], out[300], path[400], want[600], *good, *err = NULL;
	struct csv t;
	struct {
		void (*edit)(char *, size_t);
		int line;
		const char *what;       /* after "results.csv:" */
	} cases[] = {
		{ bad_time, 3, "3: column 'time_median_s': 'abc' is not a number" },
		{ nan_time, 4, "4: column 'time_median_s': 'nan' is not finite" },
		{ negative_time, 2, "2: column 'time_median_s': '-0.5' is negative" },
		{ bad_seq_len, 5, "5: column 'seq_len': 'n64' is not a whole number" },
		{ drop_field, 6, "6: " },      /* "N fields, the header has N + 1" */
		{ cut_row, 13, "13: the last row is cut short (no newline): the file was truncated" },
	};

	small_done(temp_dir(), exp, out);
	snprintf(path, sizeof path, "%s/results.csv", out);
	good = read_text(path);
	csv_load(&t, path);
	col_time = csv_col(&t, "time_median_s");
	col_seq = csv_col(&t, "seq_len");
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		edit_results(out, good, cases[i].line, cases[i].edit);
		snprintf(want, sizeof want, "sabench: %s:%s", path, cases[i].what);
		for (int cmd = 0; cmd < 2; cmd++) {
			char *argv[] = { "sabench", cmd ? "plot" : "report", out, NULL };
			cr_assert_eq(run_bin(argv, NULL, &err), 2, "%s on case %zu: %s", argv[1], i, err);
			cr_assert(strstr(err, want), "%s: want '%s' in %s", argv[1], want, err);
			free(err);
		}
	}
	/* a row twice, a header alone, and a column sabench never writes */
	edit_results(out, good, 0, NULL);
	append(path, strchr(good, '\n') + 1);
	{
		char *argv[] = { "sabench", "report", out, NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 2);
		snprintf(want, sizeof want, "%s:14: cell '%s' has a row already (line 2)", path,
			 csv_get(&t, 0, "cell"));
		cr_assert(strstr(err, want), "want '%s' in %s", want, err);
		free(err);
	}
	write_text(path, "experiment,cell,status\n");
	{
		char *argv[] = { "sabench", "plot", out, NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 2);
		snprintf(want, sizeof want, "%s: no rows: nothing was measured yet", path);
		cr_assert(strstr(err, want), "%s", err);
		free(err);
	}
	write_text(path, "experiment,cell,colour,status\nx,c,red,ok\n");
	{
		char *argv[] = { "sabench", "report", out, NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 2);
		cr_assert(strstr(err, ":1: unknown column 'colour'"), "%s", err);
		free(err);
	}
	csv_free(&t);
	free(good);
}

Test(faults, compare_fails_when_nothing_was_compared_or_written, .timeout = 60)
{
	const char *dir = temp_dir();
	char exp[300], a[300], b[300], *err = NULL, *out = NULL;

	small_done(dir, exp, a);
	snprintf(b, sizeof b, "%s/b", dir);
	write_text(exp, "name: small\nshape: {heads: 2, head_dim: 16, threads: 1}\n"
		   "sweep: {seq_len: [64]}\npatterns: [dense]\nkernels: [naive]\n"
		   "run: {warmup: 0, repeats: 2, min_time_ms: 0}\n");
	char *run[] = { "sabench", "run", exp, "-o", b, NULL };
	cr_assert_eq(run_bin(run, NULL, NULL), 0);
	char *none[] = { "sabench", "compare", a, b, "--fail", NULL };
	cr_assert_eq(run_bin(none, &out, &err), 2);
	cr_assert(strstr(err, "nothing was compared"), "%s", err);
	cr_assert_null(strstr(out, "geometric mean"), "%s", out);
	cr_assert_null(strstr(out, "compare.png"), "%s", out);
	free(err);
	free(out);
	char *lost[] = { "sabench", "compare", a, a, "-o", "/proc/sabench-cannot", NULL };
	cr_assert_eq(run_bin(lost, NULL, &err), 1, "%s", err);
	cr_assert(strstr(err, "cannot create '/proc/sabench-cannot'"), "%s", err);
	free(err);
}

Test(faults, png_helpers_never_touch_the_users_files, .timeout = 60)
{
	const char *dir = temp_dir();
	char png[300], mine[300], *text, *err = NULL;

	if (system("command -v gnuplot >/dev/null 2>&1"))
		cr_skip_test("gnuplot is not installed");
	snprintf(mine, sizeof mine, "%s/masks.dat", dir);
	write_text(mine, "my data\n");
	snprintf(png, sizeof png, "%s/w.png", dir);
	char *pat[] = { "sabench", "pattern", "window: {size: 8}", "--n", "64", "--png", png, NULL };
	cr_assert_eq(run_bin(pat, NULL, &err), 0, "%s", err);
	free(err);
	text = read_text(mine);
	cr_assert_str_eq(text, "my data\n");
	free(text);
	snprintf(mine, sizeof mine, "%s/attention.labels", dir);
	write_text(mine, "my labels\n");
	snprintf(png, sizeof png, "%s/a.png", dir);
	char *att[] = { "sabench", "attention", "gaussian", "--n", "64", "--png", png, NULL };
	cr_assert_eq(run_bin(att, NULL, &err), 0, "%s", err);
	free(err);
	text = read_text(mine);
	cr_assert_str_eq(text, "my labels\n");
	free(text);
	/* a folder that is not there: the message names the user's path */
	snprintf(png, sizeof png, "%s/no/such/w.png", dir);
	char *bad[] = { "sabench", "pattern", "window: {size: 8}", "--n", "64", "--png", png, NULL };
	cr_assert_eq(run_bin(bad, NULL, &err), 1);
	cr_assert(strstr(err, "cannot write '"), "%s", err);
	cr_assert(strstr(err, "/no/such/w.png': No such file or directory"), "%s", err);
	free(err);
}

/* A lock naming the pid of a live process that does not hold it (here a
 * sleep) is taken over, and the note names the lock file. */
Test(faults, a_lock_of_another_program_is_taken_over, .timeout = 60)
{
	const char *dir = temp_dir();
	char exp[300], out[300], path[400], text[32], want[500], *err = NULL;
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	snprintf(exp, sizeof exp, "%s/small.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, fx_small_run);
	mkdir(out, 0777);
	snprintf(path, sizeof path, "%s/.sabench.lock", out);
	snprintf(text, sizeof text, "%ld\n", (long)pid);
	write_text(path, text);
	usleep(100000);                 /* the child is sleep by now */
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	int rc = run_bin(argv, NULL, &err);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cr_assert_eq(rc, 0, "%s", err);
	snprintf(want, sizeof want, "took over the stale lock '%s' (pid %ld does not hold it)", path,
		 (long)pid);
	cr_assert(strstr(err, want), "want '%s' in %s", want, err);
	free(err);
}

/* 512 x 512 variants of one pattern: made in time linear in the variants
 * (quadratic took minutes); the timeout is the check. */
Test(faults, large_sweeps_expand_in_linear_time, .timeout = 30)
{
	char *out = NULL;
	char *argv[] = { "sabench", "validate", (char *)root_path("tests/sweep_512x512.yaml"), NULL };

	cr_assert_eq(run_bin(argv, &out, NULL), 0);
	cr_assert(strstr(out, "sink_window(sinks=511 size=512)"), "%.200s", out);
	free(out);
}

/* Found by trying hostile inputs on every subcommand: an empty -o,
 * machine --threads 0 and a report over a manifest that is not YAML are
 * usage errors (exit 2) that say what is wrong. */
Test(faults, hostile_command_lines_are_usage_errors, .timeout = 60)
{
	char exp[300], out[300], path[400], *err = NULL;

	small_done(temp_dir(), exp, out);
	char *empty[] = { "sabench", "run", exp, "-o", "", NULL };
	cr_assert_eq(run_bin(empty, NULL, &err), 2);
	cr_assert(strstr(err, "sabench: -o needs a folder name, not ''\n"), "%s", err);
	free(err);
	char *dump[] = { "sabench", "run", exp, "-o", out, "--dump", "", NULL };
	cr_assert_eq(run_bin(dump, NULL, &err), 2);
	cr_assert(strstr(err, "sabench: --dump needs a folder name, not ''\n"), "%s", err);
	free(err);
	char *threads[] = { "sabench", "machine", "--threads", "0", "-o", out, NULL };
	cr_assert_eq(run_bin(threads, NULL, &err), 2);
	cr_assert(strstr(err, "--threads must be an integer in [1, 1024], not '0'"), "%s", err);
	free(err);
	snprintf(path, sizeof path, "%s/manifest.yaml", out);
	write_text(path, "{{{\n");
	char *rep[] = { "sabench", "report", out, NULL };
	cr_assert_eq(run_bin(rep, NULL, &err), 2);
	cr_assert(strstr(err, "manifest.yaml:2:1: yaml syntax error"), "%s", err);
	free(err);
}

/* The key sets behind the repair: members found at their insertion index,
 * others not; 200 000 keys (a results folder of that many cells) in about
 * linear time (a linear scan a test took minutes; the timeout is the
 * check). */
Test(faults, key_sets_find_their_members, .timeout = 30)
{
	struct keyset s = { 0 };
	char key[64];

	for (int i = 0; i < 200000; i++) {
		snprintf(key, sizeof key, "cell/%d/n%d", i, i * 7);
		cr_assert_eq(keyset_add(&s, key), 0);
	}
	for (int i = 0; i < 200000; i += 7) {
		snprintf(key, sizeof key, "cell/%d/n%d", i, i * 7);
		cr_assert(keyset_has(&s, key), "%s is missing", key);
		cr_assert_eq(keyset_find(&s, key), i, "%s is not at its insertion index", key);
		snprintf(key, sizeof key, "cell/%d/n%d", i, i * 7 + 1);
		cr_assert(!keyset_has(&s, key), "%s is not a member", key);
	}
	cr_assert(keyset_add(&s, "added later") == 0 && keyset_has(&s, "added later"));
	cr_assert(keyset_has(&s, "cell/0/n0"));
	keyset_free(&s);
}

/* A long reason with escapes is cut on a whole escape and stays YAML; the
 * status and reason lines keep their width, so manifest_mark changes them
 * in place, and the file still reads back. */
Test(faults, manifest_reasons_are_cut_on_whole_escapes_and_marked_in_place)
{
	const char *dir = temp_dir();
	char reason[2000], path[400];
	struct experiment x;
	struct err e;
	struct ynode *root = NULL;
	const struct ynode *run;
	struct stat before, after;

	cr_assert_eq(exp_load_string("t.yaml", fx_small_run, &x, &e), 0, "%s", e.msg);
	for (int off = 0; off < 8; off++) {
		size_t at = 0;
		for (int i = 0; i < off; i++)
			reason[at++] = 'a';
		while (at + 3 < sizeof reason - 1) {     /* quotes, newlines, control characters */
			const char *piece = at % 3 ? "\"q\"\n" : "\x1b\\";
			size_t len = strlen(piece);
			memcpy(reason + at, piece, len);
			at += len;
		}
		reason[at] = 0;
		struct manifest m = { .x = &x, .status = "running", .reason = reason };
		cr_assert_eq(manifest_write(dir, &m, &e), 0, "%s", e.msg);
		snprintf(path, sizeof path, "%s/manifest.yaml", dir);
		cr_assert_eq(yt_load_file(path, &root, &e), 0, "offset %d: %s", off, e.msg);
		run = yt_get(root, "run");
		cr_assert(strlen(yt_get(run, "reason")->str) < 400, "the reason is cut");
		cr_assert(strstr(yt_get(run, "reason")->str, "..."), "and says so");
		yt_free(root);
		stat(path, &before);
		cr_assert_eq(manifest_mark(dir, "interrupted", "disk full", &e), 0, "%s", e.msg);
		stat(path, &after);
		cr_assert_eq(after.st_size, before.st_size, "marked in place");
		cr_assert_eq(yt_load_file(path, &root, &e), 0, "%s", e.msg);
		run = yt_get(root, "run");
		cr_assert_str_eq(yt_get(run, "status")->str, "interrupted");
		cr_assert_str_eq(yt_get(run, "reason")->str, "disk full");
		yt_free(root);
	}
	exp_free(&x);
}

/* Sorted copy of text's lines after the first, for comparing line sets. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *sorted_lines(const char *text)
{
	char *copy = strdup(text), *save = NULL, *lines[1024], *out;
	size_t n = 0, len = strlen(text) + 2;

	for (char *l = strtok_r(copy, "\n", &save); l && n < 1024; l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	qsort(lines + 1, n - 1, sizeof *lines, cmp_str);
	out = calloc(1, len);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	free(copy);
	return out;
}

/* quality.csv keeps a line per head of every group a sweep makes, however
 * many axes it varies (kv_group, kv_residual, kv_layout, head_dim_v): a
 * no-op --resume keeps them all; one cut in half is measured again. */
Test(faults, quality_lines_survive_resume_and_a_cut, .timeout = 120)
{
	const char *dir = temp_dir();
	char exp[300], out[300], path[400], *before, *after, *err = NULL, *a, *b;
	FILE *f;

	snprintf(exp, sizeof exp, "%s/q.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(path, sizeof path, "%s/quality.csv", out);
	write_text(exp, "name: qsweep\n"
			"shape: {seq_len: 128, heads: 2, kv_heads: 1, head_dim: 128, threads: 1, mode: decode, kv_dtype: kivi2}\n"
			"sweep: {kv_group: [32, 64], kv_residual: [0, 32], kv_layout: [full, paged], head_dim_v: [64, 128]}\n"
			"patterns: [dense, {window: {size: 32}}]\n"
			"kernels: [decode]\n"
			"run: {warmup: 0, repeats: 2, min_time_ms: 0}\n"
			"quality: {rows: 16}\n");
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	char *resume[] = { "sabench", "run", exp, "-o", out, "--resume", NULL };
	cr_assert_eq(run_bin(argv, NULL, NULL), 0);
	before = read_text(path);
	cr_assert_eq(count_lines(before), 1 + 2 * 2 * 2 * 2 * 2 * 2, "%s", before);
	cr_assert_eq(run_bin(resume, NULL, &err), 0, "%s", err);
	free(err);
	after = read_text(path);
	cr_assert_str_eq(after, before, "a no-op resume changed quality.csv");
	free(after);
	/* cut in half, mid-line */
	f = fopen(path, "w");
	fwrite(before, 1, strlen(before) / 2, f);
	fclose(f);
	cr_assert_eq(run_bin(resume, NULL, &err), 0, "%s", err);
	cr_assert(strstr(err, "whose quality lines were incomplete run again"), "%s", err);
	cr_assert_null(strstr(err, "and 0 whose quality lines"), "%s", err);
	free(err);
	after = read_text(path);
	a = sorted_lines(before);
	b = sorted_lines(after);
	cr_assert_str_eq(b, a, "the lost half was not measured again");
	free(a);
	free(b);
	free(after);
	free(before);
	snprintf(path, sizeof path, "%s/results.csv", out);
	struct csv t;
	csv_load(&t, path);
	cr_assert_eq(t.nrow, 32, "results.csv holds %d rows", t.nrow);
	csv_free(&t);
}

/* Work without bound is refused at once with why: a FIFO no one writes
 * to (validate would block), a pattern of 10^9 rows (minutes, 15 GiB);
 * a regular file and --n at the limit's side pass (negative controls). */
Test(faults, unbounded_work_is_refused_at_once, .timeout = 30)
{
	const char *dir = temp_dir();
	char fifo[300], want[400], *err = NULL;

	snprintf(fifo, sizeof fifo, "%s/fifo.yaml", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	char *validate[] = { "sabench", "validate", fifo, NULL };
	cr_assert_eq(run_bin(validate, NULL, &err), 2);
	snprintf(want, sizeof want, "sabench: cannot read '%s': not a regular file\n", fifo);
	cr_assert_str_eq(err, want);
	free(err);
	unlink(fifo);
	char *big[] = { "sabench", "pattern", "dense", "--n", "1000000000", NULL };
	cr_assert_eq(run_bin(big, NULL, &err), 2);
	cr_assert(strstr(err, "sabench: --n 1000000000 is more rows than pattern compiles: at most 67108864 (G is built row by row, 16 bytes a row or more: 14.9 GiB and minutes at --n 1000000000)\n"),
		  "%s", err);
	free(err);
	char *small[] = { "sabench", "pattern", "window: {size: 4}", "--n", "1000", NULL };
	cr_assert_eq(run_bin(small, NULL, &err), 0, "%s", err);
	free(err);
}

/* sabench pattern's inputs and picture: what they cannot do is said
 * plainly with exit 2 (inputs of two heads, a head_dim below the kind's)
 * or 1 (a picture where nothing can be written, even as root). */
Test(faults, pattern_says_what_its_inputs_and_picture_cannot_do, .timeout = 60)
{
	static const struct { const char *input, *head_dim, *want; } cases[] = {
		{ "npy: {q: tests/bad/npy/q.npy, k: tests/bad/npy/k.npy, v: tests/bad/npy/v.npy}", "8",
		  "sabench: inputs 'npy(q.npy)' hold 2 heads (1 K/V); pattern selects over one: give files of one head\n" },
		{ "synthetic: {}", "4", "sabench: --head-dim 4 is below the 16 that inputs 'synthetic' need\n" },
	};
	char *err = NULL;

	cr_assert_eq(chdir(root_path("")), 0);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *argv[] = { "sabench", "pattern", "quest: {page: 16, budget: 64}", "--n", "32", "--inputs",
				 (char *)cases[i].input, "--head-dim", (char *)cases[i].head_dim, NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 2, "%s", err);
		cr_assert(!strncmp(err, cases[i].want, strlen(cases[i].want)), "%s", err);
		free(err);
	}
	char *png[] = { "sabench", "pattern", "window: {size: 8}", "--n", "64", "--png", "/proc/masks.png", NULL };
	cr_assert_eq(run_bin(png, NULL, &err), 1);
	cr_assert_str_eq(err, "sabench: cannot write '/proc/masks.png': No such file or directory\n");
	free(err);
}
