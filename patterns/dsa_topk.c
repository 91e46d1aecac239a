/* dsa_topk.c - DeepSeek Sparse Attention's token selection (DeepSeek-
 * V3.2-Exp, 2025): a lightning indexer of index_heads small query heads
 * and one key per token scores I(t, s) = sum_j w(t, j) ReLU(q_I(t, j) .
 * k_I(s)) for every earlier key s, and each query token attends to its k
 * best keys, one G for all its heads (MLA's single latent K/V). The
 * released configuration: 64 indexer heads of 128, k = 2048. Selection
 * and the indexer (made from the heads' own Q and K, `faithful` of it,
 * the rest noise): select/dsa_topk.c. */
#include <stdio.h>

#include "pattern.h"
#include "selected.h"

enum { DSA_K, DSA_HEADS, DSA_DIM, DSA_FAITHFUL, DSA_SEED };

static const struct pat_param dsa_params[] = {
	[DSA_K] = { "k", PAT_INT, 0, 2048, 1, 2147483647, "keys each query token keeps (all it sees when fewer)" },
	[DSA_HEADS] = { "index_heads", PAT_INT, 0, 64, 1, 1024, "indexer query heads H_I" },
	[DSA_DIM] = { "index_dim", PAT_INT, 0, 128, 1, 4096, "indexer head dimension d_I" },
	[DSA_FAITHFUL] = { "faithful", PAT_FLOAT, 0, 0.8, 0, 1,
			   "share of the indexer queries that follow the attention heads' own queries; the rest seeded noise" },
	[DSA_SEED] = { "seed", PAT_INT, 0, 1, 0, 2147483647, "seed of the indexer's projection and noise" },
};

const struct pat_kind pat_dsa_topk = {
	.name = "dsa_topk",                     /* YAML key */
	.summary = "top-k keys per query token by a lightning indexer, one G for all heads (DeepSeek Sparse Attention)",
	.formula = "G_i = the k keys s <= i of largest sum_j w(i, j) ReLU(q_I(i, j) . k_I(s))",
	.params = dsa_params,                   /* k, index_heads, index_dim, faithful, seed */
	.n_params = 5,
	.check = NULL,                          /* the bounds say it all */
	.check_n = NULL,
	.row = NULL,                            /* selected: select/ */
	.kv_rows = pat_selected_kv_rows,
	.per_head = pat_selected_per_head,
	.selected = PAT_PREFILL | PAT_DECODE,
};
