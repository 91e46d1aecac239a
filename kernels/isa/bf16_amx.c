/* bf16_amx.c - the bf16 micro-kernels on AMX tiles: TDPBF16PS on 16 x 16
 * fp32 blocks, 2 x 2 blocks at a time (four accumulator tiles, two A and
 * two B tiles: each loaded tile feeds two products). Scores are computed
 * transposed, s[j][q] = K Q^T (A: 16 rows of K as they lie in the pack,
 * B: 16 pair rows of the query tile), so the fp32 micro-kernels keep their
 * lane layout; P V accumulates into the tile's ot in place (A: 16 rows of
 * V^T, B: 16 pair rows of P). All eight tiles are 16 rows of 64 bytes,
 * configured once per query tile. bf16_amx_model.c compiles this file
 * again on a software model of the four tile instructions (the tests'). */
#include <stdint.h>
#include <string.h>

#ifndef AMX_MODEL
#pragma GCC target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,fma")
#ifdef __clang__      /* clang ignores the GCC pragma (the fuzz build) */
#pragma clang attribute push(__attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,fma"))), apply_to = function)
#endif
#include <immintrin.h>
#endif

#include "bf16.h"
#include "simd.h"

#define ROW_BYTES 64            /* every tile: 16 rows of 64 bytes */

#ifdef AMX_MODEL
#define AMX_OPS bf16_amx_model
#define AMX_NAME "amx-model"

/* Intel SDM, TILELOADD / TILESTORED / TILEZERO / TDPBF16PS on tiles of 16
 * rows of 64 bytes: the fp32 row sums add the even products, then the odd
 * ones, each rounded to fp32 (bf16 products are exact in fp32); bf16
 * denormals read as zero. */
static _Thread_local unsigned char tmm[8][16][ROW_BYTES];

static void t_load(int t, const void *base, long stride)
{
	for (int r = 0; r < 16; r++)
		memcpy(tmm[t][r], (const char *)base + r * stride, ROW_BYTES);
}

static void t_store(int t, void *base, long stride)
{
	for (int r = 0; r < 16; r++)
		memcpy((char *)base + r * stride, tmm[t][r], ROW_BYTES);
}

static void t_zero(int t)
{
	memset(tmm[t], 0, sizeof tmm[t]);
}

static float bf16_daz(const unsigned char *at)
{
	uint16_t h;

	memcpy(&h, at, sizeof h);
	return (h & 0x7f80) ? dt_from_bf16(h) : 0.0f;
}

static void t_dp(int c, int a, int b)
{
	for (int m = 0; m < 16; m++)
		for (int n = 0; n < 16; n++) {
			float acc;
			memcpy(&acc, &tmm[c][m][4 * n], sizeof acc);
			for (int k = 0; k < 16; k++) {
				acc += bf16_daz(&tmm[a][m][4 * k]) * bf16_daz(&tmm[b][k][4 * n]);
				acc += bf16_daz(&tmm[a][m][4 * k + 2]) * bf16_daz(&tmm[b][k][4 * n + 2]);
			}
			memcpy(&tmm[c][m][4 * n], &acc, sizeof acc);
		}
}

#define T_LOAD(t, base, stride) t_load(t, base, stride)
#define T_STORE(t, base, stride) t_store(t, base, stride)
#define T_ZERO(t) t_zero(t)
#define T_DP(c, a, b) t_dp(c, a, b)
#define AMX_BEGIN NULL          /* the model has no configuration */
#define AMX_END NULL
#else
#define AMX_OPS bf16_amx
#define AMX_NAME "amx"
/* GCC's tileloadd is an asm with the address as its only input: without
 * the barrier the compiler may keep stores it reads in registers */
#define T_LOAD(t, base, stride) do { __asm__ volatile("" ::: "memory"); \
				     _tile_loadd(t, base, stride); } while (0)
#define T_STORE(t, base, stride) _tile_stored(t, base, stride)
#define T_ZERO(t) _tile_zero(t)
#define T_DP(c, a, b) _tile_dpbf16ps(c, a, b)

/* The 64-byte tile configuration (palette 1): tiles 0-7 of 16 rows of 64
 * bytes. Constant data: GCC's ldtilecfg tells the compiler it reads 8
 * bytes, so a configuration built on the stack could lose its stores. */
struct tile_config {
	uint8_t palette, start_row, reserved[14];
	uint16_t colsb[16];
	uint8_t rows[16];
};

static const _Alignas(64) struct tile_config tile_config = {
	.palette = 1,
	.colsb = { ROW_BYTES, ROW_BYTES, ROW_BYTES, ROW_BYTES,
		   ROW_BYTES, ROW_BYTES, ROW_BYTES, ROW_BYTES },
	.rows = { 16, 16, 16, 16, 16, 16, 16, 16 },
};

static void amx_begin(void)
{
	_tile_loadconfig(&tile_config);
}

static void amx_end(void)
{
	_tile_release();
}

#define AMX_BEGIN amx_begin
#define AMX_END amx_end
#endif

/* Tiles 0-3 accumulate a 2 x 2 block of 16 x 16 fp32 (rows a, b x
 * columns x, y: tile 0 = ax, 1 = ay, 2 = bx, 3 = by), 4-5 are its two A
 * tiles, 6-7 its two B tiles; every tile is 16 rows, rows 64 bytes wide. */

/* One step over 32 bf16 of the inner dimension: A rows a0 and a1 (16 rows
 * each, as bytes apart), B pair rows b (16 rows, bs bytes apart; the
 * second tile 16 words on), four products. */
static inline void step_2x2(const void *a0, const void *a1, long as, const uint32_t *b, long bs)
{
	T_LOAD(4, a0, as);
	T_LOAD(5, a1, as);
	T_LOAD(6, b, bs);
	T_LOAD(7, b + 16, bs);
	T_DP(0, 4, 6);
	T_DP(1, 4, 7);
	T_DP(2, 5, 6);
	T_DP(3, 5, 7);
}

/* The block's accumulators from / to c (rows TILE_Q floats apart). */
static inline void load_2x2(const float *c)
{
	T_LOAD(0, c, TILE_Q * 4);
	T_LOAD(1, c + 16, TILE_Q * 4);
	T_LOAD(2, c + 16 * TILE_Q, TILE_Q * 4);
	T_LOAD(3, c + 16 * TILE_Q + 16, TILE_Q * 4);
}

static inline void store_2x2(float *c)
{
	T_STORE(0, c, TILE_Q * 4);
	T_STORE(1, c + 16, TILE_Q * 4);
	T_STORE(2, c + 16 * TILE_Q, TILE_Q * 4);
	T_STORE(3, c + 16 * TILE_Q + 16, TILE_Q * 4);
}

/* Blocks of 32 keys x 32 queries: A = K rows, B = the query pairs. */
static void qk_amx(const uint32_t *qt2, const uint16_t *k, long ldk, int nk, int dpad,
		   float scale, float *s, int q0, int q1)
{
	for (int j = 0; j < nk; j += 32)
		for (int q = q0; q < q1; q += 32) {
			T_ZERO(0);
			T_ZERO(1);
			T_ZERO(2);
			T_ZERO(3);
			for (int c = 0; c < dpad; c += 32) {
				const uint16_t *a = k + (size_t)j * (size_t)ldk + (size_t)c;
				step_2x2(a, a + 16 * ldk, ldk * 2, qt2 + (size_t)c / 2 * TILE_Q + q,
					 TILE_Q * 4);
			}
			store_2x2(s + (size_t)j * TILE_Q + q);
		}
	for (int j = 0; j < nk; j++)
		for (int q = q0; q < q1; q++)
			s[j * TILE_Q + q] *= scale;
}

/* Blocks of 32 channels x 32 queries of ot: A = V^T rows, B = P pairs. */
static void pv_amx(const uint32_t *p2, const uint16_t *vt, long ldv, int nk, int dpad,
		   float *ot, int q0, int q1)
{
	for (int c = 0; c < dpad; c += 32)
		for (int q = q0; q < q1; q += 32) {
			load_2x2(ot + (size_t)c * TILE_Q + q);
			for (int j = 0; j < nk; j += 32) {
				const uint16_t *a = vt + (size_t)c * (size_t)ldv + (size_t)j;
				step_2x2(a, a + 16 * ldv, ldv * 2, p2 + (size_t)j / 2 * TILE_Q + q,
					 TILE_Q * 4);
			}
			store_2x2(ot + (size_t)c * TILE_Q + q);
		}
}

const struct bf16_ops AMX_OPS = {
	.name = AMX_NAME,
	.begin = AMX_BEGIN,             /* tile configuration */
	.end = AMX_END,                 /* tile release */
	.qk = qk_amx,                   /* K Q^T in 2 x 2 tile blocks */
	.pv = pv_amx,                   /* V^T P into ot in place */
};

#if !defined(AMX_MODEL) && defined(__clang__)
#pragma clang attribute pop
#endif
