/* score.c - the score functions' tables: ALiBi's slopes, T5's buckets,
 * and the per-head bias over every offset i - j of a problem. */
#include <assert.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score.h"
#include "../patterns/pattern.h"

/* ---- the kinds and their parameters ---- */

#define F(x) offsetof(struct score_spec, x)

static const struct pat_param scale_params[] = {
	{ "value", PAT_FLOAT, 1, 0, -1e300, 1e300, "the factor of q.k (above 0)", NULL, NULL, 0 },
};
static const size_t scale_fields[] = { F(value) };

static const struct pat_param softcap_params[] = {
	{ "cap", PAT_FLOAT, 0, 50, -1e300, 1e300, "cap tanh(s / cap), above 0 (Gemma 2: 50)", NULL, NULL, 0 },
};
static const size_t softcap_fields[] = { F(cap) };

static const struct pat_param relative_bias_params[] = {
	{ "buckets", PAT_INT, 0, 32, 2, 1 << 24, "T5's buckets", NULL, NULL, 0 },
	{ "max_distance", PAT_INT, 0, 128, 1, 1 << 24, "distance of the last bucket, at least buckets", NULL, NULL, 0 },
	{ "seed", PAT_INT, 0, 0, 0, 9.2e18, "seed of the bias values", NULL, NULL, 0 },
};
static const size_t relative_bias_fields[] = { F(buckets), F(max_distance), F(seed) };

#undef F

/* A factor or a cap must be above 0 (parameter 0). */
static int check_positive(const struct score_spec *s, char *why, size_t len)
{
	const struct score_kind_desc *k = score_kind_of(s->kind);
	double v = *(const double *)((const char *)s + k->field[0]);

	if (v > 0.0)
		return -1;
	snprintf(why, len, "'%s' is %g, must be above 0", k->params[0].name, v);
	return 0;
}

/* scale: the factor given. */
static double scale_value(const struct score_spec *s, int d)
{
	(void)d;
	return s->value;
}

/* T5's last bucket lies at max_distance: at least one offset a bucket. */
static int check_relative_bias(const struct score_spec *s, char *why, size_t len)
{
	if (s->max_distance >= s->buckets)
		return -1;
	snprintf(why, len, "'max_distance' is %lld, must be at least 'buckets' %lld", s->max_distance,
		 s->buckets);
	return 1;
}

#define PARAMS(p, f) .params = p, .field = f, .n_params = (int)(sizeof p / sizeof *p)

static const struct score_kind_desc kinds[] = {
	[SCORE_PLAIN] = { .name = "plain", .summary = "q.k / sqrt(d)", .identity = 1 },
	[SCORE_SCALE] = { .name = "scale", .summary = "q.k x value", PARAMS(scale_params, scale_fields),
			  .check = check_positive, .scale = scale_value },
	[SCORE_ALIBI] = { .name = "alibi", .summary = "- slope_h |i - j| (Press et al., 2022)" },
	[SCORE_SOFTCAP] = { .name = "softcap", .summary = "cap tanh(s / cap) (Gemma 2)",
			    PARAMS(softcap_params, softcap_fields), .check = check_positive },
	[SCORE_RELATIVE_BIAS] = { .name = "relative_bias", .summary = "T5's bucketed relative bias, seeded",
				  PARAMS(relative_bias_params, relative_bias_fields),
				  .check = check_relative_bias },
};
static_assert(sizeof kinds / sizeof *kinds == SCORE_KIND_COUNT, "kinds: one per enum score_kind");

#undef PARAMS

const struct score_kind_desc *score_kind_of(enum score_kind k)
{
	return &kinds[k];
}

const char *score_kind_name(enum score_kind k)
{
	return k < SCORE_KIND_COUNT ? kinds[k].name : "?";
}

int score_label_identity(const char *label)
{
	char name[64];
	int k;

	snprintf(name, sizeof name, "%.*s", (int)strcspn(label, "("), label);
	k = score_kind_find(name);
	return k >= 0 && kinds[k].identity;
}

int score_kind_find(const char *name)
{
	for (int k = 0; k < SCORE_KIND_COUNT; k++)
		if (strcmp(kinds[k].name, name) == 0)
			return k;
	return -1;
}

void score_defaults(struct score_spec *s)
{
	const struct score_kind_desc *k = &kinds[s->kind];

	for (int i = 0; i < k->n_params; i++) {
		char *at = (char *)s + k->field[i];
		if (k->params[i].type == PAT_FLOAT)
			*(double *)at = k->params[i].def;
		else
			*(long long *)at = (long long)k->params[i].def;
	}
}

void score_make_label(struct score_spec *s)
{
	const struct score_kind_desc *k = &kinds[s->kind];
	size_t at = (size_t)snprintf(s->label, sizeof s->label, "%s", k->name);

	for (int i = 0; i < k->n_params && at < sizeof s->label; i++) {
		const char *v = (const char *)s + k->field[i];
		if (k->params[i].type == PAT_FLOAT)
			at += (size_t)snprintf(s->label + at, sizeof s->label - at, "%s%s=%g", i ? " " : "(",
					       k->params[i].name, *(const double *)v);
		else
			at += (size_t)snprintf(s->label + at, sizeof s->label - at, "%s%s=%lld", i ? " " : "(",
					       k->params[i].name, *(const long long *)v);
	}
	if (k->n_params && at < sizeof s->label)
		snprintf(s->label + at, sizeof s->label - at, ")");
}

/* Slopes of a power of two n of heads: 2^(-8 / n), its square, ... */
static double pow2_slope(int h, int n)
{
	return pow(2.0, -8.0 * (h + 1) / n);
}

double score_alibi_slope(int h, int heads)
{
	int n = 1;

	while (2 * n <= heads)
		n *= 2;
	if (h < n)
		return pow2_slope(h, n);
	/* the rest: every other slope of 2n heads (Press et al.'s code) */
	return pow2_slope(2 * (h - n), 2 * n);
}

int score_t5_bucket(long rel, int bidirectional, int buckets, int max_distance)
{
	int ret = 0, exact, large;
	long n;

	if (bidirectional) {
		buckets /= 2;
		ret = rel > 0 ? buckets : 0;
		n = labs(rel);
	} else {
		n = rel < 0 ? -rel : 0;
	}
	exact = buckets / 2;
	if (n < exact)
		return ret + (int)n;
	large = exact + (int)(log((double)n / exact) / log((double)max_distance / exact) *
			      (buckets - exact));
	return ret + (large < buckets - 1 ? large : buckets - 1);
}

/* Head h's learned bias of bucket b, stood in for by a seeded value in
 * [-1, 1): the size of T5's trained biases, and the same in every run. */
static double t5_bias(unsigned long long seed, int h, int b)
{
	return (double)(pat_hash(seed, (unsigned long long)h, (unsigned long long)b, 5) >> 11) /
	       4503599627370496.0 - 1.0;
}

/* Bias of head h at offset o = i - j. */
static double bias_at(const struct score_spec *spec, int h, int heads, long o, int causal)
{
	if (spec->kind == SCORE_ALIBI)
		return -score_alibi_slope(h, heads) * (double)labs(o);
	return t5_bias((unsigned long long)spec->seed, h,
		       score_t5_bucket(-o, !causal, (int)spec->buckets, (int)spec->max_distance));
}

int score_make(struct score_mod *m, const struct score_spec *spec, int heads, int d,
	       long n_kv, int causal)
{
	size_t width;

	memset(m, 0, sizeof *m);
	m->kind = spec->kind;
	m->scale = kinds[spec->kind].scale ? kinds[spec->kind].scale(spec, d) : 1.0 / sqrt((double)d);
	m->cap = spec->kind == SCORE_SOFTCAP ? spec->cap : 0.0;
	m->heads = heads;
	m->n_kv = n_kv;
	if (spec->kind != SCORE_ALIBI && spec->kind != SCORE_RELATIVE_BIAS)
		return 0;
	width = score_width(m);
	m->bias = malloc((size_t)heads * width * sizeof *m->bias);
	m->bias2 = malloc((size_t)heads * width * sizeof *m->bias2);
	if (!m->bias || !m->bias2) {
		score_free(m);
		return -1;
	}
	for (int h = 0; h < heads; h++)
		for (size_t x = 0; x < width; x++) {
			double b = bias_at(spec, h, heads, (long)x - (long)score_at(m, 0), causal);
			m->bias[(size_t)h * width + x] = (float)b;
			m->bias2[(size_t)h * width + x] = (float)(b * 1.4426950408889634);
		}
	return 0;
}

void score_free(struct score_mod *m)
{
	free(m->bias);
	free(m->bias2);
	m->bias = m->bias2 = NULL;
}

double score_flops_per_pair(const struct score_mod *m)
{
	if (!m)
		return 0.0;
	switch (m->kind) {
	case SCORE_ALIBI:
	case SCORE_RELATIVE_BIAS:
		return 1.0;     /* an add of the looked-up bias */
	case SCORE_SOFTCAP:
		return 3.0;     /* a divide, a tanh (counted once, as exp is), a multiply */
	default:
		return 0.0;     /* the scale is folded into q */
	}
}
