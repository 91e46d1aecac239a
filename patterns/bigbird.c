/* bigbird.c - BigBird (Zaheer et al. 2020; DeepSpeed BigBirdSparsityConfig)
 * on blocks of `block` tokens: block row r sees a window of window_blocks
 * blocks centred on r, the first global_blocks blocks, and random_blocks
 * seeded random blocks (among r and earlier ones when causal); the global
 * block rows see everything. Then clipped to token causality, which
 * DeepSpeed leaves to a separate mask (its issue #1020). */
#include <stdio.h>
#include <stdlib.h>

#include "pattern.h"

enum { BB_BLOCK, BB_WINDOW, BB_GLOBAL, BB_RANDOM, BB_SEED };

static const struct pat_param bigbird_params[] = {
	[BB_BLOCK] = { "block", PAT_INT, 1, 0, 1, 1 << 20, "block size B (tokens)" },
	[BB_WINDOW] = { "window_blocks", PAT_INT, 0, 3, 1, 1 << 20,
			"blocks of the sliding window, odd (query block in the middle)" },
	[BB_GLOBAL] = { "global_blocks", PAT_INT, 0, 1, 0, 1 << 20,
			"leading blocks that are global (rows and columns)" },
	[BB_RANDOM] = { "random_blocks", PAT_INT, 0, 2, 0, 1 << 20,
			"random blocks per block row" },
	[BB_SEED] = { "seed", PAT_INT, 0, 1, 0, 9.2e18, "seed of the random blocks" },
};

static int bigbird_check(const struct pattern *p, char *why, size_t len)
{
	if (p->val[BB_WINDOW].i % 2 == 0) {
		snprintf(why, len, "'window_blocks' is %lld, must be odd (the query's block in the middle)",
			 p->val[BB_WINDOW].i);
		return -1;
	}
	return 0;
}

/* Appends r distinct seeded picks from [0, limit) to blocks (Floyd). */
static size_t pick_random(long *blocks, size_t at, long r, long limit,
			  unsigned long long seed, long row)
{
	size_t first = at;

	if (r >= limit) {
		for (long j = 0; j < limit; j++)
			blocks[at++] = j;
		return at;
	}
	for (long j = limit - r; j < limit; j++) {
		long t = (long)(pat_hash(seed, (unsigned long long)row,
					 (unsigned long long)j, 7) % (unsigned long long)(j + 1));
		int seen = 0;
		for (size_t k = first; k < at; k++)
			seen |= blocks[k] == t;
		blocks[at++] = seen ? j : t;
	}
	return at;
}

static int bigbird_row(const struct pattern *p, int h, long pos, long n_kv,
		       struct pat_ranges *out)
{
	long b = (long)p->val[BB_BLOCK].i, w = (long)p->val[BB_WINDOW].i;
	long g = (long)p->val[BB_GLOBAL].i, r = (long)p->val[BB_RANDOM].i;
	long row = pos / b, nb = (n_kv + b - 1) / b;
	long limit = p->causal ? row + 1 : nb;
	long *blocks;
	size_t n = 0;
	int rc;

	(void)h;
	if (row < g)
		return pat_push(out, p, pos, n_kv, 0, n_kv);
	blocks = malloc((size_t)(w + (g < nb ? g : nb) + (r < limit ? r : limit) + 1) *
			sizeof *blocks);
	if (!blocks)
		return -1;
	for (long j = row - w / 2; j <= row + w / 2; j++)
		blocks[n++] = j;
	for (long j = 0; j < g && j < nb; j++)
		blocks[n++] = j;
	n = pick_random(blocks, n, r, limit,
			(unsigned long long)p->val[BB_SEED].i, row);
	rc = pat_push_blocks(out, p, pos, n_kv, blocks, n, b);
	free(blocks);
	return rc;
}

static long bigbird_kv_rows(const struct pattern *p, long n)
{
	(void)p;
	return n;
}

const struct pat_kind pat_bigbird = {
	.name = "bigbird",                      /* YAML key */
	.summary = "BigBird blocks: window + global + random (DeepSpeed BigBird)",
	.formula = "block row r: blocks [r-w/2, r+w/2] u [0, g) u R random; rows < g: all",
	.params = bigbird_params,               /* block, window_blocks, global_blocks, random_blocks, seed */
	.n_params = 5,
	.check = bigbird_check,                 /* odd window */
	.row = bigbird_row,                     /* block set -> ranges */
	.kv_rows = bigbird_kv_rows,             /* random blocks reach anywhere */
	.per_head = NULL,                       /* same for every head */
};
