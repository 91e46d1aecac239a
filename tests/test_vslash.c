/* test_vslash.c - vertical_slash's compact form (gset_vslash: kept columns
 * and offsets) and the tiled kernel's path over it: the compact form says
 * what the rows say; the path agrees with the oracle on every ISA path and
 * thread count on hand-built forms (columns on the diagonals, n off the
 * tile, an empty row) and on selected ones (GQA-shared too); it reads the
 * compact form alone; its work is the columns' rows plus the key tiles
 * the diagonals cross, counted by hand; a timed selection for it writes
 * the compact form only. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../harness/run/runner.h"
#include "../kernels/isa/simd.h"
#include "../kernels/vslash.h"
#include "../select/select.h"
#include "helpers.h"

/* A causal G of n_q rows (the last of n keys) from columns and offsets,
 * its rows expanded from them (gset_vslash_row), its compact form kept. */
static void vs_gset(struct gset *g, long n_q, long n, int layouts, const int32_t *cols, long nc,
		    const int32_t *offs, long no)
{
	struct pat_ranges *rows = calloc((size_t)layouts, sizeof *rows);
	int64_t **ptr = calloc((size_t)layouts, sizeof *ptr);

	memset(g, 0, sizeof *g);
	cr_assert_eq(gset_vslash_alloc(g, layouts, n), 0);
	for (int l = 0; l < layouts; l++) {
		struct gset_vslash *vs = &g->vslash[l];
		memcpy(vs->cols, cols, (size_t)nc * sizeof *cols);
		memcpy(vs->offs, offs, (size_t)no * sizeof *offs);
		vs->n_cols = nc;
		vs->n_offs = no;
		rows[l].r = malloc((size_t)n * (size_t)(nc + no + 1) * sizeof *rows[l].r);
		ptr[l] = malloc(((size_t)n_q + 1) * sizeof *ptr[l]);
		ptr[l][0] = 0;
		for (long r = 0; r < n_q; r++) {
			rows[l].n += (size_t)gset_vslash_row(vs, n - n_q + r, rows[l].r + rows[l].n);
			ptr[l][r + 1] = (int64_t)rows[l].n;
		}
	}
	cr_assert_eq(gset_assemble(g, n_q, n, 1, layouts, layouts > 1 ? layouts : 0, 1, rows, ptr), 0);
	for (int l = 0; l < layouts; l++) {
		free(rows[l].r);
		free(ptr[l]);
	}
	free(rows);
	free(ptr);
}

/* A fixture whose G is the compact form given (layouts: per head), for
 * the last n_q of n tokens (extend when fewer). */
static void vs_fixture(struct fixture *fx, long n_q, long n, int heads, int kv_heads, int d, int dv,
		       const int32_t *cols, long nc, const int32_t *offs, long no)
{
	fx_make_dv(fx, "dense", 1, n, 1, heads, kv_heads, d, dv, 2.0f);
	gset_free(&fx->g);
	vs_gset(&fx->g, n_q, n, heads, cols, nc, offs, no);
	fx->p.g = &fx->g;
	fx->p.n_q = n_q;
}

Test(vslash, the_compact_form_says_what_the_rows_say)
{
	static const int32_t cols[] = { 0, 1, 5, 64, 65, 130, 199 }, offs[] = { 0, 1, 2, 5, 64, 66, 130 };
	struct gset g;
	struct pat_range out[32];

	vs_gset(&g, 200, 200, 1, cols, 7, offs, 7);
	/* row 66: columns 0 1 5 64 65, keys 66 65 64 61 2 0 (66 - 66): merged */
	cr_assert_eq(gset_vslash_row(&g.vslash[0], 66, out), 4);
	cr_assert(out[0].lo == 0 && out[0].hi == 3, "[%d, %d)", out[0].lo, out[0].hi);
	cr_assert(out[1].lo == 5 && out[1].hi == 6);
	cr_assert(out[2].lo == 61 && out[2].hi == 62);
	cr_assert(out[3].lo == 64 && out[3].hi == 67);
	cr_assert_eq(gset_vslash_size(&g), 14);
	/* kept for a selection of the same shape, made anew for a longer one */
	{
		const int32_t *kept = g.vslash[0].cols;
		cr_assert_eq(gset_vslash_alloc(&g, 1, 200), 0);
		cr_assert_eq(g.vslash[0].cols, kept);
		cr_assert_eq(gset_vslash_alloc(&g, 2, 500), 0);
		cr_assert(g.n_vslash == 2 && g.vslash_room == 500);
		for (int l = 0; l < 2; l++)
			for (int i = 0; i < 500; i++)   /* ASan (make check) sees any overrun */
				g.vslash[l].cols[i] = g.vslash[l].offs[i] = i;
	}
	gset_free(&g);
}

/* Columns on the diagonals (5 = 10 - 5), a column past the last query
 * tile's first row, offsets past the tile, n off the tile, crossed tiles
 * that go as tiles (a band of 16 offsets) and row by row (single
 * diagonals), an extend chunk; every ISA path, 1 and 2 threads, V wider
 * and narrower than K. */
Test(vslash, the_tiled_path_agrees_with_the_oracle_on_every_isa_path)
{
	static const int32_t cols[] = { 0, 5, 64, 100, 129, 140, 149 }, offs[] = { 0, 5, 63, 64, 65, 127, 141 };
	static const int32_t late[] = { 5, 70, 71 }, zero[] = { 0 };
	static const int32_t band[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
					21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 130 };
	static const struct {
		long n_q, n; int heads, kv_heads, d, dv;
		const int32_t *cols; long nc; const int32_t *offs; long no;
	} cases[] = {
		{ 150, 150, 2, 1, 16, 16, cols, 7, offs, 7 },
		{ 150, 150, 4, 2, 32, 24, cols, 7, offs, 7 },
		{ 64, 64, 1, 1, 8, 40, cols, 2, offs, 3 },
		{ 1, 1, 1, 1, 8, 8, zero, 1, zero, 1 },         /* n = 1 */
		{ 150, 150, 2, 2, 16, 16, cols, 0, offs, 4 },   /* diagonals alone */
		{ 150, 150, 2, 2, 16, 16, late, 3, offs, 0 },   /* columns alone: rows 0-4 empty */
		{ 333, 333, 2, 1, 16, 16, late, 3, offs, 7 },   /* n off the tile */
		{ 256, 256, 2, 1, 16, 24, late, 3, band, 33 },  /* tiles and rows: a band and a diagonal */
		{ 333, 333, 4, 2, 32, 16, cols, 7, band, 33 },
		{ 70, 300, 2, 1, 16, 16, cols, 7, band, 33 },   /* extend: 70 tokens over 230 */
	};
	const struct kern_desc *tiled = kern_find("tiled");

	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		if (kern_isa_unsupported((enum kern_isa)isa))
			continue;
		setenv("SABENCH_ISA", kern_isa_name((enum kern_isa)isa), 1);
		for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
			for (int threads = 1; threads <= 2; threads++) {
				struct fixture fx;
				long bad;
				double err;
				vs_fixture(&fx, cases[c].n_q, cases[c].n, cases[c].heads, cases[c].kv_heads, cases[c].d,
					   cases[c].dv, cases[c].cols, cases[c].nc, cases[c].offs, cases[c].no);
				cr_assert(tiled->reads_compact(&fx.p));
				err = fx_max_err(&fx, tiled, threads, &bad);
				cr_assert(bad == 0 && err <= VERIFY_MAX_ABS, "case %zu, isa %s, %d threads: error %g",
					  c, kern_isa_name((enum kern_isa)isa), threads, err);
				fx_free(&fx);
			}
	}
	unsetenv("SABENCH_ISA");
}

/* The path reads the compact form alone: with the rows' ranges emptied,
 * its output is still attention over the G the compact form says. */
Test(vslash, the_tiled_path_reads_the_compact_form_alone)
{
	static const int32_t cols[] = { 0, 5, 100 }, offs[] = { 0, 3, 70 };
	const struct kern_desc *tiled = kern_find("tiled");
	struct fixture fx;
	float *want;
	size_t n_out;
	void *ws;

	vs_fixture(&fx, 150, 150, 2, 1, 16, 16, cols, 3, offs, 3);
	n_out = (size_t)2 * 150 * 16;
	omp_set_num_threads(2);
	cr_assert_eq(kern_find("oracle")->prepare(&fx.p, 2, &ws), 0);
	kern_find("oracle")->run(&fx.p, ws);
	kern_find("oracle")->release(ws);
	want = malloc(n_out * sizeof *want);
	memcpy(want, fx.o, n_out * sizeof *want);
	memset(fx.g.row_ptr, 0, ((size_t)fx.g.n_layouts * 150 + 1) * sizeof *fx.g.row_ptr);
	memset(fx.o, 0, n_out * sizeof *fx.o);
	cr_assert_eq(tiled->prepare(&fx.p, 2, &ws), 0);
	tiled->run(&fx.p, ws);
	tiled->release(ws);
	for (size_t i = 0; i < n_out; i++)
		cr_assert_float_eq(fx.o[i], want[i], 1e-5, "output %zu", i);
	free(want);
	fx_free(&fx);
}

/* Columns {5}, offsets {0 .. 31, 130} at n = 256, by query tile R:
 *   - the column: 64 rows x 1 each;
 *   - offsets 0 .. 31 in tile R: 1 + 2 + ... + 31 + 33 x 32 = 1552 pairs
 *     (R = 0: 1520, the 32 on column 5 go with the column), at least
 *     VS_ROW_PAIRS: a 64 x 64 tile, 4096 entries;
 *   - offsets 1 .. 31 reaching tile R - 1 (R >= 1): 31 + 30 + ... + 1 =
 *     496 pairs, row by row;
 *   - offset 130: R = 2, keys -2 .. 61 in tile 0: 62 pairs less column 5,
 *     61; R = 3, keys 62 .. 125: 2 in tile 0, 62 in tile 1; row by row.
 * 4160 + 4656 + 4717 + 4720 = 18253 entries of 2 d + 2 dv FLOPs; the
 * kernel's tallies agree. */
Test(vslash, the_work_is_the_columns_the_tiles_and_the_rows)
{
	static const int32_t cols[] = { 5 };
	int32_t offs[33];
	const struct kern_desc *tiled = kern_find("tiled");
	struct fixture fx;
	struct kern_cost c = { 0 };
	long long flops, pairs;

	for (int i = 0; i < 32; i++)
		offs[i] = i;
	offs[32] = 130;
	cr_assert(1520 >= VS_ROW_PAIRS && 496 < VS_ROW_PAIRS, "the case no longer straddles VS_ROW_PAIRS");
	vs_fixture(&fx, 256, 256, 1, 1, 16, 8, cols, 1, offs, 33);
	tiled->cost(&fx.p, 2, &c);
	cr_assert_eq(c.flops_exec, 18253.0 * (2 * 16 + 2 * 8));
	flops = fx_run_tallied(&fx, tiled, &pairs);
	cr_assert_eq(flops, (long long)c.flops_exec);
	cr_assert_eq(pairs, fx.g.st.nnz);
	fx_free(&fx);
}

/* Selected: the selector's compact form equals its rows, a compact-only
 * selection of the same inputs leaves the same form, and the tiled path
 * agrees with the oracle on it, shared by a GQA group too. */
Test(vslash, a_selected_g_has_its_compact_form)
{
	static const char *specs[] = {
		"vertical_slash: {last_q: 20, verticals: 9, slashes: 7, sink_keys: 2, local_offsets: 3}",
		"vertical_slash: {last_q: 64, verticals: 30, slashes: 40, sink_keys: 4, local_offsets: 8, share: kv_group}",
	};
	for (size_t s = 0; s < 2; s++) {
		struct fixture fx;
		struct pattern pat;
		struct err e;
		struct sel_input in = { 0 };
		struct pat_range out[256];
		char why[256];
		long bad;
		double err;
		long long size;

		fx_make(&fx, "dense", 1, 333, 1, 4, 2, 16, 2.0f);
		gset_free(&fx.g);
		cr_assert_eq(exp_parse_spec(specs[s], 1, &pat, &e), 0, "%s", e.msg);
		in = (struct sel_input){ .p = &fx.p, .q_hist = fx.q, .n_hist = 333, .ops = kern_simd() };
		omp_set_num_threads(2);
		cr_assert_eq(sel_run(&pat, &in, &fx.g, why, sizeof why), 0, "%s", why);
		cr_assert_not_null(fx.g.vslash);
		for (int l = 0; l < fx.g.n_layouts; l++)
			for (long r = 0; r < 333; r++) {
				int64_t n;
				const struct pat_range *rg = gset_row(&fx.g, l, r, &n);
				cr_assert_eq(gset_vslash_row(&fx.g.vslash[l], r, out), n, "layout %d row %ld", l, r);
				cr_assert(!memcmp(out, rg, (size_t)n * sizeof *rg), "layout %d row %ld", l, r);
			}
		size = gset_vslash_size(&fx.g);
		in.compact = 1;
		cr_assert_eq(sel_run(&pat, &in, &fx.g, why, sizeof why), 0, "%s", why);
		cr_assert_eq(gset_vslash_size(&fx.g), size);
		fx.p.g = &fx.g;
		err = fx_max_err(&fx, kern_find("tiled"), 2, &bad);
		cr_assert(bad == 0 && err <= VERIFY_MAX_ABS, "%s: error %g", specs[s], err);
		pat_free(&pat);
		fx_free(&fx);
	}
}

/* A bf16 or biased cell takes the block view (its ranges), not the
 * compact path, and still agrees with the oracle. */
Test(vslash, cells_the_path_cannot_serve_take_the_block_view)
{
	static const int32_t cols[] = { 0, 5, 100 }, offs[] = { 0, 3, 70 };
	const struct kern_desc *tiled = kern_find("tiled");
	struct fixture fx;
	long bad;
	double err;

	vs_fixture(&fx, 150, 150, 2, 1, 16, 16, cols, 3, offs, 3);
	fx_bf16(&fx);
	cr_assert(!tiled->reads_compact(&fx.p));
	err = fx_max_err(&fx, tiled, 2, &bad);
	cr_assert(bad == 0 && err <= VERIFY_MAX_ABS_BF16, "bf16: error %g", err);
	fx_free(&fx);
}
