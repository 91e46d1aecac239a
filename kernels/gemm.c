/* gemm.c - the framework of the library-based kernels (gemm.h): block
 * views, the key runs a block of query rows touches, the mask of G's gaps,
 * softmax between the library's two products, and the task loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "rowwise.h"
#include "isa/simd.h"

#define GEMM_KEYS 64             /* key granularity of the runs */
#define GEMM_MIN_ROWS 64
#define GEMM_MAX_ROWS 512

struct gemm_ws {
	struct gset_blocks *bv;         /* block view per layout (rows x 64) */
	int n_layouts;
	long rows;                      /* query rows per task */
	const struct simd_ops *ops;     /* exp2 of the ISA in use */
	float *buf;                     /* per thread: S (rows x n_kv) */
	uint16_t *p16;                  /* per thread: P in bf16, or NULL */
	size_t stride;
	long *runs;                     /* per thread: run bounds, 2 x n_bcol */
	float *inv;                     /* per thread: 1 / row sums */
	const struct gemm_lib *lib;     /* the library's products */
	void *ctx;                      /* and its state */
};

/* Query rows per task: 256 (a block of 512 packs K and V half as often
 * but computes twice the masked triangle on the diagonal: slower here),
 * fewer while there are not four tasks per thread, and within 64 MiB of S
 * per thread; 512 only for head_dim above 128. */
static long gemm_rows(const struct problem *p, int threads)
{
	long rows = p->d > 128 ? GEMM_MAX_ROWS : 256;
	double tasks;

	while (rows > GEMM_MIN_ROWS) {
		tasks = (double)p->batch * p->heads * (double)((p->n_q + rows - 1) / rows);
		if (tasks >= 4.0 * threads && (double)rows * (double)p->n_kv * 4.0 <= 64.0 * 1048576.0)
			break;
		rows /= 2;
	}
	return rows;
}

void gemm_release(void *ws)
{
	struct gemm_ws *w = ws;

	if (!w)
		return;
	if (w->ctx)
		w->lib->close(w->ctx);
	for (int l = 0; w->bv && l < w->n_layouts; l++)
		gset_blocks_free(&w->bv[l]);
	free(w->bv);
	free(w->buf);
	free(w->p16);
	free(w->runs);
	free(w->inv);
	free(w);
}

int gemm_index(const struct problem *p, void *ws)
{
	struct gemm_ws *w = ws;
	int failed = 0;

#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
	for (int l = 0; l < w->n_layouts; l++) {
		gset_blocks_free(&w->bv[l]);
		failed |= gset_block_view(p->g, l, w->rows, GEMM_KEYS, &w->bv[l]) != 0;
	}
	return failed ? -1 : 0;
}

int gemm_prepare(const struct problem *p, int threads, const struct gemm_lib *lib, void **ws)
{
	struct gemm_ws *w = calloc(1, sizeof *w);

	if (!w)
		return -1;
	w->lib = lib;
	w->n_layouts = p->g->n_layouts;
	w->ops = kern_simd();
	w->rows = gemm_rows(p, threads);
	w->stride = ((size_t)w->rows * (size_t)p->n_kv + 15) / 16 * 16;
	w->bv = calloc((size_t)w->n_layouts, sizeof *w->bv);
	w->buf = aligned_alloc(64, (size_t)threads * w->stride * sizeof(float));
	w->inv = malloc((size_t)threads * (size_t)w->rows * sizeof *w->inv);
	if (p->dtype == DT_BF16)
		w->p16 = malloc((size_t)threads * w->stride * sizeof *w->p16);
	if (!w->bv || !w->buf || !w->inv || (p->dtype == DT_BF16 && !w->p16)) {
		gemm_release(w);
		return -1;
	}
	for (int l = 0; l < w->n_layouts; l++)
		if (gset_block_view(p->g, l, w->rows, GEMM_KEYS, &w->bv[l])) {
			gemm_release(w);
			return -1;
		}
	w->runs = malloc((size_t)threads * 2 * (size_t)(w->bv[0].n_bcol + 1) * sizeof *w->runs);
	if (!w->runs || lib->open(p, threads, (float)(1.4426950408889634 * score_scale(p->score, p->d)),
				   &w->ctx)) {
		gemm_release(w);
		return -1;
	}
	*ws = w;
	return 0;
}

/* Sets S's entries of a row outside its ranges to -inf: the row's columns
 * are the concatenated key runs [lo[i], hi[i]); only the gaps are written. */
static void gemm_mask_row(float *s, const struct pat_range *rg, int64_t n,
			  const long *lo, const long *hi, int runs)
{
	int64_t t = 0;
	long off = 0;

	for (int i = 0; i < runs; off += hi[i] - lo[i], i++) {
		long j = lo[i];
		while (j < hi[i]) {
			while (t < n && rg[t].hi <= j)
				t++;
			long gap_end = t < n && rg[t].lo < hi[i] ? rg[t].lo : hi[i];
			for (; j < gap_end; j++)
				s[off + j - lo[i]] = -INFINITY;
			if (t < n && j < hi[i])
				j = rg[t].hi < hi[i] ? rg[t].hi : hi[i];
		}
	}
}

/* The key runs of block row R (adjacent blocks joined) into lo/hi;
 * returns the run count, *width their total keys. */
static int gemm_runs(const struct gset_blocks *bv, long R, long n_kv, long *lo,
		     long *hi, long *width)
{
	int runs = 0;

	*width = 0;
	for (int64_t t = bv->row_ptr[R]; t < bv->row_ptr[R + 1]; t++) {
		long c0 = (long)bv->col[t] * GEMM_KEYS;
		long c1 = c0 + GEMM_KEYS < n_kv ? c0 + GEMM_KEYS : n_kv;
		if (runs && hi[runs - 1] == c0) {
			hi[runs - 1] = c1;
		} else {
			lo[runs] = c0;
			hi[runs++] = c1;
		}
		*width += c1 - c0;
	}
	return runs;
}

/* Element e of Q (which 0), K (1) or V (2) in the problem's dtype. */
static const char *operand(const struct problem *p, int which, size_t e)
{
	const void *base[2][3] = { { p->q, p->k, p->v }, { p->q16, p->k16, p->v16 } };
	int bf16 = p->dtype == DT_BF16;

	return (const char *)base[bf16][which] + e * (bf16 ? 2 : 4);
}

/* P for the library: s itself, or rows x width of it rounded to bf16. */
static const void *probabilities(const struct problem *p, const float *s, uint16_t *p16,
				 long rows, long width)
{
	if (p->dtype != DT_BF16)
		return s;
	for (size_t x = 0; x < (size_t)rows * (size_t)width; x++)
		p16[x] = dt_to_bf16(s[x]);
	return p16;
}

static void gemm_task(const struct problem *p, const struct gemm_ws *w,
		      float *s, uint16_t *p16, float *inv, int b, int h, long R, long *lo, long *hi)
{
	int d = p->d, dv = kern_dv(p), l = gset_layout(p->g, b, h), runs;
	const struct gset_blocks *bv = &w->bv[l];
	long r0 = R * w->rows, rows = p->n_q - r0 < w->rows ? p->n_q - r0 : w->rows;
	long width, off = 0;
	size_t es = p->dtype == DT_BF16 ? 2 : 4;
	const char *q = operand(p, 0, kern_q_off(p, b, h) + (size_t)r0 * (size_t)d);
	const char *k = operand(p, 1, kern_kv_off(p, b, h)), *v = operand(p, 2, kern_v_off(p, b, h)), *pp;
	float *o = p->o + kern_o_off(p, b, h) + (size_t)r0 * (size_t)dv;
	int thread = kern_thread();
	long long pairs = 0;

	runs = gemm_runs(bv, R, p->n_kv, lo, hi, &width);
	memset(o, 0, (size_t)rows * (size_t)dv * sizeof *o);
	if (!width)
		return;
	for (int i = 0; i < runs; off += hi[i] - lo[i], i++)
		w->lib->qk(w->ctx, thread, (int)rows, (int)(hi[i] - lo[i]), d, q,
			   k + (size_t)lo[i] * (size_t)d * es, s + off, width);
	for (long r = 0; r < rows; r++) {
		int64_t n;
		const struct pat_range *rg = gset_row(p->g, l, r0 + r, &n);
		float *sr = s + (size_t)r * (size_t)width, mx = -INFINITY, sum;
		struct row_mod rm = row_mod_of(p, h, p->n_kv - p->n_q + r0 + r);
		for (int i = 0, at = 0; i < runs; at += (int)(hi[i] - lo[i]), i++)
			row_mod_apply(&rm, NULL, lo[i], sr + at, (int)(hi[i] - lo[i]), w->ops);
		gemm_mask_row(sr, rg, n, lo, hi, runs);
		mx = w->ops->max(sr, (int)width, mx);
		sum = w->ops->exp2_sum(sr, (int)width, mx == -INFINITY ? 0.0f : mx);
		inv[r] = sum > 0.0f ? 1.0f / sum : 0.0f;
		pairs += gset_row_keys(rg, n);
	}
	off = 0;
	pp = probabilities(p, s, p16, rows, width);
	for (int i = 0; i < runs; off += hi[i] - lo[i], i++)
		w->lib->pv(w->ctx, thread, (int)rows, (int)(hi[i] - lo[i]), dv, pp + (size_t)off * es,
			   width, v + (size_t)lo[i] * (size_t)dv * es, o);
	/* 1/sum on O's dv entries a row rather than on P's width */
	for (long r = 0; r < rows; r++)
		for (int c = 0; c < dv; c++)
			o[(size_t)r * (size_t)dv + (size_t)c] *= inv[r];
	kern_tally_add(p, thread, pairs, 2LL * (d + dv) * rows * width,
		       (long long)es * (d + dv) * width);
}

void gemm_run(const struct problem *p, void *ws)
{
	const struct gemm_ws *w = ws;
	long n_brow = w->bv[0].n_brow, bh = (long)p->batch * p->heads;

#pragma omp parallel
	{
		float *s = w->buf + (size_t)kern_thread() * w->stride;
		uint16_t *p16 = w->p16 ? w->p16 + (size_t)kern_thread() * w->stride : NULL;
		float *inv = w->inv + (size_t)kern_thread() * (size_t)w->rows;
		long *lo = w->runs + (size_t)kern_thread() * 2 * (size_t)(w->bv[0].n_bcol + 1);
		/* head after head (its K/V stay in cache), last blocks first */
#pragma omp for schedule(dynamic, 1)
		for (long t = 0; t < n_brow * bh; t++) {
			long R = n_brow - 1 - t % n_brow, i = t / n_brow;
			gemm_task(p, w, s, p16, inv, (int)(i / p->heads), (int)(i % p->heads), R,
				  lo, lo + w->bv[0].n_bcol + 1);
		}
	}
}

void gemm_cost(const struct problem *p, int threads, struct kern_cost *c)
{
	long rows = gemm_rows(p, threads);
	double blocks = 0;

	for (int l = 0; l < p->g->n_layouts; l++) {
		struct gset_blocks bv;
		if (gset_block_view(p->g, l, rows, GEMM_KEYS, &bv))
			break;
		blocks += (double)bv.row_ptr[bv.n_brow];
		gset_blocks_free(&bv);
	}
	c->flops_exec = kern_pair_flops(p) * gset_block_entries(p->g, rows, GEMM_KEYS, p->heads) *
			p->batch;
	c->score_bytes = (double)rows * (double)p->n_kv * sizeof(float);
	c->workspace_bytes = blocks * 5.0 + (double)threads * (c->score_bytes *
		(p->dtype == DT_BF16 ? 1.5 : 1.0) +
		2.0 * (double)((p->n_kv + GEMM_KEYS - 1) / GEMM_KEYS + 1) * sizeof(long) +
		(double)rows * sizeof(float));
}
