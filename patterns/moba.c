/* moba.c - MoBA, mixture of block attention (Lu et al. 2025, Moonshot AI,
 * "MoBA: Mixture of Block Attention for Long-Context LLMs"): keys in
 * blocks of `block`; each query token scores every complete block before
 * its own by q . mean(K_block), keeps the `topk` best and always its own
 * block (causal inside it). Per query token, in prefill and decode.
 * Defaults: the paper's 512-token blocks and top-3. Selection:
 * select/moba.c. */
#include <stdio.h>

#include "pattern.h"
#include "selected.h"

enum { MOBA_BLOCK, MOBA_TOPK, MOBA_SHARE };

static const struct pat_param moba_params[] = {
	[MOBA_BLOCK] = { "block", PAT_INT, 0, 512, 1, 1 << 20, "keys per block" },
	[MOBA_TOPK] = { "topk", PAT_INT, 0, 3, 1, 1 << 20,
			"earlier complete blocks each query keeps, its own block besides" },
	[MOBA_SHARE] = PAT_SHARE_PARAM,
};

const struct pat_kind pat_moba = {
	.name = "moba",                         /* YAML key */
	.summary = "top-k key blocks by q . mean(K_block) per query, own block always (MoBA)",
	.formula = "G_i = own block [floor(i/B) B, i] u top-k complete blocks P < floor(i/B) "
		   "by q_i . mean(K_P)",
	.params = moba_params,                  /* block, topk, share */
	.n_params = 3,
	.check = NULL,                          /* the bounds say it all */
	.check_n = NULL,
	.row = NULL,                            /* selected: select/ */
	.kv_rows = pat_selected_kv_rows,        /* any block may be chosen later */
	.per_head = pat_selected_per_head,
	.selected = PAT_PREFILL | PAT_DECODE,
};
