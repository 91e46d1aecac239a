/* random.c - Bernoulli random pattern (xformers random_pattern): each
 * allowed pair is kept with probability `density`, reproducibly: row i's
 * keys come from a generator seeded by (seed, i, head), walked by geometric
 * gaps, so the work is O(kept keys) and no thread count changes them. */
#include <math.h>
#include <stdio.h>

#include "pattern.h"

enum { RANDOM_DENSITY, RANDOM_SEED, RANDOM_SELF, RANDOM_PER_HEAD };

static const struct pat_param random_params[] = {
	[RANDOM_DENSITY] = { "density", PAT_FLOAT, 1, 0, 0, 1,
			     "probability that a pair is kept, in (0, 1]", NULL, NULL, 1 },
	[RANDOM_SEED] = { "seed", PAT_INT, 0, 1, 0, 9.2e18, "generator seed" },
	[RANDOM_SELF] = { "include_self", PAT_BOOL, 0, 1, 0, 1,
			  "always keep the query's own key" },
	[RANDOM_PER_HEAD] = { "per_head", PAT_BOOL, 0, 0, 0, 1,
			      "draw a different set for every head" },
};


/* Uniform in (0, 1] from a 64-bit hash. */
static double unit(unsigned long long x)
{
	return ((double)(x >> 11) + 1.0) * 0x1.0p-53;
}

static int random_row(const struct pattern *p, int h, long pos, long n_kv,
		      struct pat_ranges *out)
{
	double dens = p->val[RANDOM_DENSITY].f;
	unsigned long long seed = (unsigned long long)p->val[RANDOM_SEED].i;
	unsigned long long head = p->val[RANDOM_PER_HEAD].i ? (unsigned long long)h : 0;
	long limit = p->causal ? pos + 1 : n_kv, j = -1;
	double log_miss = log1p(-dens);
	unsigned long long draw = 0;

	if (p->val[RANDOM_SELF].i && pat_push(out, p, pos, n_kv, pos, pos + 1))
		return -1;
	if (dens >= 1.0)
		return pat_push(out, p, pos, n_kv, 0, limit);
	for (;;) {
		double gap = floor(log(unit(pat_hash(seed, (unsigned long long)pos, head, draw++))) / log_miss);
		if (gap >= (double)(limit - j))
			break;
		j += 1 + (long)gap;
		if (j >= limit)
			break;
		if (pat_push(out, p, pos, n_kv, j, j + 1))
			return -1;
	}
	return 0;
}

static long random_kv_rows(const struct pattern *p, long n)
{
	(void)p;
	return n;
}

static int random_per_head(const struct pattern *p)
{
	return (int)p->val[RANDOM_PER_HEAD].i;
}

const struct pat_kind pat_random = {
	.name = "random",                       /* YAML key */
	.summary = "Bernoulli random pairs, seeded (xformers random_pattern)",
	.formula = "j in G_i with probability density, j <= i",
	.params = random_params,                /* density, seed, include_self, per_head */
	.n_params = 4,
	.check = NULL,                          /* density's bounds are its parameter's */
	.row = random_row,                      /* geometric gaps */
	.kv_rows = random_kv_rows,              /* any key may be drawn: all */
	.per_head = random_per_head,            /* when per_head is true */
};
