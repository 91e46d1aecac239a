/* window.c - sliding window of `size` keys counted INCLUDING the query
 * itself (HF masking_utils, xformers local masks; attention-gym counts the
 * look-back instead, one fewer). Bidirectional: centred on the query. */
#include "pattern.h"

enum { WINDOW_SIZE };

static const struct pat_param window_params[] = {
	[WINDOW_SIZE] = { "size", PAT_INT, 1, 0, 1, 2147483647,
			  "keys in the window, the query included" },
};

void pat_window_bounds(const struct pattern *p, long pos, long w, long *lo,
		       long *hi)
{
	if (p->causal) {
		*lo = pos - w + 1;
		*hi = pos + 1;
	} else {
		*lo = pos - (w - 1) / 2;
		*hi = *lo + w;
	}
}

static int window_row(const struct pattern *p, int h, long pos, long n_kv,
		      struct pat_ranges *out)
{
	long lo, hi;

	(void)h;
	pat_window_bounds(p, pos, p->val[WINDOW_SIZE].i, &lo, &hi);
	return pat_push(out, p, pos, n_kv, lo, hi);
}

static long window_kv_rows(const struct pattern *p, long n)
{
	long w = (long)p->val[WINDOW_SIZE].i;

	(void)n;
	return w;
}

const struct pat_kind pat_window = {
	.name = "window",                       /* YAML key */
	.summary = "sliding window (Mistral, Longformer local, HF sliding_window)",
	.formula = "G_i = [i-size+1, i]  (bidirectional: size keys centred on i)",
	.params = window_params,                /* size */
	.n_params = 1,
	.check = NULL,                          /* bounds suffice */
	.row = window_row,                      /* one range per row */
	.kv_rows = window_kv_rows,              /* a ring of size rows */
	.per_head = NULL,                       /* same for every head */
	.cache = PAT_CACHE_RING,                /* the last kv_rows rows */
};
