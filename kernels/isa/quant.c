/* quant.c - the reference coders of the compressed cache formats (see
 * quant.h): scalar, written after the owners' own reference code. */
#include <math.h>
#include <string.h>

#include "half.h"
#include "quant.h"

/* q8_0: d = amax / 127 kept as f16; q = roundf(x * (1 / d)) (ggml
 * multiplies by the reciprocal; roundf rounds half away from zero). */
void q8_0_encode(void *dst, const float *x, int d)
{
	uint8_t *b = dst;

	for (int i = 0; i < d; i += Q_BLOCK, b += Q8_0_BYTES, x += Q_BLOCK) {
		float amax = 0.0f, scale, inv;
		uint16_t h;
		for (int j = 0; j < Q_BLOCK; j++)
			amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
		scale = amax / 127.0f;
		inv = scale != 0.0f ? 1.0f / scale : 0.0f;
		h = dt_to_f16(scale);
		memcpy(b, &h, sizeof h);
		for (int j = 0; j < Q_BLOCK; j++)
			b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * inv);
	}
}

void q8_0_decode(float *out, const void *src, int d)
{
	const uint8_t *b = src;

	for (int i = 0; i < d; i += Q_BLOCK, b += Q8_0_BYTES) {
		uint16_t h;
		memcpy(&h, b, sizeof h);
		for (int j = 0; j < Q_BLOCK; j++)
			out[i + j] = dt_from_f16(h) * (float)(int8_t)b[2 + j];
	}
}

/* q4_0: m the value of largest magnitude with its sign (the first such),
 * d = m / -8 kept as f16, q = min(15, (int8_t)(x / d + 8.5)); value j in
 * the low nibble of byte j, value j + 16 in its high nibble. */
void q4_0_encode(void *dst, const float *x, int d)
{
	uint8_t *b = dst;

	for (int i = 0; i < d; i += Q_BLOCK, b += Q4_0_BYTES, x += Q_BLOCK) {
		float amax = 0.0f, max = 0.0f, scale, inv;
		uint16_t h;
		for (int j = 0; j < Q_BLOCK; j++)
			if (amax < fabsf(x[j])) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		scale = max / -8.0f;
		inv = scale != 0.0f ? 1.0f / scale : 0.0f;
		h = dt_to_f16(scale);
		memcpy(b, &h, sizeof h);
		for (int j = 0; j < Q_BLOCK / 2; j++) {
			int lo = (int8_t)(x[j] * inv + 8.5f), hi = (int8_t)(x[j + 16] * inv + 8.5f);
			lo = lo < 15 ? lo : 15;
			hi = hi < 15 ? hi : 15;
			b[2 + j] = (uint8_t)(lo | hi << 4);
		}
	}
}

void q4_0_decode(float *out, const void *src, int d)
{
	const uint8_t *b = src;

	for (int i = 0; i < d; i += Q_BLOCK, b += Q4_0_BYTES) {
		uint16_t h;
		memcpy(&h, b, sizeof h);
		for (int j = 0; j < Q_BLOCK / 2; j++) {
			out[i + j] = dt_from_f16(h) * (float)((b[2 + j] & 15) - 8);
			out[i + j + 16] = dt_from_f16(h) * (float)((b[2 + j] >> 4) - 8);
		}
	}
}

float fp8_max(int e4m3)
{
	return e4m3 ? 448.0f : 57344.0f;
}

uint8_t fp8_encode(float x, int e4m3)
{
	int mbits = e4m3 ? 3 : 2, bias = e4m3 ? 7 : 15, emin = 1 - bias, e;
	uint8_t sign = signbit(x) ? 0x80 : 0;
	float a = fabsf(x), q;

	if (isnan(x))
		return (uint8_t)(sign | 0x7f);
	if (a == 0.0f)
		return sign;
	if (a >= fp8_max(e4m3)) {
		q = fp8_max(e4m3);
	} else {
		e = ilogbf(a) < emin ? emin : ilogbf(a);
		q = ldexpf(nearbyintf(ldexpf(a, mbits - e)), e - mbits);
		q = q > fp8_max(e4m3) ? fp8_max(e4m3) : q;
		if (q == 0.0f)
			return sign;
	}
	e = ilogbf(q);
	if (e < emin)                           /* denormal: exponent field 0 */
		return (uint8_t)(sign | (int)ldexpf(q, mbits - emin));
	return (uint8_t)(sign | (e + bias) << mbits |
			 ((int)ldexpf(q, mbits - e) - (1 << mbits)));
}

float fp8_decode(uint8_t code, int e4m3)
{
	int mbits = e4m3 ? 3 : 2, bias = e4m3 ? 7 : 15, top = e4m3 ? 15 : 31;
	int exp = (code & 0x7f) >> mbits, m = code & ((1 << mbits) - 1);
	float a;

	if (exp == top && (!e4m3 || m == (1 << mbits) - 1))
		a = e4m3 || m ? NAN : INFINITY;
	else if (!exp)
		a = ldexpf((float)m, 1 - bias - mbits);
	else
		a = ldexpf((float)(m + (1 << mbits)), exp - bias - mbits);
	return code & 0x80 ? -a : a;
}

void kivi_encode(uint8_t *codes, uint16_t *scale, uint16_t *zero,
		 const float *x, int n, size_t stride, int bits)
{
	float mn = x[0], mx = x[0], s, z;
	int top = (1 << bits) - 1;

	for (int i = 1; i < n; i++) {
		float v = x[(size_t)i * stride];
		mn = v < mn ? v : mn;
		mx = v > mx ? v : mx;
	}
	*scale = dt_to_f16((mx - mn) / (float)top);
	*zero = dt_to_f16(mn);
	s = dt_from_f16(*scale);
	z = dt_from_f16(*zero);
	memset(codes, 0, (size_t)(n * bits + 7) / 8);
	for (int i = 0; s > 0.0f && i < n; i++) {
		float c = nearbyintf((x[(size_t)i * stride] - z) / s);
		int q = c < 0.0f ? 0 : c > (float)top ? top : (int)c;
		codes[(i * bits) >> 3] |= (uint8_t)(q << ((i * bits) & 7));
	}
}
