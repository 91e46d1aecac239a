/* kvcache.h - a decoder's K/V cache for one (sequence, K/V head): the
 * layout maps a token position to a storage row; rows are kept in fp32,
 * f16 or bf16 and converted to fp32 when read. */
#ifndef SABENCH_KVCACHE_H
#define SABENCH_KVCACHE_H

#include <stdint.h>

#include "kernel.h"
#include "isa/simd.h"

#define KV_PAGE_ROWS 64         /* rows per page of the paged layout */

struct kv_cache {
	enum kv_layout layout;  /* how positions map to rows */
	enum dtype dtype;    /* stored element type */
	int d;                  /* head_dim */
	long rows;              /* allocated rows */
	long ring;              /* ring rows (ring, sink_ring) */
	long sinks;             /* pinned rows (sink_ring) */
	int32_t *pages;         /* paged: logical page -> physical page */
	void *k, *v;            /* rows x d elements each */
};

/* Names by enum, NULL-ended (KV_LAYOUT_COUNT + 1 entries: the
 * experiment's vocabulary of kv_layout). */
extern const char *const kv_layout_names[];

/* Rows layout allocates for n tokens (ring and sinks as given). */
long kv_layout_rows(enum kv_layout l, long n, long ring, long sinks);

/* Allocates a cache for n tokens; pages are laid out in a seeded shuffled
 * order, as a paged server's free list leaves them. Returns 0 or -1. */
int kvc_init(struct kv_cache *c, enum kv_layout l, enum dtype t, int d,
	     long n, long ring, long sinks, unsigned long long seed);

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

/* Stores the K and V rows of position pos (converting from fp32). */
void kvc_store(struct kv_cache *c, long pos, const float *k, const float *v);

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
	return (const char *)(which ? c->v : c->k) +
	       (size_t)row * (size_t)c->d * (size_t)dtype_of(c->dtype)->bytes;
}

/* Pairs of G a token's decoding reads from the caches of one sequence:
 * query heads that share a K/V head and a layout read its rows once. */
static inline long long kvc_pairs_read(const struct gset *g, int heads, int kv_heads)
{
	return g->n_layouts == 1 ? gset_pairs(g, kv_heads) : gset_pairs(g, heads);
}

/* 1 when a cache of this layout serves every row of g exactly (keys of
 * ring layouts within the ring's reach when read); 0 else. */
int kvc_serves(const struct gset *g, enum kv_layout l, long ring, long sinks);

#endif
