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
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kvcache.h"
#include "rowwise.h"

struct decode_ws {
	int ragged;                     /* 0 (a ragged_ws has 1 here) */
	struct kv_cache *cache;         /* one per (batch, kv head) */
	int n_cache;
	int group;                      /* query heads per kv head */
	int splits;                     /* key splits per cache and token */
	const struct simd_ops *ops;
	float *part;                    /* split states: (cache, split, head) x (dv + 2) */
	float *buf;                     /* per thread: queries, accumulators, scores */
	size_t stride;
	struct row_state *states;       /* per thread: one per head of a group */
	struct row_mod *mods;           /* per thread: their score functions */
};

/* Per thread: a scaled query (d) and an accumulator (dv) per head of a
 * group, and a chunk of scores; then a query times KIVI's key scales. */
static size_t decode_floats(int d, int dv, int group)
{
	return ((size_t)group * (2 * (size_t)d + (size_t)dv) + ROW_CHUNK + 15) / 16 * 16;
}

/* Enough work items for every thread: one per cache (a chunk: one per
 * cache and token) when they spread evenly (or are many), else each
 * cache's keys in several splits of at least 512 keys. */
static int decode_splits(const struct problem *p, int threads)
{
	int caches = p->batch * p->kv_heads, s, most = (int)(p->n_kv / 512);
	long units = p->chunk ? caches * p->n_q : caches;

	if (p->kv_splits > 0)
		return p->kv_splits;
	if (units % threads == 0 || units >= 4 * threads)
		return 1;
	s = (int)((4 * threads + units - 1) / units);
	return s < most ? s : most > 1 ? most : 1;
}

static void ragged_release(void *ws);

static void decode_release(void *ws)
{
	struct decode_ws *w = ws;

	if (w && w->ragged) {
		ragged_release(ws);
		return;
	}
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
	const float *v = p->v + (size_t)i * (size_t)p->n_kv * (size_t)kern_dv(p);

	for (long pos = 0; pos < p->n_kv - p->n_q; pos++)
		kvc_store(c, pos, k + (size_t)pos * p->d, v + (size_t)pos * kern_dv(p));
}

static int ragged_prepare(const struct problem *p, int threads, void **ws);

static int decode_prepare(const struct problem *p, int threads, void **ws)
{
	struct decode_ws *w;
	size_t part;

	if (p->ragged)
		return ragged_prepare(p, threads, ws);
	if (!(w = calloc(1, sizeof *w)))
		return -1;
	w->ops = kern_simd();
	w->n_cache = p->batch * p->kv_heads;
	w->group = p->heads / p->kv_heads;
	w->splits = decode_splits(p, threads);
	w->stride = decode_floats(p->d, kern_dv(p), w->group);
	part = (size_t)w->n_cache * (size_t)w->splits * (size_t)w->group * (size_t)(kern_dv(p) + 2);
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
		if (kvc_init(c, p->kv_layout, p->kv_dtype, p->d, kern_dv(p), p->n_kv,
			     p->kv_ring, p->kv_sinks, (unsigned long long)i + 1) ||
		    (dtype_of(p->kv_dtype)->form == DT_FORM_KIVI &&
		     kvc_set_kivi(c, p->kv_group, p->kv_residual))) {
			decode_release(w);
			return -1;
		}
		if (dtype_of(p->kv_dtype)->form == DT_FORM_FP8)
			kvc_calibrate(c, p->k + (size_t)i * (size_t)p->n_kv * (size_t)p->d,
				      p->v + (size_t)i * (size_t)p->n_kv * (size_t)kern_dv(p),
				      kvc_calibration_rows(p));
		prefill_cache(p, c, i);
	}
	*ws = w;
	return 0;
}

/* Puts back what a run changed: the cache's length, the rows the
 * appended tokens evicted, KIVI's tail and groups. */
static void ragged_reset(const struct problem *p, void *ws);

static void decode_reset(const struct problem *p, void *ws)
{
	struct decode_ws *w = ws;

	if (w->ragged) {
		ragged_reset(p, ws);
		return;
	}
	for (int i = 0; i < w->n_cache; i++)
		kvc_rewind(&w->cache[i], p->n_kv - p->n_q,
			   p->k + (size_t)i * (size_t)p->n_kv * (size_t)p->d,
			   p->v + (size_t)i * (size_t)p->n_kv * (size_t)kern_dv(p));
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
 * every head of the walk, ROW_CHUNK at a time (queries d apart in qs). */
static void walk_plain(struct walk *wk, const float *qs, float *s, long pos, long n,
		       int d, const struct simd_ops *ops)
{
	const struct kv_cache *c = wk->c;
	long row = kvc_row(c, pos);

	for (long at = 0; at < n; at += ROW_CHUNK) {
		int cnt = n - at < ROW_CHUNK ? (int)(n - at) : ROW_CHUNK;
		const void *k = kvc_at(c, 0, row + at), *v = kvc_at(c, 1, row + at);
		for (int h = 0; h < wk->nh; h++) {
			ops->dots_kv[c->dtype](qs + (size_t)h * d, k, cnt, d, s);
			row_mod_apply(&wk->rm[h], NULL, pos + at, s, cnt, ops);
			row_step(&wk->st[h], s, cnt, c->dv, ops);
			ops->axpys_kv[c->dtype](wk->st[h].acc, s, v, cnt, c->dv, 1);
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
		ops->dots_kv[DT_F16](qs, kvc_tail(c, 0, pos), cnt, d, s);
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
			row_step(&wk->st[h], s, (int)cnt, c->dv, ops);
			if (pos < c->vq)
				ops->axpys_kv[c->dtype](wk->st[h].acc, s, kvc_at(c, 1, row), (int)cnt, c->dv, (int)g);
			else
				ops->axpys_kv[DT_F16](wk->st[h].acc, s, kvc_tail(c, 1, pos), (int)cnt, c->dv, (int)g);
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
	int d = p->d, dv = kern_dv(p), thread = kern_thread();
	float scale = (float)(1.4426950408889634 * score_scale(p->score, d)) * c->kpar.scale;
	float *qs = w->buf + (size_t)thread * w->stride, *acc = qs + (size_t)w->group * d;
	float *s = acc + (size_t)w->group * dv;
	struct row_mod *rm = w->mods + (size_t)thread * w->group;
	struct walk wk = { c, nh, w->states + (size_t)thread * w->group, rm,
			   s + ROW_CHUNK };
	int64_t n;
	const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, b, h0), r, &n);
	long long keys = gset_row_keys(rg, n);
	long long first = keys * split / w->splits, last = keys * (split + 1) / w->splits;

	for (int h = 0; h < nh; h++) {
		const float *q = p->q + kern_q_off(p, b, h0 + h) + (size_t)r * (size_t)d;
		wk.st[h] = (struct row_state){ -INFINITY, 0.0f, acc + (size_t)h * dv };
		rm[h] = row_mod_of(p, h0 + h, p->n_kv - p->n_q + r);
		for (int x = 0; x < d; x++)
			qs[(size_t)h * d + x] = q[x] * scale;
		for (int x = 0; x < dv; x++)
			acc[(size_t)h * dv + x] = 0.0f;
	}
	walk_keys(&wk, qs, s, rg, n, first, last, d, w->ops);
	for (int h = 0; h < nh; h++) {
		const struct row_state *st = &wk.st[h];
		for (int x = 0; c->vpar.scale != 1.0f && x < dv; x++)
			st->acc[x] *= c->vpar.scale;    /* fp8: V's tensor scale */
		if (!part) {
			row_finish(st, p->o + kern_o_off(p, b, h0 + h) + (size_t)r * (size_t)dv, dv);
			continue;
		}
		memcpy(part + (size_t)h * (dv + 2), st->acc, (size_t)dv * sizeof(float));
		part[(size_t)h * (dv + 2) + dv] = st->m;
		part[(size_t)h * (dv + 2) + dv + 1] = st->l;
	}
	kern_tally_add(p, thread, (last - first) * nh, 2LL * (d + dv) * (last - first) * nh,
		       (long long)(c->row_bytes + c->vrow_bytes) * (last - first));
}

/* One work item of token r: split `split` of cache i, for every query
 * head of its group (together when they share a layout). */
static void decode_item(const struct problem *p, const struct decode_ws *w,
			int i, int split, long r)
{
	int b = i / p->kv_heads, h0 = (i % p->kv_heads) * w->group;
	float *part = w->part ? w->part + ((size_t)i * w->splits + split) *
				(size_t)w->group * (size_t)(kern_dv(p) + 2) : NULL;

	if (gset_group_shares(p->g, w->group)) {
		decode_heads(p, w, &w->cache[i], b, h0, w->group, r, split, part);
		return;
	}
	for (int h = 0; h < w->group; h++)
		decode_heads(p, w, &w->cache[i], b, h0 + h, 1, r, split,
			     part ? part + (size_t)h * (kern_dv(p) + 2) : NULL);
}

/* Output of head h of cache i for token r from its splits' states: each
 * rescaled to the largest max, then summed. */
static void decode_merge(const struct problem *p, const struct decode_ws *w,
			 int i, int h, long r)
{
	int d = kern_dv(p), b = i / p->kv_heads;     /* the output's width */
	size_t step = (size_t)w->group * (size_t)(d + 2);
	const float *first = w->part + (size_t)i * w->splits * step + (size_t)h * (d + 2);
	float *o = p->o + kern_o_off(p, b, (i % p->kv_heads) * w->group + h) +
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
	const float *v = p->v + ((size_t)i * p->n_kv + pos) * kern_dv(p);

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

static void ragged_run(const struct problem *p, void *ws);

static void decode_run(const struct problem *p, void *ws)
{
	const struct decode_ws *w = ws;

	if (w->ragged) {
		ragged_run(p, ws);
		return;
	}
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

static void ragged_cost(const struct problem *p, int threads, struct kern_cost *c);

static void decode_cost(const struct problem *p, int threads, struct kern_cost *c)
{
	long rows = kv_layout_rows(p->kv_layout, p->n_kv, p->kv_ring, p->kv_sinks);
	int group = p->heads / p->kv_heads, splits = decode_splits(p, threads);
	double part;

	if (p->ragged) {
		ragged_cost(p, threads, c);
		return;
	}
	part = splits > 1 ? (double)p->batch * p->kv_heads * splits * group * (kern_dv(p) + 2) : 0;

	c->flops_exec = kern_pair_flops(p) * (double)gset_pairs(p->g, p->heads) * p->batch;
	c->score_bytes = ROW_CHUNK * sizeof(float);
	/* K rows of d and V rows of dv, each in the cache's type; KIVI's f16
	 * tail of both */
	c->kv_cache_bytes = (double)p->batch * p->kv_heads *
			    ((double)rows * (double)(dtype_row_bytes(p->kv_dtype, p->d, p->kv_group) +
						     dtype_row_bytes(p->kv_dtype, kern_dv(p), p->kv_group)) +
			     (dtype_of(p->kv_dtype)->form == DT_FORM_KIVI ?
			      (double)(p->kv_residual + p->kv_group) * (p->d + kern_dv(p)) * 2.0 : 0.0));
	c->workspace_bytes = c->kv_cache_bytes + part * sizeof(float) +
			     (double)threads * ((double)decode_floats(p->d, kern_dv(p), group) * sizeof(float) +
						(double)group * sizeof(struct row_state));
}

/* ---- ragged batches: sequences of their own lengths as one step ---- */

/* One work item of a ragged step: split `split` of cache i of sequence s
 * for its token r, costing about `cost` keys. */
struct rag_item {
	int s, i, split;
	long r;
	double cost;
};

/* A (sequence, cache) pair: appends and merges address them. */
struct rag_cache {
	int s, i;
};

struct ragged_ws {
	int ragged;                     /* 1 */
	int n;                          /* sequences */
	struct problem *seq;            /* theirs, chunked, o set at each run */
	struct decode_ws **ws;          /* each one's */
	struct rag_item *item;          /* every item, largest first */
	long n_item;
	struct rag_cache *cache;        /* every (sequence, cache) */
	long n_cache;
};

static void ragged_release(void *ws)
{
	struct ragged_ws *w = ws;

	for (int s = 0; w->ws && s < w->n; s++)
		decode_release(w->ws[s]);
	free(w->ws);
	free(w->seq);
	free(w->item);
	free(w->cache);
	free(w);
}

/* Keys of token r's row of sequence p (its first layout's). */
static long long row_keys(const struct problem *p, long r)
{
	int64_t n;
	const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, 0, 0), r, &n);

	return gset_row_keys(rg, n);
}

/* Key splits of each sequence, by cost as flash-decoding's varlen split
 * does: a sequence of one new token whose keys are more than a share of
 * the step's work (a quarter of a thread's) is split so that no item is
 * much larger than that share; chunks of several tokens are not split
 * (their tokens are items enough). */
static void ragged_splits(struct ragged_ws *w, int threads)
{
	double total = 0, share;

	for (int s = 0; s < w->n; s++)
		for (long r = 0; r < w->seq[s].n_q; r++)
			total += (double)w->seq[s].kv_heads * (double)(row_keys(&w->seq[s], r) + 64);
	share = total / (4.0 * threads);
	for (int s = 0; s < w->n; s++) {
		struct problem *q = &w->seq[s];
		long most = q->n_kv / 512 > 1 ? q->n_kv / 512 : 1;
		long want = q->n_q == 1 && share > 0 ? (long)ceil((double)row_keys(q, 0) / share) : 1;
		q->kv_splits = (int)(want < 1 ? 1 : want > most ? most : want);
	}
}

static int by_cost(const void *a, const void *b)
{
	const struct rag_item *x = a, *y = b;

	return (x->cost < y->cost) - (x->cost > y->cost);
}

/* The step's items: the single-token sequences' first, largest first
 * (the longest processing time rule: with dynamic scheduling no thread is
 * left with a long item at the end), then the chunks' many small ones in
 * cache order, so that a cache's rows stay in the core's caches while its
 * tokens are read (sorting those by cost would interleave the caches). */
static int ragged_items(struct ragged_ws *w)
{
	long n = 0, k = 0, c = 0, single;

	for (int s = 0; s < w->n; s++) {
		n += (long)w->seq[s].kv_heads * w->seq[s].n_q * w->seq[s].kv_splits;
		c += w->seq[s].kv_heads;
	}
	w->item = malloc((size_t)(n ? n : 1) * sizeof *w->item);
	w->cache = malloc((size_t)(c ? c : 1) * sizeof *w->cache);
	if (!w->item || !w->cache)
		return -1;
	for (int pass = 0; pass < 2; pass++) {
		for (int s = 0; s < w->n; s++)
			for (int i = 0; (w->seq[s].n_q > 1) == pass && i < w->seq[s].kv_heads; i++) {
				w->cache[w->n_cache++] = (struct rag_cache){ s, i };
				for (long r = 0; r < w->seq[s].n_q; r++)
					for (int sp = 0; sp < w->seq[s].kv_splits; sp++)
						w->item[k++] = (struct rag_item){ s, i, sp, r,
							(double)(row_keys(&w->seq[s], r) + 64) / w->seq[s].kv_splits };
			}
		if (!pass) {
			single = k;
			qsort(w->item, (size_t)single, sizeof *w->item, by_cost);
		}
	}
	w->n_item = k;
	return 0;
}

static int ragged_prepare(const struct problem *p, int threads, void **ws)
{
	const struct ragged *r = p->ragged;
	struct ragged_ws *w = calloc(1, sizeof *w);

	if (!w)
		return -1;
	w->ragged = 1;
	w->n = r->n;
	w->seq = malloc((size_t)r->n * sizeof *w->seq);
	w->ws = calloc((size_t)r->n, sizeof *w->ws);
	if (!w->seq || !w->ws) {
		ragged_release(w);
		return -1;
	}
	for (int s = 0; s < r->n; s++) {
		w->seq[s] = r->seq[s];
		w->seq[s].chunk = 1;
		w->seq[s].ragged = NULL;
		w->seq[s].tally = p->tally;
	}
	ragged_splits(w, threads);
	for (int s = 0; s < r->n; s++)
		if (decode_prepare(&w->seq[s], threads, (void **)&w->ws[s])) {
			ragged_release(w);
			return -1;
		}
	if (ragged_items(w)) {
		ragged_release(w);
		return -1;
	}
	*ws = w;
	return 0;
}

static void ragged_reset(const struct problem *p, void *ws)
{
	struct ragged_ws *w = ws;

	(void)p;
	for (int s = 0; s < w->n; s++)
		decode_reset(&w->seq[s], w->ws[s]);
}

/* The step: every sequence's new tokens appended, then every item, then
 * the merges of the split sequences' states, each over the whole team. */
static void ragged_run(const struct problem *p, void *ws)
{
	struct ragged_ws *w = ws;

	for (int s = 0; s < w->n; s++) {
		w->seq[s].o = p->o + kern_ragged_off(p->ragged, s);
		w->seq[s].tally = p->tally;
	}
#pragma omp parallel
	{
#pragma omp for schedule(dynamic, 1)
		for (long t = 0; t < w->n_cache; t++) {
			const struct rag_cache *c = &w->cache[t];
			for (long r = 0; r < w->seq[c->s].n_q; r++)
				decode_append(&w->seq[c->s], w->ws[c->s], c->i, r);
		}
#pragma omp for schedule(dynamic, 1)
		for (long t = 0; t < w->n_item; t++) {
			const struct rag_item *it = &w->item[t];
			decode_item(&w->seq[it->s], w->ws[it->s], it->i, it->split, it->r);
		}
#pragma omp for schedule(dynamic, 1)
		for (long t = 0; t < w->n_cache; t++) {
			const struct rag_cache *c = &w->cache[t];
			const struct decode_ws *d = w->ws[c->s];
			for (int h = 0; d->splits > 1 && h < d->group; h++)
				decode_merge(&w->seq[c->s], d, c->i, h, 0);
		}
	}
}

/* The sum of the sequences' costs, each with the splits the step gives it. */
static void ragged_cost(const struct problem *p, int threads, struct kern_cost *c)
{
	struct ragged_ws w = { .n = p->ragged->n };
	struct problem seq[64], *many = NULL;

	memset(c, 0, sizeof *c);
	w.seq = p->ragged->n <= 64 ? seq : (many = malloc((size_t)p->ragged->n * sizeof *many));
	if (!w.seq)
		return;
	for (int s = 0; s < w.n; s++) {
		w.seq[s] = p->ragged->seq[s];
		w.seq[s].chunk = 1;
		w.seq[s].ragged = NULL;
	}
	ragged_splits(&w, threads);
	for (int s = 0; s < w.n; s++) {
		struct kern_cost one;
		decode_cost(&w.seq[s], threads, &one);
		c->flops_exec += one.flops_exec;
		c->kv_cache_bytes += one.kv_cache_bytes;
		c->workspace_bytes += one.workspace_bytes;
		c->score_bytes = one.score_bytes > c->score_bytes ? one.score_bytes : c->score_bytes;
	}
	free(many);
}

const struct kern_desc kern_decode = {
	.name = "decode",                       /* token by token via a cache */
	.summary = "appends each token (extend: the chunk) to a KV cache (full, ring, sink_ring, paged; plain, fp8, q8_0/q4_0, KIVI) and attends through it",
	.unavailable = NULL,                    /* portable path everywhere */
	.prepare = decode_prepare,              /* caches filled with the past */
	.run = decode_run,                      /* append, then attend, per token */
	.release = decode_release,
	.cost = decode_cost,                    /* 2 d + 2 dv per pair; the cache it holds */
	.reset = decode_reset,                  /* puts evicted rows back */
	.simd = 1,                              /* fused dots and axpys per ISA */
	.decode = 1,                            /* reads K/V through the cache */
	.ragged = 1,                            /* ragged batches as one step */
};
