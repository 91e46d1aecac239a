/* table.c - CSV files read back (results.csv, samples.csv, quality.csv)
 * as tables of strings, and the check of a results.csv that report and
 * plot are given: every row against the columns and types a run writes,
 * so that a hand-edited or cut file is refused with its line and column
 * instead of drawn wrong. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../kernels/isa/dtype.h"
#include "../../kernels/kvcache.h"
#include "../../kernels/score.h"
#include "../config/ytree.h"
#include "csvline.h"
#include "results.h"

#define MAX_COLS 512

/* Appends the row of line (line number at) to t. */
static int table_row(struct res_table *t, char *line, long at, struct err *e)
{
	char **f = calloc((size_t)t->ncol, sizeof *f), *fields[MAX_COLS + 1];
	char ***rows = realloc(t->row, (t->nrow + 1) * sizeof *rows);
	int *nf = realloc(t->nfield, (t->nrow + 1) * sizeof *nf);
	long *ln = realloc(t->line, (t->nrow + 1) * sizeof *ln);
	int n;

	if (rows)
		t->row = rows;
	if (nf)
		t->nfield = nf;
	if (ln)
		t->line = ln;
	if (!f || !rows || !nf || !ln) {
		free(f);
		return err_set(e, "out of memory reading a table");
	}
	line[strcspn(line, "\r\n")] = 0;
	n = csv_split(line, fields, t->ncol);
	for (int j = 0; j < t->ncol; j++)
		f[j] = strdup(j < n ? fields[j] : "");
	t->row[t->nrow] = f;
	t->nfield[t->nrow] = n;
	t->line[t->nrow++] = at;
	return 0;
}

int res_table_read(const char *path, struct res_table *t, struct err *e)
{
	struct stat st;
	FILE *f;
	char *line, *fields[MAX_COLS + 1];
	long at = 1;
	int rc = 0;

	memset(t, 0, sizeof *t);
	/* a FIFO or device would block or never end: refused before opening */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return err_set(e, "cannot read '%s': not a regular file", path);
	f = fopen(path, "r");
	if (!f)
		return err_set(e, "cannot open '%s': %s", path, strerror(errno));
	line = csv_read_line(f);
	if (!line) {
		fclose(f);
		return err_set(e, "'%s' is empty", path);
	}
	line[strcspn(line, "\r\n")] = 0;
	t->ncol = csv_split(line, fields, MAX_COLS);
	if (t->ncol > MAX_COLS) {
		free(line);
		fclose(f);
		return err_set(e, "%s:1: more than %d columns", path, MAX_COLS);
	}
	t->head = calloc((size_t)t->ncol, sizeof *t->head);
	for (int j = 0; t->head && j < t->ncol; j++)
		t->head[j] = strdup(fields[j]);
	free(line);
	if (!t->head)
		rc = err_set(e, "out of memory reading '%s'", path);
	while (!rc && (line = csv_read_line(f))) {
		at++;
		if (csv_whole(line))
			rc = table_row(t, line, at, e);
		else
			t->torn_line = at;      /* a partial last line is not a row */
		free(line);
	}
	fclose(f);
	if (rc)
		res_table_free(t);
	return rc;
}

int res_table_col(const struct res_table *t, const char *name)
{
	for (int j = 0; j < t->ncol; j++)
		if (t->head[j] && !strcmp(t->head[j], name))
			return j;
	return -1;
}

const char *res_table_get(const struct res_table *t, size_t i, int c)
{
	return c < 0 || !t->row[i][c] ? "" : t->row[i][c];
}

int res_table_series(struct res_table *t)
{
	int ci = res_table_col(t, "inputs"), cs = res_table_col(t, "score");

	for (size_t i = 0; ci >= 0 && cs >= 0 && i < t->nrow; i++) {
		const char *score = t->row[i][cs];
		char *joined;
		if (!score[0] || score_label_identity(score))
			continue;
		joined = malloc(strlen(t->row[i][ci]) + strlen(score) + 4);
		if (!joined)
			return -1;
		sprintf(joined, "%s / %s", t->row[i][ci], score);
		free(t->row[i][ci]);
		t->row[i][ci] = joined;
	}
	return 0;
}

void res_table_free(struct res_table *t)
{
	for (size_t i = 0; i < t->nrow; i++) {
		for (int j = 0; j < t->ncol; j++)
			free(t->row[i][j]);
		free(t->row[i]);
	}
	for (int j = 0; t->head && j < t->ncol; j++)
		free(t->head[j]);
	free(t->head);
	free(t->row);
	free(t->nfield);
	free(t->line);
	memset(t, 0, sizeof *t);
}

/* 0 when s is a whole number of type (finite, not negative), else the
 * reason. */
static const char *bad_number(const char *s, enum res_col_type type)
{
	char *end;
	double v;

	errno = 0;
	if (type == RES_COL_INT) {
		long long x = strtoll(s, &end, 10);
		if (end == s || *end || errno)
			return "is not a whole number";
		return x < 0 ? "is negative" : NULL;
	}
	v = strtod(s, &end);
	if (end == s || *end)
		return "is not a number";
	if (!isfinite(v))
		return "is not finite";
	return v < 0 ? "is negative" : NULL;
}

/* 1 when s is one of the NULL-ended names. */
static int one_of(const char *s, const char *const *names)
{
	for (; *names; names++)
		if (!strcmp(s, *names))
			return 1;
	return 0;
}

/* The reason s is not space-separated non-negative numbers, or NULL. */
static const char *bad_times(const char *s)
{
	char *copy = strdup(s), *save = NULL, *tok;
	const char *why = copy ? NULL : "cannot be read (out of memory)";

	for (tok = copy ? strtok_r(copy, " ", &save) : NULL; tok && !why; tok = strtok_r(NULL, " ", &save))
		why = bad_number(tok, RES_COL_NUM) ? "is not numbers separated by spaces" : NULL;
	free(copy);
	return why;
}

/* The reason s (non-empty, of its type) breaks its column's check, or NULL. */
static const char *bad_value(const char *s, enum res_col_check check)
{
	static const char *const verdicts[] = { "yes", "no", NULL };
	static const char *const ragged[] = { "lengths(", "lognormal(", "uniform(" };
	size_t len = strlen(s);

	switch (check) {
	case CHK_NAME:
		return strpbrk(s, ",\"\n\r") ? "holds a comma, quote or newline, which sabench never writes there" : NULL;
	case CHK_MODE:
		for (int m = 0; m < EXP_MODE_COUNT; m++)
			if (!strcmp(s, exp_mode_of(m)->name))
				return NULL;
		return "is not a mode (prefill, decode, extend)";
	case CHK_DTYPE:
		return dtype_find(s) < 0 ? "is not a storage type (sabench list dtypes)" : NULL;
	case CHK_LAYOUT:
		return one_of(s, kv_layout_names) ? NULL : "is not a cache layout (full, ring, sink_ring, paged)";
	case CHK_RAGGED:
		for (size_t k = 0; k < sizeof ragged / sizeof *ragged; k++)
			if (!strncmp(s, ragged[k], strlen(ragged[k])) && s[len - 1] == ')')
				return bad_value(s, CHK_NAME);
		return "is not a ragged batch's label (lengths(...), lognormal(...), uniform(...))";
	case CHK_TIMES:
		return bad_times(s);
	case CHK_VERIFIED:
		return one_of(s, verdicts) ? NULL : "is not yes or no";
	case CHK_POSITIVE:
		return atoll(s) < 1 ? "is below 1" : NULL;
	case CHK_FRACTION:
		return atof(s) > 1.0 ? "is above 1, a share's most" : NULL;
	case CHK_BOOL:
		return strcmp(s, "0") && strcmp(s, "1") ? "is not 0 or 1" : NULL;
	case CHK_ANY:
	case CHK_COUNT:
		break;
	}
	return NULL;
}

/* The reason field s cannot be in a column so described, or NULL. */
static const char *bad_field(const char *s, const struct res_col_info *c)
{
	const char *why;

	if (!*s)
		return c->may_be_empty ? NULL : "is empty";
	if (c->type == RES_COL_STATUS)
		return !strcmp(s, "ok") || !strncmp(s, "skipped: ", 9) || !strncmp(s, "failed: ", 8)
			       ? NULL : "is not ok, 'skipped: ...' or 'failed: ...'";
	if (c->type != RES_COL_TEXT && (why = bad_number(s, c->type)))
		return why;
	return bad_value(s, c->check);
}

/* Every row of t whole and every field as info describes its column. */
static int check_rows(const struct res_table *t, const struct res_col_info *info, const char *path,
		      struct err *e)
{
	int rc = 0;

	if (t->torn_line)
		return err_set(e, "%s:%ld: the last row is cut short (no newline): the file was truncated",
			       path, t->torn_line);
	for (size_t i = 0; i < t->nrow && !rc; i++) {
		if (t->nfield[i] > t->ncol)
			rc = err_set(e, "%s:%ld: more fields than the header's %d", path, t->line[i],
				     t->ncol);
		else if (t->nfield[i] < t->ncol)
			rc = err_set(e, "%s:%ld: %d fields, the header has %d", path, t->line[i],
				     t->nfield[i], t->ncol);
		for (int j = 0; j < t->ncol && !rc; j++) {
			const char *why = bad_field(t->row[i][j], &info[j]);
			if (why)
				rc = err_set(e, "%s:%ld: column '%s': '%s' %s", path, t->line[i], t->head[j],
					     t->row[i][j], why);
		}
	}
	return rc;
}

/* Every column name(0), name(1), ... is in t's header. */
static int check_present(const struct res_table *t, const char *(*name)(int), const char *path,
			 struct err *e)
{
	for (int k = 0; name(k); k++)
		if (res_table_col(t, name(k)) < 0)
			return err_set(e, "%s:1: no column '%s': not a file this sabench wrote (or written by another version)",
				       path, name(k));
	return 0;
}

/* The table and column rows are ordered by (qsort_r's argument). */
struct by_cell {
	const struct res_table *t;
	int col;
};

/* Rows by cell key, then by place in the file (for finding repeats in
 * n log n). */
static int cmp_by_cell(const void *a, const void *b, void *arg)
{
	const struct by_cell *k = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(k->t->row[i][k->col], k->t->row[j][k->col]);

	return c ? c : (i > j) - (i < j);
}

/* The first row (in file order) whose cell an earlier row has: an error
 * naming both lines, or 0. */
static int check_repeats(const struct res_table *t, const char *path, int cell, struct err *e)
{
	size_t *order = malloc((t->nrow + 1) * sizeof *order), worst = (size_t)-1, first = 0;

	if (!order)
		return err_set(e, "out of memory checking '%s'", path);
	for (size_t i = 0; i < t->nrow; i++)
		order[i] = i;
	qsort_r(order, t->nrow, sizeof *order, cmp_by_cell, &(struct by_cell){ t, cell });
	for (size_t k = 1; k < t->nrow; k++) {
		size_t a = order[k - 1], b = order[k];
		if (!strcmp(t->row[a][cell], t->row[b][cell]) && (worst == (size_t)-1 || b < worst)) {
			worst = b;
			first = a;
		}
	}
	/* the earliest row of the repeated cell, for the message */
	for (size_t i = 0; worst != (size_t)-1 && i < first; i++)
		if (!strcmp(t->row[i][cell], t->row[worst][cell]))
			first = i;
	free(order);
	if (worst == (size_t)-1)
		return 0;
	return err_set(e, "%s:%ld: cell '%s' has a row already (line %ld)", path, t->line[worst],
		       t->row[worst][cell], t->line[first]);
}

int res_table_check(const struct res_table *t, const char *path, struct err *e)
{
	struct res_col_info info[MAX_COLS];
	int cell = res_table_col(t, "cell");

	for (int j = 0; j < t->ncol; j++)
		if (res_column_info(t->head[j], &info[j]))
			return err_set(e, "%s:1: unknown column '%s': not a results.csv sabench wrote",
				       path, t->head[j]);
	if (!t->nrow && !t->torn_line)
		return err_set(e, "%s: no rows: nothing was measured yet", path);
	if (check_present(t, res_column_name, path, e))
		return -1;
	if (check_rows(t, info, path, e))
		return -1;
	return cell < 0 ? 0 : check_repeats(t, path, cell, e);
}

int res_quality_check(const struct res_table *t, const char *path, struct err *e)
{
	struct res_col_info info[MAX_COLS];

	for (int j = 0; j < t->ncol; j++)
		if (res_quality_column_info(t->head[j], &info[j]))
			return err_set(e, "%s:1: unknown column '%s': not a quality.csv sabench wrote",
				       path, t->head[j]);
	if (check_present(t, res_quality_column_name, path, e))
		return -1;
	return check_rows(t, info, path, e);
}

void res_human_bytes(double b, char *buf, size_t len)
{
	const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

int res_check_quality_file(const char *path, struct err *e)
{
	struct res_table q;
	int rc;

	if (access(path, F_OK))
		return 0;
	rc = res_table_read(path, &q, e) || res_quality_check(&q, path, e) ? -1 : 0;
	res_table_free(&q);
	return rc;
}

int res_read_run(const char *dir, struct res_table *t, struct ynode **manifest, struct err *e)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/results.csv", dir);
	if (res_table_read(path, t, e))
		return -1;
	if (res_table_check(t, path, e)) {
		res_table_free(t);
		e->usage = 1;           /* not a file a run wrote: exit 2 */
		return -1;
	}
	snprintf(path, sizeof path, "%s/quality.csv", dir);
	if (res_check_quality_file(path, e)) {
		res_table_free(t);
		e->usage = 1;           /* not a file a run wrote */
		return -1;
	}
	snprintf(path, sizeof path, "%s/manifest.yaml", dir);
	if (yt_load_file(path, manifest, e)) {
		res_table_free(t);
		e->usage = 1;           /* not a manifest a run wrote */
		return -1;
	}
	return 0;
}
