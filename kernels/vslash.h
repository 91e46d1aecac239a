/* vslash.h - the tiled kernel's path over a vertical-slash G in its
 * compact form (gset_vslash), as MInference's kernel reads it: per query
 * tile, the kept columns it can see as one list gathered into packed K
 * and V rows, and the kept diagonals as the key tiles they cross, each
 * masked by row from the offsets' bitmap. No per-row ranges and no block
 * view are made: the views come from the columns and offsets alone. */
#ifndef SABENCH_VSLASH_H
#define SABENCH_VSLASH_H

#include <stdint.h>

#include "tile.h"

/* One layout's views. */
struct vs_view {
	float *kc, *vc;                 /* the kept columns' K rows (d) and V rows (dv) */
	int64_t *tile_ptr;              /* per query tile: offsets into tiles */
	int32_t *tiles;                 /* key tiles the kept diagonals cross */
	uint64_t *rev;                  /* bit n_kv - 1 - o: offset o kept (zeros past) */
	uint64_t *colbits;              /* bit c: column c kept */
	long n_tiles_cap;               /* room in tiles */
	long cols_cap;                  /* room in kc and vc, in columns */
};

/* 1 when the tiled kernel runs p over its compact form: a G that has one,
 * fp32 (the bf16 paths read K and V packed by key), and a score function
 * without a bias by offset (the gathered columns are not contiguous). */
int vs_usable(const struct problem *p);

/* Builds (or rebuilds, reusing its arrays) the views of layout l of
 * p->g: 0, or -1 when out of memory. */
int vs_view_build(struct vs_view *v, const struct problem *p, int l);
void vs_view_free(struct vs_view *v);

/* Crossed tiles with fewer pairs than this go row by row: at n = 16384
 * (head_dim 128, 2 threads) gathered rows ran 65 GFLOP/s and tiles about
 * 200, so a tile of 64 x 64 costs what about 1300 gathered pairs do. */
#define VS_ROW_PAIRS 1280

/* Floats of vs_task's per-thread buffer for p. */
size_t vs_floats(const struct problem *p);

/* Query tile R of head h of sequence b over view v; buf: vs_floats. */
void vs_task(const struct problem *p, const struct vs_view *v, const struct tile_paths *tp,
	     float *buf, int b, int h, long R);

/* Entries (row, key) the path computes for layout l (as vs_task counts
 * them), and the bytes of its views: the cost model's. */
void vs_cost(const struct problem *p, int l, double *entries, double *bytes);

#endif
