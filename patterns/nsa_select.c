/* nsa_select.c - the selection branch of NSA (Yuan et al. 2025, "Native
 * Sparse Attention"), training-free: keys are compressed by their mean
 * over blocks of compress_block every compress_stride; each query's
 * softmax over the compressed keys it has fully seen scores the
 * select_block blocks that they overlap; the top select_n blocks are read,
 * the first and the local_blocks nearest always among them. NSA's gated
 * sum of three branches is not one softmax over a G-set, so only this
 * branch is here. Selection: select/nsa_select.c. */
#include <stdio.h>

#include "pattern.h"
#include "selected.h"

enum { NSA_CBLOCK, NSA_CSTRIDE, NSA_SBLOCK, NSA_SN, NSA_LOCAL, NSA_SHARE };

static const struct pat_param nsa_params[] = {
	[NSA_CBLOCK] = { "compress_block", PAT_INT, 0, 32, 1, 65536,
			 "keys per compressed key (l)" },
	[NSA_CSTRIDE] = { "compress_stride", PAT_INT, 0, 16, 1, 65536,
			  "step between compressed keys (d)" },
	[NSA_SBLOCK] = { "select_block", PAT_INT, 0, 64, 1, 65536,
			 "keys per selected block (l')" },
	[NSA_SN] = { "select_n", PAT_INT, 0, 16, 1, 1048576,
		     "blocks read per query (n)" },
	[NSA_LOCAL] = { "local_blocks", PAT_INT, 0, 2, 0, 1048576,
			"nearest blocks always read" },
	[NSA_SHARE] = PAT_SHARE_PARAM,
};

static int nsa_check(const struct pattern *p, char *why, size_t len)
{
	if (p->val[NSA_CSTRIDE].i > p->val[NSA_CBLOCK].i)
		return snprintf(why, len, "'compress_stride' %lld exceeds 'compress_block' %lld",
				p->val[NSA_CSTRIDE].i, p->val[NSA_CBLOCK].i), -1;
	if (p->val[NSA_SBLOCK].i % p->val[NSA_CSTRIDE].i)
		return snprintf(why, len, "'compress_stride' %lld does not divide 'select_block' %lld",
				p->val[NSA_CSTRIDE].i, p->val[NSA_SBLOCK].i), -1;
	if (p->val[NSA_SN].i < p->val[NSA_LOCAL].i + 1)
		return snprintf(why, len, "'select_n' is %lld, below the first and %lld local blocks",
				p->val[NSA_SN].i, p->val[NSA_LOCAL].i), -1;
	return 0;
}

const struct pat_kind pat_nsa_select = {
	.name = "nsa_select",                   /* YAML key */
	.summary = "blocks chosen by compressed attention (NSA's selection branch)",
	.formula = "G_i = top select_n blocks of select_block keys by compressed "
		   "softmax mass, first and local_blocks nearest always",
	.params = nsa_params,                   /* compress_block .. local_blocks */
	.n_params = 6,
	.check = nsa_check,                     /* stride, alignment, room */
	.check_n = NULL,
	.row = NULL,                            /* selected: select/ */
	.kv_rows = pat_selected_kv_rows,
	.per_head = pat_selected_per_head,
	.selected = PAT_PREFILL | PAT_DECODE,
};
