/* document.c - packed sequences (attention-gym document_mask, xformers
 * BlockDiagonal): documents of the given lengths lie back to back and a
 * query sees only its own document, causally. Positions past the listed
 * lengths form one more document that runs to the end. */
#include "pattern.h"

enum { DOC_LENGTHS };

static const struct pat_param document_params[] = {
	[DOC_LENGTHS] = { "lengths", PAT_INT_LIST, 1, 0, 1, 2147483647,
			  "token count of each document, in order" },
};

/* Start and end of the document holding pos. */
static void document_bounds(const struct pattern *p, long pos, long *lo,
			    long *hi)
{
	const struct pat_list *l = &p->val[DOC_LENGTHS].list;
	long start = 0;

	for (size_t d = 0; d < l->n; d++) {
		if (pos < start + l->v[d]) {
			*lo = start;
			*hi = start + (long)l->v[d];
			return;
		}
		start += (long)l->v[d];
	}
	*lo = start;
	*hi = 2147483647L;
}

static int document_row(const struct pattern *p, int h, long pos, long n_kv,
			struct pat_ranges *out)
{
	long lo, hi;

	(void)h;
	document_bounds(p, pos, &lo, &hi);
	return pat_push(out, p, pos, n_kv, lo, hi);
}

static long document_kv_rows(const struct pattern *p, long n)
{
	long lo, hi;

	document_bounds(p, n - 1, &lo, &hi);
	return n - lo;
}

const struct pat_kind pat_document = {
	.name = "document",                     /* YAML key */
	.summary = "packed documents, causal inside each (document masking)",
	.formula = "G_i = [start(doc(i)), i]",
	.params = document_params,              /* lengths */
	.n_params = 1,
	.check = NULL,                          /* lengths >= 1 by the bounds */
	.row = document_row,                    /* one range per row */
	.kv_rows = document_kv_rows,            /* the current document */
	.per_head = NULL,                       /* same for every head */
};
