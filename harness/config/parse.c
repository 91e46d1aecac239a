/* parse.c - reading experiment files, the common part: errors that name
 * the file, line and column, "did you mean" hints, typed scalars within
 * bounds, and the check that a mapping holds only known keys. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment.h"
#include "parse.h"
#include "ytree.h"


/* Index of s in a NULL-terminated list, or -1. */
int cfg_value_index(const char *const *list, const char *s)
{
	for (int i = 0; list[i]; i++)
		if (!strcmp(list[i], s))
			return i;
	return -1;
}

__attribute__((format(printf, 3, 4)))
int cfg_bad(struct ctx *c, const struct ynode *n, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return err_at(c->e, c->file, n ? n->line : 1, n ? n->col : 1, "%s", msg);
}

/* Levenshtein distance, for "did you mean" hints. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64], prev, tmp;

	if (lb >= 64)
		return lb;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

/* "; did you mean 'x'?" for the closest of names, or "". */
const char *cfg_hint(const char *word, const char *const *names, size_t n,
			char *buf, size_t len)
{
	size_t best = 3;
	const char *pick = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t dist = edit_distance(word, names[i]);
		if (dist < best) {
			best = dist;
			pick = names[i];
		}
	}
	if (!pick)
		return "";
	snprintf(buf, len, "; did you mean '%s'?", pick);
	return buf;
}

/* The scalar text of n, or NULL after an error naming what it was. */
const char *cfg_want_scalar(struct ctx *c, const struct ynode *n,
			       const char *key, const char *what)
{
	if (n && n->type == YT_SCALAR)
		return n->str;
	cfg_bad(c, n, "'%s' must be %s, not %s", key, what, yt_what(n));
	return NULL;
}

int cfg_parse_int(struct ctx *c, const struct ynode *n, const char *key,
		     long long min, long long max, long long *out)
{
	const char *s = cfg_want_scalar(c, n, key, "an integer");
	char *end;

	if (!s)
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (n->quoted || end == s || *end || errno)
		return cfg_bad(c, n, "'%s' must be an integer, not '%s'", key, s);
	if (*out < min)
		return cfg_bad(c, n, "'%s' is %lld, must be at least %lld", key, *out, min);
	if (*out > max)
		return cfg_bad(c, n, "'%s' is %lld, must be at most %lld", key, *out, max);
	return 0;
}

int cfg_parse_float(struct ctx *c, const struct ynode *n, const char *key,
		       double min, double max, double *out)
{
	const char *s = cfg_want_scalar(c, n, key, "a number");
	char *end;

	if (!s)
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	if (n->quoted || end == s || *end || errno || !isfinite(*out))
		return cfg_bad(c, n, "'%s' must be a number, not '%s'", key, s);
	if (*out < min || *out > max)
		return cfg_bad(c, n, "'%s' is %g, must be in [%g, %g]", key, *out, min, max);
	return 0;
}

int cfg_parse_bool(struct ctx *c, const struct ynode *n, const char *key,
		      long long *out)
{
	const char *s = cfg_want_scalar(c, n, key, "true or false");

	if (!s)
		return -1;
	if (!n->quoted && strcmp(s, "true") == 0)
		*out = 1;
	else if (!n->quoted && strcmp(s, "false") == 0)
		*out = 0;
	else
		return cfg_bad(c, n, "'%s' must be true or false, not '%s'", key, s);
	return 0;
}

int cfg_parse_string(struct ctx *c, const struct ynode *n, const char *key,
			char **out)
{
	const char *s = cfg_want_scalar(c, n, key, "a string");

	if (!s)
		return -1;
	free(*out);
	*out = strdup(s);
	return *out ? 0 : err_set(c->e, "out of memory reading the experiment");
}

/* Checks that map holds only keys from allowed. */
int cfg_only_keys(struct ctx *c, const struct ynode *map,
		     const char *const *allowed, size_t n_allowed,
		     const char *where)
{
	char buf[96];

	for (size_t i = 0; i < map->n; i += 2) {
		const struct ynode *k = map->kid[i];
		size_t j;
		for (j = 0; j < n_allowed; j++)
			if (strcmp(k->str, allowed[j]) == 0)
				break;
		if (j == n_allowed)
			return cfg_bad(c, k, "unknown key '%s'%s%s", k->str, where,
				   cfg_hint(k->str, allowed, n_allowed, buf, sizeof buf));
	}
	return 0;
}

/* Reads one of d's words into *out as its index. */
static int parse_choice(struct ctx *c, const struct ynode *n,
			const struct pat_param *d, long long *out)
{
	const char *s = cfg_want_scalar(c, n, d->name, "a word");
	char list[160] = "", buf[96];
	size_t count = 0, off = 0;

	if (!s)
		return -1;
	for (; d->choices[count]; count++) {
		if (strcmp(s, d->choices[count]) == 0) {
			*out = (long long)count;
			return 0;
		}
		off += (size_t)snprintf(list + off, off < sizeof list ? sizeof list - off : 0,
					"%s'%s'", count ? ", " : "", d->choices[count]);
	}
	return cfg_bad(c, n, "'%s' must be one of %s, not '%s'%s", d->name, list, s,
		   cfg_hint(s, d->choices, count, buf, sizeof buf));
}

/* path resolved against the experiment file's folder (absolute paths and
 * inline specs stay as they are); malloc'ed, NULL when out of memory. */
char *cfg_resolve_path(const struct ctx *c, const char *path)
{
	const char *slash = strrchr(c->file, '/');
	size_t dir = slash ? (size_t)(slash - c->file) + 1 : 0;
	char *out;

	if (path[0] == '/' || !dir || c->file[0] == '<')
		return strdup(path);
	out = malloc(dir + strlen(path) + 1);
	if (out) {
		memcpy(out, c->file, dir);
		strcpy(out + dir, path);
	}
	return out;
}

/* A word or a list of words of d's choices into v's indices. */
static int parse_words(struct ctx *c, const struct ynode *n, const struct pat_param *d,
		       struct pat_words *w)
{
	const struct ynode *one = n->type == YT_SEQ ? NULL : n;
	size_t count = one ? 1 : n->n;
	const char *s;

	if (n->type == YT_MAP)
		return cfg_bad(c, n, "'%s' must be a name or a list of names, not a mapping", d->name);
	if (!count)
		return cfg_bad(c, n, "'%s' is empty", d->name);
	free(w->v);
	w->n = 0;
	w->v = malloc(count * sizeof *w->v);
	if (!w->v)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t j = 0; j < count; j++) {
		const struct ynode *x = one ? one : n->kid[j];
		int at;
		char buf[96];
		size_t nw = 0;
		if (!(s = cfg_want_scalar(c, x, d->name, "a name")))
			return -1;
		while (d->choices[nw])
			nw++;
		if ((at = cfg_value_index(d->choices, s)) < 0)
			return cfg_bad(c, x, "unknown value '%s' in '%s'%s", s, d->name,
				       cfg_hint(s, (const char *const *)d->choices, nw, buf, sizeof buf));
		w->v[w->n++] = at;
	}
	return 0;
}

int cfg_parse_value(struct ctx *c, const struct ynode *n, const struct pat_param *d,
		    union pat_value *v)
{
	const char *s;

	switch (d->type) {
	case PAT_INT:
		return cfg_parse_int(c, n, d->name, (long long)d->min, (long long)d->max, &v->i);
	case PAT_FLOAT: {
		char range[80];
		if (cfg_parse_float(c, n, d->name, -HUGE_VAL, HUGE_VAL, &v->f))
			return -1;
		if (!pat_param_in_range(d, v->f))
			return cfg_bad(c, n, "'%s' is %g, must be in %s", d->name, v->f,
				       pat_param_range(d, range, sizeof range));
		return 0;
	}
	case PAT_BOOL:
		return cfg_parse_bool(c, n, d->name, &v->i);
	case PAT_CHOICE:
		return parse_choice(c, n, d, &v->i);
	case PAT_WORDS:
		return parse_words(c, n, d, &v->words);
	case PAT_PATH:
		if (!(s = cfg_want_scalar(c, n, d->name, "a file name")))
			return -1;
		free(v->path);
		v->path = cfg_resolve_path(c, s);
		return v->path ? 0 : err_set(c->e, "out of memory reading the experiment");
	case PAT_INT_LIST:      /* the pattern kinds' own readers (patterns.c) */
	case PAT_ROWS:
	case PAT_FILE:
		break;
	}
	return err_set(c->e, "parameter '%s' has no scalar reader", d->name);
}

int cfg_parse_size(struct ctx *c, const struct ynode *n, const char *key, double *out)
{
	static const struct { const char *unit; double scale; } units[] = {
		{ "B", 1 }, { "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
		{ "TiB", 1099511627776.0 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
	};
	const char *s = cfg_want_scalar(c, n, key, "a size like '2 GiB'");
	char *end;
	double v;

	if (!s)
		return -1;
	v = strtod(s, &end);
	while (*end == ' ')
		end++;
	if (end == s || !(v > 0) || !isfinite(v))
		return cfg_bad(c, n, "'%s' must be a size like '2 GiB', not '%s'", key, s);
	if (!*end) {
		*out = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof units / sizeof *units; i++)
		if (!strcmp(end, units[i].unit)) {
			*out = v * units[i].scale;
			return 0;
		}
	return cfg_bad(c, n, "unknown unit '%s' in %s; use B, KiB, MiB, GiB, TiB (powers of 1024), KB, MB, GB or TB (powers of 1000)",
		       end, key);
}
