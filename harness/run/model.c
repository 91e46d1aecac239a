/* model.c - the cost model of a cell. FLOPs count 4 d per scored pair
 * (2 d for q.k, 2 d for p v; FlashAttention's convention) plus the score
 * function's per pair (score_flops_per_pair: 1 for a bias, 3 for a soft
 * cap), softmax not counted; bytes: Q, K and V in the cell's dtype (4 or
 * 2 bytes), O in fp32. */
#include "model.h"

void model_cell(const struct problem *p, const struct kern_desc *k,
		int threads, long kv_rows, struct cell_model *m)
{
	const double f = dtype_of(p->dtype)->bytes, d = p->d, b = p->batch;
	const double per_pair = 4.0 * d + score_flops_per_pair(p->score);
	double qo = b * p->heads * (double)p->n_q * d * (f + sizeof(float));
	struct kern_cost c = { 0 };

	k->cost(p, threads, &c);
	m->flops = per_pair * (double)gset_pairs(p->g, p->heads) * b;
	m->flops_exec = c.flops_exec / (4.0 * d) * per_pair;  /* kernels count 4 d a pair */
	m->bytes_min = qo + 2.0 * b * p->kv_heads * (double)p->g->st.keys_used * d * f;
	m->bytes_gather = qo + 2.0 * b * (double)gset_pairs(p->g, p->heads) * d * f;
	/* a cache-reading kernel reports what its layout allocates */
	m->kv_cache_bytes = c.kv_cache_bytes > 0 ? c.kv_cache_bytes
						 : 2.0 * b * p->kv_heads * (double)kv_rows * d * f;
	m->score_bytes = c.score_bytes;
	m->pattern_bytes = (double)p->g->st.storage_bytes;
	m->workspace_bytes = c.workspace_bytes;
}

long model_longest_context(const struct pattern *p, double bytes_per_row,
			   double budget)
{
	const long top = 1L << 30;
	long lo = 0, hi = top;

	if ((double)pat_kv_rows(p, top) * bytes_per_row <= budget)
		return -1;
	/* largest n with rows(n) within budget; rows grow with n past the
	 * bounded part (chunked-like cycles were caught above) */
	while (lo < hi) {
		long mid = lo + (hi - lo + 1) / 2;
		if ((double)pat_kv_rows(p, mid) * bytes_per_row <= budget)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}
