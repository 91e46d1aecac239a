/* model.c - the cost model of a cell. FLOPs count 2 d + 2 dv per scored
 * pair (2 d for q.k over head_dim, 2 dv for p v over head_dim_v: 4 d when
 * they are equal, FlashAttention's convention) plus the score function's
 * per pair (score_flops_per_pair: 1 for a bias, 3 for a soft cap),
 * softmax not counted; bytes: Q in the cell's dtype (4 or 2 bytes), K
 * and V in it too or, for a kernel reading a decode cache, as the cache
 * stores them (kv_dtype's rows, scales included), O (dv wide) in fp32. */
#include "model.h"

void model_cell(const struct problem *p, const struct kern_desc *k,
		int threads, long kv_rows, struct cell_model *m)
{
	const double f = DT_BYTES(p->dtype), d = p->d, dv = kern_dv(p), b = p->batch;
	/* one key's K row and V row */
	const double kv_rows_bytes = k->decode ? (double)(dtype_row_bytes(p->kv_dtype, p->d, p->kv_group) +
							   dtype_row_bytes(p->kv_dtype, kern_dv(p), p->kv_group))
					       : f * (d + dv);
	const double per_pair = kern_pair_flops(p) + score_flops_per_pair(p->score);
	double qo = b * p->heads * (double)p->n_q * (d * f + dv * sizeof(float));
	struct kern_cost c = { 0 };

	k->cost(p, threads, &c);
	m->flops = per_pair * (double)gset_pairs(p->g, p->heads) * b;
	/* kernels count 2 d + 2 dv a pair */
	m->flops_exec = c.flops_exec / kern_pair_flops(p) * per_pair;
	m->bytes_min = qo + b * p->kv_heads * (double)p->g->st.keys_used * kv_rows_bytes;
	m->bytes_gather = qo + b * (double)gset_pairs(p->g, p->heads) * kv_rows_bytes;
	/* a cache-reading kernel reports what its layout allocates */
	m->kv_cache_bytes = c.kv_cache_bytes > 0 ? c.kv_cache_bytes
						 : b * p->kv_heads * (double)kv_rows * kv_rows_bytes;
	m->score_bytes = c.score_bytes;
	m->pattern_bytes = (double)p->g->st.storage_bytes;
	m->workspace_bytes = c.workspace_bytes;
}

