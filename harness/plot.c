/* plot.c - runs gnuplot on each script of plots/ with the CSV path and the
 * output folder as variables. The scripts are generic over any
 * results.csv; this file only finds them and gnuplot. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plot.h"

#ifndef SABENCH_PLOTS_DIR
#define SABENCH_PLOTS_DIR "plots"
#endif

const char *const plot_scripts[] = { "latency", "flops", "memory", NULL };

/* 1 when prog is an executable file on the PATH. */
static int on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	while (path && *path) {
		size_t len = strcspn(path, ":");
		snprintf(buf, sizeof buf, "%.*s/%s", (int)len, path, prog);
		if (access(buf, X_OK) == 0)
			return 1;
		path += len + (path[len] == ':');
	}
	return 0;
}

/* The plots/ folder: $SABENCH_PLOTS, beside the binary, or built in. */
static const char *scripts_dir(void)
{
	static char dir[PATH_MAX];
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n;

	if (getenv("SABENCH_PLOTS"))
		return getenv("SABENCH_PLOTS");
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		char *slash;
		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(dir, sizeof dir, "%s/../plots", exe);
			snprintf(probe, sizeof probe, "%s/latency.gp", dir);
			if (access(probe, R_OK) == 0)
				return dir;
		}
	}
	return SABENCH_PLOTS_DIR;
}

static int run_gnuplot(const char *script, const char *csv, const char *out,
		       struct err *e)
{
	char vars[8400];
	pid_t pid;
	int status;

	snprintf(vars, sizeof vars, "csv='%s'; outdir='%s'", csv, out);
	pid = fork();
	if (pid < 0)
		return err_set(e, "cannot start gnuplot: %s", strerror(errno));
	if (pid == 0) {
		execlp("gnuplot", "gnuplot", "-e", vars, script, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return err_set(e, "gnuplot failed on '%s'", script);
	return 0;
}

int plot_results(const char *dir, void (*progress)(const char *line),
		 struct err *e)
{
	char csv[4200], out[4200], script[PATH_MAX + 64], line[PATH_MAX + 300];
	const char *sdir = scripts_dir();

	snprintf(csv, sizeof csv, "%s/results.csv", dir);
	snprintf(out, sizeof out, "%s/plots", dir);
	if (strchr(dir, '\'')) {
		err_set(e, "results folder '%s' has a quote in its name; gnuplot cannot take it", dir);
		return PLOT_BAD_INPUT;
	}
	if (access(csv, R_OK) != 0) {
		err_set(e, "no results in '%s': cannot read '%s'", dir, csv);
		return PLOT_BAD_INPUT;
	}
	if (!on_path("gnuplot")) {
		err_set(e, "gnuplot not found; install it (apt-get install gnuplot-nox) to draw '%s'; the CSVs are written",
			dir);
		return PLOT_NO_GNUPLOT;
	}
	if (mkdir(out, 0777) && errno != EEXIST) {
		err_set(e, "cannot create '%s': %s", out, strerror(errno));
		return PLOT_FAILED;
	}
	for (int i = 0; plot_scripts[i]; i++) {
		snprintf(script, sizeof script, "%s/%s.gp", sdir, plot_scripts[i]);
		if (run_gnuplot(script, csv, out, e))
			return PLOT_FAILED;
		snprintf(line, sizeof line, "plot: %s/%s.png and .svg", out, plot_scripts[i]);
		if (progress)
			progress(line);
	}
	return PLOT_OK;
}
