/* gset.c - compiling a pattern into per-row canonical ranges, the set's
 * statistics, and the CSR view. Work is O(rows + ranges) except the CSR
 * view, which is O(nnz) by nature. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gset.h"

long long gset_dense_pairs(long n_q, long n_kv, int causal)
{
	long long off = n_kv - n_q, pairs = 0;

	if (!causal)
		return (long long)n_q * n_kv;
	/* row r sees off + r + 1 keys */
	pairs = (long long)n_q * (off + 1) + (long long)n_q * (n_q - 1) / 2;
	return pairs;
}

/* Appends the canonical ranges in tmp to g, growing *cap. */
static int append_ranges(struct gset *g, int64_t *used, int64_t *cap,
			 const struct pat_ranges *tmp)
{
	if (*used + (int64_t)tmp->n > *cap) {
		int64_t c = *cap ? *cap : 1024;
		while (c < *used + (int64_t)tmp->n)
			c *= 2;
		struct pat_range *r = realloc(g->ranges, (size_t)c * sizeof *r);
		if (!r)
			return -1;
		g->ranges = r;
		*cap = c;
	}
	memcpy(g->ranges + *used, tmp->r, tmp->n * sizeof *tmp->r);
	*used += (int64_t)tmp->n;
	return 0;
}

/* Counts distinct keys referenced by any row, by a difference array. */
static long long count_keys_used(const struct gset *g, int64_t n_ranges)
{
	int64_t *diff = calloc((size_t)g->n_kv + 1, sizeof *diff);
	long long used = 0, depth = 0;

	if (!diff)
		return -1;
	for (int64_t i = 0; i < n_ranges; i++) {
		diff[g->ranges[i].lo]++;
		diff[g->ranges[i].hi]--;
	}
	for (long j = 0; j < g->n_kv; j++) {
		depth += diff[j];
		used += depth > 0;
	}
	free(diff);
	return used;
}

static void fill_stats(struct gset *g, int heads)
{
	struct gset_stats *st = &g->st;
	long long rows = (long long)g->n_layouts * g->n_q, empty = 0;
	long long dense = gset_dense_pairs(g->n_q, g->n_kv, g->causal);

	st->nnz_layouts = 0;
	st->row_min = g->n_q ? -1 : 0;
	st->row_max = 0;
	for (long long i = 0; i < rows; i++) {
		int64_t n = 0;
		const struct pat_range *r = gset_row(g, 0, i, &n);
		long long k = gset_row_keys(r, n);
		st->nnz_layouts += k;
		if (st->row_min < 0 || k < st->row_min)
			st->row_min = k;
		if (k > st->row_max)
			st->row_max = k;
		empty += k == 0;
	}
	(void)heads;
	st->nnz = st->nnz_layouts / g->n_layouts;
	st->empty_rows = empty / g->n_layouts;
	st->row_mean = g->n_q ? (double)st->nnz / (double)g->n_q : 0.0;
	st->density = dense ? (double)st->nnz / (double)dense : 0.0;
	st->storage_bytes = (long long)(rows + 1) * (long long)sizeof *g->row_ptr +
			    g->row_ptr[rows] * (long long)sizeof *g->ranges;
}

int gset_build(struct gset *g, const struct pattern *p, long n_q, long n_kv,
	       int heads, char *why, size_t len)
{
	struct pat_ranges tmp = { 0 };
	int64_t used = 0, cap = 0;

	memset(g, 0, sizeof *g);
	if (n_q < 1 || n_kv < n_q || n_kv > INT32_MAX - 1) {
		snprintf(why, len, "bad gset shape n_q %ld over n_kv %ld", n_q, n_kv);
		return -1;
	}
	g->n_q = n_q;
	g->n_kv = n_kv;
	g->q_offset = n_kv - n_q;
	g->causal = p->causal;
	g->n_layouts = p->kind->per_head ? heads : 1;
	g->row_ptr = malloc(((size_t)g->n_layouts * (size_t)n_q + 1) *
			    sizeof *g->row_ptr);
	if (!g->row_ptr)
		goto oom;
	g->row_ptr[0] = 0;
	for (int l = 0; l < g->n_layouts; l++) {
		for (long r = 0; r < n_q; r++) {
			tmp.n = 0;
			if (p->kind->row(p, l, g->q_offset + r, n_kv, &tmp))
				goto oom;
			pat_canonical(&tmp);
			if (append_ranges(g, &used, &cap, &tmp))
				goto oom;
			g->row_ptr[(int64_t)l * n_q + r + 1] = used;
		}
	}
	free(tmp.r);
	fill_stats(g, heads);
	g->st.keys_used = count_keys_used(g, used);
	if (g->st.keys_used < 0)
		goto oom_built;
	return 0;
oom:
	free(tmp.r);
oom_built:
	gset_free(g);
	snprintf(why, len, "out of memory compiling pattern '%s' at n %ld",
		 p->label[0] ? p->label : p->kind->name, n_kv);
	return -1;
}

void gset_free(struct gset *g)
{
	free(g->row_ptr);
	free(g->ranges);
	g->row_ptr = NULL;
	g->ranges = NULL;
}

int gset_csr(const struct gset *g, int l, int64_t **indptr, int32_t **indices)
{
	int64_t *ptr = malloc(((size_t)g->n_q + 1) * sizeof *ptr);
	int32_t *idx;
	int64_t nnz = 0;

	if (!ptr)
		return -1;
	ptr[0] = 0;
	for (long r = 0; r < g->n_q; r++) {
		int64_t n;
		const struct pat_range *rg = gset_row(g, l, r, &n);
		nnz += gset_row_keys(rg, n);
		ptr[r + 1] = nnz;
	}
	idx = malloc((size_t)(nnz ? nnz : 1) * sizeof *idx);
	if (!idx) {
		free(ptr);
		return -1;
	}
	for (long r = 0; r < g->n_q; r++) {
		int64_t n, at = ptr[r];
		const struct pat_range *rg = gset_row(g, l, r, &n);
		for (int64_t i = 0; i < n; i++)
			for (int32_t j = rg[i].lo; j < rg[i].hi; j++)
				idx[at++] = j;
	}
	*indptr = ptr;
	*indices = idx;
	return 0;
}
