/* review.c - the serving blocks of an experiment: a model's serving:
 * (device memory and weights, for how many sequences fit) and the
 * review: block (the constraints a design review asks: prompt and
 * context, tenants, memory or a shared KV pool, time to first token, time
 * per token, a quality target on named inputs). Checked here against the
 * models and inputs the file has; answered by `sabench review`. */
#include <stdlib.h>
#include <string.h>

#include "experiment.h"
#include "parse.h"
#include "ytree.h"

int cfg_parse_serving(struct ctx *c, const struct ynode *n, const char *model, struct exp_serving *s)
{
	static const char *const keys[] = { "memory", "weights" };
	const struct ynode *v;

	if (n->type != YT_MAP)
		return cfg_bad(c, n, "'serving' must be a mapping like {memory: 24 GiB, weights: 8 GiB}, not %s",
			       yt_what(n));
	if (cfg_only_keys(c, n, keys, sizeof keys / sizeof *keys, " in 'serving'"))
		return -1;
	if (!(v = yt_get(n, "memory")))
		return cfg_bad(c, n, "serving of model '%s' needs 'memory'", model);
	if (cfg_parse_size(c, v, "memory", &s->memory))
		return -1;
	if ((v = yt_get(n, "weights")) && cfg_parse_size(c, v, "weights", &s->weights))
		return -1;
	if (s->weights >= s->memory)
		return cfg_bad(c, v, "'weights' of %.0f B leave no room in 'memory' of %.0f B", s->weights, s->memory);
	return 0;
}

static const struct exp_model *model_named(const struct experiment *x, const char *name)
{
	for (size_t i = 0; i < x->n_models; i++)
		if (!strcmp(x->models[i].name, name))
			return &x->models[i];
	return NULL;
}

static int inputs_named(const struct experiment *x, const char *label)
{
	for (size_t i = 0; i < x->n_inputs; i++)
		if (!strcmp(x->inputs[i].label, label))
			return 1;
	return 0;
}

/* A token count of the review (prompt, context, tenants). */
static int review_count(struct ctx *c, const struct ynode *r, const char *key, long def, long *out)
{
	const struct ynode *v = yt_get(r, key);
	long long t;

	*out = def;
	if (!v)
		return 0;
	if (cfg_parse_int(c, v, key, 1, 1LL << 40, &t))
		return -1;
	*out = (long)t;
	return 0;
}

/* The optional numbers of the review: limits, quality and the memory. */
static int review_limits(struct ctx *c, const struct ynode *r, struct exp_review *rv)
{
	const struct ynode *v;

	if ((v = yt_get(r, "ttft_s")) && cfg_parse_float(c, v, "ttft_s", 1e-9, 1e9, &rv->ttft_s))
		return -1;
	if ((v = yt_get(r, "tpot_s")) && cfg_parse_float(c, v, "tpot_s", 1e-9, 1e9, &rv->tpot_s))
		return -1;
	if ((v = yt_get(r, "recall")) && cfg_parse_float(c, v, "recall", 0, 1, &rv->recall))
		return -1;
	if ((v = yt_get(r, "error")) && cfg_parse_float(c, v, "error", 0, 1e9, &rv->error))
		return -1;
	if ((v = yt_get(r, "kv_memory")) && cfg_parse_size(c, v, "kv_memory", &rv->kv_memory))
		return -1;
	if ((v = yt_get(r, "kl")) && cfg_parse_float(c, v, "kl", 0, 1e9, &rv->kl))
		return -1;
	if ((v = yt_get(r, "ppl_increase")) && cfg_parse_float(c, v, "ppl_increase", 0, 1e9, &rv->ppl_increase))
		return -1;
	if ((v = yt_get(r, "needle")) && cfg_parse_float(c, v, "needle", 0, 1e9, &rv->needle))
		return -1;
	if ((v = yt_get(r, "memory")) && cfg_parse_size(c, v, "memory", &rv->serving.memory))
		return -1;
	if ((v = yt_get(r, "weights")) && cfg_parse_size(c, v, "weights", &rv->serving.weights))
		return -1;
	if (yt_get(r, "weights") && !yt_get(r, "memory"))
		return cfg_bad(c, yt_get(r, "weights"), "'weights' needs 'memory' in the review");
	if (rv->serving.memory > 0 && rv->serving.weights >= rv->serving.memory)
		return cfg_bad(c, yt_get(r, "weights"), "'weights' of %.0f B leave no room in 'memory' of %.0f B",
			       rv->serving.weights, rv->serving.memory);
	if (rv->kv_memory > 0 && rv->serving.memory > 0)
		return cfg_bad(c, yt_get(r, "kv_memory"), "give 'kv_memory' or 'memory', not both");
	return 0;
}

/* The limits a review of the e2e block's real model alone takes. */
static const char *const e2e_only[] = { "kl", "ppl_increase", "needle" };

/* A review of the e2e block's real model: the model's own shape stands
 * in for a model block's; what the e2e run measures is what it judges. */
static int review_e2e(struct ctx *c, struct experiment *x, const struct ynode *r)
{
	struct exp_review *rv = &x->review;
	const struct ynode *v;
	long long t;

	if ((v = yt_get(r, "inputs"))) {
		if (cfg_parse_string(c, v, "inputs", &rv->inputs))
			return -1;
		if (!inputs_named(x, rv->inputs))
			return cfg_bad(c, v, "review names inputs '%s', which the inputs list lacks", rv->inputs);
	}
	if (rv->serving.weights > 0 && !rv->serving.memory)
		return cfg_bad(c, yt_get(r, "weights"), "'weights' needs 'memory' in the review");
	if ((v = yt_get(r, "extrapolate"))) {
		if (cfg_parse_bool(c, v, "extrapolate", &t))
			return -1;
		rv->extrapolate = (int)t;
	}
	if (rv->tenants > 1 && !rv->kv_memory && !rv->serving.memory)
		return cfg_bad(c, r, "a review of %ld tenants needs 'kv_memory' or 'memory'", rv->tenants);
	return 0;
}

int cfg_parse_review(struct ctx *c, struct experiment *x, const struct ynode *r)
{
	static const char *const keys[] = { "model", "prompt", "context", "tenants", "memory",
		"weights", "kv_memory", "ttft_s", "tpot_s", "recall", "error", "inputs", "extrapolate", "kl", "ppl_increase",
		"needle" };
	struct exp_review *rv = &x->review;
	const struct exp_model *m;
	const struct ynode *v;
	long long t;

	rv->recall = rv->error = -1;
	rv->kl = rv->ppl_increase = rv->needle = -1;
	rv->extrapolate = 1;
	if (!r)
		return 0;
	if (r->type != YT_MAP)
		return cfg_bad(c, r, "'review' must be a mapping, not %s", yt_what(r));
	if (cfg_only_keys(c, r, keys, sizeof keys / sizeof *keys, " in 'review'"))
		return -1;
	rv->given = 1;
	if (!(v = yt_get(r, "model")) && !x->e2e.given)
		return cfg_bad(c, r, "a review needs 'model', a model of the model block (or an e2e block, whose model it reads)");
	if (!yt_get(r, "prompt"))
		return cfg_bad(c, r, "a review needs 'prompt', the prompt's tokens");
	if (review_count(c, r, "prompt", 0, &rv->prompt) ||
	    review_count(c, r, "context", rv->prompt, &rv->context) ||
	    review_count(c, r, "tenants", 1, &rv->tenants) || review_limits(c, r, rv))
		return -1;
	if (!v)
		return review_e2e(c, x, r);
	if (cfg_parse_string(c, v, "model", &rv->model))
		return -1;
	if (!(m = model_named(x, rv->model)))
		return cfg_bad(c, v, "review names model '%s', which the model block lacks", rv->model);
	for (size_t i = 0; i < sizeof e2e_only / sizeof *e2e_only; i++)
		if (yt_get(r, e2e_only[i]))
			return cfg_bad(c, yt_get(r, e2e_only[i]),
				       "'%s' is a limit on the e2e block's real model; a review of model '%s' reads its cells",
				       e2e_only[i], rv->model);
	if (rv->context < rv->prompt)
		return cfg_bad(c, yt_get(r, "context"),
			       "'context' is %ld tokens, fewer than the prompt's %ld: the cache a decode step reads holds the prompt",
			       rv->context, rv->prompt);
	if (exp_prefill_chunks(rv->prompt, m->prefill_chunk) > EXP_MAX_PREFILL_CHUNKS)
		return cfg_bad(c, yt_get(r, "prompt"),
			       "a prompt of %ld tokens is %ld chunks of prefill_chunk %ld (model '%s'); time to first token sums at most %ld (raise prefill_chunk)",
			       rv->prompt, exp_prefill_chunks(rv->prompt, m->prefill_chunk),
			       m->prefill_chunk, m->name, EXP_MAX_PREFILL_CHUNKS);
	if (!rv->kv_memory && !rv->serving.memory)
		rv->serving = m->serving;
	if ((v = yt_get(r, "inputs"))) {
		if (cfg_parse_string(c, v, "inputs", &rv->inputs))
			return -1;
		if (!inputs_named(x, rv->inputs))
			return cfg_bad(c, v, "review names inputs '%s', which the inputs list lacks", rv->inputs);
	}
	if ((v = yt_get(r, "extrapolate"))) {
		if (cfg_parse_bool(c, v, "extrapolate", &t))
			return -1;
		rv->extrapolate = (int)t;
	}
	if (rv->tenants > 1 && !rv->kv_memory && !rv->serving.memory)
		return cfg_bad(c, r, "a review of %ld tenants needs 'kv_memory', 'memory' or the model's serving memory",
			       rv->tenants);
	return 0;
}
