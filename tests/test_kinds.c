/* test_kinds.c - every pattern kind against a predicate written here from
 * its published formula (not from the implementation), over a grid of n
 * and parameters, causal and, where defined, bidirectional; nnz against
 * closed forms; block layouts; seeded random patterns. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../harness/config/experiment.h"
#include "../patterns/gset.h"

/* A membership predicate: is key j in G_i for head h, with parameters a. */
typedef int (*pred_fn)(const long *a, long n, long i, long j, int h);

/* Compiles spec and compares every (head, i, j) with pred; checks the
 * ranges are canonical and in bounds. Returns nnz of head 0. */
static long long check_kind(const char *spec, int causal, long n, int heads,
			    pred_fn pred, const long *a)
{
	struct pattern p;
	struct gset g;
	struct err e;
	char why[256];
	long long nnz0 = 0;

	cr_assert_eq(exp_parse_spec(spec, causal, &p, &e), 0, "%s: %s", spec, e.msg);
	cr_assert_eq(gset_build(&g, &p, n, n, heads, why, sizeof why), 0, "%s", why);
	for (int h = 0; h < heads; h++)
		for (long i = 0; i < n; i++) {
			int64_t nr;
			const struct pat_range *rg = gset_row(&g, gset_layout(&g, 0, h), i, &nr);
			int64_t k = 0;
			for (int64_t t = 0; t < nr; t++) {
				cr_assert(rg[t].lo < rg[t].hi && rg[t].lo >= 0 && rg[t].hi <= n,
					  "%s n %ld row %ld: bad range", spec, n, i);
				if (t)
					cr_assert(rg[t].lo > rg[t - 1].hi, "%s row %ld: ranges touch", spec, i);
			}
			for (long j = 0; j < n; j++) {
				int in;
				while (k < nr && rg[k].hi <= j)
					k++;
				in = k < nr && rg[k].lo <= j;
				cr_assert_eq(in, pred(a, n, i, j, h),
					     "%s %s n %ld head %d: (%ld, %ld) is %s",
					     spec, causal ? "causal" : "bidirectional", n, h, i, j,
					     in ? "in G but should not be" : "missing");
				if (h == 0)
					nnz0 += in;
			}
		}
	cr_assert_eq(g.st.nnz_layouts / g.n_layouts * 1LL, g.st.nnz);
	if (g.n_layouts == 1)
		cr_assert_eq(g.st.nnz, nnz0, "%s: statistics disagree", spec);
	gset_free(&g);
	pat_free(&p);
	return nnz0;
}

static const long grid_n[] = { 1, 2, 7, 16, 33, 64 };
#define FOR_N for (size_t in_ = 0; in_ < sizeof grid_n / sizeof *grid_n; in_++) \
	for (long n = grid_n[in_], once_ = 1; once_; once_ = 0)

/* dilated: i - j = k d, 0 <= k < w (bidirectional: k in [-(w-1)/2, ...]) */
static int p_dilated(const long *a, long n, long i, long j, int h)
{
	long w = a[0], d = a[1], diff = i - j, before = a[2] ? w - 1 : (w - 1) / 2;
	(void)n; (void)h;
	if (diff % d)
		return 0;
	return diff / d <= before && diff / d > before - w;
}

Test(kinds, dilated)
{
	long ws[] = { 1, 3, 4 }, ds[] = { 1, 2, 5 };
	for (int c = 1; c >= 0; c--)
		for (int x = 0; x < 3; x++)
			for (int y = 0; y < 3; y++)
				FOR_N {
					char spec[64];
					long a[3] = { ws[x], ds[y], c };
					long long want = 0;
					snprintf(spec, sizeof spec, "dilated: {size: %ld, dilation: %ld}", ws[x], ds[y]);
					long long nnz = check_kind(spec, c, n, 1, p_dilated, a);
					for (long i = 0; c && i < n; i++)
						want += i / ds[y] + 1 < ws[x] ? i / ds[y] + 1 : ws[x];
					if (c)
						cr_assert_eq(nnz, want, "%s n %ld closed form", spec, n);
				}
}

static int p_strided(const long *a, long n, long i, long j, int h)
{
	long l = a[0], diff = i - j;
	(void)n; (void)h;
	if (a[1] && j > i)
		return 0;
	return labs(diff) < l || diff % l == 0;
}

Test(kinds, strided)
{
	long ls[] = { 1, 2, 3, 8 };
	for (int c = 1; c >= 0; c--)
		for (int x = 0; x < 4; x++)
			FOR_N {
				char spec[64];
				long a[2] = { ls[x], c };
				long long want = 0;
				snprintf(spec, sizeof spec, "strided: {stride: %ld}", ls[x]);
				long long nnz = check_kind(spec, c, n, 1, p_strided, a);
				for (long i = 0; i < n; i++)
					want += (i + 1 < ls[x] ? i + 1 : ls[x]) + i / ls[x];
				if (c)
					cr_assert_eq(nnz, want, "%s n %ld closed form", spec, n);
			}
}

static int p_fixed(const long *a, long n, long i, long j, int h)
{
	long l = a[0], s = a[1];
	(void)n; (void)h;
	if (a[2] && j > i)
		return 0;
	return j / l == i / l || j % l >= l - s;
}

Test(kinds, fixed)
{
	long ls[] = { 1, 4, 5 }, cs[] = { 0, 1, 2 };
	for (int c = 1; c >= 0; c--)
		for (int x = 0; x < 3; x++)
			for (int y = 0; y < 3; y++)
				FOR_N {
					char spec[64];
					long a[3] = { ls[x], cs[y], c };
					long long want = 0;
					if (cs[y] > ls[x])
						continue;
					snprintf(spec, sizeof spec, "fixed: {block: %ld, summary: %ld}", ls[x], cs[y]);
					long long nnz = check_kind(spec, c, n, 1, p_fixed, a);
					for (long i = 0; i < n; i++)
						want += i % ls[x] + 1 + cs[y] * (i / ls[x]);
					if (c)
						cr_assert_eq(nnz, want, "%s n %ld closed form", spec, n);
				}
}

static int p_chunked(const long *a, long n, long i, long j, int h)
{
	(void)n; (void)h;
	return (!a[1] || j <= i) && j / a[0] == i / a[0];
}

Test(kinds, chunked)
{
	long cs[] = { 1, 3, 16 };
	for (int c = 1; c >= 0; c--)
		for (int x = 0; x < 3; x++)
			FOR_N {
				char spec[64];
				long a[2] = { cs[x], c };
				long long want = 0;
				snprintf(spec, sizeof spec, "chunked: {size: %ld}", cs[x]);
				long long nnz = check_kind(spec, c, n, 1, p_chunked, a);
				for (long i = 0; i < n; i++)
					want += i % cs[x] + 1;
				if (c)
					cr_assert_eq(nnz, want, "%s n %ld closed form", spec, n);
			}
}

static int p_prefix(const long *a, long n, long i, long j, int h)
{
	(void)n; (void)h;
	if (!a[1])
		return 1;
	return i < a[0] ? j < a[0] : j <= i;
}

Test(kinds, prefix_lm)
{
	long ps[] = { 0, 1, 5, 40 };
	for (int c = 1; c >= 0; c--)
		for (int x = 0; x < 4; x++)
			FOR_N {
				char spec[64];
				long a[2] = { ps[x], c }, pre = ps[x] < n ? ps[x] : n;
				snprintf(spec, sizeof spec, "prefix_lm: {prefix: %ld}", ps[x]);
				long long nnz = check_kind(spec, c, n, 1, p_prefix, a);
				if (c)
					cr_assert_eq(nnz, (long long)pre * pre +
						     (long long)n * (n + 1) / 2 - (long long)pre * (pre + 1) / 2,
						     "%s n %ld closed form", spec, n);
			}
}

/* documents 3, 6, 4 then the rest */
static long doc_of(long i)
{
	return i < 3 ? 0 : i < 9 ? 1 : i < 13 ? 2 : 3;
}

static int p_document(const long *a, long n, long i, long j, int h)
{
	(void)n; (void)h;
	return (!a[0] || j <= i) && doc_of(i) == doc_of(j);
}

Test(kinds, document)
{
	for (int c = 1; c >= 0; c--)
		FOR_N {
			long a[1] = { c };
			long long want = 0, start[] = { 0, 3, 9, 13, n };
			long long nnz = check_kind("document: {lengths: [3, 6, 4]}", c, n, 1, p_document, a);
			for (int d = 0; d < 4; d++) {
				long long lo = start[d] < n ? start[d] : n;
				long long hi = d < 3 ? (start[d + 1] < n ? start[d + 1] : n) : n;
				if (hi > lo)
					want += (hi - lo) * (hi - lo + 1) / 2;
			}
			if (c)
				cr_assert_eq(nnz, want, "document n %ld closed form", n);
		}
}

static int p_global(const long *a, long n, long i, long j, int h)
{
	int gi = i == 0 || i == 5, gj = j == 0 || j == 5;
	(void)n; (void)h;
	if (a[0] && j > i)
		return 0;
	return gi || gj;
}

Test(kinds, global)
{
	for (int c = 1; c >= 0; c--)
		FOR_N {
			long a[1] = { c };
			if (n <= 5)
				continue;       /* token 5 must exist */
			check_kind("global: {tokens: [0, 5]}", c, n, 1, p_global, a);
		}
}

/* bigbird without random blocks: window, global rows and columns */
static int p_bigbird(const long *a, long n, long i, long j, int h)
{
	long b = a[0], w = a[1], g = a[2], R = i / b, C = j / b;
	(void)n; (void)h;
	if (a[3] && j > i)
		return 0;
	return R < g || C < g || labs(R - C) <= w / 2;
}

Test(kinds, bigbird_without_random)
{
	for (int c = 1; c >= 0; c--)
		FOR_N {
			long a[4] = { 4, 3, 1, c };
			check_kind("bigbird: {block: 4, window_blocks: 3, global_blocks: 1, random_blocks: 0}",
				   c, n, 1, p_bigbird, a);
			a[1] = 5;
			a[2] = 0;
			check_kind("bigbird: {block: 4, window_blocks: 5, global_blocks: 0, random_blocks: 0}",
				   c, n, 1, p_bigbird, a);
		}
}

/* DeepSpeed's FixedSparsityConfig: is block column C global for head h
 * (a: block, local, global, causal, per_head, horizontal)? Full windows:
 * their last G blocks (moved by head); a short last window: G blocks
 * starting at min(end + first, nb - G) (DeepSpeed's set_global_layout). */
static int ds_global(const long *a, long nb, long C, int h)
{
	long l = a[1], g = a[2], s = a[4] ? h % (l / g) : 0, lo = l - (s + 1) * g;
	long end = nb - nb % l, start = end + lo < nb - g ? end + lo : nb - g;

	if (C < end && C % l >= lo && C % l < lo + g)
		return 1;
	return nb % l && C >= start && C < start + g;
}

static int p_ds_fixed(const long *a, long n, long i, long j, int h)
{
	long b = a[0], l = a[1], R = i / b, C = j / b, nb = (n + b - 1) / b;

	if (a[3] && j > i)
		return 0;
	if (!a[3] && a[5] && ds_global(a, nb, R, h))
		return 1;
	return C / l == R / l || ds_global(a, nb, C, h);
}

Test(kinds, ds_fixed_with_and_without_heads)
{
	for (int c = 1; c >= 0; c--)
		FOR_N {
			long a[6] = { 2, 4, 1, c, 0, 0 };
			check_kind("ds_fixed: {block: 2, local_blocks: 4, global_blocks: 1}", c, n, 1,
				   p_ds_fixed, a);
			a[4] = 1;
			check_kind("ds_fixed: {block: 2, local_blocks: 4, global_blocks: 1, different_per_head: true}",
				   c, n, 4, p_ds_fixed, a);
			a[2] = 2;
			check_kind("ds_fixed: {block: 2, local_blocks: 4, global_blocks: 2, different_per_head: true}",
				   c, n, 3, p_ds_fixed, a);
			if (c)
				continue;
			a[2] = 1;
			a[4] = 0;
			a[5] = 1;
			check_kind("ds_fixed: {block: 2, local_blocks: 4, global_blocks: 1, horizontal_global_attention: true}",
				   c, n, 1, p_ds_fixed, a);
		}
}

static int p_bslongformer(const long *a, long n, long i, long j, int h)
{
	long b = a[0], w = a[1], R = i / b, C = j / b;
	int gr = R == 0 || R == 3, gc = C == 0 || C == 3;
	(void)n; (void)h;
	if (a[2] && j > i)
		return 0;
	return gr || gc || labs(R - C) <= w / 2;
}

Test(kinds, bslongformer)
{
	for (int c = 1; c >= 0; c--)
		FOR_N {
			long a[3] = { 4, 3, c };
			if (n <= 12)
				continue;       /* global block 3 must exist */
			check_kind("bslongformer: {block: 4, window_blocks: 3, global_block_indices: [0, 3]}",
				   c, n, 1, p_bslongformer, a);
		}
}

/* union(window 3, global [0, 5]), intersection(window 6, strided 2),
 * difference(dense, window 3) */
static int p_union(const long *a, long n, long i, long j, int h)
{
	return (j <= i && i - j < 3) || p_global(a, n, i, j, h);
}

static int p_intersection(const long *a, long n, long i, long j, int h)
{
	long s[2] = { 2, 1 };
	(void)a;
	return j <= i && i - j < 6 && p_strided(s, n, i, j, h);
}

static int p_difference(const long *a, long n, long i, long j, int h)
{
	(void)a; (void)n; (void)h;
	return j <= i && i - j >= 3;
}

Test(kinds, composites)
{
	FOR_N {
		long a[1] = { 1 };
		if (n > 5)
			check_kind("union: [{window: {size: 3}}, {global: {tokens: [0, 5]}}]", 1, n, 1,
				   p_union, a);
		check_kind("intersection: [{window: {size: 6}}, {strided: {stride: 2}}]", 1, n, 1,
			   p_intersection, a);
		check_kind("difference: [dense, {window: {size: 3}}]", 1, n, 1, p_difference, a);
	}
}

Test(kinds, random_is_seeded_and_has_its_density)
{
	struct pattern p;
	struct gset g1, g2;
	struct err e;
	char why[256];
	long n = 600;
	double pairs;

	cr_assert_eq(exp_parse_spec("random: {density: 0.1, seed: 9, include_self: false}", 1, &p, &e), 0);
	cr_assert_eq(gset_build(&g1, &p, n, n, 1, why, sizeof why), 0);
	cr_assert_eq(gset_build(&g2, &p, n, n, 1, why, sizeof why), 0);
	cr_assert_eq(g1.row_ptr[n], g2.row_ptr[n]);
	for (int64_t k = 0; k < g1.row_ptr[n]; k++)
		cr_assert(g1.ranges[k].lo == g2.ranges[k].lo && g1.ranges[k].hi == g2.ranges[k].hi);
	pairs = (double)n * (n + 1) / 2;
	/* 180300 pairs at p = 0.1: sd about 127; 5 sd is 640 */
	cr_assert(fabs((double)g1.st.nnz - 0.1 * pairs) < 640, "nnz %lld for %g expected",
		  g1.st.nnz, 0.1 * pairs);
	for (long i = 0; i < n; i++) {
		int64_t nr;
		const struct pat_range *rg = gset_row(&g1, 0, i, &nr);
		if (nr)
			cr_assert(rg[nr - 1].hi <= i + 1, "row %ld sees the future", i);
	}
	gset_free(&g1);
	gset_free(&g2);
	pat_free(&p);
	cr_assert_eq(exp_parse_spec("random: {density: 0.05, seed: 2}", 1, &p, &e), 0);
	cr_assert_eq(gset_build(&g1, &p, 50, 50, 1, why, sizeof why), 0);
	for (long i = 0; i < 50; i++) {
		int64_t nr;
		const struct pat_range *rg = gset_row(&g1, 0, i, &nr);
		cr_assert(nr > 0 && rg[nr - 1].hi == i + 1, "include_self: row %ld lacks i", i);
	}
	gset_free(&g1);
	pat_free(&p);
	cr_assert_eq(exp_parse_spec("random: {density: 1, seed: 2}", 1, &p, &e), 0);
	cr_assert_eq(gset_build(&g1, &p, 40, 40, 1, why, sizeof why), 0);
	cr_assert_eq(g1.st.nnz, 40 * 41 / 2);
	gset_free(&g1);
	pat_free(&p);
}

Test(kinds, random_per_head_differs_by_head)
{
	struct pattern p;
	struct gset g;
	struct err e;
	char why[256];

	cr_assert_eq(exp_parse_spec("random: {density: 0.2, seed: 4, per_head: true}", 1, &p, &e), 0);
	cr_assert_eq(gset_build(&g, &p, 64, 64, 4, why, sizeof why), 0);
	cr_assert_eq(g.n_layouts, 4);
	cr_assert_neq(g.row_ptr[64], g.row_ptr[128] - g.row_ptr[64], "heads 0 and 1 alike");
	gset_free(&g);
	pat_free(&p);
}

/* Block layouts of causal block patterns: partial blocks exactly on the
 * diagonal, none above it (DeepSpeed's own layouts leak future blocks). */
Test(blocks, causal_block_patterns_are_partial_on_the_diagonal_only)
{
	const char *specs[] = {
		"bigbird: {block: 16, window_blocks: 3, global_blocks: 1, random_blocks: 2, seed: 5}",
		"ds_fixed: {block: 16, local_blocks: 4, global_blocks: 2}",
		"bslongformer: {block: 16, window_blocks: 5, global_block_indices: [0, 2]}",
		"dense",
	};
	for (size_t s = 0; s < 4; s++) {
		struct pattern p;
		struct gset g;
		struct gset_blocks bv;
		struct err e;
		char why[256];
		cr_assert_eq(exp_parse_spec(specs[s], 1, &p, &e), 0);
		cr_assert_eq(gset_build(&g, &p, 256, 256, 1, why, sizeof why), 0);
		cr_assert_eq(gset_block_view(&g, 0, 16, 16, &bv), 0);
		for (long R = 0; R < bv.n_brow; R++) {
			int diag = 0;
			for (int64_t k = bv.row_ptr[R]; k < bv.row_ptr[R + 1]; k++) {
				cr_assert(bv.col[k] <= R, "%s: block (%ld, %d) above the diagonal", specs[s], R, bv.col[k]);
				cr_assert_eq(bv.full[k], bv.col[k] != R, "%s: block (%ld, %d)", specs[s], R, bv.col[k]);
				diag |= bv.col[k] == R;
			}
			cr_assert(diag, "%s: diagonal block %ld missing", specs[s], R);
		}
		gset_blocks_free(&bv);
		gset_free(&g);
		pat_free(&p);
	}
}

/* The block view counts pairs exactly: compare with a per-pair count. */
Test(blocks, block_view_matches_pairs)
{
	const char *specs[] = { "window: {size: 10}", "sink_window: {sinks: 3, size: 5}",
				"strided: {stride: 7}", "random: {density: 0.3, seed: 1}",
				"document: {lengths: [20, 9]}" };
	long sizes[][2] = { { 8, 8 }, { 5, 3 }, { 16, 32 } };
	for (size_t s = 0; s < 5; s++)
		for (size_t z = 0; z < 3; z++) {
			struct pattern p;
			struct gset g;
			struct gset_blocks bv;
			struct err e;
			char why[256];
			long n = 61, br = sizes[z][0], bc = sizes[z][1];
			int64_t k = 0;
			cr_assert_eq(exp_parse_spec(specs[s], 1, &p, &e), 0);
			cr_assert_eq(gset_build(&g, &p, n, n, 1, why, sizeof why), 0);
			cr_assert_eq(gset_block_view(&g, 0, br, bc, &bv), 0);
			for (long R = 0; R < bv.n_brow; R++)
				for (long C = 0; C < bv.n_bcol; C++) {
					long cnt = 0, area = 0;
					for (long i = R * br; i < (R + 1) * br && i < n; i++)
						for (long j = C * bc; j < (C + 1) * bc && j < n; j++) {
							int64_t nr, t;
							const struct pat_range *rg = gset_row(&g, 0, i, &nr);
							for (t = 0; t < nr && !(rg[t].lo <= j && j < rg[t].hi); t++)
								;
							cnt += t < nr;
							area++;
						}
					if (!cnt)
						continue;
					cr_assert(k < bv.row_ptr[R + 1] && bv.col[k] == C,
						  "%s %ldx%ld: block (%ld, %ld) missing", specs[s], br, bc, R, C);
					cr_assert_eq(bv.full[k], cnt == area, "%s block (%ld, %ld)", specs[s], R, C);
					k++;
				}
			cr_assert_eq(k, bv.row_ptr[bv.n_brow], "%s: extra blocks", specs[s]);
			gset_blocks_free(&bv);
			gset_free(&g);
			pat_free(&p);
		}
}

Test(blocks, big_window_builds_fast_without_a_mask, .timeout = 10)
{
	struct pattern p;
	struct gset g;
	struct gset_blocks bv;
	struct err e;
	char why[256];

	cr_assert_eq(exp_parse_spec("window: {size: 512}", 1, &p, &e), 0);
	cr_assert_eq(gset_build(&g, &p, 1 << 20, 1 << 20, 1, why, sizeof why), 0);
	cr_assert_eq(gset_block_view(&g, 0, 64, 64, &bv), 0);
	cr_assert_eq(bv.n_brow, (1 << 20) / 64);
	cr_assert_eq(g.st.nnz, 512LL * 513 / 2 + (long long)((1 << 20) - 512) * 512);
	gset_blocks_free(&bv);
	gset_free(&g);
	pat_free(&p);
}

Test(kv_rows, closed_forms)
{
	struct { const char *spec; long n, want; } cases[] = {
		{ "dense", 100, 100 },
		{ "window: {size: 16}", 100, 16 },
		{ "window: {size: 16}", 10, 10 },
		{ "sink_window: {sinks: 4, size: 16}", 100, 20 },
		{ "dilated: {size: 4, dilation: 3}", 100, 10 },
		{ "chunked: {size: 32}", 100, 4 },
		{ "chunked: {size: 32}", 96, 32 },
		{ "fixed: {block: 10, summary: 2}", 35, 5 + 2 * 3 },
		{ "document: {lengths: [30, 50]}", 60, 30 },
		{ "global: {tokens: [0, 3]}", 100, 2 },
		{ "global: {tokens: [0, 99]}", 100, 100 },
		{ "ds_fixed: {block: 4, local_blocks: 4, global_blocks: 1}", 40, 8 + 2 * 4 },
		{ "union: [{window: {size: 8}}, {global: {tokens: [0, 1]}}]", 100, 10 },
		{ "strided: {stride: 8}", 100, 100 },
		{ "random: {density: 0.5}", 100, 100 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct pattern p;
		struct err e;
		cr_assert_eq(exp_parse_spec(cases[i].spec, 1, &p, &e), 0, "%s", e.msg);
		cr_assert_eq(pat_kv_rows(&p, cases[i].n), cases[i].want, "%s at n %ld",
			     cases[i].spec, cases[i].n);
		pat_set_causal(&p, 0);
		cr_assert_eq(pat_kv_rows(&p, cases[i].n), cases[i].n, "%s bidirectional", cases[i].spec);
		pat_free(&p);
	}
}

Test(spec, every_kind_round_trips_through_its_spec)
{
	const char *specs[] = {
		"dense", "window: {size: 7}", "sink_window: {sinks: 3, size: 6}",
		"dilated: {size: 4, dilation: 3}", "strided: {stride: 5}",
		"fixed: {block: 6, summary: 2}", "chunked: {size: 9}", "prefix_lm: {prefix: 11}",
		"document: {lengths: [10, 17, 5]}", "global: {tokens: [0, 13]}",
		"random: {density: 0.2, seed: 3, per_head: true}",
		"bigbird: {block: 4, window_blocks: 3, global_blocks: 1, random_blocks: 2, seed: 1}",
		"ds_fixed: {block: 4, local_blocks: 4, global_blocks: 1, different_per_head: true}",
		"bslongformer: {block: 4, window_blocks: 3, global_block_indices: [0, 6]}",
		"union: [dense, {window: {size: 4}}, {union: [{global: {tokens: [1]}}]}]",
		"difference: [{chunked: {size: 16}}, {window: {size: 2}}]",
		"explicit: {rows: [[0], [], [1, 2], [0, 3]]}",
	};
	for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
		struct pattern a, b;
		struct gset ga, gb;
		struct err e;
		char spec[4096], why[256];
		cr_assert_eq(exp_parse_spec(specs[s], 1, &a, &e), 0, "%s", e.msg);
		cr_assert_eq(pat_to_spec(&a, spec, sizeof spec), 0);
		cr_assert_eq(exp_parse_spec(spec, 1, &b, &e), 0, "%s -> %s: %s", specs[s], spec, e.msg);
		cr_assert_str_eq(a.label, b.label);
		cr_assert_eq(gset_build(&ga, &a, 40, 40, 4, why, sizeof why), 0);
		cr_assert_eq(gset_build(&gb, &b, 40, 40, 4, why, sizeof why), 0);
		cr_assert_eq(ga.row_ptr[ga.n_layouts * 40], gb.row_ptr[gb.n_layouts * 40]);
		for (int64_t k = 0; k < ga.row_ptr[ga.n_layouts * 40]; k++)
			cr_assert(ga.ranges[k].lo == gb.ranges[k].lo && ga.ranges[k].hi == gb.ranges[k].hi,
				  "%s differs after its spec %s", specs[s], spec);
		gset_free(&ga);
		gset_free(&gb);
		pat_free(&a);
		pat_free(&b);
	}
}

/* Content-selected kinds write back specs that parse to the same
 * parameters, a parameter left "not given" (block_topk's k under
 * coverage) included: the manifest's specs feed the masks picture. */
Test(spec, selected_kinds_round_trip_through_their_spec)
{
	const char *specs[] = {
		"block_topk: {block: 16, coverage: 0.8}", "block_topk: {k: 3}",
		"block_topk: {estimate: antidiagonal, stride: 4, coverage: 0.9}",
		"vertical_slash: {last_q: 8, verticals: 5, slashes: 6, sink_keys: 2, local_offsets: 3}", "quest: {page: 8, budget: 64}",
		"snapkv: {window: 8, capacity: 40}", "nsa_select: {select_n: 4}",
	};
	for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
		struct pattern a, b;
		struct err e;
		char spec[1024], again[1024];
		cr_assert_eq(exp_parse_spec(specs[s], 1, &a, &e), 0, "%s", e.msg);
		cr_assert_eq(pat_to_spec(&a, spec, sizeof spec), 0);
		cr_assert_eq(exp_parse_spec(spec, 1, &b, &e), 0, "%s -> %s: %s", specs[s], spec, e.msg);
		cr_assert_str_eq(a.label, b.label);
		cr_assert_eq(pat_to_spec(&b, again, sizeof again), 0);
		cr_assert_str_eq(spec, again);
		pat_free(&a);
		pat_free(&b);
	}
}
