/* decode.c - token-by-token decoding through a KV cache. The problem's n_q
 * query rows are the last n_q tokens of the sequence (bottom-right): the
 * cache holds the tokens before them (filled in prepare, untimed), and a
 * timed run appends each token's K/V to the cache, then attends from it
 * over G through the cache's layout (full, ring, sink_ring or paged) and
 * element type (f32, f16, bf16). Row-wise online softmax per 64 keys with
 * the ISA's micro-kernels; every kv head's cache serves its query heads. */
#include <stdlib.h>
#include <string.h>

#include "kvcache.h"
#include "rowwise.h"

struct decode_ws {
	struct kv_cache *cache;         /* one per (batch, kv head) */
	int n_cache;
	const struct simd_ops *ops;
	float *buf;                     /* per thread: q, acc, scores, pointers, rows */
	size_t stride;
};

/* Per thread: the row engine's floats plus 2 x 64 converted rows. */
static size_t decode_floats(int d)
{
	return row_ws_floats(d) + 2 * (size_t)ROW_CHUNK * (size_t)d;
}

static void decode_release(void *ws)
{
	struct decode_ws *w = ws;

	if (!w)
		return;
	for (int i = 0; w->cache && i < w->n_cache; i++)
		kvc_free(&w->cache[i]);
	free(w->cache);
	free(w->buf);
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

	if (!w)
		return -1;
	w->ops = kern_simd();
	w->n_cache = p->batch * p->kv_heads;
	w->stride = (decode_floats(p->d) + 15) / 16 * 16;
	w->cache = calloc((size_t)w->n_cache, sizeof *w->cache);
	w->buf = aligned_alloc(64, (size_t)threads * w->stride * sizeof(float));
	if (!w->cache || !w->buf) {
		decode_release(w);
		return -1;
	}
	for (int i = 0; i < w->n_cache; i++) {
		if (kvc_init(&w->cache[i], p->kv_layout, p->kv_dtype, p->d, p->n_kv,
			     p->kv_ring, p->kv_sinks, (unsigned long long)i + 1)) {
			decode_release(w);
			return -1;
		}
		prefill_cache(p, &w->cache[i], i);
	}
	*ws = w;
	return 0;
}

/* Puts back what a run evicted: the rows the appended tokens overwrote. */
static void decode_reset(const struct problem *p, void *ws)
{
	struct decode_ws *w = ws;

	if (p->kv_layout != KV_RING && p->kv_layout != KV_SINK_RING)
		return;                 /* appends only filled unused rows */
	for (int i = 0; i < w->n_cache; i++) {
		struct kv_cache *c = &w->cache[i];
		long first = p->n_kv - p->n_q - c->ring;
		const float *k = p->k + (size_t)i * (size_t)p->n_kv * (size_t)p->d;
		const float *v = p->v + (size_t)i * (size_t)p->n_kv * (size_t)p->d;
		if (first < c->sinks)
			first = c->sinks;
		for (long pos = first; pos < p->n_kv - p->n_q; pos++)
			kvc_store(c, pos, k + (size_t)pos * p->d, v + (size_t)pos * p->d);
	}
}

/* Attention of query row r of head h through cache c. */
static void decode_row(const struct problem *p, const struct decode_ws *w,
		       const struct kv_cache *c, float *buf, int b, int h, long r)
{
	int d = p->d;
	const float *q = p->q + kern_q_off(p, b, h) + (size_t)r * (size_t)d;
	float *qs = buf, *s = buf + 2 * d, scale = (float)(1.4426950408889634 / sqrt((double)d));
	const float **krows = (const float **)(s + ROW_CHUNK), **vrows = krows + ROW_CHUNK;
	float *conv = buf + row_ws_floats(d);
	struct row_state st = { -INFINITY, 0.0f, buf + d };
	int64_t n;
	const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, h), r, &n);
	long long keys = 0;
	int cnt = 0;

	for (int x = 0; x < d; x++) {
		qs[x] = q[x] * scale;
		st.acc[x] = 0.0f;
	}
	for (int64_t t = 0; t < n; t++)
		for (long j = rg[t].lo; j < rg[t].hi; j++) {
			krows[cnt] = kvc_load(c, j, 0, conv + (size_t)cnt * d, w->ops);
			vrows[cnt] = kvc_load(c, j, 1, conv + (size_t)(ROW_CHUNK + cnt) * d, w->ops);
			if (++cnt == ROW_CHUNK) {
				row_fold(&st, qs, krows, vrows, cnt, d, w->ops, s);
				keys += cnt;
				cnt = 0;
			}
		}
	if (cnt)
		row_fold(&st, qs, krows, vrows, cnt, d, w->ops, s);
	keys += cnt;
	row_finish(&st, p->o + kern_q_off(p, b, h) + (size_t)r * (size_t)d, d);
	kern_tally_add(p, kern_thread(), keys, 4LL * d * keys,
		       2LL * kv_dtype_size(p->kv_dtype) * d * keys);
}

static void decode_run(const struct problem *p, void *ws)
{
	const struct decode_ws *w = ws;
	int group = p->heads / p->kv_heads;

#pragma omp parallel
	{
		float *buf = w->buf + (size_t)kern_thread() * w->stride;
#pragma omp for schedule(dynamic, 1)
		for (int i = 0; i < w->n_cache; i++) {
			int b = i / p->kv_heads, kvh = i % p->kv_heads;
			struct kv_cache *c = &w->cache[i];
			const float *k = p->k + (size_t)i * (size_t)p->n_kv * (size_t)p->d;
			const float *v = p->v + (size_t)i * (size_t)p->n_kv * (size_t)p->d;
			for (long r = 0; r < p->n_q; r++) {
				long pos = p->n_kv - p->n_q + r;
				kvc_store(c, pos, k + (size_t)pos * p->d, v + (size_t)pos * p->d);
				for (int h = kvh * group; h < (kvh + 1) * group; h++)
					decode_row(p, w, c, buf, b, h, r);
			}
		}
	}
}

static void decode_cost(const struct problem *p, int threads, struct kern_cost *c)
{
	long rows = kv_layout_rows(p->kv_layout, p->n_kv, p->kv_ring, p->kv_sinks);

	c->flops_exec = 4.0 * p->d * (double)gset_pairs(p->g, p->heads) * p->batch;
	c->score_bytes = ROW_CHUNK * sizeof(float);
	c->kv_cache_bytes = 2.0 * p->batch * p->kv_heads * (double)rows * p->d *
			    kv_dtype_size(p->kv_dtype);
	c->workspace_bytes = c->kv_cache_bytes +
			     (double)threads * (double)decode_floats(p->d) * sizeof(float);
}

const struct kern_desc kern_decode = {
	.name = "decode",                       /* token by token via a cache */
	.summary = "appends each token to a KV cache (full, ring, sink_ring, paged; f32/f16/bf16) and attends through it",
	.unavailable = NULL,                    /* portable path everywhere */
	.prepare = decode_prepare,              /* caches filled with the past */
	.run = decode_run,                      /* append, then attend, per token */
	.release = decode_release,
	.cost = decode_cost,                    /* 4 d per pair; the cache it holds */
	.reset = decode_reset,                  /* puts evicted rows back */
	.simd = 1,                              /* dots, exp2, axpys per ISA */
	.decode = 1,                            /* reads K/V through the cache */
};
