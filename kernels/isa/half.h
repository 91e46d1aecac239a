/* half.h - fp32 <-> f16 and bf16, round to nearest even: the leaf the
 * storage types (dtype.c), the coders (quant.c) and the ISA paths share. */
#ifndef SABENCH_HALF_H
#define SABENCH_HALF_H

#include <stdint.h>
#include <string.h>

/* fp32 <-> f16, round to nearest even, written out (not every compiler
 * has _Float16); the ISA paths widen with F16C / AVX-512. */
uint16_t dt_to_f16(float x);
float dt_from_f16(uint16_t h);

/* fp32 <-> bf16, round to nearest even; inf, nan and denormals convert as
 * IEEE says (bf16 keeps fp32's range). */
static inline uint16_t dt_to_bf16(float x)
{
	uint32_t u;

	memcpy(&u, &x, sizeof u);
	if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu))
		return (uint16_t)((u >> 16) | 0x0040u);         /* quiet nan */
	u += 0x7fffu + ((u >> 16) & 1u);                        /* nearest even */
	return (uint16_t)(u >> 16);
}

static inline float dt_from_bf16(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float x;

	memcpy(&x, &u, sizeof x);
	return x;
}

#endif
