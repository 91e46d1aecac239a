/* prefix_lm.c - prefix language model (attention-gym prefix_lm; T5,
 * PaLI): the first `prefix` tokens attend to each other both ways, later
 * tokens causally to everything before them. The prefix sees the future
 * by design, so causal clipping does not apply to it. */
#include "pattern.h"

enum { PREFIX_PREFIX };

static const struct pat_param prefix_lm_params[] = {
	[PREFIX_PREFIX] = { "prefix", PAT_INT, 1, 0, 0, 2147483647,
			    "tokens of the bidirectional prefix" },
};

static int prefix_lm_row(const struct pattern *p, int h, long pos, long n_kv,
			 struct pat_ranges *out)
{
	long prefix = (long)p->val[PREFIX_PREFIX].i;

	(void)h;
	if (!p->causal)
		return pat_push(out, p, pos, n_kv, 0, n_kv);
	return pat_push(out, p, pos, n_kv, 0, pos < prefix ? prefix : pos + 1);
}

static long prefix_lm_kv_rows(const struct pattern *p, long n)
{
	(void)p;
	return n;
}

const struct pat_kind pat_prefix_lm = {
	.name = "prefix_lm",                    /* YAML key */
	.summary = "bidirectional prefix, causal after it (prefix LM)",
	.formula = "G_i = [0, prefix) if i < prefix, else [0, i]",
	.params = prefix_lm_params,             /* prefix */
	.n_params = 1,
	.check = NULL,                          /* bounds suffice */
	.row = prefix_lm_row,                   /* one range per row */
	.kv_rows = prefix_lm_kv_rows,           /* everything */
	.per_head = NULL,                       /* same for every head */
	.sees_future = 1,                       /* the prefix is bidirectional */
};
