/* kvpack.c - a problem's K and V in the bf16 paths' layouts (kvpack.h),
 * packed block by block inside the timed runs as the tiles need them. */
#include <emmintrin.h>    /* SSE2: part of every x86-64 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kvpack.h"

/* Rows of kp and columns of vt per head: the keys, TILE_K zero keys, and
 * 32 more for vt so its rows are not a power of two apart (AMX loads 16
 * rows of it at once; rows 2^k bytes apart would share cache sets). */
static void pack_dims(const struct problem *p, long *rows_k, long *ldv)
{
	*rows_k = p->n_kv + TILE_K;
	*ldv = p->n_kv + TILE_K + 32;
}

double kv_pack_bytes(const struct problem *p)
{
	long rows_k, ldv;

	pack_dims(p, &rows_k, &ldv);
	return 2.0 * (double)p->batch * p->kv_heads *
	       ((double)bf16_dpad(p->d) * rows_k + (double)bf16_dpad(kern_dv(p)) * ldv);
}

int kv_pack_alloc(struct kv_pack *kp, const struct problem *p)
{
	long rows_k, heads = (long)p->batch * p->kv_heads;

	memset(kp, 0, sizeof *kp);
	pack_dims(p, &rows_k, &kp->ldv);
	kp->dpad = bf16_dpad(p->d);
	kp->dpad_v = bf16_dpad(kern_dv(p));
	kp->ldk = kp->dpad;
	kp->head_k = (size_t)rows_k * (size_t)kp->ldk;
	kp->head_v = (size_t)kp->dpad_v * (size_t)kp->ldv;
	/* zeroed once: the fills write only the keys' and channels' places,
	 * so the padding stays zero */
	kp->k = calloc((size_t)heads * kp->head_k, sizeof *kp->k);
	kp->vt = calloc((size_t)heads * kp->head_v, sizeof *kp->vt);
	kp->blocks = (p->n_kv + TILE_K - 1) / TILE_K;
	kp->heads = heads;
	kp->state = malloc((size_t)heads * (size_t)kp->blocks * sizeof *kp->state);
	if (!kp->k || !kp->vt || !kp->state) {
		kv_pack_free(kp);
		return -1;
	}
	return 0;
}

void kv_pack_free(struct kv_pack *kp)
{
	free(kp->k);
	free(kp->vt);
	free(kp->state);
	kp->k = kp->vt = NULL;
	kp->state = NULL;
}

enum pack_state { PACK_NONE, PACK_BUSY, PACK_DONE };

/* dst[c * ldd + j] = src[j * lds + c] for j, c < 8: three rounds of
 * interleaves (pairs, quads, halves), 24 instructions for 64 values (all
 * of 8 heads at n = 4096, head_dim 128 took 3.9 ms on 2 threads here
 * element by element, 2.1 ms so: bound by memory). */
static void transpose8(const uint16_t *src, size_t lds, uint16_t *dst, size_t ldd)
{
	__m128i r[8], a[8], b[8];

	for (int j = 0; j < 8; j++)
		r[j] = _mm_loadu_si128((const __m128i *)(src + j * lds));
	for (int j = 0; j < 4; j++) {
		a[2 * j] = _mm_unpacklo_epi16(r[2 * j], r[2 * j + 1]);
		a[2 * j + 1] = _mm_unpackhi_epi16(r[2 * j], r[2 * j + 1]);
	}
	for (int h = 0; h < 2; h++) {           /* keys 0-3, then 4-7 */
		b[4 * h] = _mm_unpacklo_epi32(a[4 * h], a[4 * h + 2]);
		b[4 * h + 1] = _mm_unpackhi_epi32(a[4 * h], a[4 * h + 2]);
		b[4 * h + 2] = _mm_unpacklo_epi32(a[4 * h + 1], a[4 * h + 3]);
		b[4 * h + 3] = _mm_unpackhi_epi32(a[4 * h + 1], a[4 * h + 3]);
	}
	for (int c = 0; c < 4; c++) {
		_mm_storeu_si128((__m128i *)(dst + 2 * c * ldd), _mm_unpacklo_epi64(b[c], b[c + 4]));
		_mm_storeu_si128((__m128i *)(dst + (2 * c + 1) * ldd), _mm_unpackhi_epi64(b[c], b[c + 4]));
	}
}

/* Keys [j0, j1) of head i: K rows copied, V transposed (8 x 8 blocks,
 * then the edges one by one). */
static void pack_block(const struct kv_pack *kp, const struct problem *p, long i,
		       long j0, long j1)
{
	int d = p->d, dv = kern_dv(p), c8 = dv / 8 * 8;
	long j8 = j0 + (j1 - j0) / 8 * 8;
	const uint16_t *k = p->k16 + (size_t)i * (size_t)p->n_kv * (size_t)d;
	const uint16_t *v = p->v16 + (size_t)i * (size_t)p->n_kv * (size_t)dv;
	uint16_t *kd = kp->k + (size_t)i * kp->head_k, *vd = kp->vt + (size_t)i * kp->head_v;
	size_t ldv = (size_t)kp->ldv;

	for (long j = j0; j < j1; j++)
		memcpy(kd + (size_t)j * (size_t)kp->ldk, k + (size_t)j * (size_t)d,
		       (size_t)d * sizeof *k);
	for (long j = j0; j < j8; j += 8)
		for (int c = 0; c < c8; c += 8)
			transpose8(v + (size_t)j * (size_t)dv + (size_t)c, (size_t)dv,
				   vd + (size_t)c * ldv + (size_t)j, ldv);
	for (int c = 0; c < dv; c++)
		for (long j = c < c8 ? j8 : j0; j < j1; j++)
			vd[(size_t)c * ldv + (size_t)j] = v[(size_t)j * (size_t)dv + (size_t)c];
}

void kv_pack_reset(const struct kv_pack *kp)
{
	for (size_t i = 0; i < (size_t)kp->heads * (size_t)kp->blocks; i++)
		atomic_store_explicit(&kp->state[i], PACK_NONE, memory_order_relaxed);
}

void kv_pack_need(const struct kv_pack *kp, const struct problem *p, size_t i, long j0,
		  long j1)
{
	long last = j1 + BF16_PAD - 1 < p->n_kv ? j1 + BF16_PAD - 1 : p->n_kv;

	for (long c = j0 / TILE_K; c <= (last - 1) / TILE_K; c++) {
		atomic_int *st = &kp->state[i * (size_t)kp->blocks + (size_t)c];
		int none = PACK_NONE;
		if (atomic_load_explicit(st, memory_order_acquire) == PACK_DONE)
			continue;
		if (atomic_compare_exchange_strong_explicit(st, &none, PACK_BUSY,
							    memory_order_acquire,
							    memory_order_acquire)) {
			long k0 = c * TILE_K;
			pack_block(kp, p, (long)i, k0, k0 + TILE_K < p->n_kv ? k0 + TILE_K : p->n_kv);
			atomic_store_explicit(st, PACK_DONE, memory_order_release);
			continue;
		}
		while (atomic_load_explicit(st, memory_order_acquire) != PACK_DONE)
			_mm_pause();            /* another thread packs it: a few us */
	}
}
