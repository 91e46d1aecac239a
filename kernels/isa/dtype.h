/* dtype.h - the element types sabench stores: Q, K and V of a problem and
 * the rows of a decode cache. One enum, one descriptor a type (its name,
 * bytes, whether Q/K/V may use it, the verification limits its rounding
 * allows), and the scalar conversions, inline so that the kernels' loops
 * over rows vectorise. Lowest in the tree: the ISA paths include it, and
 * the experiment, the caches, verification and the cost model read it.
 * A storage type is one enum value, one table line (dtype.c) and its
 * conversions. */
#ifndef SABENCH_DTYPE_H
#define SABENCH_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum dtype {
	DT_F32,                 /* IEEE binary32 */
	DT_F16,                 /* IEEE binary16 (cache only) */
	DT_BF16,                /* bfloat16: fp32's exponent, 8 bits of mantissa */
	DT_COUNT
};

/* Bytes of an element stored as t: a constant where the micro-kernels are
 * specialised on t (dtype_of(t)->bytes elsewhere). */
#define DT_BYTES(t) ((t) == DT_F32 ? 4 : 2)

struct dtype_desc {
	const char *name;       /* "f32", "f16", "bf16": YAML, CSV, cell keys */
	int bytes;              /* per stored value */
	int operand;            /* 1: Q, K, V may be stored in it (shape: dtype) */
	double max_abs;         /* verification: largest |out - oracle| its rounding allows */
	double max_nmse;        /* and sum (out - oracle)^2 / sum oracle^2 */
	/* element i of row widened to fp32 */
	float (*load)(const void *row, size_t i);
	/* element i of row := x, rounded to nearest even */
	void (*store)(void *row, size_t i, float x);
};

/* The descriptor of t. */
const struct dtype_desc *dtype_of(enum dtype t);

/* The names by enum, NULL-ended (the vocabulary of kv_dtype). */
extern const char *const dtype_names[];

/* The type called name, or -1. */
int dtype_find(const char *name);

/* fp32 <-> f16, round to nearest even, written out (not every compiler
 * has _Float16); the ISA paths widen with F16C / AVX-512. */
uint16_t dt_to_f16(float x);
float dt_from_f16(uint16_t h);

/* fp32 <-> bf16, round to nearest even; inf, nan and denormals convert as
 * IEEE says (bf16 keeps fp32's range). */
static inline uint16_t dt_to_bf16(float x)
{
	uint32_t u;

	memcpy(&u, &x, sizeof u);
	if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu))
		return (uint16_t)((u >> 16) | 0x0040u);         /* quiet nan */
	u += 0x7fffu + ((u >> 16) & 1u);                        /* nearest even */
	return (uint16_t)(u >> 16);
}

static inline float dt_from_bf16(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float x;

	memcpy(&x, &u, sizeof x);
	return x;
}

#endif
