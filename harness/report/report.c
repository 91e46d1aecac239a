/* report.c - report.md: what was run (experiment, machine, build), a table
 * per seq_len (median time, GFLOP/s, speed-up over dense, KV-cache bytes
 * and the saving over dense, verification), the best kernel per pattern,
 * noisy cells, skipped or failed cells with reasons, and the pictures. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../kernels/kvcache.h"
#include "../config/experiment.h"
#include "../config/ytree.h"
#include "kvfront.h"
#include "designs.h"
#include "review.h"
#include "serving.h"
#include "e2e.h"
#include "report.h"
#include "results.h"

/* The axes besides pattern, kernel and seq_len that tell cells apart: a
 * table that mixes cells shows each one that varies in the run, and only
 * those (results.csv's names, as headers). */
static const char *const axis_names[] = {
	"inputs", "score", "dtype", "mode", "kv_layout", "kv_dtype", "decode_steps", "extend_tokens", "ragged",
	"threads", "head_dim", "batch", "heads", "kv_heads", "causal",
};
#define N_AXES (sizeof axis_names / sizeof *axis_names)

/* Column numbers of the fields the report reads. */
struct cols {
	int cell, pattern, label, kernel, n;
	int median, gflops, kv, cv, verified, status, pct, pct_bw;
	int axis[N_AXES];       /* column of each axis_names entry, or -1 */
	int varies[N_AXES];     /* 1: the axis takes more than one value */
};

/* 1 when column col holds more than one value over t's rows. */
static int column_varies(const struct res_table *t, int col)
{
	for (size_t i = 1; col >= 0 && i < t->nrow; i++)
		if (strcmp(res_table_get(t, i, col), res_table_get(t, 0, col)))
			return 1;
	return 0;
}

static void find_cols(const struct res_table *t, struct cols *c)
{
	for (size_t a = 0; a < N_AXES; a++) {
		c->axis[a] = res_table_col(t, axis_names[a]);
		c->varies[a] = column_varies(t, c->axis[a]);
	}
	c->cell = res_table_col(t, "cell");
	c->pattern = res_table_col(t, "pattern");
	c->label = res_table_col(t, "pattern_label");
	c->kernel = res_table_col(t, "kernel");
	c->n = res_table_col(t, "seq_len");
	c->median = res_table_col(t, "time_median_s");
	c->gflops = res_table_col(t, "gflops");
	c->kv = res_table_col(t, "kv_cache_bytes");
	c->cv = res_table_col(t, "time_cv");
	c->verified = res_table_col(t, "verified");
	c->status = res_table_col(t, "status");
	c->pct = res_table_col(t, "pct_peak");
	c->pct_bw = res_table_col(t, "pct_bw");
}

#define GET(t, i, col) res_table_get((t), (i), (col))

/* 1 when rows i and j differ only in pattern (and kernel unless
 * same_kernel): the same seq_len and the same value of every axis. */
static int same_shape(const struct res_table *t, const struct cols *c, size_t i,
		      size_t j, int same_kernel)
{
	if (strcmp(GET(t, i, c->n), GET(t, j, c->n)))
		return 0;
	for (size_t a = 0; a < N_AXES; a++)
		if (strcmp(GET(t, i, c->axis[a]), GET(t, j, c->axis[a])))
			return 0;
	return !same_kernel || !strcmp(GET(t, i, c->kernel), GET(t, j, c->kernel));
}

/* The header cells of the varying axes: " inputs | threads |". */
static void axis_header(FILE *f, const struct cols *c)
{
	for (size_t a = 0; a < N_AXES; a++)
		if (c->varies[a])
			fprintf(f, " %s |", axis_names[a]);
}

static void axis_rule(FILE *f, const struct cols *c)
{
	for (size_t a = 0; a < N_AXES; a++)
		if (c->varies[a])
			fputs("---|", f);
}

/* Row i's values of the varying axes. */
static void axis_cells(FILE *f, const struct res_table *t, const struct cols *c, size_t i)
{
	for (size_t a = 0; a < N_AXES; a++)
		if (c->varies[a])
			fprintf(f, " %s |", GET(t, i, c->axis[a]));
}

/* The dense row matching row i (same kernel and shape), or -1. */
static long dense_of(const struct res_table *t, const struct cols *c, size_t i,
		     int same_kernel)
{
	for (size_t j = 0; j < t->nrow; j++)
		if (!strcmp(GET(t, j, c->pattern), pat_dense.name) && same_shape(t, c, i, j, same_kernel))
			return (long)j;
	return -1;
}

/* The title, the experiment's description and whether the run is whole:
 * what a reader needs before the answers. */
static void write_title(FILE *f, const struct ynode *m)
{
	const struct ynode *x = yt_get(m, "experiment"), *r = yt_get(m, "run");
	const struct ynode *d = yt_get(x, "description"), *n = yt_get(x, "name");
	const struct ynode *st = yt_get(r, "status");

	fprintf(f, "# %s: sabench report\n\n", n && n->str ? n->str : "run");
	if (d && d->str && d->str[0])
		fprintf(f, "%s\n\n", d->str);
	if (st && st->str && strcmp(st->str, "complete"))
		fprintf(f, "**This run is %s**: the tables hold the cells it finished.\n\n", st->str);
	fputs("What the run decides comes first (the review's answer, the best design of each\n"
	      "pattern family, the pictures), then the tables by length, then how it was run and\n"
	      "the cells to read with care.\n\n", f);
}

/* The experiment as run: its shape, patterns and kernels. */
static void write_header(FILE *f, const struct ynode *m)
{
	const struct ynode *x = yt_get(m, "experiment");
	const struct ynode *shape = yt_get(x, "shape"), *pats = yt_get(x, "patterns");
	const struct ynode *kerns = yt_get(x, "kernels");

	fputs("## Experiment\n\n", f);
	for (size_t i = 0; shape && shape->type == YT_MAP && i + 1 < shape->n; i += 2) {
		const struct ynode *v = shape->kid[i + 1];
		fprintf(f, "- %s:", shape->kid[i]->str);
		for (size_t k = 0; v->type == YT_SEQ && k < v->n; k++)
			fprintf(f, " %s", v->kid[k]->str);
		fputc('\n', f);
	}
	fputs("\n| pattern | spec |\n|---|---|\n", f);
	for (size_t i = 0; pats && pats->type == YT_SEQ && i < pats->n; i++) {
		const struct ynode *l = yt_get(pats->kid[i], "label"), *s = yt_get(pats->kid[i], "spec");
		fprintf(f, "| %s | `%s` |\n", l ? l->str : "?", s && s->str ? s->str : "");
	}
	fputs("\n| kernel | isa | notes |\n|---|---|---|\n", f);
	for (size_t i = 0; kerns && kerns->type == YT_SEQ && i < kerns->n; i++) {
		const struct ynode *k = kerns->kid[i], *nm = yt_get(k, "name"), *isa = yt_get(k, "isa");
		const struct ynode *info = yt_get(k, "info"), *un = yt_get(k, "unavailable");
		const struct ynode *isa16 = yt_get(k, "isa_bf16");
		int other = isa16 && isa && strcmp(isa16->str, isa->str);
		fprintf(f, "| %s | %s%s%s%s | %s |\n", nm ? nm->str : "?", isa ? isa->str : "",
			other ? " (bf16: " : "", other ? isa16->str : "", other ? ")" : "",
			un ? un->str : info ? info->str : "");
	}
	fputc('\n', f);
}

static void write_machine(FILE *f, const struct ynode *m)
{
	const struct ynode *mach = yt_get(m, "machine"), *b = yt_get(m, "build");
	const struct ynode *papi = yt_get(m, "papi"), *ceil = yt_get(m, "ceilings");
	const char *keys[] = { "cpu", "cores_online", "cpu_mhz", "memory_total_bytes", "kernel" };
	const char *bkeys[] = { "compiler", "cflags", "git", "sabench" };

	fputs("## Machine and build\n\n", f);
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		const struct ynode *v = yt_get(mach, keys[i]);
		if (v && v->type == YT_SCALAR)
			fprintf(f, "- %s: %s\n", keys[i], v->str);
	}
	for (size_t i = 0; i < sizeof bkeys / sizeof *bkeys; i++) {
		const struct ynode *v = yt_get(b, bkeys[i]);
		if (v && v->type == YT_SCALAR)
			fprintf(f, "- %s: `%s`\n", bkeys[i], v->str);
	}
	if (yt_get(papi, "version"))
		fprintf(f, "- PAPI: %s; hardware counters: %s\n", yt_get(papi, "version")->str,
			yt_get(papi, "hardware_counters") ? yt_get(papi, "hardware_counters")->str : "?");
	if (ceil && ceil->type == YT_SCALAR)
		fprintf(f, "- ceilings for pct_peak: %s\n", ceil->str);
	fputc('\n', f);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

/* The distinct seq_len values, ascending. */
static size_t seq_lens(const struct res_table *t, const struct cols *c, long *out)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nrow; i++) {
		long v = atol(GET(t, i, c->n));
		size_t k;
		for (k = 0; k < n && out[k] != v; k++)
			;
		if (k == n && n < 256)
			out[n++] = v;
	}
	qsort(out, n, sizeof *out, cmp_long);
	return n;
}

/* A percentage of a ceiling, one decimal; above 100 it is no figure but a
 * ceiling defect (the ceiling was measured too low), and says so. */
static const char *pct_text(const char *v, char *buf, size_t len)
{
	if (!v[0])
		return "";
	snprintf(buf, len, atof(v) > 100.0 ? "%.1f (ceiling defect)" : "%.1f", atof(v));
	return buf;
}

static void write_tables(FILE *f, const struct res_table *t, const struct cols *c)
{
	long ns[256];
	size_t nn = seq_lens(t, c, ns);

	for (size_t k = 0; k < nn; k++) {
		fprintf(f, "## Results at n = %ld\n\n", ns[k]);
		fputs("| pattern | kernel |", f);
		axis_header(f, c);
		fputs(" median (ms) | GFLOP/s | % of peak | speed-up over dense | KV cache | KV saving over dense | verified |\n|---|---|", f);
		axis_rule(f, c);
		fputs("---:|---:|---:|---:|---:|---:|---|\n", f);
		for (size_t i = 0; i < t->nrow; i++) {
			char kvb[32], sp[32] = "", save[32] = "", pct[48];
			long dn, dk;
			double med = atof(GET(t, i, c->median)), kv = atof(GET(t, i, c->kv));
			if (atol(GET(t, i, c->n)) != ns[k])
				continue;
			dn = dense_of(t, c, i, 1);
			dk = dense_of(t, c, i, 0);
			if (dn >= 0 && med > 0 && atof(GET(t, (size_t)dn, c->median)) > 0)
				snprintf(sp, sizeof sp, "%.2fx", atof(GET(t, (size_t)dn, c->median)) / med);
			if (dk >= 0 && kv > 0)
				snprintf(save, sizeof save, "%.1fx", atof(GET(t, (size_t)dk, c->kv)) / kv);
			res_human_bytes(kv, kvb, sizeof kvb);
			fprintf(f, "| %s | %s |", GET(t, i, c->label), GET(t, i, c->kernel));
			axis_cells(f, t, c, i);
			if (GET(t, i, c->median)[0])
				fprintf(f, " %.3f | %.1f | %s | %s | %s | %s | %s |\n", med * 1e3,
					atof(GET(t, i, c->gflops)), pct_text(GET(t, i, c->pct), pct, sizeof pct),
					sp, kvb, save, GET(t, i, c->verified));
			else
				fprintf(f, " - | - | - | - | %s | %s | %s |\n", kvb, save,
					GET(t, i, c->status));
		}
		fputc('\n', f);
	}
}

/* For each pattern and value of the varying axes at the largest seq_len:
 * the kernel with the lowest median time. */
static void write_best(FILE *f, const struct res_table *t, const struct cols *c)
{
	long ns[256];
	size_t nn = seq_lens(t, c, ns);

	if (!nn)
		return;
	fprintf(f, "## Best kernel per pattern (n = %ld)\n\n", ns[nn - 1]);
	fputs("| pattern |", f);
	axis_header(f, c);
	fputs(" best kernel | median (ms) | next best | its median (ms) |\n|---|", f);
	axis_rule(f, c);
	fputs("---|---:|---|---:|\n", f);
	for (size_t i = 0; i < t->nrow; i++) {
		long best = -1, second = -1;
		int seen = 0;
		if (atol(GET(t, i, c->n)) != ns[nn - 1])
			continue;
		for (size_t j = 0; j < i && !seen; j++)   /* first row of its group only */
			seen = !strcmp(GET(t, j, c->label), GET(t, i, c->label)) && same_shape(t, c, i, j, 0);
		if (seen)
			continue;
		for (size_t j = 0; j < t->nrow; j++) {
			double tj = atof(GET(t, j, c->median));
			if (strcmp(GET(t, j, c->label), GET(t, i, c->label)) || !same_shape(t, c, i, j, 0) ||
			    !GET(t, j, c->median)[0] || strcmp(GET(t, j, c->status), "ok"))
				continue;
			if (best < 0 || tj < atof(GET(t, (size_t)best, c->median))) {
				second = best;
				best = (long)j;
			} else if (second < 0 || tj < atof(GET(t, (size_t)second, c->median))) {
				second = (long)j;
			}
		}
		if (best < 0)
			continue;
		fprintf(f, "| %s |", GET(t, i, c->label));
		axis_cells(f, t, c, i);
		fprintf(f, " %s | %.3f | %s | ", GET(t, (size_t)best, c->kernel),
			atof(GET(t, (size_t)best, c->median)) * 1e3,
			second >= 0 ? GET(t, (size_t)second, c->kernel) : "-");
		if (second >= 0)
			fprintf(f, "%.3f |\n", atof(GET(t, (size_t)second, c->median)) * 1e3);
		else
			fputs("- |\n", f);
	}
	fputc('\n', f);
}

/* Cells above 100% of a ceiling they are divided by: a wrong ceiling,
 * never an achievement (the section is left out when there are none). */
static void write_ceiling_defects(FILE *f, const struct res_table *t, const struct cols *c)
{
	int n = 0;

	for (size_t i = 0; i < t->nrow; i++) {
		double peak = atof(GET(t, i, c->pct)), bw = atof(GET(t, i, c->pct_bw));
		if (peak <= 100.0 && bw <= 100.0)
			continue;
		if (!n++)
			fputs("## Ceiling defects\n\n"
			      "These cells reached more than 100% of a ceiling measured on this machine: the\n"
			      "ceiling is wrong (measured too low, or under load), not the kernel fast. Measure\n"
			      "the ceilings again (`sabench machine`) before reading their percentages.\n\n"
			      "| cell | % of peak | % of read bandwidth |\n|---|---:|---:|\n", f);
		fprintf(f, "| %s | %s | %s |\n", GET(t, i, c->cell), GET(t, i, c->pct)[0] ? GET(t, i, c->pct) : "-",
			GET(t, i, c->pct_bw)[0] ? GET(t, i, c->pct_bw) : "-");
	}
	if (n)
		fputc('\n', f);
}

static void write_exceptions(FILE *f, const struct res_table *t, const struct cols *c)
{
	int noisy = 0, bad = 0;

	fputs("## Noisy cells (cv above 5%)\n\n", f);
	for (size_t i = 0; i < t->nrow; i++)
		if (GET(t, i, c->cv)[0] && atof(GET(t, i, c->cv)) > 0.05) {
			if (!noisy++)
				fputs("| cell | cv |\n|---|---:|\n", f);
			fprintf(f, "| %s | %.1f%% |\n", GET(t, i, c->cell), 100 * atof(GET(t, i, c->cv)));
		}
	fputs(noisy ? "\nTheir medians are less certain; compare them by ratios within one run.\n\n"
		    : "None.\n\n", f);
	fputs("## Skipped or failed cells\n\n", f);
	for (size_t i = 0; i < t->nrow; i++)
		if (strcmp(GET(t, i, c->status), "ok")) {
			if (!bad++)
				fputs("| cell | status |\n|---|---|\n", f);
			fprintf(f, "| %s | %s |\n", GET(t, i, c->cell), GET(t, i, c->status));
		}
	fputs(bad ? "\n" : "None.\n\n", f);
	write_ceiling_defects(f, t, c);
}


/* Bytes a K (or V) row of d values takes stored as the type called name,
 * its scales included (KIVI at its default group; f32 for a name not
 * known). */
static double row_bytes(const char *name, int d)
{
	int t = dtype_find(name);

	return (double)dtype_row_bytes(t < 0 ? DT_F32 : (enum dtype)t, d, EXP_MODEL_KIVI_GROUP);
}

static void write_budget(FILE *f, const struct ynode *m, const struct res_table *t,
			 const struct cols *c)
{
	const struct ynode *x = yt_get(m, "experiment"), *b = yt_get(x, "kv_budget_bytes");
	const struct ynode *pats = yt_get(x, "patterns");
	int causal = strcmp(srv_shape_first(m, "causal", "true"), "false") != 0;
	const char *kvh = srv_shape_first(m, "kv_heads", "heads");
	int kv_heads = atoi(strcmp(kvh, "heads") ? kvh : srv_shape_first(m, "heads", "1"));
	int d = atoi(srv_shape_first(m, "head_dim", "64"));
	const char *dvs = srv_shape_first(m, "head_dim_v", "head_dim");
	int dv = strcmp(dvs, "head_dim") ? atoi(dvs) : d;
	const char *kvt = srv_shape_first(m, "kv_dtype", "f32");
	double budget, row;
	long ns[256];
	size_t nn = seq_lens(t, c, ns);
	char hb[32];

	if (!b || b->type != YT_SCALAR)
		return;
	budget = atof(b->str);
	row = kv_heads * (row_bytes(kvt, d) + row_bytes(kvt, dv));
	res_human_bytes(budget, hb, sizeof hb);
	fprintf(f, "## KV-cache budget: %s per sequence\n\n", hb);
	if (dv == d)
		fprintf(f, "Per token: K and V x %d kv heads x a row of head_dim %d in %s (%.4g B, scales included) = %.0f B.",
			kv_heads, d, kvt, row_bytes(kvt, d), row);
	else
		fprintf(f, "Per token: %d kv heads x (a K row of head_dim %d and a V row of head_dim_v %d in %s: %.4g B + %.4g B, scales included) = %.0f B.",
			kv_heads, d, dv, kvt, row_bytes(kvt, d), row_bytes(kvt, dv), row);
	fputs(" A pattern fits at n when the cache its decoder must keep (kv_cache_bytes) is within the budget.\n\n| pattern |", f);
	for (size_t k = 0; k < nn; k++)
		fprintf(f, " n = %ld |", ns[k]);
	fputs(" longest context that fits |\n|---|", f);
	for (size_t k = 0; k < nn; k++)
		fputs("---|", f);
	fputs("---|\n", f);
	for (size_t i = 0; pats && pats->type == YT_SEQ && i < pats->n; i++) {
		const struct ynode *l = yt_get(pats->kid[i], "label"), *s = yt_get(pats->kid[i], "spec");
		struct pattern p;
		struct err e;
		long longest;
		if (!l || !s || !s->quoted || exp_parse_spec(s->str, causal, &p, &e))
			continue;
		fprintf(f, "| %s |", l->str);
		for (size_t k = 0; k < nn; k++)
			fputs((double)pat_kv_rows(&p, ns[k]) * row <= budget ? " fits |" : " **no** |", f);
		longest = pat_longest_context(&p, row, budget);
		if (longest < 0)
			fputs(" any length (bounded cache) |\n", f);
		else
			fprintf(f, " %ld |\n", longest);
		pat_free(&p);
	}
	fputc('\n', f);
}

/* The KV bytes-against-error table (kvfront.h), when the run decoded. */
static void write_kv_table(FILE *f, const struct ynode *m, const struct res_table *t)
{
	const struct ynode *b = yt_get(yt_get(m, "experiment"), "kv_budget_bytes");
	struct kv_front kf;

	if (kv_front_build(t, &kf))
		return;         /* out of memory: the section is left out */
	kv_front_write_md(&kf, b && b->type == YT_SCALAR ? atof(b->str) : 0, f);
	kv_front_free(&kf);
}

static void write_pictures(FILE *f, const char *dir)
{
	const char *pics[][2] = {
		{ "latency", "Latency: median time per forward pass" },
		{ "flops", "FLOPs: useful against executed, and the rate achieved" },
		{ "speedup", "Speed-up over dense against density" },
		{ "pareto", "What each pattern costs and keeps: speed-up against recall, Pareto front" },
		{ "kv", "KV bytes per token against output error: fewer keys and fewer bits, Pareto front" },
		{ "quality", "Recall against density and seq_len" },
		{ "heads", "Recall per head and pattern" },
		{ "roofline", "Roofline" },
		{ "memory", "Memory: KV cache, score buffers, resident peak" },
		{ "masks", "The G-sets" },
	};
	char path[4200];
	int any = 0;

	fputs("## Pictures\n\n", f);
	for (size_t i = 0; i < sizeof pics / sizeof *pics; i++) {
		snprintf(path, sizeof path, "%s/plots/%s.png", dir, pics[i][0]);
		if (access(path, R_OK))
			continue;
		fprintf(f, "### %s\n\n![%s](plots/%s.png)\n\n", pics[i][1], pics[i][0], pics[i][0]);
		any = 1;
	}
	if (!any)
		fputs("None yet: run `sabench plot` on this folder, then this report again.\n\n", f);
}

/* The review's answer (designs.h), first, when the run has a review
 * block; one that cannot be judged says why. */
static void write_review(FILE *f, const char *dir)
{
	struct dsg_review r;
	struct err why;
	char path[4200];
	int rc = dsg_review_dir(dir, &r, &why);

	if (rc > 0)
		return;
	if (rc < 0) {
		fprintf(f, "## Review\n\nThe review block cannot be answered: %s.\n", why.msg);
		return;
	}
	dsg_write_md(&r, f);
	snprintf(path, sizeof path, "%s/plots/review.png", dir);
	if (!access(path, R_OK))
		fputs("![review](plots/review.png)\n\n", f);
	dsg_free(&r);
}

int report_write(const char *dir, struct err *e)
{
	char path[4200], tmp[4300];
	struct res_table t, ser = { 0 };
	struct ynode *m = NULL, *m2 = NULL;
	struct cols c;
	FILE *f;

	e->msg[0] = 0;
	if (res_read_run(dir, &t, &m, e))
		return -1;
	find_cols(&t, &c);
	snprintf(path, sizeof path, "%s/report.md", dir);
	snprintf(tmp, sizeof tmp, "%s/report.md.tmp", dir);
	f = fopen(tmp, "w");
	if (!f) {
		yt_free(m);
		res_table_free(&t);
		return err_set(e, "cannot write '%s': %s", tmp, strerror(errno));
	}
	/* series: inputs and score joined (pareto's key), in a copy: the
	 * tables by length show the columns as the file has them */
	if (res_read_run(dir, &ser, &m2, e) || res_table_series(&ser)) {
		fclose(f);
		unlink(tmp);
		yt_free(m);
		yt_free(m2);
		res_table_free(&t);
		res_table_free(&ser);
		return e->msg[0] ? -1 : err_set(e, "out of memory writing '%s'", path);
	}
	write_title(f, m);
	/* what the run decides */
	write_review(f, dir);
	review_decides(f, &ser);
	write_pictures(f, dir);
	e2e_write_md(f, dir);
	/* the figures behind it */
	write_tables(f, &t, &c);
	write_best(f, &t, &c);
	review_quality(f, dir, &ser, m);
	write_budget(f, m, &ser, &c);
	write_kv_table(f, m, &ser);
	srv_write_stacks(f, m, &ser);
	/* how it was run, and the cells to read with care */
	write_header(f, m);
	write_machine(f, m);
	write_exceptions(f, &t, &c);
	yt_free(m);
	yt_free(m2);
	res_table_free(&t);
	res_table_free(&ser);
	if (ferror(f) | fclose(f) || rename(tmp, path))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}
