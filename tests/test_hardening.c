/* test_hardening.c - runs that never lose or corrupt results: a folder
 * another run holds is refused, a stale lock is taken over, a file-size
 * limit stops the run cleanly with whole rows and a resumable folder, a
 * file in the way is named, and non-finite outputs fail verification with
 * the first bad row. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness/run/verify.h"
#include "helpers.h"

static void write_small(const char *dir, char *exp, char *out)
{
	snprintf(exp, 256, "%s/small.yaml", dir);
	snprintf(out, 256, "%s/out", dir);
	write_text(exp, fx_small_run);
}

static void write_lock(const char *out, long pid)
{
	char path[300], text[32];

	mkdir(out, 0777);
	snprintf(path, sizeof path, "%s/.sabench.lock", out);
	snprintf(text, sizeof text, "%ld\n", pid);
	write_text(path, text);
}

/* A folder whose lock another process holds (flock) is refused, whatever
 * pid the file names. */
Test(hardening, folder_held_by_a_live_run_is_refused)
{
	char exp[256], out[256], path[300], want[400], *err = NULL;
	int fd;

	write_small(temp_dir(), exp, out);
	write_lock(out, (long)getpid());
	snprintf(path, sizeof path, "%s/.sabench.lock", out);
	fd = open(path, O_RDWR);
	cr_assert(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 1);
	snprintf(want, sizeof want,
		 "sabench: results folder '%s' is in use by another sabench run (pid %ld holds '%s/.sabench.lock')\n",
		 out, (long)getpid(), out);
	cr_assert(strstr(err, want), "%s", err);
	free(err);
	/* negative control: released, the same lock file is taken over */
	close(fd);
	cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
	cr_assert(strstr(err, "does not hold it"), "%s", err);
	free(err);
}

Test(hardening, stale_lock_is_taken_over)
{
	char exp[256], out[256], path[300], want[400], *err = NULL;

	write_small(temp_dir(), exp, out);
	write_lock(out, 999999999L);
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
	snprintf(path, sizeof path, "%s/.sabench.lock", out);
	snprintf(want, sizeof want, "took over the stale lock '%s' (pid 999999999 is gone)", path);
	cr_assert(strstr(err, want), "%s", err);
	cr_assert_neq(access(path, F_OK), 0, "the lock is left behind");
	free(err);
}

/* Starts `sabench run exp -o out [extra]` as a user would (the default
 * environment: threads pinned by re-executing itself), output to files in
 * dir; returns its pid. */
static pid_t start_run(const char *dir, const char *exp, const char *out, const char *extra)
{
	char log[300];
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		unsetenv("OMP_PROC_BIND");
		unsetenv("OMP_PLACES");
		unsetenv("SABENCH_NO_PIN");
		snprintf(log, sizeof log, "%s/first.log", dir);
		freopen(log, "w", stdout);
		freopen(log, "a", stderr);
		execl(getenv("SABENCH_BIN"), "sabench", "run", exp, "-o", out, extra, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Two real runs into one folder, both as a user starts them: the second
 * (--resume) is refused while the first runs, and once the first is
 * killed, takes the folder over and finishes it. */
Test(hardening, a_live_run_keeps_its_folder_against_a_second, .timeout = 120)
{
	const char *dir = temp_dir();
	char exp[300], out[300], path[400], want[600], *err = NULL, *text;
	int status;

	snprintf(exp, sizeof exp, "%s/slow.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp, "name: slow\n"
			"shape: {heads: 2, head_dim: 16, threads: 1}\n"
			"sweep: {seq_len: [64, 128, 256, 512]}\n"
			"patterns: [dense, {window: {size: 8}}]\n"
			"kernels: [naive, tiled]\n"
			"run: {warmup: 0, repeats: 3, min_time_ms: 2000}\n");
	pid_t first = start_run(dir, exp, out, "--force");
	snprintf(path, sizeof path, "%s/results.csv", out);
	for (int i = 0; i < 200 && access(path, F_OK); i++)
		usleep(50000);
	cr_assert_eq(access(path, F_OK), 0, "the first run never started");
	text = read_text(strcat(strcpy(want, out), "/.sabench.lock"));
	cr_assert_eq(atol(text), (long)first, "the lock names %s", text);
	free(text);
	char *argv[] = { "sabench", "run", exp, "-o", out, "--resume", NULL };
	int rc = run_bin(argv, NULL, &err);
	cr_assert_eq(waitpid(first, &status, WNOHANG), 0, "the first run ended too soon");
	cr_assert_eq(rc, 1, "the second run was let in:\n%s", err);
	snprintf(want, sizeof want,
		 "sabench: results folder '%s' is in use by another sabench run (pid %ld holds '%s/.sabench.lock')\n",
		 out, (long)first, out);
	cr_assert(strstr(err, want), "%s", err);
	free(err);
	kill(first, SIGKILL);
	waitpid(first, &status, 0);
	/* killed, it holds nothing: a new run takes the folder over */
	write_small(dir, exp, path);
	char *again[] = { "sabench", "run", exp, "-o", out, "--force", NULL };
	cr_assert_eq(run_bin(again, NULL, &err), 0, "%s", err);
	snprintf(want, sizeof want, "took over the stale lock '%s/.sabench.lock' (pid %ld is gone)", out,
		 (long)first);
	cr_assert(strstr(err, want), "%s", err);
	free(err);
}

Test(hardening, file_size_limit_stops_cleanly_and_resumes, .timeout = 60)
{
	char exp[256], out[256], path[300], *text;
	int status;
	pid_t pid;
	struct csv t;

	write_small(temp_dir(), exp, out);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct rlimit lim = { 4096, 4096 };
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		setrlimit(RLIMIT_FSIZE, &lim);
		signal(SIGXFSZ, SIG_IGN);
		execl(getenv("SABENCH_BIN"), "sabench", "run", exp, "-o", out, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "the full disk stops the run with 1");
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);             /* every row whole: csv_load checks field counts */
	cr_assert(t.nrow > 0 && t.nrow < 12, "%d rows", t.nrow);
	text = read_text(path);
	cr_assert_eq(text[strlen(text) - 1], '\n', "a partial row was left");
	free(text);
	csv_free(&t);
	snprintf(path, sizeof path, "%s/manifest.yaml", out);
	text = read_text(path);
	cr_assert(strstr(text, "status: interrupted"), "%s", text);
	cr_assert(strstr(text, "File too large"), "%s", text);
	free(text);
	char *argv[] = { "sabench", "run", exp, "-o", out, "--resume", NULL };
	cr_assert_eq(run_bin(argv, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);
	cr_assert_eq(t.nrow, 12);
	for (int i = 0; i < t.nrow; i++)
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(csv_get(&t, i, "cell"), csv_get(&t, j, "cell"), "duplicate row");
	csv_free(&t);
}

Test(hardening, file_in_the_way_is_named)
{
	char exp[256], out[256], want[400], *err = NULL;

	write_small(temp_dir(), exp, out);
	write_text(out, "not a folder\n");
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 1);
	snprintf(want, sizeof want, "sabench: cannot create '%s': a file of that name is in the way\n", out);
	cr_assert(strstr(err, want), "%s", err);
	free(err);
}

Test(hardening, non_finite_output_fails_verification)
{
	struct fixture fx;
	struct verify_ref ref = { 0 };
	struct verify_result res;
	long bad;

	fx_make(&fx, "window: {size: 4}", 1, 10, 1, 2, 2, 8, 1.0f);
	fx_max_err(&fx, kern_find("naive"), 1, &bad);
	cr_assert_eq(verify_prepare(&ref, &fx.p, 64, 1), 0);
	verify_check(&ref, &fx.p, fx.o, 2e-4, 1e-7, &res);
	cr_assert(res.ok, "%s", res.why);
	fx.o[(10 + 3) * 8 + 5] = 0.0f / 0.0f;   /* head 1, row 3 */
	fx.o[(10 + 7) * 8] = 1.0f / 0.0f;       /* head 1, row 7: not the first */
	verify_check(&ref, &fx.p, fx.o, 2e-4, 1e-7, &res);
	cr_assert_not(res.ok);
	cr_assert_str_eq(res.why, "non-finite output at batch 0 head 1 row 3");
	verify_free(&ref);
	fx_free(&fx);
}

/* The absolute limit grows with the oracle's largest |value| above 1
 * (fp32 rounds relative to the values): an error of 0.1 on outputs of
 * about 10^4 passes, the same error on the outputs as made fails with the
 * limit named. */
Test(hardening, the_abs_limit_scales_with_the_values)
{
	struct fixture fx;
	struct verify_ref ref = { 0 };
	struct verify_result res;
	long bad, n_out = 2L * 10 * 8;         /* heads x rows x dv */
	double big = 0.0;
	char want[192];

	fx_make(&fx, "window: {size: 4}", 1, 10, 1, 2, 2, 8, 1.0f);
	fx_max_err(&fx, kern_find("naive"), 1, &bad);
	cr_assert_eq(verify_prepare(&ref, &fx.p, 64, 1), 0);
	cr_assert_eq(ref.n_rows, 10);
	fx.o[5] += 0.1f;
	verify_check(&ref, &fx.p, fx.o, 2e-4, 1e-7, &res);
	cr_assert_not(res.ok);
	snprintf(want, sizeof want, "differs from the oracle: max_abs_err %.3g (limit 0.0002)", res.max_abs_err);
	cr_assert(strstr(res.why, want), "%s", res.why);
	for (long i = 0; i < n_out; i++) {
		fx.o[i] = (fx.o[i] - (i == 5 ? 0.1f : 0.0f)) * 1e4f + (i == 5 ? 0.1f : 0.0f);
		ref.out[i] *= 1e4;
		big = fabs(ref.out[i]) > big ? fabs(ref.out[i]) : big;
	}
	cr_assert_gt(big * 2e-4, 0.1);
	verify_check(&ref, &fx.p, fx.o, 2e-4, 1e-7, &res);
	cr_assert(res.ok, "%s", res.why);
	verify_free(&ref);
	fx_free(&fx);
}

/* Every allocation sabench itself makes while loading an experiment and
 * running a small one fails in turn: each run ends with exit 0 (a failure
 * it can do without), 1 or 2 and a message naming what it could not
 * allocate, never a crash (nor, in make check, a leak). */
Test(hardening, every_allocation_failure_is_clean, .timeout = 300)
{
	const char *bin = getenv("SABENCH_FAIL_BIN"), *dir = temp_dir();
	char exp[256], out[256], counter[256], num[32], *text;
	long total;

	cr_assert_not_null(bin, "SABENCH_FAIL_BIN is not set; run the tests through make test");
	snprintf(exp, sizeof exp, "%s/fa.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(counter, sizeof counter, "%s/count", dir);
	write_text(exp,
		   "shape: {heads: 2, kv_heads: 1, head_dim: 8, threads: 1}\n"
		   "sweep: {seq_len: [16, 40]}\n"
		   "patterns: [dense, {sink_window: {sinks: 1, size: 4}}]\n"
		   "kernels: [naive, tiled, gather, masked]\n"
		   "run: {warmup: 0, repeats: 2, min_time_ms: 0}\n"
		   "counters: [sabench::pairs]\n");
	setenv("SABENCH_ALLOC_COUNT_FILE", counter, 1);
	setenv("SABENCH_FAIL_ALLOC", "0", 1);
	setenv("SABENCH_BIN", bin, 1);
	char *argv[] = { "sabench", "run", exp, "-o", out, "--force", NULL };
	cr_assert_eq(run_bin(argv, NULL, NULL), 0);
	text = read_text(counter);
	total = atol(text);
	free(text);
	cr_assert_gt(total, 50, "only %ld allocations counted", total);
	for (long n = 1; n <= total; n++) {
		char *err = NULL;
		int rc;
		snprintf(num, sizeof num, "%ld", n);
		setenv("SABENCH_FAIL_ALLOC", num, 1);
		rc = run_bin(argv, NULL, &err);
		cr_assert(rc == 0 || rc == 1 || rc == 2, "allocation %ld: exit %d\n%s", n, rc, err);
		cr_assert_null(strstr(err, "Sanitizer"), "allocation %ld:\n%s", n, err);
		if (rc)
			cr_assert(strstr(err, "out of memory") || strstr(err, "cannot"),
				  "allocation %ld: no message naming it:\n%s", n, err);
		free(err);
	}
	unsetenv("SABENCH_FAIL_ALLOC");
	unsetenv("SABENCH_ALLOC_COUNT_FILE");
}
