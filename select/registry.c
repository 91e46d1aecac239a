/* registry.c - the one table of selectors, one per content-selected
 * pattern kind. Adding one is a kind in patterns/, a file here and a
 * line below. */
#include "select.h"

extern const struct sel_kind sel_vertical_slash, sel_block_topk, sel_quest,
	sel_snapkv, sel_nsa_select, sel_moba, sel_topk_oracle, sel_topp_oracle, sel_dsa_topk;

static const struct sel_kind *const sel_table[] = {
	&sel_vertical_slash,    /* MInference's columns and diagonals */
	&sel_block_topk,        /* blocks by pooled or antidiagonal estimate */
	&sel_quest,             /* pages by min/max bound */
	&sel_snapkv,            /* prompt keys by window votes */
	&sel_nsa_select,        /* blocks by compressed attention */
	&sel_moba,              /* blocks by q . mean(K) (MoBA) */
	&sel_topk_oracle,       /* the k best keys by exact score */
	&sel_topp_oracle,       /* the fewest best keys with mass p */
	&sel_dsa_topk,          /* tokens by DeepSeek's lightning indexer */
};

const struct sel_kind *sel_find(const struct pat_kind *k)
{
	for (size_t i = 0; i < sizeof sel_table / sizeof sel_table[0]; i++)
		if (sel_table[i]->kind == k)
			return sel_table[i];
	return NULL;
}
