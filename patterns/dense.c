/* dense.c - every key: causal [0, i], bidirectional [0, n). The baseline
 * every sparse design is measured against. */
#include "pattern.h"

static int dense_row(const struct pattern *p, int h, long pos, long n_kv,
		     struct pat_ranges *out)
{
	(void)h;
	return pat_push(out, p, pos, n_kv, 0, n_kv);
}

static long dense_kv_rows(const struct pattern *p, long n)
{
	(void)p;
	return n;
}

const struct pat_kind pat_dense = {
	.name = "dense",                        /* YAML key */
	.summary = "full attention, the baseline",
	.formula = "G_i = [0, i]  (bidirectional: [0, n))",
	.params = NULL,                         /* no parameters */
	.n_params = 0,
	.check = NULL,                          /* nothing to check */
	.row = dense_row,                       /* one range per row */
	.kv_rows = dense_kv_rows,               /* keeps everything */
	.per_head = NULL,                       /* same for every head */
};
