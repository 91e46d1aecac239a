/* sink_window.c - attention sinks plus a sliding window (StreamingLLM,
 * MInference's A-shape): the first `sinks` keys stay visible to every
 * query, beside a window of `size` keys that includes the query. */
#include "pattern.h"

enum { SINK_SINKS, SINK_SIZE };

static const struct pat_param sink_window_params[] = {
	[SINK_SINKS] = { "sinks", PAT_INT, 1, 0, 0, 2147483647,
			 "leading keys every query sees" },
	[SINK_SIZE] = { "size", PAT_INT, 1, 0, 1, 2147483647,
			"keys in the window, the query included" },
};

static int sink_window_row(const struct pattern *p, int h, long pos,
			   long n_kv, struct pat_ranges *out)
{
	long lo, hi;
	size_t first = out->n;

	(void)h;
	if (pat_push(out, p, pos, n_kv, 0, p->val[SINK_SINKS].i))
		return -1;
	pat_window_bounds(p, pos, p->val[SINK_SIZE].i, &lo, &hi);
	if (out->n > first && lo <= out->r[out->n - 1].hi) {
		/* window meets the sinks: one range */
		if (hi > n_kv)
			hi = n_kv;
		if (p->causal && hi > pos + 1)
			hi = pos + 1;
		if (hi > out->r[out->n - 1].hi)
			out->r[out->n - 1].hi = (int32_t)hi;
		return 0;
	}
	return pat_push(out, p, pos, n_kv, lo, hi);
}

static long sink_window_kv_rows(const struct pattern *p, long n)
{
	(void)n;
	return (long)(p->val[SINK_SINKS].i + p->val[SINK_SIZE].i);
}

/* The sinks: what a sink_ring cache pins before its ring. */
static long sink_pinned(const struct pattern *p)
{
	return (long)p->val[SINK_SINKS].i;
}

const struct pat_kind pat_sink_window = {
	.name = "sink_window",                  /* YAML key */
	.summary = "attention sinks + sliding window (StreamingLLM, MInference A-shape)",
	.formula = "G_i = [0, sinks) u [i-size+1, i]",
	.params = sink_window_params,           /* sinks, size */
	.n_params = 2,
	.check = NULL,                          /* bounds suffice */
	.row = sink_window_row,                 /* one or two ranges */
	.kv_rows = sink_window_kv_rows,         /* sinks pinned + ring */
	.per_head = NULL,                       /* same for every head */
	.cache = PAT_CACHE_SINK_RING,           /* the sinks pinned, a ring of the window */
	.pinned_rows = sink_pinned,             /* the sinks */
};
