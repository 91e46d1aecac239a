/* score.h - score modifications beside G (FlexAttention's score_mod):
 * what a layer does to q.k before its softmax. Every kernel applies the
 * same function over G as the oracle does:
 *
 *   s_ij = q_i . k_j x scale + bias_h(i - j)      (plain, scale, alibi,
 *                                                   relative_bias)
 *   s_ij = cap tanh(q_i . k_j x scale / cap)      (softcap)
 *
 * The bias is a table per head over the offsets i - j a problem has
 * (ALiBi's slopes and T5's buckets reduce to one), made once per problem
 * outside the timed runs, as a model keeps its bias parameters. */
#ifndef SABENCH_SCORE_H
#define SABENCH_SCORE_H

#include <math.h>
#include <stddef.h>

enum score_kind {
	SCORE_PLAIN,            /* q.k / sqrt(d) */
	SCORE_SCALE,            /* q.k x value */
	SCORE_ALIBI,            /* - slope_h |i - j| (Press et al., 2022) */
	SCORE_SOFTCAP,          /* cap tanh(s / cap) (Gemma 2) */
	SCORE_RELATIVE_BIAS,    /* T5's bucketed relative bias, seeded */
	SCORE_KIND_COUNT
};

/* One score function: the kind and its parameters, as written. */
struct score_spec {
	enum score_kind kind;
	double value;           /* scale: the factor of q.k */
	double cap;             /* softcap */
	long long buckets;      /* relative_bias */
	long long max_distance; /* relative_bias */
	long long seed;         /* relative_bias */
	char label[96];         /* "plain", "softcap(cap=50)", ... */
};

struct pat_param;

/* A score kind: its name and its parameters, in the pattern kinds'
 * parameter table (name, type, default, bounds, doc), each with the field
 * of struct score_spec it fills (a double for PAT_FLOAT, a long long for
 * PAT_INT). Adding a kind is one enum value and one line of the table in
 * score.c with its parameters. */
struct score_kind_desc {
	const char *name;                       /* YAML key, head of the label */
	const char *summary;                    /* one line for the docs */
	const struct pat_param *params;         /* parameter table, or NULL */
	const size_t *field;                    /* offsetof(struct score_spec, x), by parameter */
	int n_params;                           /* entries in params */
	/* rules the bounds cannot say; why filled and the index of the
	 * parameter to blame, or -1 when s is sound. NULL: none */
	int (*check)(const struct score_spec *s, char *why, size_t len);
	/* the factor of q.k at head_dim d; NULL: 1 / sqrt(d) */
	double (*scale)(const struct score_spec *s, int d);
	int identity;                           /* 1: attention as written, nothing added */
};

/* The descriptor of kind k. */
const struct score_kind_desc *score_kind_of(enum score_kind k);

/* s's parameters set to their defaults (s->kind set). */
void score_defaults(struct score_spec *s);

/* s->label: "kind" or "kind(p=v ...)", parameters in table order. */
void score_make_label(struct score_spec *s);

/* The function made for one problem: its scale and, for the bias kinds,
 * the table. A NULL struct score_mod * means plain everywhere. */
struct score_mod {
	enum score_kind kind;
	double scale;           /* of q.k: value, or 1 / sqrt(d) */
	double cap;             /* softcap, else 0 */
	int heads;              /* query heads the table has */
	long n_kv;              /* offsets i - j in (-n_kv, n_kv) */
	float *bias;            /* [heads][score_width] at score_at(i - j), or NULL */
	float *bias2;           /* the same x log2(e), for the exp2 kernels */
};

/* Offsets a bias table holds past the problem's on each side: the padding
 * lanes of a partial tile read them (and discard what they compute). */
#define SCORE_PAD 64

/* Entries of a head's bias table, and where offset o = i - j sits. */
static inline size_t score_width(const struct score_mod *m)
{
	return (size_t)(2 * m->n_kv - 1 + 2 * SCORE_PAD);
}

static inline size_t score_at(const struct score_mod *m, long o)
{
	return (size_t)(o + m->n_kv - 1 + SCORE_PAD);
}

/* 1 when a score label ("plain", "alibi", "softcap(cap=50)") names a kind
 * that leaves attention as written (its descriptor's identity). */
int score_label_identity(const char *label);

/* Name of kind k ("alibi"), and the kind called name or -1. */
const char *score_kind_name(enum score_kind k);
int score_kind_find(const char *name);

/* Makes m for spec, heads query heads, head_dim d, n_kv keys and
 * causality (bidirectional ALiBi and T5 buckets take both signs): 0, or
 * -1 out of memory. score_free frees the tables. */
int score_make(struct score_mod *m, const struct score_spec *spec, int heads, int d,
	       long n_kv, int causal);
void score_free(struct score_mod *m);

/* ALiBi's slope of head h (0-based) of heads: 2^(-8 (h + 1) / heads)
 * when heads is a power of two, the paper's interleaving otherwise. */
double score_alibi_slope(int h, int heads);

/* T5's bucket of relative position j - i (HF's _relative_position_bucket). */
int score_t5_bucket(long rel, int bidirectional, int buckets, int max_distance);

/* FLOPs of the modification per scored pair (the cost model's). */
double score_flops_per_pair(const struct score_mod *m);

/* The modified score of (i, j) for head h from the scaled dot s (natural
 * units, double): the oracle's and the scalar kernels' definition. */
static inline double score_apply(const struct score_mod *m, int h, long i, long j, double s)
{
	if (!m)
		return s;
	if (m->bias)
		s += m->bias[(size_t)h * score_width(m) + score_at(m, i - j)];
	if (m->kind == SCORE_SOFTCAP)
		s = m->cap * tanh(s / m->cap);
	return s;
}

/* The scale of q.k under m (1 / sqrt(d) when m is NULL). */
static inline double score_scale(const struct score_mod *m, int d)
{
	return m ? m->scale : 1.0 / sqrt((double)d);
}

/* Head h's row of bias2 at offset 0 (index by i - j), or NULL. */
static inline const float *score_bias2_row(const struct score_mod *m, int h)
{
	return m && m->bias2 ? m->bias2 + (size_t)h * score_width(m) + score_at(m, 0) : NULL;
}

#endif
