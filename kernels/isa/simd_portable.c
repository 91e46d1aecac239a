/* simd_portable.c - the micro-kernels in plain C, written so a compiler
 * can vectorise the query lanes; the reference the ISA paths must match. */
#include <math.h>
#include <string.h>

#include "dtype.h"
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

static void dots_kv_portable(const float *q, const void *k, int t, int n, int d, float *s)
{
	dots_rows(q, NULL, k, t, n, d, s);
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

static void axpys_kv_portable(float *acc, const float *p, const void *v, int t, int n, int d)
{
	axpys_rows(acc, p, NULL, v, t, n, d);
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
	.dots_kv = dots_kv_portable,            /* widened bit by bit */
	.axpys_kv = axpys_kv_portable,          /* widened bit by bit */
};
