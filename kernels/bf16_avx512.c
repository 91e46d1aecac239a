/* bf16_avx512.c - the bf16 micro-kernels on VDPBF16PS (AVX512-BF16, e.g.
 * AMD Zen 4/5, Intel Cooper Lake and later): each instruction sums the
 * products of 16 lanes of bf16 pairs into fp32. Q K^T runs 4 keys x 64
 * queries in 16 accumulators over head_dim / 2 pair rows of the query
 * tile, a key's pair broadcast; P V runs 4 channels x 64 queries over the
 * chunk's key pairs, a V^T pair broadcast. Compiled for AVX512-BF16
 * whatever the build's -march; only called when the CPU has it. */
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16,fma")
#ifdef __clang__      /* clang ignores the GCC pragma (the fuzz build) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma"))), apply_to = function)
#endif
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "bf16.h"
#include "simd.h"

#define V 4                     /* zmm vectors per 64 queries */

/* The 32-bit pair at a (2-byte aligned), in every lane. */
static inline __m512i pair_all(const uint16_t *a)
{
	uint32_t w;

	memcpy(&w, a, sizeof w);
	return _mm512_set1_epi32((int)w);
}

static inline __m512 dp(__m512 acc, __m512i a, __m512i b)
{
	return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
}

/* out[a][q] (rows TILE_Q apart) for a < 4 and the NV x 16 lanes:
 * sum over pairs c of x2[c][q] . y[a][2c, 2c + 1] (rows of y ldy apart),
 * added to out (accumulate) or scaled into it. Q K^T: x2 the query pairs,
 * y four K rows; P V: x2 the P pairs, y four rows of V^T. A row of x2 is
 * loaded once for the four rows of y. */
static inline __attribute__((always_inline)) void
rows4(const uint32_t *x2, const uint16_t *y, long ldy, int pairs, float *out,
      const int accumulate, float scale, const int NV)
{
	__m512 acc[4][V];

	for (int a = 0; a < 4; a++)
		for (int i = 0; i < NV; i++)
			acc[a][i] = accumulate ? _mm512_loadu_ps(out + a * TILE_Q + 16 * i)
					       : _mm512_setzero_ps();
	for (int c = 0; c < pairs; c++) {
		__m512i x[V];
		for (int i = 0; i < NV; i++)
			x[i] = _mm512_loadu_si512(x2 + (size_t)c * TILE_Q + 16 * i);
		for (int a = 0; a < 4; a++) {
			__m512i b = pair_all(y + (size_t)a * (size_t)ldy + 2 * (size_t)c);
			for (int i = 0; i < NV; i++)
				acc[a][i] = dp(acc[a][i], x[i], b);
		}
	}
	for (int a = 0; a < 4; a++)
		for (int i = 0; i < NV; i++)
			_mm512_storeu_ps(out + a * TILE_Q + 16 * i, accumulate ? acc[a][i] :
					 _mm512_mul_ps(acc[a][i], _mm512_set1_ps(scale)));
}

/* Keys in fours (the pack's zero keys fill the last four); dpad's pairs
 * of channels (the padding's are zero). */
static void qk_avx512bf16(const uint32_t *qt2, const uint16_t *k, long ldk, int nk, int dpad,
			  float scale, float *s, int q0, int q1)
{
	for (int j = 0; j < nk; j += 4) {
		const uint16_t *kj = k + (size_t)j * (size_t)ldk;
		if (q1 - q0 == TILE_Q)
			rows4(qt2, kj, ldk, dpad / 2, s + (size_t)j * TILE_Q, 0, scale, V);
		else
			rows4(qt2 + q0, kj, ldk, dpad / 2, s + (size_t)j * TILE_Q + q0, 0, scale, V / 2);
	}
}

/* Channels in fours (dpad is a multiple of 32) over the chunk's pairs of
 * keys. */
static void pv_avx512bf16(const uint32_t *p2, const uint16_t *vt, long ldv, int nk, int dpad,
			  float *ot, int q0, int q1)
{
	for (int c = 0; c < dpad; c += 4) {
		const uint16_t *vc = vt + (size_t)c * (size_t)ldv;
		if (q1 - q0 == TILE_Q)
			rows4(p2, vc, ldv, (nk + 1) / 2, ot + (size_t)c * TILE_Q, 1, 1.0f, V);
		else
			rows4(p2 + q0, vc, ldv, (nk + 1) / 2, ot + (size_t)c * TILE_Q + q0, 1, 1.0f,
			      V / 2);
	}
}

const struct bf16_ops bf16_avx512bf16 = {
	.name = "avx512bf16",
	.begin = NULL,                  /* no state to set up */
	.end = NULL,
	.qk = qk_avx512bf16,            /* 4 keys x 64 queries per pass */
	.pv = pv_avx512bf16,            /* 4 channels x 64 queries per pass */
};

#ifdef __clang__
#pragma clang attribute pop
#endif
