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

#include "../config/ytree.h"
#include "kvfront.h"
#include "pareto.h"
#include "masks.h"
#include "designs.h"
#include "e2e.h"
#include "plot.h"
#include "results.h"

#ifndef SABENCH_PLOTS_DIR
#define SABENCH_PLOTS_DIR "plots"
#endif

const char *const plot_scripts[] = { "latency", "flops", "memory", "speedup",
				     "roofline", "pareto", "kv", "quality", "heads", NULL };

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

/* The machine.yaml with the ceilings: $SABENCH_MACHINE or the default. */
static const char *machine_file(void)
{
	const char *m = getenv("SABENCH_MACHINE");

	return m && !strchr(m, '\'') ? m : "results/machine.yaml";
}

/* Runs gnuplot -e vars script; 0 when it exits 0. */
static int run_gnuplot(const char *script, const char *vars, struct err *e)
{
	pid_t pid;
	int status;

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

int plot_masks(char *const *specs, char *const *labels, size_t n_pat, long n,
	       int causal, const char *input, const char *datadir, const char *outdir,
	       const char *name, struct err *e)
{
	char script[PATH_MAX + 64], vars[8800];

	if (!n_pat)
		return 0;
	if (strchr(outdir, '\'') || strchr(name, '\'') || strchr(datadir, '\''))
		return err_set(e, "'%s/%s.png' has a quote in its name; gnuplot cannot take it", outdir, name);
	if (masks_write(datadir, specs, labels, n_pat, n, causal, input, e))
		return -1;
	snprintf(script, sizeof script, "%s/masks.gp", scripts_dir());
	snprintf(vars, sizeof vars,
		 "masks='%s/masks.dat'; labels='%s/masks.labels'; n=%ld; outdir='%s'; name='%s'",
		 datadir, datadir, n, outdir, name);
	if (run_gnuplot(script, vars, e))
		return err_set(e, "cannot draw '%s/%s.png': gnuplot failed", outdir, name);
	return 0;
}

int plot_attention(const char *datadir, const char *outdir, const char *name, long n,
		   struct err *e)
{
	char script[PATH_MAX + 64], vars[8800];

	if (strchr(outdir, '\'') || strchr(name, '\'') || strchr(datadir, '\''))
		return err_set(e, "'%s/%s.png' has a quote in its name; gnuplot cannot take it", outdir, name);
	if (!on_path("gnuplot"))
		return err_set(e, "gnuplot not found; install it (apt-get install gnuplot-nox) to draw '%s.png'", name);
	snprintf(script, sizeof script, "%s/attention.gp", scripts_dir());
	snprintf(vars, sizeof vars,
		 "maps='%s/attention.dat'; labels='%s/attention.labels'; n=%ld; outdir='%s'; name='%s'",
		 datadir, datadir, n, outdir, name);
	if (run_gnuplot(script, vars, e))
		return err_set(e, "cannot draw '%s/%s.png': gnuplot failed", outdir, name);
	return 0;
}

int plot_scratch_open(char *dir, size_t len, struct err *e)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, len, "%s/sabench-plot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return err_set(e, "cannot make a scratch folder '%s': %s", dir, strerror(errno));
	return 0;
}

void plot_scratch_close(const char *dir)
{
	static const char *const helpers[] = { "masks.dat", "masks.labels", "attention.dat",
					       "attention.labels" };
	char path[4200];

	for (size_t i = 0; i < sizeof helpers / sizeof *helpers; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, helpers[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* The run's first input as an inline spec ("synthetic: {seed: 1, ...}")
 * from its manifest entry, or "" when it has none. */
static void first_input_spec(const struct ynode *x, char *buf, size_t len)
{
	const struct ynode *ins = yt_get(x, "inputs"), *in, *kind;
	size_t off = 0;

	buf[0] = 0;
	if (!ins || ins->type != YT_SEQ || !ins->n)
		return;
	in = ins->kid[0];
	kind = yt_get(in, "kind");
	if (!kind || kind->type != YT_SCALAR || in->type != YT_MAP)
		return;
	off = (size_t)snprintf(buf, len, "%s: {", kind->str);
	for (size_t i = 0; i + 1 < in->n && off < len; i += 2) {
		const struct ynode *k = in->kid[i], *v = in->kid[i + 1];
		if (!strcmp(k->str, "label") || !strcmp(k->str, "kind"))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s: ", buf[off - 1] == '{' ? "" : ", ", k->str);
		if (v->type == YT_SCALAR)
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, v->quoted ? "'%s'" : "%s", v->str);
		else
			for (size_t w = 0; v->type == YT_SEQ && w < v->n && off < len; w++)
				off += (size_t)snprintf(buf + off, len - off, "%s%s%s", w ? ", " : "[",
							v->kid[w]->str, w + 1 == v->n ? "]" : "");
	}
	if (off + 2 < len)
		snprintf(buf + off, len - off, "}");
	else
		buf[0] = 0;
}

/* The pattern specs and labels of a run, from its manifest. */
static int manifest_patterns(const char *dir, char ***specs, char ***labels,
			     size_t *n, int *causal, long *seq_len, char *input,
			     size_t input_len, struct err *e)
{
	char path[4200];
	struct ynode *root = NULL;
	const struct ynode *x, *pats, *shape, *c;

	*n = 0;
	*causal = 1;
	*specs = *labels = NULL;
	snprintf(path, sizeof path, "%s/manifest.yaml", dir);
	if (yt_load_file(path, &root, e))
		return -1;
	x = yt_get(root, "experiment");
	first_input_spec(x, input, input_len);
	pats = yt_get(x, "patterns");
	shape = yt_get(x, "shape");
	c = yt_get(shape, "causal");
	if (c && c->type == YT_SEQ && c->n && !strcmp(c->kid[0]->str, "false"))
		*causal = 0;
	c = yt_get(shape, "seq_len");
	for (size_t i = 0; c && c->type == YT_SEQ && i < c->n; i++) {
		long v = atol(c->kid[i]->str);
		if (v > 0 && (*seq_len == 0 || v < *seq_len))
			*seq_len = v;
	}
	if (pats && pats->type == YT_SEQ && pats->n) {
		*specs = calloc(pats->n, sizeof **specs);
		*labels = calloc(pats->n, sizeof **labels);
	}
	for (size_t i = 0; *specs && *labels && pats && i < pats->n; i++) {
		const struct ynode *s = yt_get(pats->kid[i], "spec");
		const struct ynode *l = yt_get(pats->kid[i], "label");
		if (!s || !l || s->type != YT_SCALAR || !s->quoted)
			continue;               /* no spec (null): not drawn */
		(*specs)[*n] = strdup(s->str);
		(*labels)[*n] = strdup(l->str);
		(*n)++;
	}
	yt_free(root);
	return 0;
}

/* Draws the masks of the run in dir at its smallest seq_len, if its
 * manifest lists patterns. */
static int plot_run_masks(const char *dir, const char *out, struct err *e)
{
	char **specs, **labels, input[1024];
	size_t n;
	long seq_len = 0;
	int causal, rc;

	if (manifest_patterns(dir, &specs, &labels, &n, &causal, &seq_len, input, sizeof input, e))
		return -1;
	rc = plot_masks(specs, labels, n, seq_len ? seq_len : 64, causal, input[0] ? input : NULL, out,
			out, "masks", e);
	for (size_t i = 0; i < n; i++) {
		free(specs[i]);
		free(labels[i]);
	}
	free(specs);
	free(labels);
	return rc;
}

/* The run's kv_budget in bytes per sequence from dir's manifest, 0 when
 * none (or no manifest). */
static double manifest_budget(const char *dir)
{
	char path[4200];
	struct ynode *m = NULL;
	const struct ynode *b;
	struct err e;
	double budget = 0;

	snprintf(path, sizeof path, "%s/manifest.yaml", dir);
	if (yt_load_file(path, &m, &e))
		return 0;
	b = yt_get(yt_get(m, "experiment"), "kv_budget_bytes");
	if (b && b->type == YT_SCALAR)
		budget = atof(b->str);
	yt_free(m);
	return budget;
}

/* dir/pareto.csv and dir/kv_front.csv from dir/results.csv, read once:
 * the points pareto.gp and kv.gp draw. */
static int write_fronts(const char *dir, const char *csv, struct err *e)
{
	struct res_table t;
	struct pareto p;
	struct kv_front f;
	char path[4200];
	int rc;

	if (res_table_read(csv, &t, e))
		return -1;
	if (res_table_series(&t) || pareto_build(&t, &p)) {
		res_table_free(&t);
		return err_set(e, "out of memory reading '%s'", csv);
	}
	snprintf(path, sizeof path, "%s/pareto.csv", dir);
	rc = pareto_write_csv(&p, path, e);
	pareto_free(&p);
	if (!rc && kv_front_build(&t, &f))
		rc = err_set(e, "out of memory reading '%s'", csv);
	else if (!rc) {
		snprintf(path, sizeof path, "%s/kv_front.csv", dir);
		rc = kv_front_write_csv(&f, manifest_budget(dir), path, e);
		kv_front_free(&f);
	}
	res_table_free(&t);
	return rc;
}

/* 0 when csv is a results.csv as a run writes it (res_table_check). */
static int check_results(const char *csv, struct err *e)
{
	struct res_table t;
	int rc;

	if (res_table_read(csv, &t, e))
		return -1;
	rc = res_table_check(&t, csv, e);
	res_table_free(&t);
	return rc;
}

/* The review's picture when the run has a review block; a review that
 * cannot be judged is said on the progress line, not a failure of plot
 * (`sabench review` fails on it). */
static int plot_review_progress(const char *dir, const char *out, void (*progress)(const char *line),
				struct err *e)
{
	char line[PATH_MAX + 300];
	struct err why;
	int rc = plot_review(dir, &why);

	if (rc == PLOT_BAD_INPUT || rc == PLOT_NO_GNUPLOT) {
		snprintf(line, sizeof line, "plot: review.png left out: %s", why.msg);
		if (progress)
			progress(line);
		return PLOT_OK;
	}
	if (rc) {
		*e = why;
		return rc;
	}
	snprintf(line, sizeof line, "%s/review.png", out);
	if (access(line, F_OK))
		return PLOT_OK;         /* no review block, or no limits to draw */
	snprintf(line, sizeof line, "plot: %s/review.png and .svg", out);
	if (progress)
		progress(line);
	return PLOT_OK;
}

/* plots/e2e.png from the run's e2e.csv (its points in e2e_front.csv),
 * when it has one: 0, or -1 with e set. */
static int plot_e2e(const char *dir, const char *out, void (*progress)(const char *line), struct err *e)
{
	char script[PATH_MAX + 64], vars[12800], png[4300];
	int rc = e2e_write_points(dir, e);

	if (rc)
		return rc > 0 ? 0 : -1;
	snprintf(script, sizeof script, "%s/e2e.gp", scripts_dir());
	snprintf(vars, sizeof vars, "pts='%s/e2e_front.csv'; outdir='%s'", dir, out);
	snprintf(png, sizeof png, "%s/e2e.png", out);
	unlink(png);
	if (run_gnuplot(script, vars, e))
		return -1;
	snprintf(png, sizeof png, "plot: %s/e2e.png and .svg", out);
	if (progress)
		progress(png);
	return 0;
}

int plot_results(const char *dir, void (*progress)(const char *line),
		 struct err *e)
{
	char csv[4200], qpath[4200], out[4200], png[4300], script[PATH_MAX + 64], line[PATH_MAX + 300];
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
	if (check_results(csv, e))
		return PLOT_BAD_INPUT;
	snprintf(qpath, sizeof qpath, "%s/quality.csv", dir);
	if (res_check_quality_file(qpath, e))
		return PLOT_BAD_INPUT;
	if (!on_path("gnuplot")) {
		err_set(e, "gnuplot not found; install it (apt-get install gnuplot-nox) to draw '%s'; the CSVs are written",
			dir);
		return PLOT_NO_GNUPLOT;
	}
	if (mkdir(out, 0777) && errno != EEXIST) {
		err_set(e, "cannot create '%s': %s", out, strerror(errno));
		return PLOT_FAILED;
	}
	if (write_fronts(dir, csv, e))
		return PLOT_FAILED;
	for (int i = 0; plot_scripts[i]; i++) {
		char vars[12800];
		snprintf(script, sizeof script, "%s/%s.gp", sdir, plot_scripts[i]);
		if (access(machine_file(), R_OK) == 0)
			snprintf(vars, sizeof vars, "csv='%s'; outdir='%s'; pareto='%s/pareto.csv'; quality='%s/quality.csv'; machine='%s'",
				 csv, out, dir, dir, machine_file());
		else
			snprintf(vars, sizeof vars, "csv='%s'; outdir='%s'; pareto='%s/pareto.csv'; quality='%s/quality.csv'",
				 csv, out, dir, dir);
		/* a script with nothing to draw says so and writes nothing: only
		 * a picture this run wrote is announced (an old one is removed) */
		snprintf(png, sizeof png, "%s/%s.svg", out, plot_scripts[i]);
		unlink(png);
		snprintf(png, sizeof png, "%s/%s.png", out, plot_scripts[i]);
		unlink(png);
		if (run_gnuplot(script, vars, e))
			return PLOT_FAILED;
		snprintf(line, sizeof line, "plot: %s/%s.png and .svg", out, plot_scripts[i]);
		if (progress && access(png, R_OK) == 0)
			progress(line);
	}
	if (plot_run_masks(dir, out, e))
		return PLOT_FAILED;
	snprintf(line, sizeof line, "plot: %s/masks.png and .svg", out);
	if (progress)
		progress(line);
	if (plot_e2e(dir, out, progress, e))
		return PLOT_FAILED;
	return plot_review_progress(dir, out, progress, e);
}

int plot_review(const char *dir, struct err *e)
{
	char script[PATH_MAX + 64], csv[4200], out[4200], vars[12800];
	struct dsg_review r;
	int rc;

	if (strchr(dir, '\'')) {
		err_set(e, "results folder '%s' has a quote in its name; gnuplot cannot take it", dir);
		return PLOT_BAD_INPUT;
	}
	rc = dsg_review_dir(dir, &r, e);
	if (rc)
		return rc > 0 ? PLOT_OK : e->usage ? PLOT_BAD_INPUT : PLOT_FAILED;
	rc = PLOT_OK;
	snprintf(csv, sizeof csv, "%s/review.csv", dir);
	snprintf(out, sizeof out, "%s/plots", dir);
	if (!dsg_plottable(&r)) {
		dsg_free(&r);
		return PLOT_OK;         /* no limits, or no design with both figures */
	}
	if (!on_path("gnuplot")) {
		err_set(e, "gnuplot not found; install it (apt-get install gnuplot-nox) for review.png; review.csv is written");
		rc = PLOT_NO_GNUPLOT;
	} else if (mkdir(out, 0777) && errno != EEXIST) {
		err_set(e, "cannot create '%s': %s", out, strerror(errno));
		rc = PLOT_FAILED;
	} else {
		snprintf(script, sizeof script, "%s/review.gp", scripts_dir());
		dsg_plot_vars(&r, csv, out, vars, sizeof vars);
		rc = run_gnuplot(script, vars, e) ? PLOT_FAILED : PLOT_OK;
	}
	dsg_free(&r);
	return rc;
}

int plot_compare(const char *out_dir, struct err *e)
{
	char script[PATH_MAX + 64], vars[8800];

	if (strchr(out_dir, '\'')) {
		err_set(e, "'%s' has a quote in its name; gnuplot cannot take it", out_dir);
		return PLOT_FAILED;
	}
	if (!on_path("gnuplot")) {
		err_set(e, "gnuplot not found; install it (apt-get install gnuplot-nox) for compare.png; compare.csv is written");
		return PLOT_NO_GNUPLOT;
	}
	snprintf(script, sizeof script, "%s/compare.gp", scripts_dir());
	snprintf(vars, sizeof vars, "cmp='%s/compare.csv'; outdir='%s'", out_dir, out_dir);
	return run_gnuplot(script, vars, e) ? PLOT_FAILED : PLOT_OK;
}
