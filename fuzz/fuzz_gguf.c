/* fuzz_gguf.c - libFuzzer target for the GGUF reader: parse the buffer as
 * a file, then read what a sound one offers (every metadata entry, each
 * string of a string array, the first values of every tensor through its
 * type's dequantisation). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../model/gguf.h"
#include "../model/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy = malloc(size ? size : 1);  /* exact bounds for ASan */
	struct gg_file g;
	char why[1024];
	volatile double sink = 0.0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (gg_parse(&g, copy, size, "<fuzz>", why, sizeof why) == 0) {
		for (uint64_t i = 0; i < g.n_kv; i++) {
			const struct gg_kv *kv = &g.kv[i];
			for (uint64_t j = 0; kv->type == GG_ARRAY && j < kv->v.arr.n && j < 4096; j++)
				sink += kv->v.arr.type == GG_STRING ? (double)kv->v.arr.strs[j].len
								      : gg_arr_num(kv, j);
		}
		for (uint64_t i = 0; i < g.n_tensors; i++) {
			const struct gg_tensor *t = &g.t[i];
			const struct tensor_type_desc *d = tensor_type_of((enum tensor_type)tensor_type_find(t->type));
			int64_t n = t->ne[0] < 4096 ? t->ne[0] : 4096;
			float y[4096];
			if (n % d->block == 0) {
				d->dequant(t->data, y, n);
				sink += y[0];
			}
		}
		gg_close(&g);
	}
	(void)sink;
	free(copy);
	return 0;
}
