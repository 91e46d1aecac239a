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
#include "../out/results.h"
#include "merge.h"

#define MERGE_MAX 4096

struct shard {
	char dir[4096];
	char *manifest;         /* whole text */
	int index, count;       /* from run: shard */
	struct res_table res;   /* results.csv */
	char **cells;           /* cells.txt */
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
		char **c = realloc(s->cells, (s->n_cells + 1) * sizeof *c);
		if (!c || !(c[s->n_cells] = strdup(line))) {
			free(cells);
			if (c)
				s->cells = c;
			return err_set(e, "out of memory merging the shards");
		}
		s->cells = c;
		s->n_cells++;
	}
	free(cells);
	return 0;
}

static void free_shard(struct shard *s)
{
	free(s->manifest);
	res_table_free(&s->res);
	for (size_t i = 0; i < s->n_cells; i++)
		free(s->cells[i]);
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
				if (!strcmp(res_table_get(&s[i].res, r, cc), s[i].cells[k]))
					break;
			if (r == s[i].res.nrow && !missing++)
				snprintf(first, sizeof first, "'%s' of shard %d ('%s')", s[i].cells[k],
					 s[i].index, s[i].dir);
		}
	}
	if (missing)
		return err_set(e, "%zu cells have no row, first %s; run that shard again with --resume",
			       missing, first);
	return 0;
}

static int copy_rows(const char *out, struct shard *s, int n, const char *file,
		     size_t *rows, struct err *e)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", out, file);
	f = fopen(path, "w");
	if (!f)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	for (int i = 0; i < n; i++) {
		char src[4200], *text, *body;
		snprintf(src, sizeof src, "%s/%s", s[i].dir, file);
		text = slurp_file(src);
		if (!text) {
			fclose(f);
			return err_set(e, "cannot read '%s'", src);
		}
		body = strchr(text, '\n');
		if (!i)
			fputs(text, f);         /* the header once */
		else if (body)
			fputs(body + 1, f);
		for (char *p = body; p && (p = strchr(p + 1, '\n')); )
			*rows += 1;
		free(text);
	}
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	return 0;
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

int merge_runs(char *const *dirs, int n, const char *out, int force,
	       struct merge_summary *sum, struct err *e)
{
	char **list = NULL, path[4200];
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
	if (!rc)
		rc = copy_rows(out, s, m, "results.csv", &sum->cells, e);
	if (!rc)
		rc = copy_rows(out, s, m, "samples.csv", &samples, e);
	if (!rc)
		rc = write_manifest(out, s, m, sum->cells, &sum->machines, e);
	sum->shards = m;
	for (int i = 0; s && i < m; i++)
		free_shard(&s[i]);
	for (int i = 0; list && i < m; i++)
		free(list[i]);
	free(list);
	free(s);
	return rc ? -1 : 0;
}
