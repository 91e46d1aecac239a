/* tile.h - the framework of the query-tile kernels (tiled, and ranges on
 * blocks of rows that share their runs): TILE_Q queries packed transposed
 * and pre-scaled into vector lanes, chunks of up to TILE_K keys scored,
 * masked, folded by the ISA's micro-kernels (simd.h), and the output
 * written back. */
#ifndef SABENCH_TILE_H
#define SABENCH_TILE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kvpack.h"
#include "kernel.h"
#include "isa/simd.h"

_Static_assert(TILE_Q == 64 && TILE_K == 64, "tile masks are 64-bit words");

/* The paths a query-tile kernel runs, chosen in its prepare: the ISA's
 * fp32 micro-kernels, and for a bf16 problem either its bf16 micro-kernels
 * (b16, reading K and V from pk, packed in every run) or none: each chunk
 * is then widened to fp32 (the ISAs without bf16 arithmetic). */
struct tile_paths {
	const struct simd_ops *ops;
	const struct bf16_ops *b16;     /* NULL: f32, or bf16 widened */
	struct kv_pack pk;              /* b16's K and V^T */
};

/* Chooses p's paths on this machine; -1 when out of memory. */
static inline int tile_paths_open(struct tile_paths *tp, const struct problem *p)
{
	memset(tp, 0, sizeof *tp);
	tp->ops = kern_simd();
	tp->b16 = p->dtype == DT_BF16 ? kern_bf16() : NULL;
	return tp->b16 ? kv_pack_alloc(&tp->pk, p) : 0;
}

static inline void tile_paths_close(struct tile_paths *tp)
{
	kv_pack_free(&tp->pk);
}

/* Before a run's parallel region: the bf16 micro-kernels' packs start
 * empty (tile_fold packs the blocks as they are first needed). */
static inline void tile_paths_begin(const struct tile_paths *tp)
{
	if (tp->b16)
		kv_pack_reset(&tp->pk);
}

/* Bytes of the packs (the cost model's workspace). */
static inline double tile_paths_bytes(const struct problem *p)
{
	return p->dtype == DT_BF16 && kern_bf16() ? kv_pack_bytes(p) : 0.0;
}

/* A thread's tile: qt (dpad x TILE_Q: the bf16 path's pairs of Q^T), ot
 * (dpad_v x TILE_Q, dpad_v: head_dim_v padded), scores s (TILE_K x
 * TILE_Q), running max m and sum l (TILE_Q each), and kw (TILE_K x dpad),
 * vw (TILE_K x dpad_v): a widened bf16 chunk's K and V (and the query
 * rows as they are packed), or the bf16 path's P pairs in kw. */
struct tile {
	float *qt, *ot, *s, *m, *l, *kw, *vw;
	long rows;              /* real query rows (the rest are padding) */
	int d;                  /* head_dim: Q and K rows */
	int dv;                 /* head_dim_v: V rows and the output */
	const float *bias;      /* bias (log2 units) of lane q and key j at
				 * bias[q - j], or NULL (score.h) */
	float cap;              /* soft cap in log2 units, or 0 */
	float scale;            /* log2(e) x the score scale: packed into
				 * fp32 queries, or applied to the bf16
				 * path's raw Q K^T */
	int bf16;               /* Q, K, V in bf16; P rounded to bf16 for P V */
	const struct simd_ops *ops;
	const struct bf16_ops *b16;     /* or NULL: widen each chunk */
	const uint16_t *kp, *vt;        /* b16's K and V^T of the head */
	long ldk, ldv;
	const struct kv_pack *pk;       /* b16's packs, made as needed */
	const struct problem *p;
	size_t kv_head;                 /* the packs' head */
};

/* Floats of a tile's buffer for rows of d (Q, K) and dv (V, output), a
 * multiple of 16 (64-byte aligned tiles). */
static inline size_t tile_floats(int d, int dv)
{
	size_t dp = (size_t)bf16_dpad(d), dpv = (size_t)bf16_dpad(dv);

	return (2 * (dp + dpv) * TILE_Q + TILE_K * TILE_Q + 2 * TILE_Q + 15) / 16 * 16;
}

/* K (which 0: rows of d, off from kern_kv_off) or V (1: rows of dv, off
 * from kern_v_off) rows of a head from key j, in the problem's dtype:
 * what tile_fold takes. */
static inline const void *tile_kv(const struct problem *p, int which, size_t off, long j)
{
	size_t at = off + (size_t)j * (size_t)(which ? kern_dv(p) : p->d);

	if (p->dtype == DT_BF16)
		return (which ? p->v16 : p->k16) + at;
	return (which ? p->v : p->k) + at;
}

/* Task t of the query-tile kernels over blocks query tiles per head: head
 * after head (a head's K/V stay in L2/L3 between its query tiles: 1.1x on
 * dense here), last tiles first within a head (causal rows near the end
 * hold more keys). Sets the head index (batch x heads) and the tile. */
static inline void tile_task_order(long t, long blocks, long *bh, long *tile)
{
	*bh = t / blocks;
	*tile = blocks - 1 - t % blocks;
}

/* One task of a query-tile kernel: query block R of head h of sequence
 * b, with buf the calling thread's scratch. */
typedef void (*tile_task_fn)(const struct problem *p, const void *ws, float *buf, int b, int h,
			     long R);

/* The task loop the query-tile kernels share: every (sequence, head,
 * block of TILE_Q rows) as one dynamically scheduled OpenMP task, in
 * tile_task_order, each thread with its own scratch of stride floats
 * from bufs. */
static inline void tile_run_tasks(const struct problem *p, const void *ws, float *bufs,
				  size_t stride, long blocks, tile_task_fn task)
{
	long bh = (long)p->batch * p->heads;

#pragma omp parallel
	{
		float *buf = bufs + (size_t)kern_thread() * stride;
#pragma omp for schedule(dynamic, 1)
		for (long t = 0; t < blocks * bh; t++) {
			long R, i;
			tile_task_order(t, blocks, &i, &R);
			task(p, ws, buf, (int)(i / p->heads), (int)(i % p->heads), R);
		}
	}
}

/* Packs the query rows into the tile's lanes: pairs of bf16 for the bf16
 * path, else fp32 (widened first when bf16) scaled by t->scale. */
static inline void tile_pack_q(struct tile *t, const struct problem *p, size_t q_off)
{
	const float *q = p->q + q_off;
	int d = t->d;

	if (t->b16) {
		bf16_pack_q(p->q16 + q_off, t->rows, d, (uint32_t *)t->qt);
		return;
	}
	if (t->bf16) {
		kern_bf16_widen_rows(p->q16 + q_off, t->kw, (size_t)t->rows * (size_t)d);
		q = t->kw;
	}
	if (t->rows < TILE_Q)
		memset(t->qt, 0, (size_t)d * TILE_Q * sizeof *t->qt);
	t->ops->transpose(q, d, t->qt, TILE_Q, (int)t->rows, d, t->scale);
}

/* Lays a tile out in buf and packs query rows r0 .. r0 + rows of head h
 * of sequence b into it, scores scaled by log2(e) times p's score scale,
 * with empty states. */
static inline struct tile tile_start(float *buf, const struct tile_paths *tp,
				     const struct problem *p, int b, int h, long r0, long rows)
{
	int d = p->d, dv = kern_dv(p);
	size_t dp = (size_t)bf16_dpad(d), dpv = (size_t)bf16_dpad(dv), kv = kern_kv_head(p, b, h);
	struct tile t = { 0 };
	const float *bias = score_bias2_row(p->score, h);
	long pos = p->n_kv - p->n_q + r0;

	t.qt = buf;
	t.ot = buf + dp * TILE_Q;
	t.s = t.ot + dpv * TILE_Q;
	t.m = t.s + TILE_K * TILE_Q;
	t.l = t.m + TILE_Q;
	t.kw = t.l + TILE_Q;
	t.vw = t.kw + (size_t)TILE_K * dp;
	t.rows = rows;
	t.d = d;
	t.dv = dv;
	t.bias = bias ? bias + pos : NULL;
	t.cap = p->score && p->score->kind == SCORE_SOFTCAP ?
		(float)(p->score->cap * 1.4426950408889634) : 0.0f;
	t.scale = (float)(1.4426950408889634 * score_scale(p->score, d));
	t.bf16 = p->dtype == DT_BF16;
	t.ops = tp->ops;
	t.b16 = tp->b16;
	if (t.b16) {
		t.kp = tp->pk.k + kv * tp->pk.head_k;
		t.vt = tp->pk.vt + kv * tp->pk.head_v;
		t.ldk = tp->pk.ldk;
		t.ldv = tp->pk.ldv;
		t.pk = &tp->pk;
		t.p = p;
		t.kv_head = kv;
		if (t.b16->begin)
			t.b16->begin();
	}
	tile_pack_q(&t, p, kern_q_off(p, b, h) + (size_t)r0 * (size_t)d);
	memset(t.ot, 0, dpv * TILE_Q * sizeof *t.ot);
	for (int i = 0; i < TILE_Q; i++) {
		t.m[i] = -INFINITY;
		t.l[i] = 0.0f;
	}
	return t;
}

/* Turns TILE_Q row masks (bit j of m[q]: key j is in query q's G) into
 * key masks (bit q of m[j]), in place: a 64 x 64 bit transpose by block
 * swaps (Hacker's Delight, 7-3), a few hundred operations. */
static inline void tile_keys_mask(uint64_t m[TILE_Q])
{
	uint64_t lo = 0x00000000ffffffffULL;

	for (int j = 32; j; j >>= 1, lo ^= lo << j)
		for (int k = 0; k < 64; k = ((k | j) + 1) & ~j) {
			uint64_t t = ((m[k] >> j) ^ m[k | j]) & lo;
			m[k] ^= t << j;
			m[k | j] ^= t;
		}
}

/* Which halves of the query lanes (bit 0: 0-31, bit 1: 32-63) have a key
 * of keep[0, n) in their G. */
static inline int tile_halves(const uint64_t *keep, int n)
{
	uint64_t any = 0;

	for (int j = 0; j < n; j++)
		any |= keep[j];
	return ((any & 0xffffffffULL) != 0) | ((any >> 32) != 0) << 1;
}

/* The score function on the chunk's scores of lanes [q0, q1), keys key0
 * and on: the bias by offset, then the cap, before the mask. */
static inline void tile_score_mod(const struct tile *t, long key0, int nk, int q0, int q1)
{
	if (t->bias)
		t->ops->bias(t->s, nk, t->bias - key0, q0, q1);
	for (int k = 0; t->cap > 0.0f && k < nk; k++)
		t->ops->softcap(t->s + (size_t)k * TILE_Q + q0, q1 - q0, t->cap);
}

/* Scores, mask and online softmax of keys [j0, j1) of the chunk (its
 * first key is key0) on the query lanes [q0, q1), the scores made by qk of
 * the fp32 path (k: fp32 rows) or of the bf16 path (from the pack). */
static inline void tile_softmax(const struct tile *t, const float *k, long key0, int j0,
				int j1, const uint64_t *keep, int q0, int q1)
{
	int nk = j1 - j0;

	if (t->b16)
		t->b16->qk((const uint32_t *)t->qt, t->kp + (size_t)(key0 + j0) * (size_t)t->ldk,
			   t->ldk, nk, bf16_dpad(t->d), t->scale, t->s, q0, q1);
	else
		t->ops->qk(t->qt, k + (size_t)j0 * (size_t)t->d, nk, t->d, t->s, q0, q1);
	tile_score_mod(t, key0 + j0, nk, q0, q1);
	if (keep)
		t->ops->mask(t->s, nk, (const unsigned long long *)keep + j0);
	t->ops->softmax(t->s, nk, t->m, t->l, t->ot, t->dv, q0, q1);
}

/* Folds keys [j0, j1) of the chunk (its first key is key0) into the query
 * lanes of halves. */
static inline void tile_pass(const struct tile *t, const float *k, const float *v, long key0,
			     int j0, int j1, const uint64_t *keep, int halves)
{
	int q0 = halves & 1 ? 0 : TILE_Q / 2, q1 = halves & 2 ? TILE_Q : TILE_Q / 2;
	int nk = j1 - j0, dv = t->dv;

	if (!halves || j0 >= j1)
		return;
	tile_softmax(t, k, key0, j0, j1, keep, q0, q1);
	if (t->b16) {           /* P in bf16 pairs, as FlashAttention rounds it */
		uint32_t *p2 = (uint32_t *)t->kw;
		bf16_pack_p(t->s, nk, p2, q0, q1);
		t->b16->pv(p2, t->vt + key0 + j0, t->ldv, nk, bf16_dpad(dv), t->ot, q0, q1);
		return;
	}
	for (int j = 0; t->bf16 && j < nk; j++)
		kern_bf16_round(t->s + (size_t)j * TILE_Q + q0, (size_t)(q1 - q0));
	t->ops->pv(t->s, v + (size_t)j0 * (size_t)dv, nk, dv, t->ot, q0, q1);
}

/* Folds nk keys (K rows d and V rows dv apart from kx and vx, in the
 * problem's dtype: tile_kv; the first is key0) into the tile: a bf16 chunk goes to
 * the bf16 path, which reads the head's pack from key0 (packing the
 * blocks no tile has needed yet in this run), or is widened
 * into kw and vw first; keep, when given, holds per key the bits of the
 * queries whose G has it (tile_keys_mask). A partial chunk goes in two
 * halves of keys, each over only the halves of query lanes it feeds: the
 * diagonal tile of a causal band and its first tile lose their empty
 * quarter. The V rows are fetched toward L1 while Q K^T runs, and next_k
 * (the next chunk's K rows, or NULL) while softmax and P V run: the tiles
 * stream from L2/L3 and the fetches hide their latency (3-9% on dense at
 * n = 4096 here). */
static inline void tile_fold(const struct tile *t, const void *kx, const void *vx, long key0,
			     int nk, const uint64_t *keep, const void *next_k)
{
	int half = nk < TILE_K / 2 ? nk : TILE_K / 2, d = t->d;
	int a = keep ? tile_halves(keep, half) : 3, b = keep ? tile_halves(keep + half, nk - half) : 3;
	size_t esize = t->bf16 ? 2 : 4;
	size_t krow = (size_t)d * esize, vrow = (size_t)t->dv * esize;     /* bytes of a K, a V row */
	const float *k = kx, *v = vx;

	for (size_t x = 0; !t->b16 && x < (size_t)nk * vrow; x += 64)
		__builtin_prefetch((const char *)vx + x, 0, 3);
	for (size_t x = 0; !t->b16 && next_k && x < TILE_K * krow; x += 64)
		__builtin_prefetch((const char *)next_k + x, 0, 3);
	if (t->b16)
		kv_pack_need(t->pk, t->p, t->kv_head, key0, key0 + nk);
	if (t->bf16 && !t->b16) {
		kern_bf16_widen_rows(kx, t->kw, (size_t)nk * (size_t)d);
		kern_bf16_widen_rows(vx, t->vw, (size_t)nk * (size_t)t->dv);
		k = t->kw;
		v = t->vw;
	}
	if (a == b) {
		tile_pass(t, k, v, key0, 0, nk, keep, a);
		return;
	}
	tile_pass(t, k, v, key0, 0, half, keep, a);
	tile_pass(t, k, v, key0, half, nk, keep, b);
}

/* Writes the tile's rows to o (dv apart): ot / l, zeros for empty rows;
 * gives back the bf16 path's tile state. */
static inline void tile_finish(const struct tile *t, float *o)
{
	float inv[TILE_Q];
	int d = t->dv;

	if (t->b16 && t->b16->end)
		t->b16->end();
	for (long q = 0; q < TILE_Q; q++)
		inv[q] = t->l[q] > 0.0f ? 1.0f / t->l[q] : 0.0f;
	for (int c = 0; c < d; c++)
		for (long q = 0; q < TILE_Q; q++)
			t->ot[c * TILE_Q + q] *= inv[q];
	t->ops->transpose(t->ot, TILE_Q, o, d, d, (int)t->rows, 1.0f);
}

#endif
