/* snapkv.c - SnapKV (Li et al. 2024, "SnapKV: LLM Knows What You are
 * Looking for Before Generation"): the last `window` prompt queries vote
 * on the earlier prompt keys (softmax summed over the window, max-pooled
 * over `kernel` keys); the top capacity - window keys and the window are
 * kept, and every decoded token reads those and the tokens decoded since.
 * Decode only. Selection: select/snapkv.c. */
#include <stdio.h>

#include "pattern.h"
#include "selected.h"

enum { SNAP_WINDOW, SNAP_KERNEL, SNAP_CAPACITY, SNAP_SHARE };

static const struct pat_param snap_params[] = {
	[SNAP_WINDOW] = { "window", PAT_INT, 0, 32, 1, 65536,
			  "observation window: the last prompt queries" },
	[SNAP_KERNEL] = { "kernel", PAT_INT, 0, 7, 1, 1025,
			  "max-pooling width over keys (odd)" },
	[SNAP_CAPACITY] = { "capacity", PAT_INT, 0, 1024, 2, 2147483647,
			    "prompt keys kept, the window included" },
	[SNAP_SHARE] = PAT_SHARE_PARAM,
};

static int snap_check(const struct pattern *p, char *why, size_t len)
{
	if (p->val[SNAP_KERNEL].i % 2 == 0)
		return snprintf(why, len, "'kernel' is %lld, must be odd",
				p->val[SNAP_KERNEL].i), -1;
	if (p->val[SNAP_CAPACITY].i <= p->val[SNAP_WINDOW].i)
		return snprintf(why, len, "'capacity' is %lld, must exceed 'window' %lld",
				p->val[SNAP_CAPACITY].i, p->val[SNAP_WINDOW].i), -1;
	return 0;
}

const struct pat_kind pat_snapkv = {
	.name = "snapkv",                       /* YAML key */
	.summary = "prompt KV pruned by an observation window's votes (SnapKV), decode",
	.formula = "G_i = top capacity-window prompt keys by pooled window votes "
		   "u the window u the decoded tokens <= i",
	.params = snap_params,                  /* window, kernel, capacity, share */
	.n_params = 4,
	.check = snap_check,                    /* odd kernel, room past the window */
	.check_n = NULL,
	.row = NULL,                            /* selected: select/ */
	.kv_rows = pat_selected_kv_rows,
	.per_head = pat_selected_per_head,
	.selected = PAT_DECODE,
};
