/* kvcache.c - cache layouts for decoding: rows allocated, positions mapped
 * to rows, K/V rows stored in the cache's element type (isa/dtype.h). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kvcache.h"

const char *const kv_layout_names[] = {
	[KV_FULL] = "full", [KV_RING] = "ring", [KV_SINK_RING] = "sink_ring",
	[KV_PAGED] = "paged", NULL,
};
static_assert(sizeof kv_layout_names / sizeof *kv_layout_names == KV_LAYOUT_COUNT + 1,
	      "kv_layout_names: one per enum kv_layout, then NULL");

long kv_layout_rows(enum kv_layout l, long n, long ring, long sinks)
{
	switch (l) {
	case KV_RING:
		return ring < n ? ring : n;
	case KV_SINK_RING:
		return sinks + ring < n ? sinks + ring : n;
	case KV_PAGED:
		return (n + KV_PAGE_ROWS - 1) / KV_PAGE_ROWS * KV_PAGE_ROWS;
	default:
		return n;
	}
}

/* Rows of a cache: 64-byte aligned, and in huge pages when large, as a
 * serving engine keeps its KV cache (a 4 KiB page would cost a TLB miss
 * every 16 rows of a streaming read). */
static void *alloc_rows(size_t bytes)
{
	size_t huge = (size_t)2 << 20, align = bytes >= huge ? huge : 64;
	void *p;

	bytes = (bytes + align - 1) / align * align;
	if (posix_memalign(&p, align, bytes ? bytes : align))
		return NULL;
	if (align == huge)
		madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

int kvc_init(struct kv_cache *c, enum kv_layout l, enum dtype t, int d,
	     long n, long ring, long sinks, unsigned long long seed)
{
	size_t bytes;

	memset(c, 0, sizeof *c);
	c->layout = l;
	c->dtype = t;
	c->d = d;
	c->ring = ring > 0 ? ring : 1;
	c->sinks = sinks;
	c->rows = kv_layout_rows(l, n, c->ring, sinks);
	bytes = (size_t)c->rows * (size_t)d * (size_t)dtype_of(t)->bytes;
	c->k = alloc_rows(bytes);
	c->v = alloc_rows(bytes);
	if (l == KV_PAGED) {
		long pages = c->rows / KV_PAGE_ROWS;
		c->pages = malloc((size_t)(pages ? pages : 1) * sizeof *c->pages);
		for (long i = 0; c->pages && i < pages; i++)
			c->pages[i] = (int32_t)i;
		for (long i = pages - 1; c->pages && i > 0; i--) {   /* seeded shuffle */
			unsigned long long x = (seed + (unsigned long long)i) * 0x9e3779b97f4a7c15ULL;
			long j = (long)((x ^ (x >> 29)) % (unsigned long long)(i + 1));
			int32_t tmp = c->pages[i];
			c->pages[i] = c->pages[j];
			c->pages[j] = tmp;
		}
	}
	if (!c->k || !c->v || (l == KV_PAGED && !c->pages)) {
		kvc_free(c);
		return -1;
	}
	return 0;
}

void kvc_free(struct kv_cache *c)
{
	free(c->k);
	free(c->v);
	free(c->pages);
	memset(c, 0, sizeof *c);
}

static void store_row(const struct kv_cache *c, void *base, long row, const float *x)
{
	size_t at = (size_t)row * (size_t)c->d;
	const struct dtype_desc *t = dtype_of(c->dtype);

	if (c->dtype == DT_F32) {
		memcpy((float *)base + at, x, (size_t)c->d * sizeof *x);
		return;
	}
	for (int i = 0; i < c->d; i++)
		t->store(base, at + (size_t)i, x[i]);
}

void kvc_store(struct kv_cache *c, long pos, const float *k, const float *v)
{
	long row = kvc_row(c, pos);

	store_row(c, c->k, row, k);
	store_row(c, c->v, row, v);
}

int kvc_serves(const struct gset *g, enum kv_layout l, long ring, long sinks)
{
	if (l == KV_FULL || l == KV_PAGED)
		return 1;
	for (long r = 0; r < g->n_q; r++) {
		long pos = g->q_offset + r, reach = pos - ring + 1;
		for (int lay = 0; lay < g->n_layouts; lay++) {
			int64_t n;
			const struct pat_range *rg = gset_row(g, lay, r, &n);
			for (int64_t i = 0; i < n; i++) {
				if (l == KV_SINK_RING && rg[i].hi <= sinks)
					continue;
				if ((l == KV_SINK_RING ? (rg[i].lo < sinks ? sinks : rg[i].lo) : rg[i].lo) < reach ||
				    rg[i].hi > pos + 1)
					return 0;
			}
		}
	}
	return 1;
}
