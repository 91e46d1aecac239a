/* bf16.h - the bf16 arithmetic paths of the query-tile kernels (tiled,
 * ranges): Q K^T and P V on bf16 pairs with fp32 sums, as VDPBF16PS
 * (AVX512-BF16) and TDPBF16PS (AMX) compute them, or in portable C. All
 * three read the same operands:
 *   - a query tile's pairs qt2[c / 2][q]: Q^T, two channels of query q
 *     in one 32-bit word (even channel in the low half), unscaled;
 *   - the head's K rows kp[j][c], ldk = dpad bf16 apart, and V^T
 *     vt[c][j], ldv bf16 apart, dpad_v rows of it (head_dim_v, padded;
 *     struct kv_pack, made in every run);
 *   - a chunk's probabilities in pairs p2[j / 2][q] (P rounded to bf16,
 *     two keys of query q in one word).
 * dpad is head_dim rounded up to 32 (an AMX tile row); the padding, and
 * TILE_K keys past the last one, hold zeros, so every path may read whole
 * tiles. The fp32 parts (score function, mask, online softmax, output) are
 * the f32 micro-kernels' (simd.h). */
#ifndef SABENCH_BF16_H
#define SABENCH_BF16_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "half.h"
#include "simd.h"

#define BF16_PAD 32             /* dpad: head_dim rounded up to this */

/* bf16 micro-kernels of one path (enum kern_isa names the path). */
struct bf16_ops {
	const char *name;       /* "amx", "avx512bf16", "portable" */
	/* set up / give back the thread's tile registers around a query
	 * tile (AMX's tile configuration), or NULL */
	void (*begin)(void);
	void (*end)(void);
	/* s[j][q] = scale sum_c k[j][c] qt[c][q] for j < nk, q in [q0, q1)
	 * (q0, q1 multiples of 32); rows up to nk rounded to 32 may be
	 * written */
	void (*qk)(const uint32_t *qt2, const uint16_t *k, long ldk, int nk, int dpad,
		   float scale, float *s, int q0, int q1);
	/* ot[c][q] += sum_j p[j][q] vt[c][j] for c < dpad, q in [q0, q1),
	 * j < nk (p2 holds zeros from nk to nk rounded up to 32) */
	void (*pv)(const uint32_t *p2, const uint16_t *vt, long ldv, int nk, int dpad,
		   float *ot, int q0, int q1);
};

extern const struct bf16_ops bf16_portable, bf16_avx512bf16, bf16_amx;

/* The AMX and AVX512-BF16 paths on software models of their
 * instructions (TILELOADD, TILESTORED, TILEZERO, TDPBF16PS; VDPBF16PS and
 * the loads, stores and broadcasts around it, as Intel's SDM defines
 * them): they run anywhere, slowly; for the tests only, which check the
 * paths' blocking and operand layouts with them on machines without the
 * instructions. The harness never runs them. */
extern const struct bf16_ops bf16_amx_model, bf16_avx512bf16_model;

static inline int bf16_dpad(int d)
{
	return (d + BF16_PAD - 1) / BF16_PAD * BF16_PAD;
}

/* Two bf16 values in one word, a in the low half. */
static inline uint32_t bf16_pair(uint16_t a, uint16_t b)
{
	return (uint32_t)a | (uint32_t)b << 16;
}

/* A problem's K and V in the bf16 paths' layouts, per (sequence, KV
 * head): K rows padded to dpad, V transposed, TILE_K zero keys after the
 * last. Made inside every timed run (a layout change a server would make
 * as it writes its cache, so it is paid for here), block by block of
 * TILE_K keys as the tiles first need them: a block is packed while its
 * K and V are in cache for the tile that reads them, and a sparse pattern
 * packs only the blocks it touches (kernels/kvpack.c makes it from a
 * problem). */
struct kv_pack {
	uint16_t *k, *vt;
	long ldk, ldv;          /* bf16 between rows of kp, of vt */
	size_t head_k, head_v;  /* bf16 per head of each */
	int dpad, dpad_v;       /* head_dim, head_dim_v rounded up to BF16_PAD */
	long heads, blocks;     /* K/V heads, blocks of TILE_K keys per head */
	atomic_int *state;      /* per head and block: enum pack_state */
};

/* qt2 of query rows q16[0, rows) (d apart): rows and channels past them
 * zero. */
void bf16_pack_q(const uint16_t *q16, long rows, int d, uint32_t *qt2);

/* p2 of the probabilities s[j][q], j < nk, q in [q0, q1), rounded to
 * bf16; zero pairs from nk up to nk rounded to 32. */
void bf16_pack_p(const float *s, int nk, uint32_t *p2, int q0, int q1);

#endif
