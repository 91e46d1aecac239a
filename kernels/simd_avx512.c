/* simd_avx512.c - the micro-kernels on AVX-512: 64 queries are 4 zmm
 * lanes; Q K^T runs 4 keys x 64 queries in 16 accumulators over head_dim,
 * P V runs 4 channels x 64 queries; exp2 by rounding, a degree-6
 * polynomial and scalef. Compiled for AVX-512 whatever the build's -march;
 * only called when the CPU has it. */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma,f16c")
#include <immintrin.h>
#include <math.h>

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

static void qk_avx512(const float *qt, const float *k, int nk, int d, float *s)
{
	int j = 0;

	for (; j + 4 <= nk; j += 4) {
		const float *k0 = k + (long)j * d;
		__m512 acc[4][V];
		for (int a = 0; a < 4; a++)
			for (int i = 0; i < V; i++)
				acc[a][i] = _mm512_setzero_ps();
		for (int c = 0; c < d; c++) {
			__m512 q[V];
			for (int i = 0; i < V; i++) {
				q[i] = _mm512_loadu_ps(qt + c * TILE_Q + 16 * i);
				IN_REGISTER(q[i]);
			}
			for (int a = 0; a < 4; a++) {
				__m512 b = _mm512_set1_ps(k0[(long)a * d + c]);
				for (int i = 0; i < V; i++)
					acc[a][i] = _mm512_fmadd_ps(q[i], b, acc[a][i]);
			}
		}
		for (int a = 0; a < 4; a++)
			for (int i = 0; i < V; i++)
				_mm512_storeu_ps(s + (j + a) * TILE_Q + 16 * i, acc[a][i]);
	}
	for (; j < nk; j++) {
		const float *kj = k + (long)j * d;
		__m512 acc[V];
		for (int i = 0; i < V; i++)
			acc[i] = _mm512_setzero_ps();
		for (int c = 0; c < d; c++) {
			__m512 b = _mm512_set1_ps(kj[c]);
			for (int i = 0; i < V; i++)
				acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(qt + c * TILE_Q + 16 * i), b, acc[i]);
		}
		for (int i = 0; i < V; i++)
			_mm512_storeu_ps(s + j * TILE_Q + 16 * i, acc[i]);
	}
}

static void softmax_avx512(float *s, int nk, float *m, float *l, float *ot, int d)
{
	const __m512 ninf = _mm512_set1_ps(-INFINITY);
	__m512 alpha[V];
	__mmask16 moved = 0;

	for (int i = 0; i < V; i++) {
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
		for (int i = 0; i < V; i++) {
			float *o = ot + c * TILE_Q + 16 * i;
			_mm512_storeu_ps(o, _mm512_mul_ps(_mm512_loadu_ps(o), alpha[i]));
		}
}

static void pv_avx512(const float *s, const float *v, int nk, int d, float *ot)
{
	int c = 0;

	for (; c + 4 <= d; c += 4) {
		__m512 acc[4][V];
		for (int a = 0; a < 4; a++)
			for (int i = 0; i < V; i++)
				acc[a][i] = _mm512_loadu_ps(ot + (c + a) * TILE_Q + 16 * i);
		for (int j = 0; j < nk; j++) {
			__m512 p[V];
			const float *vj = v + (long)j * d + c;
			for (int i = 0; i < V; i++) {
				p[i] = _mm512_loadu_ps(s + j * TILE_Q + 16 * i);
				IN_REGISTER(p[i]);
			}
			for (int a = 0; a < 4; a++) {
				__m512 b = _mm512_set1_ps(vj[a]);
				for (int i = 0; i < V; i++)
					acc[a][i] = _mm512_fmadd_ps(p[i], b, acc[a][i]);
			}
		}
		for (int a = 0; a < 4; a++)
			for (int i = 0; i < V; i++)
				_mm512_storeu_ps(ot + (c + a) * TILE_Q + 16 * i, acc[a][i]);
	}
	for (; c < d; c++) {
		__m512 acc[V];
		for (int i = 0; i < V; i++)
			acc[i] = _mm512_loadu_ps(ot + c * TILE_Q + 16 * i);
		for (int j = 0; j < nk; j++) {
			__m512 b = _mm512_set1_ps(v[(long)j * d + c]);
			for (int i = 0; i < V; i++)
				acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(s + j * TILE_Q + 16 * i), b, acc[i]);
		}
		for (int i = 0; i < V; i++)
			_mm512_storeu_ps(ot + c * TILE_Q + 16 * i, acc[i]);
	}
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

static void dots_avx512(const float *q, const float *const *rows, int n, int d,
			float *s)
{
	int i = 0, full = d & ~15;
	__mmask16 tail = (__mmask16)((1u << (d & 15)) - 1);

	for (; i + 4 <= n; i += 4) {
		const float *r0 = rows[i], *r1 = rows[i + 1], *r2 = rows[i + 2], *r3 = rows[i + 3];
		__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		for (int c = 0; c < full; c += 16) {
			__m512 qv = _mm512_loadu_ps(q + c);
			a0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(r0 + c), a0);
			a1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(r1 + c), a1);
			a2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(r2 + c), a2);
			a3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(r3 + c), a3);
		}
		if (tail) {
			__m512 qv = _mm512_maskz_loadu_ps(tail, q + full);
			a0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, r0 + full), a0);
			a1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, r1 + full), a1);
			a2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, r2 + full), a2);
			a3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, r3 + full), a3);
		}
		_mm_storeu_ps(s + i, reduce4(a0, a1, a2, a3));
	}
	for (; i < n; i++) {
		__m512 a = _mm512_setzero_ps();
		for (int c = 0; c < full; c += 16)
			a = _mm512_fmadd_ps(_mm512_loadu_ps(q + c), _mm512_loadu_ps(rows[i] + c), a);
		if (tail)
			a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, q + full),
					    _mm512_maskz_loadu_ps(tail, rows[i] + full), a);
		s[i] = _mm512_reduce_add_ps(a);
	}
}

static void axpys_avx512(float *acc, const float *p, const float *const *rows,
			 int n, int d)
{
	int c = 0;

	/* 128 channels in 8 registers: a V row is read once, not per block */
	for (; c + 128 <= d; c += 128) {
		__m512 a[8];
		for (int v = 0; v < 8; v++)
			a[v] = _mm512_loadu_ps(acc + c + 16 * v);
		for (int i = 0; i < n; i++) {
			__m512 pb = _mm512_set1_ps(p[i]);
			const float *r = rows[i] + c;
			for (int v = 0; v < 8; v++)
				a[v] = _mm512_fmadd_ps(pb, _mm512_loadu_ps(r + 16 * v), a[v]);
		}
		for (int v = 0; v < 8; v++)
			_mm512_storeu_ps(acc + c + 16 * v, a[v]);
	}
	for (; c + 64 <= d; c += 64) {
		__m512 a0 = _mm512_loadu_ps(acc + c), a1 = _mm512_loadu_ps(acc + c + 16);
		__m512 a2 = _mm512_loadu_ps(acc + c + 32), a3 = _mm512_loadu_ps(acc + c + 48);
		for (int i = 0; i < n; i++) {
			__m512 pb = _mm512_set1_ps(p[i]);
			const float *r = rows[i] + c;
			a0 = _mm512_fmadd_ps(pb, _mm512_loadu_ps(r), a0);
			a1 = _mm512_fmadd_ps(pb, _mm512_loadu_ps(r + 16), a1);
			a2 = _mm512_fmadd_ps(pb, _mm512_loadu_ps(r + 32), a2);
			a3 = _mm512_fmadd_ps(pb, _mm512_loadu_ps(r + 48), a3);
		}
		_mm512_storeu_ps(acc + c, a0);
		_mm512_storeu_ps(acc + c + 16, a1);
		_mm512_storeu_ps(acc + c + 32, a2);
		_mm512_storeu_ps(acc + c + 48, a3);
	}
	for (; c < d; c += 16) {
		__mmask16 m = d - c >= 16 ? 0xffff : (__mmask16)((1u << (d - c)) - 1);
		__m512 a = _mm512_maskz_loadu_ps(m, acc + c);
		for (int i = 0; i < n; i++)
			a = _mm512_fmadd_ps(_mm512_set1_ps(p[i]), _mm512_maskz_loadu_ps(m, rows[i] + c), a);
		_mm512_mask_storeu_ps(acc + c, m, a);
	}
}

static void from_f16_avx512(const unsigned short *x, float *out, int n)
{
	int i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
	if (i < n) {
		__mmask16 k = (__mmask16)((1u << (n - i)) - 1);
		_mm512_mask_storeu_ps(out + i, k, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, x + i)));
	}
}

static void from_bf16_avx512(const unsigned short *x, float *out, int n)
{
	int i = 0;

	for (; i + 16 <= n; i += 16) {
		__m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(x + i)));
		_mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
	}
	if (i < n) {
		__mmask16 k = (__mmask16)((1u << (n - i)) - 1);
		__m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, x + i));
		_mm512_mask_storeu_ps(out + i, k, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
	}
}

const struct simd_ops simd_avx512 = {
	.name = "avx512",                       /* 16 lanes, 32 registers */
	.qk = qk_avx512,                        /* 4 keys x 64 queries */
	.softmax = softmax_avx512,              /* lane-wise online softmax */
	.pv = pv_avx512,                        /* 4 channels x 64 queries */
	.exp2_sum = exp2_sum_avx512,            /* polynomial exp2 */
	.dots = dots_avx512,                    /* 4 keys at a time */
	.axpys = axpys_avx512,                  /* 64 channels in registers */
	.from_f16 = from_f16_avx512,            /* vcvtph2ps */
	.from_bf16 = from_bf16_avx512,          /* widen and shift */
};
