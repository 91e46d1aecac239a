/* quest.c - Quest (Tang et al. 2024, "Quest: Query-Aware Sparsity for
 * Efficient Long-Context LLM Inference"): pages of keys keep their
 * channel-wise min and max; a query's upper bound for a page is
 * sum_c max(q_c min_c, q_c max_c); the best pages within a token budget
 * are read, the current page always. Prefill selects per query block
 * (the largest bound of its queries). Selection: select/quest.c. */
#include <stdio.h>

#include "pattern.h"
#include "selected.h"

enum { QUEST_PAGE, QUEST_BUDGET, QUEST_QBLOCK, QUEST_SHARE };

static const struct pat_param quest_params[] = {
	[QUEST_PAGE] = { "page", PAT_INT, 0, 16, 1, 65536, "keys per page" },
	[QUEST_BUDGET] = { "budget", PAT_INT, 0, 1024, 1, 2147483647,
			   "tokens read per query (pages x page), current page included" },
	[QUEST_QBLOCK] = { "query_block", PAT_INT, 0, 64, 1, 65536,
			   "prefill: queries that share one selection" },
	[QUEST_SHARE] = PAT_SHARE_PARAM,
};

static int quest_check(const struct pattern *p, char *why, size_t len)
{
	if (p->val[QUEST_BUDGET].i < p->val[QUEST_PAGE].i)
		return snprintf(why, len, "'budget' is %lld tokens, below one page of %lld",
				p->val[QUEST_BUDGET].i, p->val[QUEST_PAGE].i), -1;
	return 0;
}

const struct pat_kind pat_quest = {
	.name = "quest",                        /* YAML key */
	.summary = "query-aware page selection by min/max bounds (Quest)",
	.formula = "G_i = pages with the top budget/page bounds "
		   "sum_c max(q_c min_c, q_c max_c), current page always",
	.params = quest_params,                 /* page, budget, query_block, share */
	.n_params = 4,
	.check = quest_check,                   /* budget >= page */
	.check_n = NULL,
	.row = NULL,                            /* selected: select/ */
	.kv_rows = pat_selected_kv_rows,        /* Quest keeps every page */
	.per_head = pat_selected_per_head,
	.selected = PAT_PREFILL | PAT_DECODE,
};
