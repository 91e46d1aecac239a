/* tiled.c - flash-style block-sparse attention: tiles of 64 queries x 64
 * keys over the gset's block view. Empty tiles are skipped, full tiles run
 * without a mask, partial tiles apply per-query key bitmasks made in
 * prepare. Each query tile is packed once, transposed and pre-scaled by
 * log2(e)/sqrt(d), so the running max, exp2 and row sums are lane-wise;
 * K and V are read in place (GQA without copies). The per-ISA
 * micro-kernels live in isa/simd_*.c (isa/bf16*.c for bf16). On the
 * dense pattern this is FlashAttention on the CPU. A vertical-slash G in
 * its compact form goes the path of vslash.c instead: its columns packed,
 * its diagonals as the key tiles they cross, no block view made. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tile.h"
#include "vslash.h"

struct tiled_ws {
	struct gset_blocks *bv;         /* block view per layout */
	uint64_t **masks;               /* per layout: TILE_K key masks per partial block */
	int64_t **mask_at;              /* per layout and block: mask index, -1 full */
	int n_layouts;
	long n_brow;                    /* query tiles */
	struct vs_view *vs;             /* per layout: the compact path's views (vslash.h), or NULL */
	struct tile_paths paths;        /* micro-kernels of the ISA in use */
	float *buf;                     /* per-thread tiles */
	size_t stride;                  /* floats per thread */
};

/* Sets the row bits of rows [r0, r0 + TILE_Q) in the masks of block row
 * R's partial blocks, one pass over each row's ranges; slot[c] is the mask
 * of block column c (-1: full or absent) and is left as it was found. */
static void row_masks(const struct gset *g, int l, const struct gset_blocks *bv, long R,
		      const int64_t *mask_at, int64_t *slot, uint64_t *masks)
{
	for (int64_t k = bv->row_ptr[R]; k < bv->row_ptr[R + 1]; k++)
		slot[bv->col[k]] = mask_at[k];
	for (long q = 0; q < TILE_Q && R * TILE_Q + q < g->n_q; q++) {
		int64_t n;
		const struct pat_range *rg = gset_row(g, l, R * TILE_Q + q, &n);
		for (int64_t i = 0; i < n; i++)
			for (long c = rg[i].lo / TILE_K; c <= (rg[i].hi - 1) / TILE_K; c++) {
				long a = rg[i].lo > c * TILE_K ? rg[i].lo - c * TILE_K : 0;
				long b = rg[i].hi < (c + 1) * TILE_K ? rg[i].hi - c * TILE_K : TILE_K;
				if (slot[c] >= 0)
					masks[slot[c] * TILE_Q + q] |=
						(b - a >= 64 ? ~0ULL : ((1ULL << (b - a)) - 1)) << a;
			}
	}
	for (int64_t k = bv->row_ptr[R]; k < bv->row_ptr[R + 1]; k++)
		slot[bv->col[k]] = -1;
}

/* Block view and partial-tile masks of layout l. */
static int build_layout(struct tiled_ws *w, const struct gset *g, int l)
{
	struct gset_blocks *bv = &w->bv[l];
	int64_t blocks, at = 0, *slot;

	if (gset_block_view(g, l, TILE_Q, TILE_K, bv))
		return -1;
	blocks = bv->row_ptr[bv->n_brow];
	w->mask_at[l] = malloc((size_t)(blocks ? blocks : 1) * sizeof **w->mask_at);
	w->masks[l] = calloc((size_t)(bv->n_partial ? bv->n_partial : 1) * TILE_Q,
			     sizeof **w->masks);
	slot = malloc((size_t)bv->n_bcol * sizeof *slot);
	if (!w->mask_at[l] || !w->masks[l] || !slot) {
		free(slot);
		return -1;
	}
	for (long c = 0; c < bv->n_bcol; c++)
		slot[c] = -1;
	for (int64_t k = 0; k < blocks; k++)
		w->mask_at[l][k] = bv->full[k] ? -1 : at++;
	for (long R = 0; R < bv->n_brow; R++)
		row_masks(g, l, bv, R, w->mask_at[l], slot, w->masks[l]);
	for (int64_t m = 0; m < bv->n_partial; m++)
		tile_keys_mask(w->masks[l] + m * TILE_Q);
	free(slot);
	return 0;
}

static void tiled_release(void *ws)
{
	struct tiled_ws *w = ws;

	if (!w)
		return;
	for (int l = 0; l < w->n_layouts; l++) {
		if (w->vs)
			vs_view_free(&w->vs[l]);
		if (w->bv)
			gset_blocks_free(&w->bv[l]);
		if (w->masks)
			free(w->masks[l]);
		if (w->mask_at)
			free(w->mask_at[l]);
	}
	free(w->vs);
	free(w->bv);
	free(w->masks);
	free(w->mask_at);
	free(w->buf);
	tile_paths_close(&w->paths);
	free(w);
}

/* Layout l's views: the compact path's, or the block view and masks. */
static int layout_views(struct tiled_ws *w, const struct problem *p, int l)
{
	return w->vs ? vs_view_build(&w->vs[l], p, l) : build_layout(w, p->g, l);
}

/* Frees layout l's views. */
static void free_layout(struct tiled_ws *w, int l)
{
	gset_blocks_free(&w->bv[l]);
	free(w->masks[l]);
	free(w->mask_at[l]);
	w->masks[l] = NULL;
	w->mask_at[l] = NULL;
}

static int tiled_index(const struct problem *p, void *ws)
{
	struct tiled_ws *w = ws;
	int failed = 0;

#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
	for (int l = 0; l < w->n_layouts; l++) {
		if (!w->vs)
			free_layout(w, l);
		failed |= layout_views(w, p, l) != 0;
	}
	return failed ? -1 : 0;
}

static int tiled_prepare(const struct problem *p, int threads, void **ws)
{
	struct tiled_ws *w = calloc(1, sizeof *w);

	if (!w)
		return -1;
	w->n_layouts = p->g->n_layouts;
	w->bv = calloc((size_t)w->n_layouts, sizeof *w->bv);
	w->masks = calloc((size_t)w->n_layouts, sizeof *w->masks);
	w->mask_at = calloc((size_t)w->n_layouts, sizeof *w->mask_at);
	w->n_brow = (p->n_q + TILE_Q - 1) / TILE_Q;
	if (vs_usable(p))
		w->vs = calloc((size_t)w->n_layouts, sizeof *w->vs);
	w->stride = w->vs ? vs_floats(p) : tile_floats(p->d, kern_dv(p));
	w->buf = aligned_alloc(64, (size_t)threads * w->stride * sizeof(float));
	if (tile_paths_open(&w->paths, p) || !w->bv || !w->masks || !w->mask_at || !w->buf ||
	    (vs_usable(p) && !w->vs)) {
		tiled_release(w);
		return -1;
	}
	for (int l = 0; l < w->n_layouts; l++)
		if (layout_views(w, p, l)) {
			tiled_release(w);
			return -1;
		}
	*ws = w;
	return 0;
}

/* One query tile R of head h of sequence b over the block view. */
static void block_task(const struct tiled_ws *w, const struct problem *p, float *buf, int b,
		       int h, long R)
{
	int l = gset_layout(p->g, b, h), width = p->d + kern_dv(p);
	const struct gset_blocks *bv = &w->bv[l];
	size_t k_off = kern_kv_off(p, b, h), v_off = kern_v_off(p, b, h);
	long r0 = R * TILE_Q, rows = p->n_q - r0 < TILE_Q ? p->n_q - r0 : TILE_Q;
	struct tile tl = tile_start(buf, &w->paths, p, b, h, r0, rows);
	long long pairs = 0, scored = 0, kv = 0;

	for (int64_t t = bv->row_ptr[R]; t < bv->row_ptr[R + 1]; t++) {
		long k0 = (long)bv->col[t] * TILE_K;
		int nk = (int)(p->n_kv - k0 < TILE_K ? p->n_kv - k0 : TILE_K);
		const uint64_t *mask = w->mask_at[l][t] >= 0 ?
				       w->masks[l] + w->mask_at[l][t] * TILE_Q : NULL;
		tile_fold(&tl, tile_kv(p, 0, k_off, k0), tile_kv(p, 1, v_off, k0),
			  k0, nk, mask, t + 1 < bv->row_ptr[R + 1] ?
			  tile_kv(p, 0, k_off, (long)bv->col[t + 1] * TILE_K) : NULL);
		for (int j = 0; mask && j < nk; j++)
			pairs += __builtin_popcountll(mask[j]);
		pairs += mask ? 0 : rows * nk;
		scored += rows * nk;
		kv += (long long)nk * width * (p->dtype == DT_BF16 ? 2 : 4);
	}
	tile_finish(&tl, p->o + kern_o_off(p, b, h) + (size_t)r0 * (size_t)kern_dv(p));
	if (p->tally) {
		struct kern_tally *tally = &p->tally[kern_thread()];
		long long tiles = bv->row_ptr[R + 1] - bv->row_ptr[R], partial = 0;
		for (int64_t t = bv->row_ptr[R]; t < bv->row_ptr[R + 1]; t++)
			partial += w->mask_at[l][t] >= 0;
		kern_tally_add(p, kern_thread(), pairs, 2LL * width * scored, kv);
		tally->tiles_full += tiles - partial;
		tally->tiles_partial += partial;
		tally->tiles_skipped += bv->n_bcol - tiles;
	}
}

/* One query tile: the compact path's, or the block view's. */
static void tiled_task(const struct problem *p, const void *ws, float *buf, int b, int h,
		       long R)
{
	const struct tiled_ws *w = ws;

	if (w->vs)
		vs_task(p, &w->vs[gset_layout(p->g, b, h)], &w->paths, buf, b, h, R);
	else
		block_task(w, p, buf, b, h, R);
}

static void tiled_run(const struct problem *p, void *ws)
{
	const struct tiled_ws *w = ws;

	tile_paths_begin(&w->paths);
	tile_run_tasks(p, w, w->buf, w->stride, w->n_brow, tiled_task);
}

/* FLOPs: 2 d + 2 dv per computed (real row, key) of every stored tile. */
static void tiled_cost(const struct problem *p, int threads, struct kern_cost *c)
{
	double views = 0, entries = 0;

	for (int l = 0; vs_usable(p) && l < p->g->n_layouts; l++) {
		double e, bytes;
		vs_cost(p, l, &e, &bytes);
		entries += e;
		views += bytes;
	}
	for (int l = 0; !vs_usable(p) && l < p->g->n_layouts; l++) {
		struct gset_blocks bv;
		if (gset_block_view(p->g, l, TILE_Q, TILE_K, &bv))
			break;
		views += (double)(bv.row_ptr[bv.n_brow] * (8 + 5) + bv.n_partial * TILE_Q * 8);
		gset_blocks_free(&bv);
	}
	if (vs_usable(p))       /* entries summed over the layouts, scaled to every head */
		c->flops_exec = kern_pair_flops(p) * entries * p->heads * p->batch / p->g->n_layouts;
	else
		c->flops_exec = kern_pair_flops(p) * gset_block_entries(p->g, TILE_Q, TILE_K, p->heads) *
				p->batch;
	c->score_bytes = (double)TILE_K * TILE_Q * sizeof(float);
	c->workspace_bytes = views + (double)threads * (double)(vs_usable(p) ? vs_floats(p) :
								 tile_floats(p->d, kern_dv(p))) *
			     sizeof(float) + tile_paths_bytes(p);
}

const struct kern_desc kern_tiled = {
	.name = "tiled",                        /* flash-style, block-sparse */
	.summary = "64x64 tiles over the block view (a vertical-slash G: its columns and diagonals), online softmax, SIMD micro-kernels",
	.unavailable = NULL,                    /* portable path everywhere */
	.prepare = tiled_prepare,               /* block views, tile masks */
	.index = tiled_index,                  /* views of a selected G */
	.run = tiled_run,                       /* (head, query tile) tasks */
	.release = tiled_release,
	.cost = tiled_cost,                     /* 2 d + 2 dv per computed tile entry */
	.reads_compact = vs_usable,             /* vertical-slash columns and offsets */
	.simd = 1,                              /* exp2 or tiles per ISA */
	.bf16_simd = 1,                         /* bf16 tiles: AMX, VDPBF16PS, C */
};
