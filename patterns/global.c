/* global.c - global tokens (Longformer, attention-gym PR #215): every
 * query sees the listed token positions, and a global token sees every
 * key. Alone it leaves ordinary rows with only the global keys (empty
 * before the first one); unite it with a window to get Longformer. */
#include <stdio.h>

#include "pattern.h"

enum { GLOBAL_TOKENS };

static const struct pat_param global_params[] = {
	[GLOBAL_TOKENS] = { "tokens", PAT_INT_LIST, 1, 0, 0, 2147483646,
			    "positions of the global tokens, ascending" },
};

static int global_check(const struct pattern *p, char *why, size_t len)
{
	const struct pat_list *t = &p->val[GLOBAL_TOKENS].list;

	if (!t->n) {
		snprintf(why, len, "'tokens' is empty");
		return -1;
	}
	for (size_t i = 1; i < t->n; i++)
		if (t->v[i] <= t->v[i - 1]) {
			snprintf(why, len, "'tokens' must be strictly increasing: %lld after %lld",
				 t->v[i], t->v[i - 1]);
			return -1;
		}
	return 0;
}

static int global_check_n(const struct pattern *p, long n, char *why, size_t len)
{
	const struct pat_list *t = &p->val[GLOBAL_TOKENS].list;

	if (t->v[t->n - 1] >= n) {
		snprintf(why, len, "token %lld is out of range for seq_len %ld",
			 t->v[t->n - 1], n);
		return -1;
	}
	return 0;
}

/* 1 when pos is a global token (binary search). */
static int is_global(const struct pat_list *t, long pos)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->v[mid] < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n && t->v[lo] == pos;
}

static int global_row(const struct pattern *p, int h, long pos, long n_kv,
		      struct pat_ranges *out)
{
	const struct pat_list *t = &p->val[GLOBAL_TOKENS].list;

	(void)h;
	if (is_global(t, pos))
		return pat_push(out, p, pos, n_kv, 0, n_kv);
	for (size_t i = 0; i < t->n; i++)
		if (pat_push(out, p, pos, n_kv, t->v[i], t->v[i] + 1))
			return -1;
	return 0;
}

static long global_kv_rows(const struct pattern *p, long n)
{
	const struct pat_list *t = &p->val[GLOBAL_TOKENS].list;
	long kept = 0;

	if (t->v[t->n - 1] >= n - 1)
		return n;               /* a global query is still to come */
	for (size_t i = 0; i < t->n; i++)
		kept += t->v[i] < n;
	return kept;
}

const struct pat_kind pat_global = {
	.name = "global",                       /* YAML key */
	.summary = "global tokens: seen by every query, seeing every key (Longformer)",
	.formula = "G_i = {g in tokens : g <= i}, or [0, i] when i is a token",
	.params = global_params,                /* tokens */
	.n_params = 1,
	.check = global_check,                  /* ascending, not empty */
	.check_n = global_check_n,              /* tokens below seq_len */
	.row = global_row,                      /* tokens, or everything */
	.kv_rows = global_kv_rows,              /* tokens; all if one is to come */
	.per_head = NULL,                       /* same for every head */
};
