/* tensor.h - the ggml tensor types a GGUF file may hold that sabench
 * reads, one table line each: ggml's type id, name, values and bytes a
 * block, and the dequantisation of a row to fp32, each equal to ggml's
 * reference dequantize_row_* (ggml-quants.c) bit for bit. */
#ifndef SABENCH_TENSOR_H
#define SABENCH_TENSOR_H

#include <stddef.h>
#include <stdint.h>

enum tensor_type {
	TT_F32,                 /* ggml 0 */
	TT_F16,                 /* ggml 1 */
	TT_Q5_0,                /* ggml 6: 32 values, f16 d, 32 high bits, 16 bytes of nibbles */
	TT_Q8_0,                /* ggml 8: 32 values, f16 d, 32 int8 */
	TT_Q4_K,                /* ggml 12: 256 values, f16 d and dmin, 6-bit scales and mins */
	TT_Q6_K,                /* ggml 14: 256 values, 4 + 2 bit codes, int8 scales, f16 d */
	TT_BF16,                /* ggml 30 */
	TT_COUNT
};

struct tensor_type_desc {
	const char *name;       /* ggml's: "q4_K" */
	uint32_t ggml_id;       /* the id in a GGUF file */
	int block;              /* values a block */
	int block_bytes;        /* bytes a block */
	/* y[0, n) := the n values at x (n a whole number of blocks) */
	void (*dequant)(const void *x, float *y, int64_t n);
};

/* The descriptor of t. */
const struct tensor_type_desc *tensor_type_of(enum tensor_type t);

/* The type whose GGUF id is id, or -1. */
int tensor_type_find(uint32_t id);

/* Bytes of n values of type t (n a whole number of its blocks), or 0. */
uint64_t tensor_row_bytes(enum tensor_type t, int64_t n);

/* fp16 -> fp32, exact (ggml's GGML_FP16_TO_FP32). */
float tensor_f16(uint16_t h);

#endif
