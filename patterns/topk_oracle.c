/* topk_oracle.c - the oracle top-k (sparse-attention-hub's oracle
 * masker, SeerAttention's oracle baseline): each query keeps the k keys
 * of largest exact dense score q . k / sqrt(d). The upper bound of any
 * content-selected design reading k keys; its selection is a dense score
 * pass, timed as such. Selection: select/oracle.c. */
#include "pattern.h"
#include "selected.h"

static const struct pat_param topk_params[] = {
	[0] = { "k", PAT_INT, 0, 1024, 1, 2147483647, "keys each query keeps (all it sees when fewer)" },
	[1] = PAT_SHARE_PARAM,
};

const struct pat_kind pat_topk_oracle = {
	.name = "topk_oracle",                  /* YAML key */
	.summary = "the k keys of largest exact score per query: the bound of any selector at k keys",
	.formula = "G_i = the k keys j <= i of largest q_i . k_j (ties: the lower j)",
	.params = topk_params,                  /* k, share */
	.n_params = 2,
	.check = NULL,
	.check_n = NULL,
	.row = NULL,                            /* selected: select/ */
	.kv_rows = pat_selected_kv_rows,
	.per_head = pat_selected_per_head,
	.selected = PAT_PREFILL | PAT_DECODE,
};
