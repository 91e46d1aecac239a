/* compare.c - matching two runs' cells and testing each difference. The
 * samples come from samples.csv (one time per repetition); the medians
 * from results.csv, so a compare reads exactly what the runs wrote. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../stats.h"
#include "compare.h"
#include "results.h"

/* The times of cell in samples table t (malloc'ed, *n of them). */
static double *cell_samples(const struct res_table *t, const char *cell, size_t *n)
{
	int cc = res_table_col(t, "cell"), ct = res_table_col(t, "time_s");
	double *x = malloc((t->nrow ? t->nrow : 1) * sizeof *x);

	*n = 0;
	for (size_t i = 0; x && i < t->nrow; i++)
		if (!strcmp(res_table_get(t, i, cc), cell))
			x[(*n)++] = atof(res_table_get(t, i, ct));
	return x;
}

static long find_cell(const struct res_table *t, const char *cell)
{
	int cc = res_table_col(t, "cell");

	for (size_t i = 0; i < t->nrow; i++)
		if (!strcmp(res_table_get(t, i, cc), cell))
			return (long)i;
	return -1;
}

static int push_name(char ***list, size_t *n, const char *s)
{
	char **l = realloc(*list, (*n + 1) * sizeof *l);

	if (!l)
		return -1;
	*list = l;
	l[*n] = strdup(s);
	return l[(*n)++] ? 0 : -1;
}

static int read_run(const char *dir, struct res_table *res, struct res_table *smp,
		    struct err *e)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/results.csv", dir);
	if (res_table_read(path, res, e))
		return -1;
	snprintf(path, sizeof path, "%s/samples.csv", dir);
	if (res_table_read(path, smp, e)) {
		res_table_free(res);
		return -1;
	}
	if (res_table_col(res, "cell") < 0 || res_table_col(res, "time_median_s") < 0 ||
	    res_table_col(smp, "time_s") < 0) {
		res_table_free(res);
		res_table_free(smp);
		return err_set(e, "'%s' does not hold sabench results", dir);
	}
	return 0;
}

/* Compares one cell present in both runs. */
static int compare_cell(const struct res_table sa[2], const struct res_table ra[2],
			size_t ia, size_t ib, double threshold, struct compare_row *row)
{
	int ca = res_table_col(&ra[0], "cell"), ma = res_table_col(&ra[0], "time_median_s");
	int mb = res_table_col(&ra[1], "time_median_s");
	double *xa, *xb;

	memset(row, 0, sizeof *row);
	row->cell = strdup(res_table_get(&ra[0], ia, ca));
	if (!row->cell)
		return -1;
	row->median_a = atof(res_table_get(&ra[0], ia, ma));
	row->median_b = atof(res_table_get(&ra[1], ib, mb));
	row->ratio = row->median_a > 0 ? row->median_b / row->median_a : 0;
	xa = cell_samples(&sa[0], row->cell, &row->reps_a);
	xb = cell_samples(&sa[1], row->cell, &row->reps_b);
	if (!xa || !xb) {
		free(xa);
		free(xb);
		return -1;
	}
	stats_mann_whitney(xa, row->reps_a, xb, row->reps_b, &row->u, &row->p);
	free(xa);
	free(xb);
	if (row->p < COMPARE_ALPHA && row->ratio > 1 + threshold)
		row->verdict = 1;
	else if (row->p < COMPARE_ALPHA && row->ratio < 1 / (1 + threshold))
		row->verdict = -1;
	return 0;
}

int compare_runs(const char *dir_a, const char *dir_b, double threshold,
		 struct compare_result *r, struct err *e)
{
	struct res_table res[2], smp[2];
	double log_sum = 0;
	int rc = 0, ca, cb, ma, mb;

	memset(r, 0, sizeof *r);
	if (read_run(dir_a, &res[0], &smp[0], e))
		return -1;
	if (read_run(dir_b, &res[1], &smp[1], e)) {
		res_table_free(&res[0]);
		res_table_free(&smp[0]);
		return -1;
	}
	ca = res_table_col(&res[0], "cell");
	cb = res_table_col(&res[1], "cell");
	ma = res_table_col(&res[0], "time_median_s");
	mb = res_table_col(&res[1], "time_median_s");
	r->row = calloc(res[0].nrow ? res[0].nrow : 1, sizeof *r->row);
	if (!r->row)
		rc = err_set(e, "out of memory comparing the runs");
	for (size_t i = 0; !rc && i < res[0].nrow; i++) {
		const char *cell = res_table_get(&res[0], i, ca);
		long j = find_cell(&res[1], cell);
		if (j < 0 || !res_table_get(&res[1], (size_t)j, mb)[0]) {
			rc = push_name(&r->only_a, &r->n_only_a, cell);
			continue;
		}
		if (!res_table_get(&res[0], i, ma)[0])
			continue;       /* not timed in A: nothing to compare */
		rc = compare_cell(smp, res, i, (size_t)j, threshold, &r->row[r->n]);
		if (!rc) {
			struct compare_row *row = &r->row[r->n++];
			log_sum += log(row->ratio > 0 ? row->ratio : 1);
			r->few_reps |= row->reps_a < COMPARE_MIN_REPS || row->reps_b < COMPARE_MIN_REPS;
		}
	}
	for (size_t j = 0; !rc && j < res[1].nrow; j++)
		if (find_cell(&res[0], res_table_get(&res[1], j, cb)) < 0)
			rc = push_name(&r->only_b, &r->n_only_b, res_table_get(&res[1], j, cb));
	r->geomean = r->n ? exp(log_sum / (double)r->n) : 1.0;
	for (int k = 0; k < 2; k++) {
		res_table_free(&res[k]);
		res_table_free(&smp[k]);
	}
	if (rc && !e->msg[0])
		err_set(e, "out of memory comparing the runs");
	if (rc)
		compare_free(r);
	return rc ? -1 : 0;
}

int compare_write_csv(const struct compare_result *r, const char *out_dir,
		      struct err *e)
{
	char path[4200];
	FILE *f;

	if (res_make_dirs(out_dir, e))
		return -1;
	snprintf(path, sizeof path, "%s/compare.csv", out_dir);
	f = fopen(path, "w");
	if (!f)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	fputs("cell,median_a_s,median_b_s,ratio,u,p,reps_a,reps_b,verdict\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct compare_row *x = &r->row[i];
		res_csv_field(f, x->cell);
		fprintf(f, ",%.9g,%.9g,%.6g,%.1f,%.6g,%zu,%zu,%s\n", x->median_a,
			x->median_b, x->ratio, x->u, x->p, x->reps_a, x->reps_b,
			x->verdict > 0 ? "slower" : x->verdict < 0 ? "faster" : "same");
	}
	for (size_t i = 0; i < r->n_only_a; i++) {
		res_csv_field(f, r->only_a[i]);
		fputs(",,,,,,,,only in A\n", f);
	}
	for (size_t i = 0; i < r->n_only_b; i++) {
		res_csv_field(f, r->only_b[i]);
		fputs(",,,,,,,,only in B\n", f);
	}
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

void compare_free(struct compare_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->row[i].cell);
	for (size_t i = 0; i < r->n_only_a; i++)
		free(r->only_a[i]);
	for (size_t i = 0; i < r->n_only_b; i++)
		free(r->only_b[i]);
	free(r->row);
	free(r->only_a);
	free(r->only_b);
	memset(r, 0, sizeof *r);
}
