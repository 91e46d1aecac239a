/* vslash.c - the tiled kernel over a compact vertical-slash G (vslash.h).
 * A query tile of rows [r0, r1) at positions [P0, P1]:
 *   - the kept columns c <= P1, packed K and V rows in column order, in
 *     chunks of TILE_K through the tile micro-kernels; a chunk is full
 *     when its last column is <= P0, else each column masked to the rows
 *     at or past it;
 *   - the key tiles a kept offset o reaches (keys P0 - o .. P1 - o), each
 *     masked by row: row i keeps key j when i - j is a kept offset and j
 *     is not a kept column (the columns went above), one 64-bit window of
 *     the reversed offset bitmap a row.
 * A crossed tile holding few pairs (a diagonal or a few: VS_ROW_PAIRS)
 * is not computed as a tile: its pairs go row by row, gathered (rowwise.h)
 * into a row state merged into the tile's lane at the end. So every pair
 * of G is computed once, and the work is the columns' rows, the crossed
 * tiles dense enough, and the other diagonals' pairs: MInference's column
 * index and block offsets, without computing a block for one diagonal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rowwise.h"
#include "tile.h"
#include "vslash.h"

int vs_usable(const struct problem *p)
{
	return p->g->vslash && p->g->n_vslash == p->g->n_layouts && p->dtype == DT_F32 &&
	       !score_bias2_row(p->score, 0);
}

/* The K/V offsets of the first (sequence, head) reading layout l. */
static void layout_head(const struct problem *p, int l, size_t *k_off, size_t *v_off)
{
	for (int b = 0; b < p->batch; b++)
		for (int h = 0; h < p->heads; h++)
			if (gset_layout(p->g, b, h) == l) {
				*k_off = kern_kv_off(p, b, h);
				*v_off = kern_v_off(p, b, h);
				return;
			}
	*k_off = *v_off = 0;
}

static long bitmap_words(long n)
{
	return (n + 63) / 64 + 2;       /* two words past: a window's reach */
}

/* The 64 bits of x from bit `at` on (x holds at least at / 64 + 2 words). */
static inline uint64_t window64(const uint64_t *x, long at)
{
	long w = at >> 6;
	int s = (int)(at & 63);

	return s ? x[w] >> s | x[w + 1] << (64 - s) : x[w];
}

/* Positions of query tile R's first and last real rows. */
static void tile_rows(const struct problem *p, long R, long *P0, long *P1, long *rows)
{
	long r0 = R * TILE_Q;

	*rows = p->n_q - r0 < TILE_Q ? p->n_q - r0 : TILE_Q;
	*P0 = p->n_kv - p->n_q + r0;
	*P1 = *P0 + *rows - 1;
}

/* Kept offsets in [lo, hi] from their prefix counts (cnt[x]: offsets < x). */
static long offsets_in(const int32_t *cnt, long n, long lo, long hi)
{
	lo = lo < 0 ? 0 : lo;
	hi = hi > n - 1 ? n - 1 : hi;
	return hi < lo ? 0 : cnt[hi + 1] - cnt[lo];
}

/* The key tiles each query tile's diagonals cross into v; 0 or -1. */
static int crossed_tiles(struct vs_view *v, const struct problem *p, const struct gset_vslash *vs)
{
	long n = p->n_kv, blocks = (p->n_q + TILE_Q - 1) / TILE_Q, used = 0;
	int32_t *cnt = calloc((size_t)n + 1, sizeof *cnt);

	if (!cnt)
		return -1;
	for (long i = 0; i < vs->n_offs; i++)
		cnt[vs->offs[i] + 1]++;
	for (long x = 0; x < n; x++)
		cnt[x + 1] += cnt[x];
	v->tile_ptr[0] = 0;
	for (long R = 0; R < blocks; R++) {
		long P0, P1, rows;
		tile_rows(p, R, &P0, &P1, &rows);
		for (long c = 0; c * TILE_K <= P1; c++) {
			/* offsets o with a row's key P - o in tile c */
			if (!offsets_in(cnt, n, P0 - c * TILE_K - (TILE_K - 1), P1 - c * TILE_K))
				continue;
			if (used == v->n_tiles_cap) {
				long cap = v->n_tiles_cap ? 2 * v->n_tiles_cap : 1024;
				int32_t *more = realloc(v->tiles, (size_t)cap * sizeof *more);
				if (!more) {
					free(cnt);
					return -1;
				}
				v->tiles = more;
				v->n_tiles_cap = cap;
			}
			v->tiles[used++] = (int32_t)c;
		}
		v->tile_ptr[R + 1] = used;
	}
	free(cnt);
	return 0;
}

int vs_view_build(struct vs_view *v, const struct problem *p, int l)
{
	const struct gset_vslash *vs = &p->g->vslash[l];
	long n = p->n_kv, words = bitmap_words(n + TILE_K), blocks = (p->n_q + TILE_Q - 1) / TILE_Q;
	int d = p->d, dv = kern_dv(p);
	size_t k_off, v_off;
	long cols = vs->n_cols ? vs->n_cols : 1;

	if (cols > v->cols_cap) {       /* reused between selections: no fresh pages a run */
		free(v->kc);
		free(v->vc);
		v->kc = malloc((size_t)cols * (size_t)d * sizeof *v->kc);
		v->vc = malloc((size_t)cols * (size_t)dv * sizeof *v->vc);
		v->cols_cap = v->kc && v->vc ? cols : 0;
	}
	if (!v->tile_ptr)
		v->tile_ptr = malloc((size_t)(blocks + 1) * sizeof *v->tile_ptr);
	if (!v->rev)
		v->rev = malloc((size_t)words * sizeof *v->rev);
	if (!v->colbits)
		v->colbits = malloc((size_t)words * sizeof *v->colbits);
	if (!v->kc || !v->vc || !v->tile_ptr || !v->rev || !v->colbits)
		return -1;
	memset(v->rev, 0, (size_t)words * sizeof *v->rev);
	memset(v->colbits, 0, (size_t)words * sizeof *v->colbits);
	for (long i = 0; i < vs->n_offs; i++) {
		long x = n - 1 - vs->offs[i];
		v->rev[x >> 6] |= 1ULL << (x & 63);
	}
	layout_head(p, l, &k_off, &v_off);
	for (long i = 0; i < vs->n_cols; i++) {
		long c = vs->cols[i];
		v->colbits[c >> 6] |= 1ULL << (c & 63);
		memcpy(v->kc + (size_t)i * d, p->k + k_off + (size_t)c * d, (size_t)d * sizeof *v->kc);
		memcpy(v->vc + (size_t)i * dv, p->v + v_off + (size_t)c * dv, (size_t)dv * sizeof *v->vc);
	}
	return crossed_tiles(v, p, vs);
}

void vs_view_free(struct vs_view *v)
{
	free(v->kc);
	free(v->vc);
	free(v->tile_ptr);
	free(v->tiles);
	free(v->rev);
	free(v->colbits);
	memset(v, 0, sizeof *v);
}

/* Columns <= P among the sorted cols[0, n). */
static long cols_upto(const int32_t *cols, long n, long P)
{
	long lo = 0, hi = n;

	while (lo < hi) {
		long mid = (lo + hi) / 2;
		if (cols[mid] <= P)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Per key of a column chunk, the rows (lanes) at or past its column. */
static int column_masks(const int32_t *cols, int nk, long P0, long rows, uint64_t *keep)
{
	uint64_t real = rows == 64 ? ~0ULL : (1ULL << rows) - 1;

	if (cols[nk - 1] <= P0)
		return 0;               /* every row sees every column: no mask */
	for (int i = 0; i < nk; i++) {
		long from = cols[i] - P0;
		keep[i] = from <= 0 ? real : real & ~((1ULL << from) - 1);
	}
	return 1;
}

/* Row masks of key tile k0 (nk keys) into rmask: the kept diagonals'
 * keys that are not kept columns; returns their pairs, and *full when
 * every real row keeps every key. */
static long diagonal_masks(const struct vs_view *v, long n_kv, long k0, int nk, long P0, long rows,
			   uint64_t *rmask, int *full)
{
	uint64_t keys = nk == 64 ? ~0ULL : (1ULL << nk) - 1, cols = v->colbits[k0 >> 6], all = keys;
	long pairs = 0;

	for (long q = 0; q < TILE_Q; q++) {
		/* bit j of the window: offset P - k0 - j, at n_kv - 1 - P + k0 + j */
		rmask[q] = q < rows ? window64(v->rev, n_kv - 1 - (P0 + q) + k0) & ~cols & keys : 0;
		pairs += __builtin_popcountll(rmask[q]);
		all &= q < rows ? rmask[q] : keys;
	}
	*full = all == keys;
	return pairs;
}

/* 1 when a crossed tile of this many pairs goes row by row: a few
 * diagonals (under VS_ROW_PAIRS, about 20 of 64) cost less as gathered
 * rows than as a 64 x 64 tile. */
static int sparse_tile(long pairs)
{
	return pairs < VS_ROW_PAIRS;
}

/* The per-thread scratch of vs_task past the tile: key masks, the row
 * masks and first keys of the tiles that go row by row, a row's buffers. */
struct vs_scratch {
	uint64_t *keep;                 /* TILE_Q key masks */
	uint64_t *rmask;                /* TILE_Q row masks per row-by-row tile */
	int32_t *k0;                    /* their first keys */
	float *row;                     /* rowwise.h's buffers */
};

static long max_tiles(const struct problem *p)
{
	return (p->n_kv + TILE_K - 1) / TILE_K + 1;
}

/* Floats of the masks after the tile, 64-byte aligned (the row buffers
 * that follow hold pointers). */
static size_t masks_floats(const struct problem *p)
{
	return (2 * TILE_Q + (size_t)max_tiles(p) * (2 * TILE_Q + 1) + 15) / 16 * 16;
}

size_t vs_floats(const struct problem *p)
{
	return tile_floats(p->d, kern_dv(p)) + masks_floats(p) + row_head_floats(p->d, kern_dv(p));
}

static struct vs_scratch scratch_of(const struct problem *p, float *buf)
{
	struct vs_scratch sc;
	float *at = buf + tile_floats(p->d, kern_dv(p));

	sc.keep = (uint64_t *)at;
	sc.rmask = sc.keep + TILE_Q;
	sc.k0 = (int32_t *)(sc.rmask + (size_t)max_tiles(p) * TILE_Q);
	sc.row = at + masks_floats(p);
	return sc;
}

/* Folds the keys of query row q (lane q) in the row-by-row tiles into a
 * row state, then merges it into the lane's: the tile's running max, sum
 * and output rescaled to the larger max (as flash-decoding merges). */
static void row_keys(const struct problem *p, struct tile *tl, const struct vs_scratch *sc,
		     long n_sparse, int b, int h, long r0, long q)
{
	int d = p->d, dv = kern_dv(p);
	float *qs = sc->row, *s = row_scores(sc->row, d, dv);
	const float **krows = (const float **)(s + ROW_CHUNK), **vrows = krows + ROW_CHUNK;
	int32_t *idx = (int32_t *)(vrows + ROW_CHUNK);
	const float *qr = p->q + kern_q_off(p, b, h) + (size_t)(r0 + q) * d;
	size_t k_off = kern_kv_off(p, b, h), v_off = kern_v_off(p, b, h);
	struct row_state st = { -INFINITY, 0.0f, row_acc(sc->row, d) };
	struct row_mod rm = row_mod_of(p, h, p->n_kv - p->n_q + r0 + q);
	float m, a, c;
	int cnt = 0;

	for (int x = 0; x < d; x++)
		qs[x] = qr[x] * tl->scale;
	for (int x = 0; x < dv; x++)
		st.acc[x] = 0.0f;
	for (long i = 0; i <= n_sparse; i++) {
		uint64_t bits = i < n_sparse ? sc->rmask[i * TILE_Q + q] : 0;
		int last = i == n_sparse;
		while (bits || (last && cnt)) {
			if (bits) {
				idx[cnt] = sc->k0[i] + __builtin_ctzll(bits);
				krows[cnt] = p->k + k_off + (size_t)idx[cnt] * d;
				vrows[cnt] = p->v + v_off + (size_t)idx[cnt] * dv;
				cnt++;
				bits &= bits - 1;
			}
			if (cnt == ROW_CHUNK || (last && cnt)) {       /* a chunk full, or the row's end */
				row_fold(&st, qs, krows, vrows, idx, &rm, 0, cnt, d, dv, tl->ops, s);
				cnt = 0;
			}
		}
	}
	if (st.m == -INFINITY)
		return;                 /* no key of its own */
	m = tl->m[q] > st.m ? tl->m[q] : st.m;
	a = exp2f(tl->m[q] - m);
	c = exp2f(st.m - m);
	for (int x = 0; x < dv; x++)
		tl->ot[(size_t)x * TILE_Q + q] = tl->ot[(size_t)x * TILE_Q + q] * a + st.acc[x] * c;
	tl->l[q] = tl->l[q] * a + st.l * c;
	tl->m[q] = m;
}

void vs_task(const struct problem *p, const struct vs_view *v, const struct tile_paths *tp,
	     float *buf, int b, int h, long R)
{
	const struct gset_vslash *vs = &p->g->vslash[gset_layout(p->g, b, h)];
	int d = p->d, dv = kern_dv(p);
	long P0, P1, rows, ncol, n_sparse = 0;
	size_t k_off = kern_kv_off(p, b, h), v_off = kern_v_off(p, b, h);
	struct vs_scratch sc = scratch_of(p, buf);
	struct tile tl;
	long long pairs = 0, scored = 0, full = 0, partial = 0;

	tile_rows(p, R, &P0, &P1, &rows);
	tl = tile_start(buf, tp, p, b, h, R * TILE_Q, rows);
	ncol = cols_upto(vs->cols, vs->n_cols, P1);
	for (long i0 = 0; i0 < ncol; i0 += TILE_K) {
		int nk = (int)(ncol - i0 < TILE_K ? ncol - i0 : TILE_K);
		int masked = column_masks(vs->cols + i0, nk, P0, rows, sc.keep);
		tile_fold(&tl, v->kc + (size_t)i0 * d, v->vc + (size_t)i0 * dv, 0, nk,
			  masked ? sc.keep : NULL, i0 + TILE_K < ncol ? v->kc + (size_t)(i0 + TILE_K) * d : NULL);
		for (int j = 0; j < nk; j++)
			pairs += masked ? __builtin_popcountll(sc.keep[j]) : rows;
		scored += rows * nk;
	}
	for (int64_t t = v->tile_ptr[R]; t < v->tile_ptr[R + 1]; t++) {
		long k0 = (long)v->tiles[t] * TILE_K;
		int nk = (int)(p->n_kv - k0 < TILE_K ? p->n_kv - k0 : TILE_K), is_full;
		uint64_t *rmask = sc.rmask + (size_t)n_sparse * TILE_Q;
		long tile_pairs = diagonal_masks(v, p->n_kv, k0, nk, P0, rows, rmask, &is_full);
		if (!tile_pairs)
			continue;
		pairs += tile_pairs;
		if (sparse_tile(tile_pairs)) {  /* kept for the rows below */
			sc.k0[n_sparse++] = (int32_t)k0;
			scored += tile_pairs;
			continue;
		}
		if (!is_full) {
			memcpy(sc.keep, rmask, TILE_Q * sizeof *sc.keep);
			tile_keys_mask(sc.keep);
		}
		tile_fold(&tl, tile_kv(p, 0, k_off, k0), tile_kv(p, 1, v_off, k0), k0, nk,
			  is_full ? NULL : sc.keep, t + 1 < v->tile_ptr[R + 1] ?
			  tile_kv(p, 0, k_off, (long)v->tiles[t + 1] * TILE_K) : NULL);
		scored += rows * nk;
		full += is_full;
		partial += !is_full;
	}
	for (long q = 0; n_sparse && q < rows; q++)
		row_keys(p, &tl, &sc, n_sparse, b, h, R * TILE_Q, q);
	tile_finish(&tl, p->o + kern_o_off(p, b, h) + (size_t)R * TILE_Q * (size_t)dv);
	if (p->tally) {
		struct kern_tally *tally = &p->tally[kern_thread()];
		kern_tally_add(p, kern_thread(), pairs, 2LL * (d + dv) * scored,
			       4LL * (d + dv) * (ncol + (v->tile_ptr[R + 1] - v->tile_ptr[R]) * TILE_K));
		tally->tiles_full += full;
		tally->tiles_partial += partial;
		tally->tiles_skipped += (p->n_kv + TILE_K - 1) / TILE_K - full - partial;
	}
}

void vs_cost(const struct problem *p, int l, double *entries, double *bytes)
{
	const struct gset_vslash *vs = &p->g->vslash[l];
	long blocks = (p->n_q + TILE_Q - 1) / TILE_Q;
	struct vs_view v = { 0 };
	uint64_t rmask[TILE_Q];

	*entries = 0;
	*bytes = 0;
	if (vs_view_build(&v, p, l)) {
		vs_view_free(&v);
		return;
	}
	for (long R = 0; R < blocks; R++) {
		long P0, P1, rows;
		tile_rows(p, R, &P0, &P1, &rows);
		*entries += (double)rows * (double)cols_upto(vs->cols, vs->n_cols, P1);
		for (int64_t t = v.tile_ptr[R]; t < v.tile_ptr[R + 1]; t++) {
			long k0 = (long)v.tiles[t] * TILE_K;
			int nk = (int)(p->n_kv - k0 < TILE_K ? p->n_kv - k0 : TILE_K);
			int is_full;
			long pairs = diagonal_masks(&v, p->n_kv, k0, nk, P0, rows, rmask, &is_full);
			if (pairs)
				*entries += sparse_tile(pairs) ? (double)pairs : (double)rows * nk;
		}
	}
	*bytes = (double)vs->n_cols * (p->d + kern_dv(p)) * sizeof(float) +
		 (double)(blocks + 1) * 8.0 + (double)v.tile_ptr[blocks] * 4.0 +
		 2.0 * (double)bitmap_words(p->n_kv + TILE_K) * 8.0;
	vs_view_free(&v);
}
