/* blas.c - blocked attention on a BLAS library, as a careful engineer
 * writes it: per head and block of 64 query rows, S = Q K^T with
 * cblas_sgemm over only the runs of key blocks the pattern touches, mask
 * and softmax, then O = P V with cblas_sgemm. OpenBLAS runs single-threaded
 * inside sabench's OpenMP team (one head-block per thread was fastest
 * here). Built when a CBLAS is found (SABENCH_HAVE_CBLAS). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "simd.h"

#ifdef SABENCH_HAVE_CBLAS
#include <cblas.h>

#define BLAS_ROWS 64

struct blas_ws {
	struct gset_blocks *bv;         /* block view per layout (64 x 64) */
	int n_layouts;
	const struct simd_ops *ops;     /* exp2 of the ISA in use */
	float *buf;                     /* per thread: S (64 x n_kv) */
	size_t stride;
	long *runs;                     /* per thread: run bounds, 2 x n_bcol */
};

static void blas_release(void *ws)
{
	struct blas_ws *w = ws;

	if (!w)
		return;
	for (int l = 0; w->bv && l < w->n_layouts; l++)
		gset_blocks_free(&w->bv[l]);
	free(w->bv);
	free(w->buf);
	free(w->runs);
	free(w);
}

static int blas_prepare(const struct problem *p, int threads, void **ws)
{
	struct blas_ws *w = calloc(1, sizeof *w);

	if (!w)
		return -1;
#ifdef OPENBLAS_VERSION
	openblas_set_num_threads(1);
#endif
	w->n_layouts = p->g->n_layouts;
	w->ops = kern_simd();
	w->stride = ((size_t)BLAS_ROWS * (size_t)p->n_kv + 15) / 16 * 16;
	w->bv = calloc((size_t)w->n_layouts, sizeof *w->bv);
	w->buf = aligned_alloc(64, (size_t)threads * w->stride * sizeof(float));
	if (!w->bv || !w->buf) {
		blas_release(w);
		return -1;
	}
	for (int l = 0; l < w->n_layouts; l++)
		if (gset_block_view(p->g, l, BLAS_ROWS, BLAS_ROWS, &w->bv[l])) {
			blas_release(w);
			return -1;
		}
	w->runs = malloc((size_t)threads * 2 * (size_t)(w->bv[0].n_bcol + 1) * sizeof *w->runs);
	if (!w->runs) {
		blas_release(w);
		return -1;
	}
	*ws = w;
	return 0;
}

/* Sets S's entries of row r outside its ranges to -inf; the row's columns
 * are the concatenated key runs [lo[i], hi[i]). */
static void blas_mask_row(float *s, const struct pat_range *rg, int64_t n,
			  const long *lo, const long *hi, int runs)
{
	int64_t t = 0;
	long col = 0;

	for (int i = 0; i < runs; i++)
		for (long j = lo[i]; j < hi[i]; j++, col++) {
			while (t < n && rg[t].hi <= j)
				t++;
			if (!(t < n && rg[t].lo <= j))
				s[col] = -INFINITY;
		}
}

static void blas_task(const struct problem *p, const struct blas_ws *w,
		      float *s, int b, int h, long R, long *lo, long *hi)
{
	int d = p->d, l = gset_layout(p->g, h), runs = 0;
	const struct gset_blocks *bv = &w->bv[l];
	long r0 = R * BLAS_ROWS, rows = p->n_q - r0 < BLAS_ROWS ? p->n_q - r0 : BLAS_ROWS;
	long width = 0, off = 0;
	const float *q = p->q + kern_q_off(p, b, h) + (size_t)r0 * (size_t)d;
	const float *k = p->k + kern_kv_off(p, b, h), *v = p->v + kern_kv_off(p, b, h);
	float *o = p->o + kern_q_off(p, b, h) + (size_t)r0 * (size_t)d;
	float scale = (float)(1.4426950408889634 / sqrt((double)d));
	long long pairs = 0;

	for (int64_t t = bv->row_ptr[R]; t < bv->row_ptr[R + 1]; t++) {
		long c0 = (long)bv->col[t] * BLAS_ROWS;
		long c1 = c0 + BLAS_ROWS < p->n_kv ? c0 + BLAS_ROWS : p->n_kv;
		if (runs && hi[runs - 1] == c0) {
			hi[runs - 1] = c1;
		} else {
			lo[runs] = c0;
			hi[runs++] = c1;
		}
		width += c1 - c0;
	}
	memset(o, 0, (size_t)rows * (size_t)d * sizeof *o);
	if (!width)
		return;
	for (int i = 0; i < runs; off += hi[i] - lo[i], i++)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows,
			    (int)(hi[i] - lo[i]), d, scale, q, d, k + (size_t)lo[i] * d, d,
			    0.0f, s + off, (int)width);
	for (long r = 0; r < rows; r++) {
		int64_t n;
		const struct pat_range *rg = gset_row(p->g, l, r0 + r, &n);
		float *sr = s + (size_t)r * (size_t)width, mx = -INFINITY, sum;
		blas_mask_row(sr, rg, n, lo, hi, runs);
		for (long j = 0; j < width; j++)
			mx = sr[j] > mx ? sr[j] : mx;
		sum = w->ops->exp2_sum(sr, (int)width, mx == -INFINITY ? 0.0f : mx);
		/* fold 1/sum into P so that O = P V needs no pass of its own */
		for (long j = 0; sum > 0.0f && j < width; j++)
			sr[j] /= sum;
		pairs += gset_row_keys(rg, n);
	}
	off = 0;
	for (int i = 0; i < runs; off += hi[i] - lo[i], i++)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, d,
			    (int)(hi[i] - lo[i]), 1.0f, s + off, (int)width,
			    v + (size_t)lo[i] * d, d, 1.0f, o, d);
	kern_tally_add(p, kern_thread(), pairs, 4LL * d * rows * width,
		       2LL * (long long)sizeof(float) * d * width);
}

static void blas_run(const struct problem *p, void *ws)
{
	const struct blas_ws *w = ws;
	long n_brow = w->bv[0].n_brow, bh = (long)p->batch * p->heads;

#pragma omp parallel
	{
		float *s = w->buf + (size_t)kern_thread() * w->stride;
		long *lo = w->runs + (size_t)kern_thread() * 2 * (size_t)(w->bv[0].n_bcol + 1);
		/* head after head (its K/V stay in cache), last blocks first */
#pragma omp for schedule(dynamic, 1)
		for (long t = 0; t < n_brow * bh; t++) {
			long R = n_brow - 1 - t % n_brow, i = t / n_brow;
			blas_task(p, w, s, (int)(i / p->heads), (int)(i % p->heads), R,
				  lo, lo + w->bv[0].n_bcol + 1);
		}
	}
}

static void blas_cost(const struct problem *p, int threads, struct kern_cost *c)
{
	double blocks = 0;

	for (int l = 0; l < p->g->n_layouts; l++) {
		struct gset_blocks bv;
		if (gset_block_view(p->g, l, BLAS_ROWS, BLAS_ROWS, &bv))
			break;
		blocks += (double)bv.row_ptr[bv.n_brow];
		gset_blocks_free(&bv);
	}
	c->flops_exec = 4.0 * p->d * gset_block_entries(p->g, BLAS_ROWS, BLAS_ROWS, p->heads) *
			p->batch;
	c->score_bytes = (double)BLAS_ROWS * (double)p->n_kv * sizeof(float);
	c->workspace_bytes = blocks * 5.0 + (double)threads * (c->score_bytes +
		2.0 * (double)((p->n_kv + BLAS_ROWS - 1) / BLAS_ROWS + 1) * sizeof(long));
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
	.summary = "per 64 query rows: S = Q K^T and O = P V with cblas_sgemm over touched key runs",
	.unavailable = NULL,                    /* built with a CBLAS */
	.prepare = blas_prepare,                /* block views, S buffers */
	.run = blas_run,                        /* (head, row block) tasks */
	.release = blas_release,
	.cost = blas_cost,                      /* 4 d per computed S entry */
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
	.summary = "per 64 query rows: S = Q K^T and O = P V with cblas_sgemm over touched key runs",
	.unavailable = blas_unavailable,        /* this build has no CBLAS */
	.prepare = NULL,                        /* never called */
	.run = NULL,
	.release = NULL,
	.cost = NULL,
	.info = NULL,
};

#endif
