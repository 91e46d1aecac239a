/* bf16_avx512.c - the bf16 micro-kernels on VDPBF16PS (AVX512-BF16, e.g.
 * AMD Zen 4/5, Intel Cooper Lake and later): each instruction sums the
 * products of 16 lanes of bf16 pairs into fp32. Q K^T runs 4 keys x 64
 * queries in 16 accumulators over head_dim / 2 pair rows of the query
 * tile, a key's pair broadcast; P V runs 4 channels x 64 queries over the
 * chunk's key pairs, a V^T pair broadcast. Compiled for AVX512-BF16
 * whatever the build's -march; only called when the CPU has it.
 * bf16_avx512_model.c compiles this file again on a software model of the
 * seven vector operations below (the tests'). */
#include <stdint.h>
#include <string.h>

#ifndef AVX512BF16_MODEL
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16,fma")
#ifdef __clang__      /* clang ignores the GCC pragma (the fuzz build) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma"))), apply_to = function)
#endif
#include <immintrin.h>
#endif

#include "bf16.h"
#include "simd.h"

#define V 4                     /* 16-lane vectors per 64 queries */

#ifdef AVX512BF16_MODEL
#define OPS bf16_avx512bf16_model
#define NAME "avx512bf16-model"

/* 16 fp32 lanes; 16 lanes of two bf16 (the even one low). */
typedef struct { float f[16]; } vps;
typedef struct { uint32_t u[16]; } vpair;

static inline vps zero(void)
{
	vps r = { { 0 } };

	return r;
}

static inline vps load_ps(const float *at)
{
	vps r;

	memcpy(r.f, at, sizeof r.f);
	return r;
}

static inline vpair load_pairs(const uint32_t *at)
{
	vpair r;

	memcpy(r.u, at, sizeof r.u);
	return r;
}

static inline void store_ps(float *at, vps x)
{
	memcpy(at, x.f, sizeof x.f);
}

static inline vps scale_ps(vps x, float s)
{
	for (int i = 0; i < 16; i++)
		x.f[i] *= s;
	return x;
}

/* The 32-bit pair at a (2-byte aligned), in every lane. */
static inline vpair pair_all(const uint16_t *a)
{
	vpair r;
	uint32_t w;

	memcpy(&w, a, sizeof w);
	for (int i = 0; i < 16; i++)
		r.u[i] = w;
	return r;
}

static inline float bf16_daz(uint16_t h)
{
	return (h & 0x7f80) ? dt_from_bf16(h) : 0.0f;
}

/* Intel SDM, VDPBF16PS: per lane, the odd products' term added first,
 * then the even one's, each rounded to fp32; bf16 denormals read as 0. */
static inline vps dp(vps acc, vpair a, vpair b)
{
	for (int i = 0; i < 16; i++) {
		acc.f[i] += bf16_daz((uint16_t)(a.u[i] >> 16)) * bf16_daz((uint16_t)(b.u[i] >> 16));
		acc.f[i] += bf16_daz((uint16_t)a.u[i]) * bf16_daz((uint16_t)b.u[i]);
	}
	return acc;
}
#else
#define OPS bf16_avx512bf16
#define NAME "avx512bf16"

typedef __m512 vps;
typedef __m512i vpair;

static inline vps zero(void)
{
	return _mm512_setzero_ps();
}

static inline vps load_ps(const float *at)
{
	return _mm512_loadu_ps(at);
}

static inline vpair load_pairs(const uint32_t *at)
{
	return _mm512_loadu_si512(at);
}

static inline void store_ps(float *at, vps x)
{
	_mm512_storeu_ps(at, x);
}

static inline vps scale_ps(vps x, float s)
{
	return _mm512_mul_ps(x, _mm512_set1_ps(s));
}

static inline vpair pair_all(const uint16_t *a)
{
	uint32_t w;

	memcpy(&w, a, sizeof w);        /* a is 2-byte aligned only */
	return _mm512_set1_epi32((int)w);
}

static inline vps dp(vps acc, vpair a, vpair b)
{
	return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
}
#endif

/* out[a][q] (rows TILE_Q apart) for a < 4 and the NV x 16 lanes:
 * sum over pairs c of x2[c][q] . y[a][2c, 2c + 1] (rows of y ldy apart),
 * added to out (accumulate) or scaled into it. Q K^T: x2 the query pairs,
 * y four K rows; P V: x2 the P pairs, y four rows of V^T. A row of x2 is
 * loaded once for the four rows of y. */
static inline __attribute__((always_inline)) void
rows4(const uint32_t *x2, const uint16_t *y, long ldy, int pairs, float *out,
      const int accumulate, float scale, const int NV)
{
	vps acc[4][V];

	for (int a = 0; a < 4; a++)
		for (int i = 0; i < NV; i++)
			acc[a][i] = accumulate ? load_ps(out + a * TILE_Q + 16 * i) : zero();
	for (int c = 0; c < pairs; c++) {
		vpair x[V];
		for (int i = 0; i < NV; i++)
			x[i] = load_pairs(x2 + (size_t)c * TILE_Q + 16 * i);
		for (int a = 0; a < 4; a++) {
			vpair b = pair_all(y + (size_t)a * (size_t)ldy + 2 * (size_t)c);
			for (int i = 0; i < NV; i++)
				acc[a][i] = dp(acc[a][i], x[i], b);
		}
	}
	for (int a = 0; a < 4; a++)
		for (int i = 0; i < NV; i++)
			store_ps(out + a * TILE_Q + 16 * i,
				 accumulate ? acc[a][i] : scale_ps(acc[a][i], scale));
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

const struct bf16_ops OPS = {
	.name = NAME,
	.begin = NULL,                  /* no state to set up */
	.end = NULL,
	.qk = qk_avx512bf16,            /* 4 keys x 64 queries per pass */
	.pv = pv_avx512bf16,            /* 4 channels x 64 queries per pass */
};

#if !defined(AVX512BF16_MODEL) && defined(__clang__)
#pragma clang attribute pop
#endif
