/* e2e.c - the e2e block of an experiment: the real model (a GGUF file)
 * and the text it reads, and the designs to run inside it, each a
 * pattern of the file's list on some of the model's layers:
 *
 *   e2e:
 *     gguf: ../models/gemma-3-270m-q4_k_m.gguf
 *     text: ../models/debian-policy.txt
 *     designs:
 *       - {pattern: window512, layers: global}
 *       - {pattern: sinks+1020, layers: all}
 *       - {pattern: quest, layers: [5, 11]}
 *
 * Checked here against the patterns list; the files and the layers
 * against the model when the run opens it (validate needs no model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* layers: global, all, or a list of layer indices, as "5,11,17". */
static int parse_layers(struct ctx *c, const struct ynode *n, char **out)
{
	char buf[4096] = "";
	size_t at = 0;

	if (n->type == YT_SCALAR && (!strcmp(n->str, "global") || !strcmp(n->str, "all")))
		return (*out = strdup(n->str)) ? 0 : err_set(c->e, "out of memory reading the experiment");
	if (n->type == YT_SCALAR)
		return cfg_bad(c, n, "'layers' must be global, all or a list of layer indices like [5, 11], not '%s'",
			       n->str);
	if (n->type != YT_SEQ || !n->n)
		return cfg_bad(c, n, "'layers' must be global, all or a list of layer indices like [5, 11], not %s",
			       yt_what(n));
	for (size_t i = 0; i < n->n; i++) {
		long long il;
		if (cfg_parse_int(c, n->kid[i], "layers", 0, 1023, &il))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (atoll(n->kid[j]->str) == il)
				return cfg_bad(c, n->kid[i], "layer %lld is listed twice", il);
		at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%lld", i ? "," : "", il);
		if (at >= sizeof buf)
			return cfg_bad(c, n, "'layers' lists too many layers");
	}
	return (*out = strdup(buf)) ? 0 : err_set(c->e, "out of memory reading the experiment");
}

static int add_design(struct ctx *c, struct exp_e2e *e2e, size_t pat, char *layers)
{
	struct exp_e2e_design *d = realloc(e2e->des, (e2e->n_des + 1) * sizeof *d);

	if (!d) {
		free(layers);
		return err_set(c->e, "out of memory reading the experiment");
	}
	e2e->des = d;
	d[e2e->n_des++] = (struct exp_e2e_design){ .pat = pat, .layers = layers };
	return 0;
}

static int parse_design(struct ctx *c, struct experiment *x, const struct ynode *n)
{
	static const char *const keys[] = { "pattern", "layers" };
	const struct ynode *p, *l;
	char *layers = NULL;
	long at;

	if (n->type != YT_MAP)
		return cfg_bad(c, n, "an e2e design must be a mapping like {pattern: window512, layers: global}, not %s",
			       yt_what(n));
	if (cfg_only_keys(c, n, keys, 2, " in an e2e design"))
		return -1;
	if (!(p = yt_get(n, "pattern")))
		return cfg_bad(c, n, "an e2e design needs 'pattern', a label of the patterns list");
	if (!cfg_want_scalar(c, p, "pattern", "a pattern label"))
		return -1;
	if ((at = cfg_pattern_by_label(x, p->str)) < 0)
		return cfg_bad(c, p, "e2e design names pattern '%s', which the patterns list lacks (use a label from it)",
			       p->str);
	l = yt_get(n, "layers");
	if (l ? parse_layers(c, l, &layers) : !(layers = strdup("global")))
		return l ? -1 : err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < x->e2e.n_des; i++)
		if (x->e2e.des[i].pat == (size_t)at && !strcmp(x->e2e.des[i].layers, layers)) {
			free(layers);
			return cfg_bad(c, n, "e2e design '%s' on layers %s is listed twice", p->str,
				       x->e2e.des[i].layers);
		}
	return add_design(c, &x->e2e, (size_t)at, layers);
}

static int parse_path(struct ctx *c, const struct ynode *n, const char *key, char **out)
{
	const struct ynode *v = yt_get(n, key);

	if (!v)
		return cfg_bad(c, n, "the e2e block needs '%s'", key);
	if (!cfg_want_scalar(c, v, key, "a file path") || !v->str[0])
		return v->type == YT_SCALAR ? cfg_bad(c, v, "'%s' must name a file", key) : -1;
	*out = cfg_resolve_path(c, v->str);
	return *out ? 0 : err_set(c->e, "out of memory reading the experiment");
}

int cfg_parse_e2e(struct ctx *c, struct experiment *x, const struct ynode *n)
{
	static const char *const keys[] = { "gguf", "text", "needle", "decode_steps", "score_last", "designs" };
	struct exp_e2e *e2e = &x->e2e;
	const struct ynode *v;
	long long t;

	e2e->needle = 1;
	e2e->decode_steps = 8;
	e2e->score_last = 1024;
	if (!n)
		return 0;
	if (n->type != YT_MAP)
		return cfg_bad(c, n, "'e2e' must be a mapping like {gguf: model.gguf, text: text.txt}, not %s",
			       yt_what(n));
	if (cfg_only_keys(c, n, keys, sizeof keys / sizeof *keys, " in 'e2e'"))
		return -1;
	e2e->given = 1;
	if (parse_path(c, n, "gguf", &e2e->gguf) || parse_path(c, n, "text", &e2e->text))
		return -1;
	if ((v = yt_get(n, "needle"))) {
		if (cfg_parse_bool(c, v, "needle", &t))
			return -1;
		e2e->needle = (int)t;
	}
	if ((v = yt_get(n, "decode_steps"))) {
		if (cfg_parse_int(c, v, "decode_steps", 0, 4096, &t))
			return -1;
		e2e->decode_steps = (long)t;
	}
	if ((v = yt_get(n, "score_last"))) {
		if (cfg_parse_int(c, v, "score_last", 16, 1 << 20, &t))
			return -1;
		e2e->score_last = (long)t;
	}
	if (!(v = yt_get(n, "designs"))) {
		for (size_t i = 0; i < x->n_pat; i++) {
			char *g = strdup("global");
			if (!g || add_design(c, e2e, i, g))
				return g ? -1 : err_set(c->e, "out of memory reading the experiment");
		}
		return 0;
	}
	if (v->type != YT_SEQ || !v->n)
		return cfg_bad(c, v, "'designs' must be a list of {pattern: label, layers: global|all|[...]}, not %s",
			       yt_what(v));
	for (size_t i = 0; i < v->n; i++)
		if (parse_design(c, x, v->kid[i]))
			return -1;
	return 0;
}

void cfg_free_e2e(struct exp_e2e *e2e)
{
	for (size_t i = 0; i < e2e->n_des; i++)
		free(e2e->des[i].layers);
	free(e2e->des);
	free(e2e->gguf);
	free(e2e->text);
	memset(e2e, 0, sizeof *e2e);
}
