/* registry.c - the one table of pattern kinds. Adding a kind is one file
 * in patterns/ and one line here. */
#include "pattern.h"

extern const struct pat_kind pat_dense, pat_window, pat_sink_window,
	pat_dilated, pat_strided, pat_fixed, pat_chunked, pat_prefix_lm,
	pat_document, pat_global, pat_random, pat_bigbird, pat_ds_fixed,
	pat_bslongformer, pat_union, pat_intersection, pat_difference, pat_per_head_kind,
	pat_explicit, pat_csr, pat_vertical_slash, pat_block_topk, pat_quest,
	pat_snapkv, pat_nsa_select, pat_moba, pat_topk_oracle, pat_topp_oracle, pat_dsa_topk;

const struct pat_kind *const pat_kinds[] = {
	&pat_dense,             /* full attention */
	&pat_window,            /* sliding window */
	&pat_sink_window,       /* sinks + window (StreamingLLM) */
	&pat_dilated,           /* dilated window (Longformer) */
	&pat_strided,           /* Sparse Transformer, strided */
	&pat_fixed,             /* Sparse Transformer, fixed */
	&pat_chunked,           /* chunked local (Llama 4) */
	&pat_prefix_lm,         /* bidirectional prefix */
	&pat_document,          /* packed documents */
	&pat_global,            /* global tokens (Longformer) */
	&pat_random,            /* Bernoulli pairs */
	&pat_bigbird,           /* BigBird blocks */
	&pat_ds_fixed,          /* DeepSpeed Fixed blocks */
	&pat_bslongformer,      /* DeepSpeed BSLongformer blocks */
	&pat_union,             /* or_masks */
	&pat_intersection,      /* and_masks */
	&pat_difference,        /* first minus the rest */
	&pat_per_head_kind,     /* one child per head */
	&pat_explicit,          /* rows from the file */
	&pat_csr,               /* CSR arrays from .npy files */
	&pat_vertical_slash,    /* selected: MInference columns + diagonals */
	&pat_block_topk,        /* selected: blocks by estimated mass */
	&pat_quest,             /* selected: pages by min/max bound (Quest) */
	&pat_snapkv,            /* selected: prompt pruned by votes (SnapKV) */
	&pat_nsa_select,        /* selected: NSA's selection branch */
	&pat_moba,              /* selected: MoBA's block gate */
	&pat_topk_oracle,       /* selected: the exact k best keys */
	&pat_topp_oracle,       /* selected: the exact fewest keys with mass p */
	&pat_dsa_topk,          /* selected: DeepSeek's indexer top-k */
};

const int pat_kind_count = (int)(sizeof pat_kinds / sizeof pat_kinds[0]);
