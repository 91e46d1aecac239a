/* ds_fixed.c - DeepSpeed's FixedSparsityConfig on blocks of `block` tokens:
 * non-sliding local windows of local_blocks blocks (a block row sees its
 * window up to itself), and in every window its last global_blocks blocks
 * are global columns that later rows see; a short last window gets its own
 * global blocks, as far right as fit (DeepSpeed's set_global_layout).
 * different_per_head moves the global blocks within each window by head,
 * as DeepSpeed's num_different_global_patterns does. Bidirectional: whole
 * windows, global columns seen by every row, and with
 * horizontal_global_attention the global block rows see everything.
 * Clipped to token causality (DeepSpeed leaves the diagonal blocks whole). */
#include <stdio.h>
#include <stdlib.h>

#include "pattern.h"

enum { DSF_BLOCK, DSF_LOCAL, DSF_GLOBAL, DSF_PER_HEAD, DSF_HORIZONTAL };

static const struct pat_param ds_fixed_params[] = {
	[DSF_BLOCK] = { "block", PAT_INT, 1, 0, 1, 1 << 20, "block size B (tokens)" },
	[DSF_LOCAL] = { "local_blocks", PAT_INT, 0, 4, 1, 1 << 20,
			"blocks per local window L" },
	[DSF_GLOBAL] = { "global_blocks", PAT_INT, 0, 1, 1, 1 << 20,
			 "global blocks G per window, dividing L" },
	[DSF_PER_HEAD] = { "different_per_head", PAT_BOOL, 0, 0, 0, 1,
			   "head h uses the (h mod L/G)-th global position" },
	[DSF_HORIZONTAL] = { "horizontal_global_attention", PAT_BOOL, 0, 0, 0, 1,
			     "global block rows see every block (bidirectional only)" },
};

static int ds_fixed_check(const struct pattern *p, char *why, size_t len)
{
	if (p->val[DSF_LOCAL].i % p->val[DSF_GLOBAL].i) {
		snprintf(why, len, "'global_blocks' %lld does not divide 'local_blocks' %lld",
			 p->val[DSF_GLOBAL].i, p->val[DSF_LOCAL].i);
		return -1;
	}
	if (p->causal && p->val[DSF_HORIZONTAL].i) {
		snprintf(why, len, "'horizontal_global_attention' needs causal: false (DeepSpeed allows it only bidirectionally)");
		return -1;
	}
	return 0;
}

/* First global block of window w for head h, over nb blocks: the window's
 * last G blocks (moved left by head with different_per_head); a short last
 * window's as far right as fit. */
static long global_start(const struct pattern *p, int h, long w, long nb)
{
	long l = (long)p->val[DSF_LOCAL].i, g = (long)p->val[DSF_GLOBAL].i;
	long shift = p->val[DSF_PER_HEAD].i ? h % (l / g) : 0, at = w * l + l - (shift + 1) * g;

	if (w * l + l > nb && at > nb - g)      /* the short last window */
		at = nb - g > 0 ? nb - g : 0;
	return at;
}

/* 1 when block row is one of the global blocks of head h. */
static int global_row(const struct pattern *p, int h, long row, long nb)
{
	long at = global_start(p, h, row / (long)p->val[DSF_LOCAL].i, nb);

	return row >= at && row < at + (long)p->val[DSF_GLOBAL].i;
}

static int ds_fixed_row(const struct pattern *p, int h, long pos, long n_kv,
			struct pat_ranges *out)
{
	long b = (long)p->val[DSF_BLOCK].i, l = (long)p->val[DSF_LOCAL].i;
	long g = (long)p->val[DSF_GLOBAL].i, row = pos / b, win = row / l;
	long nb = (n_kv + b - 1) / b, windows = (nb + l - 1) / l;
	long last = p->causal ? win : windows - 1, *blocks;
	size_t n = 0;
	int rc;

	if (!p->causal && p->val[DSF_HORIZONTAL].i && global_row(p, h, row, nb))
		return pat_push(out, p, pos, n_kv, 0, n_kv);
	blocks = malloc((size_t)(l + (last + 1) * g) * sizeof *blocks);
	if (!blocks)
		return -1;
	for (long j = win * l; j < win * l + l; j++)
		blocks[n++] = j;
	for (long w = 0; w <= last; w++)
		for (long j = global_start(p, h, w, nb); j < global_start(p, h, w, nb) + g; j++)
			blocks[n++] = j;
	rc = pat_push_blocks(out, p, pos, n_kv, blocks, n, b);
	free(blocks);
	return rc;
}

static long ds_fixed_kv_rows(const struct pattern *p, long n)
{
	long b = (long)p->val[DSF_BLOCK].i, l = (long)p->val[DSF_LOCAL].i;
	long g = (long)p->val[DSF_GLOBAL].i, win = (n - 1) / b / l;

	if (p->val[DSF_PER_HEAD].i)
		return n;       /* the heads' globals cover every position */
	/* the current window so far, and the global blocks of earlier windows */
	return n - win * l * b + win * g * b;
}

static int ds_fixed_per_head(const struct pattern *p)
{
	return (int)p->val[DSF_PER_HEAD].i &&
	       p->val[DSF_LOCAL].i / p->val[DSF_GLOBAL].i > 1;
}

const struct pat_kind pat_ds_fixed = {
	.name = "ds_fixed",                     /* YAML key */
	.summary = "DeepSpeed FixedSparsityConfig: local block windows + global blocks",
	.formula = "block row r: its window of L blocks up to r u last G blocks of every window",
	.params = ds_fixed_params,              /* block, local_blocks, global_blocks, different_per_head, horizontal_global_attention */
	.n_params = 5,
	.check = ds_fixed_check,                /* G divides L; horizontal only bidirectional */
	.row = ds_fixed_row,                    /* block set -> ranges */
	.kv_rows = ds_fixed_kv_rows,            /* window + globals */
	.per_head = ds_fixed_per_head,          /* when different_per_head */
};
