/* strided.c - the Sparse Transformer's strided pattern (Child et al.
 * 2019; openai/sparse_attention): a local window of `stride` keys plus
 * every key a multiple of `stride` back. Bidirectional: |i - j| < stride
 * or (i - j) divisible by stride. */
#include "pattern.h"

enum { STRIDED_STRIDE };

static const struct pat_param strided_params[] = {
	[STRIDED_STRIDE] = { "stride", PAT_INT, 1, 0, 1, 2147483647,
			     "local window size and the period of the strided keys" },
};

static int strided_row(const struct pattern *p, int h, long pos, long n_kv,
		       struct pat_ranges *out)
{
	long l = (long)p->val[STRIDED_STRIDE].i;
	long local_lo = pos - l + 1, local_hi = p->causal ? pos + 1 : pos + l;

	(void)h;
	for (long j = pos % l; j < local_lo; j += l)
		if (pat_push(out, p, pos, n_kv, j, j + 1))
			return -1;
	if (pat_push(out, p, pos, n_kv, local_lo, local_hi))
		return -1;
	if (!p->causal)
		for (long j = pos + l; j < n_kv; j += l)
			if (pat_push(out, p, pos, n_kv, j, j + 1))
				return -1;
	return 0;
}

static long strided_kv_rows(const struct pattern *p, long n)
{
	(void)p;
	return n;
}

const struct pat_kind pat_strided = {
	.name = "strided",                      /* YAML key */
	.summary = "local window + strided keys (Sparse Transformer, strided)",
	.formula = "G_i = [i-stride+1, i] u {j <= i : (i - j) mod stride = 0}",
	.params = strided_params,               /* stride */
	.n_params = 1,
	.check = NULL,                          /* bounds suffice */
	.row = strided_row,                     /* taps, then the window */
	.kv_rows = strided_kv_rows,             /* every residue: all */
	.per_head = NULL,                       /* same for every head */
};
