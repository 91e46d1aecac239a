/* simd.h - instruction-set paths shared by the fast kernels: which ISA
 * runs (chosen once at run time, forced with SABENCH_ISA=portable|avx2|
 * avx512|avx512bf16|amx for tests), and the per-ISA micro-kernels the
 * tiled and row-wise kernels are built from (BLIS's split: portable
 * framework, per-ISA kernels). All scores are in the log2 domain: q is
 * pre-scaled by log2(e)/sqrt(d), so the softmax uses exp2. */
#ifndef SABENCH_SIMD_H
#define SABENCH_SIMD_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

/* In order of preference. The last two differ from avx512 only in their
 * bf16 arithmetic (bf16.h): fp32 work runs avx512's micro-kernels. */
enum kern_isa {
	KERN_PORTABLE, KERN_AVX2, KERN_AVX512, KERN_AVX512BF16, KERN_AMX, KERN_ISA_COUNT
};

struct bf16_ops;

#define TILE_Q 64               /* queries per tile: lanes of the micro-kernels */
#define TILE_K 64               /* keys per tile */

/* Micro-kernels of one ISA. Tiles are transposed: qt[c][q] and ot[c][q]
 * hold TILE_Q queries in lanes; s[k][q] holds scores, then probabilities. */
/* A cache type's slots (struct simd_ops, indexed by enum dtype). */
typedef void (*simd_dots_kv_fn)(const float *q, const void *k, int n, int d, float *s);
typedef void (*simd_axpys_kv_fn)(float *acc, const float *p, const void *v, int n, int d,
				 int group);

struct simd_ops {
	const char *name;               /* "avx512", "avx2", "portable" */
	/* qk, softmax and pv work on the query lanes [q0, q1): the whole
	 * tile, or the half (0-32, 32-64) a partial tile needs */
	/* s[k][q] = sum_c k[k][c] qt[c][q] for k < nk (k rows d apart) */
	void (*qk)(const float *qt, const float *k, int nk, int d, float *s, int q0, int q1);
	/* dst[c * ldd + i] = src[i * lds + c] * scale, i < rows, c < cols:
	 * packs query rows into a tile's lanes and writes a tile back */
	void (*transpose)(const float *src, long lds, float *dst, long ldd,
			  int rows, int cols, float scale);
	/* s[k][q] := -inf where bit q of keep[k] is 0, for k < nk */
	void (*mask)(float *s, int nk, const unsigned long long *keep);
	/* s[k][q] += b[q - k] for k < nk, q in [q0, q1): a bias by offset
	 * i - j (score.h), one unaligned load per key and vector of lanes */
	void (*bias)(float *s, int nk, const float *b, int q0, int q1);
	/* x[i] := c tanh(x[i] / c) for i < n: soft-capping (score.h) */
	void (*softcap)(float *x, int n, float c);
	/* online softmax over s[0, nk): updates m, l, rescales ot, s := p */
	void (*softmax)(float *s, int nk, float *m, float *l, float *ot, int d, int q0, int q1);
	/* ot[c][q] += sum_k s[k][q] v[k][c] */
	void (*pv)(const float *s, const float *v, int nk, int d, float *ot, int q0, int q1);
	/* x[i] := exp2(x[i] - m) for i < n (exp2(-inf) = 0); returns the sum */
	float (*exp2_sum)(float *x, int n, float m);
	/* the largest of m and x[i] for i < n (a NaN in x is passed over) */
	float (*max)(const float *x, int n, float m);
	/* s[i] = q . rows[i] for i < n (rows of d floats) */
	void (*dots)(const float *q, const float *const *rows, int n, int d, float *s);
	/* acc[c] += sum_i p[i] rows[i][c] */
	void (*axpys)(float *acc, const float *p, const float *const *rows, int n, int d);
	/* by enum dtype: dots over n K cache rows stored one after another
	 * in that type, of row-local form (plain, fp8 without its tensor
	 * scale, q8_0 and q4_0 blocks), decoded as they are loaded (decode
	 * reads each byte once); NULL for KIVI, whose keys are coded across
	 * tokens (dots_kivi) */
	simd_dots_kv_fn dots_kv[DT_COUNT];
	/* by enum dtype: acc[c] += sum_i p[i] row i [c] over n V cache rows
	 * (the forms above, and KIVI value rows of `group` channels a
	 * scale) */
	simd_axpys_kv_fn axpys_kv[DT_COUNT];
	/* KIVI keys, tokens [i0, i0 + n) of a group of `group` coded per
	 * channel (channel c's codes at codes + c group bits / 8): s[i] =
	 * base + sum_c qg[c] code(c, i0 + i), with qg = q x the channels'
	 * scales and base = q . their zero points (the caller's, once a
	 * group) */
	void (*dots_kivi)(const float *qg, float base, const uint8_t *codes, int bits,
			  int group, int i0, int n, int d, float *s);
};

/* The dots_kv and axpys_kv tables of a path that defines dots_<type> and
 * axpys_<type> for each storage type (kv_slots.h makes them for the fast
 * paths, simd_portable.c its own). */
#define SIMD_KV_SLOTS                                                                           \
	.dots_kv = {                                                                             \
		[DT_F32] = dots_f32, [DT_F16] = dots_f16, [DT_BF16] = dots_bf16,                  \
		[DT_Q8_0] = dots_q8_0, [DT_Q4_0] = dots_q4_0,                                     \
		[DT_KIVI2] = NULL, [DT_KIVI4] = NULL,   /* keys by dots_kivi */                   \
		[DT_FP8_E4M3] = dots_e4m3, [DT_FP8_E5M2] = dots_e5m2,                             \
	},                                                                                       \
	.axpys_kv = {                                                                            \
		[DT_F32] = axpys_f32, [DT_F16] = axpys_f16, [DT_BF16] = axpys_bf16,               \
		[DT_Q8_0] = axpys_q8_0, [DT_Q4_0] = axpys_q4_0,                                   \
		[DT_KIVI2] = axpys_kivi2, [DT_KIVI4] = axpys_kivi4,                               \
		[DT_FP8_E4M3] = axpys_e4m3, [DT_FP8_E5M2] = axpys_e5m2,                           \
	}

extern const struct simd_ops simd_portable, simd_avx2, simd_avx512;

/* The KIVI slots in plain C (every path: the compiler vectorises them). */
void simd_dots_kivi_scalar(const float *qg, float base, const uint8_t *codes, int bits,
			   int group, int i0, int n, int d, float *s);
void simd_axpys_kivi_scalar(float *acc, const float *p, const void *v, int bits, int n,
			    int d, int group);

/* The transpose slot element by element (the portable and AVX2 paths). */
void simd_transpose_scalar(const float *src, long lds, float *dst, long ldd,
			   int rows, int cols, float scale);

/* Row i of a K or V operand: rows[i] when the rows are named by pointer,
 * else the i-th of the rows of d esize-byte elements stored one after
 * another from base. */
static inline const char *simd_row(const float *const *rows, const void *base,
				   int i, int d, int esize)
{
	return rows ? (const char *)rows[i]
		    : (const char *)base + (size_t)i * (size_t)d * (size_t)esize;
}

/* The ISA in use: SABENCH_ISA if set and supported, else the best the CPU
 * has. */
enum kern_isa kern_isa(void);

/* Its fp32 micro-kernels and name. */
const struct simd_ops *kern_simd(void);
/* The fp32 micro-kernels of any path, whether or not this CPU runs it (the
 * one table: tests loop over it, never over a copy). */
const struct simd_ops *kern_simd_of(enum kern_isa isa);
const char *kern_isa_name(enum kern_isa isa);

/* Its bf16 micro-kernels, or NULL where bf16 is widened to fp32 (avx2,
 * avx512: no bf16 arithmetic). */
const struct bf16_ops *kern_bf16(void);
/* The bf16 micro-kernels of any path (NULL where it widens to fp32). */
const struct bf16_ops *kern_bf16_of(enum kern_isa isa);

/* The path a cell of dtype bf16 (or not) reports and is measured against
 * (the isa column, pct_peak): kern_isa(), but fp32 work on the bf16 ISAs
 * runs avx512's. */
enum kern_isa kern_isa_of(int bf16);

/* Tests only: run ops as the bf16 path whatever the ISA (the AMX model on
 * machines without AMX); NULL goes back to the ISA's. */
void kern_bf16_test_force(const struct bf16_ops *ops);

/* Why isa cannot run here, or NULL. */
const char *kern_isa_unsupported(enum kern_isa isa);

#endif
