/* inputs.c - the experiment's inputs (where Q, K, V come from) and its
 * quality block. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment.h"
#include "parse.h"
#include "ytree.h"


/* Reads one input parameter (index i of in's kind) from n. */
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
		return cfg_bad(c, params, "parameters of input '%s' must be a mapping, not %s",
			   k->name, yt_what(params));
	for (size_t j = 0; params && j < params->n; j += 2) {
		const struct ynode *key = params->kid[j];
		int i = inp_param_index(k, key->str);
		if (i < 0)
			return cfg_bad(c, key, "unknown parameter '%s' for input '%s'%s", key->str,
				   k->name, cfg_hint(key->str, names, (size_t)k->n_params, buf, sizeof buf));
		given[i] = 1;
		if (cfg_parse_value(c, params->kid[j + 1], &k->params[i], &in->val[i]))
			return -1;
	}
	for (int i = 0; i < k->n_params; i++)
		if (k->params[i].required && !given[i])
			return cfg_bad(c, item, "input '%s' needs parameter '%s'", k->name,
				   k->params[i].name);
	return 0;
}

/* Reads a list item of inputs into in: a kind name, or a mapping of one
 * kind to its parameters with an optional label. */
int cfg_parse_input_item(struct ctx *c, const struct ynode *n,
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
				return cfg_bad(c, n->kid[i], "input item names two inputs, '%s' and '%s'",
					   kind_key->str, n->kid[i]->str);
			kind_key = n->kid[i];
			params = n->kid[i + 1];
		}
		if (!kind_key)
			return cfg_bad(c, n, "input item has a label but no input");
	} else {
		return cfg_bad(c, n, "an input must be a name or a mapping, not %s", yt_what(n));
	}
	if (!inp_kind_find(kind_key->str))
		return cfg_bad(c, kind_key, "unknown input '%s'%s", kind_key->str,
			   cfg_hint(kind_key->str, names, (size_t)inp_kind_count, buf, sizeof buf));
	if (inp_init(in, inp_kind_find(kind_key->str)))
		return err_set(c->e, "out of memory reading the experiment");
	if (parse_input_params(c, params, n, in))
		return -1;
	if (label) {
		const char *s = cfg_want_scalar(c, label, "label", "a string");
		if (!s)
			return -1;
		if (strpbrk(s, ",\"\n\r") || !s[0] || strlen(s) >= sizeof in->label)
			return cfg_bad(c, label, "label '%s' must be non-empty without commas, quotes or newlines",
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
	static const enum exp_field fields[] = { EXP_BATCH, EXP_HEADS, EXP_KV_HEADS, EXP_HEAD_DIM,
						 EXP_HEAD_DIM_V };
	const long file[] = { in->shape.batch, in->shape.heads, in->shape.kv_heads, in->shape.head_dim,
			      in->shape.head_dim_v };
	static_assert(sizeof fields / sizeof *fields == sizeof file / sizeof *file,
		      "check_input_shape: a file's value per field");
	const char *q = in->shape.n ? in->val[0].path : "";     /* npy: q's file */

	for (size_t f = 0; f < sizeof fields / sizeof *fields && in->shape.n; f++) {
		const struct exp_axis *a = &x->axis[fields[f]];
		for (size_t i = 0; a->line && i < a->n; i++)
			if (a->v[i] != file[f] && !(fields[f] == EXP_KV_HEADS && a->v[i] == 0))
				return cfg_bad(c, n, "input '%s': %s is %lld in the experiment but %ld in '%s'",
					   in->label, exp_fields[fields[f]].name, a->v[i], file[f],
					   fields[f] == EXP_HEAD_DIM_V ? in->shape.v_file : q);
	}
	for (int f = 0; in->shape.n && f < 2; f++) {
		char why[200];
		if (cfg_kv_width_fits(x, f ? "head_dim_v" : "head_dim",
				      f ? in->shape.head_dim_v : in->shape.head_dim, why, sizeof why))
			return cfg_bad(c, n, "input '%s': %s (from '%s')", in->label, why,
				   f ? in->shape.v_file : q);
	}
	for (size_t i = 0; in->shape.n && i < x->axis[EXP_SEQ_LEN].n; i++)
		if (x->axis[EXP_SEQ_LEN].v[i] > in->shape.n && in->shape.limit)
			return cfg_bad(c, n, "input '%s': seq_len %lld is longer than %s",
				   in->label, x->axis[EXP_SEQ_LEN].v[i], in->shape.limit);
		else if (x->axis[EXP_SEQ_LEN].v[i] > in->shape.n)
			return cfg_bad(c, n, "input '%s': seq_len %lld is longer than the %ld tokens of '%s'",
				   in->label, x->axis[EXP_SEQ_LEN].v[i], in->shape.n, q);
	for (size_t i = 0; !in->shape.n && i < x->axis[EXP_HEAD_DIM].n; i++)
		if (x->axis[EXP_HEAD_DIM].v[i] < in->kind->min_head_dim)
			return cfg_bad(c, n, "input '%s' needs head_dim of at least %d, not %lld",
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

int cfg_parse_inputs(struct ctx *c, struct experiment *x, const struct ynode *list)
{
	struct exp_input in;

	if (!list) {                    /* today's seeded noise */
		if (inp_init(&in, inp_default_kind()))
			return err_set(c->e, "out of memory reading the experiment");
		inp_default_label(&in, in.label, sizeof in.label);
		return push_input(c, x, &in);
	}
	x->inputs_given = 1;
	if (list->type != YT_SEQ)
		return cfg_bad(c, list, "'inputs' must be a list, not %s", yt_what(list));
	if (list->n == 0)
		return cfg_bad(c, list, "'inputs' is empty");
	for (size_t i = 0; i < list->n; i++) {
		struct err e;
		memset(&in, 0, sizeof in);
		if (cfg_parse_input_item(c, list->kid[i], &in)) {
			inp_free(&in);
			return -1;
		}
		if (in.kind->open && in.kind->open(&in, &e)) {
			inp_free(&in);
			return cfg_bad(c, list->kid[i], "%s", e.msg);
		}
		if (push_input(c, x, &in) ||
		    check_input_shape(c, x, &x->inputs[x->n_inputs - 1], list->kid[i]))
			return -1;
		for (size_t j = 0; j + 1 < x->n_inputs; j++)
			if (!strcmp(x->inputs[j].label, x->inputs[i].label))
				return cfg_bad(c, list->kid[i], "input label '%s' is used twice; give one a label",
					   x->inputs[i].label);
	}
	return 0;
}

int cfg_parse_quality(struct ctx *c, struct experiment *x, const struct ynode *m)
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
		return cfg_bad(c, m, "'quality' must be a mapping, not %s", yt_what(m));
	if (cfg_only_keys(c, m, keys, sizeof keys / sizeof *keys, " in 'quality'"))
		return -1;
	if ((v = yt_get(m, "enabled"))) {
		if (cfg_parse_bool(c, v, "enabled", &t))
			return -1;
		q->enabled = (int)t;
	}
	if ((v = yt_get(m, "rows"))) {
		if (cfg_parse_int(c, v, "rows", 1, 1 << 24, &t))
			return -1;
		q->rows = (int)t;
	}
	if ((v = yt_get(m, "target")) && cfg_parse_float(c, v, "target", 0, 1, &q->target))
		return -1;
	return 0;
}
