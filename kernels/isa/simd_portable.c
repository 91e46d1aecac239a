/* simd_portable.c - the micro-kernels in plain C, written so a compiler
 * can vectorise the query lanes; the reference the ISA paths must match. */
#include <assert.h>
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

/* Row i of n rows stored one after another as plain or fp8 type t, its
 * values [c0, c0 + m) decoded to fp32 by the type's own decode (fp8 with
 * no tensor scale: the cache's scale is applied by its caller). */
static void decode_part(const void *base, enum dtype t, int i, int d, int c0, int m, float *out)
{
	const struct dtype_desc *x = dtype_of(t);
	const struct dt_params unit = { 1.0f, 1 };
	size_t elem = (size_t)x->bits / 8;

	x->decode(out, (const char *)base + ((size_t)i * (size_t)d + (size_t)c0) * elem, m, &unit);
}

/* s[i] = q . row i, rows named by pointer (rows) or stored as t from base. */
/* Channels c0 .. c0 + m - 1 of row i: in rows[i] when the rows are f32,
 * else decoded from the cache's row i of width d into buf. */
static const float *row_part(const float *const *rows, const void *base, enum dtype t, int i, int d, int c0,
			     int m, float *buf)
{
	if (rows)
		return rows[i] + c0;
	decode_part(base, t, i, d, c0, m, buf);
	return buf;
}

static void dots_rows(const float *q, const float *const *rows, const void *base,
		      enum dtype t, int n, int d, float *s)
{
	float buf[64];

	for (int i = 0; i < n; i++) {
		float a = 0.0f;
		for (int c0 = 0; c0 < d; c0 += 64) {
			int m = d - c0 < 64 ? d - c0 : 64;
			const float *x = row_part(rows, base, t, i, d, c0, m, buf);
			for (int c = 0; c < m; c++)
				a += q[c0 + c] * x[c];
		}
		s[i] = a;
	}
}

static void axpys_rows(float *acc, const float *p, const float *const *rows,
		       const void *base, enum dtype t, int n, int d)
{
	float buf[64];

	for (int i = 0; i < n; i++)
		for (int c0 = 0; c0 < d; c0 += 64) {
			int m = d - c0 < 64 ? d - c0 : 64;
			const float *x = row_part(rows, base, t, i, d, c0, m, buf);
			for (int c = 0; c < m; c++)
				acc[c0 + c] += p[i] * x[c];
		}
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

/* s[i] = q . row i over n rows of llama.cpp blocks of type t. */
static void dots_blocks(const float *q, const void *k, enum dtype t, int n, int d, float *s)
{
	size_t rb = dtype_row_bytes(t, d, 1);
	size_t bb = t == DT_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES;

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

/* acc += p[i] row i over n rows of llama.cpp blocks of type t. */
static void axpys_blocks(float *acc, const float *p, const void *v, enum dtype t, int n, int d)
{
	size_t rb = dtype_row_bytes(t, d, 1);
	size_t bb = t == DT_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES;

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

/* A cache type's two slots over rows decoded by the type's own decode. */
#define ROW_SLOTS(name, t)                                                                      \
	static void dots_##name(const float *q, const void *k, int n, int d, float *s)          \
	{                                                                                        \
		dots_rows(q, NULL, k, t, n, d, s);                                               \
	}                                                                                        \
	static void axpys_##name(float *acc, const float *p, const void *v, int n, int d, int g) \
	{                                                                                        \
		(void)g;                                                                         \
		axpys_rows(acc, p, NULL, v, t, n, d);                                            \
	}
ROW_SLOTS(f32, DT_F32)
ROW_SLOTS(f16, DT_F16)
ROW_SLOTS(bf16, DT_BF16)
ROW_SLOTS(e4m3, DT_FP8_E4M3)
ROW_SLOTS(e5m2, DT_FP8_E5M2)

#define BLOCK_SLOTS(name, t)                                                                    \
	static void dots_##name(const float *q, const void *k, int n, int d, float *s)          \
	{                                                                                        \
		dots_blocks(q, k, t, n, d, s);                                                   \
	}                                                                                        \
	static void axpys_##name(float *acc, const float *p, const void *v, int n, int d, int g) \
	{                                                                                        \
		(void)g;                                                                         \
		axpys_blocks(acc, p, v, t, n, d);                                                \
	}
BLOCK_SLOTS(q8_0, DT_Q8_0)
BLOCK_SLOTS(q4_0, DT_Q4_0)

static void axpys_kivi2(float *acc, const float *p, const void *v, int n, int d, int g)
{
	simd_axpys_kivi_scalar(acc, p, v, 2, n, d, g);
}

static void axpys_kivi4(float *acc, const float *p, const void *v, int n, int d, int g)
{
	simd_axpys_kivi_scalar(acc, p, v, 4, n, d, g);
}

static_assert(DT_COUNT == 9, "simd_portable: a dots_kv and an axpys_kv slot per enum dtype");

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
	SIMD_KV_SLOTS,                          /* decoded by the type's own decode */
	.dots_kivi = simd_dots_kivi_scalar,     /* code by code */
};
