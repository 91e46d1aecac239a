/* registry.c - the one table of kernel variants. Adding a kernel is one
 * file in kernels/ and one line here. */
#include <string.h>

#include "kernel.h"

extern const struct kern_desc kern_oracle, kern_naive, kern_masked, kern_gather,
	kern_ranges, kern_tiled, kern_blas, kern_onednn, kern_decode;

const struct kern_desc *const kern_table[] = {
	&kern_oracle,           /* double-precision reference */
	&kern_naive,            /* row by row, two-pass softmax over G */
	&kern_masked,           /* every causal score, masked: framework style */
	&kern_gather,           /* row-wise, keys gathered by index */
	&kern_ranges,           /* row-wise, contiguous runs of keys */
	&kern_tiled,            /* flash-style block-sparse tiles */
	&kern_blas,             /* sgemm over touched key runs (CBLAS) */
	&kern_onednn,           /* matmul primitives over touched key runs (oneDNN) */
	&kern_decode,           /* token by token through a KV cache */
};

const int kern_count = (int)(sizeof kern_table / sizeof kern_table[0]);

enum kern_isa kern_desc_isa(const struct kern_desc *k, int bf16)
{
	return k->simd ? kern_isa_of(bf16 && k->bf16_simd) : KERN_PORTABLE;
}

const struct kern_desc *kern_find(const char *name)
{
	for (int i = 0; i < kern_count; i++)
		if (strcmp(kern_table[i]->name, name) == 0)
			return kern_table[i];
	return NULL;
}
