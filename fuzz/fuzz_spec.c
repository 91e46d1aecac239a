/* fuzz_spec.c - libFuzzer target for inline pattern specs (`sabench
 * pattern SPEC`): parse, then compile at n = 48 for 2 heads, build the CSR
 * and block views and round-trip the spec. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../patterns/gset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pattern p, q;
	struct gset g;
	struct gset_blocks bv;
	struct err e;
	char *text, why[256], spec[4096];
	int64_t *ptr;
	int32_t *idx;

	if (size < 1 || size > 4096 || memchr(data + 1, 0, size - 1))
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);      /* first byte: causality */
	text[size - 1] = 0;
	if (exp_parse_spec(text, data[0] & 1, &p, &e) == 0) {
		if (pat_check_n(&p, 48, why, sizeof why) == 0 &&
		    gset_build(&g, &p, 48, 48, 2, why, sizeof why) == 0) {
			if (gset_csr(&g, 0, &ptr, &idx) == 0) {
				free(ptr);
				free(idx);
			}
			if (gset_block_view(&g, 0, 16, 8, &bv) == 0)
				gset_blocks_free(&bv);
			gset_free(&g);
		}
		if (pat_to_spec(&p, spec, sizeof spec) == 0 &&
		    exp_parse_spec(spec, data[0] & 1, &q, &e) == 0)
			pat_free(&q);
		pat_free(&p);
	}
	free(text);
	return 0;
}
