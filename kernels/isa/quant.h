/* quant.h - the reference coders of the compressed cache formats, scalar
 * and exact as their owners define them (../shared/REFERENCES.md section
 * 6): llama.cpp's q8_0 and q4_0 blocks, KIVI's asymmetric groups, and
 * vLLM's per-tensor scaled fp8 (e4m3, e5m2). The decode kernels' ISA
 * paths read what these write; tests pin these byte for byte. */
#ifndef SABENCH_QUANT_H
#define SABENCH_QUANT_H

#include <stddef.h>
#include <stdint.h>

#define Q_BLOCK 32              /* values per q8_0 / q4_0 block */
#define Q8_0_BYTES 34           /* f16 scale + 32 int8 */
#define Q4_0_BYTES 18           /* f16 scale + 16 bytes of nibbles */

/* llama.cpp's quantize_row_q8_0_ref / q4_0_ref and their dequantisers
 * over d values (d a multiple of Q_BLOCK). */
void q8_0_encode(void *dst, const float *x, int d);
void q8_0_decode(float *out, const void *src, int d);
void q4_0_encode(void *dst, const float *x, int d);
void q4_0_decode(float *out, const void *src, int d);

/* fp8: e4m3 (4 exponent bits, bias 7, no infinities, largest 448) when
 * e4m3, else e5m2 (IEEE-like, bias 15, largest finite 57344). x is
 * rounded to nearest even; beyond the largest finite it saturates, as
 * vLLM's scaled conversion clamps; NaN stays NaN. */
uint8_t fp8_encode(float x, int e4m3);
float fp8_decode(uint8_t code, int e4m3);
/* The largest finite value of the format. */
float fp8_max(int e4m3);

/* KIVI's asymmetric coder: the n values x[0], x[stride], ... get one scale
 * (max - min) / (2^bits - 1) and zero point min, both stored as f16
 * (round to nearest even) and used rounded; value i is coded as
 * nearbyint((x - min) / scale) clamped to [0, 2^bits - 1] (ties to even,
 * as torch.round) into bits (i * bits) of codes, low bits first. A group
 * of equal values has scale 0 and codes 0. */
void kivi_encode(uint8_t *codes, uint16_t *scale, uint16_t *zero,
		 const float *x, int n, size_t stride, int bits);
/* Value i of a group: code * scale + zero. */
static inline int kivi_code(const uint8_t *codes, int i, int bits)
{
	int at = i * bits;

	return (codes[at >> 3] >> (at & 7)) & ((1 << bits) - 1);
}

#endif
