/* patterns.c - the experiment's patterns: list items, parameter lists
 * expanded into labelled variants (counted before they are made), each
 * checked against the seq_len and heads it will meet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../npy.h"
#include "experiment.h"
#include "parse.h"
#include "ytree.h"


/* Reads a list-typed parameter value. */
static int parse_int_list(struct ctx *c, const struct ynode *n,
			  const struct pat_param *d, struct pat_list *out)
{
	if (n->type != YT_SEQ)
		return cfg_bad(c, n, "'%s' must be a list of integers, not %s", d->name,
			   yt_what(n));
	out->n = n->n;
	out->v = n->n ? calloc(n->n, sizeof *out->v) : NULL;
	if (n->n && !out->v)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < n->n; i++)
		if (cfg_parse_int(c, n->kid[i], d->name, (long long)d->min,
			      (long long)d->max, &out->v[i]))
			return -1;
	return 0;
}

static int parse_rows(struct ctx *c, const struct ynode *n,
		      const struct pat_param *d, struct pat_rows *out)
{
	if (n->type != YT_SEQ)
		return cfg_bad(c, n, "'%s' must be a list of lists, not %s", d->name,
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

/* Reads an integer .npy file into a blob (int64), for a PAT_FILE
 * parameter; the pattern keeps the path as the user wrote it. */
static int parse_file_param(struct ctx *c, const struct ynode *n,
			    const struct pat_param *d, struct pat_file *out)
{
	const char *s = cfg_want_scalar(c, n, d->name, "a file name");
	struct npy_array a;
	char *path;
	struct err e;

	if (!s)
		return -1;
	free(out->path);
	pat_blob_release(out->blob);
	out->blob = NULL;
	out->path = strdup(s);
	path = cfg_resolve_path(c, s);
	if (!out->path || !path) {
		free(path);
		return err_set(c->e, "out of memory reading the experiment");
	}
	if (npy_map(path, &a, NPY_WANT_INT, &e)) {
		free(path);
		return cfg_bad(c, n, "%s", e.msg);
	}
	if (a.ndim != 1 && a.ndim != 2) {
		int rc = cfg_bad(c, n, "'%s' in '%s' has %d dimensions; it needs 1 (or 2 for per-head indptr)",
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

/* Reads an item's parameters: fixed values into it->base, lists that
 * sweep into it->sweep (expanded later). */
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
		return cfg_bad(c, params, "parameters of pattern '%s' must be a mapping, not %s",
			   k->name, yt_what(params));
	for (size_t j = 0; params && j < params->n; j += 2) {
		const struct ynode *key = params->kid[j], *val = params->kid[j + 1];
		int i = pat_param_index(k, key->str);
		enum pat_type t;
		if (i < 0 && !strcmp(key->str, "share") && k->selected)
			return cfg_bad(c, key, "pattern '%s' takes no 'share': its kind decides which heads "
				       "a selection serves (dsa_topk: every head of a sequence)", k->name);
		if (i < 0)
			return cfg_bad(c, key, "unknown parameter '%s' for pattern '%s'%s",
				   key->str, k->name,
				   cfg_hint(key->str, names, (size_t)k->n_params, buf, sizeof buf));
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
				return cfg_bad(c, val, "parameter '%s' of pattern '%s' sweeps an empty list",
					   key->str, k->name);
			it->sweep[i] = val;
		} else if (cfg_parse_value(c, val, &k->params[i], &p->val[i])) {
			return -1;
		}
	}
	for (int i = 0; i < k->n_params; i++)
		if (k->params[i].required && !given[i])
			return cfg_bad(c, it->node, "pattern '%s' needs parameter '%s'",
				   k->name, k->params[i].name);
	return 0;
}


/* Reads the child list of a composite pattern into it->base. */
static int parse_children(struct ctx *c, const struct ynode *list,
			  struct pat_item *it)
{
	struct pattern *p = &it->base;

	if (list->type != YT_SEQ)
		return cfg_bad(c, list, "pattern '%s' takes a list of patterns, not %s",
			   p->kind->name, yt_what(list));
	p->child = calloc(list->n ? list->n : 1, sizeof *p->child);
	if (!p->child)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < list->n; i++) {
		struct pat_item kid;
		int rc = cfg_parse_pattern_item(c, list->kid[i], &kid);
		for (int k = 0; !rc && k < PAT_MAX_PARAMS; k++)
			if (kid.sweep[k])
				rc = cfg_bad(c, kid.sweep[k], "a child of '%s' cannot sweep a parameter; list each variant as its own pattern",
					 p->kind->name);
		if (!rc && kid.label)
			rc = cfg_bad(c, list->kid[i], "a child of '%s' cannot have a label; label the '%s' pattern itself",
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
int cfg_parse_pattern_item(struct ctx *c, const struct ynode *n,
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
				it->label = cfg_want_scalar(c, n->kid[i + 1], "label", "a string");
				if (!it->label)
					return -1;
				if (strpbrk(it->label, ",\"\n\r") || !it->label[0])
					return cfg_bad(c, n->kid[i + 1],
						   "label '%s' must be non-empty without commas, quotes or newlines",
						   it->label);
				continue;
			}
			if (kind_key)
				return cfg_bad(c, k, "pattern item names two patterns, '%s' and '%s'",
					   kind_key->str, k->str);
			kind_key = k;
			params = n->kid[i + 1];
		}
		if (!kind_key)
			return cfg_bad(c, n, "pattern item has a label but no pattern");
	} else {
		return cfg_bad(c, n, "a pattern must be a name or a mapping, not %s",
			   yt_what(n));
	}
	if (!pat_kind_find(kind_key->str))
		return cfg_bad(c, kind_key, "unknown pattern '%s'%s", kind_key->str,
			   cfg_hint(kind_key->str, names, (size_t)pat_kind_count, buf, sizeof buf));
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
			return cfg_bad(c, it->node, "pattern '%s': %s", p->label, why);
	for (size_t i = 0; i < causal->n; i++) {
		pat_set_causal(p, (int)causal->v[i]);
		if (pat_check(p, why, sizeof why))
			return cfg_bad(c, it->node, "pattern '%s': %s", p->label, why);
	}
	for (size_t i = 0; seq_len && i < seq_len->n; i++)
		if (pat_check_n(p, (long)seq_len->v[i], why, sizeof why))
			return cfg_bad(c, it->node, "pattern '%s': %s", p->label, why);
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
int cfg_expand(struct ctx *c, struct experiment *x, struct pat_item *it,
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
		return cfg_expand(c, x, it, p, i + 1, causal, seq_len);
	for (size_t j = 0; j < it->sweep[i]->n; j++) {
		if (cfg_parse_value(c, it->sweep[i]->kid[j], &p->kind->params[i], &p->val[i]) ||
		    cfg_expand(c, x, it, p, i + 1, causal, seq_len))
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
			rc = cfg_bad(c, list, "pattern label '%s' is used twice; give one a label", by[i]->label);
	free(by);
	return rc;
}

/* rest: the cells each pattern variant multiplies into (shape axes,
 * inputs, kernels), so that a grid past max_cells is refused before its
 * variants are made. */
int cfg_parse_patterns(struct ctx *c, struct experiment *x, const struct ynode *root,
			  const struct ynode *list, double rest, long long max_cells)
{
	struct pat_item *items;
	double variants = 0;
	size_t parsed = 0;
	int rc = 0;

	if (collect_heads(c, x))
		return -1;
	if (!list)
		return cfg_bad(c, NULL, "missing 'patterns'");
	if (list->type != YT_SEQ)
		return cfg_bad(c, list, "'patterns' must be a list, not %s", yt_what(list));
	if (list->n == 0)
		return cfg_bad(c, list, "'patterns' is empty");
	/* every item first, so that the grid is counted before it is made */
	items = calloc(list->n, sizeof *items);
	if (!items)
		return err_set(c->e, "out of memory reading the experiment");
	for (; parsed < list->n && !rc; parsed++) {
		rc = cfg_parse_pattern_item(c, list->kid[parsed], &items[parsed]);
		variants += rc ? 0 : variant_count(&items[parsed]);
	}
	if (!rc && variants * rest > (double)max_cells)
		rc = cfg_bad(c, root, "the grid has %.0f cells, more than run: max_cells %lld; sweep less or raise max_cells",
			 variants * rest, max_cells);
	for (size_t i = 0; i < list->n && !rc; i++)
		rc = cfg_expand(c, x, &items[i], &items[i].base, 0, &x->axis[EXP_CAUSAL],
			    &x->axis[EXP_SEQ_LEN]);
	for (size_t i = 0; i < parsed; i++)
		pat_free(&items[i].base);
	free(items);
	return rc ? -1 : check_labels(c, x, list);
}

long cfg_pattern_by_label(const struct experiment *x, const char *label)
{
	for (size_t i = 0; i < x->n_pat; i++)
		if (!strcmp(x->pat[i].label, label))
			return (long)i;
	return -1;
}
