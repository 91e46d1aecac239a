/* half.c - fp32 <-> f16 conversions, round to nearest even, written out
 * (not every compiler has _Float16): a leaf below the storage types
 * (dtype.c) and the compressed formats' coders (quant.c), which both use
 * them. */
#include <string.h>

#include "half.h"

uint16_t dt_to_f16(float f)
{
	uint32_t x, sign, mant, half, rem, tie;
	int e;

	memcpy(&x, &f, sizeof x);
	sign = (x >> 16) & 0x8000u;
	mant = x & 0x7fffffu;
	e = (int)((x >> 23) & 0xffu);
	if (e == 0xff)                          /* inf, or a quiet nan */
		return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0));
	e = e - 127 + 15;
	if (e >= 0x1f)
		return (uint16_t)(sign | 0x7c00u);      /* overflow: inf */
	if (e <= 0) {                           /* half denormal, or zero */
		int shift = 14 - e;
		if (shift > 24)
			return (uint16_t)sign;
		mant |= 0x800000u;
		half = mant >> shift;
		rem = mant & ((1u << shift) - 1);
		tie = 1u << (shift - 1);
		half += rem > tie || (rem == tie && (half & 1u));
		return (uint16_t)(sign | half);
	}
	half = sign | ((uint32_t)e << 10) | (mant >> 13);
	rem = mant & 0x1fffu;
	half += rem > 0x1000u || (rem == 0x1000u && (half & 1u)); /* may carry to inf */
	return (uint16_t)half;
}

float dt_from_f16(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu;
	uint32_t mant = h & 0x3ffu, x;
	float f;

	if (exp == 0x1f) {
		x = sign | 0x7f800000u | (mant << 13);
	} else if (exp) {
		x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
	} else if (!mant) {
		x = sign;
	} else {                                /* denormal: normalise */
		int e = -1;
		do {
			e++;
			mant <<= 1;
		} while (!(mant & 0x400u));
		x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
	}
	memcpy(&f, &x, sizeof f);
	return f;
}
