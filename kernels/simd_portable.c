/* simd_portable.c - the micro-kernels in plain C, written so a compiler
 * can vectorise the query lanes; the reference the ISA paths must match. */
#include <math.h>
#include <string.h>

#include "kvcache.h"
#include "simd.h"

static void qk_portable(const float *qt, const float *k, int nk, int d, float *s)
{
	for (int j = 0; j < nk; j++) {
		float *sj = s + j * TILE_Q;
		for (int q = 0; q < TILE_Q; q++)
			sj[q] = 0.0f;
		for (int c = 0; c < d; c++) {
			float kc = k[(long)j * d + c];
			const float *qc = qt + c * TILE_Q;
			for (int q = 0; q < TILE_Q; q++)
				sj[q] += kc * qc[q];
		}
	}
}

static void softmax_portable(float *s, int nk, float *m, float *l, float *ot, int d)
{
	for (int q = 0; q < TILE_Q; q++) {
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

static void pv_portable(const float *s, const float *v, int nk, int d, float *ot)
{
	for (int j = 0; j < nk; j++) {
		const float *pj = s + j * TILE_Q;
		for (int c = 0; c < d; c++) {
			float vc = v[(long)j * d + c];
			float *oc = ot + c * TILE_Q;
			for (int q = 0; q < TILE_Q; q++)
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

static void dots_portable(const float *q, const float *const *rows, int n, int d,
			  float *s)
{
	for (int i = 0; i < n; i++) {
		float a = 0.0f;
		for (int c = 0; c < d; c++)
			a += q[c] * rows[i][c];
		s[i] = a;
	}
}

static void axpys_portable(float *acc, const float *p, const float *const *rows,
			   int n, int d)
{
	for (int i = 0; i < n; i++)
		for (int c = 0; c < d; c++)
			acc[c] += p[i] * rows[i][c];
}

static void from_f16_portable(const unsigned short *x, float *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = kv_from_f16(x[i]);
}

static void from_bf16_portable(const unsigned short *x, float *out, int n)
{
	for (int i = 0; i < n; i++) {
		unsigned int u = (unsigned int)x[i] << 16;
		memcpy(&out[i], &u, sizeof u);
	}
}

const struct simd_ops simd_portable = {
	.name = "portable",                     /* plain C */
	.qk = qk_portable,                      /* scores of a tile */
	.softmax = softmax_portable,            /* online softmax step */
	.pv = pv_portable,                      /* P V into the output tile */
	.exp2_sum = exp2_sum_portable,          /* libm exp2f */
	.dots = dots_portable,                  /* q . k per key */
	.axpys = axpys_portable,                /* acc += p v per key */
	.from_f16 = from_f16_portable,          /* bit by bit */
	.from_bf16 = from_bf16_portable,        /* shift into the high half */
};
