/* decode.c - token-by-token decoding through a KV cache. The problem's n_q
 * query rows are the last n_q tokens of the sequence (bottom-right): the
 * cache holds the tokens before them (filled in prepare, untimed), and a
 * timed run appends each token's K/V to the cache, then attends from it
 * over G through the cache's layout (full, ring, sink_ring or paged) and
 * type (plain f32/f16/bf16, fp8 with a tensor scale, q8_0/q4_0 blocks,
 * KIVI groups with their f16 tail).
 *
 * A token's keys are read as runs of consecutive storage rows (a ring's
 * wrap and a page's end split them) with the ISA's fused micro-kernels,
 * which decode as they load: every cache byte is read once, and no
 * widened copy of the cache exists. The fp8 tensor scales fold into the
 * query (K) and the output (V); KIVI's key scales into the query once a
 * group, its zero points into one sum. Query
 * heads that share a K/V head and a layout walk its rows together, chunk
 * by chunk, so GQA reads the cache once per K/V head. When there are too
 * few caches to keep every thread busy, each token's keys are split among
 * threads and the partial softmax states merged (flash-decoding).
 *
 * With p->chunk (mode extend) the n_q tokens are one chunk: all are
 * appended first, then every (cache, token) is an independent work item
 * reading the cache as the whole chunk left it, as a chunked prefill or
 * a speculative verification reads it. */
#include <stdlib.h>
#include <string.h>

#include "kvcache.h"
#include "rowwise.h"

struct decode_ws {
	struct kv_cache *cache;         /* one per (batch, kv head) */
	int n_cache;
	int group;                      /* query heads per kv head */
	int splits;                     /* key splits per cache and token */
	const struct simd_ops *ops;
	float *part;                    /* split states: (cache, split, head) x (d + 2) */
	float *buf;                     /* per thread: queries, accumulators, scores */
	size_t stride;
	struct row_state *states;       /* per thread: one per head of a group */
	struct row_mod *mods;           /* per thread: their score functions */
};

/* Per thread: a scaled query and an accumulator per head of a group, and
 * a chunk of scores; then a query times KIVI's key scales per head. */
static size_t decode_floats(int d, int group)
{
	return ((size_t)group * 3 * (size_t)d + ROW_CHUNK + 15) / 16 * 16;
}

/* Enough work items for every thread: one per cache (a chunk: one per
 * cache and token) when they spread evenly (or are many), else each
 * cache's keys in several splits of at least 512 keys. */
static int decode_splits(const struct problem *p, int threads)
{
	int caches = p->batch * p->kv_heads, s, most = (int)(p->n_kv / 512);
	long units = p->chunk ? caches * p->n_q : caches;

	if (units % threads == 0 || units >= 4 * threads)
		return 1;
	s = (int)((4 * threads + units - 1) / units);
	return s < most ? s : most > 1 ? most : 1;
}

static void decode_release(void *ws)
{
	struct decode_ws *w = ws;

	if (!w)
		return;
	for (int i = 0; w->cache && i < w->n_cache; i++)
		kvc_free(&w->cache[i]);
	free(w->cache);
	free(w->part);
	free(w->buf);
	free(w->states);
	free(w->mods);
	free(w);
}

/* The tokens before the decoded ones, for cache i of problem p. */
static void prefill_cache(const struct problem *p, struct kv_cache *c, int i)
{
	const float *k = p->k + (size_t)i * (size_t)p->n_kv * (size_t)p->d;
	const float *v = p->v + (size_t)i * (size_t)p->n_kv * (size_t)p->d;

	for (long pos = 0; pos < p->n_kv - p->n_q; pos++)
		kvc_store(c, pos, k + (size_t)pos * p->d, v + (size_t)pos * p->d);
}

static int decode_prepare(const struct problem *p, int threads, void **ws)
{
	struct decode_ws *w = calloc(1, sizeof *w);
	size_t part;

	if (!w)
		return -1;
	w->ops = kern_simd();
	w->n_cache = p->batch * p->kv_heads;
	w->group = p->heads / p->kv_heads;
	w->splits = decode_splits(p, threads);
	w->stride = decode_floats(p->d, w->group);
	part = (size_t)w->n_cache * (size_t)w->splits * (size_t)w->group * (size_t)(p->d + 2);
	w->cache = calloc((size_t)w->n_cache, sizeof *w->cache);
	w->part = w->splits > 1 ? malloc(part * sizeof(float)) : NULL;
	w->buf = aligned_alloc(64, (size_t)threads * w->stride * sizeof(float));
	w->states = malloc((size_t)threads * (size_t)w->group * sizeof *w->states);
	w->mods = malloc((size_t)threads * (size_t)w->group * sizeof *w->mods);
	if (!w->cache || !w->buf || !w->states || !w->mods || (w->splits > 1 && !w->part)) {
		decode_release(w);
		return -1;
	}
	for (int i = 0; i < w->n_cache; i++) {
		struct kv_cache *c = &w->cache[i];
		if (kvc_init(c, p->kv_layout, p->kv_dtype, p->d, p->n_kv,
			     p->kv_ring, p->kv_sinks, (unsigned long long)i + 1) ||
		    (dtype_of(p->kv_dtype)->form == DT_FORM_KIVI &&
		     kvc_set_kivi(c, p->kv_group, p->kv_residual))) {
			decode_release(w);
			return -1;
		}
		if (dtype_of(p->kv_dtype)->form == DT_FORM_FP8)
			kvc_calibrate(c, p->k + (size_t)i * (size_t)p->n_kv * (size_t)p->d,
				      p->v + (size_t)i * (size_t)p->n_kv * (size_t)p->d,
				      kvc_calibration_rows(p));
		prefill_cache(p, c, i);
	}
	*ws = w;
	return 0;
}

/* Puts back what a run changed: the cache's length, the rows the
 * appended tokens evicted, KIVI's tail and groups. */
static void decode_reset(const struct problem *p, void *ws)
{
	struct decode_ws *w = ws;

	for (int i = 0; i < w->n_cache; i++)
		kvc_rewind(&w->cache[i], p->n_kv - p->n_q,
			   p->k + (size_t)i * (size_t)p->n_kv * (size_t)p->d,
			   p->v + (size_t)i * (size_t)p->n_kv * (size_t)p->d);
}

/* Query heads reading the same ranges of cache c together. */
struct walk {
	const struct kv_cache *c;
	int nh;                         /* heads walking together */
	struct row_state *st;           /* their states */
	struct row_mod *rm;             /* their score functions */
	float *qg;                      /* KIVI: a query times a group's key scales */
};

/* Folds keys [pos, pos + n) of the cache (consecutive storage rows) into
 * every head of the walk, ROW_CHUNK at a time. */
static void walk_plain(struct walk *wk, const float *qs, float *s, long pos, long n,
		       int d, const struct simd_ops *ops)
{
	const struct kv_cache *c = wk->c;
	long row = kvc_row(c, pos);

	for (long at = 0; at < n; at += ROW_CHUNK) {
		int cnt = n - at < ROW_CHUNK ? (int)(n - at) : ROW_CHUNK;
		const void *k = kvc_at(c, 0, row + at), *v = kvc_at(c, 1, row + at);
		for (int h = 0; h < wk->nh; h++) {
			ops->dots_kv(qs + (size_t)h * d, k, c->dtype, cnt, d, s);
			row_mod_apply(&wk->rm[h], NULL, pos + at, s, cnt, ops);
			row_step(&wk->st[h], s, cnt, d, ops);
			ops->axpys_kv(wk->st[h].acc, s, v, c->dtype, cnt, d, 1);
		}
	}
}

/* KIVI: scores of cnt keys from pos for query qs, from the key group
 * (its scales folded into qg, its zero points into one sum) or the tail. */
static void kivi_scores(const struct kv_cache *c, const float *qs, float *qg, long pos,
			long row, int cnt, int d, const struct simd_ops *ops, float *s)
{
	const uint8_t *blk;
	const uint16_t *scale, *zero;
	float base = 0.0f;

	if (pos >= c->kq) {
		ops->dots_kv(qs, kvc_tail(c, 0, pos), DT_F16, cnt, d, s);
		return;
	}
	blk = kvc_key_group(c, row);
	scale = (const uint16_t *)blk;
	zero = scale + d;
	for (int x = 0; x < d; x++) {
		qg[x] = qs[x] * dt_from_f16(scale[x]);
		base += qs[x] * dt_from_f16(zero[x]);
	}
	ops->dots_kivi(qg, base, blk + 4 * (size_t)d, dtype_of(c->dtype)->bits, c->kpar.group,
		       (int)(row % c->kpar.group), cnt, d, s);
}

/* KIVI: keys [pos, pos + n) in stretches that lie in one key group (or
 * one run of the tail) and one form of value. */
static void walk_kivi(struct walk *wk, const float *qs, float *s, long pos, long n,
		      int d, const struct simd_ops *ops)
{
	const struct kv_cache *c = wk->c;
	long end = pos + n, g = c->kpar.group, tail = c->tail_rows;

	while (pos < end) {
		long row = kvc_row(c, pos), cnt = end - pos < ROW_CHUNK ? end - pos : ROW_CHUNK;
		long kreach = pos < c->kq ? (c->kq - pos < g - row % g ? c->kq - pos : g - row % g)
					  : tail - pos % tail;
		long vreach = pos < c->vq ? c->vq - pos : tail - pos % tail;
		cnt = cnt < kreach ? cnt : kreach;
		cnt = cnt < vreach ? cnt : vreach;
		for (int h = 0; h < wk->nh; h++) {
			kivi_scores(c, qs + (size_t)h * d, wk->qg, pos, row, (int)cnt, d, ops, s);
			row_mod_apply(&wk->rm[h], NULL, pos, s, (int)cnt, ops);
			row_step(&wk->st[h], s, (int)cnt, d, ops);
			if (pos < c->vq)
				ops->axpys_kv(wk->st[h].acc, s, kvc_at(c, 1, row), c->dtype, (int)cnt, d, (int)g);
			else
				ops->axpys_kv(wk->st[h].acc, s, kvc_tail(c, 1, pos), DT_F16, (int)cnt, d, (int)g);
		}
		pos += cnt;
	}
}

static void walk_run(struct walk *wk, const float *qs, float *s, long pos, long n,
		     int d, const struct simd_ops *ops)
{
	if (dtype_of(wk->c->dtype)->form == DT_FORM_KIVI)
		walk_kivi(wk, qs, s, pos, n, d, ops);
	else
		walk_plain(wk, qs, s, pos, n, d, ops);
}

/* Folds keys [first, last) of a row's ranges (counted in key order) into
 * the walk. */
static void walk_keys(struct walk *wk, const float *qs, float *s,
		      const struct pat_range *rg, int64_t n, long long first,
		      long long last, int d, const struct simd_ops *ops)
{
	long long seen = 0;

	for (int64_t t = 0; t < n && seen < last; t++) {
		long lo = rg[t].lo, hi = rg[t].hi;
		if (seen + (hi - lo) <= first) {
			seen += hi - lo;
			continue;
		}
		if (seen < first)
			lo += (long)(first - seen);
		if (seen + (rg[t].hi - rg[t].lo) > last)
			hi = rg[t].lo + (long)(last - seen);
		seen += rg[t].hi - rg[t].lo;
		for (long pos = lo; pos < hi;) {
			long run = kvc_run(wk->c, pos, hi);
			walk_run(wk, qs, s, pos, run, d, ops);
			pos += run;
		}
	}
}

/* Split `split` of token r for the nh heads from h0 of sequence b over
 * cache c: the row's keys in that split, then either the output (one
 * split) or the partial states at part. */
static void decode_heads(const struct problem *p, const struct decode_ws *w,
			 const struct kv_cache *c, int b, int h0, int nh, long r,
			 int split, float *part)
{
	int d = p->d, thread = kern_thread();
	float scale = (float)(1.4426950408889634 * score_scale(p->score, d)) * c->kpar.scale;
	float *qs = w->buf + (size_t)thread * w->stride, *acc = qs + (size_t)w->group * d;
	float *s = acc + (size_t)w->group * d;
	struct row_mod *rm = w->mods + (size_t)thread * w->group;
	struct walk wk = { c, nh, w->states + (size_t)thread * w->group, rm,
			   s + ROW_CHUNK };
	int64_t n;
	const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, b, h0), r, &n);
	long long keys = gset_row_keys(rg, n);
	long long first = keys * split / w->splits, last = keys * (split + 1) / w->splits;

	for (int h = 0; h < nh; h++) {
		const float *q = p->q + kern_q_off(p, b, h0 + h) + (size_t)r * (size_t)d;
		wk.st[h] = (struct row_state){ -INFINITY, 0.0f, acc + (size_t)h * d };
		rm[h] = row_mod_of(p, h0 + h, p->n_kv - p->n_q + r);
		for (int x = 0; x < d; x++) {
			qs[(size_t)h * d + x] = q[x] * scale;
			acc[(size_t)h * d + x] = 0.0f;
		}
	}
	walk_keys(&wk, qs, s, rg, n, first, last, d, w->ops);
	for (int h = 0; h < nh; h++) {
		const struct row_state *st = &wk.st[h];
		for (int x = 0; c->vpar.scale != 1.0f && x < d; x++)
			st->acc[x] *= c->vpar.scale;    /* fp8: V's tensor scale */
		if (!part) {
			row_finish(st, p->o + kern_q_off(p, b, h0 + h) + (size_t)r * (size_t)d, d);
			continue;
		}
		memcpy(part + (size_t)h * (d + 2), st->acc, (size_t)d * sizeof(float));
		part[(size_t)h * (d + 2) + d] = st->m;
		part[(size_t)h * (d + 2) + d + 1] = st->l;
	}
	kern_tally_add(p, thread, (last - first) * nh, 4LL * d * (last - first) * nh,
		       2LL * (long long)c->row_bytes * (last - first));
}

/* One work item of token r: split `split` of cache i, for every query
 * head of its group (together when they share a layout). */
static void decode_item(const struct problem *p, const struct decode_ws *w,
			int i, int split, long r)
{
	int b = i / p->kv_heads, h0 = (i % p->kv_heads) * w->group;
	float *part = w->part ? w->part + ((size_t)i * w->splits + split) *
				(size_t)w->group * (size_t)(p->d + 2) : NULL;

	if (p->g->n_layouts == 1) {
		decode_heads(p, w, &w->cache[i], b, h0, w->group, r, split, part);
		return;
	}
	for (int h = 0; h < w->group; h++)
		decode_heads(p, w, &w->cache[i], b, h0 + h, 1, r, split,
			     part ? part + (size_t)h * (p->d + 2) : NULL);
}

/* Output of head h of cache i for token r from its splits' states: each
 * rescaled to the largest max, then summed. */
static void decode_merge(const struct problem *p, const struct decode_ws *w,
			 int i, int h, long r)
{
	int d = p->d, b = i / p->kv_heads;
	size_t step = (size_t)w->group * (size_t)(d + 2);
	const float *first = w->part + (size_t)i * w->splits * step + (size_t)h * (d + 2);
	float *o = p->o + kern_q_off(p, b, (i % p->kv_heads) * w->group + h) +
		   (size_t)r * (size_t)d;
	float m = -INFINITY, l = 0.0f;

	for (int s = 0; s < w->splits; s++)
		m = first[s * step + d] > m ? first[s * step + d] : m;
	memset(o, 0, (size_t)d * sizeof *o);
	if (m == -INFINITY)
		return;                 /* an empty row */
	for (int s = 0; s < w->splits; s++) {
		const float *part = first + s * step;
		float f = exp2f(part[d] - m);
		l += part[d + 1] * f;
		for (int x = 0; x < d; x++)
			o[x] += part[x] * f;
	}
	for (int x = 0; x < d; x++)
		o[x] /= l;
}

/* Appends token r's K and V to cache i. */
static void decode_append(const struct problem *p, const struct decode_ws *w, int i, long r)
{
	long pos = p->n_kv - p->n_q + r;
	const float *k = p->k + ((size_t)i * p->n_kv + pos) * p->d;
	const float *v = p->v + ((size_t)i * p->n_kv + pos) * p->d;

	kvc_store(&w->cache[i], pos, k, v);
}

/* Token r's work items over the team: every split of every cache, then
 * the merge of their states. Called by every thread of a team. */
static void decode_token_split(const struct problem *p, const struct decode_ws *w, long r)
{
	int items = w->n_cache * w->splits;

#pragma omp for schedule(dynamic, 1)
	for (int t = 0; t < items; t++)
		decode_item(p, w, t / w->splits, t % w->splits, r);
#pragma omp for schedule(static)
	for (int t = 0; t < w->n_cache * w->group; t++)
		decode_merge(p, w, t / w->group, t % w->group, r);
}

/* Extend: the chunk appended to every cache, then each (cache, token)
 * attended over what the chunk left (split when they are too few). */
static void extend_run(const struct problem *p, const struct decode_ws *w)
{
	long items = (long)w->n_cache * p->n_q;

#pragma omp parallel
	{
#pragma omp for schedule(static)
		for (int i = 0; i < w->n_cache; i++)
			for (long r = 0; r < p->n_q; r++)
				decode_append(p, w, i, r);
		if (w->splits == 1) {
#pragma omp for schedule(dynamic, 1)
			for (long t = 0; t < items; t++)
				decode_item(p, w, (int)(t / p->n_q), 0, t % p->n_q);
		} else {
			for (long r = 0; r < p->n_q; r++)
				decode_token_split(p, w, r);
		}
	}
}

static void decode_run(const struct problem *p, void *ws)
{
	const struct decode_ws *w = ws;

	if (p->chunk) {
		extend_run(p, w);
		return;
	}
	if (w->splits == 1) {
		/* caches are independent: each thread decodes its own through
		 * every token, with no barrier between tokens */
#pragma omp parallel for schedule(dynamic, 1)
		for (int i = 0; i < w->n_cache; i++)
			for (long r = 0; r < p->n_q; r++) {
				decode_append(p, w, i, r);
				decode_item(p, w, i, 0, r);
			}
		return;
	}
#pragma omp parallel
	for (long r = 0; r < p->n_q; r++) {
#pragma omp for schedule(static)
		for (int i = 0; i < w->n_cache; i++)
			decode_append(p, w, i, r);
		decode_token_split(p, w, r);
	}
}

static void decode_cost(const struct problem *p, int threads, struct kern_cost *c)
{
	long rows = kv_layout_rows(p->kv_layout, p->n_kv, p->kv_ring, p->kv_sinks);
	int group = p->heads / p->kv_heads, splits = decode_splits(p, threads);
	double part = splits > 1 ? (double)p->batch * p->kv_heads * splits * group * (p->d + 2) : 0;

	c->flops_exec = 4.0 * p->d * (double)gset_pairs(p->g, p->heads) * p->batch;
	c->score_bytes = ROW_CHUNK * sizeof(float);
	c->kv_cache_bytes = 2.0 * p->batch * p->kv_heads *
			    ((double)rows * (double)dtype_row_bytes(p->kv_dtype, p->d, p->kv_group) +
			     (dtype_of(p->kv_dtype)->form == DT_FORM_KIVI ?
			      (double)(p->kv_residual + p->kv_group) * p->d * 2.0 : 0.0));
	c->workspace_bytes = c->kv_cache_bytes + part * sizeof(float) +
			     (double)threads * ((double)decode_floats(p->d, group) * sizeof(float) +
						(double)group * sizeof(struct row_state));
}

const struct kern_desc kern_decode = {
	.name = "decode",                       /* token by token via a cache */
	.summary = "appends each token (extend: the chunk) to a KV cache (full, ring, sink_ring, paged; plain, fp8, q8_0/q4_0, KIVI) and attends through it",
	.unavailable = NULL,                    /* portable path everywhere */
	.prepare = decode_prepare,              /* caches filled with the past */
	.run = decode_run,                      /* append, then attend, per token */
	.release = decode_release,
	.cost = decode_cost,                    /* 4 d per pair; the cache it holds */
	.reset = decode_reset,                  /* puts evicted rows back */
	.simd = 1,                              /* fused dots and axpys per ISA */
	.decode = 1,                            /* reads K/V through the cache */
};
