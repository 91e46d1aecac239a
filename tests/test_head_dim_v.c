/* test_head_dim_v.c - V and the output of another width than Q and K
 * (head_dim_v, MLA's shapes): every kernel against the oracle on the edge
 * shapes on every ISA path and thread count, in fp32 and bf16 (the AMX
 * and AVX512-BF16 paths on their models too); the decode kernel through
 * every layout and cache type, one by one and chunked; the cost model's
 * FLOPs and bytes worked by hand; and a run that writes the column. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../harness/run/model.h"
#include "../harness/report/serving.h"
#include "../harness/run/runner.h"
#include "../kernels/isa/bf16.h"
#include "../kernels/kvcache.h"
#include "helpers.h"

/* The edge shapes with V narrower and wider than Q and K: n = 1, n off
 * the tile with GQA, empty rows, scattered keys, a band over two runs of
 * blocks, and MLA's two forms scaled down (prefill: q.k over 24 = 16 +
 * 8 rotary, v of 16; absorbed decode: one latent K/V head for every
 * query head, q.k over 40, v of 32). dv past a 32-wide bf16 pad and d
 * under it test the packs' padding. */
static const struct { const char *spec; int causal; long n; int heads, kv_heads, d, dv; } shapes[] = {
	{ "dense", 1, 1, 1, 1, 4, 12 },
	{ "window: {size: 9}", 1, 77, 4, 2, 16, 40 },
	{ "sink_window: {sinks: 2, size: 7}", 1, 45, 2, 2, 80, 24 },
	{ "explicit: {rows: [[0], [], [0, 2], [1, 3], []]}", 1, 7, 2, 2, 8, 3 },
	{ "random: {density: 0.3, seed: 5}", 1, 130, 2, 1, 64, 96 },
	{ "sink_window: {sinks: 4, size: 40}", 1, 400, 2, 1, 32, 16 },
	{ "dense", 0, 29, 2, 1, 8, 1 },
	{ "dense", 1, 150, 4, 2, 24, 16 },              /* MLA prefill, scaled */
	{ "window: {size: 33}", 1, 150, 8, 1, 40, 32 }, /* MLA absorbed, scaled */
};

static void check(size_t s, const struct kern_desc *k, int threads, int bf16, const char *isa)
{
	struct fixture fx;
	long bad;
	double err, limit = bf16 ? VERIFY_MAX_ABS_BF16 : VERIFY_MAX_ABS;

	fx_make_dv(&fx, shapes[s].spec, shapes[s].causal, shapes[s].n, 1, shapes[s].heads,
		   shapes[s].kv_heads, shapes[s].d, shapes[s].dv, bf16 ? 2.0f : 1.0f);
	if (bf16)
		fx_bf16(&fx);
	err = fx_max_err(&fx, k, threads, &bad);
	cr_assert(bad == 0 && err <= limit, "%s%s on %s n %ld d %d dv %d, isa %s, %d threads: error %g, %ld non-finite",
		  k->name, bf16 ? " (bf16)" : "", shapes[s].spec, shapes[s].n, shapes[s].d, shapes[s].dv,
		  isa, threads, err, bad);
	fx_free(&fx);
}

Test(head_dim_v, every_kernel_agrees_with_the_oracle_on_every_isa_path)
{
	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		const char *name = kern_isa_name((enum kern_isa)isa);
		if (kern_isa_unsupported((enum kern_isa)isa))
			continue;
		setenv("SABENCH_ISA", name, 1);
		for (int k = 0; k < kern_count; k++) {
			if (kern_table[k]->unavailable && kern_table[k]->unavailable())
				continue;
			for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
				for (int threads = 1; threads <= 2; threads++) {
					check(s, kern_table[k], threads, 0, name);
					if (!(kern_table[k]->no_bf16 && kern_table[k]->no_bf16()))
						check(s, kern_table[k], threads, 1, name);
				}
		}
	}
	unsetenv("SABENCH_ISA");
}

/* The AMX and AVX512-BF16 paths on their software models: V^T packed
 * dpad_v rows deep, P V over dpad_v. */
Test(head_dim_v, the_bf16_models_agree_with_the_oracle)
{
	const struct kern_desc *k[] = { kern_find("tiled"), kern_find("ranges") };
	const struct bf16_ops *model[] = { &bf16_amx_model, &bf16_avx512bf16_model };

	for (size_t m = 0; m < sizeof model / sizeof *model; m++) {
		kern_bf16_test_force(model[m]);
		for (size_t i = 0; i < sizeof k / sizeof *k; i++)
			for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
				check(s, k[i], 2, 1, model[m]->name);
	}
	kern_bf16_test_force(NULL);
}

/* Every layout x cache type x ISA path, one by one and as a chunk: K
 * rows of 64 and V rows of 32 (MLA's latent is wider than its values),
 * and the other way round; both multiples of every block and KIVI group
 * of 16. */
Test(head_dim_v, decode_reads_every_layout_and_cache_type)
{
	static const struct { const char *spec; enum kv_layout l; long ring, sinks, n, steps; } cases[] = {
		{ "dense", KV_PAGED, 0, 0, 203, 45 },
		{ "window: {size: 64}", KV_RING, 64, 0, 250, 120 },
		{ "sink_window: {sinks: 16, size: 48}", KV_SINK_RING, 48, 16, 250, 120 },
		{ "dense", KV_FULL, 0, 0, 77, 77 },
	};
	static const int dims[][2] = { { 64, 32 }, { 32, 96 } };

	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		if (kern_isa_unsupported((enum kern_isa)isa))
			continue;
		setenv("SABENCH_ISA", kern_isa_name((enum kern_isa)isa), 1);
		for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
			for (size_t dd = 0; dd < sizeof dims / sizeof *dims; dd++) {
				struct fixture fx;
				char what[200];
				snprintf(what, sizeof what, "%s: %s d %d dv %d", kern_isa_name((enum kern_isa)isa),
					 cases[i].spec, dims[dd][0], dims[dd][1]);
				fx_make_dv(&fx, cases[i].spec, 1, cases[i].n, 1, 4, 2 - (int)dd, dims[dd][0],
					   dims[dd][1], 1.0f);
				fx_cache_every_type(&fx, cases[i].steps, cases[i].l, cases[i].ring, cases[i].sinks,
						    what);
				fx_free(&fx);
			}
	}
	unsetenv("SABENCH_ISA");
}

/* MLA's prefill form at one head: d = 192, dv = 128 over a window of 4
 * at n = 6 (causal): 4 + ... pairs = 1 + 2 + 3 + 4 + 4 + 4 = 18 pairs.
 * Each costs 2 x 192 + 2 x 128 = 640 FLOPs: 11520; f32 bytes by hand. */
Test(head_dim_v, the_cost_model_counts_by_hand)
{
	struct fixture fx;
	struct cell_model m;
	struct kern_cost c = { 0 };
	const struct kern_desc *naive = kern_find("naive"), *decode = kern_find("decode");

	fx_make_dv(&fx, "window: {size: 4}", 1, 6, 1, 1, 1, 192, 128, 1.0f);
	cr_assert_eq(fx.g.st.nnz, 18);
	model_cell(&fx.p, naive, 1, 6, &m);
	cr_assert_eq(m.flops, 18.0 * 640.0);
	cr_assert_eq(m.flops_exec, 18.0 * 640.0);
	/* Q (6 x 192 f32) and O (6 x 128 f32), then every key once: a K row
	 * of 192 and a V row of 128 floats */
	cr_assert_eq(m.bytes_min, 6.0 * (192 + 128) * 4 + 6.0 * (192 + 128) * 4);
	cr_assert_eq(m.bytes_gather, 6.0 * (192 + 128) * 4 + 18.0 * (192 + 128) * 4);
	naive->cost(&fx.p, 1, &c);
	cr_assert_eq(c.flops_exec, 18.0 * 640.0);
	/* a decode cache of q8_0: K rows of 192 are 6 blocks of 34 bytes, V
	 * rows of 128 are 4; one step reads the 4 keys of the last row */
	fx.p.kv_dtype = DT_Q8_0;
	fx.p.kv_layout = KV_FULL;
	fx.p.n_q = 1;
	gset_free(&fx.g);
	{
		char why[128];
		cr_assert_eq(gset_build(&fx.g, &fx.pat, 1, 6, 1, why, sizeof why), 0);
	}
	decode->cost(&fx.p, 1, &c);
	cr_assert_eq(c.flops_exec, 4.0 * 640.0);
	cr_assert_eq(c.kv_cache_bytes, 6.0 * (6 * 34 + 4 * 34));
	fx_free(&fx);
}

/* The kernels' tallies follow the cost model with dv != d. */
Test(head_dim_v, tallies_match_the_cost_model)
{
	for (int k = 0; k < kern_count; k++) {
		struct fixture fx;
		struct kern_cost cost = { 0 };
		long long flops;
		if (kern_table[k]->unavailable && kern_table[k]->unavailable())
			continue;
		fx_make_dv(&fx, "sink_window: {sinks: 3, size: 100}", 1, 200, 2, 4, 2, 16, 48, 1.0f);
		flops = fx_run_tallied(&fx, kern_table[k], NULL);
		kern_table[k]->cost(&fx.p, 2, &cost);
		cr_assert_eq(flops, (long long)cost.flops_exec, "%s", kern_table[k]->name);
		fx_free(&fx);
	}
}

/* A run with head_dim_v: every cell verified, the column written, the
 * flops column 2 d + 2 dv a pair, the cell key naming dv. */
Test(head_dim_v, a_run_writes_the_column_and_verifies, .timeout = 60)
{
	struct csv t;
	int timed = 0;

	run_yaml_results("name: mla\n"
			 "shape: {seq_len: 96, head_dim: 64, head_dim_v: 32, heads: 4, kv_heads: 1}\n"
			 "sweep: {mode: [prefill, decode], kv_dtype: [f32, q8_0]}\n"
			 "patterns: [dense, {window: {size: 16}}]\n"
			 "kernels: [naive, tiled, ranges, decode]\n"
			 "run: {repeats: 1, warmup: 0}\n", &t);
	for (int r = 0; r < t.nrow; r++) {
		const char *cell = csv_get(&t, r, "cell");
		cr_assert_str_eq(csv_get(&t, r, "head_dim_v"), "32");
		cr_assert(strstr(cell, "/dv32"), "%s", cell);
		if (strcmp(csv_get(&t, r, "status"), "ok"))
			continue;
		timed++;
		cr_assert_str_eq(csv_get(&t, r, "verified"), "yes", "%s", cell);
		cr_assert_float_eq(atof(csv_get(&t, r, "flops")),
				   4.0 * (2 * 64 + 2 * 32) * atof(csv_get(&t, r, "nnz")),
				   1e-6 * atof(csv_get(&t, r, "flops")), "%s", cell);
	}
	cr_assert(timed >= 8, "%d cells timed", timed);
	csv_free(&t);
}

/* The model block counts what a layer's cache stores: K rows of
 * head_dim and V rows of head_dim_v per K/V head, or with kv_latent
 * (MLA's absorbed form) one latent of head_dim values a token: DeepSeek's
 * 576 in f16 over 1000 dense tokens is 1,152,000 bytes a layer, not the
 * 2,176,000 of a separate V of 512. */
Test(head_dim_v, the_model_block_counts_a_latent_cache_once)
{
	struct srv_model m = { .kv_heads = 1, .head_dim = 576, .head_dim_v = 512, .kv_dtype = DT_F16 };
	struct pattern p;
	struct err e;

	cr_assert_eq(exp_parse_spec("dense", 1, &p, &e), 0);
	cr_assert_eq(srv_layer_kv_bytes(&p, "full", DT_F16, &m, 1000), 1000.0 * (576 + 512) * 2);
	m.kv_latent = 1;
	cr_assert_eq(srv_row_values(&m), 576.0);
	cr_assert_eq(srv_layer_kv_bytes(&p, "full", DT_F16, &m, 1000), 1000.0 * 576 * 2);
	/* q8_0: 18 blocks of 34 bytes a token */
	cr_assert_eq(srv_layer_kv_bytes(&p, "full", DT_Q8_0, &m, 1000), 1000.0 * 18 * 34);
	m.kv_latent = 0;
	m.kv_heads = 8;
	m.head_dim = 192;
	m.head_dim_v = 128;     /* the prefill form: 6 + 4 blocks a head */
	cr_assert_eq(srv_layer_kv_bytes(&p, "full", DT_Q8_0, &m, 1000), 1000.0 * 8 * (6 + 4) * 34);
	pat_free(&p);
}

/* Dumps keep V's and the output's width (v [b, kv_heads, n, dv], out [b,
 * heads, n, dv]), and read back as npy inputs they give head_dim_v from
 * v's last dimension: the second run's cells are the first's, verified. */
Test(head_dim_v, dumps_keep_the_widths_and_read_back_as_inputs, .timeout = 60)
{
	const char *dir = temp_dir();
	char exp[300], out[300], dump[300], path[400], yaml[2048], *npy;
	struct csv t;

	snprintf(exp, sizeof exp, "%s/mla.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(dump, sizeof dump, "%s/dump", dir);
	write_text(exp, "name: mla\n"
			"shape: {seq_len: 48, head_dim: 24, head_dim_v: 40, heads: 4, kv_heads: 2}\n"
			"patterns: [dense]\nkernels: [naive]\nrun: {repeats: 1, warmup: 0}\n");
	char *argv[] = { "sabench", "run", exp, "-o", out, "--dump", dump, NULL };
	cr_assert_eq(run_bin(argv, NULL, NULL), 0);
	snprintf(path, sizeof path, "%s/g00000_v.npy", dump);
	npy = read_text(path);
	cr_assert(npy && strstr(npy + 10, "'shape': (1, 2, 48, 40), }"), "%s", npy ? npy + 10 : "no file");
	free(npy);
	snprintf(path, sizeof path, "%s/c00000_out.npy", dump);
	npy = read_text(path);
	cr_assert(npy && strstr(npy + 10, "'shape': (1, 4, 48, 40), }"), "%s", npy ? npy + 10 : "no file");
	free(npy);
	snprintf(yaml, sizeof yaml,
		 "name: again\nshape: {seq_len: 48}\n"
		 "inputs: [{npy: {q: %s/g00000_q.npy, k: %s/g00000_k.npy, v: %s/g00000_v.npy}}]\n"
		 "patterns: [dense, {window: {size: 8}}]\nkernels: [tiled, ranges, gather]\n"
		 "run: {repeats: 1, warmup: 0}\n", dump, dump, dump);
	run_yaml_results(yaml, &t);
	cr_assert_eq(t.nrow, 6);
	for (int r = 0; r < t.nrow; r++) {
		cr_assert_str_eq(csv_get(&t, r, "head_dim"), "24");
		cr_assert_str_eq(csv_get(&t, r, "head_dim_v"), "40");
		cr_assert_str_eq(csv_get(&t, r, "verified"), "yes", "%s", csv_get(&t, r, "cell"));
	}
	csv_free(&t);
}
