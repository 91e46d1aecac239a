/* test_bf16.c - dtype bf16: rounding to the nearest even bf16, every
 * kernel that runs bf16 x every pattern kind x the edge shapes on every
 * ISA path against the oracle on the rounded inputs (within the bf16
 * limits: P is rounded to bf16 for P V), the bf16 paths really taken,
 * and the dtype axis of an experiment. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../harness/config/plan.h"
#include "../harness/run/runner.h"
#include "../kernels/isa/bf16.h"
#include "../kernels/gemm.h"
#include "../kernels/kvcache.h"
#include "../kernels/isa/simd.h"
#include "helpers.h"

/* Rounding to bf16 as the bf16 paths do it, checked by what it must be:
 * a bf16 value (low half zero), the nearest one (within half a bf16 ulp
 * of x), ties to an even last bit; and widening keeps every bit. */
Test(bf16, rounding_is_to_the_nearest_even_bf16)
{
	for (unsigned long long i = 0; i < 200000; i++) {
		union { uint32_t u; float f; } x = { (uint32_t)(i * 2654435761ULL) }, r;
		double ulp, gap;
		if (!isfinite(x.f) || fabsf(x.f) > 3.0e38f)
			continue;
		r.f = x.f;
		kern_bf16_round(&r.f, 1);
		ulp = ldexp(1.0, ilogb(x.f == 0.0f ? 1.0f : x.f) - 7);
		if (fpclassify(x.f) == FP_SUBNORMAL || x.f == 0.0f)
			ulp = ldexp(1.0, -133);
		gap = fabs((double)r.f - (double)x.f);
		cr_assert_eq(r.u & 0xffffu, 0u, "%a rounds to %a, not a bf16", (double)x.f, (double)r.f);
		cr_assert(gap <= ulp / 2, "%a rounds to %a, %g ulp away", (double)x.f, (double)r.f, gap / ulp);
		if (gap == ulp / 2 && gap > 0)
			cr_assert_eq((r.u >> 16) & 1u, 0u, "tie %a rounds to odd %a", (double)x.f, (double)r.f);
		float w;
		kern_bf16_widen_rows((const uint16_t[]){ (uint16_t)(r.u >> 16) }, &w, 1);
		cr_assert(memcmp(&w, &r.f, sizeof w) == 0, "bf16 %04x widens to %a", (unsigned)(r.u >> 16), (double)w);
	}
	float tie = 1.0f + 1.0f / 256.0f, up = 1.0f + 3.0f / 256.0f;  /* halfway: to even */
	kern_bf16_round(&tie, 1);
	kern_bf16_round(&up, 1);
	cr_assert_eq(tie, 1.0f);
	cr_assert_eq(up, 1.0f + 4.0f / 256.0f);
}

static void check(const char *spec, int causal, long n, int heads, int kv_heads, int d,
		  const struct kern_desc *k, const char *isa)
{
	struct fixture fx;
	long bad;
	double err;

	fx_make(&fx, spec, causal, n, 1, heads, kv_heads, d, 2.0f);
	fx_bf16(&fx);
	err = fx_max_err(&fx, k, 2, &bad);
	cr_assert(bad == 0 && err <= VERIFY_MAX_ABS_BF16, "%s on %s n %ld d %d, isa %s: error %g, %ld non-finite",
		  k->name, spec, n, d, isa, err, bad);
	fx_free(&fx);
}

Test(bf16, every_kernel_agrees_with_the_oracle_on_every_isa_path)
{
	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		const char *name = kern_isa_name((enum kern_isa)isa);
		if (kern_isa_unsupported((enum kern_isa)isa))
			continue;
		setenv("SABENCH_ISA", name, 1);
		for (int k = 0; k < kern_count; k++) {
			if (kern_table[k]->unavailable && kern_table[k]->unavailable())
				continue;
			if (kern_table[k]->no_bf16 && kern_table[k]->no_bf16())
				continue;
			for (size_t s = 0; s < fx_edge_count; s++)
				check(fx_edge[s].spec, fx_edge[s].causal, fx_edge[s].n, fx_edge[s].heads,
				      fx_edge[s].kv_heads, fx_edge[s].d, kern_table[k], name);
			for (size_t s = 0; s < fx_every_kind_count; s++)
				check(fx_every_kind[s], 1, 70, 2, 1, 24, kern_table[k], name);
		}
	}
	unsetenv("SABENCH_ISA");
}

/* The AMX and AVX512-BF16 paths' blocking and layouts on the software
 * models of their instructions (bf16.h), on every machine: the kernels
 * that read them (tiled, and ranges' blocks) on every shape and kind. */
Test(bf16, the_amx_and_avx512bf16_paths_agree_with_the_oracle_on_their_models)
{
	const struct kern_desc *k[] = { kern_find("tiled"), kern_find("ranges") };
	const struct bf16_ops *model[] = { &bf16_amx_model, &bf16_avx512bf16_model };

	for (size_t m = 0; m < 2; m++) {
		kern_bf16_test_force(model[m]);
		for (size_t i = 0; i < 2; i++) {
			for (size_t s = 0; s < fx_edge_count; s++)
				check(fx_edge[s].spec, fx_edge[s].causal, fx_edge[s].n, fx_edge[s].heads,
				      fx_edge[s].kv_heads, fx_edge[s].d, k[i], model[m]->name);
			for (size_t s = 0; s < fx_every_kind_count; s++)
				check(fx_every_kind[s], 1, 70, 2, 1, 24, k[i], model[m]->name);
		}
	}
	kern_bf16_test_force(NULL);
}

/* A GEMM library in plain C for the framework of the library kernels
 * (gemm.h): its operands in the problem's dtype, as oneDNN's bf16
 * primitives take them, so the framework's bf16 side (operand offsets,
 * P in bf16) is checked on machines whose oneDNN has no bf16 matmul. */
struct ref_ctx {
	float scale;
	int bf16;
};

static float ref_at(const struct ref_ctx *c, const void *x, size_t i)
{
	return c->bf16 ? dt_from_bf16(((const uint16_t *)x)[i]) : ((const float *)x)[i];
}

static int ref_open(const struct problem *p, int threads, float scale, void **ctx)
{
	struct ref_ctx *c = malloc(sizeof *c);

	(void)threads;
	c->scale = scale;
	c->bf16 = p->dtype == DT_BF16;
	*ctx = c;
	return 0;
}

static void ref_qk(void *ctx, int thread, int m, int n, int d, const void *q, const void *k,
		   float *s, long lds)
{
	(void)thread;
	for (int r = 0; r < m; r++)
		for (int j = 0; j < n; j++) {
			float acc = 0.0f;
			for (int c = 0; c < d; c++)
				acc += ref_at(ctx, q, (size_t)r * d + c) * ref_at(ctx, k, (size_t)j * d + c);
			s[r * lds + j] = ((struct ref_ctx *)ctx)->scale * acc;
		}
}

static void ref_pv(void *ctx, int thread, int m, int n, int d, const void *p, long ldp,
		   const void *v, float *o)
{
	(void)thread;
	for (int r = 0; r < m; r++)
		for (int j = 0; j < n; j++)
			for (int c = 0; c < d; c++)
				o[(size_t)r * d + c] += ref_at(ctx, p, (size_t)r * ldp + j) *
							ref_at(ctx, v, (size_t)j * d + c);
}

static const struct gemm_lib ref_lib = {
	.open = ref_open, .close = free, .qk = ref_qk, .pv = ref_pv,
};

static int ref_prepare(const struct problem *p, int threads, void **ws)
{
	return gemm_prepare(p, threads, &ref_lib, ws);
}

static const struct kern_desc ref_gemm = {
	.name = "ref-gemm", .summary = "the gemm framework on C products",
	.prepare = ref_prepare, .index = gemm_index, .run = gemm_run,
	.release = gemm_release, .cost = gemm_cost, .simd = 1,
};

Test(bf16, the_library_framework_hands_bf16_operands_to_its_library)
{
	for (size_t s = 0; s < fx_edge_count; s++)
		check(fx_edge[s].spec, fx_edge[s].causal, fx_edge[s].n, fx_edge[s].heads,
		      fx_edge[s].kv_heads, fx_edge[s].d, &ref_gemm, "compiled");
	for (size_t s = 0; s < fx_every_kind_count; s++)
		check(fx_every_kind[s], 1, 70, 2, 1, 24, &ref_gemm, "compiled");
}

/* The bf16 paths round P: on the same rounded inputs their output moves
 * off the fp32 path's by more than fp32 rounding and less than the bf16
 * limit (a kernel that read the fp32 copy would not move). */
Test(bf16, the_bf16_paths_are_taken)
{
	const char *fast[] = { "tiled", "ranges", "gather" };

	for (size_t i = 0; i < 3; i++) {
		const struct kern_desc *k = kern_find(fast[i]);
		struct fixture a, b;
		long bad;
		double diff = 0.0;
		fx_make(&a, "window: {size: 40}", 1, 130, 1, 2, 2, 32, 2.0f);
		fx_make(&b, "window: {size: 40}", 1, 130, 1, 2, 2, 32, 2.0f);
		fx_bf16(&a);
		fx_bf16(&b);
		b.p.dtype = DT_F32;             /* the fp32 path on the same values */
		fx_max_err(&a, k, 1, &bad);
		fx_max_err(&b, k, 1, &bad);
		for (size_t x = 0; x < (size_t)2 * 130 * 32; x++)
			diff = fmax(diff, fabs((double)a.o[x] - b.o[x]));
		cr_assert(diff > 1e-5 && diff < VERIFY_MAX_ABS_BF16, "%s: bf16 against fp32 path %g",
			  fast[i], diff);
		fx_free(&a);
		fx_free(&b);
	}
}

/* dtype: [f32, bf16] sweeps; cells name their dtype; the kernels without
 * a bf16 path are skipped with their reason. */
Test(bf16, the_dtype_axis_sweeps_and_names_cells)
{
	struct experiment x;
	struct plan pl;
	struct err e;
	const char *text = "shape: {seq_len: 16, heads: 2, threads: 1}\n"
			   "sweep: {dtype: [f32, bf16]}\n"
			   "patterns: [dense]\n"
			   "kernels: [tiled, blas]\n";

	cr_assert_eq(exp_load_string("dtype-axis", text, &x, &e), 0, "%s", e.msg);
	cr_assert_eq(plan_build(&x, &pl, &e), 0);
	cr_assert_eq(pl.n, 4);
	cr_assert_str_eq(pl.cell[0].key, "dense/tiled/n16/d64/b1/h2/kv2/t1/causal/f32");
	cr_assert_str_eq(pl.cell[2].key, "dense/tiled/n16/d64/b1/h2/kv2/t1/causal/bf16");
	cr_assert_str_eq(kern_find("blas")->no_bf16(), "its products are sgemm's: fp32 only");
	cr_assert_null(kern_find("tiled")->no_bf16);
	plan_free(&pl);
	exp_free(&x);
}
