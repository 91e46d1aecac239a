/* experiment.c - experiment files: YAML (through ytree) to a validated
 * struct experiment. Every key is checked; every error names the file,
 * line and column and nothing runs. This file holds the document's root,
 * the kernels, run, counters, kv_budget and model blocks, and the entry
 * points; shape.c, patterns.c and inputs.c the other sections (parse.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../counters.h"
#include "experiment.h"
#include "parse.h"
#include "ytree.h"

#define MAX_CELLS_DEFAULT 100000        /* run: max_cells unless given */

static int parse_kernels(struct ctx *c, struct experiment *x,
			 const struct ynode *list)
{
	const char *names[64];
	char buf[96];

	if (!list)
		return cfg_bad(c, NULL, "missing 'kernels'");
	if (list->type != YT_SEQ)
		return cfg_bad(c, list, "'kernels' must be a list, not %s", yt_what(list));
	if (list->n == 0)
		return cfg_bad(c, list, "'kernels' is empty");
	for (int i = 0; i < kern_count && i < 64; i++)
		names[i] = kern_table[i]->name;
	x->kern = calloc(list->n, sizeof *x->kern);
	if (!x->kern)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < list->n; i++) {
		const char *s = cfg_want_scalar(c, list->kid[i], "kernels", "a kernel name");
		if (!s)
			return -1;
		x->kern[i] = kern_find(s);
		if (!x->kern[i])
			return cfg_bad(c, list->kid[i], "unknown kernel '%s'%s", s,
				   cfg_hint(s, names, (size_t)kern_count, buf, sizeof buf));
		for (size_t j = 0; j < i; j++)
			if (x->kern[j] == x->kern[i])
				return cfg_bad(c, list->kid[i], "kernel '%s' is listed twice", s);
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
		return cfg_bad(c, m, "'run' must be a mapping, not %s", yt_what(m));
	if (cfg_only_keys(c, m, keys, sizeof keys / sizeof *keys, " in 'run'"))
		return -1;
	if ((v = yt_get(m, "warmup"))) {
		if (cfg_parse_int(c, v, "warmup", 0, 1000, &t))
			return -1;
		r->warmup = (int)t;
	}
	if ((v = yt_get(m, "repeats"))) {
		if (cfg_parse_int(c, v, "repeats", 1, 1000000, &t))
			return -1;
		r->repeats = (int)t;
	}
	if ((v = yt_get(m, "verify_rows"))) {
		if (cfg_parse_int(c, v, "verify_rows", 1, 1 << 30, &t))
			return -1;
		r->verify_rows = (int)t;
	}
	if ((v = yt_get(m, "max_cells")) &&
	    cfg_parse_int(c, v, "max_cells", 1, 100000000, &r->max_cells))
		return -1;
	if ((v = yt_get(m, "seed"))) {
		if (cfg_parse_int(c, v, "seed", 0, LLONG_MAX, &t))
			return -1;
		r->seed = (unsigned long long)t;
	}
	if ((v = yt_get(m, "verify"))) {
		if (cfg_parse_bool(c, v, "verify", &t))
			return -1;
		r->verify = (int)t;
	}
	if ((v = yt_get(m, "min_time_ms")) &&
	    cfg_parse_float(c, v, "min_time_ms", 0, 3.6e6, &r->min_time_ms))
		return -1;
	if ((v = yt_get(m, "dump_limit_mb")) &&
	    cfg_parse_float(c, v, "dump_limit_mb", 0, 1e6, &r->dump_limit_mb))
		return -1;
	if ((v = yt_get(m, "dump")) && cfg_parse_string(c, v, "dump", &r->dump))
		return -1;
	if ((v = yt_get(m, "interleave"))) {
		const char *w = cfg_want_scalar(c, v, "interleave", "within_groups or across_groups");
		if (!w)
			return -1;
		if ((r->interleave = cfg_value_index(interleave_values, w)) < 0)
			return cfg_bad(c, v, "unknown interleave '%s'; use within_groups or across_groups", w);
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
		return cfg_bad(c, list, "'counters' must be a list, not %s", yt_what(list));
	x->counters = calloc(list->n ? list->n : 1, sizeof *x->counters);
	if (!x->counters)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < list->n; i++) {
		const char *s = cfg_want_scalar(c, list->kid[i], "counters", "an event name");
		if (!s)
			return -1;
		if (ctr_check_name(s, why, sizeof why))
			return cfg_bad(c, list->kid[i], "%s", why);
		for (size_t j = 0; j < i; j++)
			if (strcmp(x->counters[j], s) == 0)
				return cfg_bad(c, list->kid[i], "counter '%s' is listed twice", s);
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
	return n ? cfg_parse_size(c, n, "kv_budget", &x->kv_budget) : 0;
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
		return cfg_bad(c, n, "a layer must be a mapping like {count: 5, pattern: local}, not %s",
			   yt_what(n));
	if (cfg_only_keys(c, n, keys, 2, " in a layer"))
		return -1;
	cnt = yt_get(n, "count");
	pat = yt_get(n, "pattern");
	if (!cnt || !pat)
		return cfg_bad(c, n, "a layer needs 'count' and 'pattern'");
	if (cfg_parse_int(c, cnt, "count", 1, 100000, &v) || !cfg_want_scalar(c, pat, "pattern", "a pattern label"))
		return -1;
	at = cfg_pattern_by_label(x, pat->str);
	if (at < 0)
		return cfg_bad(c, pat, "model '%s' names pattern '%s', which the patterns list lacks (use a label from it)",
			   m->name, pat->str);
	l = realloc(m->layer, (m->n_layer + 1) * sizeof *l);
	if (!l)
		return err_set(c->e, "out of memory reading the experiment");
	m->layer = l;
	l[m->n_layer].count = (long)v;
	l[m->n_layer++].pat = (size_t)at;
	return 0;
}

/* A model's K and V rows fit every cache type it may be costed in: its
 * own kv_dtype (KIVI at the model's group) and the run's. */
static int check_model_widths(struct ctx *c, const struct experiment *x,
			      const struct exp_model *m, const struct ynode *n)
{
	const int width[2] = { m->head_dim, m->head_dim_v };
	const char *field[2] = { "head_dim", "head_dim_v" };
	const struct dtype_desc *dt = dtype_of((enum dtype)m->kv_dtype);
	char why[200];

	for (int f = 0; f < 2; f++) {
		int unit = dtype_width_unit((enum dtype)m->kv_dtype, EXP_MODEL_KIVI_GROUP);
		if (width[f] % unit)
			return cfg_bad(c, n, "model '%s': %s %d is not a multiple of %d, the %s of kv_dtype '%s'",
				       m->name, field[f], width[f], unit,
				       dt->block ? "block" : "KIVI group", dt->name);
		if (cfg_kv_width_fits(x, field[f], width[f], why, sizeof why))
			return cfg_bad(c, n, "model '%s': %s", m->name, why);
	}
	return 0;
}

/* The report sums a chunked prefill at every context the run measures:
 * the longest must be a bounded number of chunks. */
static int check_model_chunks(struct ctx *c, const struct experiment *x,
			      const struct exp_model *m, const struct ynode *v)
{
	const struct exp_axis *n = &x->axis[EXP_SEQ_LEN];

	for (size_t i = 0; i < n->n; i++)
		if (exp_prefill_chunks((long)n->v[i], m->prefill_chunk) > EXP_MAX_PREFILL_CHUNKS)
			return cfg_bad(c, v, "model '%s': seq_len %lld is %ld chunks of prefill_chunk %ld; time to first token sums at most %ld (raise prefill_chunk)",
				       m->name, n->v[i], exp_prefill_chunks((long)n->v[i], m->prefill_chunk),
				       m->prefill_chunk, EXP_MAX_PREFILL_CHUNKS);
	return 0;
}

static int parse_model(struct ctx *c, struct experiment *x, const struct ynode *n)
{
	static const char *const keys[] = { "name", "layers", "kv_heads", "head_dim", "head_dim_v",
					    "kv_latent", "kv_dtype", "serving", "prefill_chunk" };
	struct exp_model *m;
	const struct ynode *v;
	long long t;

	if (n->type != YT_MAP)
		return cfg_bad(c, n, "a model must be a mapping, not %s", yt_what(n));
	if (cfg_only_keys(c, n, keys, sizeof keys / sizeof *keys, " in 'model'"))
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
	m->head_dim_v = (int)x->axis[EXP_HEAD_DIM_V].v[0];
	m->kv_dtype = (int)x->axis[EXP_KV_DTYPE].v[0];
	if (!(v = yt_get(n, "name")))
		return cfg_bad(c, n, "a model needs 'name', which a review names it by");
	if (cfg_parse_string(c, v, "name", &m->name))
		return -1;
	for (size_t i = 0; i + 1 < x->n_models; i++)
		if (!strcmp(x->models[i].name, m->name))
			return cfg_bad(c, v, "model '%s' is named twice; a review names a model by its name",
				       m->name);
	if ((v = yt_get(n, "kv_heads"))) {
		if (cfg_parse_int(c, v, "kv_heads", 1, 1 << 16, &t))
			return -1;
		m->kv_heads = (int)t;
	}
	if ((v = yt_get(n, "head_dim"))) {
		if (cfg_parse_int(c, v, "head_dim", 1, 4096, &t))
			return -1;
		m->head_dim = (int)t;
		m->head_dim_v = 0;      /* follows it unless given */
	}
	if ((v = yt_get(n, "head_dim_v"))) {
		if (cfg_parse_int(c, v, "head_dim_v", 1, 4096, &t))
			return -1;
		m->head_dim_v = (int)t;
	}
	if (!m->head_dim_v)
		m->head_dim_v = m->head_dim;
	if ((v = yt_get(n, "kv_latent"))) {
		if (cfg_parse_bool(c, v, "kv_latent", &t))
			return -1;
		m->kv_latent = (int)t;
		if (t && m->head_dim_v > m->head_dim)
			return cfg_bad(c, v, "kv_latent needs head_dim_v %d within head_dim %d: V is read from the latent's first head_dim_v values",
				       m->head_dim_v, m->head_dim);
	}
	if ((v = yt_get(n, "kv_dtype"))) {
		if (cfg_parse_field_value(c, EXP_KV_DTYPE, v, &t))
			return -1;
		m->kv_dtype = (int)t;
	}
	if ((v = yt_get(n, "serving")) && cfg_parse_serving(c, v, m->name, &m->serving))
		return -1;
	if ((v = yt_get(n, "prefill_chunk"))) {
		if (cfg_parse_int(c, v, "prefill_chunk", 1, 1 << 30, &t))
			return -1;
		m->prefill_chunk = (long)t;
		if (check_model_chunks(c, x, m, v))
			return -1;
	}
	if (check_model_widths(c, x, m, n))
		return -1;
	v = yt_get(n, "layers");
	if (!v || v->type != YT_SEQ || !v->n)
		return cfg_bad(c, v ? v : n, "model '%s' needs a non-empty list of layers", m->name);
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
		return cfg_bad(c, root, "the grid has %.0f cells, more than run: max_cells %lld; sweep less or raise max_cells",
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
		return cfg_bad(c, n, "name '%s' must use only letters, digits, '.', '_' and '-'",
			   name);
	return 0;
}

static int parse_root(struct ctx *c, struct experiment *x,
		      const struct ynode *root)
{
	static const char *const keys[] = { "name", "description", "shape",
		"sweep", "inputs", "patterns", "kernels", "run", "counters", "kv_budget",
		"model", "quality", "review", "e2e" };
	const struct ynode *v;

	if (root->type != YT_MAP)
		return cfg_bad(c, root, "an experiment must be a mapping of keys, not %s",
			   yt_what(root));
	if (cfg_only_keys(c, root, keys, sizeof keys / sizeof *keys, ""))
		return -1;
	if ((v = yt_get(root, "name")) && cfg_parse_string(c, v, "name", &x->name))
		return -1;
	if (!x->name && !(x->name = name_from_path(c->file)))
		return err_set(c->e, "out of memory reading the experiment");
	if (check_name(c, v ? v : root, x->name))
		return -1;
	if ((v = yt_get(root, "description")) &&
	    cfg_parse_string(c, v, "description", &x->description))
		return -1;
	if (cfg_parse_axes(c, x, yt_get(root, "shape"), 0) ||
	    cfg_parse_axes(c, x, yt_get(root, "sweep"), 1) ||
	    cfg_default_axes(c, x, root) || cfg_check_gqa(c, x) || cfg_check_decode(c, x) ||
	    cfg_check_kv_types(c, x) || cfg_check_batches(c, x))
		return -1;
	if (cfg_parse_inputs(c, x, yt_get(root, "inputs")) ||
	    cfg_parse_quality(c, x, yt_get(root, "quality")) ||
	    cfg_parse_patterns(c, x, root, yt_get(root, "patterns"), grid_rest(x, root),
			   early_max_cells(root)) ||
	    parse_kernels(c, x, yt_get(root, "kernels")) ||
	    parse_run(c, x, yt_get(root, "run")) ||
	    parse_counters(c, x, yt_get(root, "counters")) ||
	    parse_budget(c, x, yt_get(root, "kv_budget")) ||
	    parse_models(c, x, yt_get(root, "model")) ||
	    cfg_parse_e2e(c, x, yt_get(root, "e2e")) ||
	    cfg_parse_review(c, x, yt_get(root, "review")))
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
	cfg_free_e2e(&x->e2e);
	free(x->review.model);
	free(x->review.inputs);
	for (size_t i = 0; i < x->n_batches; i++) {
		free(x->batches[i].len);
		free(x->batches[i].new_tokens);
	}
	free(x->batches);
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
	rc = cfg_parse_pattern_item(&c, root, &it);
	if (!rc)
		rc = cfg_expand(&c, &x, &it, &it.base, 0, &axis, NULL);
	if (!rc && x.n_pat != 1)
		rc = cfg_bad(&c, root, "pattern spec sweeps %zu variants; give one value per parameter",
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
	rc = cfg_parse_input_item(&c, root, in);
	if (!rc && in->kind->open && in->kind->open(in, &oe))
		rc = err_set(e, "%s", oe.msg);
	if (rc)
		inp_free(in);
	yt_free(root);
	return rc;
}
