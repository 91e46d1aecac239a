/* kvcache.h - a decoder's K/V cache for one (sequence, K/V head): the
 * layout maps a token position to a storage row; rows are stored in any
 * cache type of isa/dtype.h (plain, fp8 with a per-tensor scale,
 * llama.cpp blocks, KIVI groups) and decoded by the kernels as they read.
 * Also the view of what such a cache holds, for the oracle and quality. */
#ifndef SABENCH_KVCACHE_H
#define SABENCH_KVCACHE_H

#include <stdint.h>

#include "kernel.h"
#include "isa/simd.h"

#define KV_PAGE_ROWS 64         /* rows per page of the paged layout */

struct kv_cache {
	enum kv_layout layout;  /* how positions map to rows */
	enum dtype dtype;       /* stored type */
	int d;                  /* head_dim: K rows */
	int dv;                 /* head_dim_v: V rows */
	long rows;              /* allocated rows */
	long ring;              /* ring rows (ring, sink_ring) */
	long sinks;             /* pinned rows (sink_ring) */
	int32_t *pages;         /* paged: logical page -> physical page */
	size_t row_bytes;       /* bytes of a stored K row (dtype_row_bytes) */
	size_t vrow_bytes;      /* of a stored V row */
	struct dt_params kpar, vpar;    /* coder parameters: fp8 scales, KIVI group */
	long len;               /* positions stored (KIVI: in order) */
	/* KIVI: K positions [0, kq) and V positions [0, vq) are quantised, the
	 * rest sit in the f16 tail, a ring of tail_rows rows by position */
	long residual, kq, vq, tail_rows;
	uint16_t *tail_k, *tail_v;
	float *scratch;         /* KIVI: a key group widened, group x d (or a V row) */
	void *k, *v;            /* rows x row_bytes, rows x vrow_bytes */
};

/* KIVI's split of len stored positions: keys are quantised a whole group
 * at a time once residual newer tokens follow them, values one token at a
 * time. */
static inline void kvc_kivi_split(long len, long residual, int group, long *kq, long *vq)
{
	long old = len > residual ? len - residual : 0;

	*kq = old / group * group;
	*vq = old;
}

/* Names by enum, NULL-ended (KV_LAYOUT_COUNT + 1 entries: the
 * experiment's vocabulary of kv_layout). */
extern const char *const kv_layout_names[];

/* Rows layout allocates for n tokens (ring and sinks as given). */
long kv_layout_rows(enum kv_layout l, long n, long ring, long sinks);

/* Allocates a cache for n tokens of K rows of d and V rows of dv values;
 * pages are laid out in a seeded shuffled order, as a paged server's free
 * list leaves them. Returns 0 or -1. */
int kvc_init(struct kv_cache *c, enum kv_layout l, enum dtype t, int d, int dv,
	     long n, long ring, long sinks, unsigned long long seed);

/* KIVI's group and residual (before any store); 0 or -1 (out of memory,
 * or d or dv not a whole number of groups). */
int kvc_set_kivi(struct kv_cache *c, int group, long residual);

/* fp8: the per-tensor scales from the absolute maxima of the first n rows
 * of k and v (rows d and dv apart) over the largest finite fp8 value, as
 * vLLM calibrates k_scale and v_scale; 1 when a maximum is 0. */
void kvc_calibrate(struct kv_cache *c, const float *k, const float *v, long n);

void kvc_free(struct kv_cache *c);

/* Storage row of position pos. */
static inline long kvc_row(const struct kv_cache *c, long pos)
{
	switch (c->layout) {
	case KV_RING:
		return pos % c->ring;
	case KV_SINK_RING:
		return pos < c->sinks ? pos : c->sinks + (pos - c->sinks) % c->ring;
	case KV_PAGED:
		return (long)c->pages[pos / KV_PAGE_ROWS] * KV_PAGE_ROWS + pos % KV_PAGE_ROWS;
	default:
		return pos;
	}
}

/* Stores the K and V rows of position pos (coded from fp32). A KIVI cache
 * takes positions in order: each goes to the f16 tail, and the keys of a
 * group (the value of a token) are quantised from it when residual newer
 * tokens follow. */
void kvc_store(struct kv_cache *c, long pos, const float *k, const float *v);

/* Back to the state of len positions stored from k and v (all the
 * cache's positions, d and dv apart), after a run appended more: the rows
 * those appends evicted or overwrote are stored again. */
void kvc_rewind(struct kv_cache *c, long len, const float *k, const float *v);

/* How many positions from pos on (up to hi) sit in consecutive storage
 * rows from kvc_row(c, pos): a ring wraps, a page ends. */
static inline long kvc_run(const struct kv_cache *c, long pos, long hi)
{
	long n = hi - pos, room;

	switch (c->layout) {
	case KV_RING:
		room = c->ring - pos % c->ring;
		break;
	case KV_SINK_RING:
		room = pos < c->sinks ? c->sinks - pos
				      : c->ring - (pos - c->sinks) % c->ring;
		break;
	case KV_PAGED:
		room = KV_PAGE_ROWS - pos % KV_PAGE_ROWS;
		break;
	default:
		room = n;
	}
	return room < n ? room : n;
}

/* Storage row `row` of K (which 0) or V (1), as stored. */
static inline const void *kvc_at(const struct kv_cache *c, int which, long row)
{
	return which ? (const char *)c->v + (size_t)row * c->vrow_bytes
		     : (const char *)c->k + (size_t)row * c->row_bytes;
}

/* KIVI: the quantised key group holding storage row `row`: f16 scales[d],
 * f16 zero points[d], then channel by channel its group x bits / 8 bytes
 * of codes (token i of the group at bits i x bits). */
static inline const uint8_t *kvc_key_group(const struct kv_cache *c, long row)
{
	return (const uint8_t *)c->k + (size_t)(row / c->kpar.group * c->kpar.group) * c->row_bytes;
}

/* KIVI: the f16 tail row of position pos, K (which 0) or V (1). */
static inline const uint16_t *kvc_tail(const struct kv_cache *c, int which, long pos)
{
	return which ? c->tail_v + (size_t)(pos % c->tail_rows) * (size_t)c->dv
		     : c->tail_k + (size_t)(pos % c->tail_rows) * (size_t)c->d;
}

/* Pairs of G a token's decoding reads from the caches of one sequence:
 * query heads that share a K/V head and a layout read its rows once. */
static inline long long kvc_pairs_read(const struct gset *g, int heads, int kv_heads)
{
	return gset_group_shares(g, heads / kv_heads) ? gset_pairs(g, kv_heads) : gset_pairs(g, heads);
}

/* 1 when a cache of this layout serves every row of g exactly (keys of
 * ring layouts within the ring's reach when read: after the row's own
 * token was appended, or after the whole chunk with chunk set); 0 else. */
int kvc_serves(const struct gset *g, enum kv_layout l, long ring, long sinks, int chunk);

/* Positions p's caches hold when query row r reads them: up to its own
 * token in decode, the whole chunk in extend. */
static inline long kvc_len_at(const struct problem *p, long r)
{
	return p->chunk ? p->n_kv : p->n_kv - p->n_q + r + 1;
}

/* Positions the fp8 tensor scales are calibrated on: those before the
 * timed tokens, or the chunk itself when it is the whole sequence. */
static inline long kvc_calibration_rows(const struct problem *p)
{
	return p->n_kv > p->n_q ? p->n_kv - p->n_q : p->n_kv;
}

/* What the decode caches of a problem hold, as fp32, for the oracle and
 * the quality pass: every position of every cache coded and decoded as
 * the cache does (KIVI: both its quantised and its f16 form, chosen per
 * position by how many tokens the cache holds when it is read). */
struct kv_view {
	enum dtype t;
	const float *k, *v;     /* decoded rows; the problem's own for f32 */
	float *own_k, *own_v;   /* what the view allocated */
	float *tail_k, *tail_v; /* KIVI: the f16 form of every position */
	long residual;
	int group;
};

/* The view of p's caches (p->kv_dtype, fp8 scales calibrated on the
 * positions before the decoded ones, as decode fills them). 0 or -1. */
int kv_view_build(struct kv_view *w, const struct problem *p, int group, long residual);
void kv_view_free(struct kv_view *w);

/* Row `pos` of K (which 0: rows of d, off from kern_kv_off) or V (1:
 * rows of dv, off from kern_v_off) of a cache, as the cache holds it
 * with len positions stored. */
static inline const float *kv_view_row(const struct kv_view *w, int which, size_t off,
				       long pos, long len, int d)
{
	size_t at = off + (size_t)pos * (size_t)d;

	if (w->tail_k) {
		long kq, vq;
		kvc_kivi_split(len, w->residual, w->group, &kq, &vq);
		if (pos >= (which ? vq : kq))
			return (which ? w->tail_v : w->tail_k) + at;
	}
	return (which ? w->v : w->k) + at;
}

/* kern_oracle_row on the values a decode cache holds (w: the view of
 * p's caches; NULL: p's own K and V). */
void kern_oracle_row_view(const struct problem *p, const struct kv_view *w, int b,
			  int h, long r, double *out);

#endif
