/* bslongformer.c - DeepSpeed's BSLongformerSparsityConfig on blocks of
 * `block` tokens: a sliding window of window_blocks blocks centred on the
 * block row, global block columns that every row sees, and global block
 * rows that see everything. Clipped to token causality. */
#include <stdio.h>
#include <stdlib.h>

#include "pattern.h"

enum { BSL_BLOCK, BSL_WINDOW, BSL_GLOBALS };

static const struct pat_param bslongformer_params[] = {
	[BSL_BLOCK] = { "block", PAT_INT, 1, 0, 1, 1 << 20, "block size B (tokens)" },
	[BSL_WINDOW] = { "window_blocks", PAT_INT, 0, 3, 1, 1 << 20,
			 "blocks of the sliding window, odd (query block in the middle)" },
	[BSL_GLOBALS] = { "global_block_indices", PAT_INT_LIST, 0, 0, 0, 1 << 30,
			  "global blocks (rows and columns), ascending; default [0]" },
};

static int bslongformer_check(const struct pattern *p, char *why, size_t len)
{
	const struct pat_list *gl = &p->val[BSL_GLOBALS].list;

	if (p->val[BSL_WINDOW].i % 2 == 0) {
		snprintf(why, len, "'window_blocks' is %lld, must be odd (the query's block in the middle)",
			 p->val[BSL_WINDOW].i);
		return -1;
	}
	for (size_t i = 1; i < gl->n; i++)
		if (gl->v[i] <= gl->v[i - 1]) {
			snprintf(why, len, "'global_block_indices' must be strictly increasing: %lld after %lld",
				 gl->v[i], gl->v[i - 1]);
			return -1;
		}
	return 0;
}

static int bslongformer_check_n(const struct pattern *p, long n, char *why,
				size_t len)
{
	const struct pat_list *gl = &p->val[BSL_GLOBALS].list;
	long b = (long)p->val[BSL_BLOCK].i;

	if (gl->n && gl->v[gl->n - 1] * b >= n) {
		snprintf(why, len, "global block %lld is out of range for seq_len %ld (block %ld)",
			 gl->v[gl->n - 1], n, b);
		return -1;
	}
	return 0;
}

/* The global block list: the given one, or [0] when none was given. */
static void globals(const struct pattern *p, const long long **v, size_t *n)
{
	static const long long first = 0;
	const struct pat_list *gl = &p->val[BSL_GLOBALS].list;

	*v = gl->n ? gl->v : &first;
	*n = gl->n ? gl->n : 1;
}

static int bslongformer_row(const struct pattern *p, int h, long pos,
			    long n_kv, struct pat_ranges *out)
{
	long b = (long)p->val[BSL_BLOCK].i, w = (long)p->val[BSL_WINDOW].i;
	long row = pos / b, *blocks;
	const long long *gv;
	size_t ng, n = 0;
	int rc;

	(void)h;
	globals(p, &gv, &ng);
	for (size_t i = 0; i < ng; i++)
		if (gv[i] == row)
			return pat_push(out, p, pos, n_kv, 0, n_kv);
	blocks = malloc((size_t)w * sizeof *blocks + ng * sizeof *blocks);
	if (!blocks)
		return -1;
	for (long j = row - w / 2; j <= row + w / 2; j++)
		blocks[n++] = j;
	for (size_t i = 0; i < ng; i++)
		blocks[n++] = (long)gv[i];
	rc = pat_push_blocks(out, p, pos, n_kv, blocks, n, b);
	free(blocks);
	return rc;
}

static long bslongformer_kv_rows(const struct pattern *p, long n)
{
	(void)p;
	return n;
}

const struct pat_kind pat_bslongformer = {
	.name = "bslongformer",                 /* YAML key */
	.summary = "block-sparse Longformer: sliding block window + global blocks (DeepSpeed)",
	.formula = "block row r: blocks [r-w/2, r+w/2] u globals; global rows: all",
	.params = bslongformer_params,          /* block, window_blocks, global_block_indices */
	.n_params = 3,
	.check = bslongformer_check,            /* odd window, ascending globals */
	.check_n = bslongformer_check_n,        /* globals below seq_len */
	.row = bslongformer_row,                /* block set -> ranges */
	.kv_rows = bslongformer_kv_rows,        /* a global row may come: all */
	.per_head = NULL,                       /* same for every head */
};
