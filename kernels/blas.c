/* blas.c - the library kernel on a CBLAS (OpenBLAS from Debian): the
 * framework of gemm.h with cblas_sgemm for S = Q K^T and O += P V.
 * OpenBLAS runs single-threaded inside sabench's OpenMP team (one
 * head-block per thread was fastest here). bench/blas_plain.c is the
 * plain program it is measured against. Built when a CBLAS is found
 * (SABENCH_HAVE_CBLAS). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"

#ifdef SABENCH_HAVE_CBLAS
#include <cblas.h>

/* The scale of S, the only state (cblas_sgemm needs no other). */
static int blas_open(const struct problem *p, int threads, float scale, void **ctx)
{
	float *s = malloc(sizeof *s);

	(void)p;
	(void)threads;
#ifdef OPENBLAS_VERSION
	openblas_set_num_threads(1);
#endif
	if (!s)
		return -1;
	*s = scale;
	*ctx = s;
	return 0;
}

static void blas_qk(void *ctx, int thread, int m, int n, int d, const void *q,
		    const void *k, float *s, long lds)
{
	(void)thread;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, d, *(const float *)ctx, q, d,
		    k, d, 0.0f, s, (int)lds);
}

static void blas_pv(void *ctx, int thread, int m, int n, int d, const void *p, long ldp,
		    const void *v, float *o)
{
	(void)ctx;
	(void)thread;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, d, n, 1.0f, p, (int)ldp, v, d,
		    1.0f, o, d);
}

static const struct gemm_lib blas_lib = {
	.open = blas_open,                      /* the scale */
	.close = free,
	.qk = blas_qk,                          /* sgemm, B transposed */
	.pv = blas_pv,                          /* sgemm, beta 1 */
};

static int blas_prepare(const struct problem *p, int threads, void **ws)
{
	return gemm_prepare(p, threads, &blas_lib, ws);
}

static const char *blas_no_bf16(void)
{
	return "its products are sgemm's: fp32 only";
}

static const char *blas_info(void)
{
	static char info[160];

#ifdef OPENBLAS_VERSION
	const char *v = OPENBLAS_VERSION;       /* " OpenBLAS 0.3.21 " */

	while (*v == ' ')
		v++;
	snprintf(info, sizeof info, "%.*s, core %s%s%s", (int)strcspn(v, "\n") - (v[strlen(v) - 1] == ' '),
		 v, openblas_get_corename(),
		 getenv("OPENBLAS_CORETYPE") ? ", OPENBLAS_CORETYPE=" : "",
		 getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "");
#else
	snprintf(info, sizeof info, "a CBLAS other than OpenBLAS");
#endif
	return info;
}

const struct kern_desc kern_blas = {
	.name = "blas",                         /* sgemm over touched key runs */
	.summary = "per 64-512 query rows: S = Q K^T and O = P V with cblas_sgemm over touched key runs",
	.unavailable = NULL,                    /* built with a CBLAS */
	.prepare = blas_prepare,                /* block views, S buffers */
	.index = gemm_index,                    /* block views of a selected G */
	.run = gemm_run,                        /* (head, row block) tasks */
	.release = gemm_release,
	.no_bf16 = blas_no_bf16,                /* sgemm: fp32 */
	.cost = gemm_cost,                      /* 2 d + 2 dv per computed S entry */
	.info = blas_info,                      /* which OpenBLAS core ran */
	.simd = 1,                              /* exp2 per ISA; sgemm is OpenBLAS's */
};

#else /* no CBLAS */

static const char *blas_unavailable(void)
{
	return "built without a CBLAS (install libopenblas-dev and rebuild)";
}

const struct kern_desc kern_blas = {
	.name = "blas",                         /* sgemm over touched key runs */
	.summary = "per 64-512 query rows: S = Q K^T and O = P V with cblas_sgemm over touched key runs",
	.unavailable = blas_unavailable,        /* this build has no CBLAS */
	.prepare = NULL,                        /* never called */
	.run = NULL,
	.release = NULL,
	.cost = NULL,
	.info = NULL,
};

#endif
