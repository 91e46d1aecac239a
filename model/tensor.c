/* tensor.c - the ggml tensor types sabench reads (tensor.h) and their
 * dequantisation, written from ggml's block layouts (ggml-common.h) and
 * reference rows (ggml-quants.c's dequantize_row_*). Built with
 * -ffp-contract=off (Makefile): a product and a sum are two roundings, as
 * in ISO C, so that a value equals ggml's reference bit for bit. */
#include <assert.h>
#include <string.h>

#include "../kernels/isa/half.h"
#include "tensor.h"

#define QK 32                   /* values a block of the simple types */
#define QK_K 256                /* values a k-quant super-block */
#define K_SCALE_SIZE 12         /* bytes of a q4_K's scales and mins */

float tensor_f16(uint16_t h)
{
	return dt_from_f16(h);
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void dequant_f32(const void *x, float *y, int64_t n)
{
	memcpy(y, x, (size_t)n * sizeof *y);
}

static void dequant_f16(const void *x, float *y, int64_t n)
{
	const uint8_t *p = x;

	for (int64_t i = 0; i < n; i++)
		y[i] = tensor_f16(le16(p + 2 * i));
}

static void dequant_bf16(const void *x, float *y, int64_t n)
{
	const uint8_t *p = x;

	for (int64_t i = 0; i < n; i++)
		y[i] = dt_from_bf16(le16(p + 2 * i));
}

/* block_q5_0: f16 d, u32 qh (bit j: value j's fifth bit), qs[16]: value
 * j's low nibble in qs[j] & 15, value j + 16's in qs[j] >> 4. */
static void dequant_q5_0(const void *x, float *y, int64_t n)
{
	const uint8_t *b = x;

	for (int64_t i = 0; i < n / QK; i++, b += 22, y += QK) {
		const float d = tensor_f16(le16(b));
		uint32_t qh;
		memcpy(&qh, b + 2, sizeof qh);
		for (int j = 0; j < QK / 2; j++) {
			const uint8_t xh_0 = (uint8_t)(((qh >> j) << 4) & 0x10);
			const uint8_t xh_1 = (uint8_t)((qh >> (j + 12)) & 0x10);
			const int32_t x0 = ((b[6 + j] & 0x0F) | xh_0) - 16;
			const int32_t x1 = ((b[6 + j] >> 4) | xh_1) - 16;
			y[j] = (float)x0 * d;
			y[j + QK / 2] = (float)x1 * d;
		}
	}
}

/* block_q8_0: f16 d, int8 qs[32]. */
static void dequant_q8_0(const void *x, float *y, int64_t n)
{
	const uint8_t *b = x;

	for (int64_t i = 0; i < n / QK; i++, b += 34, y += QK) {
		const float d = tensor_f16(le16(b));
		for (int j = 0; j < QK; j++)
			y[j] = (float)(int8_t)b[2 + j] * d;
	}
}

/* The 6-bit scale and min of sub-block j of a q4_K (ggml's
 * get_scale_min_k4): sub-blocks 0-3 in the low six bits of bytes j and
 * j + 4; 4-7 split between the nibbles of byte j + 4 and the top two bits
 * of bytes j - 4 and j. */
static void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
	if (j < 4) {
		*d = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
		*m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
	}
}

/* block_q4_K: f16 d, f16 dmin, scales[12], qs[128]; per 64 values, the
 * low nibbles are a sub-block, the high nibbles the next:
 * value = d scale q - dmin min. */
static void dequant_q4_k(const void *x, float *y, int64_t n)
{
	const uint8_t *b = x;

	for (int64_t i = 0; i < n / QK_K; i++, b += 144) {
		const float d = tensor_f16(le16(b)), min = tensor_f16(le16(b + 2));
		const uint8_t *scales = b + 4, *q = b + 4 + K_SCALE_SIZE;
		int is = 0;
		for (int j = 0; j < QK_K; j += 64, q += 32, is += 2) {
			uint8_t sc, m;
			scale_min_k4(is + 0, scales, &sc, &m);
			const float d1 = d * sc, m1 = min * m;
			scale_min_k4(is + 1, scales, &sc, &m);
			const float d2 = d * sc, m2 = min * m;
			for (int l = 0; l < 32; l++)
				*y++ = d1 * (q[l] & 0xF) - m1;
			for (int l = 0; l < 32; l++)
				*y++ = d2 * (q[l] >> 4) - m2;
		}
	}
}

/* block_q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), int8
 * scales[16] (one per 16 values), f16 d: value = d scale (q - 32). */
static void dequant_q6_k(const void *x, float *y, int64_t n)
{
	const uint8_t *b = x;

	for (int64_t i = 0; i < n / QK_K; i++, b += 210) {
		const float d = tensor_f16(le16(b + 208));
		const uint8_t *ql = b, *qh = b + 128;
		const int8_t *sc = (const int8_t *)(b + 192);
		for (int part = 0; part < QK_K; part += 128, y += 128, ql += 64, qh += 32, sc += 8)
			for (int l = 0; l < 32; l++) {
				const int is = l / 16;
				const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
				const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
				const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
				const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
				y[l + 0] = d * sc[is + 0] * q1;
				y[l + 32] = d * sc[is + 2] * q2;
				y[l + 64] = d * sc[is + 4] * q3;
				y[l + 96] = d * sc[is + 6] * q4;
			}
	}
}

static const struct tensor_type_desc types[] = {
	[TT_F32] = { "f32", 0, 1, 4, dequant_f32 },
	[TT_F16] = { "f16", 1, 1, 2, dequant_f16 },
	[TT_Q5_0] = { "q5_0", 6, QK, 22, dequant_q5_0 },
	[TT_Q8_0] = { "q8_0", 8, QK, 34, dequant_q8_0 },
	[TT_Q4_K] = { "q4_K", 12, QK_K, 144, dequant_q4_k },
	[TT_Q6_K] = { "q6_K", 14, QK_K, 210, dequant_q6_k },
	[TT_BF16] = { "bf16", 30, 1, 2, dequant_bf16 },
};
static_assert(sizeof types / sizeof *types == TT_COUNT, "types: one per enum tensor_type");

const struct tensor_type_desc *tensor_type_of(enum tensor_type t)
{
	return &types[t];
}

int tensor_type_find(uint32_t id)
{
	for (int t = 0; t < TT_COUNT; t++)
		if (types[t].ggml_id == id)
			return t;
	return -1;
}

uint64_t tensor_row_bytes(enum tensor_type t, int64_t n)
{
	if (n < 0 || n % types[t].block)
		return 0;
	return (uint64_t)(n / types[t].block) * (uint64_t)types[t].block_bytes;
}
