/* test_score.c - score functions beside G: ALiBi's slopes and T5's buckets
 * against the values their papers' code gives, the oracle against scores
 * worked by hand, every kernel on every ISA path against the oracle under
 * each kind, and the score axis of an experiment (labels, sweeps, cell
 * keys). Bad score entries are in tests/bad (test_experiment.c). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../harness/config/plan.h"
#include "../harness/run/runner.h"
#include "../kernels/isa/simd.h"
#include "helpers.h"

Test(score, alibi_slopes_follow_the_paper)
{
	/* a power of two: 2^-1 .. 2^-8 for 8 heads, 2^-2, 2^-4, ... for 4 */
	for (int h = 0; h < 8; h++)
		cr_assert_float_eq(score_alibi_slope(h, 8), pow(2.0, -(h + 1)), 1e-15);
	for (int h = 0; h < 4; h++)
		cr_assert_float_eq(score_alibi_slope(h, 4), pow(2.0, -2.0 * (h + 1)), 1e-15);
	/* 12 heads: the 8 of a power of two, then every other of 16's */
	for (int h = 0; h < 8; h++)
		cr_assert_float_eq(score_alibi_slope(h, 12), pow(2.0, -(h + 1)), 1e-15);
	for (int h = 8; h < 12; h++)
		cr_assert_float_eq(score_alibi_slope(h, 12), pow(2.0, -0.5 - (h - 8)), 1e-15);
}

Test(score, t5_buckets_follow_the_reference_code)
{
	/* causal, 32 buckets, max_distance 128: exact below 16, log above */
	cr_assert_eq(score_t5_bucket(0, 0, 32, 128), 0);
	cr_assert_eq(score_t5_bucket(-15, 0, 32, 128), 15);
	cr_assert_eq(score_t5_bucket(-16, 0, 32, 128), 16);
	cr_assert_eq(score_t5_bucket(-32, 0, 32, 128), 21);    /* 16 + int(16 log 2 / log 8) */
	cr_assert_eq(score_t5_bucket(-127, 0, 32, 128), 31);
	cr_assert_eq(score_t5_bucket(-5000, 0, 32, 128), 31);
	cr_assert_eq(score_t5_bucket(7, 0, 32, 128), 0);       /* the future: bucket 0 */
	/* bidirectional: 16 buckets a side, exact below 8 */
	cr_assert_eq(score_t5_bucket(-5, 1, 32, 128), 5);
	cr_assert_eq(score_t5_bucket(5, 1, 32, 128), 21);
	cr_assert_eq(score_t5_bucket(20, 1, 32, 128), 26);     /* 16 + 8 + int(8 log 2.5 / log 16) */
	cr_assert_eq(score_t5_bucket(-20, 1, 32, 128), 10);
}

/* Softmax of two scores over v0, v1: what a row with keys {0, 1} gives. */
static double two_keys(double s0, double s1, double v0, double v1)
{
	double m = fmax(s0, s1), w0 = exp(s0 - m), w1 = exp(s1 - m);

	return (w0 * v0 + w1 * v1) / (w0 + w1);
}

/* One head, head_dim 1, q = 1 at position 1, keys 0.5 and 2, values 1 and
 * 3: each kind's output by hand. */
Test(score, oracle_applies_each_kind_as_written)
{
	struct fixture fx;
	struct score_mod m;
	struct score_spec spec[] = {
		{ .kind = SCORE_PLAIN }, { .kind = SCORE_SCALE, .value = 0.25 },
		{ .kind = SCORE_ALIBI }, { .kind = SCORE_SOFTCAP, .cap = 1.0 },
		{ .kind = SCORE_RELATIVE_BIAS, .buckets = 4, .max_distance = 8, .seed = 3 },
	};
	double want[5], out[1];

	fx_make(&fx, "dense", 1, 2, 1, 1, 1, 1, 1.0f);
	fx.q[1] = 1.0f;
	fx.k[0] = 0.5f;
	fx.k[1] = 2.0f;
	fx.v[0] = 1.0f;
	fx.v[1] = 3.0f;
	want[0] = two_keys(0.5, 2.0, 1, 3);
	want[1] = two_keys(0.125, 0.5, 1, 3);
	want[2] = two_keys(0.5 - 1.0 / 256, 2.0, 1, 3);        /* slope 2^-8, offset 1 */
	want[3] = two_keys(tanh(0.5), tanh(2.0), 1, 3);
	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(score_make(&m, &spec[i], 1, 1, 2, 1), 0);
		if (i == 4) {   /* offsets 1 and 0: buckets 1 and 0 of head 0 */
			double b1 = m.bias[score_at(&m, 1)], b0 = m.bias[score_at(&m, 0)];
			cr_assert_neq(b0, b1);
			cr_assert(fabs(b0) <= 1.0 && fabs(b1) <= 1.0);
			want[4] = two_keys(0.5 + b1, 2.0 + b0, 1, 3);
		}
		fx.p.score = &m;
		kern_oracle_row(&fx.p, 0, 0, 1, out);
		cr_assert_float_eq(out[0], want[i], 1e-12, "%s: %.15g, want %.15g",
				   score_kind_name(spec[i].kind), out[0], want[i]);
		score_free(&m);
	}
	cr_assert_neq(want[0], want[2]);
	cr_assert_neq(want[0], want[3]);
	fx_free(&fx);
}

static const struct score_spec kinds[] = {
	{ .kind = SCORE_SCALE, .value = 0.37 },
	{ .kind = SCORE_ALIBI },
	{ .kind = SCORE_SOFTCAP, .cap = 1.5 },
	{ .kind = SCORE_RELATIVE_BIAS, .buckets = 8, .max_distance = 20, .seed = 9 },
};

Test(score, every_kernel_on_every_isa_path_agrees_with_the_oracle)
{
	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		if (kern_isa_unsupported((enum kern_isa)isa))
			continue;
		setenv("SABENCH_ISA", kern_isa_name((enum kern_isa)isa), 1);
		for (size_t s = 0; s < fx_edge_count; s++)
			for (size_t c = 0; c < sizeof kinds / sizeof *kinds; c++)
				for (int k = 0; k < kern_count; k++) {
					struct fixture fx;
					struct score_mod m;
					long bad;
					double err;
					/* inputs in [-3, 3]: scores the cap and the bias change */
					fx_make(&fx, fx_edge[s].spec, fx_edge[s].causal, fx_edge[s].n, 1,
						fx_edge[s].heads, fx_edge[s].kv_heads, fx_edge[s].d, 3.0f);
					cr_assert_eq(score_make(&m, &kinds[c], fx_edge[s].heads, fx_edge[s].d,
								fx_edge[s].n, fx_edge[s].causal), 0);
					fx.p.score = &m;
					err = fx_max_err(&fx, kern_table[k], 1 + (int)(c % 2), &bad);
					cr_assert(bad == 0 && err <= VERIFY_MAX_ABS,
						  "%s, %s on %s n %ld d %d, isa %s: error %g, %ld non-finite",
						  kern_table[k]->name, score_kind_name(kinds[c].kind),
						  fx_edge[s].spec, fx_edge[s].n, fx_edge[s].d,
						  kern_isa_name((enum kern_isa)isa), err, bad);
					score_free(&m);
					fx_free(&fx);
				}
	}
	unsetenv("SABENCH_ISA");
}

/* The score changes what every kernel computes: under a cap of 0.2 the
 * output is far from plain attention's (the test above cannot pass by a
 * kernel that ignores the score and an oracle that does too). */
Test(score, a_score_changes_the_output)
{
	struct fixture fx;
	struct score_mod m;
	struct score_spec cap = { .kind = SCORE_SOFTCAP, .cap = 0.2 };
	double plain[8], capped[8], diff = 0.0;

	fx_make(&fx, "dense", 1, 40, 1, 1, 1, 8, 3.0f);
	kern_oracle_row(&fx.p, 0, 0, 39, plain);
	cr_assert_eq(score_make(&m, &cap, 1, 8, 40, 1), 0);
	fx.p.score = &m;
	kern_oracle_row(&fx.p, 0, 0, 39, capped);
	for (int c = 0; c < 8; c++)
		diff = fmax(diff, fabs(plain[c] - capped[c]));
	cr_assert_gt(diff, 100 * VERIFY_MAX_ABS);
	score_free(&m);
	fx_free(&fx);
}

/* score: under shape and sweep: labels, the sweep of a parameter list,
 * plain as the default, and cell keys that name a score only when it is
 * not plain (so old runs resume). */
Test(score, the_score_axis_sweeps_and_labels_cells)
{
	struct experiment x;
	struct plan pl;
	struct err e;
	const char *text =
		"shape: {seq_len: 16, heads: 2, threads: 1}\n"
		"sweep:\n"
		"  score: [plain, alibi, {softcap: {cap: [30, 50]}}, {scale: {value: 0.5}},\n"
		"          {relative_bias: {}}]\n"
		"patterns: [dense]\n"
		"kernels: [naive]\n";
	const char *want[] = { "plain", "alibi", "softcap(cap=30)", "softcap(cap=50)", "scale(value=0.5)",
			       "relative_bias(buckets=32 max_distance=128 seed=0)" };

	cr_assert_eq(exp_load_string("score-axis", text, &x, &e), 0, "%s", e.msg);
	cr_assert_eq(x.axis[EXP_SCORE].n, 6);
	for (size_t i = 0; i < 6; i++)
		cr_assert_str_eq(x.scores[x.axis[EXP_SCORE].v[i]].label, want[i]);
	cr_assert_eq(plan_build(&x, &pl, &e), 0);
	cr_assert_eq(pl.n, 6);
	cr_assert_str_eq(pl.cell[0].key, "dense/naive/n16/d64/b1/h2/kv2/t1/causal/f32");
	cr_assert(strstr(pl.cell[2].key, "/score=softcap(cap=30)"), "%s", pl.cell[2].key);
	plan_free(&pl);
	exp_free(&x);
	cr_assert_eq(exp_load_string("score-axis", "shape: {seq_len: 16}\npatterns: [dense]\nkernels: [naive]\n",
				     &x, &e), 0, "%s", e.msg);
	cr_assert_eq(x.axis[EXP_SCORE].n, 1);
	cr_assert_str_eq(x.scores[x.axis[EXP_SCORE].v[0]].label, "plain");
	exp_free(&x);
}
