/* test_kernels.c - every kernel against the oracle on edge shapes, the
 * worked output example of DESIGN.md, and the kernels' own tallies. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/run/runner.h"
#include "../kernels/isa/simd.h"
#include "helpers.h"

struct edge_case {
	const char *spec;
	int causal;
	long n;
	int batch, heads, kv_heads, d;
};

static const struct edge_case edge_cases[] = {
	{ "dense", 1, 1, 1, 1, 1, 4 },                  /* n = 1 */
	{ "dense", 1, 2, 1, 2, 2, 8 },                  /* n = 2 */
	{ "window: {size: 3}", 1, 37, 2, 2, 1, 16 },    /* n not a tile multiple */
	{ "window: {size: 5}", 1, 33, 1, 2, 2, 1 },     /* head_dim 1 */
	{ "sink_window: {sinks: 2, size: 7}", 1, 45, 1, 2, 2, 80 },     /* head_dim 80 */
	{ "sink_window: {sinks: 4, size: 8}", 1, 40, 1, 8, 2, 16 },     /* GQA 8 / 2 */
	{ "dense", 0, 19, 1, 2, 2, 8 },                 /* bidirectional */
	{ "window: {size: 6}", 0, 23, 1, 2, 1, 8 },     /* bidirectional window, GQA */
	{ "explicit: {rows: [[0], [], [0, 2], [1, 3], []]}", 1, 7, 1, 2, 2, 8 }, /* empty rows */
};

Test(kernels, agree_with_oracle_on_edge_shapes)
{
	for (size_t c = 0; c < sizeof edge_cases / sizeof *edge_cases; c++) {
		const struct edge_case *ec = &edge_cases[c];
		for (int k = 0; k < kern_count; k++)
			for (int threads = 1; threads <= 2; threads++) {
				struct fixture fx;
				long bad;
				double err;
				fx_make(&fx, ec->spec, ec->causal, ec->n, ec->batch, ec->heads,
					ec->kv_heads, ec->d, 1.0f);
				err = fx_max_err(&fx, kern_table[k], threads, &bad);
				cr_assert_eq(bad, 0, "%s on %s n %ld: non-finite output",
					     kern_table[k]->name, ec->spec, ec->n);
				cr_assert(err <= VERIFY_MAX_ABS, "%s on %s n %ld d %d: error %g",
					  kern_table[k]->name, ec->spec, ec->n, ec->d, err);
				fx_free(&fx);
			}
	}
}

Test(kernels, empty_rows_give_zeros)
{
	for (int k = 0; k < kern_count; k++) {
		struct fixture fx;
		long bad;
		fx_make(&fx, "explicit: {rows: [[0], []]}", 1, 4, 1, 1, 1, 8, 1.0f);
		fx_max_err(&fx, kern_table[k], 2, &bad);
		for (long r = 1; r < 4; r++)
			for (int c = 0; c < 8; c++)
				cr_assert_eq(fx.o[r * 8 + c], 0.0f, "%s row %ld", kern_table[k]->name, r);
		fx_free(&fx);
	}
}

Test(kernels, large_scores_stay_finite)
{
	/* q.k / sqrt(d) reaches about 80: exp would overflow without the max */
	for (int k = 0; k < kern_count; k++) {
		struct fixture fx;
		long bad;
		double err;
		fx_make(&fx, "sink_window: {sinks: 2, size: 9}", 1, 50, 1, 2, 2, 64, 3.0f);
		err = fx_max_err(&fx, kern_table[k], 2, &bad);
		cr_assert_eq(bad, 0, "%s overflowed", kern_table[k]->name);
		cr_assert(err <= VERIFY_MAX_ABS, "%s error %g", kern_table[k]->name, err);
		fx_free(&fx);
	}
}

/* DESIGN.md: alpha_{3,0} = 0.6, alpha_{3,2} = 0.4, v_0 = [1,0], v_1 = [2,2],
 * v_2 = [0,3] give out_3 = [0.6, 1.2]. */
Test(worked, explicit_weights_give_documented_output)
{
	for (int k = 0; k < kern_count; k++) {
		struct fixture fx;
		long bad;
		fx_make(&fx, "explicit: {rows: [[0], [0, 1], [0, 1, 2], [0, 2]]}", 1, 4,
			1, 1, 1, 2, 1.0f);
		memset(fx.q, 0, 8 * sizeof(float));
		memset(fx.k, 0, 8 * sizeof(float));
		fx.q[3 * 2] = (float)(log(1.5) * sqrt(2.0));   /* s_30 = ln 1.5 */
		fx.k[0 * 2] = 1.0f;                             /* s_32 = 0 */
		fx.v[0] = 1, fx.v[1] = 0, fx.v[2] = 2, fx.v[3] = 2, fx.v[4] = 0, fx.v[5] = 3;
		fx_max_err(&fx, kern_table[k], 1, &bad);
		cr_assert_float_eq(fx.o[6], 0.6f, 1e-6, "%s", kern_table[k]->name);
		cr_assert_float_eq(fx.o[7], 1.2f, 1e-6, "%s", kern_table[k]->name);
		fx_free(&fx);
	}
}

Test(kernels, tallies_match_the_cost_model)
{
	/* short rows, and long rows that share their runs (blocks of ranges) */
	struct { const char *spec; long n; } cases[] = {
		{ "sink_window: {sinks: 3, size: 10}", 64 },
		{ "sink_window: {sinks: 3, size: 100}", 200 },
	};

	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
		for (int k = 0; k < kern_count; k++) {
			struct fixture fx;
			struct kern_cost cost = { 0 };
			long long pairs, flops;
			if (kern_table[k]->unavailable && kern_table[k]->unavailable())
				continue;       /* not built here */
			fx_make(&fx, cases[c].spec, 1, cases[c].n, 2, 4, 2, 16, 1.0f);
			flops = fx_run_tallied(&fx, kern_table[k], &pairs);
			kern_table[k]->cost(&fx.p, 2, &cost);
			cr_assert_eq(flops, (long long)cost.flops_exec, "%s on %s",
				     kern_table[k]->name, cases[c].spec);
			cr_assert_eq(pairs, 2LL * 4 * fx.g.st.nnz, "%s on %s",
				     kern_table[k]->name, cases[c].spec);
			fx_free(&fx);
		}
}

/* ranges walks a block of rows together when its rows share their runs
 * (executed FLOPs then exceed 4 d per pair: the union's box) and row by
 * row when they do not (exactly 4 d per pair); both agree with the oracle
 * on every ISA, with chunks masked, full, cut by run ends and by n. */
Test(kernels, ranges_walks_shared_runs_together_and_scattered_rows_alone)
{
	struct { const char *spec; long n; int together; } cases[] = {
		{ "window: {size: 100}", 300, 1 },
		{ "sink_window: {sinks: 4, size: 120}", 333, 1 },
		{ "chunked: {size: 96}", 250, 1 },
		{ "union: [{window: {size: 70}}, {global: {tokens: [5, 6, 7]}}]", 260, 1 },
		{ "strided: {stride: 7}", 300, 0 },
		{ "random: {density: 0.05, seed: 2}", 300, 0 },
	};
	const struct kern_desc *k = kern_find("ranges");

	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		if (kern_isa_unsupported((enum kern_isa)isa))
			continue;
		setenv("SABENCH_ISA", kern_isa_name((enum kern_isa)isa), 1);
		for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
			struct fixture fx;
			struct kern_cost cost = { 0 };
			long bad;
			double err, pairs_flops;
			fx_make(&fx, cases[c].spec, 1, cases[c].n, 1, 2, 1, 24, 1.0f);
			err = fx_max_err(&fx, k, 2, &bad);
			cr_assert(bad == 0 && err <= VERIFY_MAX_ABS, "%s, isa %s: error %g",
				  cases[c].spec, kern_isa_name((enum kern_isa)isa), err);
			k->cost(&fx.p, 2, &cost);
			pairs_flops = 4.0 * 24 * (double)gset_pairs(&fx.g, 2);
			if (cases[c].together)
				cr_assert_gt(cost.flops_exec, pairs_flops, "%s", cases[c].spec);
			else
				cr_assert_eq(cost.flops_exec, pairs_flops, "%s", cases[c].spec);
			fx_free(&fx);
		}
	}
}

/* Every ISA's transpose (query packing, tile write-back) on shapes with
 * edge blocks, leaving the destination's other entries alone. */
Test(kernels, transpose_packs_and_writes_back_every_shape)
{
	int shapes[][2] = { { 64, 64 }, { 37, 80 }, { 5, 3 }, { 64, 128 }, { 1, 1 }, { 17, 33 } };

	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		if (kern_isa_unsupported((enum kern_isa)isa))
			continue;
		for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
			int rows = shapes[t][0], cols = shapes[t][1];
			long lds = cols + 3, ldd = rows + 5;
			float *src = malloc(sizeof *src * (size_t)(rows * lds));
			float *dst = malloc(sizeof *dst * (size_t)(cols * ldd));
			for (long i = 0; i < rows * lds; i++)
				src[i] = 0.5f * (float)i;
			for (long i = 0; i < cols * ldd; i++)
				dst[i] = -7.0f;
			kern_simd_of((enum kern_isa)isa)->transpose(src, lds, dst, ldd, rows, cols, 2.0f);
			for (int c = 0; c < cols; c++)
				for (long i = 0; i < ldd; i++)
					cr_assert_eq(dst[c * ldd + i], i < rows ? 2.0f * src[i * lds + c] : -7.0f,
						     "%s %dx%d at (%d, %ld)", kern_simd_of((enum kern_isa)isa)->name, rows, cols, c, i);
			free(src);
			free(dst);
		}
	}
}

/* One spec of every pattern kind (per-head variants included). */

Test(kernels, the_kind_list_covers_the_registry)
{
	for (int k = 0; k < pat_kind_count; k++) {
		size_t n = strlen(pat_kinds[k]->name), s;
		for (s = 0; s < fx_every_kind_count; s++)
			if (!strncmp(fx_every_kind[s], pat_kinds[k]->name, n) && fx_every_kind[s][n] <= ':')
				break;
		cr_assert(s < fx_every_kind_count || !strcmp(pat_kinds[k]->name, "csr") || pat_kinds[k]->selected,
			  "fx_every_kind lacks '%s'", pat_kinds[k]->name);
	}
}

Test(kernels, agree_with_oracle_on_every_kind)
{
	for (size_t s = 0; s < fx_every_kind_count; s++)
		for (int causal = 1; causal >= 0; causal--) {
			if (!causal && strstr(fx_every_kind[s], "explicit"))
				continue;
			for (int k = 0; k < kern_count; k++) {
				struct fixture fx;
				long bad;
				double err;
				fx_make(&fx, fx_every_kind[s], causal, 45, 1, 4, 2, 16, 1.0f);
				err = fx_max_err(&fx, kern_table[k], 2, &bad);
				cr_assert_eq(bad, 0, "%s on %s: non-finite", kern_table[k]->name, fx_every_kind[s]);
				cr_assert(err <= VERIFY_MAX_ABS, "%s on %s (%s): error %g",
					  kern_table[k]->name, fx_every_kind[s],
					  causal ? "causal" : "bidirectional", err);
				fx_free(&fx);
			}
		}
}

/* Every ISA path the machine can run agrees with the oracle (the portable
 * path always; AVX2 and AVX-512 where the CPU has them). */
Test(kernels, every_isa_path_agrees_with_oracle)
{
	const char *specs[] = { "dense", "sink_window: {sinks: 2, size: 9}",
				"random: {density: 0.3, seed: 5}",
				"explicit: {rows: [[0], [], [0, 2]]}" };
	int dims[] = { 1, 3, 64, 80, 128, 256 };
	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		if (kern_isa_unsupported((enum kern_isa)isa))
			continue;
		setenv("SABENCH_ISA", kern_isa_name((enum kern_isa)isa), 1);
		cr_assert_eq(kern_isa(), (enum kern_isa)isa);
		for (size_t s = 0; s < sizeof specs / sizeof *specs; s++)
			for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
				for (int k = 0; k < kern_count; k++) {
					struct fixture fx;
					long bad;
					double err;
					fx_make(&fx, specs[s], 1, 70, 1, 2, 1, dims[di], 1.0f);
					err = fx_max_err(&fx, kern_table[k], 2, &bad);
					cr_assert(bad == 0 && err <= VERIFY_MAX_ABS,
						  "%s on %s, d %d, isa %s: error %g, %ld non-finite",
						  kern_table[k]->name, specs[s], dims[di],
						  kern_isa_name((enum kern_isa)isa), err, bad);
					fx_free(&fx);
				}
	}
	unsetenv("SABENCH_ISA");
}

/* Every ISA's max slot equals the scalar max on every length through its
 * vector and tail paths, with -inf entries, a NaN passed over, and the
 * running max m when nothing exceeds it. */
Test(kernels, every_isa_max_equals_the_scalar_max)
{
	float x[100];

	for (int i = 0; i < 100; i++)
		x[i] = (float)((i * 37) % 101) - 50.0f;
	x[3] = -INFINITY;
	x[40] = NAN;
	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		const struct simd_ops *ops = kern_simd_of((enum kern_isa)isa);
		if (kern_isa_unsupported((enum kern_isa)isa))
			continue;
		for (int n = 0; n <= 100; n++)
			for (int start = 0; start < 3; start++) {
				float m = start == 0 ? -INFINITY : start == 1 ? 0.0f : 60.0f, want = m;
				int len = n - start < 0 ? 0 : n - start;
				for (int i = 0; i < len; i++)
					want = x[start + i] > want ? x[start + i] : want;
				cr_assert_eq(ops->max(x + start, len, m), want, "%s n %d from %d, m %g",
					     ops->name, len, start, m);
			}
	}
}
