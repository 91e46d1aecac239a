/* explicit.c - G-sets written out row by row in the experiment file, for
 * worked examples and hand-made cases: rows: [[0], [0, 1], [], [0, 2]].
 * Rows past the list, and listed rows with no keys, are empty; an empty
 * row's output is defined as zeros by every kernel. Rows and keys past
 * seq_len are refused. */
#include <stdio.h>

#include "pattern.h"

enum { EXPLICIT_ROWS };

static const struct pat_param explicit_params[] = {
	[EXPLICIT_ROWS] = { "rows", PAT_ROWS, 1, 0, 0, 2147483646,
			    "key positions of each query row, ascending" },
};

static int explicit_check(const struct pattern *p, char *why, size_t len)
{
	const struct pat_rows *rows = &p->val[EXPLICIT_ROWS].rows;

	for (size_t i = 0; i < rows->n; i++) {
		const struct pat_list *r = &rows->row[i];
		for (size_t j = 0; j < r->n; j++) {
			if (j && r->v[j] <= r->v[j - 1]) {
				snprintf(why, len,
					 "row %zu keys are not strictly increasing", i);
				return -1;
			}
			if (p->causal && r->v[j] > (long long)i) {
				snprintf(why, len,
					 "row %zu has key %lld after the query; causal rows hold only j <= i",
					 i, r->v[j]);
				return -1;
			}
		}
	}
	return 0;
}

/* Every listed row and every key must lie within seq_len n: a row or a
 * key past it is a mistake, not something to drop. */
static int explicit_check_n(const struct pattern *p, long n, char *why, size_t len)
{
	const struct pat_rows *rows = &p->val[EXPLICIT_ROWS].rows;

	if (rows->n > (size_t)n) {
		snprintf(why, len, "'rows' lists %zu rows; seq_len %ld has only %ld queries",
			 rows->n, n, n);
		return -1;
	}
	for (size_t i = 0; i < rows->n; i++) {
		const struct pat_list *r = &rows->row[i];
		if (r->n && r->v[r->n - 1] >= n) {
			snprintf(why, len, "row %zu has key %lld, outside [0, %ld) at seq_len %ld",
				 i, r->v[r->n - 1], n, n);
			return -1;
		}
	}
	return 0;
}

static int explicit_row(const struct pattern *p, int h, long pos, long n_kv,
			struct pat_ranges *out)
{
	const struct pat_rows *rows = &p->val[EXPLICIT_ROWS].rows;
	const struct pat_list *r;
	size_t j = 0;

	(void)h;
	if (pos < 0 || (size_t)pos >= rows->n)
		return 0;
	r = &rows->row[pos];
	while (j < r->n) {
		size_t k = j + 1;
		while (k < r->n && r->v[k] == r->v[k - 1] + 1)
			k++;
		if (pat_push(out, p, pos, n_kv, r->v[j], r->v[k - 1] + 1))
			return -1;
		j = k;
	}
	return 0;
}

static long explicit_kv_rows(const struct pattern *p, long n)
{
	(void)p;
	return n;
}

const struct pat_kind pat_explicit = {
	.name = "explicit",                     /* YAML key */
	.summary = "rows listed in the experiment file (worked examples)",
	.formula = "G_i = rows[i]  (empty past the list)",
	.params = explicit_params,              /* rows */
	.n_params = 1,
	.check = explicit_check,                /* ascending, causal */
	.check_n = explicit_check_n,            /* rows and keys within seq_len */
	.row = explicit_row,                    /* runs of keys -> ranges */
	.kv_rows = explicit_kv_rows,            /* future rows unknown: all */
	.per_head = NULL,                       /* same for every head */
};
