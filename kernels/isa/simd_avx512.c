/* simd_avx512.c - the micro-kernels on AVX-512: 64 queries are 4 zmm
 * lanes; Q K^T runs 4 keys x 64 queries in 16 accumulators over head_dim,
 * P V runs 4 channels x 64 queries; exp2 by rounding, a degree-6
 * polynomial and scalef. Compiled for AVX-512 whatever the build's -march;
 * only called when the CPU has it. */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma,f16c")
#ifdef __clang__      /* clang ignores the GCC pragma (the fuzz build) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma,f16c"))), apply_to = function)
#endif
#include <assert.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "quant.h"
#include "simd.h"

#define V 4                     /* zmm vectors per 64 queries */

/* Keeps x in a register: stops the compiler from re-reading it from memory
 * at each of its uses (folding it into every FMA doubles the loads). */
#define IN_REGISTER(x) __asm__("" : "+v"(x))

/* 2^x, exact 0 for x < -126 (and -inf); |rel err| about 2e-7. */
static inline __m512 exp2_zmm(__m512 x)
{
	const __m512 lo = _mm512_set1_ps(-126.0f);
	__mmask16 live = _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ);
	__m512 n, f, p;

	x = _mm512_max_ps(x, lo);
	n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	f = _mm512_sub_ps(x, n);
	p = _mm512_set1_ps(1.5403530e-4f);
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558e-3f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291e-3f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504109e-2f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022651e-1f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718e-1f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
	return _mm512_maskz_mov_ps(live, _mm512_scalef_ps(p, n));
}

/* s[j + a][q] = sum_c k[j + a][c] qt[c][q] for a < A and the NV x 16
 * query lanes from qt and s: A x NV accumulators; a query column of qt is
 * loaded once for A keys. */
static inline __attribute__((always_inline)) void
qk_keys(const float *qt, const float *k0, int d, float *s, const int A, const int NV)
{
	__m512 acc[4][V];

	for (int a = 0; a < A; a++)
		for (int i = 0; i < NV; i++)
			acc[a][i] = _mm512_setzero_ps();
	for (int c = 0; c < d; c++) {
		__m512 q[V];
		for (int i = 0; i < NV; i++) {
			q[i] = _mm512_loadu_ps(qt + c * TILE_Q + 16 * i);
			IN_REGISTER(q[i]);
		}
		for (int a = 0; a < A; a++) {
			__m512 b = _mm512_set1_ps(k0[(long)a * d + c]);
			for (int i = 0; i < NV; i++)
				acc[a][i] = _mm512_fmadd_ps(q[i], b, acc[a][i]);
		}
	}
	for (int a = 0; a < A; a++)
		for (int i = 0; i < NV; i++)
			_mm512_storeu_ps(s + a * TILE_Q + 16 * i, acc[a][i]);
}

/* 4 keys at a time (16 accumulators; 6 measured no faster here), then
 * one. */
static inline __attribute__((always_inline)) void
qk_lanes(const float *qt, const float *k, int nk, int d, float *s, const int NV)
{
	int j = 0;

	for (; j + 4 <= nk; j += 4)
		qk_keys(qt, k + (long)j * d, d, s + j * TILE_Q, 4, NV);
	for (; j < nk; j++)
		qk_keys(qt, k + (long)j * d, d, s + j * TILE_Q, 1, NV);
}

static void qk_avx512(const float *qt, const float *k, int nk, int d, float *s,
		      int q0, int q1)
{
	if (q1 - q0 == TILE_Q)
		qk_lanes(qt, k, nk, d, s, V);
	else
		qk_lanes(qt + q0, k, nk, d, s + q0, V / 2);
}

static void bias_avx512(float *s, int nk, const float *b, int q0, int q1)
{
	for (int k = 0; k < nk; k++)
		for (int q = q0; q < q1; q += 16) {
			float *at = s + k * TILE_Q + q;
			_mm512_storeu_ps(at, _mm512_add_ps(_mm512_loadu_ps(at), _mm512_loadu_ps(b + q - k)));
		}
}

/* tanh |y| = (1 - e^-2|y|) / (1 + e^-2|y|) by the exp2 above, sign put back. */
static void softcap_avx512(float *x, int n, float c)
{
	const __m512 inv = _mm512_set1_ps(1.0f / c), cc = _mm512_set1_ps(c);
	const __m512 k2 = _mm512_set1_ps(-2.0f * 1.4426950408889634f), one = _mm512_set1_ps(1.0f);
	const __m512i sign = _mm512_set1_epi32((int)0x80000000u);

	for (int i = 0; i < n; i += 16) {
		__mmask16 live = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
		__m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(live, x + i), inv);
		__m512i yi = _mm512_castps_si512(y);
		__m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, yi));
		__m512 t = exp2_zmm(_mm512_mul_ps(a, k2));
		__m512 th = _mm512_div_ps(_mm512_sub_ps(one, t), _mm512_add_ps(one, t));
		th = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(th),
							 _mm512_and_si512(yi, sign)));
		_mm512_mask_storeu_ps(x + i, live, _mm512_mul_ps(th, cc));
	}
}

/* Transposes the 16 x 16 block of rows r[0..15] in place. */
static inline void transpose16(__m512 r[16])
{
	__m512 t[16];

	for (int i = 0; i < 16; i += 2) {       /* 2 x 2 blocks of floats */
		t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
	}
	for (int i = 0; i < 16; i += 4) {       /* 4 x 4 blocks */
		r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
		r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
		r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
		r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
	}
	for (int i = 0; i < 4; i++) {           /* 128-bit lanes: 8 x 8, then 16 x 16 */
		t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
		t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
		t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
		t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
	}
	for (int i = 0; i < 4; i++) {
		r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
		r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
		r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
		r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
	}
}

/* 16 x 16 blocks in registers; edge blocks through masks. */
static void transpose_avx512(const float *src, long lds, float *dst, long ldd,
			     int rows, int cols, float scale)
{
	const __m512 sc = _mm512_set1_ps(scale);

	for (int i0 = 0; i0 < rows; i0 += 16)
		for (int c0 = 0; c0 < cols; c0 += 16) {
			int nr = rows - i0 < 16 ? rows - i0 : 16, nc = cols - c0 < 16 ? cols - c0 : 16;
			__mmask16 mc = (__mmask16)((1u << nc) - 1), mr = (__mmask16)((1u << nr) - 1);
			__m512 r[16];
			for (int i = 0; i < 16; i++)
				r[i] = i < nr ? _mm512_mul_ps(_mm512_maskz_loadu_ps(mc, src + (i0 + i) * lds + c0), sc)
					      : _mm512_setzero_ps();
			transpose16(r);
			for (int c = 0; c < nc; c++)
				_mm512_mask_storeu_ps(dst + (c0 + c) * ldd + i0, mr, r[c]);
		}
}

static void mask_avx512(float *s, int nk, const unsigned long long *keep)
{
	const __m512 ninf = _mm512_set1_ps(-INFINITY);

	for (int k = 0; k < nk; k++)
		if (~keep[k])
			for (int v = 0; v < V; v++)
				_mm512_mask_storeu_ps(s + k * TILE_Q + 16 * v,
						      (__mmask16)~(keep[k] >> (16 * v)), ninf);
}

static void softmax_avx512(float *s, int nk, float *m, float *l, float *ot, int d,
			   int q0, int q1)
{
	const __m512 ninf = _mm512_set1_ps(-INFINITY);
	__m512 alpha[V];
	__mmask16 moved = 0;

	for (int i = q0 / 16; i < q1 / 16; i++) {
		__m512 mold = _mm512_loadu_ps(m + 16 * i), mx = mold, safe, sum;
		for (int j = 0; j < nk; j++)
			mx = _mm512_max_ps(mx, _mm512_loadu_ps(s + j * TILE_Q + 16 * i));
		safe = _mm512_mask_mov_ps(mx, _mm512_cmp_ps_mask(mx, ninf, _CMP_EQ_OQ),
					  _mm512_setzero_ps());
		alpha[i] = exp2_zmm(_mm512_sub_ps(mold, safe));
		moved |= _mm512_cmp_ps_mask(mx, mold, _CMP_NEQ_UQ);
		sum = _mm512_setzero_ps();
		for (int j = 0; j < nk; j++) {
			__m512 p = exp2_zmm(_mm512_sub_ps(_mm512_loadu_ps(s + j * TILE_Q + 16 * i), safe));
			_mm512_storeu_ps(s + j * TILE_Q + 16 * i, p);
			sum = _mm512_add_ps(sum, p);
		}
		_mm512_storeu_ps(l + 16 * i, _mm512_fmadd_ps(_mm512_loadu_ps(l + 16 * i), alpha[i], sum));
		_mm512_storeu_ps(m + 16 * i, mx);
	}
	if (!moved)
		return;         /* no running max changed: nothing to rescale */
	for (int c = 0; c < d; c++)
		for (int i = q0 / 16; i < q1 / 16; i++) {
			float *o = ot + c * TILE_Q + 16 * i;
			_mm512_storeu_ps(o, _mm512_mul_ps(_mm512_loadu_ps(o), alpha[i]));
		}
}

/* ot[c + a][q] += sum_j s[j][q] v[j][c + a] for a < A and the NV x 16
 * query lanes from s and ot: A x NV accumulators; a probability row is
 * loaded once for A channels. */
static inline __attribute__((always_inline)) void
pv_channels(const float *s, const float *v, int nk, int d, float *ot, const int A,
	    const int NV)
{
	__m512 acc[4][V];

	for (int a = 0; a < A; a++)
		for (int i = 0; i < NV; i++)
			acc[a][i] = _mm512_loadu_ps(ot + a * TILE_Q + 16 * i);
	for (int j = 0; j < nk; j++) {
		__m512 p[V];
		const float *vj = v + (long)j * d;
		for (int i = 0; i < NV; i++) {
			p[i] = _mm512_loadu_ps(s + j * TILE_Q + 16 * i);
			IN_REGISTER(p[i]);
		}
		for (int a = 0; a < A; a++) {
			__m512 b = _mm512_set1_ps(vj[a]);
			for (int i = 0; i < NV; i++)
				acc[a][i] = _mm512_fmadd_ps(p[i], b, acc[a][i]);
		}
	}
	for (int a = 0; a < A; a++)
		for (int i = 0; i < NV; i++)
			_mm512_storeu_ps(ot + a * TILE_Q + 16 * i, acc[a][i]);
}

/* 4 channels at a time, then one. */
static inline __attribute__((always_inline)) void
pv_lanes(const float *s, const float *v, int nk, int d, float *ot, const int NV)
{
	int c = 0;

	for (; c + 4 <= d; c += 4)
		pv_channels(s, v + c, nk, d, ot + c * TILE_Q, 4, NV);
	for (; c < d; c++)
		pv_channels(s, v + c, nk, d, ot + c * TILE_Q, 1, NV);
}

static void pv_avx512(const float *s, const float *v, int nk, int d, float *ot,
		      int q0, int q1)
{
	if (q1 - q0 == TILE_Q)
		pv_lanes(s, v, nk, d, ot, V);
	else
		pv_lanes(s + q0, v, nk, d, ot + q0, V / 2);
}

static float exp2_sum_avx512(float *x, int n, float m)
{
	__m512 mm = _mm512_set1_ps(m), sum = _mm512_setzero_ps();
	int i = 0;

	for (; i + 16 <= n; i += 16) {
		__m512 p = exp2_zmm(_mm512_sub_ps(_mm512_loadu_ps(x + i), mm));
		_mm512_storeu_ps(x + i, p);
		sum = _mm512_add_ps(sum, p);
	}
	if (i < n) {
		__mmask16 k = (__mmask16)((1u << (n - i)) - 1);
		__m512 p = exp2_zmm(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mm));
		p = _mm512_maskz_mov_ps(k, p);
		_mm512_mask_storeu_ps(x + i, k, p);
		sum = _mm512_add_ps(sum, p);
	}
	return _mm512_reduce_add_ps(sum);
}

static float max_avx512(const float *x, int n, float m)
{
	__m512 a = _mm512_set1_ps(m), b = a;
	int i = 0;

	/* two chains: vmaxps's latency, not its throughput, bounds one */
	for (; i + 32 <= n; i += 32) {
		a = _mm512_max_ps(_mm512_loadu_ps(x + i), a);
		b = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), b);
	}
	for (; i < n; i += 16) {
		__mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
		a = _mm512_mask_max_ps(a, k, _mm512_maskz_loadu_ps(k, x + i), a);
	}
	return _mm512_reduce_max_ps(_mm512_max_ps(a, b));
}

/* Sum of the 16 lanes of each of a, b, c, e, in order, as 4 floats. */
static inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 e)
{
	__m256 ab = _mm256_hadd_ps(_mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1)),
				   _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1)));
	__m256 ce = _mm256_hadd_ps(_mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1)),
				   _mm256_add_ps(_mm512_castps512_ps256(e), _mm512_extractf32x8_ps(e, 1)));
	__m256 all = _mm256_hadd_ps(ab, ce);
	return _mm_add_ps(_mm256_castps256_ps128(all), _mm256_extractf128_ps(all, 1));
}

/* Bytes ahead of the fp8 rows being read that dots and axpys prefetch
 * (the block paths' reason: BLOCK_AHEAD below). */
#define ROWS_AHEAD 2048

/* 16 elements of a K/V row stored as t (enum dtype) from element c,
 * widened to fp32; m masks a tail. */
static inline __m512 load_kv(const char *row, int c, int t, __mmask16 m)
{
	const unsigned short *h = (const unsigned short *)row + c;

	if (t == DT_F32)
		return _mm512_maskz_loadu_ps(m, (const float *)row + c);
	if (t == DT_F16)
		return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, h));
	if (t == DT_FP8_E5M2 || t == DT_FP8_E4M3) {
		__m256i x = _mm256_cvtepu8_epi16(_mm_maskz_loadu_epi8(m, (const unsigned char *)row + c));
		if (t == DT_FP8_E5M2)
			return _mm512_cvtph_ps(_mm256_slli_epi16(x, 8));
		return _mm512_cvtph_ps(_mm256_or_si256(
			_mm256_slli_epi16(_mm256_and_si256(x, _mm256_set1_epi16(0x80)), 8),
			_mm256_slli_epi16(_mm256_and_si256(x, _mm256_set1_epi16(0x7f)), 7)));
	}
	return _mm512_castsi512_ps(_mm512_slli_epi32(
		_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, h)), 16));
}

/* s[i] = q . row i, 4 keys at a time; specialised by the callers on
 * rows/base and a constant t. */
static inline __attribute__((always_inline)) void
dots_rows(const float *q, const float *const *rows, const void *base, int t,
	  int n, int d, float *s)
{
	int i = 0, full = d & ~15;
	__mmask16 tail = (__mmask16)((1u << (d & 15)) - 1);

	for (; i + 4 <= n; i += 4) {
		const char *r0 = simd_row(rows, base, i, d, DT_BYTES(t));
		const char *r1 = simd_row(rows, base, i + 1, d, DT_BYTES(t));
		const char *r2 = simd_row(rows, base, i + 2, d, DT_BYTES(t));
		const char *r3 = simd_row(rows, base, i + 3, d, DT_BYTES(t));
		__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		if (!rows && DT_BYTES(t) == 1)          /* fp8: see BLOCK_AHEAD */
			for (int at = 0; at < 4 * d; at += 64)
				_mm_prefetch(r0 + ROWS_AHEAD + at, _MM_HINT_T0);
		for (int c = 0; c < d; c += 16) {
			__mmask16 m = c < full ? 0xffff : tail;
			__m512 qv = _mm512_maskz_loadu_ps(m, q + c);
			a0 = _mm512_fmadd_ps(qv, load_kv(r0, c, t, m), a0);
			a1 = _mm512_fmadd_ps(qv, load_kv(r1, c, t, m), a1);
			a2 = _mm512_fmadd_ps(qv, load_kv(r2, c, t, m), a2);
			a3 = _mm512_fmadd_ps(qv, load_kv(r3, c, t, m), a3);
		}
		_mm_storeu_ps(s + i, reduce4(a0, a1, a2, a3));
	}
	for (; i < n; i++) {
		const char *r = simd_row(rows, base, i, d, DT_BYTES(t));
		__m512 a = _mm512_setzero_ps();
		for (int c = 0; c < d; c += 16) {
			__mmask16 m = c < full ? 0xffff : tail;
			a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + c), load_kv(r, c, t, m), a);
		}
		s[i] = _mm512_reduce_add_ps(a);
	}
}

/* acc[c0 + c] += sum_i p[i] row i [c0 + c] over nv vectors of channels in
 * registers (the last one masked by last), so a V row is read once. */
static inline __attribute__((always_inline)) void
axpys_block(float *acc, const float *p, const float *const *rows, const void *base,
	    int t, int n, int d, int c0, const int nv, __mmask16 last)
{
	__m512 a[8];

	for (int v = 0; v < nv; v++)
		a[v] = _mm512_maskz_loadu_ps(v == nv - 1 ? last : 0xffff, acc + c0 + 16 * v);
	for (int i = 0; i < n; i++) {
		__m512 pb = _mm512_set1_ps(p[i]);
		const char *r = simd_row(rows, base, i, d, DT_BYTES(t));
		if (!rows && DT_BYTES(t) == 1 && c0 == 0)
			_mm_prefetch(r + ROWS_AHEAD, _MM_HINT_T0);
		for (int v = 0; v < nv; v++)
			a[v] = _mm512_fmadd_ps(pb, load_kv(r, c0 + 16 * v, t,
							   v == nv - 1 ? last : 0xffff), a[v]);
	}
	for (int v = 0; v < nv; v++)
		_mm512_mask_storeu_ps(acc + c0 + 16 * v, v == nv - 1 ? last : 0xffff, a[v]);
}

/* acc[c] += sum_i p[i] row i [c]: 128 channels at a time, then 64, then
 * 16 (the last masked). */
static inline __attribute__((always_inline)) void
axpys_rows(float *acc, const float *p, const float *const *rows, const void *base,
	   int t, int n, int d)
{
	int c = 0;

	for (; c + 128 <= d; c += 128)
		axpys_block(acc, p, rows, base, t, n, d, c, 8, 0xffff);
	for (; c + 64 <= d; c += 64)
		axpys_block(acc, p, rows, base, t, n, d, c, 4, 0xffff);
	for (; c < d; c += 16)
		axpys_block(acc, p, rows, base, t, n, d, c, 1,
			    d - c >= 16 ? 0xffff : (__mmask16)((1u << (d - c)) - 1));
}

static void dots_avx512(const float *q, const float *const *rows, int n, int d,
			float *s)
{
	dots_rows(q, rows, NULL, DT_F32, n, d, s);
}

static void axpys_avx512(float *acc, const float *p, const float *const *rows,
			 int n, int d)
{
	axpys_rows(acc, p, rows, NULL, DT_F32, n, d);
}

/* The common head dims get their own copies, unrolled whole. */
#define BY_HEAD_DIM(call, d) \
	do { \
		if ((d) == 64) \
			call(64); \
		else if ((d) == 128) \
			call(128); \
		else \
			call(d); \
	} while (0)

/* The 32 codes of a llama.cpp block as two vectors of fp32 (q8_0's int8,
 * q4_0's nibbles less 8). */
static inline void block_codes(const uint8_t *b, int t, __m512 *lo, __m512 *hi)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(b + 2));

	if (t == DT_Q8_0) {
		*lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(x));
		*hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 18))));
		return;
	}
	__m512i w = _mm512_cvtepu8_epi32(x), eight = _mm512_set1_epi32(8);
	*lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(w, _mm512_set1_epi32(15)), eight));
	*hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(w, 4), eight));
}

static inline float block_scale(const uint8_t *b)
{
	unsigned short h;

	memcpy(&h, b, sizeof h);
	return _cvtsh_ss(h);
}

/* Bytes ahead of the rows being decoded that the block paths prefetch:
 * their decoding stalls on loads the hardware prefetcher alone leaves
 * late (measured: q8_0 decode at n = 262144). */
#define BLOCK_AHEAD 2048

/* q . one block of row r: the products summed in lanes, then scaled. */
static inline __m512 block_dot(const float *q, const uint8_t *r, int t, __m512 a)
{
	__m512 lo, hi;

	block_codes(r, t, &lo, &hi);
	return _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_loadu_ps(q), lo,
					       _mm512_mul_ps(_mm512_loadu_ps(q + 16), hi)),
			       _mm512_set1_ps(block_scale(r)), a);
}

/* s[i] = q . row i over rows of llama.cpp blocks (d a multiple of 32),
 * 4 rows at a time (as many loads in flight as the plain rows have). */
static inline __attribute__((always_inline)) void
dots_blocks(const float *q, const void *k, int t, int n, int d, float *s)
{
	size_t bb = t == DT_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES, rb = bb * (size_t)(d / Q_BLOCK);
	int i = 0;

	for (; i + 4 <= n; i += 4) {
		const uint8_t *r = (const uint8_t *)k + (size_t)i * rb;
		__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		for (size_t at = 0; at < 4 * rb; at += 64)
			_mm_prefetch((const char *)r + BLOCK_AHEAD + at, _MM_HINT_T0);
		for (int c = 0; c < d; c += Q_BLOCK, r += bb) {
			a0 = block_dot(q + c, r, t, a0);
			a1 = block_dot(q + c, r + rb, t, a1);
			a2 = block_dot(q + c, r + 2 * rb, t, a2);
			a3 = block_dot(q + c, r + 3 * rb, t, a3);
		}
		_mm_storeu_ps(s + i, reduce4(a0, a1, a2, a3));
	}
	for (; i < n; i++) {
		const uint8_t *r = (const uint8_t *)k + (size_t)i * rb;
		__m512 a = _mm512_setzero_ps();
		for (int c = 0; c < d; c += Q_BLOCK, r += bb)
			a = block_dot(q + c, r, t, a);
		s[i] = _mm512_reduce_add_ps(a);
	}
}

/* acc[c] += sum_i p[i] row i [c] over rows of llama.cpp blocks, up to 256
 * channels in registers at a time. */
static inline __attribute__((always_inline)) void
axpys_blocks(float *acc, const float *p, const void *v, int t, int n, int d)
{
	size_t bb = t == DT_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES, rb = bb * (size_t)(d / Q_BLOCK);

	for (int c0 = 0; c0 < d; c0 += 8 * 16) {
		int nb = (d - c0) / Q_BLOCK < 4 ? (d - c0) / Q_BLOCK : 4;
		__m512 a[8];
		for (int x = 0; x < 2 * nb; x++)
			a[x] = _mm512_loadu_ps(acc + c0 + 16 * x);
		for (int i = 0; i < n; i++) {
			const uint8_t *r = (const uint8_t *)v + (size_t)i * rb + (size_t)(c0 / Q_BLOCK) * bb;
			_mm_prefetch((const char *)r + BLOCK_AHEAD, _MM_HINT_T0);
			for (int b = 0; b < nb; b++, r += bb) {
				__m512 lo, hi, ps = _mm512_set1_ps(p[i] * block_scale(r));
				block_codes(r, t, &lo, &hi);
				a[2 * b] = _mm512_fmadd_ps(ps, lo, a[2 * b]);
				a[2 * b + 1] = _mm512_fmadd_ps(ps, hi, a[2 * b + 1]);
			}
		}
		for (int x = 0; x < 2 * nb; x++)
			_mm512_storeu_ps(acc + c0 + 16 * x, a[x]);
	}
}

/* 16 KIVI codes of `bits` bits packed from p (2 or 4 bytes of 2-bit
 * codes, 8 of 4-bit ones) as 16 lanes of fp32. */
static inline __m512 kivi_codes16(const uint8_t *p, int bits)
{
	__m512i w;

	if (bits == 2) {
		unsigned int u;
		memcpy(&u, p, sizeof u);
		w = _mm512_srlv_epi32(_mm512_set1_epi32((int)u),
				      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
		return _mm512_cvtepi32_ps(_mm512_and_si512(w, _mm512_set1_epi32(3)));
	}
	unsigned long long u;
	memcpy(&u, p, sizeof u);
	w = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32((int)(unsigned)u)),
			       _mm256_set1_epi32((int)(unsigned)(u >> 32)), 1);
	w = _mm512_srlv_epi32(w, _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28));
	return _mm512_cvtepi32_ps(_mm512_and_si512(w, _mm512_set1_epi32(15)));
}

/* KIVI keys: 16 tokens of a group in lanes, a channel's codes a step, two
 * chains over the channels. */
static void dots_kivi_avx512(const float *qg, float base, const uint8_t *codes, int bits,
			     int group, int i0, int n, int d, float *s)
{
	size_t cb = (size_t)group * (size_t)bits / 8;

	for (int t0 = i0 & ~15; t0 < i0 + n; t0 += 16) {
		const uint8_t *c0 = codes + (size_t)t0 * (size_t)bits / 8;
		__m512 a0 = _mm512_set1_ps(base), a1 = _mm512_setzero_ps();
		float lanes[16];
		for (int c = 0; c + 1 < d; c += 2) {
			a0 = _mm512_fmadd_ps(_mm512_set1_ps(qg[c]), kivi_codes16(c0 + (size_t)c * cb, bits), a0);
			a1 = _mm512_fmadd_ps(_mm512_set1_ps(qg[c + 1]), kivi_codes16(c0 + (size_t)(c + 1) * cb, bits), a1);
		}
		if (d & 1)
			a0 = _mm512_fmadd_ps(_mm512_set1_ps(qg[d - 1]), kivi_codes16(c0 + (size_t)(d - 1) * cb, bits), a0);
		_mm512_storeu_ps(lanes, _mm512_add_ps(a0, a1));
		for (int l = 0; l < 16; l++)
			if (t0 + l >= i0 && t0 + l < i0 + n)
				s[t0 + l - i0] = lanes[l];
	}
}

/* KIVI value rows: per group of `group` channels, acc += (p scale) codes,
 * 16 channels a vector; the zero points' share p zero added once a group. */
static void axpys_kivi_avx512(float *acc, const float *p, const void *v, int bits, int n,
			      int d, int group)
{
	size_t gb = 4 + (size_t)group * (size_t)bits / 8, rb = (size_t)(d / group) * gb;

	for (int i = 0; i < n; i++) {
		const uint8_t *g = (const uint8_t *)v + (size_t)i * rb;
		_mm_prefetch((const char *)g + ROWS_AHEAD, _MM_HINT_T0);
		for (int c = 0; c < d; c += group, g += gb) {
			__m512 ps = _mm512_set1_ps(p[i] * block_scale(g)), pz = _mm512_set1_ps(p[i] * block_scale(g + 2));
			for (int j = 0; j < group; j += 16) {
				__m512 a = _mm512_loadu_ps(acc + c + j);
				a = _mm512_fmadd_ps(ps, kivi_codes16(g + 4 + (size_t)j * bits / 8, bits), _mm512_add_ps(a, pz));
				_mm512_storeu_ps(acc + c + j, a);
			}
		}
	}
}



/* The storage types' slots: head_dim 64 and 128 fixed at compile time (kv_slots.h). */
#define KV_BY_D(CALL)            \
	if (d == 64)             \
		CALL(64);        \
	else if (d == 128)       \
		CALL(128);       \
	else                     \
		CALL(d);
#define KV_KIVI_AXPYS(acc, p, v, bits, n, d, g) axpys_kivi_avx512(acc, p, v, bits, n, d, g)
#include "kv_slots.h"

const struct simd_ops simd_avx512 = {
	.name = "avx512",                       /* 16 lanes, 32 registers */
	.qk = qk_avx512,                        /* 4 keys x 64 queries */
	.transpose = transpose_avx512,          /* 16 x 16 blocks in registers */
	.mask = mask_avx512,                    /* masked stores of -inf */
	.bias = bias_avx512,                    /* 16 lanes a load */
	.softcap = softcap_avx512,              /* tanh by the polynomial exp2 */
	.softmax = softmax_avx512,              /* lane-wise online softmax */
	.pv = pv_avx512,                        /* 4 channels x 64 queries */
	.exp2_sum = exp2_sum_avx512,            /* polynomial exp2 */
	.max = max_avx512,                      /* two chains of 16 lanes */
	.dots = dots_avx512,                    /* 4 keys at a time */
	.axpys = axpys_avx512,                  /* 128 channels in registers */
	SIMD_KV_SLOTS,                          /* decoded as they are loaded */
	.dots_kivi = dots_kivi_avx512,          /* 16 tokens in lanes, codes by vpsrlvd */
};

#ifdef __clang__
#pragma clang attribute pop
#endif
