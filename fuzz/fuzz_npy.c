/* fuzz_npy.c - libFuzzer target for the .npy reader (npy inputs and the csr
 * pattern's files): parse the header against the buffer's size, then read
 * every element the header promises and check them for non-finite values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct npy_array a;
	struct err e;
	unsigned char *copy = malloc(size ? size : 1);  /* exact bounds for ASan */
	volatile double sink = 0.0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	memset(&a, 0, sizeof a);
	if (npy_parse(copy, size, "<fuzz>", &a, NPY_WANT_ANY, &e) == 0) {
		for (size_t i = 0; i < a.count && i < (1u << 16); i++)
			sink += npy_get(&a, i);
		(void)npy_check_finite(&a, "<fuzz>", &e);
	}
	(void)sink;
	free(copy);
	return 0;
}
