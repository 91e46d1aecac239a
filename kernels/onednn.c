/* onednn.c - the library kernel on oneDNN (libdnnl-dev from Debian): the
 * framework of gemm.h with oneDNN matmul primitives for S = Q K^T (the
 * scale as the primitive's output scale) and O += P V (a sum post-op).
 * Both primitives take their sizes and leading dimensions at run time, so
 * each is made once in prepare, not per run; every thread executes them
 * on its own stream, on memory objects made around the run's pointers.
 * oneDNN, built on OpenMP, runs single-threaded inside sabench's team, as
 * OpenBLAS does in blas. bf16 problems run bf16 primitives (Q, K, P, V in
 * bf16, S and O in fp32: oneDNN picks AMX or AVX512-BF16 itself) where
 * oneDNN has them for the CPU. Built when oneDNN is found
 * (SABENCH_HAVE_DNNL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"

#ifdef SABENCH_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>

#define RT DNNL_RUNTIME_DIM_VAL

struct dnnl_ctx {
	dnnl_engine_t engine;
	dnnl_data_type_t dt;            /* of Q, K, P, V */
	dnnl_primitive_t qk, pv;        /* made once, sizes at run time */
	dnnl_stream_t *stream;          /* per thread */
	int threads;
};

/* A 2-D descriptor of dt: rows x cols, rs and cs apart (RT: at run time). */
static dnnl_status_t md2(dnnl_memory_desc_t *md, dnnl_data_type_t dt, dnnl_dim_t rows,
			 dnnl_dim_t cols, dnnl_dim_t rs, dnnl_dim_t cs)
{
	dnnl_dims_t dims = { rows, cols }, strides = { rs, cs };

	return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

/* The matmul a x b -> c under attr; impl (may be NULL) gets the name of
 * the implementation oneDNN chose. */
static int matmul(dnnl_engine_t engine, const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b,
		  const dnnl_memory_desc_t *c, const_dnnl_primitive_attr_t attr,
		  dnnl_primitive_t *prim, char *impl, size_t len)
{
	dnnl_matmul_desc_t desc;
	dnnl_primitive_desc_t pd;
	const char *name = NULL;
	int rc;

	if (dnnl_matmul_desc_init(&desc, a, b, NULL, c) != dnnl_success ||
	    dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL) != dnnl_success)
		return -1;
	if (impl && dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success)
		snprintf(impl, len, "%s", name);
	rc = dnnl_primitive_create(prim, pd) == dnnl_success ? 0 : -1;
	dnnl_primitive_desc_destroy(pd);
	return rc;
}

/* The two primitives for head_dim d and head_dim_v dv, inputs of dt:
 * S = scale Q K^T (K read transposed) and O += P V, S and O fp32. */
static int make_primitives(dnnl_engine_t engine, dnnl_data_type_t dt, int d, int dv, float scale,
			   dnnl_primitive_t *qk, dnnl_primitive_t *pv, char impl[2][64])
{
	dnnl_memory_desc_t q, kt, s, p, v, o;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t ops = NULL;
	int rc = -1;

	if (md2(&q, dt, RT, d, d, 1) || md2(&kt, dt, d, RT, 1, d) ||
	    md2(&s, dnnl_f32, RT, RT, RT, 1) || md2(&p, dt, RT, RT, RT, 1) ||
	    md2(&v, dt, RT, dv, dv, 1) || md2(&o, dnnl_f32, RT, dv, dv, 1))
		return -1;
	if (dnnl_primitive_attr_create(&attr) != dnnl_success)
		return -1;
	if (dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale) == dnnl_success &&
	    matmul(engine, &q, &kt, &s, attr, qk, impl[0], sizeof impl[0]) == 0 &&
	    dnnl_post_ops_create(&ops) == dnnl_success &&
	    dnnl_post_ops_append_sum(ops, 1.0f) == dnnl_success) {
		dnnl_primitive_attr_destroy(attr);
		attr = NULL;
		if (dnnl_primitive_attr_create(&attr) == dnnl_success &&
		    dnnl_primitive_attr_set_post_ops(attr, ops) == dnnl_success &&
		    matmul(engine, &p, &v, &o, attr, pv, impl[1], sizeof impl[1]) == 0)
			rc = 0;
	}
	if (ops)
		dnnl_post_ops_destroy(ops);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	return rc;
}

static void onednn_close(void *ctx)
{
	struct dnnl_ctx *c = ctx;

	for (int t = 0; c->stream && t < c->threads; t++)
		if (c->stream[t])
			dnnl_stream_destroy(c->stream[t]);
	free(c->stream);
	if (c->qk)
		dnnl_primitive_destroy(c->qk);
	if (c->pv)
		dnnl_primitive_destroy(c->pv);
	if (c->engine)
		dnnl_engine_destroy(c->engine);
	free(c);
}

static int onednn_open(const struct problem *p, int threads, float scale, void **ctx)
{
	struct dnnl_ctx *c = calloc(1, sizeof *c);
	char impl[2][64];

	if (!c)
		return -1;
	c->threads = threads;
	c->dt = p->dtype == DT_BF16 ? dnnl_bf16 : dnnl_f32;
	c->stream = calloc((size_t)threads, sizeof *c->stream);
	if (!c->stream || dnnl_engine_create(&c->engine, dnnl_cpu, 0) != dnnl_success ||
	    make_primitives(c->engine, c->dt, p->d, kern_dv(p), scale, &c->qk, &c->pv, impl)) {
		onednn_close(c);
		return -1;
	}
	for (int t = 0; t < threads; t++)
		if (dnnl_stream_create(&c->stream[t], c->engine, dnnl_stream_default_flags) != dnnl_success) {
			onednn_close(c);
			return -1;
		}
	*ctx = c;
	return 0;
}

/* Executes prim on a (ra x ca, lda apart) x b (rb x cb, ldb apart) into
 * dst (ra x cb, ldd apart); b is read transposed when bt. */
static void execute(const struct dnnl_ctx *c, int thread, dnnl_primitive_t prim, const void *a,
		    long ra, long ca, long lda, const void *b, long rb, long cb, long ldb, int bt,
		    float *dst, long ldd)
{
	dnnl_memory_desc_t ma, mb, md;
	dnnl_memory_t xa = NULL, xb = NULL, xd = NULL;

	md2(&ma, c->dt, ra, ca, lda, 1);
	if (bt)
		md2(&mb, c->dt, rb, cb, 1, ldb);
	else
		md2(&mb, c->dt, rb, cb, ldb, 1);
	md2(&md, dnnl_f32, ra, cb, ldd, 1);
	if (dnnl_memory_create(&xa, &ma, c->engine, (void *)a) == dnnl_success &&
	    dnnl_memory_create(&xb, &mb, c->engine, (void *)b) == dnnl_success &&
	    dnnl_memory_create(&xd, &md, c->engine, dst) == dnnl_success) {
		dnnl_exec_arg_t args[3] = { { DNNL_ARG_SRC, xa }, { DNNL_ARG_WEIGHTS, xb },
					    { DNNL_ARG_DST, xd } };
		if (dnnl_primitive_execute(prim, c->stream[thread], 3, args) != dnnl_success ||
		    dnnl_stream_wait(c->stream[thread]) != dnnl_success)
			abort();        /* sizes the primitive accepted at creation */
	} else {
		abort();                /* out of memory for a few bytes of descriptor */
	}
	dnnl_memory_destroy(xa);
	dnnl_memory_destroy(xb);
	dnnl_memory_destroy(xd);
}

static void onednn_qk(void *ctx, int thread, int m, int n, int d, const void *q,
		      const void *k, float *s, long lds)
{
	execute(ctx, thread, ((struct dnnl_ctx *)ctx)->qk, q, m, d, d, k, d, n, d, 1, s, lds);
}

static void onednn_pv(void *ctx, int thread, int m, int n, int d, const void *p, long ldp,
		      const void *v, float *o)
{
	execute(ctx, thread, ((struct dnnl_ctx *)ctx)->pv, p, m, n, ldp, v, n, d, d, 0, o, d);
}

static const struct gemm_lib onednn_lib = {
	.open = onednn_open,                    /* engine, primitives, streams */
	.close = onednn_close,
	.qk = onednn_qk,                        /* matmul, output scale */
	.pv = onednn_pv,                        /* matmul, sum post-op */
};

static int onednn_prepare(const struct problem *p, int threads, void **ws)
{
	return gemm_prepare(p, threads, &onednn_lib, ws);
}

/* Makes the two primitives of dt at head_dim 64 as prepare would and
 * names the implementations oneDNN picks; -1 when it has none. */
static int probe(dnnl_data_type_t dt, char impl[2][64])
{
	dnnl_engine_t engine;
	dnnl_primitive_t qk = NULL, pv = NULL;
	int rc = -1;

	if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success)
		return -1;
	rc = make_primitives(engine, dt, 64, 64, 1.0f, &qk, &pv, impl);
	if (qk)
		dnnl_primitive_destroy(qk);
	if (pv)
		dnnl_primitive_destroy(pv);
	dnnl_engine_destroy(engine);
	return rc;
}

/* oneDNN makes bf16 matmuls only for CPUs with AVX-512 (bf16 arithmetic
 * or its emulation): asked once. */
static const char *onednn_no_bf16(void)
{
	static int asked, missing;
	char impl[2][64];

	if (!asked) {
		missing = probe(dnnl_bf16, impl) != 0;
		asked = 1;
	}
	return missing ? "oneDNN has no bf16 matmul for this CPU" : NULL;
}

/* The version and the implementations oneDNN picks for the two
 * primitives, fp32 and bf16 (as prepare makes them, at head_dim 64). */
static const char *onednn_info(void)
{
	static char info[384];
	const dnnl_version_t *v = dnnl_version();
	char impl[2][64] = { "?", "?" }, impl16[2][64] = { "?", "?" }, bf16[160];

	probe(dnnl_f32, impl);
	if (probe(dnnl_bf16, impl16) == 0)
		snprintf(bf16, sizeof bf16, "bf16 S = Q K^T: %s, O += P V: %s", impl16[0], impl16[1]);
	else
		snprintf(bf16, sizeof bf16, "no bf16 matmul for this CPU");
	snprintf(info, sizeof info, "oneDNN %d.%d.%d (%s), matmul S = Q K^T: %s, O += P V: %s; %s",
		 v->major, v->minor, v->patch, v->hash, impl[0], impl[1], bf16);
	return info;
}

const struct kern_desc kern_onednn = {
	.name = "onednn",                       /* matmul primitives over touched key runs */
	.summary = "per 64-512 query rows: S = Q K^T and O = P V with oneDNN matmul over touched key runs",
	.unavailable = NULL,                    /* built with oneDNN */
	.prepare = onednn_prepare,              /* block views, primitives, streams */
	.index = gemm_index,                    /* block views of a selected G */
	.run = gemm_run,                        /* (head, row block) tasks */
	.release = gemm_release,
	.no_bf16 = onednn_no_bf16,              /* where oneDNN has no bf16 matmul */
	.cost = gemm_cost,                      /* 2 d + 2 dv per computed S entry */
	.info = onednn_info,                    /* version and implementations */
	.simd = 1,                              /* exp2 per ISA; matmul is oneDNN's */
	.bf16_simd = 1,                         /* oneDNN picks AMX / AVX512-BF16 itself */
};

#else /* no oneDNN */

static const char *onednn_unavailable(void)
{
	return "built without oneDNN (install libdnnl-dev and rebuild)";
}

const struct kern_desc kern_onednn = {
	.name = "onednn",                       /* matmul primitives over touched key runs */
	.summary = "per 64-512 query rows: S = Q K^T and O = P V with oneDNN matmul over touched key runs",
	.unavailable = onednn_unavailable,      /* this build has no oneDNN */
	.prepare = NULL,                        /* never called */
	.run = NULL,
	.release = NULL,
	.cost = NULL,
	.info = NULL,
};

#endif
