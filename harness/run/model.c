/* model.c - the cost model of a cell. FLOPs count 4 d per scored pair
 * (2 d for q.k, 2 d for p v; FlashAttention's convention) plus the score
 * function's per pair (score_flops_per_pair: 1 for a bias, 3 for a soft
 * cap), softmax not counted; bytes: Q in the cell's dtype (4 or 2
 * bytes), K and V in it too or, for a kernel reading a decode cache, as
 * the cache stores them (kv_dtype's rows, scales included), O in fp32. */
#include "model.h"

void model_cell(const struct problem *p, const struct kern_desc *k,
		int threads, long kv_rows, struct cell_model *m)
{
	const double f = DT_BYTES(p->dtype), d = p->d, b = p->batch;
	const double kv_row = k->decode ? (double)dtype_row_bytes(p->kv_dtype, p->d, p->kv_group) : f * d;
	const double per_pair = 4.0 * d + score_flops_per_pair(p->score);
	double qo = b * p->heads * (double)p->n_q * d * (f + sizeof(float));
	struct kern_cost c = { 0 };

	k->cost(p, threads, &c);
	m->flops = per_pair * (double)gset_pairs(p->g, p->heads) * b;
	m->flops_exec = c.flops_exec / (4.0 * d) * per_pair;  /* kernels count 4 d a pair */
	m->bytes_min = qo + 2.0 * b * p->kv_heads * (double)p->g->st.keys_used * kv_row;
	m->bytes_gather = qo + 2.0 * b * (double)gset_pairs(p->g, p->heads) * kv_row;
	/* a cache-reading kernel reports what its layout allocates */
	m->kv_cache_bytes = c.kv_cache_bytes > 0 ? c.kv_cache_bytes
						 : 2.0 * b * p->kv_heads * (double)kv_rows * kv_row;
	m->score_bytes = c.score_bytes;
	m->pattern_bytes = (double)p->g->st.storage_bytes;
	m->workspace_bytes = c.workspace_bytes;
}

