/* dtype.c - the element types' table, their row coders (the compressed
 * ones call quant.c's references) and the f16 conversions (written out:
 * not every compiler has _Float16). */
#include <assert.h>
#include <string.h>

#include "dtype.h"
#include "quant.h"

static void encode_f32(void *row, const float *x, int d, const struct dt_params *par)
{
	(void)par;
	memcpy(row, x, (size_t)d * sizeof *x);
}

static void decode_f32(float *out, const void *row, int d, const struct dt_params *par)
{
	(void)par;
	memcpy(out, row, (size_t)d * sizeof *out);
}

static void encode_f16(void *row, const float *x, int d, const struct dt_params *par)
{
	(void)par;
	for (int i = 0; i < d; i++)
		((uint16_t *)row)[i] = dt_to_f16(x[i]);
}

static void decode_f16(float *out, const void *row, int d, const struct dt_params *par)
{
	(void)par;
	for (int i = 0; i < d; i++)
		out[i] = dt_from_f16(((const uint16_t *)row)[i]);
}

static void encode_bf16(void *row, const float *x, int d, const struct dt_params *par)
{
	(void)par;
	for (int i = 0; i < d; i++)
		((uint16_t *)row)[i] = dt_to_bf16(x[i]);
}

static void decode_bf16(float *out, const void *row, int d, const struct dt_params *par)
{
	(void)par;
	for (int i = 0; i < d; i++)
		out[i] = dt_from_bf16(((const uint16_t *)row)[i]);
}

static void encode_q8_0(void *row, const float *x, int d, const struct dt_params *par)
{
	(void)par;
	q8_0_encode(row, x, d);
}

static void decode_q8_0(float *out, const void *row, int d, const struct dt_params *par)
{
	(void)par;
	q8_0_decode(out, row, d);
}

static void encode_q4_0(void *row, const float *x, int d, const struct dt_params *par)
{
	(void)par;
	q4_0_encode(row, x, d);
}

static void decode_q4_0(float *out, const void *row, int d, const struct dt_params *par)
{
	(void)par;
	q4_0_decode(out, row, d);
}

/* fp8: code = fp8(x / scale), as vLLM's scaled conversion. */
static void encode_fp8(void *row, const float *x, int d, int e4m3, const struct dt_params *par)
{
	for (int i = 0; i < d; i++)
		((uint8_t *)row)[i] = fp8_encode(x[i] / par->scale, e4m3);
}

static void decode_fp8(float *out, const void *row, int d, int e4m3, const struct dt_params *par)
{
	for (int i = 0; i < d; i++)
		out[i] = fp8_decode(((const uint8_t *)row)[i], e4m3) * par->scale;
}

static void encode_e4m3(void *row, const float *x, int d, const struct dt_params *par)
{
	encode_fp8(row, x, d, 1, par);
}

static void decode_e4m3(float *out, const void *row, int d, const struct dt_params *par)
{
	decode_fp8(out, row, d, 1, par);
}

static void encode_e5m2(void *row, const float *x, int d, const struct dt_params *par)
{
	encode_fp8(row, x, d, 0, par);
}

static void decode_e5m2(float *out, const void *row, int d, const struct dt_params *par)
{
	decode_fp8(out, row, d, 0, par);
}

/* A KIVI value row: per group of par->group channels an f16 scale, an
 * f16 zero point and the codes (group x bits / 8 bytes). */
static void encode_kivi(void *row, const float *x, int d, int bits, const struct dt_params *par)
{
	uint8_t *b = row;
	int g = par->group;

	for (int c = 0; c < d; c += g, b += 4 + g * bits / 8) {
		uint16_t sc, zp;
		kivi_encode(b + 4, &sc, &zp, x + c, g, 1, bits);
		memcpy(b, &sc, 2);
		memcpy(b + 2, &zp, 2);
	}
}

static void decode_kivi(float *out, const void *row, int d, int bits, const struct dt_params *par)
{
	const uint8_t *b = row;
	int g = par->group;

	for (int c = 0; c < d; c += g, b += 4 + g * bits / 8) {
		uint16_t sc, zp;
		memcpy(&sc, b, 2);
		memcpy(&zp, b + 2, 2);
		for (int i = 0; i < g; i++)
			out[c + i] = (float)kivi_code(b + 4, i, bits) * dt_from_f16(sc) + dt_from_f16(zp);
	}
}

static void encode_kivi2(void *row, const float *x, int d, const struct dt_params *par)
{
	encode_kivi(row, x, d, 2, par);
}

static void decode_kivi2(float *out, const void *row, int d, const struct dt_params *par)
{
	decode_kivi(out, row, d, 2, par);
}

static void encode_kivi4(void *row, const float *x, int d, const struct dt_params *par)
{
	encode_kivi(row, x, d, 4, par);
}

static void decode_kivi4(float *out, const void *row, int d, const struct dt_params *par)
{
	decode_kivi(out, row, d, 4, par);
}

/* Verification limits: fp32 rounding over long sums; f16's 11 and bf16's
 * 8 bits of mantissa on K and V (and on P for the bf16 paths). A decode
 * cache of any type is verified against the oracle on the values it
 * holds (kvcache.h, kv_view), so its limits are fp32's: what a format
 * loses is the quality pass's to measure, not a kernel error. max_abs
 * is per unit of the oracle's largest |value| when that is above 1
 * (verify.h). */
#define FP32_ABS 2e-4
#define FP32_NMSE 1e-7
static const struct dtype_desc table[] = {
	[DT_F32] = {
		.name = "f32",                  /* YAML, CSV */
		.form = DT_FORM_PLAIN,
		.bits = 32,
		.lossy = 0,                     /* holds fp32 exactly */
		.operand = 1,                   /* Q, K, V */
		.max_abs = FP32_ABS,            /* largest |out - oracle| */
		.max_nmse = FP32_NMSE,
		.encode = encode_f32,
		.decode = decode_f32,
	},
	[DT_F16] = {
		.name = "f16",
		.form = DT_FORM_PLAIN,
		.bits = 16,
		.lossy = 1,                     /* a cache of it changes what attention reads */
		.operand = 0,                   /* the decode cache only */
		.max_abs = FP32_ABS,
		.max_nmse = FP32_NMSE,
		.encode = encode_f16,
		.decode = decode_f16,
	},
	[DT_BF16] = {
		.name = "bf16",
		.form = DT_FORM_PLAIN,
		.bits = 16,
		.lossy = 1,                     /* a cache of it changes what attention reads */
		.operand = 1,                   /* Q, K, V: the bf16 paths */
		.max_abs = 3e-2,                /* P in bf16 too */
		.max_nmse = 2e-3,
		.encode = encode_bf16,
		.decode = decode_bf16,
	},
	[DT_Q8_0] = {
		.name = "q8_0",
		.form = DT_FORM_BLOCK,
		.bits = 8,
		.lossy = 1,                     /* a cache of it changes what attention reads */
		.block = Q_BLOCK,               /* 32 values, one f16 scale */
		.scale_bytes = 2,
		.max_abs = FP32_ABS,
		.max_nmse = FP32_NMSE,
		.encode = encode_q8_0,
		.decode = decode_q8_0,
	},
	[DT_Q4_0] = {
		.name = "q4_0",
		.form = DT_FORM_BLOCK,
		.bits = 4,
		.lossy = 1,                     /* a cache of it changes what attention reads */
		.block = Q_BLOCK,
		.scale_bytes = 2,
		.max_abs = FP32_ABS,
		.max_nmse = FP32_NMSE,
		.encode = encode_q4_0,
		.decode = decode_q4_0,
	},
	[DT_KIVI2] = {
		.name = "kivi2",
		.form = DT_FORM_KIVI,
		.bits = 2,
		.lossy = 1,                     /* a cache of it changes what attention reads */
		.block = 0,                     /* kv_group */
		.scale_bytes = 4,               /* f16 scale + f16 zero point */
		.max_abs = FP32_ABS,
		.max_nmse = FP32_NMSE,
		.encode = encode_kivi2,
		.decode = decode_kivi2,
	},
	[DT_KIVI4] = {
		.name = "kivi4",
		.form = DT_FORM_KIVI,
		.bits = 4,
		.lossy = 1,                     /* a cache of it changes what attention reads */
		.block = 0,
		.scale_bytes = 4,
		.max_abs = FP32_ABS,
		.max_nmse = FP32_NMSE,
		.encode = encode_kivi4,
		.decode = decode_kivi4,
	},
	[DT_FP8_E4M3] = {
		.name = "fp8_e4m3",
		.form = DT_FORM_FP8,
		.bits = 8,
		.lossy = 1,                     /* a cache of it changes what attention reads */
		.e4m3 = 1,
		.max_abs = FP32_ABS,
		.max_nmse = FP32_NMSE,
		.encode = encode_e4m3,
		.decode = decode_e4m3,
	},
	[DT_FP8_E5M2] = {
		.name = "fp8_e5m2",
		.form = DT_FORM_FP8,
		.bits = 8,
		.lossy = 1,                     /* a cache of it changes what attention reads */
		.e4m3 = 0,
		.max_abs = FP32_ABS,
		.max_nmse = FP32_NMSE,
		.encode = encode_e5m2,
		.decode = decode_e5m2,
	},
};
static_assert(sizeof table / sizeof *table == DT_COUNT, "table: one per enum dtype");

const char *const dtype_names[] = {
	[DT_F32] = "f32", [DT_F16] = "f16", [DT_BF16] = "bf16", [DT_Q8_0] = "q8_0",
	[DT_Q4_0] = "q4_0", [DT_KIVI2] = "kivi2", [DT_KIVI4] = "kivi4",
	[DT_FP8_E4M3] = "fp8_e4m3", [DT_FP8_E5M2] = "fp8_e5m2", NULL
};
static_assert(sizeof dtype_names / sizeof *dtype_names == DT_COUNT + 1,
	      "dtype_names: one per enum dtype, then NULL");

const struct dtype_desc *dtype_of(enum dtype t)
{
	return &table[t];
}

size_t dtype_row_bytes(enum dtype t, int d, int group)
{
	const struct dtype_desc *x = &table[t];
	int block = x->block ? x->block : group > 0 ? group : 1;

	return (size_t)d * (size_t)x->bits / 8 +
	       (x->scale_bytes ? (size_t)(d / block) * (size_t)x->scale_bytes : 0);
}

int dtype_width_unit(enum dtype t, int group)
{
	const struct dtype_desc *x = &table[t];

	return x->block ? x->block : x->form == DT_FORM_KIVI ? (group > 0 ? group : 1) : 1;
}

int dtype_find(const char *name)
{
	for (int t = 0; t < DT_COUNT; t++)
		if (!strcmp(table[t].name, name))
			return t;
	return -1;
}
