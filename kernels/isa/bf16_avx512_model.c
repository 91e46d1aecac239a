/* bf16_avx512_model.c - the AVX512-BF16 path (bf16_avx512.c) on a
 * software model of its vector operations, for the tests on machines
 * without AVX512-BF16: the path's blocking, lane offsets and operand
 * layouts are checked against the oracle wherever the tests run. */
#define AVX512BF16_MODEL 1
#include "bf16_avx512.c"
