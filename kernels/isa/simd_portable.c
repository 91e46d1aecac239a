/* simd_portable.c - the micro-kernels in plain C, written so a compiler
 * can vectorise the query lanes; the reference the ISA paths must match. */
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "quant.h"
#include "simd.h"

static void qk_portable(const float *qt, const float *k, int nk, int d, float *s,
			int q0, int q1)
{
	for (int j = 0; j < nk; j++) {
		float *sj = s + j * TILE_Q;
		for (int q = q0; q < q1; q++)
			sj[q] = 0.0f;
		for (int c = 0; c < d; c++) {
			float kc = k[(long)j * d + c];
			const float *qc = qt + c * TILE_Q;
			for (int q = q0; q < q1; q++)
				sj[q] += kc * qc[q];
		}
	}
}

void simd_transpose_scalar(const float *src, long lds, float *dst, long ldd,
			   int rows, int cols, float scale)
{
	for (int i = 0; i < rows; i++)
		for (int c = 0; c < cols; c++)
			dst[c * ldd + i] = src[i * lds + c] * scale;
}

static void mask_portable(float *s, int nk, const unsigned long long *keep)
{
	for (int k = 0; k < nk; k++)
		for (int q = 0; q < TILE_Q; q++)
			if (!((keep[k] >> q) & 1))
				s[k * TILE_Q + q] = -INFINITY;
}

static void softmax_portable(float *s, int nk, float *m, float *l, float *ot, int d,
			     int q0, int q1)
{
	for (int q = q0; q < q1; q++) {
		float mx = m[q], safe, alpha, sum = 0.0f;
		for (int j = 0; j < nk; j++)
			mx = s[j * TILE_Q + q] > mx ? s[j * TILE_Q + q] : mx;
		safe = mx == -INFINITY ? 0.0f : mx;
		alpha = exp2f(m[q] - safe);
		for (int j = 0; j < nk; j++) {
			float p = exp2f(s[j * TILE_Q + q] - safe);
			s[j * TILE_Q + q] = p;
			sum += p;
		}
		if (alpha != 1.0f)
			for (int c = 0; c < d; c++)
				ot[c * TILE_Q + q] *= alpha;
		l[q] = l[q] * alpha + sum;
		m[q] = mx;
	}
}

static void pv_portable(const float *s, const float *v, int nk, int d, float *ot,
			int q0, int q1)
{
	for (int j = 0; j < nk; j++) {
		const float *pj = s + j * TILE_Q;
		for (int c = 0; c < d; c++) {
			float vc = v[(long)j * d + c];
			float *oc = ot + c * TILE_Q;
			for (int q = q0; q < q1; q++)
				oc[q] += pj[q] * vc;
		}
	}
}

static float exp2_sum_portable(float *x, int n, float m)
{
	float sum = 0.0f;

	for (int i = 0; i < n; i++) {
		x[i] = exp2f(x[i] - m);
		sum += x[i];
	}
	return sum;
}

static float max_portable(const float *x, int n, float m)
{
	for (int i = 0; i < n; i++)
		m = x[i] > m ? x[i] : m;
	return m;
}

/* Element c of row i: rows[i] when the rows are named by pointer, else
 * the i-th of the rows stored as t (enum dtype) one after another
 * from base, widened to fp32. */
static inline float kv_elem(const float *const *rows, const void *base, int t,
			    int i, int d, int c)
{
	size_t at = (size_t)i * (size_t)d + (size_t)c;

	if (rows)
		return rows[i][c];
	if (t == DT_F32)
		return ((const float *)base)[at];
	if (t == DT_F16)
		return dt_from_f16(((const uint16_t *)base)[at]);
	if (t == DT_FP8_E5M2 || t == DT_FP8_E4M3)
		return dt_from_f16(dt_fp8_f16_bits(((const uint8_t *)base)[at], t == DT_FP8_E4M3)) *
		       (t == DT_FP8_E4M3 ? DT_E4M3_UNBIAS : 1.0f);
	return dt_from_bf16(((const uint16_t *)base)[at]);
}

static void dots_rows(const float *q, const float *const *rows, const void *base,
		      int t, int n, int d, float *s)
{
	for (int i = 0; i < n; i++) {
		float a = 0.0f;
		for (int c = 0; c < d; c++)
			a += q[c] * kv_elem(rows, base, t, i, d, c);
		s[i] = a;
	}
}

static void axpys_rows(float *acc, const float *p, const float *const *rows,
		       const void *base, int t, int n, int d)
{
	for (int i = 0; i < n; i++)
		for (int c = 0; c < d; c++)
			acc[c] += p[i] * kv_elem(rows, base, t, i, d, c);
}

static void dots_portable(const float *q, const float *const *rows, int n, int d,
			  float *s)
{
	dots_rows(q, rows, NULL, DT_F32, n, d, s);
}

static void axpys_portable(float *acc, const float *p, const float *const *rows,
			   int n, int d)
{
	axpys_rows(acc, p, rows, NULL, DT_F32, n, d);
}

/* One llama.cpp block of row b: value j of block x is scale x code. */
static inline float block_dot(const float *q, const uint8_t *b, int t)
{
	float a = 0.0f;

	if (t == DT_Q8_0)
		for (int j = 0; j < Q_BLOCK; j++)
			a += q[j] * (float)(int8_t)b[2 + j];
	else
		for (int j = 0; j < Q_BLOCK / 2; j++)
			a += q[j] * (float)((b[2 + j] & 15) - 8) + q[j + 16] * (float)((b[2 + j] >> 4) - 8);
	return a;
}

static inline float block_scale(const uint8_t *b)
{
	uint16_t h;

	memcpy(&h, b, sizeof h);
	return dt_from_f16(h);
}

static void dots_kv_portable(const float *q, const void *k, int t, int n, int d, float *s)
{
	const struct dtype_desc *x = dtype_of((enum dtype)t);
	size_t rb = dtype_row_bytes((enum dtype)t, d, 1);
	size_t bb = t == DT_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES;       /* a block's, when blocks */

	if (x->form != DT_FORM_BLOCK) {
		dots_rows(q, NULL, k, t, n, d, s);
		return;
	}
	for (int i = 0; i < n; i++) {
		const uint8_t *r = (const uint8_t *)k + (size_t)i * rb;
		float a = 0.0f;
		for (int c = 0; c < d; c += Q_BLOCK, r += bb)
			a += block_dot(q + c, r, t) * block_scale(r);
		s[i] = a;
	}
}

void simd_dots_kivi_scalar(const float *qg, float base, const uint8_t *codes, int bits,
			   int group, int i0, int n, int d, float *s)
{
	size_t cb = (size_t)group * (size_t)bits / 8;

	for (int i = 0; i < n; i++)
		s[i] = base;
	for (int c = 0; c < d; c++)
		for (int i = 0; i < n; i++)
			s[i] += qg[c] * (float)kivi_code(codes + (size_t)c * cb, i0 + i, bits);
}

void simd_axpys_kivi_scalar(float *acc, const float *p, const void *v, int bits, int n,
			    int d, int group)
{
	size_t gb = 4 + (size_t)group * (size_t)bits / 8;
	size_t rb = (size_t)(d / group) * gb;

	for (int i = 0; i < n; i++) {
		const uint8_t *g = (const uint8_t *)v + (size_t)i * rb;
		for (int c = 0; c < d; c += group, g += gb) {
			float ps = p[i] * block_scale(g), pz = p[i] * block_scale(g + 2);
			for (int j = 0; j < group; j++)
				acc[c + j] += ps * (float)kivi_code(g + 4, j, bits) + pz;
		}
	}
}

static void bias_portable(float *s, int nk, const float *b, int q0, int q1)
{
	for (int k = 0; k < nk; k++)
		for (int q = q0; q < q1; q++)
			s[k * TILE_Q + q] += b[q - k];
}

static void softcap_portable(float *x, int n, float c)
{
	for (int i = 0; i < n; i++)
		x[i] = c * tanhf(x[i] / c);
}

static void axpys_kv_portable(float *acc, const float *p, const void *v, int t, int n, int d,
			      int group)
{
	const struct dtype_desc *x = dtype_of((enum dtype)t);
	size_t rb = dtype_row_bytes((enum dtype)t, d, 1);
	size_t bb = t == DT_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES;       /* a block's, when blocks */

	if (x->form == DT_FORM_KIVI) {
		simd_axpys_kivi_scalar(acc, p, v, x->bits, n, d, group);
		return;
	}
	if (x->form != DT_FORM_BLOCK) {
		axpys_rows(acc, p, NULL, v, t, n, d);
		return;
	}
	for (int i = 0; i < n; i++) {
		const uint8_t *r = (const uint8_t *)v + (size_t)i * rb;
		for (int c = 0; c < d; c += Q_BLOCK, r += bb) {
			float ps = p[i] * block_scale(r);
			if (t == DT_Q8_0)
				for (int j = 0; j < Q_BLOCK; j++)
					acc[c + j] += ps * (float)(int8_t)r[2 + j];
			else
				for (int j = 0; j < Q_BLOCK / 2; j++) {
					acc[c + j] += ps * (float)((r[2 + j] & 15) - 8);
					acc[c + j + 16] += ps * (float)((r[2 + j] >> 4) - 8);
				}
		}
	}
}

const struct simd_ops simd_portable = {
	.name = "portable",                     /* plain C */
	.qk = qk_portable,                      /* scores of a tile */
	.transpose = simd_transpose_scalar,     /* element by element */
	.mask = mask_portable,                  /* -inf where not kept */
	.bias = bias_portable,                  /* an add per score */
	.softcap = softcap_portable,            /* libm tanhf */
	.softmax = softmax_portable,            /* online softmax step */
	.pv = pv_portable,                      /* P V into the output tile */
	.exp2_sum = exp2_sum_portable,          /* libm exp2f */
	.max = max_portable,                    /* one compare a score */
	.dots = dots_portable,                  /* q . k per key */
	.axpys = axpys_portable,                /* acc += p v per key */
	.dots_kv = dots_kv_portable,            /* decoded value by value */
	.axpys_kv = axpys_kv_portable,          /* decoded value by value */
	.dots_kivi = simd_dots_kivi_scalar,     /* code by code */
};
