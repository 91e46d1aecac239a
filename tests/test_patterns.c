/* test_patterns.c - G-sets: the worked cases of DESIGN.md, nnz against
 * closed forms, membership against predicates written from the formulas,
 * canonical ranges, statistics and the CSR view. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "../harness/config/experiment.h"
#include "../patterns/gset.h"

static void compile(const char *spec, int causal, long n, struct pattern *p,
		    struct gset *g)
{
	struct err e;
	char why[256];

	cr_assert_eq(exp_parse_spec(spec, causal, p, &e), 0, "%s", e.msg);
	cr_assert_eq(gset_build(g, p, n, n, 1, why, sizeof why), 0, "%s", why);
}

/* 1 when key j is in row r of g. */
static int member(const struct gset *g, long r, long j)
{
	int64_t n;
	const struct pat_range *rg = gset_row(g, 0, r, &n);

	for (int64_t i = 0; i < n; i++)
		if (rg[i].lo <= j && j < rg[i].hi)
			return 1;
	return 0;
}

/* gset_overlap: how much of a's G b keeps. A window of 4 against one of
 * 2 over 8 rows: rows 0 and 1 keep all, row 2 two of 3, rows 3 to 7 two
 * of 4, (1 + 1 + 2/3 + 5/2) / 8; the other way round b holds all of a;
 * a sink beside a window of 2 (two ranges a row) against the window of
 * 4 agrees with counting key by key. */
Test(closed_form, overlap_of_two_gsets)
{
	struct pattern p4, p2, ps;
	struct gset g4, g2, gs;

	compile("window: {size: 4}", 1, 8, &p4, &g4);
	compile("window: {size: 2}", 1, 8, &p2, &g2);
	compile("sink_window: {sinks: 1, size: 2}", 1, 8, &ps, &gs);
	cr_assert_float_eq(gset_overlap(&g4, &g2), (1 + 1 + 2.0 / 3 + 5 / 2.0) / 8, 1e-12);
	cr_assert_float_eq(gset_overlap(&g2, &g4), 1.0, 1e-12);
	cr_assert_float_eq(gset_overlap(&g4, &g4), 1.0, 1e-12);
	double want = 0.0;
	for (long r = 0; r < 8; r++) {
		int keys = 0, kept = 0;
		for (long j = 0; j <= r; j++) {
			keys += member(&gs, r, j);
			kept += member(&gs, r, j) && member(&g4, r, j);
		}
		want += (double)kept / keys;
	}
	cr_assert_lt(want / 8, 1.0);
	cr_assert_float_eq(gset_overlap(&gs, &g4), want / 8, 1e-12);
	gset_free(&g4);
	gset_free(&g2);
	gset_free(&gs);
	pat_free(&p4);
	pat_free(&p2);
	pat_free(&ps);
}

static void assert_canonical(const struct gset *g)
{
	for (long r = 0; r < g->n_q; r++) {
		int64_t n;
		const struct pat_range *rg = gset_row(g, 0, r, &n);
		for (int64_t i = 0; i < n; i++) {
			cr_assert(rg[i].lo < rg[i].hi, "empty range in row %ld", r);
			cr_assert(rg[i].lo >= 0 && rg[i].hi <= g->n_kv, "range out of bounds in row %ld", r);
			if (i)
				cr_assert(rg[i].lo > rg[i - 1].hi, "ranges of row %ld overlap or touch", r);
			if (g->causal)
				cr_assert(rg[i].hi <= r + 1, "row %ld sees the future", r);
		}
	}
}

static long long sum_min(long n, long cap)
{
	long long s = 0;

	for (long i = 0; i < n; i++)
		s += i + 1 < cap ? i + 1 : cap;
	return s;
}

Test(worked, sink1_window3_query499)
{
	struct pattern p;
	struct gset g;
	int64_t n;
	const struct pat_range *rg;

	compile("sink_window: {sinks: 1, size: 3}", 1, 1024, &p, &g);
	rg = gset_row(&g, 0, 499, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(rg[0].lo, 0);
	cr_assert_eq(rg[0].hi, 1);
	cr_assert_eq(rg[1].lo, 497);
	cr_assert_eq(rg[1].hi, 500);
	cr_assert_eq(gset_row_keys(rg, n), 4);
	gset_free(&g);
	pat_free(&p);
}

Test(closed_form, dense)
{
	long ns[] = { 1, 2, 3, 100, 1000 };

	for (size_t t = 0; t < sizeof ns / sizeof *ns; t++) {
		long n = ns[t];
		struct pattern p;
		struct gset g;
		compile("dense", 1, n, &p, &g);
		cr_assert_eq(g.st.nnz, (long long)n * (n + 1) / 2, "n %ld", n);
		cr_assert_float_eq(g.st.density, 1.0, 1e-12);
		assert_canonical(&g);
		gset_free(&g);
		compile("dense", 0, n, &p, &g);
		cr_assert_eq(g.st.nnz, (long long)n * n, "bidirectional n %ld", n);
		gset_free(&g);
		pat_free(&p);
	}
}

Test(closed_form, window)
{
	long ns[] = { 1, 2, 5, 64, 65, 1000 };
	long ws[] = { 1, 3, 64, 256 };

	for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
		for (size_t b = 0; b < sizeof ws / sizeof *ws; b++) {
			long n = ns[a], w = ws[b];
			char spec[64];
			struct pattern p;
			struct gset g;
			long long want = n <= w ? (long long)n * (n + 1) / 2
						: (long long)w * (w + 1) / 2 + (long long)(n - w) * w;
			snprintf(spec, sizeof spec, "window: {size: %ld}", w);
			compile(spec, 1, n, &p, &g);
			cr_assert_eq(g.st.nnz, want, "n %ld w %ld", n, w);
			cr_assert_eq(g.st.nnz, sum_min(n, w));
			cr_assert_eq(g.st.row_max, n < w ? n : w);
			cr_assert_eq(g.st.row_min, 1);
			cr_assert_eq(pat_kv_rows(&p, n), n < w ? n : w);
			assert_canonical(&g);
			for (long i = 0; i < n; i++)
				for (long j = 0; j < n; j++)
					cr_assert_eq(member(&g, i, j), j <= i && i - j < w,
						     "n %ld w %ld (%ld, %ld)", n, w, i, j);
			gset_free(&g);
			pat_free(&p);
		}
}

Test(closed_form, sink_window_including_overlap)
{
	long ns[] = { 1, 3, 10, 300 };
	long ss[] = { 0, 1, 4, 20 };
	long ws[] = { 1, 3, 16 };

	for (size_t a = 0; a < 4; a++)
		for (size_t b = 0; b < 4; b++)
			for (size_t c = 0; c < 3; c++) {
				long n = ns[a], s = ss[b], w = ws[c];
				char spec[80];
				struct pattern p;
				struct gset g;
				snprintf(spec, sizeof spec, "sink_window: {sinks: %ld, size: %ld}", s, w);
				compile(spec, 1, n, &p, &g);
				cr_assert_eq(g.st.nnz, sum_min(n, s + w), "n %ld s %ld w %ld", n, s, w);
				cr_assert_eq(pat_kv_rows(&p, n), n < s + w ? n : s + w);
				assert_canonical(&g);
				for (long i = 0; i < n; i++)
					for (long j = 0; j < n; j++)
						cr_assert_eq(member(&g, i, j),
							     j <= i && (j < s || i - j < w),
							     "n %ld s %ld w %ld (%ld, %ld)", n, s, w, i, j);
				gset_free(&g);
				pat_free(&p);
			}
}

Test(bidirectional, window_is_centred)
{
	long n = 20;
	long ws[] = { 1, 2, 5, 8 };

	for (size_t b = 0; b < 4; b++) {
		long w = ws[b], before = (w - 1) / 2;
		char spec[64];
		struct pattern p;
		struct gset g;
		snprintf(spec, sizeof spec, "window: {size: %ld}", w);
		compile(spec, 0, n, &p, &g);
		assert_canonical(&g);
		for (long i = 0; i < n; i++)
			for (long j = 0; j < n; j++)
				cr_assert_eq(member(&g, i, j), j >= i - before && j < i - before + w,
					     "w %ld (%ld, %ld)", w, i, j);
		gset_free(&g);
		pat_free(&p);
	}
}

Test(explicit, rows_and_empty_rows)
{
	struct pattern p;
	struct gset g;

	compile("explicit: {rows: [[0], [0, 1], [], [0, 2]]}", 1, 6, &p, &g);
	cr_assert_eq(g.st.nnz, 5);
	cr_assert_eq(g.st.empty_rows, 3);       /* row 2 and rows 4, 5 past the list */
	cr_assert(member(&g, 3, 0) && !member(&g, 3, 1) && member(&g, 3, 2));
	cr_assert_eq(g.st.row_min, 0);
	cr_assert_eq(g.st.row_max, 2);
	cr_assert_eq(g.st.keys_used, 3);
	assert_canonical(&g);
	gset_free(&g);
	pat_free(&p);
}

Test(gset, csr_view_matches_ranges)
{
	struct pattern p;
	struct gset g;
	int64_t *ptr;
	int32_t *idx;

	compile("sink_window: {sinks: 2, size: 4}", 1, 50, &p, &g);
	cr_assert_eq(gset_csr(&g, 0, &ptr, &idx), 0);
	cr_assert_eq(ptr[50], g.st.nnz);
	for (long r = 0; r < 50; r++)
		for (int64_t t = ptr[r]; t < ptr[r + 1]; t++) {
			cr_assert(member(&g, r, idx[t]));
			if (t > ptr[r])
				cr_assert(idx[t] > idx[t - 1]);
		}
	free(ptr);
	free(idx);
	gset_free(&g);
	pat_free(&p);
}

Test(gset, statistics_and_storage)
{
	struct pattern p;
	struct gset g;

	compile("window: {size: 4}", 1, 10, &p, &g);
	cr_assert_eq(g.st.nnz, 1 + 2 + 3 + 4 * 7);
	cr_assert_float_eq(g.st.row_mean, 34.0 / 10.0, 1e-12);
	cr_assert_float_eq(g.st.density, 34.0 / 55.0, 1e-12);
	cr_assert_eq(g.st.keys_used, 10);
	cr_assert_eq(g.st.storage_bytes, 11 * 8 + 10 * 8);
	gset_free(&g);
	pat_free(&p);
}

Test(gset, large_dense_is_one_range_per_row)
{
	struct pattern p;
	struct gset g;

	compile("dense", 1, 1 << 20, &p, &g);
	cr_assert_eq(g.row_ptr[g.n_q], g.n_q);
	cr_assert_eq(g.st.nnz, (long long)(1 << 20) * ((1 << 20) + 1) / 2);
	gset_free(&g);
	pat_free(&p);
}

Test(labels, default_and_swept)
{
	struct pattern p;
	struct err e;

	cr_assert_eq(exp_parse_spec("window: {size: 128}", 1, &p, &e), 0);
	cr_assert_str_eq(p.label, "window(size=128)");
	pat_free(&p);
	cr_assert_eq(exp_parse_spec("sink_window: {sinks: 4, size: 252}", 1, &p, &e), 0);
	cr_assert_str_eq(p.label, "sink_window(sinks=4 size=252)");
	pat_free(&p);
	cr_assert_eq(exp_parse_spec("dense", 1, &p, &e), 0);
	cr_assert_str_eq(p.label, "dense");
	pat_free(&p);
}
