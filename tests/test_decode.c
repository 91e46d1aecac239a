/* test_decode.c - decoding through KV caches: ring and sink_ring caches
 * that wrap around many times give the oracle's output for every token;
 * every layout x cache type x ISA path gives the oracle's output on the
 * values the cache holds; each layout's cache bytes equal what it
 * allocates; special values convert as defined. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../harness/run/model.h"
#include "../harness/run/runner.h"
#include "../kernels/kvcache.h"
#include "../kernels/isa/quant.h"
#include "helpers.h"

/* Decodes the last steps tokens of fx (built for n) one by one through a
 * cache of layout l and type t; the largest error against the oracle on
 * the values the cache holds. */
static double decode_err(struct fixture *fx, long steps, enum kv_layout l,
			 enum dtype t, long ring, long sinks)
{
	return fx_cache_run(fx, steps, l, t, ring, sinks, 0, NULL, NULL);
}

Test(decode, ring_caches_wrap_and_stay_exact)
{
	struct fixture fx;

	/* window 16 over 200 tokens, 150 decoded: the ring wraps 9 times */
	fx_make(&fx, "window: {size: 16}", 1, 200, 2, 4, 2, 32, 1.0f);
	cr_assert(decode_err(&fx, 150, KV_RING, DT_F32, 16, 0) <= VERIFY_MAX_ABS);
	cr_assert(decode_err(&fx, 150, KV_PAGED, DT_F32, 16, 0) <= VERIFY_MAX_ABS);
	cr_assert(decode_err(&fx, 150, KV_FULL, DT_F32, 16, 0) <= VERIFY_MAX_ABS);
	fx_free(&fx);
	fx_make(&fx, "sink_window: {sinks: 4, size: 12}", 1, 200, 1, 2, 1, 16, 1.0f);
	cr_assert(decode_err(&fx, 180, KV_SINK_RING, DT_F32, 12, 4) <= VERIFY_MAX_ABS);
	fx_free(&fx);
	fx_make(&fx, "dilated: {size: 5, dilation: 3}", 1, 120, 1, 2, 2, 16, 1.0f);
	cr_assert(decode_err(&fx, 100, KV_RING, DT_F32, 13, 0) <= VERIFY_MAX_ABS);
	fx_free(&fx);
}

Test(decode, keys_split_among_threads_merge_exactly)
{
	struct fixture fx;

	/* one K/V head for 4 query heads and 2 threads: each token's 2048
	 * keys go to 4 splits, the group walks them together */
	fx_make(&fx, "dense", 1, 2048, 1, 4, 1, 32, 1.0f);
	cr_assert(decode_err(&fx, 6, KV_FULL, DT_F32, 0, 0) <= VERIFY_MAX_ABS);
	cr_assert(decode_err(&fx, 6, KV_PAGED, DT_BF16, 0, 0) <= VERIFY_MAX_ABS);
	cr_assert(decode_err(&fx, 6, KV_PAGED, DT_KIVI4, 0, 0) <= VERIFY_MAX_ABS);
	cr_assert(decode_err(&fx, 6, KV_FULL, DT_Q4_0, 0, 0) <= VERIFY_MAX_ABS);
	fx_free(&fx);
	/* heads of one group reading different keys walk one by one */
	fx_make(&fx, "random: {density: 0.05, seed: 3, per_head: true}", 1, 2048, 1, 2, 1, 16, 1.0f);
	cr_assert(decode_err(&fx, 6, KV_FULL, DT_F32, 0, 0) <= VERIFY_MAX_ABS);
	fx_free(&fx);
	/* a window over a ring split among threads, wrapping meanwhile */
	fx_make(&fx, "window: {size: 1500}", 1, 4000, 1, 2, 1, 16, 1.0f);
	cr_assert(decode_err(&fx, 300, KV_RING, DT_F32, 1500, 0) <= VERIFY_MAX_ABS);
	fx_free(&fx);
}

Test(decode, bounded_layouts_refuse_what_they_cannot_serve)
{
	struct fixture fx;
	struct gset g;
	char why[256];

	fx_make(&fx, "dense", 1, 64, 1, 1, 1, 8, 1.0f);
	cr_assert_eq(gset_build(&g, &fx.pat, 8, 64, 1, why, sizeof why), 0);
	cr_assert_not(kvc_serves(&g, KV_RING, 16, 0, 0));
	cr_assert(kvc_serves(&g, KV_RING, 64, 0, 0));
	cr_assert(kvc_serves(&g, KV_PAGED, 1, 0, 0));
	gset_free(&g);
	fx_free(&fx);
}

/* Every cache type through every layout on every ISA path this CPU runs
 * agrees with the oracle on the values the cache holds: GQA, a token
 * count no group divides, rings that wrap while KIVI's groups fill
 * (ring and sinks whole groups of 16), and empty rows. */
/* Decoded one by one, and as one chunk (mode extend: its ring keeps the
 * window and C - 1 rows more, in whole KIVI groups, as the runner sizes
 * it); the last case's chunk is the whole sequence (a prefill). */
Test(decode, every_layout_type_and_isa_matches_the_oracle_on_held_values)
{
	static const struct { const char *spec; enum kv_layout l; long ring, sinks, n, steps; } cases[] = {
		{ "dense", KV_FULL, 0, 0, 203, 45 },
		{ "dense", KV_PAGED, 0, 0, 203, 45 },
		{ "window: {size: 64}", KV_RING, 64, 0, 250, 120 },
		{ "sink_window: {sinks: 16, size: 48}", KV_SINK_RING, 48, 16, 250, 120 },
		{ "random: {density: 0.02, seed: 5}", KV_FULL, 0, 0, 150, 30 },
		{ "dense", KV_FULL, 0, 0, 77, 77 },
	};
	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		if (kern_isa_unsupported((enum kern_isa)isa))
			continue;
		setenv("SABENCH_ISA", kern_isa_name((enum kern_isa)isa), 1);
		for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
			struct fixture fx;
			char what[160];
			snprintf(what, sizeof what, "%s: %s", kern_isa_name((enum kern_isa)isa), cases[i].spec);
			fx_make(&fx, cases[i].spec, 1, cases[i].n, 1, 4, 2, 64, 1.0f);
			fx_cache_every_type(&fx, cases[i].steps, cases[i].l, cases[i].ring, cases[i].sinks, what);
			fx_free(&fx);
		}
	}
	unsetenv("SABENCH_ISA");
}

/* Every fp8 code through each ISA's loads, weighed by 1 into zeros,
 * comes out as the reference decoder reads it (codes that are NaN in
 * e4m3 aside: the fast paths read them as 480). */
Test(decode, every_isa_decodes_every_fp8_code_exactly)
{
	uint8_t row[256];
	float acc[256], one = 1.0f;

	for (int i = 0; i < 256; i++)
		row[i] = (uint8_t)i;
	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		const struct simd_ops *ops = kern_simd_of((enum kern_isa)isa);
		if (kern_isa_unsupported((enum kern_isa)isa))
			continue;
		for (int t = DT_FP8_E4M3; t <= DT_FP8_E5M2; t++)
			for (int d = 16; d <= 256; d += 240) {  /* a tail and whole vectors */
				memset(acc, 0, sizeof acc);
				ops->axpys_kv[t](acc, &one, row + 256 - d, 1, d, 1);
				for (int i = 0; i < d; i++) {
					uint8_t code = row[256 - d + i];
					float want = fp8_decode(code, t == DT_FP8_E4M3);
					if (isnan(want) && t == DT_FP8_E4M3)
						continue;
					if (isnan(want))
						cr_assert(isnan(acc[i]), "%s %s %02x", ops->name, dtype_names[t], code);
					else
						cr_assert_eq(acc[i], want, "%s %s %02x: %a, want %a", ops->name,
							     dtype_names[t], code, acc[i], want);
				}
			}
	}
}

Test(decode, cache_bytes_are_what_the_layout_allocates)
{
	struct { enum kv_layout l; long n, ring, sinks, rows; } cases[] = {
		{ KV_FULL, 1000, 0, 0, 1000 }, { KV_RING, 1000, 256, 0, 256 },
		{ KV_RING, 100, 256, 0, 100 }, { KV_SINK_RING, 1000, 252, 4, 256 },
		{ KV_PAGED, 1000, 0, 0, 1024 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		for (int t = 0; t < DT_COUNT; t++) {
			struct kv_cache c;
			struct fixture fx;
			struct kern_cost cost = { 0 };
			cr_assert_eq(kvc_init(&c, cases[i].l, (enum dtype)t, 32, 32, cases[i].n,
					      cases[i].ring, cases[i].sinks, 1), 0);
			cr_assert_eq(c.rows, cases[i].rows, "%s", kv_layout_names[cases[i].l]);
			fx_make(&fx, "dense", 1, cases[i].n, 1, 2, 1, 32, 1.0f);
			fx.p.kv_layout = cases[i].l;
			fx.p.kv_dtype = (enum dtype)t;
			fx.p.kv_ring = cases[i].ring;
			fx.p.kv_sinks = cases[i].sinks;
			kern_find("decode")->cost(&fx.p, 1, &cost);
			cr_assert_eq((long)cost.kv_cache_bytes,
				     2L * c.rows * (long)dtype_row_bytes((enum dtype)t, 32, 1),
				     "%s %s", kv_layout_names[cases[i].l], dtype_names[t]);
			fx_free(&fx);
			kvc_free(&c);
		}
}

Test(decode, special_values_convert_as_defined)
{
	float inf = INFINITY, tiny = 1e-40f, f16_tiny = 6e-8f;

	cr_assert(isinf(dt_from_f16(dt_to_f16(inf))) && dt_from_f16(dt_to_f16(-inf)) < 0);
	cr_assert(isnan(dt_from_f16(dt_to_f16(NAN))));
	cr_assert(isinf(dt_from_f16(dt_to_f16(70000.0f))), "f16 overflows to inf");
	cr_assert_float_eq(dt_from_f16(dt_to_f16(f16_tiny)), 5.9604645e-8f, 1e-12, "f16 denormal");
	cr_assert(isinf(dt_from_bf16(dt_to_bf16(inf))));
	cr_assert(isnan(dt_from_bf16(dt_to_bf16(NAN))));
	cr_assert_eq(dt_from_bf16(dt_to_bf16(70000.0f)), 70144.0f, "bf16 keeps fp32's range");
	cr_assert_eq(dt_from_bf16(dt_to_bf16(tiny)) > 0, 1, "bf16 keeps denormals");
	cr_assert_eq(dt_from_bf16(dt_to_bf16(1.00390625f)), 1.0f, "ties round to even");
	cr_assert_eq(dt_from_bf16(dt_to_bf16(1.01171875f)), 1.015625f, "ties round to even");
}

Test(decode, experiment_runs_verified_decode_cells, .timeout = 60)
{
	const char *dir = temp_dir();
	char exp[256], out[256], path[300], *err = NULL;
	struct csv t;

	snprintf(exp, sizeof exp, "%s/dec.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp,
		   "shape: {heads: 2, kv_heads: 1, head_dim: 16, threads: 2, mode: decode, decode_steps: 40}\n"
		   "sweep: {seq_len: [64, 100], kv_layout: [auto, paged], kv_dtype: [f32, bf16]}\n"
		   "patterns: [dense, {window: {size: 8}}, {sink_window: {sinks: 2, size: 6}}]\n"
		   "kernels: [decode, tiled]\n"
		   "run: {warmup: 1, repeats: 2, min_time_ms: 0}\n"
		   "counters: [sabench::pairs]\n");
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);
	for (int i = 0; i < t.nrow; i++) {
		const char *k = csv_get(&t, i, "kernel"), *lay = csv_get(&t, i, "kv_layout");
		cr_assert_str_eq(csv_get(&t, i, "mode"), "decode");
		cr_assert_str_eq(csv_get(&t, i, "n_q"), "40");
		if (!strcmp(k, "tiled") && strcmp(csv_get(&t, i, "kv_dtype"), "f32"))
			cr_assert(strstr(csv_get(&t, i, "status"), "skipped: reads K/V as full f32 arrays"));
		if (!strcmp(csv_get(&t, i, "status"), "ok")) {
			cr_assert_str_eq(csv_get(&t, i, "verified"), "yes", "%s", csv_get(&t, i, "cell"));
			cr_assert_gt(atof(csv_get(&t, i, "tokens_per_s")), 0);
		}
		if (!strcmp(k, "decode") && strstr(csv_get(&t, i, "cell"), "/auto/")) {
			const char *pat = csv_get(&t, i, "pattern");
			const char *want = !strcmp(pat, "window") ? "ring" : !strcmp(pat, "sink_window") ? "sink_ring" : "full";
			cr_assert_str_eq(lay, want, "%s", csv_get(&t, i, "cell"));
		}
	}
	csv_free(&t);
	free(err);
}

Test(budget, longest_context_matches_direct_evaluation)
{
	const char *specs[] = { "dense", "strided: {stride: 64}", "fixed: {block: 100, summary: 3}",
				"global: {tokens: [0, 5]}", "window: {size: 512}", "chunked: {size: 4096}",
				"document: {lengths: [1000, 3000]}" };
	double row = 2.0 * 8 * 128 * 2, budget = 256.0 * 1048576;  /* 256 MiB, bf16 */
	for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
		struct pattern p;
		struct err e;
		long n;
		cr_assert_eq(exp_parse_spec(specs[s], 1, &p, &e), 0);
		n = pat_longest_context(&p, row, budget);
		if (n < 0) {
			for (long m = 1; m < (1L << 30); m = m * 3 + 1)
				cr_assert((double)pat_kv_rows(&p, m) * row <= budget, "%s at %ld", specs[s], m);
		} else {
			cr_assert((double)pat_kv_rows(&p, n) * row <= budget, "%s: %ld does not fit", specs[s], n);
			cr_assert((double)pat_kv_rows(&p, n + 1) * row > budget, "%s: %ld + 1 fits too", specs[s], n);
		}
		pat_free(&p);
	}
}

Test(budget, stack_totals_are_the_sum_of_their_layers, .timeout = 60)
{
	const char *dir = temp_dir();
	char exp[256], out[256], path[300], *md, *err = NULL;

	snprintf(exp, sizeof exp, "%s/stack.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(exp,
		   "shape: {heads: 2, kv_heads: 2, head_dim: 16, threads: 1, mode: decode, decode_steps: 4}\n"
		   "sweep: {seq_len: [256]}\n"
		   "patterns: [dense, {label: local, window: {size: 32}}]\n"
		   "kernels: [decode]\n"
		   "run: {warmup: 0, repeats: 2, min_time_ms: 0}\n"
		   "kv_budget: 64 KiB\n"
		   "model: {name: mixed, layers: [{count: 3, pattern: local}, {count: 1, pattern: dense}]}\n"
		   "counters: [sabench::pairs]\n");
	char *run[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(run, NULL, &err), 0, "%s", err);
	char *rep[] = { "sabench", "report", out, NULL };
	cr_assert_eq(run_bin(rep, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/report.md", out);
	md = read_text(path);
	/* per token 2 x 2 heads x 16 x 4 B = 256 B; at 256: 3 x 32 + 1 x 256 rows */
	cr_assert(strstr(md, "| 256 | 88.0 KiB |"), "%s", md);
	/* at 32768: 3 x 32 + 32768 rows = 32864 x 256 B */
	cr_assert(strstr(md, "| 32768 | 8.0 MiB | not measured |"), "%s", md);
	/* budget 64 KiB at 256 B a token: dense fits 256 tokens, the window any */
	cr_assert(strstr(md, "| dense | fits | 256 |"), "%s", md);
	cr_assert(strstr(md, "| local | fits | any length (bounded cache) |"), "%s", md);
	free(md);
	free(err);
}

/* Widens halves h0 .. h0 + d - 1 (f16 or bf16 as t) through ops'
 * axpys_kv and checks each against the scalar conversion. */
static void widen_block(const struct simd_ops *ops, int t, unsigned h0, int d)
{
	uint16_t row[80];
	float acc[80] = { 0 }, one = 1.0f;

	for (int i = 0; i < d; i++)
		row[i] = (uint16_t)(h0 + (unsigned)i);
	ops->axpys_kv[t](acc, &one, row, 1, d, 1);
	for (int i = 0; i < d; i++) {
		float want = t == DT_F16 ? dt_from_f16(row[i]) : dt_from_bf16(row[i]);
		if (isnan(want))
			cr_assert(isnan(acc[i]), "%s %s %04x", ops->name, dtype_names[t], row[i]);
		else
			cr_assert_eq(acc[i], want, "%s %s %04x: %g, want %g", ops->name,
				     dtype_names[t], row[i], acc[i], want);
	}
}

Test(decode, f16_round_trips_and_every_isa_widens_f16_and_bf16_exactly)
{
	for (unsigned h = 0; h < 65536; h++) {
		float f = dt_from_f16((uint16_t)h);
		if (isnan(f))
			cr_assert(isnan(dt_from_f16(dt_to_f16(f))), "nan %04x", h);
		else
			cr_assert_eq(dt_to_f16(f), h, "half %04x -> %g -> %04x", h, f, dt_to_f16(f));
	}
	/* every f16 and bf16 value through each ISA's fused loads: one row
	 * weighed by 1 into zeros comes out as stored (80 and 16 channels
	 * take the vector and tail paths) */
	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		const struct simd_ops *ops = kern_simd_of((enum kern_isa)isa);
		if (kern_isa_unsupported((enum kern_isa)isa))
			continue;
		for (int t = DT_F16; t <= DT_BF16; t++)
			for (unsigned h0 = 0; h0 < 65536; h0 += 80)
				widen_block(ops, t, h0, h0 + 80 <= 65536 ? 80 : (int)(65536 - h0));
	}
}

/* Decode judged in one run: the read probe fills probe_gbs and pct_bw in
 * the same rounds as the kernel; with run: {interleave: across_groups}
 * the cells of two groups (n 64 and 512) share their timing rounds, by
 * default one group's rounds all come before the next one's. */
static void rounds_of(const char *out, const char *key_part, long *lo, long *hi)
{
	char path[400];
	struct csv t;

	snprintf(path, sizeof path, "%s/samples.csv", out);
	csv_load(&t, path);
	*lo = 1L << 40;
	*hi = -1;
	for (int i = 0; i < t.nrow; i++)
		if (strstr(csv_get(&t, i, "cell"), key_part)) {
			long r = atol(csv_get(&t, i, "round"));
			*lo = r < *lo ? r : *lo;
			*hi = r > *hi ? r : *hi;
		}
	csv_free(&t);
	cr_assert(*hi >= 0, "no samples of %s", key_part);
}

static void run_interleave(const char *dir, const char *mode, char *out)
{
	char exp[300], text[600];
	char *err = NULL;

	snprintf(exp, sizeof exp, "%s/%s.yaml", dir, mode);
	snprintf(out, 300, "%s/%s", dir, mode);
	snprintf(text, sizeof text,
		 "name: il\nshape: {heads: 2, head_dim: 16, threads: 2, mode: decode, decode_steps: 4}\n"
		 "sweep: {seq_len: [64, 512]}\npatterns: [{window: {size: 16}}]\nkernels: [decode, naive]\n"
		 "run: {warmup: 0, repeats: 4, min_time_ms: 0, interleave: %s}\nquality: {enabled: false}\n", mode);
	write_text(exp, text);
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
	free(err);
}

Test(decode, probe_and_interleaving_across_groups, .timeout = 120)
{
	const char *dir = temp_dir();
	char out[300], path[400];
	long a_lo, a_hi, b_lo, b_hi;
	struct csv t;

	run_interleave(dir, "within_groups", out);
	rounds_of(out, "/n64/", &a_lo, &a_hi);
	rounds_of(out, "/n512/", &b_lo, &b_hi);
	cr_assert(b_lo > a_hi, "within groups: n 512's rounds %ld-%ld follow n 64's %ld-%ld",
		  b_lo, b_hi, a_lo, a_hi);
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);
	for (int i = 0; i < t.nrow; i++) {
		cr_assert(atof(csv_get(&t, i, "probe_gbs")) > 0, "probe_gbs in row %d", i);
		cr_assert(atof(csv_get(&t, i, "pct_bw")) > 0, "pct_bw in row %d", i);
		cr_assert(fabs(atof(csv_get(&t, i, "pct_bw")) - 100.0 * atof(csv_get(&t, i, "kv_gbs")) /
			       atof(csv_get(&t, i, "probe_gbs"))) < 0.05 * atof(csv_get(&t, i, "pct_bw")) + 0.01,
			  "pct_bw = kv_gbs / probe_gbs");
	}
	csv_free(&t);
	run_interleave(dir, "across_groups", out);
	rounds_of(out, "/n64/", &a_lo, &a_hi);
	rounds_of(out, "/n512/", &b_lo, &b_hi);
	cr_assert(a_lo == b_lo && a_hi == b_hi, "across groups: the same rounds, %ld-%ld and %ld-%ld",
		  a_lo, a_hi, b_lo, b_hi);
}

/* A compressed cache type with a kernel that reads K/V as f32 arrays: the
 * cell is skipped with its reason; the decoder's cell runs, verified, and
 * its kv columns say what the type loses against dense f32. */
Test(decode, a_kernel_that_cannot_read_a_compressed_cache_is_skipped_with_its_reason)
{
	struct csv t;

	run_yaml_results("shape: {seq_len: 256, head_dim: 32, heads: 2, mode: decode, decode_steps: 4,"
			 " kv_dtype: q8_0, threads: 1}\npatterns: [dense]\nkernels: [tiled, decode]\n"
			 "run: {repeats: 1, warmup: 0}\n", &t);
	cr_assert_eq(t.nrow, 2);
	for (int i = 0; i < t.nrow; i++) {
		if (!strcmp(csv_get(&t, i, "kernel"), "tiled")) {
			cr_assert_str_eq(csv_get(&t, i, "status"),
					 "skipped: reads K/V as full f32 arrays; kv_layout and kv_dtype need the decode kernel");
			continue;
		}
		cr_assert_str_eq(csv_get(&t, i, "status"), "ok");
		cr_assert_str_eq(csv_get(&t, i, "verified"), "yes");
		cr_assert_str_eq(csv_get(&t, i, "kv_dtype"), "q8_0");
		cr_assert(atof(csv_get(&t, i, "kv_err_dense_mean")) > 0, "q8_0 loses something");
		cr_assert(atof(csv_get(&t, i, "kv_err_dense_mean")) < 0.1);
		cr_assert_str_eq(csv_get(&t, i, "kv_err_dense_mean"), csv_get(&t, i, "kv_err_mean"),
				 "dense G: the type's loss alone");
	}
	csv_free(&t);
}
