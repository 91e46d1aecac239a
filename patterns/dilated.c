/* dilated.c - Longformer's dilated sliding window: `size` keys spaced
 * `dilation` apart ending at the query, i, i-d, i-2d, ... (allenai
 * longformer, TVM mode). Bidirectional: centred, floor((size-1)/2) taps
 * before the query. */
#include "pattern.h"

enum { DIL_SIZE, DIL_DILATION };

static const struct pat_param dilated_params[] = {
	[DIL_SIZE] = { "size", PAT_INT, 1, 0, 1, 2147483647,
		       "keys in the window, the query included" },
	[DIL_DILATION] = { "dilation", PAT_INT, 1, 0, 1, 2147483647,
			   "distance between neighbouring keys (1: window)" },
};

static int dilated_row(const struct pattern *p, int h, long pos, long n_kv,
		       struct pat_ranges *out)
{
	long w = (long)p->val[DIL_SIZE].i, d = (long)p->val[DIL_DILATION].i;
	long first = p->causal ? -(w - 1) : -((w - 1) / 2);

	(void)h;
	if (d == 1) {
		long lo, hi;
		pat_window_bounds(p, pos, w, &lo, &hi);
		return pat_push(out, p, pos, n_kv, lo, hi);
	}
	for (long k = first; k < first + w; k++) {
		long j = pos + k * d;
		if (j >= 0 && j < n_kv && pat_push(out, p, pos, n_kv, j, j + 1))
			return -1;
	}
	return 0;
}

static long dilated_kv_rows(const struct pattern *p, long n)
{
	(void)n;
	return (long)((p->val[DIL_SIZE].i - 1) * p->val[DIL_DILATION].i + 1);
}

const struct pat_kind pat_dilated = {
	.name = "dilated",                      /* YAML key */
	.summary = "dilated sliding window (Longformer)",
	.formula = "G_i = {i - k*dilation : 0 <= k < size}",
	.params = dilated_params,               /* size, dilation */
	.n_params = 2,
	.check = NULL,                          /* bounds suffice */
	.row = dilated_row,                     /* one range per tap */
	.kv_rows = dilated_kv_rows,             /* ring of (size-1) d + 1 */
	.per_head = NULL,                       /* same for every head */
	.cache = PAT_CACHE_RING,                /* the last kv_rows rows */
};
