/* kv_slots.h - a fast ISA path's per-storage-type slots of struct
 * simd_ops (dots_kv, axpys_kv), made from the path's own static row and
 * block routines: included once by simd_avx2.c and simd_avx512.c after
 * they define
 *   dots_rows(q, rows, base, t, n, d, s), axpys_rows(acc, p, rows, base, t, n, d),
 *   dots_blocks(q, k, t, n, d, s), axpys_blocks(acc, p, v, t, n, d),
 *   KV_KIVI_AXPYS(acc, p, v, bits, n, d, g) (the path's KIVI value rows),
 *   KV_BY_D(CALL): CALL(d), or CALL at the head_dims it specialises.
 * fp8 e4m3 is read as f16 bits: its unbias is applied once a score, and
 * to p, 64 keys at a time. SIMD_KV_SLOTS (simd.h) then fills the tables. */

#define ROWS_DOTS(dd) dots_rows(q, NULL, k, T, n, dd, s)
#define ROWS_AXPYS(dd) axpys_rows(acc, p, NULL, v, T, n, dd)
#define BLOCKS_DOTS(dd) dots_blocks(q, k, T, n, dd, s)
#define BLOCKS_AXPYS(dd) axpys_blocks(acc, p, v, T, n, dd)
#define KV_SLOTS(name, KIND)                                                                    \
	static void dots_##name(const float *q, const void *k, int n, int d, float *s)          \
	{                                                                                        \
		KV_BY_D(KIND##_DOTS)                                                             \
	}                                                                                        \
	static void axpys_##name(float *acc, const float *p, const void *v, int n, int d, int g) \
	{                                                                                        \
		(void)g;                                                                         \
		KV_BY_D(KIND##_AXPYS)                                                            \
	}
#define T DT_F32
KV_SLOTS(f32, ROWS)
#undef T
#define T DT_F16
KV_SLOTS(f16, ROWS)
#undef T
#define T DT_BF16
KV_SLOTS(bf16, ROWS)
#undef T
#define T DT_FP8_E5M2
KV_SLOTS(e5m2, ROWS)
#undef T
#define T DT_Q8_0
KV_SLOTS(q8_0, BLOCKS)
#undef T
#define T DT_Q4_0
KV_SLOTS(q4_0, BLOCKS)
#undef T

static void dots_e4m3(const float *q, const void *k, int n, int d, float *s)
{
	dots_rows(q, NULL, k, DT_FP8_E4M3, n, d, s);
	for (int i = 0; i < n; i++)
		s[i] *= DT_E4M3_UNBIAS;
}

static void axpys_e4m3(float *acc, const float *p, const void *v, int n, int d, int g)
{
	float pu[64];

	(void)g;
	for (int at = 0; at < n; at += 64) {
		int m = n - at < 64 ? n - at : 64;
		for (int i = 0; i < m; i++)
			pu[i] = p[at + i] * DT_E4M3_UNBIAS;
		axpys_rows(acc, pu, NULL, (const uint8_t *)v + (size_t)at * d, DT_FP8_E4M3, m, d);
	}
}

static void axpys_kivi2(float *acc, const float *p, const void *v, int n, int d, int g)
{
	KV_KIVI_AXPYS(acc, p, v, 2, n, d, g);
}

static void axpys_kivi4(float *acc, const float *p, const void *v, int n, int d, int g)
{
	KV_KIVI_AXPYS(acc, p, v, 4, n, d, g);
}

static_assert(DT_COUNT == 9, "kv_slots.h: a dots_kv and an axpys_kv slot per enum dtype");
