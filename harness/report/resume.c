/* resume.c - before --resume appends to a results folder, every file it
 * appends to is repaired: whole rows only (a SIGKILL or a full disk tears
 * the last one), one row per key (a rerun group writes its quality lines
 * again), and results.csv keeps a cell only while samples.csv holds every
 * repetition its row counts, so a cell whose samples were torn runs again
 * instead of standing with a hole. Each file is rewritten beside itself
 * and renamed over it, so an interrupted repair leaves the old file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csvline.h"
#include "resume.h"

#define MAX_FIELDS 4096

/* ---- key sets ---- */

/* FNV-1a of a string. */
static size_t hash_of(const char *k)
{
	size_t h = 1469598103934665603ULL;

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	return h;
}

/* Puts key index i into the table (which has room). */
static void slot_put(struct keyset *s, size_t i)
{
	size_t at = hash_of(s->key[i]) & (s->nslot - 1);

	while (s->slot[at])
		at = (at + 1) & (s->nslot - 1);
	s->slot[at] = i + 1;
}

/* A table of at least 2 (n + 1) slots holding every key; 0, or -1. */
static int slot_grow(struct keyset *s)
{
	size_t want = s->nslot ? s->nslot : 128;
	size_t *slot;

	while (want < 2 * (s->n + 1))
		want *= 2;
	if (want == s->nslot && s->slot)
		return 0;
	slot = calloc(want, sizeof *slot);
	if (!slot)
		return -1;
	free(s->slot);
	s->slot = slot;
	s->nslot = want;
	for (size_t i = 0; i < s->n; i++)
		slot_put(s, i);
	return 0;
}

int keyset_add(struct keyset *s, const char *key)
{
	if ((!s->slot || 2 * (s->n + 1) > s->nslot) && slot_grow(s))
		return -1;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		char **k = realloc(s->key, cap * sizeof *k);
		if (!k)
			return -1;
		s->key = k;
		s->cap = cap;
	}
	if (!(s->key[s->n] = strdup(key)))
		return -1;
	slot_put(s, s->n++);
	return 0;
}

long keyset_find(const struct keyset *s, const char *key)
{
	for (size_t i = s->slot ? hash_of(key) & (s->nslot - 1) : 0; s->slot && s->slot[i];
	     i = (i + 1) & (s->nslot - 1))
		if (!strcmp(s->key[s->slot[i] - 1], key))
			return (long)s->slot[i] - 1;
	return -1;
}

int keyset_has(const struct keyset *s, const char *key)
{
	return keyset_find(s, key) >= 0;
}

void keyset_free(struct keyset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->key[i]);
	free(s->key);
	free(s->slot);
	memset(s, 0, sizeof *s);
}

/* ---- one file ---- */

/* Decides whether to keep a whole, well-shaped row (fields split from a
 * copy of line): 1 keep, 0 drop, -1 out of memory. */
typedef int (*keep_fn)(void *ctx, char **field, int n);

/* Rewrites dir/name keeping its header (which must equal header, or the
 * file is refused) and the rows keep() accepts among the whole ones with
 * exactly the header's field count; counts the others in *torn. A file
 * that does not exist is left alone. */
static int rewrite(const char *dir, const char *name, const char *header, keep_fn keep,
		   void *ctx, size_t *torn, struct err *e)
{
	char path[4200], tmp[4300], *line, *copy = NULL, **field = NULL;
	FILE *in, *out;
	int want, rc = 0;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
	in = fopen(path, "r");
	if (!in)
		return 0;
	line = csv_read_line(in);
	if (line && strcmp(line, header)) {
		free(line);
		fclose(in);
		return err_set(e, "cannot resume '%s': its %s has other columns than this experiment writes; use --force to start over",
			       dir, name);
	}
	field = malloc(MAX_FIELDS * sizeof *field);
	copy = strdup(header);
	want = copy && field ? csv_split(copy, field, MAX_FIELDS) : 0;
	free(copy);
	out = fopen(tmp, "w");
	if (!out || !field) {
		free(line);
		free(field);
		fclose(in);
		if (out)
			fclose(out);
		return err_set(e, "cannot write '%s': %s", tmp, out ? "out of memory" : strerror(errno));
	}
	fputs(header, out);
	free(line);
	while (!rc && (line = csv_read_line(in))) {
		int n = 0, k = 0;
		copy = strdup(line);
		if (!copy)
			rc = err_set(e, "out of memory repairing '%s'", path);
		else if (csv_whole(line) && (n = csv_split(copy, field, MAX_FIELDS)) == want &&
			 (k = keep(ctx, field, n)) > 0)
			fputs(line, out);
		else if (k < 0)
			rc = err_set(e, "out of memory repairing '%s'", path);
		else if (!csv_whole(line) || n != want)
			++*torn;
		free(copy);
		free(line);
	}
	fclose(in);
	free(field);
	if (fflush(out) || ferror(out)) {
		fclose(out);
		unlink(tmp);
		return rc ? rc : err_set(e, "cannot write '%s': %s", tmp, strerror(errno));
	}
	fclose(out);
	if (rc) {
		unlink(tmp);
		return rc;
	}
	if (rename(tmp, path))
		return err_set(e, "cannot rewrite '%s': %s", path, strerror(errno));
	return 0;
}

/* ---- the three files ---- */

/* results.csv: the first row of each cell (column 1), minus the cells in
 * drop; the cells kept, with the repetitions their rows count. */
struct rows_ctx {
	struct keyset seen;     /* cells kept */
	long long *reps;        /* per seen key, in insertion order */
	int reps_col;
	int quality_col;        /* quality_rows, or -1 */
	struct keyset measured; /* cells kept whose rows measured quality */
	const struct keyset *drop;
	size_t *duplicates;
};

static int keep_result(void *vctx, char **field, int n)
{
	struct rows_ctx *c = vctx;
	long long *reps;

	(void)n;
	if (c->drop && keyset_has(c->drop, field[1]))
		return 0;
	if (keyset_has(&c->seen, field[1])) {
		++*c->duplicates;
		return 0;
	}
	reps = realloc(c->reps, (c->seen.n + 1) * sizeof *reps);
	if (!reps)
		return -1;
	c->reps = reps;
	reps[c->seen.n] = c->reps_col >= 0 ? atoll(field[c->reps_col]) : 0;
	if (c->quality_col >= 0 && atoll(field[c->quality_col]) > 0 &&
	    keyset_add(&c->measured, field[1]))
		return -1;
	return keyset_add(&c->seen, field[1]) ? -1 : 1;
}

/* samples.csv: rows of cells results.csv keeps, one per (cell, rep),
 * counted per cell. */
struct samples_ctx {
	const struct keyset *cells;     /* the cells kept (rows_ctx's seen) */
	struct keyset seen;             /* "cell\037rep" */
	long long *count;               /* per cell, by its index in cells */
	size_t *duplicates;
};

static int keep_sample(void *vctx, char **field, int n)
{
	struct samples_ctx *c = vctx;
	long cell = keyset_find(c->cells, field[1]);
	char key[4200];

	(void)n;
	if (cell < 0)
		return 0;
	snprintf(key, sizeof key, "%s\037%s", field[1], field[3]);
	if (keyset_has(&c->seen, key)) {
		++*c->duplicates;
		return 0;
	}
	c->count[cell]++;
	return keyset_add(&c->seen, key) ? -1 : 1;
}

void quality_line_key(const char *group, const char *head, char *buf, size_t len)
{
	snprintf(buf, len, "%s\037%s", group, head);
}

/* Column of name in a header line, or -1. */
static int header_col(const char *header, const char *name);

void quality_key(const char *header, char *const *field, char *buf, size_t len)
{
	int g = header_col(header, "group"), h = header_col(header, "head");

	quality_line_key(g >= 0 ? field[g] : "", h >= 0 ? field[h] : "", buf, len);
}

struct quality_ctx {
	const char *header;
	struct keyset *seen;
	size_t *duplicates;
};

static int keep_quality(void *vctx, char **field, int n)
{
	struct quality_ctx *c = vctx;
	char key[4200];

	(void)n;                /* rewrite() passed the header's field count */
	quality_key(c->header, field, key, sizeof key);
	if (keyset_has(c->seen, key)) {
		++*c->duplicates;
		return 0;
	}
	return keyset_add(c->seen, key) ? -1 : 1;
}

/* Column of name in a header line, or -1. */
static int header_col(const char *header, const char *name)
{
	char *copy = strdup(header), *field[MAX_FIELDS];
	int n = copy ? csv_split(copy, field, MAX_FIELDS) : 0, at = -1;

	for (int i = 0; i < n && i < MAX_FIELDS && at < 0; i++)
		if (!strcmp(field[i], name))
			at = i;
	free(copy);
	return at;
}

/* The cells whose rows count more repetitions than samples.csv holds. */
static int incomplete_cells(const struct rows_ctx *rows, const long long *count,
			    struct keyset *out)
{
	for (size_t i = 0; i < rows->seen.n; i++)
		if (count[i] < rows->reps[i] && keyset_add(out, rows->seen.key[i]))
			return -1;
	return 0;
}

/* One pass over results.csv and samples.csv without the cells in drop
 * (NULL: none): rows and sm hold what stayed (rows' keys with their
 * repetitions, sm's counts by the same index), freed by pass_free. */
struct pass {
	struct rows_ctx rows;
	struct samples_ctx sm;
};

static int repair_pass(const char *dir, const char *csv_header, const char *samples_header,
		       const struct keyset *drop, struct pass *ps, struct repair_report *rep,
		       size_t *torn, struct err *e)
{
	int rc;

	ps->rows = (struct rows_ctx){ .reps_col = header_col(csv_header, "reps"),
				      .quality_col = header_col(csv_header, "quality_rows"), .drop = drop,
				      .duplicates = &rep->duplicates };
	ps->sm = (struct samples_ctx){ .cells = &ps->rows.seen, .duplicates = &rep->duplicates };
	rc = rewrite(dir, "results.csv", csv_header, keep_result, &ps->rows, torn, e);
	ps->sm.count = calloc(ps->rows.seen.n + 1, sizeof *ps->sm.count);
	if (!rc && !ps->sm.count)
		rc = err_set(e, "out of memory repairing '%s'", dir);
	return rc ? rc : rewrite(dir, "samples.csv", samples_header, keep_sample, &ps->sm, torn, e);
}

static void pass_free(struct pass *ps)
{
	keyset_free(&ps->rows.seen);
	keyset_free(&ps->rows.measured);
	keyset_free(&ps->sm.seen);
	free(ps->rows.reps);
	free(ps->sm.count);
	memset(ps, 0, sizeof *ps);
}

/* The kept cells whose quality lines are not all in quality (check says
 * which lines a cell needs). */
static int quality_incomplete(const struct rows_ctx *rows, const struct keyset *quality,
			      const struct quality_check *check, struct keyset *out, size_t *n)
{
	for (size_t i = 0; check && i < rows->measured.n; i++) {
		const char *cell = rows->measured.key[i];
		if (check->complete(check->ctx, cell, quality) || keyset_has(out, cell))
			continue;
		if (keyset_add(out, cell))
			return -1;
		++*n;
	}
	return 0;
}

int res_repair(const char *dir, const char *csv_header, const char *samples_header,
	       const char *quality_header, const struct quality_check *check,
	       struct keyset *done, struct keyset *quality, struct repair_report *rep,
	       struct err *e)
{
	struct quality_ctx qc = { .header = quality_header, .seen = quality,
				  .duplicates = &rep->duplicates };
	struct keyset bad = { 0 };
	struct pass ps = { 0 };
	size_t again_torn = 0;
	int rc;

	memset(rep, 0, sizeof *rep);
	rc = repair_pass(dir, csv_header, samples_header, NULL, &ps, rep, &rep->torn, e);
	if (!rc)
		rc = rewrite(dir, "quality.csv", quality_header, keep_quality, &qc, &rep->torn, e);
	if (!rc && (incomplete_cells(&ps.rows, ps.sm.count, &bad) ||
		    quality_incomplete(&ps.rows, quality, check, &bad, &rep->unmeasured)))
		rc = err_set(e, "out of memory repairing '%s'", dir);
	if (!rc && bad.n) {
		/* they run again: their rows and samples go */
		rep->incomplete = bad.n - rep->unmeasured;
		pass_free(&ps);
		rc = repair_pass(dir, csv_header, samples_header, &bad, &ps, rep, &again_torn, e);
	}
	/* the cells that stay are the done set */
	*done = ps.rows.seen;
	memset(&ps.rows.seen, 0, sizeof ps.rows.seen);
	pass_free(&ps);
	keyset_free(&bad);
	return rc;
}
