/* ranges.c - attention that walks contiguous runs of keys, so scores come
 * from contiguous K rows. Blocks of 64 query rows whose runs overlap
 * (windows, sinks, chunks: neighbouring rows see nearly the same keys)
 * walk the union of their runs together, chunk by chunk, scored by the
 * query-tile micro-kernels (tile.h) with per-row masks only where a chunk
 * is not in every row's G: a K row is loaded once for 64 queries. Blocks
 * whose runs are short or scattered (strided, random) go row by row, each
 * row's keys in chunks of up to 64 (a chunk may span short runs) with an
 * online softmax (rowwise.h). The choice is made per block in prepare,
 * untimed. */
#include <stdint.h>
#include <stdlib.h>

#include "rowwise.h"
#include "tile.h"

/* A block is walked together when the union of its rows' runs is at least
 * half full (rows x union keys <= 2 x pairs) and its runs average at
 * least RUN_MIN keys (a chunk of a shorter run wastes the tile). */
#define RUN_MIN 16

/* Per layout: the query blocks of TILE_Q rows and, for those walked
 * together, the union of their rows' runs. */
struct ranges_plan {
	long n_blocks;
	int64_t *run_ptr;               /* n_blocks + 1 offsets into runs */
	struct pat_range *runs;         /* empty for a row-by-row block */
	long long entries;              /* (row, key) scores computed, one head */
};

struct ranges_ws {
	struct ranges_plan *plan;       /* per layout */
	int n_layouts;
	struct tile_paths paths;        /* micro-kernels of the ISA in use */
	float *buf;                     /* per thread: tile or row, cursors, masks */
	size_t stride;                  /* floats per thread */
};

static int by_lo(const void *a, const void *b)
{
	long x = ((const struct pat_range *)a)->lo, y = ((const struct pat_range *)b)->lo;

	return (x > y) - (x < y);
}

/* Merges the n ranges at r (sorted in place) into disjoint runs at r;
 * returns how many. */
static int64_t merge_runs(struct pat_range *r, int64_t n)
{
	int64_t out = 0;

	qsort(r, (size_t)n, sizeof *r, by_lo);
	for (int64_t i = 0; i < n; i++) {
		if (out && r[i].lo <= r[out - 1].hi) {
			if (r[i].hi > r[out - 1].hi)
				r[out - 1].hi = r[i].hi;
		} else {
			r[out++] = r[i];
		}
	}
	return out;
}

static void plan_free(struct ranges_plan *pl)
{
	free(pl->run_ptr);
	free(pl->runs);
	pl->run_ptr = NULL;
	pl->runs = NULL;
}

/* The plan of layout l of g: blocks, which walk together, their runs. */
static int plan_build(struct ranges_plan *pl, const struct gset *g, int l)
{
	int64_t cap = 64, used = 0;

	pl->n_blocks = (g->n_q + TILE_Q - 1) / TILE_Q;
	pl->entries = 0;
	pl->run_ptr = malloc((size_t)(pl->n_blocks + 1) * sizeof *pl->run_ptr);
	pl->runs = malloc((size_t)cap * sizeof *pl->runs);
	if (!pl->run_ptr || !pl->runs)
		return -1;
	pl->run_ptr[0] = 0;
	for (long B = 0; B < pl->n_blocks; B++) {
		long r0 = B * TILE_Q, rows = g->n_q - r0 < TILE_Q ? g->n_q - r0 : TILE_Q;
		int64_t first = g->row_ptr[(int64_t)l * g->n_q + r0];
		int64_t n = g->row_ptr[(int64_t)l * g->n_q + r0 + rows] - first, runs;
		long long pairs = gset_row_keys(g->ranges + first, n), keys;
		if (used + n > cap) {
			struct pat_range *more;
			while (used + n > cap)
				cap *= 2;
			more = realloc(pl->runs, (size_t)cap * sizeof *more);
			if (!more)
				return -1;
			pl->runs = more;
		}
		memcpy(pl->runs + used, g->ranges + first, (size_t)n * sizeof *pl->runs);
		runs = merge_runs(pl->runs + used, n);
		keys = gset_row_keys(pl->runs + used, runs);
		if (pairs > 0 && keys * rows <= 2 * pairs && keys >= RUN_MIN * runs) {
			used += runs;
			pl->entries += keys * rows;
		} else {
			pl->entries += pairs;
		}
		pl->run_ptr[B + 1] = used;
	}
	return 0;
}

static void ranges_release(void *ws)
{
	struct ranges_ws *w = ws;

	if (!w)
		return;
	for (int l = 0; w->plan && l < w->n_layouts; l++)
		plan_free(&w->plan[l]);
	free(w->plan);
	free(w->buf);
	tile_paths_close(&w->paths);
	free(w);
}

/* Floats per thread: a tile (the row-wise buffers fit in it), then a
 * cursor and a mask per query of the tile. */
/* A tile and its per-row cursors and masks; the row path's buffer
 * (row_ws_floats) fits in the tile's. */
static size_t ranges_floats(const struct problem *p)
{
	return tile_floats(p->d, kern_dv(p)) + 4 * TILE_Q;
}

_Static_assert(sizeof(int32_t) <= sizeof(float), "key indices fit in float slots");

static int ranges_index(const struct problem *p, void *ws)
{
	struct ranges_ws *w = ws;
	int failed = 0;

#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
	for (int l = 0; l < w->n_layouts; l++) {
		plan_free(&w->plan[l]);
		failed |= plan_build(&w->plan[l], p->g, l) != 0;
	}
	return failed ? -1 : 0;
}

static int ranges_prepare(const struct problem *p, int threads, void **ws)
{
	struct ranges_ws *w = calloc(1, sizeof *w);

	if (!w)
		return -1;
	w->n_layouts = p->g->n_layouts;
	w->stride = ranges_floats(p);
	w->plan = calloc((size_t)w->n_layouts, sizeof *w->plan);
	w->buf = aligned_alloc(64, (size_t)threads * w->stride * sizeof(float));
	if (tile_paths_open(&w->paths, p) || !w->plan || !w->buf) {
		ranges_release(w);
		return -1;
	}
	for (int l = 0; l < w->n_layouts; l++)
		if (plan_build(&w->plan[l], p->g, l)) {
			ranges_release(w);
			return -1;
		}
	*ws = w;
	return 0;
}

/* Row r of head h of sequence b on its own: its runs' keys in chunks of
 * up to ROW_CHUNK (a chunk may span short runs). */
static void ranges_row(const struct problem *p, const struct ranges_ws *w,
		       float *buf, int b, int h, long r)
{
	int d = p->d, dv = kern_dv(p), cnt = 0, bf16 = p->dtype == DT_BF16;
	const float *q = p->q + kern_q_off(p, b, h) + (size_t)r * (size_t)d;
	size_t k_off = kern_kv_off(p, b, h), v_off = kern_v_off(p, b, h);
	float *qs = buf, *s = row_scores(buf, d, dv), *kw = row_widened(buf, d, dv);
	float scale = (float)(1.4426950408889634 * score_scale(p->score, d));
	const float **krows = (const float **)(s + ROW_CHUNK), **vrows = krows + ROW_CHUNK;
	int32_t *idx = (int32_t *)(vrows + ROW_CHUNK);
	struct row_state st = { -INFINITY, 0.0f, row_acc(buf, d) };
	struct row_mod rm = row_mod_of(p, h, p->n_kv - p->n_q + r);
	int64_t n;
	const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, b, h), r, &n);
	long long keys = gset_row_keys(rg, n);

	for (int c = 0; c < d; c++)
		qs[c] = q[c] * scale;
	for (int c = 0; c < dv; c++)
		st.acc[c] = 0.0f;
	for (int64_t t = 0; t < n; t++)
		for (long j = rg[t].lo; j < rg[t].hi; j++) {
			idx[cnt] = (int32_t)j;
			if (++cnt < ROW_CHUNK)
				continue;
			row_chunk(p, k_off, v_off, idx, cnt, krows, vrows, kw, kw + (size_t)ROW_CHUNK * d);
			row_fold(&st, qs, krows, vrows, idx, &rm, bf16, cnt, d, dv, w->paths.ops, s);
			cnt = 0;
		}
	if (cnt) {
		row_chunk(p, k_off, v_off, idx, cnt, krows, vrows, kw, kw + (size_t)ROW_CHUNK * d);
		row_fold(&st, qs, krows, vrows, idx, &rm, bf16, cnt, d, dv, w->paths.ops, s);
	}
	row_finish(&st, p->o + kern_o_off(p, b, h) + (size_t)r * (size_t)dv, dv);
	kern_tally_row(p, keys, keys);
}

/* Bits of keys [j0, j0 + nk) in the ranges rg[0, n) of one row, from its
 * cursor *at (advanced past ranges that end before j0: chunks come in
 * key order). */
static uint64_t chunk_mask(const struct pat_range *rg, int64_t n, int64_t *at,
			   long j0, int nk)
{
	uint64_t bits = 0;

	while (*at < n && rg[*at].hi <= j0)
		++*at;
	for (int64_t i = *at; i < n && rg[i].lo < j0 + nk; i++) {
		long a = rg[i].lo > j0 ? rg[i].lo - j0 : 0;
		long e = rg[i].hi < j0 + nk ? rg[i].hi - j0 : nk;
		bits |= (e - a >= 64 ? ~0ULL : (1ULL << (e - a)) - 1) << a;
	}
	return bits;
}

/* Query block B of head h of sequence b walking the union of its rows'
 * runs together, TILE_K keys at a time. */
static void ranges_block(const struct problem *p, const struct ranges_ws *w,
			 const struct ranges_plan *pl, float *buf, int b, int h, long B)
{
	int dv = kern_dv(p), l = gset_layout(p->g, b, h);
	long r0 = B * TILE_Q, rows = p->n_q - r0 < TILE_Q ? p->n_q - r0 : TILE_Q;
	size_t k_off = kern_kv_off(p, b, h), v_off = kern_v_off(p, b, h);
	struct tile tl = tile_start(buf, &w->paths, p, b, h, r0, rows);
	int64_t *cursor = (int64_t *)(buf + tile_floats(p->d, dv));
	uint64_t *mask = (uint64_t *)(cursor + TILE_Q);
	long long pairs = 0, scored = 0;

	for (int q = 0; q < TILE_Q; q++)
		cursor[q] = 0;
	for (int64_t u = pl->run_ptr[B]; u < pl->run_ptr[B + 1]; u++)
		for (long j0 = pl->runs[u].lo; j0 < pl->runs[u].hi; j0 += TILE_K) {
			int nk = (int)(pl->runs[u].hi - j0 < TILE_K ? pl->runs[u].hi - j0 : TILE_K);
			uint64_t all = nk == 64 ? ~0ULL : (1ULL << nk) - 1;
			int full = 1;
			for (long q = 0; q < TILE_Q; q++) {
				int64_t n;
				const struct pat_range *rg = q < rows ? gset_row(p->g, l, r0 + q, &n) : NULL;
				mask[q] = rg ? chunk_mask(rg, n, &cursor[q], j0, nk) : 0;
				full &= q >= rows || mask[q] == all;
				pairs += __builtin_popcountll(mask[q]);
			}
			long next = j0 + TILE_K < pl->runs[u].hi ? j0 + TILE_K :
				    u + 1 < pl->run_ptr[B + 1] ? pl->runs[u + 1].lo : -1;
			if (!full)
				tile_keys_mask(mask);
			tile_fold(&tl, tile_kv(p, 0, k_off, j0), tile_kv(p, 1, v_off, j0),
				  j0, nk, full ? NULL : mask, next < 0 ? NULL : tile_kv(p, 0, k_off, next));
			scored += rows * nk;
		}
	tile_finish(&tl, p->o + kern_o_off(p, b, h) + (size_t)r0 * (size_t)dv);
	kern_tally_add(p, kern_thread(), pairs, 2LL * (p->d + dv) * scored,
		       (p->dtype == DT_BF16 ? 2 : 4) * (p->d + dv) * (scored / rows));
}

/* Block B of head h: its shared runs walked together, or its rows alone. */
static void ranges_task(const struct problem *p, const void *ws, float *buf, int b, int h,
			long B)
{
	const struct ranges_ws *w = ws;
	const struct ranges_plan *pl = &w->plan[gset_layout(p->g, b, h)];
	long r1 = (B + 1) * TILE_Q < p->n_q ? (B + 1) * TILE_Q : p->n_q;

	if (pl->run_ptr[B + 1] > pl->run_ptr[B]) {
		ranges_block(p, w, pl, buf, b, h, B);
		return;
	}
	for (long r = r1 - 1; r >= B * TILE_Q; r--)
		ranges_row(p, w, buf, b, h, r);
}

static void ranges_run(const struct problem *p, void *ws)
{
	const struct ranges_ws *w = ws;

	tile_paths_begin(&w->paths);
	tile_run_tasks(p, w, w->buf, w->stride, w->plan[0].n_blocks, ranges_task);
}

/* FLOPs: 2 d + 2 dv per scored (row, key): the union box of a block walked
 * together, the pairs of a row walked alone. */
static void ranges_cost(const struct problem *p, int threads, struct kern_cost *c)
{
	double entries = 0, runs = 0;

	for (int l = 0; l < p->g->n_layouts; l++) {
		struct ranges_plan pl;
		if (plan_build(&pl, p->g, l) == 0) {
			entries += (double)pl.entries * p->heads / p->g->n_layouts;
			runs += (double)pl.run_ptr[pl.n_blocks];
		}
		plan_free(&pl);
	}
	c->flops_exec = kern_pair_flops(p) * entries * p->batch;
	c->score_bytes = (double)TILE_K * TILE_Q * sizeof(float);
	c->workspace_bytes = runs * sizeof(struct pat_range) +
			     (double)p->g->n_layouts * 8.0 * (double)((p->n_q + TILE_Q - 1) / TILE_Q + 1) +
			     (double)threads * (double)ranges_floats(p) * sizeof(float) +
			     tile_paths_bytes(p);
}

const struct kern_desc kern_ranges = {
	.name = "ranges",                       /* contiguous runs of keys */
	.summary = "contiguous runs: 64-row blocks that share their runs walk them together, others row by row",
	.unavailable = NULL,                    /* portable path everywhere */
	.prepare = ranges_prepare,              /* which blocks walk together */
	.index = ranges_index,                  /* plans of a selected G */
	.run = ranges_run,                      /* (head, query block) tasks */
	.release = ranges_release,
	.cost = ranges_cost,                    /* 2 d + 2 dv per scored entry */
	.simd = 1,                              /* tiles, exp2, dots per ISA */
	.bf16_simd = 1,                         /* bf16 tiles of the blocks (rows widen) */
};
