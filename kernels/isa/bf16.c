/* bf16.c - the bf16 paths' query and probability operands (bf16.h) and
 * their portable micro-kernels: the pair sums of VDPBF16PS in plain C, each product of
 * two bf16 values exact in fp32, summed in fp32. */
#include <stdlib.h>
#include <string.h>

#include "bf16.h"
#include "simd.h"

void bf16_pack_q(const uint16_t *q16, long rows, int d, uint32_t *qt2)
{
	int dpad = bf16_dpad(d);

	memset(qt2, 0, (size_t)dpad / 2 * TILE_Q * sizeof *qt2);
	for (long q = 0; q < rows; q++)
		for (int c = 0; c < d; c += 2)
			qt2[(size_t)c / 2 * TILE_Q + (size_t)q] =
				bf16_pair(q16[q * d + c], c + 1 < d ? q16[q * d + c + 1] : 0);
}

void bf16_pack_p(const float *s, int nk, uint32_t *p2, int q0, int q1)
{
	int padded = (nk + 31) / 32 * 16, j = 0;

	for (; 2 * j + 1 < nk; j++) {   /* whole pairs: a loop the compiler vectorises */
		const float *a = s + (size_t)(2 * j) * TILE_Q, *b = a + TILE_Q;
		uint32_t *out = p2 + (size_t)j * TILE_Q;
		for (int q = q0; q < q1; q++)
			out[q] = bf16_pair(dt_to_bf16(a[q]), dt_to_bf16(b[q]));
	}
	if (2 * j < nk) {               /* an odd chunk's last key, alone */
		const float *a = s + (size_t)(2 * j) * TILE_Q;
		for (int q = q0; q < q1; q++)
			p2[(size_t)j * TILE_Q + (size_t)q] = dt_to_bf16(a[q]);
		j++;
	}
	for (; j < padded; j++)
		memset(p2 + (size_t)j * TILE_Q + q0, 0, (size_t)(q1 - q0) * sizeof *p2);
}

/* The two products of a pair of pairs, summed in fp32. */
static inline float dot_pair(uint32_t a, uint32_t b)
{
	return dt_from_bf16((uint16_t)a) * dt_from_bf16((uint16_t)b) +
	       dt_from_bf16((uint16_t)(a >> 16)) * dt_from_bf16((uint16_t)(b >> 16));
}

static uint32_t load_pair(const uint16_t *at)
{
	uint32_t w;

	memcpy(&w, at, sizeof w);       /* at may be 2-byte aligned only */
	return w;
}

static void qk_portable(const uint32_t *qt2, const uint16_t *k, long ldk, int nk, int dpad,
			float scale, float *s, int q0, int q1)
{
	for (int j = 0; j < nk; j++) {
		float *row = s + (size_t)j * TILE_Q;
		for (int q = q0; q < q1; q++)
			row[q] = 0.0f;
		for (int c = 0; c < dpad; c += 2) {
			uint32_t kk = load_pair(k + (size_t)j * (size_t)ldk + (size_t)c);
			const uint32_t *qc = qt2 + (size_t)c / 2 * TILE_Q;
			for (int q = q0; q < q1; q++)
				row[q] += dot_pair(qc[q], kk);
		}
		for (int q = q0; q < q1; q++)
			row[q] *= scale;
	}
}

static void pv_portable(const uint32_t *p2, const uint16_t *vt, long ldv, int nk, int dpad,
			float *ot, int q0, int q1)
{
	for (int c = 0; c < dpad; c++) {
		float *o = ot + (size_t)c * TILE_Q;
		for (int j = 0; j < (nk + 1) / 2; j++) {
			uint32_t vv = load_pair(vt + (size_t)c * (size_t)ldv + (size_t)(2 * j));
			const uint32_t *pj = p2 + (size_t)j * TILE_Q;
			for (int q = q0; q < q1; q++)
				o[q] += dot_pair(pj[q], vv);
		}
	}
}

const struct bf16_ops bf16_portable = {
	.name = "portable",
	.begin = NULL,                  /* no state to set up */
	.end = NULL,
	.qk = qk_portable,              /* pair sums, key by key */
	.pv = pv_portable,              /* pair sums, channel by channel */
};
