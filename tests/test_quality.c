/* test_quality.c - recall, best recall and output error: a 4-token case
 * worked by hand (the seed's G = {0, 2}), brute force over every pattern
 * kind on small random problems, dense keeping exactly everything, and an
 * empty row keeping nothing. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/report/pareto.h"
#include "../harness/quality/quality.h"
#include "helpers.h"

/* The seed's worked case: at query 3, G = {0, 2}; dense weights before
 * normalising e = [0.6, 0.5, 0.4, 0.5] (Z = 2), so G keeps 1.0 / 2 of the
 * mass, the two largest weights 0.6 + 0.5 keep 0.55, and with v_0 = [1, 0],
 * v_1 = [2, 2], v_2 = [0, 3], v_3 = [2, 2] the sparse output is the seed's
 * [0.6, 1.2] against the dense [1.3, 1.6]. */
Test(quality, seed_case_by_hand)
{
	struct fixture fx;
	const double e[4] = { 0.6, 0.5, 0.4, 0.5 };
	const float v[4][2] = { { 1, 0 }, { 2, 2 }, { 0, 3 }, { 2, 2 } };
	double ws[64], oracle[2];
	struct quality_row r;

	fx_make(&fx, "explicit: {rows: [[0], [0, 1], [0, 1, 2], [0, 2]]}", 1, 4, 1, 1, 1, 2, 1.0f);
	memset(fx.q, 0, 8 * sizeof *fx.q);
	fx.q[3 * 2] = (float)sqrt(2.0);         /* q_3 . k_j / sqrt(2) = k_j[0] */
	for (int j = 0; j < 4; j++) {
		fx.k[j * 2] = (float)log(e[j]);
		fx.k[j * 2 + 1] = 0.0f;
		fx.v[j * 2] = v[j][0];
		fx.v[j * 2 + 1] = v[j][1];
	}
	quality_row(&fx.p, NULL, 0, 0, 3, ws, &r);
	cr_assert(fabs(r.recall - 0.5) < 1e-6, "recall %.9f", r.recall);
	cr_assert(fabs(r.best - 0.55) < 1e-6, "best %.9f", r.best);
	cr_assert(fabs(r.err - sqrt(0.65 / 4.25)) < 1e-6, "err %.9f", r.err);
	kern_oracle_row(&fx.p, 0, 0, 3, oracle);
	cr_assert(fabs(oracle[0] - 0.6) < 1e-6 && fabs(oracle[1] - 1.2) < 1e-6,
		  "the seed's out_3 = [0.6, 1.2], got [%g, %g]", oracle[0], oracle[1]);
	fx_free(&fx);
}

/* Brute force: the dense softmax of the row from scratch, G's share, the
 * |G| largest weights by sorting, both outputs from the weights. */
static int desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x < y) - (x > y);
}

static void brute_row(const struct problem *p, int b, int h, long r, struct quality_row *out)
{
	long pos = p->n_kv - p->n_q + r, hi = p->g->causal ? pos + 1 : p->n_kv, m = 0;
	const float *q = p->q + kern_q_off(p, b, h) + (size_t)r * p->d;
	const float *k = p->k + kern_kv_off(p, b, h), *v = p->v + kern_kv_off(p, b, h);
	double *s = calloc((size_t)p->n_kv, sizeof *s), *w = calloc((size_t)p->n_kv, sizeof *w);
	char *in_g = calloc((size_t)p->n_kv, 1);
	double mx = -INFINITY, z = 0, zg = 0, od[64] = { 0 }, og[64] = { 0 }, num = 0, den = 0, top = 0;
	int64_t n;
	const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, b, h), r, &n);

	for (int64_t i = 0; i < n; i++)
		for (long j = rg[i].lo; j < rg[i].hi; j++)
			in_g[j] = 1;
	for (long j = 0; j < hi; j++) {
		for (int c = 0; c < p->d; c++)
			s[j] += (double)q[c] * k[(size_t)j * p->d + c];
		s[j] /= sqrt((double)p->d);
		mx = fmax(mx, s[j]);
	}
	for (long j = 0; j < hi; j++)
		z += exp(s[j] - mx);
	for (long j = 0; j < hi; j++) {
		double pj = exp(s[j] - mx) / z;
		w[j] = pj;
		for (int c = 0; c < p->d; c++)
			od[c] += pj * v[(size_t)j * p->d + c];
		if (in_g[j]) {
			m++;
			zg += pj;
			for (int c = 0; c < p->d; c++)
				og[c] += pj * v[(size_t)j * p->d + c];
		}
	}
	qsort(w, (size_t)hi, sizeof *w, desc);
	for (long j = 0; j < m; j++)
		top += w[j];
	for (int c = 0; c < p->d; c++) {
		double sp = zg > 0 ? og[c] / zg : 0;
		num += (sp - od[c]) * (sp - od[c]);
		den += od[c] * od[c];
	}
	out->recall = zg;
	out->best = top;
	out->err = m ? sqrt(num / den) : 1.0;
	free(s);
	free(w);
	free(in_g);
}


Test(quality, every_kind_against_brute_force)
{
	double ws[2 * 45 + 3 * 16];

	for (size_t s = 0; s < fx_every_kind_count; s++)
		for (int causal = 1; causal >= 0; causal--) {
			struct fixture fx;
			if (!causal && strstr(fx_every_kind[s], "explicit"))
				continue;
			/* scale 3: peaked softmaxes, so G's choice matters */
			fx_make(&fx, fx_every_kind[s], causal, 45, 1, 4, 2, 16, 3.0f);
			for (int h = 0; h < 4; h++)
				for (long r = 0; r < 45; r++) {
					struct quality_row got, want;
					quality_row(&fx.p, NULL, 0, h, r, ws, &got);
					brute_row(&fx.p, 0, h, r, &want);
					cr_assert(fabs(got.recall - want.recall) < 1e-12 &&
						  fabs(got.best - want.best) < 1e-12 &&
						  fabs(got.err - want.err) < 1e-9,
						  "%s (%s) head %d row %ld: recall %.15g/%.15g best %.15g/%.15g err %.15g/%.15g",
						  fx_every_kind[s], causal ? "causal" : "bidirectional", h, r,
						  got.recall, want.recall, got.best, want.best, got.err, want.err);
					cr_assert(got.recall <= got.best + 1e-12, "no G of its size keeps more");
				}
			fx_free(&fx);
		}
}

Test(quality, dense_keeps_exactly_everything)
{
	struct fixture fx;
	struct quality q;

	fx_make(&fx, "dense", 1, 1200, 2, 4, 2, 16, 3.0f);  /* 1200^2 > 2^20: sampled */
	cr_assert_eq(quality_measure(&fx.p, NULL, 64, 7, &q), 0);
	cr_assert_eq(q.all.rows, 2 * 4 * 64, "64 rows per head and sequence: %ld", q.all.rows);
	cr_assert(q.all.recall_mean == 1.0 && q.all.recall_min == 1.0, "recall %.17g", q.all.recall_mean);
	cr_assert(q.all.err_max == 0.0, "error %.17g", q.all.err_max);
	cr_assert(q.all.efficiency == 1.0 && q.all.density == 1.0);
	for (int h = 0; h < 4; h++)
		cr_assert(q.head[h].recall_mean == 1.0 && q.head[h].rows == 128);
	quality_free(&q);
	fx_free(&fx);
}

Test(quality, empty_row_keeps_nothing_and_errs_fully)
{
	struct fixture fx;
	struct quality q;

	fx_make(&fx, "explicit: {rows: [[0], [], [1, 2], [0, 3]]}", 1, 4, 1, 2, 1, 8, 1.0f);
	cr_assert_eq(quality_measure(&fx.p, NULL, 256, 1, &q), 0);
	cr_assert_eq(q.all.rows, 8, "every row of both heads");
	cr_assert_eq(q.all.recall_min, 0.0, "row 1 is empty");
	cr_assert_eq(q.all.err_max, 1.0, "an empty row's output is zeros: error 1");
	quality_free(&q);
	fx_free(&fx);
}

Test(quality, window_on_noise_keeps_its_share_of_keys)
{
	struct fixture fx;
	struct quality q;
	double want = 0.0;

	/* inputs near zero: every dense weight is about 1 / (i + 1), so a
	 * window of W keeps min(i + 1, W) / (i + 1) of row i */
	fx_make(&fx, "window: {size: 16}", 1, 200, 1, 2, 2, 8, 1e-4f);
	cr_assert_eq(quality_measure(&fx.p, NULL, 256, 1, &q), 0);
	for (long i = 0; i < 200; i++)
		want += (i + 1 < 16 ? i + 1 : 16) / (double)(i + 1) / 200.0;
	cr_assert(fabs(q.all.recall_mean - want) < 1e-4, "recall %g, want %g", q.all.recall_mean, want);
	cr_assert(fabs(q.all.best_mean - want) < 1e-4, "any 16 keys keep the same");
	quality_free(&q);
	fx_free(&fx);
}

/* The Pareto points: best kernel per pattern against dense's best, at the
 * largest seq_len; a pattern both slower and keeping less is off the front. */
Test(quality, pareto_front_of_a_known_table)
{
	const char *dir = temp_dir();
	char path[300];
	struct res_table t;
	struct pareto p;
	struct err e;
	const char *want_front[] = { "dense", "w1", "w3" };

	snprintf(path, sizeof path, "%s/results.csv", dir);
	write_text(path,
		   "inputs,pattern,pattern_label,kernel,seq_len,threads,head_dim,mode,time_median_s,status,density,recall_mean,recall_min,recall_best_mean,out_err_mean\n"
		   "syn,dense,dense,a,64,2,16,prefill,1.0,ok,1,1,1,1,0\n"
		   "syn,window,w1,a,64,2,16,prefill,0.1,ok,0.2,0.5,0.1,0.6,0.5\n"
		   "syn,window,w1,b,64,2,16,prefill,0.08,ok,0.2,0.5,0.1,0.6,0.5\n"
		   "syn,window,w2,a,64,2,16,prefill,0.2,ok,0.2,0.4,0.1,0.6,0.6\n"
		   "syn,window,w3,a,64,2,16,prefill,0.05,ok,0.1,0.3,0.1,0.4,0.7\n"
		   "syn,window,w3,b,64,2,16,prefill,0.01,failed: differs,0.1,0.3,0.1,0.4,0.7\n"
		   "syn,window,w2,a,32,2,16,prefill,0.001,ok,0.2,0.9,0.1,0.9,0.1\n"
		   "syn,window,w2,a,64,1,16,prefill,0.001,ok,0.2,0.9,0.1,0.9,0.1\n");
	cr_assert_eq(res_table_read(path, &t, &e), 0, "%s", e.msg);
	cr_assert_eq(pareto_build(&t, &p), 0);
	cr_assert_eq(p.seq_len, 64);
	cr_assert_eq(p.threads, 2);
	cr_assert_eq(p.n, 4, "one point per pattern at n = 64, 2 threads: %zu", p.n);
	for (size_t i = 0; i < p.n; i++) {
		int on = 0;
		for (size_t k = 0; k < 3; k++)
			on |= !strcmp(p.pt[i].label, want_front[k]);
		cr_assert_eq(p.pt[i].front, on, "%s", p.pt[i].label);
		if (!strcmp(p.pt[i].label, "w1")) {
			cr_assert_str_eq(p.pt[i].kernel, "b", "the faster kernel");
			cr_assert(fabs(p.pt[i].speedup - 12.5) < 1e-9);
		}
		if (!strcmp(p.pt[i].label, "w3"))
			cr_assert(fabs(p.pt[i].speedup - 20.0) < 1e-9, "a failed row is no kernel's time");
	}
	pareto_free(&p);
	res_table_free(&t);
}

/* What the formats lose behaves as their papers report, in kind: q8_0 far
 * below q4_0; with outlier key channels the per-token block formats get
 * worse while KIVI's per-channel keys do not; f16 next to nothing. */
Test(quality, compressed_caches_lose_as_their_papers_report_in_kind)
{
	struct csv t;
	double e[2][4] = { { 0 } };     /* [plain, outliers][f16, q8_0, q4_0, kivi4] */
	const char *types[] = { "f16", "q8_0", "q4_0", "kivi4" };

	run_yaml_results("shape: {seq_len: 1024, head_dim: 64, heads: 4, kv_heads: 2, mode: decode,"
			 " decode_steps: 8, threads: 1}\nsweep: {kv_dtype: [f16, q8_0, q4_0, kivi4]}\n"
			 "inputs:\n  - label: plain\n    synthetic: {seed: 3}\n"
			 "  - label: outliers\n    synthetic: {seed: 3, outlier_channels: 4}\n"
			 "patterns: [dense]\nkernels: [decode]\nrun: {repeats: 1, warmup: 0}\n", &t);
	for (int i = 0; i < t.nrow; i++)
		for (int k = 0; k < 4; k++)
			if (!strcmp(csv_get(&t, i, "kv_dtype"), types[k]))
				e[!strcmp(csv_get(&t, i, "inputs"), "outliers")][k] =
					atof(csv_get(&t, i, "kv_err_dense_mean"));
	csv_free(&t);
	for (int in = 0; in < 2; in++) {
		cr_assert(e[in][0] > 0 && e[in][0] < 0.01, "f16 loses next to nothing: %g", e[in][0]);
		cr_assert(e[in][1] * 4 < e[in][2], "q8_0 %g far below q4_0 %g", e[in][1], e[in][2]);
	}
	cr_assert(e[1][2] > 1.5 * e[0][2], "outlier channels hurt q4_0's per-token blocks: %g vs %g",
		  e[1][2], e[0][2]);
	cr_assert(e[1][3] < 1.2 * e[0][3], "KIVI's per-channel keys do not mind them: %g vs %g",
		  e[1][3], e[0][3]);
	cr_assert(e[1][3] < e[1][2], "kivi4 %g below q4_0 %g on outlier channels", e[1][3], e[1][2]);
}

/* A selected pattern's group is measured on the same Q, K, V as a static
 * one's (its inputs were once made before G said the run is causal, and
 * the synthetic queries differed): the cache type's loss alone, a
 * property of the inputs, is the same under dense, window and quest. */
Test(quality, selected_and_static_patterns_see_the_same_inputs)
{
	struct csv t;

	run_yaml_results("shape: {seq_len: 1024, head_dim: 64, heads: 4, kv_heads: 2, mode: decode,"
			 " decode_steps: 8, threads: 1, kv_dtype: q8_0}\n"
			 "inputs:\n  - label: s\n    synthetic: {seed: 5}\n"
			 "patterns: [dense, {window: {size: 128}}, {quest: {page: 16, budget: 256}}]\n"
			 "kernels: [decode]\nrun: {repeats: 1, warmup: 0}\n", &t);
	cr_assert_eq(t.nrow, 3);
	for (int i = 1; i < t.nrow; i++)
		cr_assert_str_eq(csv_get(&t, i, "kv_err_dense_mean"), csv_get(&t, 0, "kv_err_dense_mean"),
				 "%s sees other inputs than %s", csv_get(&t, i, "pattern_label"),
				 csv_get(&t, 0, "pattern_label"));
	csv_free(&t);
}
