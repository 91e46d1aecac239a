/* simd_avx2.c - the micro-kernels on AVX2 + FMA: 8 lanes and 16 ymm
 * registers, so the 64 queries go in two halves of 4 ymm; exp2 by
 * rounding, a degree-6 polynomial and an exponent built in the integer
 * unit. Only called when the CPU has AVX2 and FMA. */
#pragma GCC target("avx2,fma,f16c")
#ifdef __clang__      /* clang ignores the GCC pragma (the fuzz build) */
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#endif
#include <assert.h>
#include <immintrin.h>
#include <math.h>

#include "dtype.h"
#include "quant.h"
#include "simd.h"

#define H 4                     /* ymm vectors per half tile (32 queries) */

/* Keeps x in a register rather than re-reading it at each use. */
#define IN_REGISTER(x) __asm__("" : "+x"(x))

/* 2^x, exact 0 for x < -126 (and -inf). */
static inline __m256 exp2_ymm(__m256 x)
{
	const __m256 lo = _mm256_set1_ps(-126.0f);
	__m256 live = _mm256_cmp_ps(x, lo, _CMP_GE_OQ), n, f, p;
	__m256i e;

	x = _mm256_max_ps(x, lo);
	n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	f = _mm256_sub_ps(x, n);
	p = _mm256_set1_ps(1.5403530e-4f);
	p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3333558e-3f));
	p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6181291e-3f));
	p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5504109e-2f));
	p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022651e-1f));
	p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314718e-1f));
	p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
	e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), live);
}

static void qk_avx2(const float *qt, const float *k, int nk, int d, float *s,
		    int q0, int q1)
{
	for (int half = q0; half < q1; half += 8 * H) {
		int j = 0;
		for (; j + 2 <= nk; j += 2) {
			const float *k0 = k + (long)j * d;
			__m256 acc[2][H];
			for (int a = 0; a < 2; a++)
				for (int i = 0; i < H; i++)
					acc[a][i] = _mm256_setzero_ps();
			for (int c = 0; c < d; c++) {
				__m256 q[H];
				for (int i = 0; i < H; i++) {
					q[i] = _mm256_loadu_ps(qt + c * TILE_Q + half + 8 * i);
					IN_REGISTER(q[i]);
				}
				for (int a = 0; a < 2; a++) {
					__m256 b = _mm256_broadcast_ss(k0 + (long)a * d + c);
					for (int i = 0; i < H; i++)
						acc[a][i] = _mm256_fmadd_ps(q[i], b, acc[a][i]);
				}
			}
			for (int a = 0; a < 2; a++)
				for (int i = 0; i < H; i++)
					_mm256_storeu_ps(s + (j + a) * TILE_Q + half + 8 * i, acc[a][i]);
		}
		for (; j < nk; j++) {
			__m256 acc[H];
			for (int i = 0; i < H; i++)
				acc[i] = _mm256_setzero_ps();
			for (int c = 0; c < d; c++) {
				__m256 b = _mm256_broadcast_ss(k + (long)j * d + c);
				for (int i = 0; i < H; i++)
					acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(qt + c * TILE_Q + half + 8 * i), b, acc[i]);
			}
			for (int i = 0; i < H; i++)
				_mm256_storeu_ps(s + j * TILE_Q + half + 8 * i, acc[i]);
		}
	}
}

static void mask_avx2(float *s, int nk, const unsigned long long *keep)
{
	const __m256 ninf = _mm256_set1_ps(-INFINITY);
	const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);

	for (int k = 0; k < nk; k++)
		if (~keep[k])
			for (int v = 0; v < TILE_Q / 8; v++) {
				__m256i bits = _mm256_set1_epi32((int)((keep[k] >> (8 * v)) & 0xff));
				__m256i drop = _mm256_cmpeq_epi32(_mm256_and_si256(bits, lane),
								  _mm256_setzero_si256());
				_mm256_maskstore_ps(s + k * TILE_Q + 8 * v, drop, ninf);
			}
}

static void softmax_avx2(float *s, int nk, float *m, float *l, float *ot, int d,
			 int q0, int q1)
{
	const __m256 ninf = _mm256_set1_ps(-INFINITY);
	__m256 alpha[2 * H];
	int moved = 0;

	for (int i = q0 / 8; i < q1 / 8; i++) {
		__m256 mold = _mm256_loadu_ps(m + 8 * i), mx = mold, safe, sum;
		for (int j = 0; j < nk; j++)
			mx = _mm256_max_ps(mx, _mm256_loadu_ps(s + j * TILE_Q + 8 * i));
		safe = _mm256_andnot_ps(_mm256_cmp_ps(mx, ninf, _CMP_EQ_OQ), mx);
		alpha[i] = exp2_ymm(_mm256_sub_ps(mold, safe));
		moved |= _mm256_movemask_ps(_mm256_cmp_ps(mx, mold, _CMP_NEQ_UQ));
		sum = _mm256_setzero_ps();
		for (int j = 0; j < nk; j++) {
			__m256 p = exp2_ymm(_mm256_sub_ps(_mm256_loadu_ps(s + j * TILE_Q + 8 * i), safe));
			_mm256_storeu_ps(s + j * TILE_Q + 8 * i, p);
			sum = _mm256_add_ps(sum, p);
		}
		_mm256_storeu_ps(l + 8 * i, _mm256_fmadd_ps(_mm256_loadu_ps(l + 8 * i), alpha[i], sum));
		_mm256_storeu_ps(m + 8 * i, mx);
	}
	if (!moved)
		return;
	for (int c = 0; c < d; c++)
		for (int i = q0 / 8; i < q1 / 8; i++) {
			float *o = ot + c * TILE_Q + 8 * i;
			_mm256_storeu_ps(o, _mm256_mul_ps(_mm256_loadu_ps(o), alpha[i]));
		}
}

static void pv_avx2(const float *s, const float *v, int nk, int d, float *ot,
		    int q0, int q1)
{
	for (int half = q0; half < q1; half += 8 * H) {
		int c = 0;
		for (; c + 2 <= d; c += 2) {
			__m256 acc[2][H];
			for (int a = 0; a < 2; a++)
				for (int i = 0; i < H; i++)
					acc[a][i] = _mm256_loadu_ps(ot + (c + a) * TILE_Q + half + 8 * i);
			for (int j = 0; j < nk; j++) {
				__m256 p[H];
				for (int i = 0; i < H; i++) {
					p[i] = _mm256_loadu_ps(s + j * TILE_Q + half + 8 * i);
					IN_REGISTER(p[i]);
				}
				for (int a = 0; a < 2; a++) {
					__m256 b = _mm256_broadcast_ss(v + (long)j * d + c + a);
					for (int i = 0; i < H; i++)
						acc[a][i] = _mm256_fmadd_ps(p[i], b, acc[a][i]);
				}
			}
			for (int a = 0; a < 2; a++)
				for (int i = 0; i < H; i++)
					_mm256_storeu_ps(ot + (c + a) * TILE_Q + half + 8 * i, acc[a][i]);
		}
		for (; c < d; c++) {
			__m256 acc[H];
			for (int i = 0; i < H; i++)
				acc[i] = _mm256_loadu_ps(ot + c * TILE_Q + half + 8 * i);
			for (int j = 0; j < nk; j++) {
				__m256 b = _mm256_broadcast_ss(v + (long)j * d + c);
				for (int i = 0; i < H; i++)
					acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(s + j * TILE_Q + half + 8 * i), b, acc[i]);
			}
			for (int i = 0; i < H; i++)
				_mm256_storeu_ps(ot + c * TILE_Q + half + 8 * i, acc[i]);
		}
	}
}

static float exp2_sum_avx2(float *x, int n, float m)
{
	__m256 mm = _mm256_set1_ps(m), sum = _mm256_setzero_ps();
	float tail[8], total;
	int i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 p = exp2_ymm(_mm256_sub_ps(_mm256_loadu_ps(x + i), mm));
		_mm256_storeu_ps(x + i, p);
		sum = _mm256_add_ps(sum, p);
	}
	_mm256_storeu_ps(tail, sum);
	total = tail[0] + tail[1] + tail[2] + tail[3] + tail[4] + tail[5] + tail[6] + tail[7];
	for (; i < n; i++) {
		x[i] = exp2f(x[i] - m);
		total += x[i];
	}
	return total;
}

static float max_avx2(const float *x, int n, float m)
{
	__m256 a = _mm256_set1_ps(m), b = a;
	float lane[8];
	int i = 0;

	/* two chains: vmaxps's latency, not its throughput, bounds one */
	for (; i + 16 <= n; i += 16) {
		a = _mm256_max_ps(_mm256_loadu_ps(x + i), a);
		b = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), b);
	}
	_mm256_storeu_ps(lane, _mm256_max_ps(a, b));
	for (int j = 0; j < 8; j++)
		m = lane[j] > m ? lane[j] : m;
	for (; i < n; i++)
		m = x[i] > m ? x[i] : m;
	return m;
}

/* Element c of a K/V row stored as t (enum dtype), widened to fp32. */
static inline float load_kv1(const char *row, int c, int t)
{
	unsigned int u = (unsigned int)((const unsigned short *)row)[c] << 16;
	float x;

	if (t == DT_F32)
		return ((const float *)row)[c];
	if (t == DT_F16)
		return _cvtsh_ss(((const unsigned short *)row)[c]);
	if (t == DT_FP8_E5M2 || t == DT_FP8_E4M3)       /* e4m3 less its unbias */
		return _cvtsh_ss(dt_fp8_f16_bits(((const unsigned char *)row)[c], t == DT_FP8_E4M3));
	__builtin_memcpy(&x, &u, sizeof x);
	return x;
}

/* 8 elements of such a row from element c. */
static inline __m256 load_kv8(const char *row, int c, int t)
{
	const __m128i *h = (const __m128i *)((const unsigned short *)row + c);

	if (t == DT_F32)
		return _mm256_loadu_ps((const float *)row + c);
	if (t == DT_F16)
		return _mm256_cvtph_ps(_mm_loadu_si128(h));
	if (t == DT_FP8_E5M2 || t == DT_FP8_E4M3) {     /* e4m3 less its unbias */
		__m128i x = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)((const unsigned char *)row + c)));
		if (t == DT_FP8_E5M2)
			return _mm256_cvtph_ps(_mm_slli_epi16(x, 8));
		return _mm256_cvtph_ps(_mm_or_si128(_mm_slli_epi16(_mm_and_si128(x, _mm_set1_epi16(0x80)), 8),
						    _mm_slli_epi16(_mm_and_si128(x, _mm_set1_epi16(0x7f)), 7)));
	}
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(h)), 16));
}

/* s[i] = q . row i; specialised by the callers on rows/base and t. */
static inline __attribute__((always_inline)) void
dots_rows(const float *q, const float *const *rows, const void *base, int t,
	  int n, int d, float *s)
{
	int full = d & ~7;

	for (int i = 0; i < n; i++) {
		const char *r = simd_row(rows, base, i, d, DT_BYTES(t));
		__m256 a = _mm256_setzero_ps();
		float lanes[8], sum = 0.0f;
		for (int c = 0; c < full; c += 8)
			a = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), load_kv8(r, c, t), a);
		_mm256_storeu_ps(lanes, a);
		for (int l = 0; l < 8; l++)
			sum += lanes[l];
		for (int c = full; c < d; c++)
			sum += q[c] * load_kv1(r, c, t);
		s[i] = sum;
	}
}

/* acc[c0 + c] += sum_i p[i] row i [c0 + c] over nv vectors of channels in
 * registers, so a V row is read once per block. */
static inline __attribute__((always_inline)) void
axpys_block(float *acc, const float *p, const float *const *rows, const void *base,
	    int t, int n, int d, int c0, const int nv)
{
	__m256 a[4];

	for (int v = 0; v < nv; v++)
		a[v] = _mm256_loadu_ps(acc + c0 + 8 * v);
	for (int i = 0; i < n; i++) {
		__m256 pb = _mm256_set1_ps(p[i]);
		const char *r = simd_row(rows, base, i, d, DT_BYTES(t));
		for (int v = 0; v < nv; v++)
			a[v] = _mm256_fmadd_ps(pb, load_kv8(r, c0 + 8 * v, t), a[v]);
	}
	for (int v = 0; v < nv; v++)
		_mm256_storeu_ps(acc + c0 + 8 * v, a[v]);
}

/* acc[c] += sum_i p[i] row i [c]: 32 channels at a time, then 8, then one. */
static inline __attribute__((always_inline)) void
axpys_rows(float *acc, const float *p, const float *const *rows, const void *base,
	   int t, int n, int d)
{
	int c = 0;

	for (; c + 32 <= d; c += 32)
		axpys_block(acc, p, rows, base, t, n, d, c, 4);
	for (; c + 8 <= d; c += 8)
		axpys_block(acc, p, rows, base, t, n, d, c, 1);
	for (; c < d; c++) {
		float a = acc[c];
		for (int i = 0; i < n; i++)
			a += p[i] * load_kv1(simd_row(rows, base, i, d, DT_BYTES(t)), c, t);
		acc[c] = a;
	}
}

static void dots_avx2(const float *q, const float *const *rows, int n, int d,
		      float *s)
{
	dots_rows(q, rows, NULL, DT_F32, n, d, s);
}

static void axpys_avx2(float *acc, const float *p, const float *const *rows,
		       int n, int d)
{
	axpys_rows(acc, p, rows, NULL, DT_F32, n, d);
}

/* 8 codes of a llama.cpp block from value j (0, 8, 16, 24) as fp32. */
static inline __m256 block_codes8(const uint8_t *b, int t, int j)
{
	if (t == DT_Q8_0)
		return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + 2 + j))));
	__m256i w = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(b + 2 + (j & 15))));
	w = j < 16 ? _mm256_and_si256(w, _mm256_set1_epi32(15)) : _mm256_srli_epi32(w, 4);
	return _mm256_cvtepi32_ps(_mm256_sub_epi32(w, _mm256_set1_epi32(8)));
}

static inline float block_scale(const uint8_t *b)
{
	unsigned short h;

	__builtin_memcpy(&h, b, sizeof h);
	return _cvtsh_ss(h);
}

static inline __attribute__((always_inline)) void
dots_blocks(const float *q, const void *k, int t, int n, int d, float *s)
{
	size_t bb = t == DT_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES, rb = bb * (size_t)(d / Q_BLOCK);

	for (int i = 0; i < n; i++) {
		const uint8_t *r = (const uint8_t *)k + (size_t)i * rb;
		__m256 a = _mm256_setzero_ps();
		float lanes[8], sum = 0.0f;
		for (int c = 0; c < d; c += Q_BLOCK, r += bb) {
			__m256 b = _mm256_mul_ps(_mm256_loadu_ps(q + c), block_codes8(r, t, 0));
			b = _mm256_fmadd_ps(_mm256_loadu_ps(q + c + 8), block_codes8(r, t, 8), b);
			b = _mm256_fmadd_ps(_mm256_loadu_ps(q + c + 16), block_codes8(r, t, 16), b);
			b = _mm256_fmadd_ps(_mm256_loadu_ps(q + c + 24), block_codes8(r, t, 24), b);
			a = _mm256_fmadd_ps(b, _mm256_set1_ps(block_scale(r)), a);
		}
		_mm256_storeu_ps(lanes, a);
		for (int l = 0; l < 8; l++)
			sum += lanes[l];
		s[i] = sum;
	}
}

/* acc += sum_i p[i] row i over llama.cpp block rows, one block (32
 * channels, 4 registers) at a time. */
static inline __attribute__((always_inline)) void
axpys_blocks(float *acc, const float *p, const void *v, int t, int n, int d)
{
	size_t bb = t == DT_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES, rb = bb * (size_t)(d / Q_BLOCK);

	for (int c0 = 0; c0 < d; c0 += Q_BLOCK) {
		__m256 a[4];
		for (int x = 0; x < 4; x++)
			a[x] = _mm256_loadu_ps(acc + c0 + 8 * x);
		for (int i = 0; i < n; i++) {
			const uint8_t *r = (const uint8_t *)v + (size_t)i * rb + (size_t)(c0 / Q_BLOCK) * bb;
			__m256 ps = _mm256_set1_ps(p[i] * block_scale(r));
			for (int x = 0; x < 4; x++)
				a[x] = _mm256_fmadd_ps(ps, block_codes8(r, t, 8 * x), a[x]);
		}
		for (int x = 0; x < 4; x++)
			_mm256_storeu_ps(acc + c0 + 8 * x, a[x]);
	}
}

/* 8 KIVI codes of `bits` bits packed from p (2 bytes of 2-bit codes, 4
 * of 4-bit ones) as 8 lanes of fp32. */
static inline __m256 kivi_codes8(const uint8_t *p, int bits)
{
	unsigned int u = 0;

	__builtin_memcpy(&u, p, bits == 2 ? 2 : 4);
	if (bits == 2)
		return _mm256_cvtepi32_ps(_mm256_and_si256(
			_mm256_srlv_epi32(_mm256_set1_epi32((int)u), _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
			_mm256_set1_epi32(3)));
	return _mm256_cvtepi32_ps(_mm256_and_si256(
		_mm256_srlv_epi32(_mm256_set1_epi32((int)u), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
		_mm256_set1_epi32(15)));
}

/* KIVI keys: 8 tokens of a group in lanes, a channel's codes a step. */
static void dots_kivi_avx2(const float *qg, float base, const uint8_t *codes, int bits,
			   int group, int i0, int n, int d, float *s)
{
	size_t cb = (size_t)group * (size_t)bits / 8;

	for (int t0 = i0 & ~7; t0 < i0 + n; t0 += 8) {
		const uint8_t *c0 = codes + (size_t)t0 * (size_t)bits / 8;
		__m256 a0 = _mm256_set1_ps(base), a1 = _mm256_setzero_ps();
		float lanes[8];
		for (int c = 0; c + 1 < d; c += 2) {
			a0 = _mm256_fmadd_ps(_mm256_set1_ps(qg[c]), kivi_codes8(c0 + (size_t)c * cb, bits), a0);
			a1 = _mm256_fmadd_ps(_mm256_set1_ps(qg[c + 1]), kivi_codes8(c0 + (size_t)(c + 1) * cb, bits), a1);
		}
		if (d & 1)
			a0 = _mm256_fmadd_ps(_mm256_set1_ps(qg[d - 1]), kivi_codes8(c0 + (size_t)(d - 1) * cb, bits), a0);
		_mm256_storeu_ps(lanes, _mm256_add_ps(a0, a1));
		for (int l = 0; l < 8; l++)
			if (t0 + l >= i0 && t0 + l < i0 + n)
				s[t0 + l - i0] = lanes[l];
	}
}

/* KIVI value rows, 8 channels a vector (see simd_avx512.c). */
static void axpys_kivi_avx2(float *acc, const float *p, const void *v, int bits, int n,
			    int d, int group)
{
	size_t gb = 4 + (size_t)group * (size_t)bits / 8, rb = (size_t)(d / group) * gb;

	for (int i = 0; i < n; i++) {
		const uint8_t *g = (const uint8_t *)v + (size_t)i * rb;
		for (int c = 0; c < d; c += group, g += gb) {
			__m256 ps = _mm256_set1_ps(p[i] * block_scale(g)), pz = _mm256_set1_ps(p[i] * block_scale(g + 2));
			for (int j = 0; j < group; j += 8) {
				__m256 a = _mm256_add_ps(_mm256_loadu_ps(acc + c + j), pz);
				a = _mm256_fmadd_ps(ps, kivi_codes8(g + 4 + (size_t)j * bits / 8, bits), a);
				_mm256_storeu_ps(acc + c + j, a);
			}
		}
	}
}


static void bias_avx2(float *s, int nk, const float *b, int q0, int q1)
{
	for (int k = 0; k < nk; k++)
		for (int q = q0; q < q1; q += 8) {
			float *at = s + k * TILE_Q + q;
			_mm256_storeu_ps(at, _mm256_add_ps(_mm256_loadu_ps(at), _mm256_loadu_ps(b + q - k)));
		}
}

/* tanh |y| = (1 - e^-2|y|) / (1 + e^-2|y|) by the exp2 above, sign put back. */
static void softcap_avx2(float *x, int n, float c)
{
	const __m256 inv = _mm256_set1_ps(1.0f / c), cc = _mm256_set1_ps(c);
	const __m256 k2 = _mm256_set1_ps(-2.0f * 1.4426950408889634f), one = _mm256_set1_ps(1.0f);
	const __m256 sign = _mm256_set1_ps(-0.0f);
	int i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 y = _mm256_mul_ps(_mm256_loadu_ps(x + i), inv);
		__m256 t = exp2_ymm(_mm256_mul_ps(_mm256_andnot_ps(sign, y), k2));
		__m256 th = _mm256_div_ps(_mm256_sub_ps(one, t), _mm256_add_ps(one, t));
		th = _mm256_or_ps(th, _mm256_and_ps(y, sign));
		_mm256_storeu_ps(x + i, _mm256_mul_ps(th, cc));
	}
	for (; i < n; i++)
		x[i] = c * tanhf(x[i] / c);
}

/* Transposes the 8 x 8 block of rows r[0..7] in place. */
static inline void transpose8(__m256 r[8])
{
	__m256 t[8];

	for (int i = 0; i < 8; i += 2) {        /* 2 x 2 blocks of floats */
		t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
	}
	for (int i = 0; i < 8; i += 4) {        /* 4 x 4 blocks */
		r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
		r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
		r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
		r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
	}
	for (int i = 0; i < 4; i++) {           /* 128-bit halves */
		t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
		t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
	}
	for (int i = 0; i < 8; i++)
		r[i] = t[i];
}

/* 8 x 8 blocks in registers; the edges element by element. */
static void transpose_avx2(const float *src, long lds, float *dst, long ldd,
			   int rows, int cols, float scale)
{
	const __m256 sc = _mm256_set1_ps(scale);
	int i0 = 0, c0;

	for (; i0 + 8 <= rows; i0 += 8) {
		for (c0 = 0; c0 + 8 <= cols; c0 += 8) {
			__m256 r[8];
			for (int i = 0; i < 8; i++)
				r[i] = _mm256_mul_ps(_mm256_loadu_ps(src + (i0 + i) * lds + c0), sc);
			transpose8(r);
			for (int c = 0; c < 8; c++)
				_mm256_storeu_ps(dst + (c0 + c) * ldd + i0, r[c]);
		}
		if (c0 < cols)
			simd_transpose_scalar(src + i0 * lds + c0, lds, dst + c0 * ldd + i0, ldd,
					      8, cols - c0, scale);
	}
	if (i0 < rows)
		simd_transpose_scalar(src + i0 * lds, lds, dst + i0, ldd, rows - i0, cols, scale);
}


/* The storage types' slots: head_dim as given (kv_slots.h). */
#define KV_BY_D(CALL) CALL(d);
#define KV_KIVI_AXPYS(acc, p, v, bits, n, d, g) axpys_kivi_avx2(acc, p, v, bits, n, d, g)
#include "kv_slots.h"

const struct simd_ops simd_avx2 = {
	.name = "avx2",                         /* 8 lanes, 16 registers */
	.qk = qk_avx2,                          /* 2 keys x 32 queries */
	.transpose = transpose_avx2,            /* 8 x 8 blocks in registers */
	.mask = mask_avx2,                      /* masked stores of -inf */
	.bias = bias_avx2,                      /* 8 lanes a load */
	.softcap = softcap_avx2,                /* tanh by the polynomial exp2 */
	.softmax = softmax_avx2,                /* lane-wise online softmax */
	.pv = pv_avx2,                          /* 2 channels x 32 queries */
	.exp2_sum = exp2_sum_avx2,              /* polynomial exp2 */
	.max = max_avx2,                        /* two chains of 8 lanes */
	.dots = dots_avx2,                      /* q . k per key */
	.axpys = axpys_avx2,                    /* 32 channels in registers */
	SIMD_KV_SLOTS,                          /* decoded as they are loaded */
	.dots_kivi = dots_kivi_avx2,            /* 8 tokens in lanes, codes by vpsrlvd */
};

#ifdef __clang__
#pragma clang attribute pop
#endif
