/* merge.c - sabench merge. Shards are checked against each other on the
 * text of their manifests' experiment and build sections (the resolved
 * experiment and the binary must be the same), on their shard numbers, and
 * on their cells (cells.txt: what each was dealt). The merged manifest
 * keeps the first shard's experiment and build and lists every shard with
 * its machine, so figures taken on different nodes show as such. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/ytree.h"
#include "../report/results.h"
#include "../report/resume.h"
#include "merge.h"

#define MERGE_MAX 4096

/* A cell a shard was dealt (a line of its cells.txt). */
struct dealt {
	char *cell;             /* its key */
	char *group;            /* its quality group, or "" (an older cells.txt) */
	size_t index;           /* its place in the whole plan */
};

struct shard {
	char dir[4096];
	char *manifest;         /* whole text */
	int index, count;       /* from run: shard */
	struct res_table res;   /* results.csv */
	struct dealt *cells;    /* cells.txt */
	size_t n_cells;
};

static char *slurp_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[len] = 0;
	fclose(f);
	return buf;
}

/* The text of top-level section key (from "key:" to the next top-level
 * key), malloc'ed; "" when absent. */
static char *section(const char *text, const char *key)
{
	size_t kl = strlen(key);
	const char *p = text, *start = NULL, *end;

	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == ':') {
			start = p;
			break;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	if (!start)
		return strdup("");
	end = strchr(start, '\n');
	while (end && end[1] && (end[1] == ' ' || end[1] == '#'))
		end = strchr(end + 1, '\n');
	return strndup(start, end ? (size_t)(end - start + 1) : strlen(start));
}

/* One line of cells.txt: "index<TAB>key<TAB>group", or an older shard's
 * key alone (its place then its line number). 0, or -1 out of memory. */
static int parse_dealt(char *line, size_t at, struct dealt *d)
{
	char *key = strchr(line, '\t'), *group = key ? strchr(key + 1, '\t') : NULL;

	d->index = at;
	if (key && group) {
		*key++ = 0;
		*group++ = 0;
		d->index = (size_t)strtoull(line, NULL, 10);
	} else {
		key = line;
		group = "";
	}
	d->cell = strdup(key);
	d->group = strdup(group);
	if (d->cell && d->group)
		return 0;
	free(d->cell);
	free(d->group);
	return -1;
}

static int load_shard(struct shard *s, const char *dir, struct err *e)
{
	char path[4200], *cells, *line, *save = NULL;
	struct ynode *root;
	const struct ynode *sh;

	memset(s, 0, sizeof *s);
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	snprintf(path, sizeof path, "%s/manifest.yaml", dir);
	s->manifest = slurp_file(path);
	if (!s->manifest)
		return err_set(e, "'%s' is not a results folder: no manifest.yaml", dir);
	if (yt_load_file(path, &root, e))
		return -1;
	sh = yt_get(yt_get(root, "run"), "shard");
	if (!sh) {
		yt_free(root);
		return err_set(e, "'%s' is not a shard: its manifest names no shard (run it with --shard K/N)", dir);
	}
	s->index = atoi(yt_get(sh, "index") ? yt_get(sh, "index")->str : "0");
	s->count = atoi(yt_get(sh, "count") ? yt_get(sh, "count")->str : "0");
	yt_free(root);
	snprintf(path, sizeof path, "%s/results.csv", dir);
	if (res_table_read(path, &s->res, e))
		return -1;
	snprintf(path, sizeof path, "%s/cells.txt", dir);
	cells = slurp_file(path);
	if (!cells)
		return err_set(e, "'%s' has no cells.txt: was it run with --shard?", dir);
	for (line = strtok_r(cells, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct dealt *c = realloc(s->cells, (s->n_cells + 1) * sizeof *c);
		if (!c) {
			free(cells);
			return err_set(e, "out of memory merging the shards");
		}
		s->cells = c;
		if (parse_dealt(line, s->n_cells, &c[s->n_cells])) {
			free(cells);
			return err_set(e, "out of memory merging the shards");
		}
		s->n_cells++;
	}
	free(cells);
	return 0;
}

static void free_shard(struct shard *s)
{
	free(s->manifest);
	res_table_free(&s->res);
	for (size_t i = 0; i < s->n_cells; i++) {
		free(s->cells[i].cell);
		free(s->cells[i].group);
	}
	free(s->cells);
}

/* The shard folders: dirs themselves, or the subfolders of one folder. */
static int list_dirs(char *const *dirs, int n, char ***out, int *m, struct err *e)
{
	char path[4200];
	struct dirent **names;
	int k;

	*m = 0;
	*out = calloc(MERGE_MAX, sizeof **out);
	if (!*out)
		return err_set(e, "out of memory merging the shards");
	snprintf(path, sizeof path, "%s/manifest.yaml", dirs[0]);
	if (n > 1 || access(path, R_OK) == 0) {
		for (int i = 0; i < n && i < MERGE_MAX; i++)
			(*out)[(*m)++] = strdup(dirs[i]);
		return 0;
	}
	k = scandir(dirs[0], &names, NULL, alphasort);
	if (k < 0)
		return err_set(e, "cannot read '%s': %s", dirs[0], strerror(errno));
	for (int i = 0; i < k; i++) {
		snprintf(path, sizeof path, "%s/%s/manifest.yaml", dirs[0], names[i]->d_name);
		if (names[i]->d_name[0] != '.' && access(path, R_OK) == 0 && *m < MERGE_MAX) {
			snprintf(path, sizeof path, "%s/%s", dirs[0], names[i]->d_name);
			(*out)[(*m)++] = strdup(path);
		}
		free(names[i]);
	}
	free(names);
	if (!*m)
		return err_set(e, "no shard folders in '%s'", dirs[0]);
	return 0;
}

/* Same experiment and build as the first shard, shard numbers complete. */
static int check_shards(struct shard *s, int n, struct err *e)
{
	const char *keys[] = { "experiment", "build" };
	int *seen = calloc((size_t)s[0].count + 1, sizeof *seen), rc = 0;

	if (!seen)
		return err_set(e, "out of memory merging the shards");
	for (int i = 0; i < n && !rc; i++) {
		for (size_t k = 0; k < 2 && !rc && i; k++) {
			char *a = section(s[0].manifest, keys[k]), *b = section(s[i].manifest, keys[k]);
			if (strcmp(a, b))
				rc = err_set(e, "cannot merge '%s' and '%s': they ran %s", s[0].dir, s[i].dir,
					     k ? "different builds (see build: in their manifests)"
					       : "different experiments");
			free(a);
			free(b);
		}
		if (!rc && s[i].count != s[0].count)
			rc = err_set(e, "cannot merge '%s' (one of %d shards) with '%s' (one of %d)",
				     s[0].dir, s[0].count, s[i].dir, s[i].count);
		if (!rc && (s[i].index < 1 || s[i].index > s[0].count))
			rc = err_set(e, "'%s' says it is shard %d of %d", s[i].dir, s[i].index, s[i].count);
		if (!rc && seen[s[i].index]++)
			rc = err_set(e, "shard %d of %d is given twice (one is '%s')", s[i].index,
				     s[0].count, s[i].dir);
	}
	for (int k = 1; !rc && k <= s[0].count; k++)
		if (!seen[k])
			rc = err_set(e, "shard %d of %d is missing", k, s[0].count);
	free(seen);
	return rc;
}

/* Every dealt cell has exactly one row. */
static int check_cells(struct shard *s, int n, struct err *e)
{
	size_t missing = 0;
	char first[512] = "";

	for (int i = 0; i < n; i++) {
		int cc = res_table_col(&s[i].res, "cell");
		for (size_t r = 0; r < s[i].res.nrow; r++)
			for (int j = 0; j < i; j++) {
				int cj = res_table_col(&s[j].res, "cell");
				for (size_t q = 0; q < s[j].res.nrow; q++)
					if (!strcmp(res_table_get(&s[i].res, r, cc), res_table_get(&s[j].res, q, cj)))
						return err_set(e, "cell '%s' is in both '%s' and '%s'",
							       res_table_get(&s[i].res, r, cc), s[j].dir, s[i].dir);
			}
		for (size_t k = 0; k < s[i].n_cells; k++) {
			size_t r;
			for (r = 0; r < s[i].res.nrow; r++)
				if (!strcmp(res_table_get(&s[i].res, r, cc), s[i].cells[k].cell))
					break;
			if (r == s[i].res.nrow && !missing++)
				snprintf(first, sizeof first, "'%s' of shard %d ('%s')", s[i].cells[k].cell,
					 s[i].index, s[i].dir);
		}
	}
	if (missing)
		return err_set(e, "%zu cells have no row, first %s; run that shard again with --resume",
			       missing, first);
	return 0;
}

/* Where each row goes in the merged files: the plan's order of cells,
 * and of quality groups (by their first cell). */
struct order {
	struct keyset cells, groups;    /* keys, and parallel ranks below */
	size_t *cell_rank, *group_rank;
};

static int order_build(struct order *o, const struct shard *s, int n)
{
	size_t total = 0;

	memset(o, 0, sizeof *o);
	for (int i = 0; i < n; i++)
		total += s[i].n_cells;
	o->cell_rank = malloc((total + 1) * sizeof *o->cell_rank);
	o->group_rank = malloc((total + 1) * sizeof *o->group_rank);
	if (!o->cell_rank || !o->group_rank)
		return -1;
	for (int i = 0; i < n; i++)
		for (size_t k = 0; k < s[i].n_cells; k++) {
			const struct dealt *d = &s[i].cells[k];
			long g = keyset_find(&o->groups, d->group);
			if (!keyset_has(&o->cells, d->cell)) {
				if (keyset_add(&o->cells, d->cell))
					return -1;
				o->cell_rank[o->cells.n - 1] = d->index;
			}
			if (g < 0) {
				if (keyset_add(&o->groups, d->group))
					return -1;
				o->group_rank[o->groups.n - 1] = d->index;
			} else if (d->index < o->group_rank[g]) {
				o->group_rank[g] = d->index;
			}
		}
	return 0;
}

static void order_free(struct order *o)
{
	keyset_free(&o->cells);
	keyset_free(&o->groups);
	free(o->cell_rank);
	free(o->group_rank);
}

/* A row of a shard's file with where it goes. */
struct placed {
	size_t rank, seq;       /* the plan's order; then the order read */
	const struct res_table *t;
	size_t row;
};

static int placed_cmp(const void *a, const void *b)
{
	const struct placed *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void write_fields(FILE *f, char *const *field, int n)
{
	for (int j = 0; j < n; j++) {
		if (j)
			fputc(',', f);
		res_csv_field(f, field[j]);
	}
	fputc('\n', f);
}

/* How a file's rows are merged: which column places a row, and whether
 * rows of the same (group, head) are one (quality lines, which a group
 * measured in two shards writes twice). */
struct merge_file {
	const char *name;
	const char *by;         /* "cell" or "group" */
	int one_per_line_key;
};

/* The first of n tables that was read (or t itself). */
static const struct res_table *first_table(const struct res_table *t, int n)
{
	for (int i = 0; i < n; i++)
		if (t[i].head)
			return &t[i];
	return t;
}

static int same_header(const struct res_table *a, const struct res_table *b)
{
	if (a->ncol != b->ncol)
		return 0;
	for (int j = 0; j < a->ncol; j++)
		if (strcmp(a->head[j], b->head[j]))
			return 0;
	return 1;
}

/* Reads file of every shard that has it into t[]; *found counts them. */
static int read_tables(const struct shard *s, int n, const char *file, struct res_table *t,
		       int *found, struct err *e)
{
	*found = 0;
	for (int i = 0; i < n; i++) {
		char path[4200];
		snprintf(path, sizeof path, "%s/%s", s[i].dir, file);
		if (access(path, F_OK))
			continue;
		if (res_table_read(path, &t[i], e))
			return -1;
		if (*found && !same_header(&t[i], first_table(t, i)))
			return err_set(e, "cannot merge '%s': its columns differ from another shard's", path);
		++*found;
	}
	return 0;
}

/* Writes out/file from the shards' files, rows in the plan's order (a
 * single run's), quality lines once each. *rows counts them. */
static int merge_file(const char *out, const struct shard *s, int n, const struct order *o,
		      const struct merge_file *mf, size_t *rows, struct err *e)
{
	struct res_table *t = calloc((size_t)n, sizeof *t);
	struct placed *pl = NULL;
	struct keyset lines = { 0 };
	size_t np = 0, total = 0;
	int found = 0, rc;
	char path[4200];
	FILE *f = NULL;

	if (!t)
		return err_set(e, "out of memory merging the shards");
	rc = read_tables(s, n, mf->name, t, &found, e);
	for (int i = 0; !rc && i < n; i++)
		total += t[i].nrow;
	if (!rc && found && !(pl = malloc((total + 1) * sizeof *pl)))
		rc = err_set(e, "out of memory merging the shards");
	for (int i = 0; !rc && found && i < n; i++) {
		int by = res_table_col(&t[i], mf->by), head = res_table_col(&t[i], "head");
		for (size_t r = 0; !rc && r < t[i].nrow; r++) {
			const char *k = res_table_get(&t[i], r, by);
			long at = keyset_find(mf->by[0] == 'g' ? &o->groups : &o->cells, k);
			if (mf->one_per_line_key) {
				char key[4200];
				quality_line_key(k, res_table_get(&t[i], r, head), key, sizeof key);
				if (keyset_has(&lines, key))
					continue;
				if (keyset_add(&lines, key)) {
					rc = err_set(e, "out of memory merging the shards");
					break;
				}
			}
			pl[np] = (struct placed){ .rank = at < 0 ? (size_t)-1
							: (mf->by[0] == 'g' ? o->group_rank : o->cell_rank)[at],
						  .seq = np, .t = &t[i], .row = r };
			np++;
		}
	}
	if (!rc && found) {
		qsort(pl, np, sizeof *pl, placed_cmp);
		snprintf(path, sizeof path, "%s/%s", out, mf->name);
		if (!(f = fopen(path, "w")))
			rc = err_set(e, "cannot write '%s': %s", path, strerror(errno));
	}
	if (f) {
		write_fields(f, first_table(t, n)->head, first_table(t, n)->ncol);
		for (size_t k = 0; k < np; k++)
			write_fields(f, pl[k].t->row[pl[k].row], pl[k].t->ncol);
		if (ferror(f) | fclose(f))
			rc = err_set(e, "cannot write '%s': %s", path, strerror(errno));
		*rows += np;
	}
	for (int i = 0; i < n; i++)
		res_table_free(&t[i]);
	free(t);
	free(pl);
	keyset_free(&lines);
	return rc;
}

/* Host and cpu lines of a manifest's machine: section. */
static void machine_of(const char *manifest, char *host, char *cpu, size_t len)
{
	char *m = section(manifest, "machine"), *h = strstr(m, "host: "), *c = strstr(m, "cpu: ");

	snprintf(host, len, "%.*s", h ? (int)strcspn(h + 6, "\n") : 2, h ? h + 6 : "\"\"");
	snprintf(cpu, len, "%.*s", c ? (int)strcspn(c + 5, "\n") : 2, c ? c + 5 : "\"\"");
	free(m);
}

static int write_manifest(const char *out, struct shard *s, int n, size_t cells,
			  int *machines, struct err *e)
{
	char path[4200], hosts[64][256];
	const char *keep[] = { "experiment", "build", "openmp", "papi", "ceilings" };
	FILE *f;

	snprintf(path, sizeof path, "%s/manifest.yaml", out);
	f = fopen(path, "w");
	if (!f)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	fprintf(f, "# sabench run manifest, merged from %d shards\nrun:\n  status: complete\n  reason: \"\"\n  cells: %zu\n  merged_shards: %d\n",
		n, cells, n);
	for (size_t k = 0; k < sizeof keep / sizeof *keep; k++) {
		char *sec = section(s[0].manifest, keep[k]);
		fputs(sec, f);
		free(sec);
	}
	*machines = 0;
	fputs("shards:\n", f);
	for (int i = 0; i < n; i++) {
		char host[256], cpu[256];
		int known = 0;
		machine_of(s[i].manifest, host, cpu, sizeof host);
		for (int h = 0; h < *machines && h < 64; h++)
			known |= !strcmp(hosts[h], host);
		if (!known && *machines < 64)
			snprintf(hosts[(*machines)++], sizeof hosts[0], "%s", host);
		fprintf(f, "  - {index: %d, folder: \"%s\", host: %s, cpu: %s}\n", s[i].index,
			s[i].dir, host, cpu);
	}
	fprintf(f, "machines: %d%s\n", *machines,
		*machines > 1 ? "   # figures come from different nodes" : "");
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

/* out/e2e.csv: the e2e block's rows, which the first shard runs (run/e2e.c);
 * copied from the shard that holds them, when one does. */
static int copy_e2e(const struct shard *s, int n, const char *out, struct err *e)
{
	char from[4200], to[4200], buf[65536];
	FILE *in = NULL, *f;
	size_t got;

	for (int i = 0; i < n && !in; i++) {
		snprintf(from, sizeof from, "%s/e2e.csv", s[i].dir);
		in = fopen(from, "rb");
	}
	if (!in)
		return 0;
	snprintf(to, sizeof to, "%s/e2e.csv", out);
	if (!(f = fopen(to, "wb"))) {
		fclose(in);
		return err_set(e, "cannot write '%s': %s", to, strerror(errno));
	}
	while ((got = fread(buf, 1, sizeof buf, in)) > 0)
		fwrite(buf, 1, got, f);
	if (ferror(in) | fclose(in)) {
		fclose(f);
		return err_set(e, "cannot read '%s'", from);
	}
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", to, strerror(errno));
	return 0;
}

int merge_runs(char *const *dirs, int n, const char *out, int force,
	       struct merge_summary *sum, struct err *e)
{
	static const struct merge_file files[] = {
		{ "results.csv", "cell", 0 },
		{ "samples.csv", "cell", 0 },
		{ "quality.csv", "group", 1 },
	};
	char **list = NULL, path[4200];
	struct order order = { 0 };
	struct shard *s = NULL;
	int m = 0, rc;
	size_t samples = 0;

	memset(sum, 0, sizeof *sum);
	rc = list_dirs(dirs, n, &list, &m, e);
	if (!rc && !(s = calloc((size_t)m, sizeof *s)))
		rc = err_set(e, "out of memory merging the shards");
	for (int i = 0; !rc && i < m; i++)
		rc = load_shard(&s[i], list[i], e);
	if (!rc)
		rc = check_shards(s, m, e) || check_cells(s, m, e) ? -1 : 0;
	snprintf(path, sizeof path, "%s/results.csv", out);
	if (!rc && !force && access(path, F_OK) == 0)
		rc = err_set(e, "results folder '%s' holds a run already; use --force to replace it", out);
	if (!rc)
		rc = res_make_dirs(out, e);
	if (!rc && order_build(&order, s, m))
		rc = err_set(e, "out of memory merging the shards");
	if (!rc)
		rc = merge_file(out, s, m, &order, &files[0], &sum->cells, e);
	if (!rc)
		rc = merge_file(out, s, m, &order, &files[1], &samples, e);
	if (!rc)
		rc = merge_file(out, s, m, &order, &files[2], &sum->quality_lines, e);
	if (!rc)
		rc = copy_e2e(s, m, out, e);
	if (!rc)
		rc = write_manifest(out, s, m, sum->cells, &sum->machines, e);
	sum->shards = m;
	order_free(&order);
	for (int i = 0; s && i < m; i++)
		free_shard(&s[i]);
	for (int i = 0; list && i < m; i++)
		free(list[i]);
	free(list);
	free(s);
	return rc ? -1 : 0;
}
