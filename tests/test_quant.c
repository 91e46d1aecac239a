/* test_quant.c - the compressed cache formats byte for byte on hand-worked
 * blocks (llama.cpp's q8_0 and q4_0, vLLM's fp8, KIVI's groups), and a
 * cache's stored rows and key groups against those coders. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "../kernels/isa/quant.h"
#include "../kernels/kvcache.h"

static void assert_bytes(const uint8_t *got, const uint8_t *want, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "%s: byte %zu is %02x, not %02x", what, i, got[i], want[i]);
}

/* A block: its f16 scale (little-endian), then the code bytes. */
static void block(uint8_t *b, uint16_t scale, const uint8_t *codes, size_t n)
{
	b[0] = (uint8_t)scale;
	b[1] = (uint8_t)(scale >> 8);
	memcpy(b + 2, codes, n);
}

Test(quant, q8_0_blocks_are_llama_cpp_s)
{
	float x[32];
	uint8_t got[Q8_0_BYTES], want[Q8_0_BYTES], q[32];

	memset(x, 0, sizeof x);                 /* all zeros: scale 0, codes 0 */
	memset(q, 0, sizeof q);
	q8_0_encode(got, x, 32);
	block(want, 0x0000, q, 32);
	assert_bytes(got, want, sizeof got, "zeros");

	x[5] = 127.0f;                          /* one large value: d = 1 */
	x[1] = 2.5f;                            /* ties round away from zero */
	x[2] = -2.5f;
	x[3] = 0.5f;
	q[5] = 127;
	q[1] = 3;
	q[2] = (uint8_t)-3;
	q[3] = 1;
	q8_0_encode(got, x, 32);
	block(want, 0x3c00, q, 32);
	assert_bytes(got, want, sizeof got, "one large value and ties");

	memset(x, 0, sizeof x);                 /* negative extremes: d = 2 */
	memset(q, 0, sizeof q);
	x[0] = -254.0f;
	x[1] = -1.0f;
	q[0] = (uint8_t)-127;
	q[1] = (uint8_t)-1;                     /* -0.5 rounds away from zero */
	q8_0_encode(got, x, 32);
	block(want, 0x4000, q, 32);
	assert_bytes(got, want, sizeof got, "negative extremes");
	{
		float back[32];
		q8_0_decode(back, got, 32);
		cr_assert_eq(back[0], -254.0f);
		cr_assert_eq(back[1], -2.0f);
	}
}

Test(quant, q4_0_blocks_are_llama_cpp_s)
{
	float x[32];
	uint8_t got[Q4_0_BYTES], want[Q4_0_BYTES], q[16];

	memset(x, 0, sizeof x);                 /* zeros: every nibble 8, d = 0 / -8 = -0 */
	memset(q, 0x88, sizeof q);
	q4_0_encode(got, x, 32);
	block(want, 0x8000, q, 16);
	assert_bytes(got, want, sizeof got, "zeros");

	x[0] = 8.0f;                            /* one large value: d = -1 */
	q[0] = 0x80;                            /* 8 x -1 + 8.5 truncates to 0 */
	q4_0_encode(got, x, 32);
	block(want, 0xbc00, q, 16);
	assert_bytes(got, want, sizeof got, "one large value");

	memset(x, 0, sizeof x);                 /* negative extreme: d = 1 */
	memset(q, 0x88, sizeof q);
	x[0] = -8.0f;                           /* code 0 */
	x[16] = 7.0f;                           /* 15.5: 15 */
	x[1] = 7.4f;                            /* 15.9: 15 */
	x[2] = 0.5f;                            /* 9.0: 9 */
	x[3] = -0.5f;                           /* 8.0: 8 */
	x[4] = -1.5f;                           /* 7.0: 7 */
	q[0] = 0xf0;
	q[1] = 0x8f;
	q[2] = 0x89;
	q[3] = 0x88;
	q[4] = 0x87;
	q4_0_encode(got, x, 32);
	block(want, 0x3c00, q, 16);
	assert_bytes(got, want, sizeof got, "negative extreme and halves");

	memset(x, 0, sizeof x);                 /* equal magnitudes: the first sets the sign */
	memset(q, 0x88, sizeof q);
	x[0] = 4.0f;
	x[1] = -4.0f;
	q[0] = 0x80;                            /* 4 x -2 + 8.5: 0 */
	q[1] = 0x8f;                            /* -4 x -2 + 8.5 = 16.5: clamped to 15 */
	q4_0_encode(got, x, 32);
	block(want, 0xb800, q, 16);
	assert_bytes(got, want, sizeof got, "first of equal magnitudes");
}

Test(quant, fp8_codes_round_to_even_and_saturate)
{
	static const struct { float x; int e4m3; uint8_t code; } cases[] = {
		{ 1.0f, 1, 0x38 }, { 448.0f, 1, 0x7e }, { 1000.0f, 1, 0x7e }, { -448.0f, 1, 0xfe },
		{ 0x1p-9f, 1, 0x01 }, { 0x1p-10f, 1, 0x00 }, { 0x3p-10f, 1, 0x02 },
		{ 1.0625f, 1, 0x38 }, { 1.1875f, 1, 0x3a }, { -0.0f, 1, 0x80 },
		{ 1.0f, 0, 0x3c }, { 57344.0f, 0, 0x7b }, { 1e6f, 0, 0x7b }, { -INFINITY, 0, 0xfb },
		{ 1.125f, 0, 0x3c }, { 1.375f, 0, 0x3e }, { 0x1p-16f, 0, 0x01 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		cr_assert_eq(fp8_encode(cases[i].x, cases[i].e4m3), cases[i].code,
			     "%a in %s: %02x, not %02x", cases[i].x, cases[i].e4m3 ? "e4m3" : "e5m2",
			     fp8_encode(cases[i].x, cases[i].e4m3), cases[i].code);
	cr_assert_eq(fp8_encode(NAN, 1) & 0x7f, 0x7f);
	for (int c = 0; c < 256; c++)           /* every finite code round-trips */
		for (int e4m3 = 0; e4m3 <= 1; e4m3++) {
			float v = fp8_decode((uint8_t)c, e4m3);
			if (isfinite(v) && !(v == 0.0f && c == 0x80))
				cr_assert_eq(fp8_encode(v, e4m3), c, "%s %02x", e4m3 ? "e4m3" : "e5m2", c);
		}
}

Test(quant, kivi_groups_are_min_max_asymmetric)
{
	static const struct { float x[4]; uint16_t scale, zero; uint8_t code; } cases[] = {
		{ { 0, 1, 2, 3 }, 0x3c00, 0x0000, 0xe4 },       /* codes 0 1 2 3 */
		{ { 0, 0.5f, 1.5f, 3 }, 0x3c00, 0x0000, 0xe0 }, /* halves to even: 0 0 2 3 */
		{ { 2, 2, 2, 2 }, 0x0000, 0x4000, 0x00 },       /* one value: scale 0 */
		{ { -3, -1, 0, 0 }, 0x3c00, 0xc200, 0xf8 },     /* negative: 0 2 3 3 */
	};
	uint8_t codes[2];
	uint16_t sc, zp;
	float strided[8];

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		kivi_encode(codes, &sc, &zp, cases[i].x, 4, 1, 2);
		cr_assert_eq(sc, cases[i].scale, "case %zu: scale %04x", i, sc);
		cr_assert_eq(zp, cases[i].zero, "case %zu: zero %04x", i, zp);
		cr_assert_eq(codes[0], cases[i].code, "case %zu: codes %02x", i, codes[0]);
		for (int j = 0; j < 4; j++) {   /* a channel of keys: every other value */
			strided[2 * j] = cases[i].x[j];
			strided[2 * j + 1] = 1e9f;
		}
		kivi_encode(codes, &sc, &zp, strided, 4, 2, 2);
		cr_assert_eq(codes[0], cases[i].code, "case %zu strided", i);
	}
	/* 4 bits: 16 levels over [0, 15] */
	{
		float x[4] = { 0, 15, 7, 8 };
		kivi_encode(codes, &sc, &zp, x, 4, 1, 4);
		cr_assert_eq(codes[0], 0xf0);
		cr_assert_eq(codes[1], 0x87);
	}
}

/* A cache stores what the coders give: a q8_0 row byte for byte, and a
 * KIVI cache its key groups per channel once residual tokens follow. */
Test(quant, a_cache_stores_rows_and_groups_as_the_coders_give)
{
	struct kv_cache c;
	float k[64][32], v[64][32];
	uint8_t want[2 * Q8_0_BYTES];

	for (int i = 0; i < 64; i++)
		for (int x = 0; x < 32; x++) {
			k[i][x] = sinf((float)(i * 32 + x)) * (x == 3 ? 20.0f : 1.0f);
			v[i][x] = cosf((float)(i * 7 + x));
		}
	cr_assert_eq(kvc_init(&c, KV_PAGED, DT_Q8_0, 32, 32, 64, 0, 0, 7), 0);
	for (int i = 0; i < 64; i++)
		kvc_store(&c, i, k[i], v[i]);
	q8_0_encode(want, k[40], 32);
	assert_bytes(kvc_at(&c, 0, kvc_row(&c, 40)), want, Q8_0_BYTES, "q8_0 cache row");
	kvc_free(&c);

	cr_assert_eq(kvc_init(&c, KV_FULL, DT_KIVI2, 32, 32, 64, 0, 0, 1), 0);
	cr_assert_eq(kvc_set_kivi(&c, 16, 24), 0);
	for (int i = 0; i < 40; i++)
		kvc_store(&c, i, k[i], v[i]);
	cr_assert_eq(c.kq, 16, "40 tokens, residual 24: one group of 16 keys quantised");
	cr_assert_eq(c.vq, 16);
	{
		const uint8_t *blk = kvc_key_group(&c, 5);
		float col[16];
		uint8_t codes[4];
		uint16_t sc, zp;
		for (int i = 0; i < 16; i++)
			col[i] = dt_from_f16(dt_to_f16(k[i][3]));
		kivi_encode(codes, &sc, &zp, col, 16, 1, 2);
		cr_assert_eq(((const uint16_t *)blk)[3], sc);
		cr_assert_eq(((const uint16_t *)blk)[32 + 3], zp);
		assert_bytes(blk + 4 * 32 + 3 * 4, codes, 4, "channel 3's codes");
	}
	kvc_free(&c);
}

/* A cache refuses a row width that is not a whole number of its type's
 * blocks (or KIVI groups), rather than code a partial block past the row;
 * the widths that are whole are taken (negative control). */
Test(quant, a_cache_refuses_widths_its_blocks_do_not_divide)
{
	struct kv_cache c;

	cr_assert_eq(kvc_init(&c, KV_FULL, DT_Q8_0, 16, 32, 64, 0, 0, 1), -1);
	cr_assert_eq(kvc_init(&c, KV_FULL, DT_Q4_0, 32, 40, 64, 0, 0, 1), -1);
	cr_assert_eq(kvc_init(&c, KV_FULL, DT_Q8_0, 32, 64, 64, 0, 0, 1), 0);
	kvc_free(&c);
	cr_assert_eq(kvc_init(&c, KV_FULL, DT_KIVI2, 16, 16, 64, 0, 0, 1), 0);
	cr_assert_eq(kvc_set_kivi(&c, 32, 0), -1, "16 channels in groups of 32");
	kvc_free(&c);
	cr_assert_eq(kvc_init(&c, KV_FULL, DT_KIVI2, 64, 32, 64, 0, 0, 1), 0);
	cr_assert_eq(kvc_set_kivi(&c, 32, 0), 0);
	kvc_free(&c);
	cr_assert_eq(dtype_width_unit(DT_F16, 32), 1);
	cr_assert_eq(dtype_width_unit(DT_KIVI4, 16), 16);
}
