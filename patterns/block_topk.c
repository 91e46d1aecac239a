/* block_topk.c - content-selected blocks: per query block, the key blocks
 * with the largest estimated attention mass, either the k best or the
 * fewest that cover a share of it. Estimates: mean-pooled Q and K
 * (MInference's block-sparse heads; FlexPrefill's pooled estimate) or
 * strided antidiagonal sums (XAttention, Xu et al. 2025). The diagonal
 * block and the first block are always kept. Selection: select/. */
#include <stdio.h>

#include "pattern.h"
#include "selected.h"

enum { BT_BLOCK, BT_ESTIMATE, BT_STRIDE, BT_K, BT_COVERAGE, BT_SHARE };

static const char *const bt_estimates[] = { "mean_pool", "antidiagonal", NULL };

static const struct pat_param bt_params[] = {
	[BT_BLOCK] = { "block", PAT_INT, 0, 64, 1, 65536,
		       "queries and keys per block" },
	[BT_ESTIMATE] = { "estimate", PAT_CHOICE, 0, 0, 0, 1,
			  "mean_pool or antidiagonal (XAttention)", bt_estimates },
	[BT_STRIDE] = { "stride", PAT_INT, 0, 8, 1, 65536,
			"antidiagonal: positions per strided cell (divides block)" },
	/* a default below the bounds reads "not given": coverage decides */
	[BT_K] = { "k", PAT_INT, 0, 0, 1, 2147483647,
		   "key blocks kept per query block (default: by coverage)" },
	[BT_COVERAGE] = { "coverage", PAT_FLOAT, 0, 0.9, -1e300, 1e300,
			  "share of the estimated mass to cover, in (0, 1]" },
	[BT_SHARE] = PAT_SHARE_PARAM,
};

static int bt_check(const struct pattern *p, char *why, size_t len)
{
	double c = p->val[BT_COVERAGE].f;

	if (!(c > 0.0 && c <= 1.0))
		return snprintf(why, len, "'coverage' is %g, must be in (0, 1]", c), -1;
	if (p->val[BT_ESTIMATE].i == 1 && p->val[BT_BLOCK].i % p->val[BT_STRIDE].i)
		return snprintf(why, len, "'stride' %lld does not divide 'block' %lld",
				p->val[BT_STRIDE].i, p->val[BT_BLOCK].i), -1;
	return 0;
}

const struct pat_kind pat_block_topk = {
	.name = "block_topk",                   /* YAML key */
	.summary = "content-selected key blocks per query block (MInference block-sparse, FlexPrefill, XAttention)",
	.formula = "G_i = blocks B(i) chosen by estimated mass: top k, or fewest "
		   "covering `coverage`; first and diagonal block always",
	.params = bt_params,                    /* block .. coverage */
	.n_params = 6,
	.check = bt_check,                      /* stride divides block */
	.check_n = NULL,
	.row = NULL,                            /* selected: select/ */
	.kv_rows = pat_selected_kv_rows,
	.per_head = pat_selected_per_head,
	.selected = PAT_PREFILL,
};
