/* vertical_slash.c - MInference's vertical-slash head (Jiang et al. 2024,
 * "MInference 1.0", minference/modules/minference_forward.py): the last
 * last_q queries score every key; the columns and the diagonals that
 * collect most of their softmax are kept for every query. The selection
 * itself is in select/vertical_slash.c. */
#include <stdio.h>

#include "pattern.h"
#include "selected.h"

enum { VS_LAST_Q, VS_VERTICALS, VS_SLASHES, VS_SINK_KEYS, VS_LOCAL, VS_SHARE };

static const struct pat_param vs_params[] = {
	[VS_LAST_Q] = { "last_q", PAT_INT, 0, 64, 1, 65536,
			"queries at the end that estimate the pattern" },
	[VS_VERTICALS] = { "verticals", PAT_INT, 0, 1000, 1, 2147483647,
			   "key columns kept (vertical_size)" },
	[VS_SLASHES] = { "slashes", PAT_INT, 0, 6096, 1, 2147483647,
			 "diagonal offsets kept (slash_size)" },
	[VS_SINK_KEYS] = { "sink_keys", PAT_INT, 0, 30, 0, 2147483647,
			   "first columns always among the verticals" },
	[VS_LOCAL] = { "local_offsets", PAT_INT, 0, 100, 0, 2147483647,
		       "nearest offsets (0 = the diagonal) always among the slashes" },
	[VS_SHARE] = PAT_SHARE_PARAM,
};

static int vs_check(const struct pattern *p, char *why, size_t len)
{
	if (p->val[VS_SINK_KEYS].i > p->val[VS_VERTICALS].i)
		return snprintf(why, len, "'sink_keys' is %lld, above 'verticals' %lld",
				p->val[VS_SINK_KEYS].i, p->val[VS_VERTICALS].i), -1;
	if (p->val[VS_LOCAL].i > p->val[VS_SLASHES].i)
		return snprintf(why, len, "'local_offsets' is %lld, above 'slashes' %lld",
				p->val[VS_LOCAL].i, p->val[VS_SLASHES].i), -1;
	return 0;
}

static int vs_check_n(const struct pattern *p, long n, char *why, size_t len)
{
	if (p->val[VS_LAST_Q].i > n)
		return snprintf(why, len, "'last_q' is %lld, above seq_len %ld",
				p->val[VS_LAST_Q].i, n), -1;
	return 0;
}

const struct pat_kind pat_vertical_slash = {
	.name = "vertical_slash",               /* YAML key */
	.summary = "content-selected columns and diagonals (MInference)",
	.formula = "G_i = {v in V : v <= i} u {i-o : o in S, o <= i}; V, S top "
		   "columns and offsets of the last last_q queries' softmax",
	.params = vs_params,                    /* last_q .. local_offsets */
	.n_params = 6,
	.check = vs_check,                      /* the kept include the forced */
	.check_n = vs_check_n,                  /* last_q <= seq_len */
	.row = NULL,                            /* selected: select/ */
	.kv_rows = pat_selected_kv_rows,        /* every key may be chosen */
	.per_head = pat_selected_per_head,      /* one G per sequence and head */
	.selected = PAT_PREFILL,
};
