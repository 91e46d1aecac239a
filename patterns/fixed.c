/* fixed.c - the Sparse Transformer's fixed pattern (Child et al. 2019,
 * 'fixed'): a query sees its own block of `block` keys up to itself and
 * the last `summary` keys of every earlier block. Bidirectional: the whole
 * own block and the summary keys of every other block. */
#include <stdio.h>

#include "pattern.h"

enum { FIXED_BLOCK, FIXED_SUMMARY };

static const struct pat_param fixed_params[] = {
	[FIXED_BLOCK] = { "block", PAT_INT, 1, 0, 1, 2147483647,
			  "block length l" },
	[FIXED_SUMMARY] = { "summary", PAT_INT, 1, 0, 0, 2147483647,
			    "last keys c of each block that every later query sees" },
};

static int fixed_check(const struct pattern *p, char *why, size_t len)
{
	if (p->val[FIXED_SUMMARY].i > p->val[FIXED_BLOCK].i) {
		snprintf(why, len, "'summary' %lld is larger than 'block' %lld",
			 p->val[FIXED_SUMMARY].i, p->val[FIXED_BLOCK].i);
		return -1;
	}
	return 0;
}

static int fixed_row(const struct pattern *p, int h, long pos, long n_kv,
		     struct pat_ranges *out)
{
	long l = (long)p->val[FIXED_BLOCK].i, c = (long)p->val[FIXED_SUMMARY].i;
	long own = pos / l * l, end = p->causal ? own : n_kv;

	(void)h;
	for (long b = 0; b < end; b += l) {
		if (b == own)
			continue;
		if (c && pat_push(out, p, pos, n_kv, b + l - c, b + l))
			return -1;
	}
	return pat_push(out, p, pos, n_kv, own, own + l);
}

static long fixed_kv_rows(const struct pattern *p, long n)
{
	long l = (long)p->val[FIXED_BLOCK].i, c = (long)p->val[FIXED_SUMMARY].i;

	/* the block of n - 1 so far, and the summaries of earlier blocks */
	return (n - 1) % l + 1 + c * ((n - 1) / l);
}

const struct pat_kind pat_fixed = {
	.name = "fixed",                        /* YAML key */
	.summary = "own block + summary keys of earlier blocks (Sparse Transformer, fixed)",
	.formula = "G_i = [l*floor(i/l), i] u {j < l*floor(i/l) : j mod l >= l - c}",
	.params = fixed_params,                 /* block, summary */
	.n_params = 2,
	.check = fixed_check,                   /* summary <= block */
	.row = fixed_row,                       /* summaries, then own block */
	.kv_rows = fixed_kv_rows,               /* own block + c per block */
	.per_head = NULL,                       /* same for every head */
};
