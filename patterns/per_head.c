/* per_head.c - a different pattern per head, as MInference assigns each
 * head the pattern that fits it offline: head h uses child h mod count
 * (so a list as long as the head count gives every head its own, and a
 * shorter list repeats). sabench's report writes such lists for the
 * cheapest pattern that keeps a target share of each head's attention. */
#include <stdio.h>

#include "pattern.h"

static int per_head_row(const struct pattern *p, int h, long pos, long n_kv,
			struct pat_ranges *out)
{
	const struct pattern *c = &p->child[(size_t)h % p->n_child];

	return c->kind->row(c, h, pos, n_kv, out);
}

static int per_head_check(const struct pattern *p, char *why, size_t len)
{
	if (p->n_child)
		return 0;
	snprintf(why, len, "'per_head' needs at least one child pattern");
	return -1;
}

/* Rows a decoder keeps: the most any head's pattern keeps. */
static long per_head_kv_rows(const struct pattern *p, long n)
{
	long most = 0;

	for (size_t c = 0; c < p->n_child; c++) {
		long k = pat_kv_rows(&p->child[c], n);
		most = k > most ? k : most;
	}
	return most;
}

static int per_head_varies(const struct pattern *p)
{
	return p->n_child > 1;
}

const struct pat_kind pat_per_head_kind = {
	.name = "per_head",                     /* YAML key, a list of patterns */
	.summary = "head h uses child h mod count (per-head patterns, as MInference picks them)",
	.formula = "G_i of head h = G_i of child (h mod count)",
	.params = NULL,                         /* children only */
	.n_params = 0,
	.check = per_head_check,                /* at least one child */
	.row = per_head_row,                    /* the head's child */
	.kv_rows = per_head_kv_rows,            /* the largest child's */
	.per_head = per_head_varies,            /* more than one child */
	.composite = 1,
};
