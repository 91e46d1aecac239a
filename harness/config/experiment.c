/* experiment.c - experiment files: YAML (through ytree) to a validated
 * struct experiment. Every key is checked; every error names the file,
 * line and column and nothing runs. Pattern parameter lists sweep. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../kernels/kvcache.h"
#include "../npy.h"
#include "../run/counters.h"
#include "experiment.h"
#include "ytree.h"

#define MAX_CELLS_DEFAULT 100000        /* run: max_cells unless given */

const struct exp_field_desc exp_fields[] = {
	[EXP_SEQ_LEN]  = { "seq_len", 1, 1 << 30, "sequence length n (keys)" },
	[EXP_HEAD_DIM] = { "head_dim", 1, 4096, "head dimension d" },
	[EXP_BATCH]    = { "batch", 1, 1 << 20, "sequences per run" },
	[EXP_HEADS]    = { "heads", 1, 1 << 16, "query heads" },
	[EXP_KV_HEADS] = { "kv_heads", 1, 1 << 16, "K/V heads, dividing heads (GQA); default heads" },
	[EXP_THREADS]  = { "threads", 1, 1024, "OpenMP threads; default all cores" },
	[EXP_CAUSAL]   = { "causal", 0, 1, "true: query i sees keys j <= i only" },
	[EXP_DTYPE]    = { "dtype", 0, DT_COUNT - 1, "element type of Q, K, V: f32, or bf16 (fp32 scores and softmax, P in bf16 for P V)" },
	[EXP_MODE]     = { "mode", 0, 1, "prefill (all queries) or decode (the last decode_steps tokens, one by one)" },
	[EXP_DECODE_STEPS] = { "decode_steps", 1, 1 << 20, "tokens a decode cell appends and attends, timed together" },
	[EXP_KV_LAYOUT] = { "kv_layout", 0, EXP_KV_AUTO, "decode cache: auto, full, ring, sink_ring or paged" },
	[EXP_KV_DTYPE] = { "kv_dtype", 0, DT_COUNT - 1, "decode cache elements: f32, f16 or bf16" },
	[EXP_SCORE] = { "score", 0, 0, "score function: plain, {scale: {value}}, alibi, {softcap: {cap}}, "
			"{relative_bias: {buckets, max_distance, seed}}" },
};

static_assert(sizeof exp_fields / sizeof *exp_fields == EXP_FIELD_COUNT,
	      "exp_fields: one per enum exp_field");

static const char *const mode_values[] = {
	[EXP_PREFILL] = "prefill", [EXP_DECODE] = "decode", NULL,
};
static_assert(sizeof mode_values / sizeof *mode_values == EXP_MODE_COUNT + 1,
	      "mode_values: one per enum exp_mode, then NULL");


const char *const *exp_field_values(enum exp_field f)
{
	return f == EXP_MODE ? mode_values : f == EXP_KV_LAYOUT ? kv_layout_names :
	       f == EXP_KV_DTYPE ? dtype_names : NULL;
}

/* "f32 or bf16": the dtypes Q, K and V may have, from the table. */
static const char *operand_names(void)
{
	static char buf[128];
	size_t at = 0;
	int n = 0, last = -1;

	for (int t = 0; t < DT_COUNT; t++)
		n += dtype_of((enum dtype)t)->operand;
	buf[0] = 0;
	for (int t = 0; t < DT_COUNT; t++) {
		if (!dtype_of((enum dtype)t)->operand)
			continue;
		last++;
		at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s",
				       !last ? "" : last == n - 1 ? " or " : ", ",
				       dtype_of((enum dtype)t)->name);
	}
	return buf;
}

const char *exp_dtype_name(long long dtype)
{
	return dtype >= 0 && dtype < DT_COUNT ? dtype_of((enum dtype)dtype)->name : "?";
}

/* Index of s in a NULL-terminated list, or -1. */
static int value_index(const char *const *list, const char *s)
{
	for (int i = 0; list[i]; i++)
		if (!strcmp(list[i], s))
			return i;
	return -1;
}

/* Parsing context: the file name for messages and the error sink. */
struct ctx {
	const char *file;
	struct err *e;
};

__attribute__((format(printf, 3, 4)))
static int bad(struct ctx *c, const struct ynode *n, const char *fmt, ...)
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
static const char *hint(const char *word, const char *const *names, size_t n,
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
static const char *want_scalar(struct ctx *c, const struct ynode *n,
			       const char *key, const char *what)
{
	if (n && n->type == YT_SCALAR)
		return n->str;
	bad(c, n, "'%s' must be %s, not %s", key, what, yt_what(n));
	return NULL;
}

static int parse_int(struct ctx *c, const struct ynode *n, const char *key,
		     long long min, long long max, long long *out)
{
	const char *s = want_scalar(c, n, key, "an integer");
	char *end;

	if (!s)
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (n->quoted || end == s || *end || errno)
		return bad(c, n, "'%s' must be an integer, not '%s'", key, s);
	if (*out < min)
		return bad(c, n, "'%s' is %lld, must be at least %lld", key, *out, min);
	if (*out > max)
		return bad(c, n, "'%s' is %lld, must be at most %lld", key, *out, max);
	return 0;
}

static int parse_float(struct ctx *c, const struct ynode *n, const char *key,
		       double min, double max, double *out)
{
	const char *s = want_scalar(c, n, key, "a number");
	char *end;

	if (!s)
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	if (n->quoted || end == s || *end || errno || !isfinite(*out))
		return bad(c, n, "'%s' must be a number, not '%s'", key, s);
	if (*out < min || *out > max)
		return bad(c, n, "'%s' is %g, must be in [%g, %g]", key, *out, min, max);
	return 0;
}

static int parse_bool(struct ctx *c, const struct ynode *n, const char *key,
		      long long *out)
{
	const char *s = want_scalar(c, n, key, "true or false");

	if (!s)
		return -1;
	if (!n->quoted && strcmp(s, "true") == 0)
		*out = 1;
	else if (!n->quoted && strcmp(s, "false") == 0)
		*out = 0;
	else
		return bad(c, n, "'%s' must be true or false, not '%s'", key, s);
	return 0;
}

static int parse_string(struct ctx *c, const struct ynode *n, const char *key,
			char **out)
{
	const char *s = want_scalar(c, n, key, "a string");

	if (!s)
		return -1;
	free(*out);
	*out = strdup(s);
	return *out ? 0 : err_set(c->e, "out of memory reading the experiment");
}

/* Checks that map holds only keys from allowed. */
static int only_keys(struct ctx *c, const struct ynode *map,
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
			return bad(c, k, "unknown key '%s'%s%s", k->str, where,
				   hint(k->str, allowed, n_allowed, buf, sizeof buf));
	}
	return 0;
}

/* ---- shape and sweep ---- */

static int field_index(const char *name)
{
	for (int f = 0; f < EXP_FIELD_COUNT; f++)
		if (strcmp(exp_fields[f].name, name) == 0)
			return f;
	return -1;
}

static int parse_field_value(struct ctx *c, int f, const struct ynode *n,
			     long long *out)
{
	const struct exp_field_desc *d = &exp_fields[f];
	const char *s;

	if (f == EXP_CAUSAL)
		return parse_bool(c, n, d->name, out);
	if (exp_field_values((enum exp_field)f)) {
		const char *const *names = exp_field_values((enum exp_field)f);
		s = want_scalar(c, n, d->name, "a name");
		if (!s)
			return -1;
		if (f == EXP_KV_LAYOUT && !strcmp(s, "auto")) {
			*out = EXP_KV_AUTO;
			return 0;
		}
		if (value_index(names, s) < 0)
			return bad(c, n, "unknown %s '%s'", d->name, s);
		*out = value_index(names, s);
		return 0;
	}
	if (f != EXP_DTYPE)
		return parse_int(c, n, d->name, d->min, d->max, out);
	s = want_scalar(c, n, d->name, "a type name");
	if (!s)
		return -1;
	if (dtype_find(s) >= 0 && dtype_of((enum dtype)dtype_find(s))->operand) {
		*out = dtype_find(s);
		return 0;
	}
	/* a storage type of the cache only, or one a model may have */
	if (dtype_find(s) >= 0 || !strcmp(s, "f64"))
		return bad(c, n, "dtype '%s' is not supported yet; use %s", s, operand_names());
	return bad(c, n, "unknown dtype '%s'", s);
}

/* ---- score: a shape field whose values are score functions ---- */

static const char *const score_params[][4] = {
	[SCORE_SCALE] = { "value", NULL },
	[SCORE_SOFTCAP] = { "cap", NULL },
	[SCORE_RELATIVE_BIAS] = { "buckets", "max_distance", "seed", NULL },
};
static_assert(sizeof score_params / sizeof *score_params == SCORE_KIND_COUNT,
	      "score_params: one per enum score_kind");

/* How many values param node v gives (a list sweeps), and the i-th. */
static size_t param_count(const struct ynode *v)
{
	return v && v->type == YT_SEQ ? v->n : 1;
}

static const struct ynode *param_at(const struct ynode *v, size_t i)
{
	return v && v->type == YT_SEQ ? v->kid[i] : v;
}

static int positive(struct ctx *c, const struct ynode *n, const char *key, double *out)
{
	if (parse_float(c, n, key, -1e300, 1e300, out))
		return -1;
	return *out > 0.0 ? 0 : bad(c, n, "'%s' is %g, must be above 0", key, *out);
}

/* Parameter `name` of one combination into s (absent: the default). */
static int score_param(struct ctx *c, struct score_spec *s, const char *name,
		       const struct ynode *n)
{
	long long v;

	if (!n)
		return 0;
	if (!strcmp(name, "value"))
		return positive(c, n, name, &s->value);
	if (!strcmp(name, "cap"))
		return positive(c, n, name, &s->cap);
	if (!strcmp(name, "seed")) {
		if (parse_int(c, n, name, 0, LLONG_MAX, &v))
			return -1;
		s->seed = (unsigned long long)v;
		return 0;
	}
	if (parse_int(c, n, name, !strcmp(name, "buckets") ? 2 : 1, 1 << 24, &v))
		return -1;
	if (!strcmp(name, "buckets"))
		s->buckets = (int)v;
	else
		s->max_distance = (int)v;
	return 0;
}

static void score_label(struct score_spec *s)
{
	const char *k = score_kind_name(s->kind);

	if (s->kind == SCORE_SCALE)
		snprintf(s->label, sizeof s->label, "%s(value=%g)", k, s->value);
	else if (s->kind == SCORE_SOFTCAP)
		snprintf(s->label, sizeof s->label, "%s(cap=%g)", k, s->cap);
	else if (s->kind == SCORE_RELATIVE_BIAS)
		snprintf(s->label, sizeof s->label, "%s(buckets=%d max_distance=%d seed=%llu)", k,
			 s->buckets, s->max_distance, s->seed);
	else
		snprintf(s->label, sizeof s->label, "%s", k);
}

/* Appends s to the experiment's scores and its index to axis a. */
static int add_score(struct ctx *c, struct experiment *x, struct exp_axis *a,
		     const struct score_spec *s, const struct ynode *at)
{
	struct score_spec *grown = realloc(x->scores, (x->n_scores + 1) * sizeof *grown);
	long long *v = realloc(a->v, (a->n + 1) * sizeof *v);

	if (grown)
		x->scores = grown;
	if (v)
		a->v = v;
	if (!grown || !v)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(x->scores[a->v[i]].label, s->label))
			return bad(c, at, "score '%s' is listed twice", s->label);
	x->scores[x->n_scores] = *s;
	a->v[a->n++] = (long long)x->n_scores++;
	return 0;
}

/* One score entry: a kind name, or {kind: {parameters}} whose lists sweep;
 * every combination is appended to axis a. */
static int parse_score(struct ctx *c, struct experiment *x, struct exp_axis *a,
		       const struct ynode *n)
{
	const struct ynode *name = n, *params = NULL, *val[3] = { NULL };
	const char *const *names;
	size_t total = 1, cnt[3] = { 1, 1, 1 }, np = 0;
	char buf[96], where[64];
	int kind;

	if (n->type == YT_MAP && n->n == 2) {
		name = n->kid[0];
		params = n->kid[1];
	} else if (n->type != YT_SCALAR) {
		return bad(c, n, "'score' must be a kind or {kind: {parameters}}, not %s", yt_what(n));
	}
	kind = score_kind_find(name->str);
	if (kind < 0) {
		const char *kinds[SCORE_KIND_COUNT];
		for (int k = 0; k < SCORE_KIND_COUNT; k++)
			kinds[k] = score_kind_name((enum score_kind)k);
		return bad(c, name, "unknown score '%s'%s", name->str,
			   hint(name->str, kinds, SCORE_KIND_COUNT, buf, sizeof buf));
	}
	if (params && params->type == YT_SCALAR && params->str[0] == '\0')
		params = NULL;          /* `alibi:` with nothing after it */
	if (params && params->type != YT_MAP)
		return bad(c, params, "parameters of score '%s' must be a mapping, not %s",
			   name->str, yt_what(params));
	names = score_params[kind];
	while (np < 3 && names[np])
		np++;
	snprintf(where, sizeof where, " in score '%s'", name->str);
	if (params && only_keys(c, params, names, np, where))
		return -1;
	if (kind == SCORE_SCALE && !yt_get(params, "value"))
		return bad(c, name, "score 'scale' needs 'value'");
	for (size_t i = 0; i < np; i++) {
		val[i] = params ? yt_get(params, names[i]) : NULL;
		cnt[i] = param_count(val[i]);
		total *= cnt[i];
	}
	for (size_t t = 0; t < total; t++) {
		struct score_spec s = { .kind = (enum score_kind)kind, .cap = 50.0, .buckets = 32,
					.max_distance = 128 };
		size_t rest = t;
		for (size_t i = np; i-- > 0; rest /= cnt[i])
			if (score_param(c, &s, names[i], param_at(val[i], rest % cnt[i])))
				return -1;
		if (kind == SCORE_RELATIVE_BIAS && s.max_distance < s.buckets)
			return bad(c, val[1] ? val[1] : name, "'max_distance' is %d, must be at least 'buckets' %d",
				   s.max_distance, s.buckets);
		score_label(&s);
		if (add_score(c, x, a, &s, n))
			return -1;
	}
	return 0;
}

/* The score axis: under shape one entry (its parameter lists sweep), under
 * sweep a list of entries. */
static int set_score_axis(struct ctx *c, struct experiment *x, const struct ynode *val,
			  int swept)
{
	struct exp_axis *a = &x->axis[EXP_SCORE];

	if (!swept && val->type == YT_SEQ)
		return bad(c, val, "'score' under shape is one function, not a list; list several under sweep");
	if (!swept)
		return parse_score(c, x, a, val);
	for (size_t i = 0; i < val->n; i++)
		if (parse_score(c, x, a, val->kid[i]))
			return -1;
	return 0;
}

static int set_axis(struct ctx *c, struct experiment *x, int f,
		    const struct ynode *key, const struct ynode *val, int swept)
{
	struct exp_axis *a = &x->axis[f];
	size_t n = swept ? val->n : 1;

	if (a->line)
		return bad(c, key, "'%s' is both fixed under shape and swept under sweep",
			   key->str);
	if (swept && val->type != YT_SEQ)
		return bad(c, val, "sweep '%s' must be a list, not %s", key->str,
			   yt_what(val));
	if (swept && val->n == 0)
		return bad(c, val, "sweep '%s' is empty", key->str);
	if (f == EXP_SCORE) {
		a->line = key->line;
		a->col = key->col;
		return set_score_axis(c, x, val, swept);
	}
	a->v = calloc(n, sizeof *a->v);
	if (!a->v)
		return err_set(c->e, "out of memory reading the experiment");
	a->n = n;
	a->line = key->line;
	a->col = key->col;
	for (size_t i = 0; i < n; i++)
		if (parse_field_value(c, f, swept ? val->kid[i] : val, &a->v[i]))
			return -1;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (a->v[i] == a->v[j])
				return bad(c, val->kid[i], "sweep '%s' lists %lld twice",
					   key->str, a->v[i]);
	return 0;
}

static int parse_axes(struct ctx *c, struct experiment *x,
		      const struct ynode *map, int swept)
{
	const char *section = swept ? "sweep" : "shape";
	const char *names[EXP_FIELD_COUNT];
	char buf[96];

	if (!map)
		return 0;
	if (map->type != YT_MAP)
		return bad(c, map, "'%s' must be a mapping, not %s", section,
			   yt_what(map));
	for (int f = 0; f < EXP_FIELD_COUNT; f++)
		names[f] = exp_fields[f].name;
	for (size_t i = 0; i < map->n; i += 2) {
		const struct ynode *k = map->kid[i];
		int f = field_index(k->str);
		if (f < 0)
			return bad(c, k, "unknown key '%s' in '%s'%s", k->str, section,
				   hint(k->str, names, EXP_FIELD_COUNT, buf, sizeof buf));
		if (set_axis(c, x, f, k, map->kid[i + 1], swept))
			return -1;
	}
	return 0;
}

/* Fills axes the file left out with their defaults. */
static int default_axes(struct ctx *c, struct experiment *x,
			const struct ynode *root)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	long long def[EXP_FIELD_COUNT] = {
		[EXP_HEAD_DIM] = 64, [EXP_BATCH] = 1, [EXP_HEADS] = 8,
		[EXP_KV_HEADS] = 0, [EXP_THREADS] = cores > 0 ? cores : 1,
		[EXP_CAUSAL] = 1, [EXP_DTYPE] = DT_F32, [EXP_MODE] = EXP_PREFILL,
		[EXP_DECODE_STEPS] = 1, [EXP_KV_LAYOUT] = EXP_KV_AUTO, [EXP_KV_DTYPE] = DT_F32,
	};

	if (!x->axis[EXP_SEQ_LEN].n)
		return bad(c, root, "missing 'seq_len' under shape or sweep");
	if (!x->axis[EXP_SCORE].n) {
		struct score_spec plain = { .kind = SCORE_PLAIN, .label = "plain" };
		if (add_score(c, x, &x->axis[EXP_SCORE], &plain, root))
			return -1;
	}
	for (int f = 0; f < EXP_FIELD_COUNT; f++) {
		if (x->axis[f].n)
			continue;
		x->axis[f].v = malloc(sizeof *x->axis[f].v);
		if (!x->axis[f].v)
			return err_set(c->e, "out of memory reading the experiment");
		x->axis[f].v[0] = def[f];
		x->axis[f].n = 1;
	}
	return 0;
}

/* A decode cell times at most seq_len tokens. */
static int check_decode(struct ctx *c, struct experiment *x)
{
	const struct exp_axis *m = &x->axis[EXP_MODE], *t = &x->axis[EXP_DECODE_STEPS];
	const struct exp_axis *n = &x->axis[EXP_SEQ_LEN];
	int decode = 0;

	for (size_t i = 0; i < m->n; i++)
		decode |= m->v[i] == EXP_DECODE;
	for (size_t i = 0; decode && i < t->n; i++)
		for (size_t j = 0; j < n->n; j++)
			if (t->v[i] > n->v[j])
				return err_at(c->e, c->file, t->line ? t->line : 1, t->col ? t->col : 1,
					      "decode_steps %lld is more than seq_len %lld",
					      t->v[i], n->v[j]);
	return 0;
}

/* kv_heads must divide heads in every combination. */
static int check_gqa(struct ctx *c, struct experiment *x)
{
	const struct exp_axis *h = &x->axis[EXP_HEADS], *kv = &x->axis[EXP_KV_HEADS];

	for (size_t i = 0; i < h->n; i++)
		for (size_t j = 0; j < kv->n; j++)
			if (kv->v[j] && h->v[i] % kv->v[j])
				return err_at(c->e, c->file, kv->line, kv->col,
					      "kv_heads %lld does not divide heads %lld",
					      kv->v[j], h->v[i]);
	return 0;
}

/* ---- patterns ---- */

/* Reads a list-typed parameter value. */
static int parse_int_list(struct ctx *c, const struct ynode *n,
			  const struct pat_param *d, struct pat_list *out)
{
	if (n->type != YT_SEQ)
		return bad(c, n, "'%s' must be a list of integers, not %s", d->name,
			   yt_what(n));
	out->n = n->n;
	out->v = n->n ? calloc(n->n, sizeof *out->v) : NULL;
	if (n->n && !out->v)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < n->n; i++)
		if (parse_int(c, n->kid[i], d->name, (long long)d->min,
			      (long long)d->max, &out->v[i]))
			return -1;
	return 0;
}

static int parse_rows(struct ctx *c, const struct ynode *n,
		      const struct pat_param *d, struct pat_rows *out)
{
	if (n->type != YT_SEQ)
		return bad(c, n, "'%s' must be a list of lists, not %s", d->name,
			   yt_what(n));
	out->n = n->n;
	out->row = n->n ? calloc(n->n, sizeof *out->row) : NULL;
	if (n->n && !out->row)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < n->n; i++)
		if (parse_int_list(c, n->kid[i], d, &out->row[i]))
			return -1;
	return 0;
}

/* path resolved against the experiment file's folder (absolute paths and
 * inline specs stay as they are); malloc'ed, NULL when out of memory. */
static char *resolve_path(const struct ctx *c, const char *path)
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

/* Reads an integer .npy file into a blob (int64), for a PAT_FILE
 * parameter; the pattern keeps the path as the user wrote it. */
static int parse_file_param(struct ctx *c, const struct ynode *n,
			    const struct pat_param *d, struct pat_file *out)
{
	const char *s = want_scalar(c, n, d->name, "a file name");
	struct npy_array a;
	char *path;
	struct err e;

	if (!s)
		return -1;
	free(out->path);
	pat_blob_release(out->blob);
	out->blob = NULL;
	out->path = strdup(s);
	path = resolve_path(c, s);
	if (!out->path || !path) {
		free(path);
		return err_set(c->e, "out of memory reading the experiment");
	}
	if (npy_map(path, &a, NPY_WANT_INT, &e)) {
		free(path);
		return bad(c, n, "%s", e.msg);
	}
	if (a.ndim != 1 && a.ndim != 2) {
		int rc = bad(c, n, "'%s' in '%s' has %d dimensions; it needs 1 (or 2 for per-head indptr)",
			     d->name, path, a.ndim);
		npy_unmap(&a);
		free(path);
		return rc;
	}
	free(path);
	out->blob = calloc(1, sizeof *out->blob);
	if (out->blob)
		out->blob->v = malloc((a.count ? a.count : 1) * sizeof *out->blob->v);
	if (!out->blob || !out->blob->v) {
		npy_unmap(&a);
		return err_set(c->e, "out of memory reading the experiment");
	}
	out->blob->refs = 1;
	out->blob->n = a.count;
	out->blob->ndim = a.ndim;
	out->blob->dim[0] = a.shape[0];
	out->blob->dim[1] = a.ndim == 2 ? a.shape[1] : 0;
	for (size_t i = 0; i < a.count; i++)
		out->blob->v[i] = (int64_t)npy_get(&a, i);
	npy_unmap(&a);
	return 0;
}

/* Reads one of d's words into *out as its index. */
static int parse_choice(struct ctx *c, const struct ynode *n,
			const struct pat_param *d, long long *out)
{
	const char *s = want_scalar(c, n, d->name, "a word");
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
	return bad(c, n, "'%s' must be one of %s, not '%s'%s", d->name, list, s,
		   hint(s, d->choices, count, buf, sizeof buf));
}

/* Sets scalar parameter i of p from n. */
static int parse_scalar_param(struct ctx *c, const struct ynode *n,
			      struct pattern *p, int i)
{
	const struct pat_param *d = &p->kind->params[i];

	if (d->type == PAT_INT)
		return parse_int(c, n, d->name, (long long)d->min,
				 (long long)d->max, &p->val[i].i);
	if (d->type == PAT_BOOL)
		return parse_bool(c, n, d->name, &p->val[i].i);
	if (d->type == PAT_CHOICE)
		return parse_choice(c, n, d, &p->val[i].i);
	return parse_float(c, n, d->name, d->min, d->max, &p->val[i].f);
}

/* A pattern item being expanded: the base and its swept parameters. */
struct pat_item {
	struct pattern base;            /* fixed parameters set */
	const struct ynode *sweep[PAT_MAX_PARAMS]; /* list nodes, or NULL */
	const struct ynode *node;       /* the item, for messages */
	const char *label;              /* user label, or NULL */
};

static int parse_params(struct ctx *c, const struct ynode *params,
			struct pat_item *it)
{
	struct pattern *p = &it->base;
	const struct pat_kind *k = p->kind;
	char buf[96];
	const char *names[PAT_MAX_PARAMS];
	int given[PAT_MAX_PARAMS] = { 0 };

	for (int i = 0; i < k->n_params; i++)
		names[i] = k->params[i].name;
	if (params && params->type == YT_SCALAR && params->str[0] == 0)
		params = NULL;                  /* "dense:" with no value */
	if (params && params->type != YT_MAP)
		return bad(c, params, "parameters of pattern '%s' must be a mapping, not %s",
			   k->name, yt_what(params));
	for (size_t j = 0; params && j < params->n; j += 2) {
		const struct ynode *key = params->kid[j], *val = params->kid[j + 1];
		int i = pat_param_index(k, key->str);
		enum pat_type t;
		if (i < 0)
			return bad(c, key, "unknown parameter '%s' for pattern '%s'%s",
				   key->str, k->name,
				   hint(key->str, names, (size_t)k->n_params, buf, sizeof buf));
		given[i] = 1;
		t = k->params[i].type;
		if (t == PAT_INT_LIST) {
			if (parse_int_list(c, val, &k->params[i], &p->val[i].list))
				return -1;
		} else if (t == PAT_ROWS) {
			if (parse_rows(c, val, &k->params[i], &p->val[i].rows))
				return -1;
		} else if (t == PAT_FILE) {
			if (parse_file_param(c, val, &k->params[i], &p->val[i].file))
				return -1;
		} else if (val->type == YT_SEQ) {
			if (val->n == 0)
				return bad(c, val, "parameter '%s' of pattern '%s' sweeps an empty list",
					   key->str, k->name);
			it->sweep[i] = val;
		} else if (parse_scalar_param(c, val, p, i)) {
			return -1;
		}
	}
	for (int i = 0; i < k->n_params; i++)
		if (k->params[i].required && !given[i])
			return bad(c, it->node, "pattern '%s' needs parameter '%s'",
				   k->name, k->params[i].name);
	return 0;
}

static int parse_pattern_item(struct ctx *c, const struct ynode *n,
			      struct pat_item *it);

/* Reads the child list of a composite pattern into it->base. */
static int parse_children(struct ctx *c, const struct ynode *list,
			  struct pat_item *it)
{
	struct pattern *p = &it->base;

	if (list->type != YT_SEQ)
		return bad(c, list, "pattern '%s' takes a list of patterns, not %s",
			   p->kind->name, yt_what(list));
	p->child = calloc(list->n ? list->n : 1, sizeof *p->child);
	if (!p->child)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < list->n; i++) {
		struct pat_item kid;
		int rc = parse_pattern_item(c, list->kid[i], &kid);
		for (int k = 0; !rc && k < PAT_MAX_PARAMS; k++)
			if (kid.sweep[k])
				rc = bad(c, kid.sweep[k], "a child of '%s' cannot sweep a parameter; list each variant as its own pattern",
					 p->kind->name);
		if (!rc && kid.label)
			rc = bad(c, list->kid[i], "a child of '%s' cannot have a label; label the '%s' pattern itself",
				 p->kind->name, p->kind->name);
		if (rc) {
			pat_free(&kid.base);
			return -1;
		}
		pat_default_label(&kid.base, kid.base.label, sizeof kid.base.label);
		p->child[p->n_child++] = kid.base;
	}
	return 0;
}

/* Reads a list item of patterns: into it (kind, label, parameters). */
static int parse_pattern_item(struct ctx *c, const struct ynode *n,
			      struct pat_item *it)
{
	const struct ynode *kind_key = NULL, *params = NULL;
	const char *names[64];
	char buf[96];

	memset(it, 0, sizeof *it);
	it->node = n;
	for (int i = 0; i < pat_kind_count && i < 64; i++)
		names[i] = pat_kinds[i]->name;
	if (n->type == YT_SCALAR) {
		kind_key = n;
	} else if (n->type == YT_MAP) {
		for (size_t i = 0; i < n->n; i += 2) {
			const struct ynode *k = n->kid[i];
			if (strcmp(k->str, "label") == 0) {
				it->label = want_scalar(c, n->kid[i + 1], "label", "a string");
				if (!it->label)
					return -1;
				if (strpbrk(it->label, ",\"\n\r") || !it->label[0])
					return bad(c, n->kid[i + 1],
						   "label '%s' must be non-empty without commas, quotes or newlines",
						   it->label);
				continue;
			}
			if (kind_key)
				return bad(c, k, "pattern item names two patterns, '%s' and '%s'",
					   kind_key->str, k->str);
			kind_key = k;
			params = n->kid[i + 1];
		}
		if (!kind_key)
			return bad(c, n, "pattern item has a label but no pattern");
	} else {
		return bad(c, n, "a pattern must be a name or a mapping, not %s",
			   yt_what(n));
	}
	if (!pat_kind_find(kind_key->str))
		return bad(c, kind_key, "unknown pattern '%s'%s", kind_key->str,
			   hint(kind_key->str, names, (size_t)pat_kind_count, buf, sizeof buf));
	pat_init(&it->base, pat_kind_find(kind_key->str), 1);
	if (it->base.kind->composite)
		return parse_children(c, params ? params : kind_key, it);
	return parse_params(c, params, it);
}

/* Label of a variant: the user's (with swept values) or the default. */
static void variant_label(const struct pat_item *it, struct pattern *p)
{
	size_t off;
	int shown = 0;

	if (!it->label) {
		pat_default_label(p, p->label, sizeof p->label);
		return;
	}
	off = (size_t)snprintf(p->label, sizeof p->label, "%s", it->label);
	for (int i = 0; i < p->kind->n_params && off < sizeof p->label; i++) {
		if (!it->sweep[i])
			continue;
		off += (size_t)snprintf(p->label + off, sizeof p->label - off,
					"%s%s=", shown ? " " : "(", p->kind->params[i].name);
		if (off < sizeof p->label)
			off += (size_t)(p->kind->params[i].type == PAT_FLOAT
				? snprintf(p->label + off, sizeof p->label - off, "%g", p->val[i].f)
				: snprintf(p->label + off, sizeof p->label - off, "%lld", p->val[i].i));
		shown = 1;
	}
	if (shown && off < sizeof p->label)
		snprintf(p->label + off, sizeof p->label - off, ")");
}

/* Checks variant p under every causality and sequence length the
 * experiment asks for (seq_len NULL: no length known). */
static int check_variant(struct ctx *c, const struct pat_item *it,
			 struct pattern *p, const struct exp_axis *causal,
			 const struct exp_axis *seq_len, const struct exp_axis *heads)
{
	char why[256];

	for (size_t i = 0; heads && i < heads->n; i++)
		if (pat_check_heads(p, (long)heads->v[i], why, sizeof why))
			return bad(c, it->node, "pattern '%s': %s", p->label, why);
	for (size_t i = 0; i < causal->n; i++) {
		pat_set_causal(p, (int)causal->v[i]);
		if (pat_check(p, why, sizeof why))
			return bad(c, it->node, "pattern '%s': %s", p->label, why);
	}
	for (size_t i = 0; seq_len && i < seq_len->n; i++)
		if (pat_check_n(p, (long)seq_len->v[i], why, sizeof why))
			return bad(c, it->node, "pattern '%s': %s", p->label, why);
	pat_set_causal(p, (int)causal->v[0]);
	return 0;
}

static int push_variant(struct ctx *c, struct experiment *x, struct pattern *p)
{
	if (x->n_pat == x->pat_cap) {   /* doubling: linear in the variants */
		size_t cap = x->pat_cap ? 2 * x->pat_cap : 16;
		struct pattern *v = realloc(x->pat, cap * sizeof *v);
		if (!v)
			return err_set(c->e, "out of memory reading the experiment");
		x->pat = v;
		x->pat_cap = cap;
	}
	if (pat_copy(&x->pat[x->n_pat], p))
		return err_set(c->e, "out of memory reading the experiment");
	x->n_pat++;
	return 0;
}

/* Expands the swept parameters of it, from parameter i on, into x. */
static int expand(struct ctx *c, struct experiment *x, struct pat_item *it,
		  struct pattern *p, int i, const struct exp_axis *causal,
		  const struct exp_axis *seq_len)
{
	if (i == p->kind->n_params) {
		variant_label(it, p);
		if (check_variant(c, it, p, causal, seq_len, seq_len ? &x->heads_used : NULL))
			return -1;
		return push_variant(c, x, p);
	}
	if (!it->sweep[i])
		return expand(c, x, it, p, i + 1, causal, seq_len);
	for (size_t j = 0; j < it->sweep[i]->n; j++) {
		if (parse_scalar_param(c, it->sweep[i]->kid[j], p, i) ||
		    expand(c, x, it, p, i + 1, causal, seq_len))
			return -1;
	}
	return 0;
}

/* The head counts cells will have: the files' for inputs read from
 * files, the shape's for the others. */
static int collect_heads(struct ctx *c, struct experiment *x)
{
	const struct exp_axis *a = &x->axis[EXP_HEADS];
	size_t cap = a->n + x->n_inputs;

	x->heads_used.v = calloc(cap, sizeof *x->heads_used.v);
	if (!x->heads_used.v)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < x->n_inputs; i++) {
		const struct exp_input *in = &x->inputs[i];
		for (size_t j = 0; j < (in->shape.n ? 1 : a->n); j++) {
			long long h = in->shape.n ? in->shape.heads : a->v[j];
			size_t k = 0;
			while (k < x->heads_used.n && x->heads_used.v[k] != h)
				k++;
			if (k == x->heads_used.n && k < cap)
				x->heads_used.v[x->heads_used.n++] = h;
		}
	}
	return 0;
}

/* Variants item's parameter lists make (their product). */
static double variant_count(const struct pat_item *it)
{
	double n = 1;

	for (int i = 0; i < it->base.kind->n_params; i++)
		if (it->sweep[i])
			n *= (double)it->sweep[i]->n;
	return n;
}

/* 1 when s and t point at patterns of the same label (for qsort). */
static int cmp_label(const void *a, const void *b)
{
	return strcmp((*(const struct pattern *const *)a)->label,
		      (*(const struct pattern *const *)b)->label);
}

/* Refuses a label two variants share; sorted, so linear in the variants
 * after the sort. */
static int check_labels(struct ctx *c, const struct experiment *x, const struct ynode *list)
{
	const struct pattern **by = malloc((x->n_pat + 1) * sizeof *by);
	int rc = 0;

	if (!by)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < x->n_pat; i++)
		by[i] = &x->pat[i];
	qsort(by, x->n_pat, sizeof *by, cmp_label);
	for (size_t i = 1; i < x->n_pat && !rc; i++)
		if (strcmp(by[i]->label, by[i - 1]->label) == 0)
			rc = bad(c, list, "pattern label '%s' is used twice; give one a label", by[i]->label);
	free(by);
	return rc;
}

/* rest: the cells each pattern variant multiplies into (shape axes,
 * inputs, kernels), so that a grid past max_cells is refused before its
 * variants are made. */
static int parse_patterns(struct ctx *c, struct experiment *x, const struct ynode *root,
			  const struct ynode *list, double rest, long long max_cells)
{
	struct pat_item *items;
	double variants = 0;
	size_t parsed = 0;
	int rc = 0;

	if (collect_heads(c, x))
		return -1;
	if (!list)
		return bad(c, NULL, "missing 'patterns'");
	if (list->type != YT_SEQ)
		return bad(c, list, "'patterns' must be a list, not %s", yt_what(list));
	if (list->n == 0)
		return bad(c, list, "'patterns' is empty");
	/* every item first, so that the grid is counted before it is made */
	items = calloc(list->n, sizeof *items);
	if (!items)
		return err_set(c->e, "out of memory reading the experiment");
	for (; parsed < list->n && !rc; parsed++) {
		rc = parse_pattern_item(c, list->kid[parsed], &items[parsed]);
		variants += rc ? 0 : variant_count(&items[parsed]);
	}
	if (!rc && variants * rest > (double)max_cells)
		rc = bad(c, root, "the grid has %.0f cells, more than run: max_cells %lld; sweep less or raise max_cells",
			 variants * rest, max_cells);
	for (size_t i = 0; i < list->n && !rc; i++)
		rc = expand(c, x, &items[i], &items[i].base, 0, &x->axis[EXP_CAUSAL],
			    &x->axis[EXP_SEQ_LEN]);
	for (size_t i = 0; i < parsed; i++)
		pat_free(&items[i].base);
	free(items);
	return rc ? -1 : check_labels(c, x, list);
}

/* ---- inputs and quality ---- */

/* Reads one input parameter (index i of in's kind) from n. */
static int parse_input_param(struct ctx *c, const struct ynode *n,
			     struct exp_input *in, int i)
{
	const struct inp_param *d = &in->kind->params[i];
	union inp_value *v = &in->val[i];
	const char *s;

	switch (d->type) {
	case INP_INT:
		return parse_int(c, n, d->name, (long long)d->min, (long long)d->max, &v->i);
	case INP_FLOAT:
		return parse_float(c, n, d->name, d->min, d->max, &v->f);
	case INP_PATH:
		if (!(s = want_scalar(c, n, d->name, "a file name")))
			return -1;
		free(v->path);
		v->path = resolve_path(c, s);
		return v->path ? 0 : err_set(c->e, "out of memory reading the experiment");
	case INP_WORDS: {
		const struct ynode *one = n->type == YT_SEQ ? NULL : n;
		size_t count = one ? 1 : n->n;
		if (n->type == YT_MAP)
			return bad(c, n, "'%s' must be a name or a list of names, not a mapping", d->name);
		if (!count)
			return bad(c, n, "'%s' is empty", d->name);
		free(v->words.v);
		v->words.n = 0;
		v->words.v = malloc(count * sizeof *v->words.v);
		if (!v->words.v)
			return err_set(c->e, "out of memory reading the experiment");
		for (size_t j = 0; j < count; j++) {
			const struct ynode *w = one ? one : n->kid[j];
			int at;
			char buf[96];
			size_t nw = 0;
			if (!(s = want_scalar(c, w, d->name, "a name")))
				return -1;
			while (d->words[nw])
				nw++;
			if ((at = value_index(d->words, s)) < 0)
				return bad(c, w, "unknown value '%s' in '%s'%s", s, d->name,
					   hint(s, (const char *const *)d->words, nw, buf, sizeof buf));
			v->words.v[v->words.n++] = at;
		}
		return 0;
	}
	}
	return 0;
}

static int parse_input_params(struct ctx *c, const struct ynode *params,
			      const struct ynode *item, struct exp_input *in)
{
	const struct inp_kind *k = in->kind;
	const char *names[INP_MAX_PARAMS];
	int given[INP_MAX_PARAMS] = { 0 };
	char buf[96];

	for (int i = 0; i < k->n_params; i++)
		names[i] = k->params[i].name;
	if (params && params->type == YT_SCALAR && params->str[0] == 0)
		params = NULL;                  /* "gaussian:" with no value */
	if (params && params->type != YT_MAP)
		return bad(c, params, "parameters of input '%s' must be a mapping, not %s",
			   k->name, yt_what(params));
	for (size_t j = 0; params && j < params->n; j += 2) {
		const struct ynode *key = params->kid[j];
		int i = inp_param_index(k, key->str);
		if (i < 0)
			return bad(c, key, "unknown parameter '%s' for input '%s'%s", key->str,
				   k->name, hint(key->str, names, (size_t)k->n_params, buf, sizeof buf));
		given[i] = 1;
		if (parse_input_param(c, params->kid[j + 1], in, i))
			return -1;
	}
	for (int i = 0; i < k->n_params; i++)
		if (k->params[i].required && !given[i])
			return bad(c, item, "input '%s' needs parameter '%s'", k->name,
				   k->params[i].name);
	return 0;
}

/* Reads a list item of inputs into in: a kind name, or a mapping of one
 * kind to its parameters with an optional label. */
static int parse_input_item(struct ctx *c, const struct ynode *n,
			    struct exp_input *in)
{
	const struct ynode *kind_key = NULL, *params = NULL, *label = NULL;
	const char *names[16];
	char buf[96];

	for (int i = 0; i < inp_kind_count && i < 16; i++)
		names[i] = inp_kinds[i]->name;
	if (n->type == YT_SCALAR) {
		kind_key = n;
	} else if (n->type == YT_MAP) {
		for (size_t i = 0; i < n->n; i += 2) {
			if (!strcmp(n->kid[i]->str, "label")) {
				label = n->kid[i + 1];
				continue;
			}
			if (kind_key)
				return bad(c, n->kid[i], "input item names two inputs, '%s' and '%s'",
					   kind_key->str, n->kid[i]->str);
			kind_key = n->kid[i];
			params = n->kid[i + 1];
		}
		if (!kind_key)
			return bad(c, n, "input item has a label but no input");
	} else {
		return bad(c, n, "an input must be a name or a mapping, not %s", yt_what(n));
	}
	if (!inp_kind_find(kind_key->str))
		return bad(c, kind_key, "unknown input '%s'%s", kind_key->str,
			   hint(kind_key->str, names, (size_t)inp_kind_count, buf, sizeof buf));
	if (inp_init(in, inp_kind_find(kind_key->str)))
		return err_set(c->e, "out of memory reading the experiment");
	if (parse_input_params(c, params, n, in))
		return -1;
	if (label) {
		const char *s = want_scalar(c, label, "label", "a string");
		if (!s)
			return -1;
		if (strpbrk(s, ",\"\n\r") || !s[0] || strlen(s) >= sizeof in->label)
			return bad(c, label, "label '%s' must be non-empty without commas, quotes or newlines",
				   s);
		snprintf(in->label, sizeof in->label, "%s", s);
	} else {
		inp_default_label(in, in->label, sizeof in->label);
	}
	return 0;
}

/* The shape fields an input's files fix must agree with the experiment. */
static int check_input_shape(struct ctx *c, const struct experiment *x,
			     const struct exp_input *in, const struct ynode *n)
{
	static const enum exp_field fields[] = { EXP_BATCH, EXP_HEADS, EXP_KV_HEADS, EXP_HEAD_DIM };
	const long file[] = { in->shape.batch, in->shape.heads, in->shape.kv_heads, in->shape.head_dim };
	const char *q = in->shape.n ? in->val[0].path : "";     /* npy: q's file */

	for (size_t f = 0; f < sizeof fields / sizeof *fields && in->shape.n; f++) {
		const struct exp_axis *a = &x->axis[fields[f]];
		for (size_t i = 0; a->line && i < a->n; i++)
			if (a->v[i] != file[f] && !(fields[f] == EXP_KV_HEADS && a->v[i] == 0))
				return bad(c, n, "input '%s': %s is %lld in the experiment but %ld in '%s'",
					   in->label, exp_fields[fields[f]].name, a->v[i], file[f], q);
	}
	for (size_t i = 0; in->shape.n && i < x->axis[EXP_SEQ_LEN].n; i++)
		if (x->axis[EXP_SEQ_LEN].v[i] > in->shape.n)
			return bad(c, n, "input '%s': seq_len %lld is longer than the %ld tokens of '%s'",
				   in->label, x->axis[EXP_SEQ_LEN].v[i], in->shape.n, q);
	for (size_t i = 0; !in->shape.n && i < x->axis[EXP_HEAD_DIM].n; i++)
		if (x->axis[EXP_HEAD_DIM].v[i] < in->kind->min_head_dim)
			return bad(c, n, "input '%s' needs head_dim of at least %d, not %lld",
				   in->label, in->kind->min_head_dim, x->axis[EXP_HEAD_DIM].v[i]);
	return 0;
}

static int push_input(struct ctx *c, struct experiment *x, struct exp_input *in)
{
	struct exp_input *v = realloc(x->inputs, (x->n_inputs + 1) * sizeof *v);

	if (!v) {
		inp_free(in);
		return err_set(c->e, "out of memory reading the experiment");
	}
	x->inputs = v;
	x->inputs[x->n_inputs++] = *in;
	return 0;
}

static int parse_inputs(struct ctx *c, struct experiment *x, const struct ynode *list)
{
	struct exp_input in;

	if (!list) {                    /* today's seeded noise */
		if (inp_init(&in, inp_kind_find("gaussian")))
			return err_set(c->e, "out of memory reading the experiment");
		inp_default_label(&in, in.label, sizeof in.label);
		return push_input(c, x, &in);
	}
	x->inputs_given = 1;
	if (list->type != YT_SEQ)
		return bad(c, list, "'inputs' must be a list, not %s", yt_what(list));
	if (list->n == 0)
		return bad(c, list, "'inputs' is empty");
	for (size_t i = 0; i < list->n; i++) {
		struct err e;
		memset(&in, 0, sizeof in);
		if (parse_input_item(c, list->kid[i], &in)) {
			inp_free(&in);
			return -1;
		}
		if (in.kind->open && in.kind->open(&in, &e)) {
			inp_free(&in);
			return bad(c, list->kid[i], "%s", e.msg);
		}
		if (push_input(c, x, &in) ||
		    check_input_shape(c, x, &x->inputs[x->n_inputs - 1], list->kid[i]))
			return -1;
		for (size_t j = 0; j + 1 < x->n_inputs; j++)
			if (!strcmp(x->inputs[j].label, x->inputs[i].label))
				return bad(c, list->kid[i], "input label '%s' is used twice; give one a label",
					   x->inputs[i].label);
	}
	return 0;
}

static int parse_quality(struct ctx *c, struct experiment *x, const struct ynode *m)
{
	static const char *const keys[] = { "enabled", "rows", "target" };
	struct exp_quality *q = &x->quality;
	const struct ynode *v;
	long long t;

	q->enabled = 1;
	q->rows = 256;
	q->target = 0.95;
	if (!m)
		return 0;
	if (m->type != YT_MAP)
		return bad(c, m, "'quality' must be a mapping, not %s", yt_what(m));
	if (only_keys(c, m, keys, sizeof keys / sizeof *keys, " in 'quality'"))
		return -1;
	if ((v = yt_get(m, "enabled"))) {
		if (parse_bool(c, v, "enabled", &t))
			return -1;
		q->enabled = (int)t;
	}
	if ((v = yt_get(m, "rows"))) {
		if (parse_int(c, v, "rows", 1, 1 << 24, &t))
			return -1;
		q->rows = (int)t;
	}
	if ((v = yt_get(m, "target")) && parse_float(c, v, "target", 0, 1, &q->target))
		return -1;
	return 0;
}

/* ---- kernels, run, counters ---- */

static int parse_kernels(struct ctx *c, struct experiment *x,
			 const struct ynode *list)
{
	const char *names[64];
	char buf[96];

	if (!list)
		return bad(c, NULL, "missing 'kernels'");
	if (list->type != YT_SEQ)
		return bad(c, list, "'kernels' must be a list, not %s", yt_what(list));
	if (list->n == 0)
		return bad(c, list, "'kernels' is empty");
	for (int i = 0; i < kern_count && i < 64; i++)
		names[i] = kern_table[i]->name;
	x->kern = calloc(list->n, sizeof *x->kern);
	if (!x->kern)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < list->n; i++) {
		const char *s = want_scalar(c, list->kid[i], "kernels", "a kernel name");
		if (!s)
			return -1;
		x->kern[i] = kern_find(s);
		if (!x->kern[i])
			return bad(c, list->kid[i], "unknown kernel '%s'%s", s,
				   hint(s, names, (size_t)kern_count, buf, sizeof buf));
		for (size_t j = 0; j < i; j++)
			if (x->kern[j] == x->kern[i])
				return bad(c, list->kid[i], "kernel '%s' is listed twice", s);
		x->n_kern = i + 1;
	}
	return 0;
}

static int parse_run(struct ctx *c, struct experiment *x, const struct ynode *m)
{
	static const char *const keys[] = { "warmup", "repeats", "min_time_ms",
		"verify", "verify_rows", "seed", "dump", "dump_limit_mb", "max_cells",
		"interleave" };
	static const char *const interleave_values[] = { "within_groups", "across_groups", NULL };
	struct exp_run *r = &x->run;
	const struct ynode *v;
	long long t;

	r->warmup = 1;
	r->repeats = 5;
	r->min_time_ms = 50;
	r->verify = 1;
	r->verify_rows = 64;
	r->seed = 42;
	r->dump_limit_mb = 64;
	r->max_cells = MAX_CELLS_DEFAULT;
	if (!m)
		return 0;
	if (m->type != YT_MAP)
		return bad(c, m, "'run' must be a mapping, not %s", yt_what(m));
	if (only_keys(c, m, keys, sizeof keys / sizeof *keys, " in 'run'"))
		return -1;
	if ((v = yt_get(m, "warmup"))) {
		if (parse_int(c, v, "warmup", 0, 1000, &t))
			return -1;
		r->warmup = (int)t;
	}
	if ((v = yt_get(m, "repeats"))) {
		if (parse_int(c, v, "repeats", 1, 1000000, &t))
			return -1;
		r->repeats = (int)t;
	}
	if ((v = yt_get(m, "verify_rows"))) {
		if (parse_int(c, v, "verify_rows", 1, 1 << 30, &t))
			return -1;
		r->verify_rows = (int)t;
	}
	if ((v = yt_get(m, "max_cells")) &&
	    parse_int(c, v, "max_cells", 1, 100000000, &r->max_cells))
		return -1;
	if ((v = yt_get(m, "seed"))) {
		if (parse_int(c, v, "seed", 0, LLONG_MAX, &t))
			return -1;
		r->seed = (unsigned long long)t;
	}
	if ((v = yt_get(m, "verify"))) {
		if (parse_bool(c, v, "verify", &t))
			return -1;
		r->verify = (int)t;
	}
	if ((v = yt_get(m, "min_time_ms")) &&
	    parse_float(c, v, "min_time_ms", 0, 3.6e6, &r->min_time_ms))
		return -1;
	if ((v = yt_get(m, "dump_limit_mb")) &&
	    parse_float(c, v, "dump_limit_mb", 0, 1e6, &r->dump_limit_mb))
		return -1;
	if ((v = yt_get(m, "dump")) && parse_string(c, v, "dump", &r->dump))
		return -1;
	if ((v = yt_get(m, "interleave"))) {
		const char *w = want_scalar(c, v, "interleave", "within_groups or across_groups");
		if (!w)
			return -1;
		if ((r->interleave = value_index(interleave_values, w)) < 0)
			return bad(c, v, "unknown interleave '%s'; use within_groups or across_groups", w);
	}
	return 0;
}

/* Without a counters: key, the defaults of counters.h. */
static int default_counters(struct ctx *c, struct experiment *x)
{
	const char *names[CTR_MAX];
	int n = ctr_default_names(names, CTR_MAX);

	x->counters = calloc((size_t)n, sizeof *x->counters);
	if (!x->counters)
		return err_set(c->e, "out of memory reading the experiment");
	for (int i = 0; i < n; i++) {
		x->counters[i] = strdup(names[i]);
		if (!x->counters[i])
			return err_set(c->e, "out of memory reading the experiment");
		x->n_counters = (size_t)i + 1;
	}
	return 0;
}

static int parse_counters(struct ctx *c, struct experiment *x,
			  const struct ynode *list)
{
	char why[256];

	if (!list)
		return default_counters(c, x);
	if (list->type != YT_SEQ)
		return bad(c, list, "'counters' must be a list, not %s", yt_what(list));
	x->counters = calloc(list->n ? list->n : 1, sizeof *x->counters);
	if (!x->counters)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < list->n; i++) {
		const char *s = want_scalar(c, list->kid[i], "counters", "an event name");
		if (!s)
			return -1;
		if (ctr_check_name(s, why, sizeof why))
			return bad(c, list->kid[i], "%s", why);
		for (size_t j = 0; j < i; j++)
			if (strcmp(x->counters[j], s) == 0)
				return bad(c, list->kid[i], "counter '%s' is listed twice", s);
		x->counters[i] = strdup(s);
		if (!x->counters[i])
			return err_set(c->e, "out of memory reading the experiment");
		x->n_counters = i + 1;
	}
	return 0;
}

/* kv_budget: "2 GiB", "512 MiB", "1.5 GB", or bytes. */
static int parse_budget(struct ctx *c, struct experiment *x, const struct ynode *n)
{
	static const struct { const char *unit; double scale; } units[] = {
		{ "B", 1 }, { "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
		{ "TiB", 1099511627776.0 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
	};
	const char *s;
	char *end;
	double v;

	if (!n)
		return 0;
	s = want_scalar(c, n, "kv_budget", "a size like '2 GiB'");
	if (!s)
		return -1;
	v = strtod(s, &end);
	while (*end == ' ')
		end++;
	if (end == s || !(v > 0) || !isfinite(v))
		return bad(c, n, "'kv_budget' must be a size like '2 GiB', not '%s'", s);
	if (!*end) {
		x->kv_budget = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof units / sizeof *units; i++)
		if (!strcmp(end, units[i].unit)) {
			x->kv_budget = v * units[i].scale;
			return 0;
		}
	return bad(c, n, "unknown unit '%s' in kv_budget; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB", end);
}

static long pattern_by_label(const struct experiment *x, const char *label)
{
	for (size_t i = 0; i < x->n_pat; i++)
		if (!strcmp(x->pat[i].label, label))
			return (long)i;
	return -1;
}

static int parse_layer(struct ctx *c, struct experiment *x, struct exp_model *m,
		       const struct ynode *n)
{
	static const char *const keys[] = { "count", "pattern" };
	const struct ynode *cnt, *pat;
	struct exp_layer *l;
	long long v;
	long at;

	if (n->type != YT_MAP)
		return bad(c, n, "a layer must be a mapping like {count: 5, pattern: local}, not %s",
			   yt_what(n));
	if (only_keys(c, n, keys, 2, " in a layer"))
		return -1;
	cnt = yt_get(n, "count");
	pat = yt_get(n, "pattern");
	if (!cnt || !pat)
		return bad(c, n, "a layer needs 'count' and 'pattern'");
	if (parse_int(c, cnt, "count", 1, 100000, &v) || !want_scalar(c, pat, "pattern", "a pattern label"))
		return -1;
	at = pattern_by_label(x, pat->str);
	if (at < 0)
		return bad(c, pat, "model '%s' names pattern '%s', which the patterns list lacks (use a label from it)",
			   m->name, pat->str);
	l = realloc(m->layer, (m->n_layer + 1) * sizeof *l);
	if (!l)
		return err_set(c->e, "out of memory reading the experiment");
	m->layer = l;
	l[m->n_layer].count = (long)v;
	l[m->n_layer++].pat = (size_t)at;
	return 0;
}

static int parse_model(struct ctx *c, struct experiment *x, const struct ynode *n)
{
	static const char *const keys[] = { "name", "layers", "kv_heads", "head_dim", "kv_dtype" };
	struct exp_model *m;
	const struct ynode *v;
	long long t;

	if (n->type != YT_MAP)
		return bad(c, n, "a model must be a mapping, not %s", yt_what(n));
	if (only_keys(c, n, keys, 5, " in 'model'"))
		return -1;
	m = realloc(x->models, (x->n_models + 1) * sizeof *m);
	if (!m)
		return err_set(c->e, "out of memory reading the experiment");
	x->models = m;
	m = &x->models[x->n_models++];
	memset(m, 0, sizeof *m);
	m->kv_heads = (int)(x->axis[EXP_KV_HEADS].v[0] ? x->axis[EXP_KV_HEADS].v[0]
						      : x->axis[EXP_HEADS].v[0]);
	m->head_dim = (int)x->axis[EXP_HEAD_DIM].v[0];
	m->kv_dtype = (int)x->axis[EXP_KV_DTYPE].v[0];
	if (parse_string(c, (v = yt_get(n, "name")) ? v : n, "name", &m->name))
		return -1;
	if ((v = yt_get(n, "kv_heads"))) {
		if (parse_int(c, v, "kv_heads", 1, 1 << 16, &t))
			return -1;
		m->kv_heads = (int)t;
	}
	if ((v = yt_get(n, "head_dim"))) {
		if (parse_int(c, v, "head_dim", 1, 4096, &t))
			return -1;
		m->head_dim = (int)t;
	}
	if ((v = yt_get(n, "kv_dtype"))) {
		if (parse_field_value(c, EXP_KV_DTYPE, v, &t))
			return -1;
		m->kv_dtype = (int)t;
	}
	v = yt_get(n, "layers");
	if (!v || v->type != YT_SEQ || !v->n)
		return bad(c, v ? v : n, "model '%s' needs a non-empty list of layers", m->name);
	for (size_t i = 0; i < v->n; i++)
		if (parse_layer(c, x, m, v->kid[i]))
			return -1;
	return 0;
}

/* model: one mapping or a list of them. */
static int parse_models(struct ctx *c, struct experiment *x, const struct ynode *n)
{
	if (!n)
		return 0;
	if (n->type != YT_SEQ)
		return parse_model(c, x, n);
	for (size_t i = 0; i < n->n; i++)
		if (parse_model(c, x, n->kid[i]))
			return -1;
	return 0;
}

/* run: max_cells as given (checked later by parse_run), or its default:
 * read first so that a grid too large is refused before it is built. */
static long long early_max_cells(const struct ynode *root)
{
	const struct ynode *v = yt_get(yt_get(root, "run"), "max_cells");
	char *end;
	long long n;

	if (!v || v->type != YT_SCALAR || !v->str)
		return MAX_CELLS_DEFAULT;
	n = strtoll(v->str, &end, 10);
	return *end || n < 1 ? MAX_CELLS_DEFAULT : n;
}

/* Cells each pattern variant makes: shape axes x inputs x kernels listed. */
static double grid_rest(const struct experiment *x, const struct ynode *root)
{
	const struct ynode *k = yt_get(root, "kernels");
	double cells = (double)(x->n_inputs ? x->n_inputs : 1) *
		       (double)(k && k->type == YT_SEQ && k->n ? k->n : 1);

	for (int f = 0; f < EXP_FIELD_COUNT; f++)
		cells *= (double)(x->axis[f].n ? x->axis[f].n : 1);
	return cells;
}

/* Refuses a grid larger than run: max_cells, saying how large it is. */
static int check_grid_size(struct ctx *c, const struct experiment *x,
			   const struct ynode *root)
{
	double cells = (double)x->n_pat * (double)x->n_kern * (double)x->n_inputs;

	for (int f = 0; f < EXP_FIELD_COUNT; f++)
		cells *= (double)x->axis[f].n;
	if (cells > (double)x->run.max_cells)
		return bad(c, root, "the grid has %.0f cells, more than run: max_cells %lld; sweep less or raise max_cells",
			   cells, x->run.max_cells);
	return 0;
}

/* The experiment's default name: the file's base name without .yaml. */
static char *name_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	char *name = strdup(base ? base + 1 : path), *dot;

	if (name && (dot = strrchr(name, '.')) && dot != name &&
	    (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml")))
		*dot = 0;
	return name;
}

static int check_name(struct ctx *c, const struct ynode *n, const char *name)
{
	if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") != strlen(name))
		return bad(c, n, "name '%s' must use only letters, digits, '.', '_' and '-'",
			   name);
	return 0;
}

static int parse_root(struct ctx *c, struct experiment *x,
		      const struct ynode *root)
{
	static const char *const keys[] = { "name", "description", "shape",
		"sweep", "inputs", "patterns", "kernels", "run", "counters", "kv_budget",
		"model", "quality" };
	const struct ynode *v;

	if (root->type != YT_MAP)
		return bad(c, root, "an experiment must be a mapping of keys, not %s",
			   yt_what(root));
	if (only_keys(c, root, keys, sizeof keys / sizeof *keys, ""))
		return -1;
	if ((v = yt_get(root, "name")) && parse_string(c, v, "name", &x->name))
		return -1;
	if (!x->name && !(x->name = name_from_path(c->file)))
		return err_set(c->e, "out of memory reading the experiment");
	if (check_name(c, v ? v : root, x->name))
		return -1;
	if ((v = yt_get(root, "description")) &&
	    parse_string(c, v, "description", &x->description))
		return -1;
	if (parse_axes(c, x, yt_get(root, "shape"), 0) ||
	    parse_axes(c, x, yt_get(root, "sweep"), 1) ||
	    default_axes(c, x, root) || check_gqa(c, x) || check_decode(c, x))
		return -1;
	if (parse_inputs(c, x, yt_get(root, "inputs")) ||
	    parse_quality(c, x, yt_get(root, "quality")) ||
	    parse_patterns(c, x, root, yt_get(root, "patterns"), grid_rest(x, root),
			   early_max_cells(root)) ||
	    parse_kernels(c, x, yt_get(root, "kernels")) ||
	    parse_run(c, x, yt_get(root, "run")) ||
	    parse_counters(c, x, yt_get(root, "counters")) ||
	    parse_budget(c, x, yt_get(root, "kv_budget")) ||
	    parse_models(c, x, yt_get(root, "model")))
		return -1;
	return check_grid_size(c, x, root);
}

/* Validates the parsed document root (owned by the caller) into x. */
static int load_root(const char *path, struct ynode *root, struct experiment *x,
		     struct err *e)
{
	struct ctx c = { .file = path, .e = e };
	int rc;

	if (!root)
		return err_at(e, path, 1, 1, "experiment file is empty");
	x->path = strdup(path);
	rc = x->path ? parse_root(&c, x, root) : err_set(e, "out of memory reading the experiment");
	if (rc)
		exp_free(x);
	return rc;
}

int exp_load(const char *path, struct experiment *x, struct err *e)
{
	struct ynode *root;
	int rc;

	memset(x, 0, sizeof *x);
	if (yt_load_file(path, &root, e))
		return -1;
	rc = load_root(path, root, x, e);
	yt_free(root);
	return rc;
}

int exp_load_string(const char *name, const char *text, struct experiment *x,
		    struct err *e)
{
	struct ynode *root;
	int rc;

	memset(x, 0, sizeof *x);
	if (yt_load_string(name, text, &root, e))
		return -1;
	rc = load_root(name, root, x, e);
	yt_free(root);
	return rc;
}

void exp_free(struct experiment *x)
{
	for (int f = 0; f < EXP_FIELD_COUNT; f++)
		free(x->axis[f].v);
	for (size_t i = 0; i < x->n_pat; i++)
		pat_free(&x->pat[i]);
	for (size_t i = 0; i < x->n_inputs; i++)
		inp_free(&x->inputs[i]);
	free(x->inputs);
	free(x->heads_used.v);
	for (size_t i = 0; i < x->n_counters; i++)
		free(x->counters[i]);
	free(x->counters);
	for (size_t i = 0; i < x->n_models; i++) {
		free(x->models[i].name);
		free(x->models[i].layer);
	}
	free(x->models);
	free(x->scores);
	free(x->pat);
	free(x->kern);
	free(x->run.dump);
	free(x->name);
	free(x->description);
	free(x->path);
	memset(x, 0, sizeof *x);
}

int exp_parse_spec(const char *spec, int causal, struct pattern *p,
		   struct err *e)
{
	struct ctx c = { .file = "<spec>", .e = e };
	struct experiment x = { 0 };
	long long cv = causal;
	struct exp_axis axis = { .v = &cv, .n = 1 };
	struct ynode *root;
	struct pat_item it;
	int rc;

	if (yt_load_string("<spec>", spec, &root, e))
		return -1;
	if (!root)
		return err_at(e, "<spec>", 1, 1, "pattern spec is empty");
	rc = parse_pattern_item(&c, root, &it);
	if (!rc)
		rc = expand(&c, &x, &it, &it.base, 0, &axis, NULL);
	if (!rc && x.n_pat != 1)
		rc = bad(&c, root, "pattern spec sweeps %zu variants; give one value per parameter",
			 x.n_pat);
	if (!rc)
		rc = pat_copy(p, &x.pat[0]) ? err_set(e, "out of memory reading the experiment") : 0;
	pat_free(&it.base);
	yt_free(root);
	exp_free(&x);
	return rc;
}

int exp_parse_input(const char *spec, struct exp_input *in, struct err *e)
{
	struct ctx c = { .file = "<spec>", .e = e };
	struct ynode *root;
	struct err oe;
	int rc;

	memset(in, 0, sizeof *in);
	if (yt_load_string("<spec>", spec, &root, e))
		return -1;
	if (!root)
		return err_at(e, "<spec>", 1, 1, "input spec is empty");
	rc = parse_input_item(&c, root, in);
	if (!rc && in->kind->open && in->kind->open(in, &oe))
		rc = err_set(e, "%s", oe.msg);
	if (rc)
		inp_free(in);
	yt_free(root);
	return rc;
}
