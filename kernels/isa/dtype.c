/* dtype.c - the element types' table and the f16 conversions (written
 * out: not every compiler has _Float16). */
#include <assert.h>
#include <string.h>

#include "dtype.h"

static float load_f32(const void *row, size_t i)
{
	return ((const float *)row)[i];
}

static void store_f32(void *row, size_t i, float x)
{
	((float *)row)[i] = x;
}

static float load_f16(const void *row, size_t i)
{
	return dt_from_f16(((const uint16_t *)row)[i]);
}

static void store_f16(void *row, size_t i, float x)
{
	((uint16_t *)row)[i] = dt_to_f16(x);
}

static float load_bf16(const void *row, size_t i)
{
	return dt_from_bf16(((const uint16_t *)row)[i]);
}

static void store_bf16(void *row, size_t i, float x)
{
	((uint16_t *)row)[i] = dt_to_bf16(x);
}

/* Verification limits: fp32 rounding over long sums; f16's 11 and bf16's
 * 8 bits of mantissa on K and V (and on P for the bf16 paths). */
static const struct dtype_desc table[] = {
	[DT_F32] = {
		.name = "f32",                  /* YAML, CSV */
		.bytes = 4,
		.operand = 1,                   /* Q, K, V */
		.max_abs = 2e-4,                /* largest |out - oracle| */
		.max_nmse = 1e-7,
		.load = load_f32,
		.store = store_f32,
	},
	[DT_F16] = {
		.name = "f16",
		.bytes = 2,
		.operand = 0,                   /* the decode cache only */
		.max_abs = 4e-3,
		.max_nmse = 2e-5,
		.load = load_f16,
		.store = store_f16,
	},
	[DT_BF16] = {
		.name = "bf16",
		.bytes = 2,
		.operand = 1,                   /* Q, K, V: the bf16 paths */
		.max_abs = 3e-2,
		.max_nmse = 2e-3,
		.load = load_bf16,
		.store = store_bf16,
	},
};
static_assert(sizeof table / sizeof *table == DT_COUNT, "table: one per enum dtype");

const char *const dtype_names[] = { [DT_F32] = "f32", [DT_F16] = "f16", [DT_BF16] = "bf16", NULL };
static_assert(sizeof dtype_names / sizeof *dtype_names == DT_COUNT + 1,
	      "dtype_names: one per enum dtype, then NULL");

const struct dtype_desc *dtype_of(enum dtype t)
{
	return &table[t];
}

int dtype_find(const char *name)
{
	for (int t = 0; t < DT_COUNT; t++)
		if (!strcmp(table[t].name, name))
			return t;
	return -1;
}

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

