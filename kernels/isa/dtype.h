/* dtype.h - the element types sabench stores: Q, K and V of a problem and
 * the rows of a decode cache, plain (f32, f16, bf16) or compressed (fp8
 * with a per-tensor scale, llama.cpp's q8_0 / q4_0 blocks, KIVI's 2- and
 * 4-bit groups). One enum, one descriptor a type (its name, form, bits,
 * the bytes its scales take, whether Q/K/V may use it, the verification
 * limits its rounding allows, its row coder), and the scalar conversions,
 * inline so that the kernels' loops over rows vectorise. Lowest in the
 * tree: the ISA paths include it, and the experiment, the caches,
 * verification and the cost model read it. A storage type is one enum
 * value, one table line (dtype.c) and its coder (quant.c). */
#ifndef SABENCH_DTYPE_H
#define SABENCH_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "half.h"

enum dtype {
	DT_F32,                 /* IEEE binary32 */
	DT_F16,                 /* IEEE binary16 (cache only) */
	DT_BF16,                /* bfloat16: fp32's exponent, 8 bits of mantissa */
	DT_Q8_0,                /* llama.cpp q8_0: 32 int8 + an f16 scale */
	DT_Q4_0,                /* llama.cpp q4_0: 32 nibbles + an f16 scale */
	DT_KIVI2,               /* KIVI, 2 bits: asymmetric groups */
	DT_KIVI4,               /* KIVI, 4 bits */
	DT_FP8_E4M3,            /* fp8 e4m3 with a per-tensor fp32 scale (vLLM) */
	DT_FP8_E5M2,            /* fp8 e5m2, likewise */
	DT_COUNT
};

/* How a type lays out a row of d values. */
enum dt_form {
	DT_FORM_PLAIN,          /* one value an element, no scale */
	DT_FORM_FP8,            /* one byte an element; one scale per cache tensor */
	DT_FORM_BLOCK,          /* blocks of `block` values along the row, an f16 scale each */
	DT_FORM_KIVI,           /* groups of kv_group with f16 scale and zero point:
				 * values along the row, keys along kv_group tokens
				 * of one channel; the newest kv_residual tokens f16 */
	DT_FORM_COUNT
};

/* Bytes of an element of a plain or fp8 type t: a constant where the
 * micro-kernels are specialised on t. */
#define DT_BYTES(t) ((t) == DT_F32 ? 4 : (t) == DT_FP8_E4M3 || (t) == DT_FP8_E5M2 ? 1 : 2)

/* What a row coder needs beyond the values. */
struct dt_params {
	float scale;            /* fp8: the cache tensor's scale (value = code x scale) */
	int group;              /* KIVI: kv_group */
};

struct dtype_desc {
	const char *name;       /* "f32", "q8_0", "kivi2": YAML, CSV, cell keys */
	enum dt_form form;      /* how a row is laid out */
	int bits;               /* per stored value, scales aside */
	int lossy;              /* 1: stored values differ from fp32's (quality measures a cache of it) */
	int block;              /* values one scale covers along a row (0: kv_group) */
	int scale_bytes;        /* bytes of a block's scale (and zero point) */
	int e4m3;               /* fp8: 1 e4m3, 0 e5m2 */
	int operand;            /* 1: Q, K, V may be stored in it (shape: dtype) */
	double max_abs;         /* verification: largest |out - oracle| its rounding allows */
	double max_nmse;        /* and sum (out - oracle)^2 / sum oracle^2 */
	/* row := the d values of x coded; a KIVI row is a value row (keys
	 * are coded by the cache, across tokens) */
	void (*encode)(void *row, const float *x, int d, const struct dt_params *par);
	/* out := the d values row holds, decoded to fp32 (fp8: times scale) */
	void (*decode)(float *out, const void *row, int d, const struct dt_params *par);
};

/* The descriptor of t. */
const struct dtype_desc *dtype_of(enum dtype t);

/* Bytes one token's K (or V) row of d values takes when stored as t, its
 * scales and zero points included (KIVI keys: the amortised share of
 * their group's). */
size_t dtype_row_bytes(enum dtype t, int d, int group);

/* The unit a row's width must be a whole number of to be stored as t:
 * its block, a KIVI group (group values), or 1. */
int dtype_width_unit(enum dtype t, int group);

/* The names by enum, NULL-ended (the vocabulary of kv_dtype). */
extern const char *const dtype_names[];

/* The type called name, or -1. */
int dtype_find(const char *name);



/* fp8 as the f16 bit pattern the ISA paths widen: e5m2 is f16's top
 * byte; e4m3's fields placed in f16's give the value over DT_E4M3_UNBIAS
 * (denormals too; its NaN code reads as 480, and sabench's coder never
 * writes it for a finite value). */
#define DT_E4M3_UNBIAS 256.0f
static inline uint16_t dt_fp8_f16_bits(uint8_t b, int e4m3)
{
	return e4m3 ? (uint16_t)((b & 0x80u) << 8 | (b & 0x7fu) << 7) : (uint16_t)(b << 8);
}

#endif
