/* score.c - the score functions' tables: ALiBi's slopes, T5's buckets,
 * and the per-head bias over every offset i - j of a problem. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score.h"
#include "../patterns/pattern.h"

static const char *const kind_names[] = {
	[SCORE_PLAIN] = "plain",
	[SCORE_SCALE] = "scale",
	[SCORE_ALIBI] = "alibi",
	[SCORE_SOFTCAP] = "softcap",
	[SCORE_RELATIVE_BIAS] = "relative_bias",
};
static_assert(sizeof kind_names / sizeof *kind_names == SCORE_KIND_COUNT,
	      "kind_names: one per enum score_kind");

const char *score_kind_name(enum score_kind k)
{
	return k < SCORE_KIND_COUNT ? kind_names[k] : "?";
}

int score_kind_find(const char *name)
{
	for (int k = 0; k < SCORE_KIND_COUNT; k++)
		if (strcmp(kind_names[k], name) == 0)
			return k;
	return -1;
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
	return t5_bias(spec->seed, h, score_t5_bucket(-o, !causal, spec->buckets,
						       spec->max_distance));
}

int score_make(struct score_mod *m, const struct score_spec *spec, int heads, int d,
	       long n_kv, int causal)
{
	size_t width;

	memset(m, 0, sizeof *m);
	m->kind = spec->kind;
	m->scale = spec->kind == SCORE_SCALE ? spec->value : 1.0 / sqrt((double)d);
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
