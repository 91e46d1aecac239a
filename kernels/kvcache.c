/* kvcache.c - cache layouts for decoding: rows allocated, positions mapped
 * to rows, K/V rows coded in the cache's type (isa/dtype.h): row by row,
 * or for KIVI through its f16 tail and key groups. And the view of what a
 * problem's caches hold. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kvcache.h"
#include "isa/quant.h"

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

int kvc_init(struct kv_cache *c, enum kv_layout l, enum dtype t, int d, int dv,
	     long n, long ring, long sinks, unsigned long long seed)
{
	memset(c, 0, sizeof *c);
	if (d % dtype_width_unit(t, 0) || dv % dtype_width_unit(t, 0))
		return -1;      /* a partial block would be coded past the row */
	c->layout = l;
	c->dtype = t;
	c->d = d;
	c->dv = dv;
	c->ring = ring > 0 ? ring : 1;
	c->sinks = sinks;
	c->rows = kv_layout_rows(l, n, c->ring, sinks);
	c->kpar = c->vpar = (struct dt_params){ 1.0f, 1 };
	c->row_bytes = dtype_row_bytes(t, d, 1);
	c->vrow_bytes = dtype_row_bytes(t, dv, 1);
	c->k = alloc_rows((size_t)c->rows * c->row_bytes);
	c->v = alloc_rows((size_t)c->rows * c->vrow_bytes);
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

int kvc_set_kivi(struct kv_cache *c, int group, long residual)
{
	if (group < 1 || c->d % group || c->dv % group)
		return -1;
	c->kpar.group = c->vpar.group = group;
	c->residual = residual;
	c->row_bytes = dtype_row_bytes(c->dtype, c->d, group);
	c->vrow_bytes = dtype_row_bytes(c->dtype, c->dv, group);
	c->tail_rows = residual + group;
	c->tail_k = malloc((size_t)c->tail_rows * (size_t)c->d * sizeof *c->tail_k);
	c->tail_v = malloc((size_t)c->tail_rows * (size_t)c->dv * sizeof *c->tail_v);
	c->scratch = malloc((size_t)group * (size_t)(c->d > c->dv ? c->d : c->dv) * sizeof *c->scratch);
	return c->tail_k && c->tail_v && c->scratch ? 0 : -1;
}

/* vLLM's calibrated fp8 scale of the first n rows of x (rows d apart):
 * their absolute maximum over the format's largest value; 1 when 0. */
static float fp8_scale(const float *x, long n, int d, int e4m3)
{
	float m = 0.0f;

	for (size_t i = 0; i < (size_t)n * (size_t)d; i++)
		m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
	return m > 0 ? m / fp8_max(e4m3) : 1.0f;
}

void kvc_calibrate(struct kv_cache *c, const float *k, const float *v, long n)
{
	c->kpar.scale = fp8_scale(k, n, c->d, dtype_of(c->dtype)->e4m3);
	c->vpar.scale = fp8_scale(v, n, c->dv, dtype_of(c->dtype)->e4m3);
}

void kvc_free(struct kv_cache *c)
{
	free(c->tail_k);
	free(c->tail_v);
	free(c->scratch);
	free(c->k);
	free(c->v);
	free(c->pages);
	memset(c, 0, sizeof *c);
}

/* Codes K (which 0) or V (1) row x into storage row `row`. */
static void store_row(const struct kv_cache *c, int which, long row, const float *x)
{
	dtype_of(c->dtype)->encode((void *)kvc_at(c, which, row), x, which ? c->dv : c->d,
				   which ? &c->vpar : &c->kpar);
}

/* KIVI: codes the keys of positions [pos, pos + group), widened in
 * scratch, channel by channel into their group of storage rows. */
static void kivi_code_keys(struct kv_cache *c, long pos)
{
	int g = c->kpar.group, d = c->d, bits = dtype_of(c->dtype)->bits;
	uint8_t *blk = (uint8_t *)kvc_key_group(c, kvc_row(c, pos));
	uint16_t *scale = (uint16_t *)blk, *zero = scale + d;
	uint8_t *codes = blk + 4 * (size_t)d;

	for (int x = 0; x < d; x++)
		kivi_encode(codes + (size_t)x * g * bits / 8, &scale[x], &zero[x],
			    c->scratch + x, g, (size_t)d, bits);
}

/* KIVI: quantises the keys of a group from the f16 tail. */
static void kivi_key_group(struct kv_cache *c, long pos)
{
	for (int i = 0; i < c->kpar.group; i++) {
		const uint16_t *h = kvc_tail(c, 0, pos + i);
		for (int x = 0; x < c->d; x++)
			c->scratch[(size_t)i * c->d + x] = dt_from_f16(h[x]);
	}
	kivi_code_keys(c, pos);
}

/* KIVI: V of position pos quantised from the f16 tail. */
static void kivi_value(struct kv_cache *c, long pos)
{
	const uint16_t *h = kvc_tail(c, 1, pos);

	for (int x = 0; x < c->dv; x++)
		c->scratch[x] = dt_from_f16(h[x]);
	store_row(c, 1, kvc_row(c, pos), c->scratch);
}

/* KIVI: quantises what len stored positions leave past the residual. */
static void kivi_advance(struct kv_cache *c)
{
	long kq, vq;

	kvc_kivi_split(c->len, c->residual, c->kpar.group, &kq, &vq);
	for (; c->kq < kq; c->kq += c->kpar.group)
		kivi_key_group(c, c->kq);
	for (; c->vq < vq; c->vq++)
		kivi_value(c, c->vq);
}

static void kivi_store(struct kv_cache *c, long pos, const float *k, const float *v)
{
	uint16_t *tk = (uint16_t *)kvc_tail(c, 0, pos), *tv = (uint16_t *)kvc_tail(c, 1, pos);

	assert(pos == c->len);
	for (int x = 0; x < c->d; x++)
		tk[x] = dt_to_f16(k[x]);
	for (int x = 0; x < c->dv; x++)
		tv[x] = dt_to_f16(v[x]);
	c->len = pos + 1;
	kivi_advance(c);
}

void kvc_store(struct kv_cache *c, long pos, const float *k, const float *v)
{
	long row;

	if (dtype_of(c->dtype)->form == DT_FORM_KIVI) {
		kivi_store(c, pos, k, v);
		return;
	}
	row = kvc_row(c, pos);
	store_row(c, 0, row, k);
	store_row(c, 1, row, v);
	c->len = pos + 1 > c->len ? pos + 1 : c->len;
}

/* 1 when appends overwrite rows of earlier positions. */
static int evicts(const struct kv_cache *c)
{
	return c->layout == KV_RING || c->layout == KV_SINK_RING;
}

static void kivi_rewind(struct kv_cache *c, long len, const float *k, const float *v)
{
	int g = c->kpar.group, d = c->d, dv = c->dv;
	long first = len - c->tail_rows > 0 ? len - c->tail_rows : 0;

	c->len = len;
	kvc_kivi_split(len, c->residual, g, &c->kq, &c->vq);
	for (long pos = first; pos < len; pos++) {
		uint16_t *tk = (uint16_t *)kvc_tail(c, 0, pos), *tv = (uint16_t *)kvc_tail(c, 1, pos);
		for (int x = 0; x < d; x++)
			tk[x] = dt_to_f16(k[(size_t)pos * d + x]);
		for (int x = 0; x < dv; x++)
			tv[x] = dt_to_f16(v[(size_t)pos * dv + x]);
	}
	if (!evicts(c))
		return;         /* appends only wrote rows no stored position uses */
	/* the newest group (value) at each ring row, quantised again from the
	 * originals: the tail held the same f16 values */
	for (long pos = c->kq - c->ring > c->sinks ? c->kq - c->ring : c->sinks; pos < c->kq; pos += g) {
		for (int i = 0; i < g; i++)
			for (int x = 0; x < d; x++)
				c->scratch[(size_t)i * d + x] = dt_from_f16(dt_to_f16(k[(size_t)(pos + i) * d + x]));
		kivi_code_keys(c, pos);
	}
	for (long pos = c->vq - c->ring > c->sinks ? c->vq - c->ring : c->sinks; pos < c->vq; pos++) {
		for (int x = 0; x < dv; x++)
			c->scratch[x] = dt_from_f16(dt_to_f16(v[(size_t)pos * dv + x]));
		store_row(c, 1, kvc_row(c, pos), c->scratch);
	}
}

void kvc_rewind(struct kv_cache *c, long len, const float *k, const float *v)
{
	long first = len - c->ring > c->sinks ? len - c->ring : c->sinks;

	if (dtype_of(c->dtype)->form == DT_FORM_KIVI) {
		kivi_rewind(c, len, k, v);
		return;
	}
	c->len = len;
	if (!evicts(c))
		return;         /* appends only filled unused rows */
	for (long pos = first; pos < len; pos++)
		kvc_store(c, pos, k + (size_t)pos * c->d, v + (size_t)pos * c->dv);
	c->len = len;
}

int kvc_serves(const struct gset *g, enum kv_layout l, long ring, long sinks, int chunk)
{
	if (l == KV_FULL || l == KV_PAGED)
		return 1;
	for (long r = 0; r < g->n_q; r++) {
		long pos = g->q_offset + r;
		long reach = (chunk ? g->q_offset + g->n_q - 1 : pos) - ring + 1;
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

/* The rows of one cache (K from element off, V from voff) as a cache of
 * type t codes and decodes them (fp8 scales from the first filled
 * positions; KIVI values per token). row holds a coded row of either. */
static void view_rows(const struct kv_view *w, const struct problem *p, size_t off,
		      size_t voff, float *out_k, float *out_v, void *row)
{
	const struct dtype_desc *t = dtype_of(w->t);
	struct dt_params kp = { 1.0f, w->group }, vp = kp;
	long filled = kvc_calibration_rows(p);
	int d = p->d, dv = kern_dv(p);

	if (t->form == DT_FORM_FP8) {           /* as kvc_calibrate, on what decode fills */
		kp.scale = fp8_scale(p->k + off, filled, d, t->e4m3);
		vp.scale = fp8_scale(p->v + voff, filled, dv, t->e4m3);
	}
	for (long pos = 0; pos < p->n_kv; pos++) {
		size_t at = off + (size_t)pos * (size_t)d, vat = voff + (size_t)pos * (size_t)dv;
		if (t->form == DT_FORM_KIVI) {
			for (int x = 0; x < d; x++)
				w->tail_k[at + x] = dt_from_f16(dt_to_f16(p->k[at + x]));
			for (int x = 0; x < dv; x++)
				w->tail_v[vat + x] = dt_from_f16(dt_to_f16(p->v[vat + x]));
			t->encode(row, w->tail_v + vat, dv, &vp);
			t->decode(out_v + vat, row, dv, &vp);
			continue;
		}
		t->encode(row, p->k + at, d, &kp);
		t->decode(out_k + at, row, d, &kp);
		t->encode(row, p->v + vat, dv, &vp);
		t->decode(out_v + vat, row, dv, &vp);
	}
}

/* KIVI keys: each whole group of positions coded per channel from its f16
 * form; the positions past the last whole group keep it. */
static void view_kivi_keys(const struct kv_view *w, const struct problem *p, size_t off,
			   float *out_k)
{
	int g = w->group, d = p->d, bits = dtype_of(w->t)->bits;
	uint8_t codes[64];
	long pos = 0;

	for (; pos + g <= p->n_kv; pos += g)
		for (int x = 0; x < d; x++) {
			const float *col = w->tail_k + off + (size_t)pos * d + x;
			uint16_t sc, zp;
			kivi_encode(codes, &sc, &zp, col, g, (size_t)d, bits);
			for (int i = 0; i < g; i++)
				out_k[off + (size_t)(pos + i) * d + x] =
					(float)kivi_code(codes, i, bits) * dt_from_f16(sc) + dt_from_f16(zp);
		}
	memcpy(out_k + off + (size_t)pos * d, w->tail_k + off + (size_t)pos * d,
	       (size_t)(p->n_kv - pos) * (size_t)d * sizeof *out_k);
}

int kv_view_build(struct kv_view *w, const struct problem *p, int group, long residual)
{
	size_t n = (size_t)p->batch * (size_t)p->kv_heads * (size_t)p->n_kv * (size_t)p->d;
	size_t nv = (size_t)p->batch * (size_t)p->kv_heads * (size_t)p->n_kv * (size_t)kern_dv(p);
	int kivi = dtype_of(p->kv_dtype)->form == DT_FORM_KIVI, caches = p->batch * p->kv_heads;
	size_t rb, rbv;
	void *row;

	memset(w, 0, sizeof *w);
	w->t = p->kv_dtype;
	w->group = group;
	w->residual = residual;
	w->k = p->k;
	w->v = p->v;
	if (p->kv_dtype == DT_F32)
		return 0;
	if (p->d % dtype_width_unit(p->kv_dtype, group) || kern_dv(p) % dtype_width_unit(p->kv_dtype, group))
		return -1;
	w->own_k = malloc(n * sizeof *w->own_k);
	w->own_v = malloc(nv * sizeof *w->own_v);
	if (kivi) {
		w->tail_k = malloc(n * sizeof *w->tail_k);
		w->tail_v = malloc(nv * sizeof *w->tail_v);
	}
	rb = dtype_row_bytes(p->kv_dtype, p->d, group);
	rbv = dtype_row_bytes(p->kv_dtype, kern_dv(p), group);
	rb = rb > rbv ? rb : rbv;
	row = malloc((size_t)caches * rb);      /* a coded row per cache */
	if (!w->own_k || !w->own_v || !row || (kivi && (!w->tail_k || !w->tail_v))) {
		free(row);
		kv_view_free(w);
		return -1;
	}
	w->k = w->own_k;
	w->v = w->own_v;
#pragma omp parallel for schedule(static) if (caches > 1)
	for (int i = 0; i < caches; i++) {
		size_t off = (size_t)i * (size_t)p->n_kv * (size_t)p->d;
		size_t voff = (size_t)i * (size_t)p->n_kv * (size_t)kern_dv(p);
		view_rows(w, p, off, voff, w->own_k, w->own_v, (char *)row + (size_t)i * rb);
		if (kivi)
			view_kivi_keys(w, p, off, w->own_k);
	}
	free(row);
	return 0;
}

void kv_view_free(struct kv_view *w)
{
	free(w->own_k);
	free(w->own_v);
	free(w->tail_k);
	free(w->tail_v);
	memset(w, 0, sizeof *w);
}
