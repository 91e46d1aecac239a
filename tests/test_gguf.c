/* test_gguf.c - the GGUF reader on files built byte by byte: every
 * metadata type read back, tensors placed in the aligned data section;
 * every malformed class refused with its exact message (and a file that
 * is not there, or not a regular file); each tensor type dequantised as
 * ggml's reference does, on hand-worked blocks. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../model/gguf.h"
#include "../model/tensor.h"
#include "gguf_writer.h"
#include "helpers.h"

/* Metadata of every value type, in file order. */
static void all_types(struct gbuf *kv)
{
	float f = 1.5f;
	double d = -2.25;
	uint8_t u8 = 200, b = 1;
	int8_t i8 = -100;
	int16_t i16 = -30000;
	int32_t i32 = -2000000000;

	gb_key(kv, "t.u8", 0); gb_bytes(kv, &u8, 1);
	gb_key(kv, "t.i8", 1); gb_bytes(kv, &i8, 1);
	gb_key(kv, "t.u16", 2); gb_bytes(kv, (uint8_t[]){ 0x34, 0x12 }, 2);
	gb_key(kv, "t.i16", 3); gb_bytes(kv, &i16, 2);
	gb_key(kv, "t.u32", 4); gb_u32(kv, 4000000000u);
	gb_key(kv, "t.i32", 5); gb_bytes(kv, &i32, 4);
	gb_key(kv, "t.f32", 6); gb_bytes(kv, &f, 4);
	gb_key(kv, "t.bool", 7); gb_bytes(kv, &b, 1);
	gb_key(kv, "t.str", 8); gb_str(kv, "gemma3");
	gb_key(kv, "t.arr_str", 9); gb_u32(kv, 8); gb_u64(kv, 3);
	gb_str(kv, "<bos>"); gb_str(kv, ""); gb_str(kv, "\xe2\x96\x81the");
	gb_key(kv, "t.arr_f32", 9); gb_u32(kv, 6); gb_u64(kv, 2); gb_bytes(kv, &f, 4); gb_bytes(kv, &f, 4);
	gb_key(kv, "t.u64", 10); gb_u64(kv, 1ULL << 40);
	gb_key(kv, "t.i64", 11); gb_u64(kv, (uint64_t)-5);
	gb_key(kv, "t.f64", 12); gb_bytes(kv, &d, 8);
}

Test(gguf, every_metadata_type_and_tensors_read_back)
{
	struct gbuf kv = { 0 }, file = { 0 };
	float w[64], v[3] = { 1, 2, 3 };
	struct gg_file g;
	char why[1024], s[64];
	int64_t i;
	double f;

	for (int k = 0; k < 64; k++)
		w[k] = (float)k;
	all_types(&kv);
	struct gw_tensor t[] = {
		{ "blk.0.w", 2, { 8, 8 }, 0, w, sizeof w },
		{ "v", 1, { 3 }, 0, v, sizeof v },
	};
	gw_file(&file, 3, &kv, 14, t, 2);
	cr_assert_eq(gg_parse(&g, file.p, file.n, "mem.gguf", why, sizeof why), 0, "%s", why);
	cr_assert_eq(g.version, 3);
	cr_assert_eq(g.n_kv, 14);
	cr_assert(!gg_get_int(&g, "t.u8", &i) && i == 200);
	cr_assert(!gg_get_int(&g, "t.i8", &i) && i == -100);
	cr_assert(!gg_get_int(&g, "t.u16", &i) && i == 0x1234);
	cr_assert(!gg_get_int(&g, "t.i16", &i) && i == -30000);
	cr_assert(!gg_get_int(&g, "t.u32", &i) && i == 4000000000LL);
	cr_assert(!gg_get_int(&g, "t.i32", &i) && i == -2000000000LL);
	cr_assert(!gg_get_int(&g, "t.bool", &i) && i == 1);
	cr_assert(!gg_get_int(&g, "t.u64", &i) && i == 1LL << 40);
	cr_assert(!gg_get_int(&g, "t.i64", &i) && i == -5);
	cr_assert(!gg_get_float(&g, "t.f32", &f) && f == 1.5);
	cr_assert(!gg_get_float(&g, "t.f64", &f) && f == -2.25);
	cr_assert(!gg_get_string(&g, "t.str", s, sizeof s));
	cr_assert_str_eq(s, "gemma3");
	cr_assert_eq(gg_get_int(&g, "t.str", &i), -1, "a string is no integer");
	cr_assert_eq(gg_get_int(&g, "t.nothing", &i), -1);
	const struct gg_kv *a = gg_get(&g, "t.arr_str");
	cr_assert(a && a->type == GG_ARRAY && a->v.arr.type == GG_STRING && a->v.arr.n == 3);
	cr_assert_eq(a->v.arr.strs[2].len, 6);
	cr_assert_eq(memcmp(a->v.arr.strs[2].s, "\xe2\x96\x81the", 6), 0);
	cr_assert_eq(a->v.arr.strs[1].len, 0);
	a = gg_get(&g, "t.arr_f32");
	cr_assert(a && a->v.arr.n == 2 && gg_arr_num(a, 1) == 1.5);
	const struct gg_tensor *tw = gg_find_tensor(&g, "blk.0.w"), *tv = gg_find_tensor(&g, "v");
	cr_assert(tw && tv);
	cr_assert(tw->ne[0] == 8 && tw->ne[1] == 8 && tw->ne[2] == 1 && tw->bytes == sizeof w);
	cr_assert_eq(((const float *)tw->data)[63], 63.0f);
	cr_assert_eq((tv->data - g.map) % 32, 0, "tensors start aligned");
	cr_assert_eq(((const float *)tv->data)[2], 3.0f);
	cr_assert_null(gg_find_tensor(&g, "blk.0"));
	gg_close(&g);
	gb_free(&kv);
	gb_free(&file);
}

/* The bad files, each from a sound one with one thing wrong. */
enum damage {
	BAD_MAGIC, BAD_VERSION, CUT_HEADER, CUT_KEY, CUT_VALUE, HUGE_KV_COUNT, HUGE_TENSOR_COUNT,
	BAD_VTYPE, ARRAY_OF_ARRAYS, HUGE_ARRAY, HUGE_STRING, KEY_TWICE, BAD_DIMS, BAD_TTYPE,
	NOT_WHOLE_BLOCKS, NEG_DIM, OVERFLOW, ROW_OVERFLOW, PAST_END, UNALIGNED, BAD_ALIGNMENT, TENSOR_TWICE,
	CUT_DATA, DAMAGE_COUNT
};

static const char *const damage_msg[] = {
	[BAD_MAGIC] = "no GGUF magic (the file does not start with \"GGUF\")",
	[BAD_VERSION] = "version 7; sabench reads versions 2 and 3",
	[CUT_HEADER] = "truncated in the metadata count (at byte 16 of 20)",
	[CUT_KEY] = "truncated in a metadata key (100 bytes at byte 32 of 47)",
	[CUT_VALUE] = "truncated in a metadata value (at byte 41 of 43)",
	[HUGE_KV_COUNT] = "it claims 1000000000000 metadata entries, more than the 8 bytes after its header can hold",
	[HUGE_TENSOR_COUNT] = "it claims 1000000000000 tensors, more than the 8 bytes after its metadata can hold",
	[BAD_VTYPE] = "metadata 'a.key' has value type 13, which GGUF does not define",
	[ARRAY_OF_ARRAYS] = "metadata 'a.key' is an array of type 9, which GGUF does not define (arrays of arrays are not read)",
	[HUGE_ARRAY] = "array 'a.key' of 4611686018427387904 elements runs past the end of the file",
	[HUGE_STRING] = "truncated in a string value (1000000 bytes at byte 49 of 64)",
	[KEY_TWICE] = "metadata key 'a.key' appears twice",
	[BAD_DIMS] = "tensor 'w' has 5 dimensions; GGUF allows 1 to 4",
	[BAD_TTYPE] = "tensor 'w': ggml type 2, which sabench does not read",
	[NOT_WHOLE_BLOCKS] = "tensor 'w': a row of 40 values is not whole q8_0 blocks of 32",
	[NEG_DIM] = "tensor 'w' has dimension 1 of 0",
	[OVERFLOW] = "tensor 'w''s size overflows",
	[ROW_OVERFLOW] = "tensor 'w': a row of 4611686018427387936 values overflows a size",
	[PAST_END] = "tensor 'w' (1024 bytes at offset 0) runs past the end of the file",
	[UNALIGNED] = "tensor 'w' at offset 8 is not aligned to 32",
	[BAD_ALIGNMENT] = "general.alignment is not a power of two up to 2^24",
	[TENSOR_TWICE] = "tensor 'w' appears twice",
	[CUT_DATA] = "tensor 'w' (256 bytes at offset 0) runs past the end of the file",
};
_Static_assert(sizeof damage_msg / sizeof *damage_msg == DAMAGE_COUNT, "a message per damage");

/* A tensor info of w: ndims, ne, type, offset. */
static void info(struct gbuf *b, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off)
{
	gb_str(b, "w");
	gb_u32(b, nd);
	for (uint32_t d = 0; d < nd; d++)
		gb_u64(b, ne[d]);
	gb_u32(b, type);
	gb_u64(b, off);
}

/* The file with damage k. */
static void damaged(struct gbuf *f, enum damage k)
{
	uint64_t n_t = k >= BAD_DIMS && k != BAD_ALIGNMENT ? 1 + (k == TENSOR_TWICE) : 0;
	uint64_t n_kv = k >= BAD_VTYPE && k < BAD_DIMS ? 1 + (k == KEY_TWICE) : k == BAD_ALIGNMENT;

	gb_bytes(f, k == BAD_MAGIC ? "GGUG" : "GGUF", 4);
	gb_u32(f, k == BAD_VERSION ? 7 : 3);
	gb_u64(f, k == HUGE_TENSOR_COUNT ? 1000000000000ULL : n_t);
	if (k == CUT_HEADER) {
		gb_u32(f, 1);
		return;
	}
	gb_u64(f, k == HUGE_KV_COUNT ? 1000000000000ULL : k == CUT_KEY || k == CUT_VALUE ? 1 : n_kv);
	if (k == CUT_KEY) {
		gb_u64(f, 100);
		gb_bytes(f, "a.key and then some", 15);
		return;
	}
	if (k == CUT_VALUE) {
		gb_key(f, "a.key", 4);
		gb_bytes(f, "\1\2", 2);
		return;
	}
	if (k == BAD_VTYPE)
		gb_key(f, "a.key", 13);
	if (k == ARRAY_OF_ARRAYS || k == HUGE_ARRAY) {
		gb_key(f, "a.key", 9);
		gb_u32(f, k == ARRAY_OF_ARRAYS ? 9 : 11);
		gb_u64(f, 1ULL << 62);
	}
	if (k == HUGE_STRING) {
		gb_key(f, "a.key", 8);
		gb_u64(f, 1000000);
	}
	for (int i = 0; k == KEY_TWICE && i < 2; i++) {
		gb_key(f, "a.key", 4);
		gb_u32(f, 1);
	}
	if (k == BAD_ALIGNMENT) {
		gb_key(f, "general.alignment", 4);
		gb_u32(f, 48);
	}
	if (k == BAD_DIMS)
		info(f, 5, (uint64_t[]){ 32, 1, 1, 1, 1 }, 0, 0);
	if (k == BAD_TTYPE)
		info(f, 1, (uint64_t[]){ 32 }, 2, 0);
	if (k == NOT_WHOLE_BLOCKS)
		info(f, 1, (uint64_t[]){ 40 }, 8, 0);
	if (k == NEG_DIM)
		info(f, 2, (uint64_t[]){ 32, 0 }, 0, 0);
	if (k == OVERFLOW)
		info(f, 3, (uint64_t[]){ 1ULL << 30, 1ULL << 30, 1ULL << 30 }, 0, 0);
	if (k == ROW_OVERFLOW)         /* 4 (2^62 + 32) bytes wrap to 128: the fuzzer's find */
		info(f, 1, (uint64_t[]){ (1ULL << 62) + 32 }, 0, 0);
	if (k == PAST_END)
		info(f, 2, (uint64_t[]){ 16, 16 }, 0, 0);
	if (k == UNALIGNED)
		info(f, 1, (uint64_t[]){ 2 }, 0, 8);
	for (int i = 0; k == TENSOR_TWICE && i < 2; i++)
		info(f, 1, (uint64_t[]){ 2 }, 0, 0);
	if (k == CUT_DATA)
		info(f, 1, (uint64_t[]){ 64 }, 0, 0);
	gb_align(f, 32);
	if (k == PAST_END || k == UNALIGNED || k == TENSOR_TWICE)
		gb_bytes(f, NULL, 64);
	if (k == CUT_DATA)
		gb_bytes(f, NULL, 100);
}

Test(gguf, each_malformed_class_has_its_message)
{
	for (int k = 0; k < DAMAGE_COUNT; k++) {
		struct gbuf f = { 0 };
		struct gg_file g;
		char why[1024], want[1200];
		damaged(&f, (enum damage)k);
		snprintf(want, sizeof want, "bad GGUF file 'bad.gguf': %s", damage_msg[k]);
		cr_assert_eq(gg_parse(&g, f.p, f.n, "bad.gguf", why, sizeof why), -1, "damage %d read", k);
		cr_assert_str_eq(why, want, "damage %d: %s", k, why);
		gb_free(&f);
	}
}

/* Through the file system: the message names the path; a file that is
 * not there, empty, or a folder; and the negative control, a sound file. */
Test(gguf, files_are_named_in_messages)
{
	const char *dir = temp_dir();
	char path[300], why[1024], want[1200];
	struct gbuf f = { 0 };
	struct gg_file g;
	FILE *fp;

	snprintf(path, sizeof path, "%s/cut.gguf", dir);
	damaged(&f, CUT_DATA);
	fp = fopen(path, "wb");
	fwrite(f.p, 1, f.n, fp);
	fclose(fp);
	cr_assert_eq(gg_open(&g, path, why, sizeof why), -1);
	snprintf(want, sizeof want, "bad GGUF file '%s': %s", path, damage_msg[CUT_DATA]);
	cr_assert_str_eq(why, want);
	gb_free(&f);
	snprintf(path, sizeof path, "%s/none.gguf", dir);
	cr_assert_eq(gg_open(&g, path, why, sizeof why), -1);
	snprintf(want, sizeof want, "cannot open '%s': No such file or directory", path);
	cr_assert_str_eq(why, want);
	cr_assert_eq(gg_open(&g, dir, why, sizeof why), -1);
	snprintf(want, sizeof want, "cannot read '%s': not a regular file", dir);
	cr_assert_str_eq(why, want);
	snprintf(path, sizeof path, "%s/empty.gguf", dir);
	write_text(path, "");
	cr_assert_eq(gg_open(&g, path, why, sizeof why), -1);
	snprintf(want, sizeof want, "bad GGUF file '%s': it is empty", path);
	cr_assert_str_eq(why, want);
	snprintf(path, sizeof path, "%s/good.gguf", dir);
	memset(&f, 0, sizeof f);
	float x[2] = { 1, 2 };
	struct gw_tensor t = { "w", 1, { 2 }, 0, x, sizeof x };
	gw_file(&f, 3, NULL, 0, &t, 1);
	fp = fopen(path, "wb");
	fwrite(f.p, 1, f.n, fp);
	fclose(fp);
	cr_assert_eq(gg_open(&g, path, why, sizeof why), 0, "%s", why);
	cr_assert_eq(((const float *)gg_find_tensor(&g, "w")->data)[1], 2.0f);
	gg_close(&g);
	gb_free(&f);
}

static void dequant(enum tensor_type t, const void *x, float *y, int64_t n)
{
	tensor_type_of(t)->dequant(x, y, n);
}

/* F32, F16 and BF16: exact widenings (f16 0x3c00 = 1, 0xc000 = -2,
 * 0x0001 the smallest denormal 2^-24; bf16 0x3f80 = 1, 0xc0a0 = -5). */
Test(gguf, plain_types_widen_exactly)
{
	uint8_t f16[] = { 0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00 }, bf16[] = { 0x80, 0x3f, 0xa0, 0xc0 };
	float y[3], f32[2] = { 0.1f, -7.5f };

	dequant(TT_F16, f16, y, 3);
	cr_assert(y[0] == 1.0f && y[1] == -2.0f && y[2] == ldexpf(1.0f, -24));
	dequant(TT_BF16, bf16, y, 2);
	cr_assert(y[0] == 1.0f && y[1] == -5.0f);
	dequant(TT_F32, f32, y, 2);
	cr_assert(y[0] == 0.1f && y[1] == -7.5f);
}

/* q8_0: d = 0.5 (f16 0x3800), codes 0, 1, -1, 127, -128, ...:
 * value = code x d. */
Test(gguf, q8_0_block_by_hand)
{
	uint8_t b[34] = { 0x00, 0x38 };
	float y[32];

	for (int j = 0; j < 32; j++)
		b[2 + j] = (uint8_t)(int8_t)(j == 3 ? 127 : j == 4 ? -128 : j % 2 ? j / 2 + 1 : -(j / 2));
	dequant(TT_Q8_0, b, y, 32);
	cr_assert(y[0] == 0.0f && y[1] == 0.5f && y[2] == -0.5f && y[3] == 63.5f && y[4] == -64.0f);
	cr_assert_eq(y[31], 8.0f);              /* code 16 */
}

/* q5_0: d = 2 (f16 0x4000); value j's low nibble in qs[j] & 15 (j < 16)
 * or qs[j - 16] >> 4, its fifth bit bit j of qh; value = (q - 16) d. */
Test(gguf, q5_0_block_by_hand)
{
	uint8_t b[22] = { 0x00, 0x40 };
	uint32_t qh = (1u << 0) | (1u << 17) | (1u << 31);
	float y[32];

	memcpy(b + 2, &qh, 4);
	b[6 + 0] = 0x3f;                        /* value 0: 15 | 16 = 31; value 16: 3 */
	b[6 + 1] = 0x70;                        /* value 1: 0; value 17: 7 | 16 = 23 */
	b[6 + 15] = 0xf8;                       /* value 15: 8; value 31: 15 | 16 = 31 */
	dequant(TT_Q5_0, b, y, 32);
	cr_assert_eq(y[0], (31 - 16) * 2.0f);
	cr_assert_eq(y[16], (3 - 16) * 2.0f);
	cr_assert_eq(y[1], (0 - 16) * 2.0f);
	cr_assert_eq(y[17], (23 - 16) * 2.0f);
	cr_assert_eq(y[15], (8 - 16) * 2.0f);
	cr_assert_eq(y[31], (31 - 16) * 2.0f);
	cr_assert_eq(y[5], -32.0f, "an untouched value: code 0");
}

/* q4_K: d = 1, dmin = 0.5; the 12 scale bytes give the eight sub-blocks
 * scales 1 2 3 4 1 3 5 23 and mins 5 6 7 8 2 4 38 8 (the last four take
 * their top two bits from the top bits of bytes 0-3 and 4-7: byte 3's
 * 0x40 makes scale 7 16 + 7, byte 6's 0x80 makes min 6 32 + 6); qs byte l
 * holds l % 16 low and 15 - l % 16 high; value = d sc q - dmin m. */
Test(gguf, q4_k_super_block_by_hand)
{
	uint8_t b[144] = { 0x00, 0x3c, 0x00, 0x38,
			   1, 2, 3, 0x40 | 4, 5, 6, 0x80 | 7, 8, 0x21, 0x43, 0x65, 0x87 };
	float y[256];

	for (int l = 0; l < 128; l++)
		b[16 + l] = (uint8_t)((l % 16) | (15 - l % 16) << 4);
	dequant(TT_Q4_K, b, y, 256);
	cr_assert_eq(y[0], 1 * 0 - 0.5f * 5);           /* sub 0, byte 0 low: 0 */
	cr_assert_eq(y[1], 1 * 1 - 0.5f * 5);           /* byte 1 low: 1 */
	cr_assert_eq(y[32], 2 * 15 - 0.5f * 6);         /* sub 1, byte 0 high: 15 */
	cr_assert_eq(y[64], 3 * 0 - 0.5f * 7);          /* sub 2, byte 32 low: 0 */
	cr_assert_eq(y[100], 4 * (15 - 4) - 0.5f * 8);  /* sub 3, byte 36 high: 11 */
	cr_assert_eq(y[128 + 9], 1 * 9 - 0.5f * 2);     /* sub 4, byte 73 low: 9 */
	cr_assert_eq(y[160 + 2], 3 * 13 - 0.5f * 4);    /* sub 5, byte 66 high: 13 */
	cr_assert_eq(y[192 + 8], 5 * 8 - 0.5f * 38);    /* sub 6, byte 104 low: 8 */
	cr_assert_eq(y[224], 23 * 15 - 0.5f * 8);       /* sub 7, byte 96 high: 15 */
	cr_assert_eq(y[255], 23 * 0 - 0.5f * 8);        /* sub 7, byte 127 high: 0 */
}

/* q6_K: d = 0.25 (f16 0x3400) at the end; value l of each 128 takes
 * ql's low or high nibble and two bits of qh: values 0-31 ql[l] low and
 * qh bits 0-1, 32-63 ql[l + 32] low and bits 2-3, 64-95 ql[l] high and
 * bits 4-5, 96-127 ql[l + 32] high and bits 6-7; scale per 16 values;
 * value = d scale (q - 32). */
Test(gguf, q6_k_super_block_by_hand)
{
	uint8_t b[210] = { 0 };
	float y[256];

	b[0] = 0x5a;                    /* ql[0]: value 0 low 0xa, value 64 high 0x5 */
	b[32] = 0x0f;                   /* ql[32]: value 32 low 0xf, value 96 high 0 */
	b[128] = 0xe4;                  /* qh[0]: bits 00 (v0), 01 (v32), 10 (v64), 11 (v96) */
	b[64 + 17] = 0x01;              /* second half: ql[17] of it, value 128 + 17 low 1 */
	b[128 + 32 + 17] = 0x03;        /* its qh: high bits 11 */
	for (int s = 0; s < 16; s++)
		b[192 + s] = (uint8_t)(int8_t)(s % 2 ? -(s + 1) : s + 1);
	b[208] = 0x00;
	b[209] = 0x34;
	dequant(TT_Q6_K, b, y, 256);
	cr_assert_eq(y[0], 0.25f * 1 * (0xa - 32));             /* scale 0: 1 */
	cr_assert_eq(y[32], 0.25f * 3 * ((0xf | 1 << 4) - 32)); /* scale 2: 3 */
	cr_assert_eq(y[64], 0.25f * 5 * ((0x5 | 2 << 4) - 32)); /* scale 4: 5 */
	cr_assert_eq(y[96], 0.25f * 7 * ((0x0 | 3 << 4) - 32)); /* scale 6: 7 */
	cr_assert_eq(y[16], 0.25f * -2 * (0 - 32));             /* scale 1: -2 */
	cr_assert_eq(y[128 + 17], 0.25f * -10 * ((1 | 3 << 4) - 32)); /* scale 9: -10 */
}

/* Row bytes: whole blocks only. */
Test(gguf, row_bytes_are_whole_blocks)
{
	cr_assert_eq(tensor_row_bytes(TT_Q4_K, 512), 288);
	cr_assert_eq(tensor_row_bytes(TT_Q6_K, 256), 210);
	cr_assert_eq(tensor_row_bytes(TT_Q5_0, 640), 440);
	cr_assert_eq(tensor_row_bytes(TT_Q8_0, 640), 680);
	cr_assert_eq(tensor_row_bytes(TT_Q4_K, 640), 0, "640 is not whole super-blocks");
	cr_assert_eq(tensor_row_bytes(TT_F16, 3), 6);
	cr_assert_eq(tensor_type_find(14), TT_Q6_K);
	cr_assert_eq(tensor_type_find(2), -1);
}
