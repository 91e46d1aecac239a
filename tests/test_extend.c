/* test_extend.c - mode extend: a chunk of C tokens appended to the cache
 * and attended together. Its two ends are pinned (C = n is the prefill,
 * C = 1 one decode step: outputs and costs; every layout x cache type x
 * ISA path against the oracle is test_decode.c's, chunked and not), and
 * the run writes the extend columns; ragged batches equal their
 * sequences run one by one. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../harness/run/runner.h"
#include "../kernels/kvcache.h"
#include "helpers.h"

/* A ring of the window alone cannot serve a chunk: its first rows' keys
 * are evicted by the chunk's own tokens before they read. */
Test(extend, a_ring_of_the_window_alone_cannot_serve_a_chunk)
{
	struct fixture fx;
	struct gset g;
	char why[256];

	fx_make(&fx, "window: {size: 64}", 1, 250, 1, 2, 1, 16, 1.0f);
	cr_assert_eq(gset_build(&g, &fx.pat, 37, 250, 2, why, sizeof why), 0);
	cr_assert(kvc_serves(&g, KV_RING, 64, 0, 0));
	cr_assert_not(kvc_serves(&g, KV_RING, 64, 0, 1));
	cr_assert_not(kvc_serves(&g, KV_RING, 64 + 37 - 2, 0, 1));
	cr_assert(kvc_serves(&g, KV_RING, 64 + 37 - 1, 0, 1));
	gset_free(&g);
	fx_free(&fx);
}

/* C = 1: the chunk is one decode step, bit for bit and in cost, on every
 * cache type (fp8 calibrated on the same rows, KIVI's tail the same). */
Test(extend, one_token_is_one_decode_step)
{
	struct fixture fx;

	fx_make(&fx, "sink_window: {sinks: 16, size: 48}", 1, 230, 2, 4, 2, 32, 1.0f);
	for (int t = 0; t < DT_COUNT; t++) {
		float *chunk, *step;
		struct kern_cost cc, cs;
		size_t n = (size_t)2 * 4 * 32;
		fx_cache_run(&fx, 1, KV_FULL, (enum dtype)t, 0, 0, 1, &chunk, &cc);
		fx_cache_run(&fx, 1, KV_FULL, (enum dtype)t, 0, 0, 0, &step, &cs);
		cr_assert_eq(memcmp(chunk, step, n * sizeof *chunk), 0, "%s: outputs differ", dtype_names[t]);
		cr_assert_eq(cc.flops_exec, cs.flops_exec, "%s", dtype_names[t]);
		cr_assert_eq(cc.kv_cache_bytes, cs.kv_cache_bytes, "%s", dtype_names[t]);
		cr_assert_eq(cc.workspace_bytes, cs.workspace_bytes, "%s", dtype_names[t]);
		free(chunk);
		free(step);
	}
	fx_free(&fx);
}

/* C = n: the chunk is the prefill. Its outputs are the prefill kernels'
 * (the oracle's, and ranges' within fp32 rounding) and it executes the
 * prefill's useful FLOPs. */
Test(extend, the_whole_sequence_is_the_prefill)
{
	const struct kern_desc *ranges = kern_find("ranges");
	struct fixture fx;
	struct kern_cost cc, cr;
	float *chunk;
	void *ws;
	size_t n;

	fx_make(&fx, "sink_window: {sinks: 4, size: 40}", 1, 190, 1, 4, 2, 32, 1.0f);
	n = (size_t)4 * 190 * 32;
	cr_assert(fx_cache_run(&fx, 190, KV_FULL, DT_F32, 0, 0, 1, &chunk, &cc) <= VERIFY_MAX_ABS);
	cr_assert_eq(ranges->prepare(&fx.p, 2, &ws), 0);
	ranges->run(&fx.p, ws);
	ranges->cost(&fx.p, 2, &cr);
	ranges->release(ws);
	for (size_t i = 0; i < n; i++)
		cr_assert(fabsf(chunk[i] - fx.p.o[i]) <= 1e-5f, "element %zu: %g vs %g", i, chunk[i], fx.p.o[i]);
	cr_assert_eq(cc.flops_exec, cr.flops_exec);
	cr_assert_eq(cc.flops_exec, 4.0 * 32 * (double)fx.g.st.nnz * 4);
	free(chunk);
	fx_free(&fx);
}

/* Through a run: extend cells of the decode kernel and of a kernel that
 * reads K/V whole, verified, with the chunk's columns filled; the same
 * ring layout as decode, sized for the chunk. */
Test(extend, a_run_writes_the_chunk_columns, .timeout = 120)
{
	struct csv t;

	run_yaml_results("shape: {seq_len: 300, head_dim: 32, heads: 4, kv_heads: 2, mode: extend,"
			 " extend_tokens: 40, threads: 2}\n"
			 "patterns: [{window: {size: 64}}]\nkernels: [decode, ranges]\n"
			 "run: {warmup: 0, repeats: 2, min_time_ms: 0}\n", &t);
	cr_assert_eq(t.nrow, 2);
	for (int i = 0; i < t.nrow; i++) {
		const char *kernel = csv_get(&t, i, "kernel");
		int dec = !strcmp(kernel, "decode");
		cr_assert_str_eq(csv_get(&t, i, "status"), "ok");
		cr_assert_str_eq(csv_get(&t, i, "verified"), "yes");
		cr_assert_str_eq(csv_get(&t, i, "mode"), "extend");
		cr_assert_str_eq(csv_get(&t, i, "extend_tokens"), "40");
		cr_assert_str_eq(csv_get(&t, i, "decode_steps"), "0");
		cr_assert_str_eq(csv_get(&t, i, "n_q"), "40");
		cr_assert_str_eq(csv_get(&t, i, "kv_layout"), dec ? "ring" : "full");
		cr_assert(fabs(atof(csv_get(&t, i, "time_per_chunk_s")) /
			       atof(csv_get(&t, i, "time_median_s")) - 1.0) < 1e-3);
		/* 40 rows x 64 keys, the two query heads of a K/V head read once
		 * by the decoder, each head alone by ranges */
		cr_assert_eq(atof(csv_get(&t, i, "keys_read")), 40.0 * 64 * (dec ? 2 : 4));
		cr_assert(fabs(atof(csv_get(&t, i, "kv_bytes_per_token")) /
			       (2.0 * 4 * 32 * 64 * (dec ? 2 : 4)) - 1.0) < 1e-3);   /* %.4g */
	}
	csv_free(&t);
}

/* A ragged step (two decodes at 900 and 2600 tokens, a chunk of 40 at
 * 300, one of 1 at 20) gives each sequence the outputs of running it
 * alone (bit for bit where neither splits its keys, within fp32 rounding
 * of the merge where one does) and the sum of their costs, on every
 * cache type. */
Test(ragged, a_batch_equals_its_sequences_run_one_by_one)
{
	static const struct { const char *spec; long n, new_tokens; } seqs[] = {
		{ "dense", 900, 1 }, { "window: {size: 64}", 300, 40 },
		{ "dense", 2600, 1 }, { "sink_window: {sinks: 4, size: 12}", 20, 1 },
	};
	enum { NS = sizeof seqs / sizeof *seqs };
	const struct kern_desc *k = kern_find("decode");
	struct fixture fx[NS];
	struct gset g[NS];
	struct problem seq[NS], batch;
	struct ragged rg = { NS, seq };
	char why[256];
	size_t total = 0;

	cr_assert(k->ragged);
	omp_set_num_threads(2);
	for (int s = 0; s < NS; s++) {
		fx_make(&fx[s], seqs[s].spec, 1, seqs[s].n, 1, 4, 2, 32, 1.0f);
		cr_assert_eq(gset_build(&g[s], &fx[s].pat, seqs[s].new_tokens, seqs[s].n, 4, why, sizeof why), 0);
		seq[s] = fx[s].p;
		seq[s].g = &g[s];
		seq[s].n_q = seqs[s].new_tokens;
		seq[s].chunk = 1;
		total += (size_t)4 * seqs[s].new_tokens * 32;
	}
	for (int t = 0; t < DT_COUNT; t++) {
		struct kern_cost cb, sum = { 0 };
		float *out = calloc(total, sizeof *out);
		void *ws;
		for (int s = 0; s < NS; s++) {
			seq[s].kv_dtype = (enum dtype)t;
			seq[s].kv_layout = KV_FULL;
			seq[s].kv_group = 16;
			seq[s].kv_residual = 24;
		}
		batch = seq[0];
		batch.ragged = &rg;
		batch.o = out;
		cr_assert_eq(k->prepare(&batch, 2, &ws), 0);
		for (int rep = 0; rep < 2; rep++) {
			k->reset(&batch, ws);
			k->run(&batch, ws);
		}
		k->cost(&batch, 2, &cb);
		k->release(ws);
		for (int s = 0; s < NS; s++) {
			struct problem one = seq[s];
			size_t n = (size_t)4 * seqs[s].new_tokens * 32;
			struct kern_cost c1;
			const float *mine = out + kern_ragged_off(&rg, s);
			one.o = fx[s].p.o;
			cr_assert_eq(k->prepare(&one, 2, &ws), 0);
			k->reset(&one, ws);
			k->run(&one, ws);
			k->cost(&one, 2, &c1);
			k->release(ws);
			for (size_t i = 0; i < n; i++)
				cr_assert(fabsf(mine[i] - one.o[i]) <= 2e-6f * (1 + fabsf(one.o[i])),
					  "%s: sequence %d element %zu: %g alone, %g in the batch",
					  dtype_names[t], s, i, one.o[i], mine[i]);
			if (seqs[s].new_tokens > 1)     /* no split either way: the same sums */
				cr_assert_eq(memcmp(mine, one.o, n * sizeof *mine), 0, "%s: sequence %d", dtype_names[t], s);
			sum.flops_exec += c1.flops_exec;
			sum.kv_cache_bytes += c1.kv_cache_bytes;
		}
		cr_assert_eq(cb.flops_exec, sum.flops_exec, "%s", dtype_names[t]);
		cr_assert_eq(cb.kv_cache_bytes, sum.kv_cache_bytes, "%s", dtype_names[t]);
		free(out);
	}
	for (int s = 0; s < NS; s++) {
		gset_free(&g[s]);
		fx_free(&fx[s]);
	}
}

/* Through a run: a mixed step (a decode at 100 tokens, a chunk of 20 at
 * 300) is one row whose G and FLOPs are its sequences' sums, verified
 * sequence by sequence; each sequence is also timed alone; a kernel that
 * runs one length per batch is skipped with why. */
Test(ragged, a_mixed_step_is_one_row_of_summed_costs, .timeout = 120)
{
	struct csv t;

	run_yaml_results("shape: {head_dim: 16, heads: 2, kv_heads: 1, mode: decode, threads: 2,"
			 " lengths: {lengths: [100, 300], new: [1, 20]}}\n"
			 "patterns: [dense]\nkernels: [decode, ranges]\n"
			 "run: {warmup: 0, repeats: 3, min_time_ms: 0}\n", &t);
	cr_assert_eq(t.nrow, 2);
	for (int i = 0; i < t.nrow; i++) {
		const char *status = csv_get(&t, i, "status");
		cr_assert_str_eq(csv_get(&t, i, "ragged"), "lengths(100 300 new 1 20)");
		cr_assert_str_eq(csv_get(&t, i, "batch"), "2");
		cr_assert_str_eq(csv_get(&t, i, "seq_len"), "300");
		cr_assert_str_eq(csv_get(&t, i, "n_q"), "21");
		/* per head: 100 keys for the decode, 281 + ... + 300 for the chunk */
		cr_assert_str_eq(csv_get(&t, i, "nnz"), "5910");
		if (strcmp(csv_get(&t, i, "kernel"), "decode")) {
			cr_assert_str_eq(status, "skipped: runs one length per batch; a ragged batch (lengths) needs a "
						 "kernel that runs them (decode)");
			continue;
		}
		cr_assert_str_eq(status, "ok");
		cr_assert_str_eq(csv_get(&t, i, "verified"), "yes");
		cr_assert_eq(atof(csv_get(&t, i, "flops")), 4.0 * 16 * 5910 * 2);
		cr_assert_eq(atof(csv_get(&t, i, "keys_read")), 5910.0, "two query heads read their K/V head once");
		cr_assert(atof(csv_get(&t, i, "time_one_by_one_s")) > 0);
		cr_assert_eq(count_words(csv_get(&t, i, "seq_time_s")), 2, "a time per sequence");
	}
	csv_free(&t);
}

/* --dump of a ragged run: index.csv is there (its header alone), and the
 * user is told which cells it leaves out and why; the same run with one
 * length is dumped (negative control). */
Test(ragged, dump_says_what_it_leaves_out, .timeout = 60)
{
	const char *dir = temp_dir();
	char exp[300], out[300], dump[300], path[400], *err = NULL, *text;
	static const char *const shapes[] = { "sweep: {lengths: [[32, 64]]}\n", "sweep: {seq_len: [64]}\n" };

	for (int k = 0; k < 2; k++) {
		snprintf(exp, sizeof exp, "%s/r%d.yaml", dir, k);
		snprintf(out, sizeof out, "%s/out%d", dir, k);
		snprintf(dump, sizeof dump, "%s/dump%d", dir, k);
		snprintf(path, sizeof path, "%s/index.csv", dump);
		char yaml[600];
		snprintf(yaml, sizeof yaml, "shape: {heads: 2, head_dim: 16, threads: 1, mode: decode}\n%s"
			 "patterns: [dense]\nkernels: [decode]\n"
			 "run: {warmup: 0, repeats: 2, min_time_ms: 0}\n", shapes[k]);
		write_text(exp, yaml);
		char *argv[] = { "sabench", "run", exp, "-o", out, "--dump", dump, NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
		text = read_text(path);
		cr_assert_eq(strncmp(text, "cell,q,k,v,indptr,indices,out,layouts,layout_of\n", 48), 0, "%s", text);
		cr_assert_eq(count_lines(text), 1 + k, "%s", text);
		if (k == 0) {
			cr_assert(strstr(err, "warning: --dump leaves out 1 cell(s) of 'dense/decode/"), "%s", err);
			cr_assert(strstr(err, "/ragged=lengths(32 64)': a ragged batch has a Q, K, V and G per sequence, not one to dump"),
				  "%s", err);
		} else {
			cr_assert_null(strstr(err, "--dump leaves out"), "%s", err);
		}
		free(text);
		free(err);
	}
}

/* Ragged batches that cannot be, each with its message (tests/bad/ has
 * the others: empty, in prefill, more new tokens than the length). */
Test(ragged, bad_batches_are_refused_with_their_reason)
{
	static const struct { const char *yaml, *msg; } cases[] = {
		{ "shape: {mode: decode, lengths: {lengths: [10, 20], new: [1]}}\npatterns: [dense]\nkernels: [decode]\n",
		  "t.yaml:1:57: 'new' has 1 entries for 2 sequences" },
		{ "shape: {mode: decode, head_dim: 4096, kv_heads: 64, heads: 64, lengths: [1073741824]}\npatterns: [dense]\n"
		  "kernels: [decode]\n", NULL },
		{ "shape: {mode: decode}\nsweep: {lengths: [512, 1024]}\npatterns: [dense]\nkernels: [decode]\n",
		  "t.yaml:2:19: sweep 'lengths' takes a list of batches (each a list or a mapping), not a number; one batch goes under shape" },
		{ "shape: {mode: decode, lengths: {distribution: gamma, count: 3}}\npatterns: [dense]\nkernels: [decode]\n",
		  "t.yaml:1:47: 'distribution' must be lognormal or uniform, not 'gamma'" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct experiment x;
		struct err e;
		cr_assert_eq(exp_load_string("t.yaml", cases[i].yaml, &x, &e), -1, "%s", cases[i].yaml);
		if (cases[i].msg)
			cr_assert_str_eq(e.msg, cases[i].msg);
		else
			cr_assert(strstr(e.msg, "more than this machine's"), "%s", e.msg);
	}
}
