/* topp_oracle.c - the oracle top-p: each query keeps the fewest keys
 * whose exact dense softmax mass reaches p (largest scores first), the
 * least any selector can read and keep that share. Its selection is a
 * dense score pass and a sort, timed as such. Selection: select/oracle.c. */
#include <stdio.h>

#include "pattern.h"
#include "selected.h"

static const struct pat_param topp_params[] = {
	[0] = { "p", PAT_FLOAT, 0, 0.9, 0, 1, "softmax mass each query keeps, in (0, 1]", NULL, NULL, 1 },
	[1] = PAT_SHARE_PARAM,
};


const struct pat_kind pat_topp_oracle = {
	.name = "topp_oracle",                  /* YAML key */
	.summary = "the fewest keys holding mass p of the exact softmax per query: the bound of any selector at p",
	.formula = "G_i = the fewest j <= i, largest q_i . k_j first, with sum softmax_ij >= p",
	.params = topp_params,                  /* p, share */
	.n_params = 2,
	.check = NULL,                          /* p's bounds are its parameter's */
	.check_n = NULL,
	.row = NULL,                            /* selected: select/ */
	.kv_rows = pat_selected_kv_rows,
	.per_head = pat_selected_per_head,
	.selected = PAT_PREFILL | PAT_DECODE,
};
