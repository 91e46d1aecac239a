/* csr.c - a G-set computed elsewhere (a model's real top-k, another tool's
 * mask, sabench's own --dump), given as CSR arrays: indptr of n + 1 row
 * offsets (or [heads, n + 1], one row of offsets per head into the same
 * indices) and the sorted key indices of every row. The harness reads the
 * .npy files; this kind only checks and walks the arrays. */
#include <stdio.h>

#include "pattern.h"

enum { CSR_INDPTR, CSR_INDICES };

static const struct pat_param csr_params[] = {
	[CSR_INDPTR]  = { "indptr", PAT_FILE, 1, 0, 0, 0,
			  ".npy of int64 row offsets: [n + 1] or [heads, n + 1]" },
	[CSR_INDICES] = { "indices", PAT_FILE, 1, 0, 0, 0,
			  ".npy of int32 key positions, ascending within each row" },
};

/* Layouts (1, or heads) and rows per layout of the indptr array. */
static void csr_dims(const struct pattern *p, long *layouts, long *rows)
{
	const struct pat_blob *b = p->val[CSR_INDPTR].file.blob;

	*layouts = b->ndim == 2 ? (long)b->dim[0] : 1;
	*rows = (long)b->dim[b->ndim - 1] - 1;
}

/* Offsets of row r of layout l: [*lo, *hi) into indices. */
static void csr_span(const struct pattern *p, long l, long r, int64_t *lo,
		     int64_t *hi)
{
	const struct pat_blob *b = p->val[CSR_INDPTR].file.blob;
	long rows, layouts;

	csr_dims(p, &layouts, &rows);
	*lo = b->v[l * (rows + 1) + r];
	*hi = b->v[l * (rows + 1) + r + 1];
}

static int csr_check_offsets(const struct pattern *p, char *why, size_t len)
{
	const struct pat_blob *ptr = p->val[CSR_INDPTR].file.blob;
	size_t nnz = p->val[CSR_INDICES].file.blob->n;
	long layouts, rows;

	csr_dims(p, &layouts, &rows);
	if (ptr->ndim > 2 || p->val[CSR_INDICES].file.blob->ndim != 1 || rows < 1) {
		snprintf(why, len, "'indptr' must have shape [n + 1] or [heads, n + 1] with n >= 1, and 'indices' one dimension");
		return -1;
	}
	for (long l = 0; l < layouts; l++)
		for (long r = 0; r <= rows; r++) {
			int64_t at = ptr->v[l * (rows + 1) + r];
			if (at < 0 || (size_t)at > nnz) {
				snprintf(why, len, "'indptr' entry %lld of row %ld is outside [0, %zu] (the length of 'indices')",
					 (long long)at, r, nnz);
				return -1;
			}
			if (r && at < ptr->v[l * (rows + 1) + r - 1]) {
				snprintf(why, len, "'indptr' is not monotone: row %ld starts at %lld after %lld",
					 r, (long long)at, (long long)ptr->v[l * (rows + 1) + r - 1]);
				return -1;
			}
		}
	return 0;
}

static int csr_check_indices(const struct pattern *p, char *why, size_t len)
{
	const int64_t *ix = p->val[CSR_INDICES].file.blob->v;
	long layouts, rows;

	csr_dims(p, &layouts, &rows);
	for (long l = 0; l < layouts; l++)
		for (long r = 0; r < rows; r++) {
			int64_t lo, hi;
			csr_span(p, l, r, &lo, &hi);
			for (int64_t i = lo; i < hi; i++) {
				if (ix[i] < 0 || ix[i] >= rows) {
					snprintf(why, len, "'indices' holds key %lld in row %ld, outside [0, %ld)",
						 (long long)ix[i], r, rows);
					return -1;
				}
				if (i > lo && ix[i] <= ix[i - 1]) {
					snprintf(why, len, "'indices' of row %ld are not strictly increasing: %lld after %lld",
						 r, (long long)ix[i], (long long)ix[i - 1]);
					return -1;
				}
				if (p->causal && ix[i] > r) {
					snprintf(why, len, "row %ld has key %lld after the query; causal rows hold only j <= i (or set causal: false)",
						 r, (long long)ix[i]);
					return -1;
				}
			}
		}
	return 0;
}

static int csr_check(const struct pattern *p, char *why, size_t len)
{
	if (!p->val[CSR_INDPTR].file.blob || !p->val[CSR_INDICES].file.blob) {
		snprintf(why, len, "'csr' needs 'indptr' and 'indices' read from files");
		return -1;
	}
	return csr_check_offsets(p, why, len) || csr_check_indices(p, why, len) ? -1 : 0;
}

static int csr_check_n(const struct pattern *p, long n, char *why, size_t len)
{
	long layouts, rows;

	csr_dims(p, &layouts, &rows);
	if (n > rows) {
		snprintf(why, len, "'indptr' has %ld rows; seq_len %ld is longer", rows, n);
		return -1;
	}
	return 0;
}

static int csr_check_heads(const struct pattern *p, long heads, char *why,
			   size_t len)
{
	long layouts, rows;

	csr_dims(p, &layouts, &rows);
	if (p->val[CSR_INDPTR].file.blob->ndim == 2 && layouts != heads) {
		snprintf(why, len, "'indptr' has %ld heads; the experiment has %ld", layouts, heads);
		return -1;
	}
	return 0;
}

/* Runs of consecutive keys of row pos become ranges (the first pos rows
 * of the file: a prefix of a causal G is the G of the prefix). */
static int csr_row(const struct pattern *p, int h, long pos, long n_kv,
		   struct pat_ranges *out)
{
	const int64_t *ix = p->val[CSR_INDICES].file.blob->v;
	long layouts, rows;
	int64_t lo, hi, i;

	csr_dims(p, &layouts, &rows);
	if (pos < 0 || pos >= rows)
		return 0;
	csr_span(p, layouts > 1 ? h % layouts : 0, pos, &lo, &hi);
	for (i = lo; i < hi;) {
		int64_t j = i + 1;
		while (j < hi && ix[j] == ix[j - 1] + 1)
			j++;
		if (pat_push(out, p, pos, n_kv, (long)ix[i], (long)ix[j - 1] + 1))
			return -1;
		i = j;
	}
	return 0;
}

static long csr_kv_rows(const struct pattern *p, long n)
{
	(void)p;
	return n;               /* rows to come are unknown: all */
}

static int csr_per_head(const struct pattern *p)
{
	return p->val[CSR_INDPTR].file.blob && p->val[CSR_INDPTR].file.blob->ndim == 2;
}

const struct pat_kind pat_csr = {
	.name = "csr",                          /* YAML key */
	.summary = "a G-set read from .npy CSR arrays (a model's top-k, another tool's mask, --dump)",
	.formula = "G_i = indices[indptr[i] : indptr[i + 1]]  (per head with [heads, n + 1])",
	.params = csr_params,                   /* indptr, indices */
	.n_params = 2,
	.check = csr_check,                     /* offsets, order, range, causality */
	.check_n = csr_check_n,                 /* seq_len within the file */
	.check_heads = csr_check_heads,         /* per-head rows match heads */
	.row = csr_row,                         /* runs of keys -> ranges */
	.kv_rows = csr_kv_rows,                 /* future rows unknown: all */
	.per_head = csr_per_head,               /* [heads, n + 1] */
};
