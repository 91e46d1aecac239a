/* shape.c - the shape fields (fixed under shape:, swept under sweep:),
 * their vocabularies and defaults, the GQA and decode checks, and the
 * score functions, a shape field whose values are functions. */
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../kernels/kvcache.h"
#include "experiment.h"
#include "parse.h"
#include "ytree.h"


const struct exp_field_desc exp_fields[] = {
	[EXP_SEQ_LEN]  = { "seq_len", 1, 1 << 30, "sequence length n (keys)" },
	[EXP_HEAD_DIM] = { "head_dim", 1, 4096, "head dimension d (of Q and K)" },
	[EXP_HEAD_DIM_V] = { "head_dim_v", 1, 4096, "V's and the output's head dimension; default head_dim "
			     "(MLA: 128 against 192 in prefill, 512 of a 576 latent in absorbed decode)" },
	[EXP_BATCH]    = { "batch", 1, 1 << 20, "sequences per run" },
	[EXP_HEADS]    = { "heads", 1, 1 << 16, "query heads" },
	[EXP_KV_HEADS] = { "kv_heads", 1, 1 << 16, "K/V heads, dividing heads (GQA); default heads" },
	[EXP_THREADS]  = { "threads", 1, 1024, "OpenMP threads; default all cores" },
	[EXP_CAUSAL]   = { "causal", 0, 1, "true: query i sees keys j <= i only" },
	[EXP_DTYPE]    = { "dtype", 0, DT_COUNT - 1, "element type of Q, K, V: f32, or bf16 (fp32 scores and softmax, P in bf16 for P V)" },
	[EXP_MODE]     = { "mode", 0, EXP_MODE_COUNT - 1, "prefill (all queries), decode (the last decode_steps tokens, one by one) "
			   "or extend (the last extend_tokens tokens as one chunk over the cache of those before)" },
	[EXP_DECODE_STEPS] = { "decode_steps", 1, 1 << 20, "tokens a decode cell appends and attends, timed together" },
	[EXP_EXTEND_TOKENS] = { "extend_tokens", 1, 1 << 30, "extend: tokens appended as one chunk and attended causally over "
				"the cache and each other (chunked prefill, speculative verification, a new turn)" },
	[EXP_KV_LAYOUT] = { "kv_layout", 0, EXP_KV_AUTO, "decode cache: auto, full, ring, sink_ring or paged" },
	[EXP_KV_DTYPE] = { "kv_dtype", 0, DT_COUNT - 1, "decode cache type: f32, f16, bf16, q8_0, q4_0, kivi2, kivi4, fp8_e4m3 or fp8_e5m2" },
	[EXP_KV_GROUP] = { "kv_group", 16, 64, "KIVI: tokens a key scale covers and channels a value scale covers: 16, 32 or 64" },
	[EXP_KV_RESIDUAL] = { "kv_residual", 0, 1 << 20, "KIVI: the newest tokens kept in f16 until their keys make a group" },
	[EXP_SCORE] = { "score", 0, 0, "score function: plain, {scale: {value}}, alibi, {softcap: {cap}}, "
			"{relative_bias: {buckets, max_distance, seed}}" },
	[EXP_LENGTHS] = { "lengths", 0, 0, "a ragged batch (decode, extend): [512, 8192, 32768], {lengths: [...], new: [1, 1, 512]}, "
			  "or {distribution: lognormal|uniform, count, median, sigma, min, max, seed, new}" },
};

static_assert(sizeof exp_fields / sizeof *exp_fields == EXP_FIELD_COUNT,
	      "exp_fields: one per enum exp_field");

static const char *const mode_values[] = {
	[EXP_PREFILL] = "prefill", [EXP_DECODE] = "decode", [EXP_EXTEND] = "extend", NULL,
};
static_assert(sizeof mode_values / sizeof *mode_values == EXP_MODE_COUNT + 1,
	      "mode_values: one per enum exp_mode, then NULL");

long exp_n_q(const long long *v)
{
	int f = exp_mode_of(v[EXP_MODE])->tokens;

	return f < 0 ? (long)v[EXP_SEQ_LEN] : (long)v[f];
}


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

static int field_index(const char *name)
{
	for (int f = 0; f < EXP_FIELD_COUNT; f++)
		if (strcmp(exp_fields[f].name, name) == 0)
			return f;
	return -1;
}

int cfg_parse_field_value(struct ctx *c, int f, const struct ynode *n,
			     long long *out)
{
	const struct exp_field_desc *d = &exp_fields[f];
	const char *s;

	if (f == EXP_CAUSAL)
		return cfg_parse_bool(c, n, d->name, out);
	if (exp_field_values((enum exp_field)f)) {
		const char *const *names = exp_field_values((enum exp_field)f);
		s = cfg_want_scalar(c, n, d->name, "a name");
		if (!s)
			return -1;
		if (f == EXP_KV_LAYOUT && !strcmp(s, "auto")) {
			*out = EXP_KV_AUTO;
			return 0;
		}
		if (cfg_value_index(names, s) < 0)
			return cfg_bad(c, n, "unknown %s '%s'", d->name, s);
		*out = cfg_value_index(names, s);
		return 0;
	}
	if (f != EXP_DTYPE)
		return cfg_parse_int(c, n, d->name, d->min, d->max, out);
	s = cfg_want_scalar(c, n, d->name, "a type name");
	if (!s)
		return -1;
	if (dtype_find(s) >= 0 && dtype_of((enum dtype)dtype_find(s))->operand) {
		*out = dtype_find(s);
		return 0;
	}
	/* a storage type of the cache only, or one a model may have */
	if (dtype_find(s) >= 0 || !strcmp(s, "f64"))
		return cfg_bad(c, n, "dtype '%s' is not supported yet; use %s", s, operand_names());
	return cfg_bad(c, n, "unknown dtype '%s'", s);
}

/* How many values param node v gives (a list sweeps), and the i-th. */
static size_t param_count(const struct ynode *v)
{
	return v && v->type == YT_SEQ ? v->n : 1;
}

static const struct ynode *param_at(const struct ynode *v, size_t i)
{
	return v && v->type == YT_SEQ ? v->kid[i] : v;
}

/* Parameter i of score kind k from node n (absent: the default stays)
 * into s, through the kind's parameter table. */
static int score_param(struct ctx *c, const struct score_kind_desc *k, int i, struct score_spec *s,
		       const struct ynode *n)
{
	const struct pat_param *d = &k->params[i];
	char *at = (char *)s + k->field[i];
	union pat_value v = { 0 };

	if (!n)
		return 0;
	if (cfg_parse_value(c, n, d, &v))
		return -1;
	if (d->type == PAT_FLOAT)
		*(double *)at = v.f;
	else
		*(long long *)at = v.i;
	return 0;
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
			return cfg_bad(c, at, "score '%s' is listed twice", s->label);
	x->scores[x->n_scores] = *s;
	a->v[a->n++] = (long long)x->n_scores++;
	return 0;
}

/* One score entry: a kind name, or {kind: {parameters}} whose lists sweep;
 * every combination is appended to axis a. */
static int parse_score(struct ctx *c, struct experiment *x, struct exp_axis *a,
		       const struct ynode *n)
{
	const struct ynode *name = n, *params = NULL, *val[PAT_MAX_PARAMS] = { NULL };
	const char *names[PAT_MAX_PARAMS];
	const struct score_kind_desc *k;
	size_t total = 1, cnt[PAT_MAX_PARAMS], np;
	char buf[96], where[64], why[200];
	int kind;

	if (n->type == YT_MAP && n->n == 2) {
		name = n->kid[0];
		params = n->kid[1];
	} else if (n->type != YT_SCALAR) {
		return cfg_bad(c, n, "'score' must be a kind or {kind: {parameters}}, not %s", yt_what(n));
	}
	kind = score_kind_find(name->str);
	if (kind < 0) {
		const char *kinds[SCORE_KIND_COUNT];
		for (int i = 0; i < SCORE_KIND_COUNT; i++)
			kinds[i] = score_kind_name((enum score_kind)i);
		return cfg_bad(c, name, "unknown score '%s'%s", name->str,
			   cfg_hint(name->str, kinds, SCORE_KIND_COUNT, buf, sizeof buf));
	}
	if (params && params->type == YT_SCALAR && params->str[0] == '\0')
		params = NULL;          /* `alibi:` with nothing after it */
	if (params && params->type != YT_MAP)
		return cfg_bad(c, params, "parameters of score '%s' must be a mapping, not %s",
			   name->str, yt_what(params));
	k = score_kind_of((enum score_kind)kind);
	np = (size_t)k->n_params;
	for (size_t i = 0; i < np; i++)
		names[i] = k->params[i].name;
	snprintf(where, sizeof where, " in score '%s'", name->str);
	if (params && cfg_only_keys(c, params, names, np, where))
		return -1;
	for (size_t i = 0; i < np; i++) {
		val[i] = params ? yt_get(params, names[i]) : NULL;
		if (!val[i] && k->params[i].required)
			return cfg_bad(c, name, "score '%s' needs '%s'", k->name, names[i]);
		cnt[i] = param_count(val[i]);
		total *= cnt[i];
	}
	/* every combination of the lists, the last parameter fastest */
	for (size_t t = 0; t < total; t++) {
		struct score_spec s = { .kind = (enum score_kind)kind };
		size_t rest = t, at[PAT_MAX_PARAMS];
		int blame;
		score_defaults(&s);
		for (size_t i = np; i-- > 0; rest /= cnt[i]) {
			at[i] = rest % cnt[i];
			if (score_param(c, k, (int)i, &s, param_at(val[i], at[i])))
				return -1;
		}
		if (k->check && (blame = k->check(&s, why, sizeof why)) >= 0)
			return cfg_bad(c, val[blame] ? param_at(val[blame], at[blame]) : name, "%s", why);
		score_make_label(&s);
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
		return cfg_bad(c, val, "'score' under shape is one function, not a list; list several under sweep");
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
		return cfg_bad(c, key, "'%s' is both fixed under shape and swept under sweep",
			   key->str);
	if (swept && val->type != YT_SEQ)
		return cfg_bad(c, val, "sweep '%s' must be a list, not %s", key->str,
			   yt_what(val));
	if (swept && val->n == 0)
		return cfg_bad(c, val, "sweep '%s' is empty", key->str);
	if (f == EXP_SCORE) {
		a->line = key->line;
		a->col = key->col;
		return set_score_axis(c, x, val, swept);
	}
	if (f == EXP_LENGTHS) {
		a->line = key->line;
		a->col = key->col;
		return cfg_set_lengths_axis(c, x, val, swept);
	}
	a->v = calloc(n, sizeof *a->v);
	if (!a->v)
		return err_set(c->e, "out of memory reading the experiment");
	a->n = n;
	a->line = key->line;
	a->col = key->col;
	for (size_t i = 0; i < n; i++)
		if (cfg_parse_field_value(c, f, swept ? val->kid[i] : val, &a->v[i]))
			return -1;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (a->v[i] == a->v[j])
				return cfg_bad(c, val->kid[i], "sweep '%s' lists %lld twice",
					   key->str, a->v[i]);
	return 0;
}

int cfg_parse_axes(struct ctx *c, struct experiment *x,
		      const struct ynode *map, int swept)
{
	const char *section = swept ? "sweep" : "shape";
	const char *names[EXP_FIELD_COUNT];
	char buf[96];

	if (!map)
		return 0;
	if (map->type != YT_MAP)
		return cfg_bad(c, map, "'%s' must be a mapping, not %s", section,
			   yt_what(map));
	for (int f = 0; f < EXP_FIELD_COUNT; f++)
		names[f] = exp_fields[f].name;
	for (size_t i = 0; i < map->n; i += 2) {
		const struct ynode *k = map->kid[i];
		int f = field_index(k->str);
		if (f < 0)
			return cfg_bad(c, k, "unknown key '%s' in '%s'%s", k->str, section,
				   cfg_hint(k->str, names, EXP_FIELD_COUNT, buf, sizeof buf));
		if (set_axis(c, x, f, k, map->kid[i + 1], swept))
			return -1;
	}
	return 0;
}

/* Fills axes the file left out with their defaults. */
int cfg_default_axes(struct ctx *c, struct experiment *x,
			const struct ynode *root)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	long long def[EXP_FIELD_COUNT] = {
		[EXP_HEAD_DIM] = 64, [EXP_HEAD_DIM_V] = 0, [EXP_BATCH] = 1, [EXP_HEADS] = 8,
		[EXP_KV_HEADS] = 0, [EXP_THREADS] = cores > 0 ? cores : 1,
		[EXP_CAUSAL] = 1, [EXP_DTYPE] = DT_F32, [EXP_MODE] = EXP_PREFILL,
		[EXP_DECODE_STEPS] = 1, [EXP_EXTEND_TOKENS] = 512, [EXP_KV_LAYOUT] = EXP_KV_AUTO, [EXP_KV_DTYPE] = DT_F32,
		[EXP_KV_GROUP] = 32, [EXP_KV_RESIDUAL] = 128,   /* KIVI's main setting */
	};

	if (!x->axis[EXP_SEQ_LEN].n && x->n_batches) {
		long longest = 0;   /* ragged cells: the row's seq_len is their longest sequence */
		for (size_t i = 0; i < x->n_batches; i++)
			for (long s = 0; s < x->batches[i].n; s++)
				longest = x->batches[i].len[s] > longest ? x->batches[i].len[s] : longest;
		x->axis[EXP_SEQ_LEN].v = malloc(sizeof *x->axis[EXP_SEQ_LEN].v);
		if (!x->axis[EXP_SEQ_LEN].v)
			return err_set(c->e, "out of memory reading the experiment");
		x->axis[EXP_SEQ_LEN].v[0] = longest;
		x->axis[EXP_SEQ_LEN].n = 1;
	}
	if (!x->axis[EXP_SEQ_LEN].n)
		return cfg_bad(c, root, "missing 'seq_len' under shape or sweep");
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

/* A decode or extend cell times at most seq_len tokens (a ragged
 * batch's sequences cap their own). */
int cfg_check_decode(struct ctx *c, struct experiment *x)
{
	const struct exp_axis *m = &x->axis[EXP_MODE], *n = &x->axis[EXP_SEQ_LEN];

	for (size_t k = 0; !x->n_batches && k < m->n; k++) {
		int f = exp_mode_of(m->v[k])->tokens;
		const struct exp_axis *t = f < 0 ? NULL : &x->axis[f];
		for (size_t i = 0; t && i < t->n; i++)
			for (size_t j = 0; j < n->n; j++) {
				if (t->v[i] <= n->v[j])
					continue;
				if (!t->line)   /* the file did not set it: say it is a default */
					return err_at(c->e, c->file, m->line ? m->line : 1, m->col ? m->col : 1,
						      "mode %s takes %s new tokens, %lld unless set, more than seq_len %lld; set %s",
						      exp_mode_of(m->v[k])->name, exp_fields[f].name, t->v[i],
						      n->v[j], exp_fields[f].name);
				return err_at(c->e, c->file, t->line, t->col ? t->col : 1,
					      "%s %lld is more than seq_len %lld",
					      exp_fields[f].name, t->v[i], n->v[j]);
			}
	}
	return 0;
}

/* 0 when every cache type and KIVI group of x can hold rows of width
 * values; else -1 and why (of room len) says which cannot. */
int cfg_kv_width_fits(const struct experiment *x, const char *field, long long width,
		      char *why, size_t len)
{
	const struct exp_axis *t = &x->axis[EXP_KV_DTYPE], *g = &x->axis[EXP_KV_GROUP];

	for (size_t i = 0; i < t->n; i++) {
		const struct dtype_desc *dt = dtype_of((enum dtype)t->v[i]);
		for (size_t k = 0; k < (dt->form == DT_FORM_KIVI ? g->n : 1); k++) {
			long long unit = dtype_width_unit((enum dtype)t->v[i], (int)g->v[k]);
			if (width % unit) {
				snprintf(why, len, "%s %lld is not a multiple of %lld, the %s of kv_dtype '%s'",
					 field, width, unit, dt->block ? "block" : "kv_group", dt->name);
				return -1;
			}
		}
	}
	return 0;
}

/* Every cache type can hold every head_dim of the run: a block format
 * whole blocks, KIVI whole value groups of kv_group channels; kv_group
 * divides a page. */
int cfg_check_kv_types(struct ctx *c, struct experiment *x)
{
	static const enum exp_field dims[] = { EXP_HEAD_DIM, EXP_HEAD_DIM_V };
	const struct exp_axis *t = &x->axis[EXP_KV_DTYPE], *g = &x->axis[EXP_KV_GROUP];
	char why[200];

	for (size_t i = 0; i < t->n; i++)
		for (size_t j = 0; dtype_of((enum dtype)t->v[i])->form == DT_FORM_KIVI && j < g->n; j++)
			if (g->v[j] != 16 && g->v[j] != 32 && g->v[j] != 64)
				return err_at(c->e, c->file, g->line ? g->line : 1, g->col ? g->col : 1,
					      "kv_group %lld is not 16, 32 or 64 (a KIVI group divides a page of %d rows)",
					      g->v[j], KV_PAGE_ROWS);
	for (size_t f = 0; f < sizeof dims / sizeof *dims; f++) {
		const struct exp_axis *d = &x->axis[dims[f]];
		for (size_t j = 0; j < d->n; j++)
			if (cfg_kv_width_fits(x, exp_fields[dims[f]].name, d->v[j], why, sizeof why))
				return err_at(c->e, c->file, t->line ? t->line : 1, t->col ? t->col : 1,
					      "%s", why);
	}
	return 0;
}

/* kv_heads must divide heads in every combination. */
int cfg_check_gqa(struct ctx *c, struct experiment *x)
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
