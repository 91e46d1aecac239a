/* chunked.c - chunked local attention (Llama 4, HF masking_utils'
 * chunked_overlay): the sequence is cut into chunks of `size` keys and a
 * query sees its own chunk up to itself (bidirectional: the whole chunk). */
#include "pattern.h"

enum { CHUNK_SIZE };

static const struct pat_param chunked_params[] = {
	[CHUNK_SIZE] = { "size", PAT_INT, 1, 0, 1, 2147483647, "chunk length C" },
};

static int chunked_row(const struct pattern *p, int h, long pos, long n_kv,
		       struct pat_ranges *out)
{
	long c = (long)p->val[CHUNK_SIZE].i, lo = pos / c * c;

	(void)h;
	return pat_push(out, p, pos, n_kv, lo, lo + c);
}

static long chunked_kv_rows(const struct pattern *p, long n)
{
	return (n - 1) % (long)p->val[CHUNK_SIZE].i + 1;
}

const struct pat_kind pat_chunked = {
	.name = "chunked",                      /* YAML key */
	.summary = "chunked local attention (Llama 4)",
	.formula = "G_i = [C*floor(i/C), i]",
	.params = chunked_params,               /* size */
	.n_params = 1,
	.check = NULL,                          /* bounds suffice */
	.row = chunked_row,                     /* one range per row */
	.kv_rows = chunked_kv_rows,             /* the current chunk */
	.per_head = NULL,                       /* same for every head */
	.cache = PAT_CACHE_RING,                /* the last kv_rows rows */
};
