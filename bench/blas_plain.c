/* blas_plain.c - the obvious program a careful engineer writes for dense
 * causal attention on OpenBLAS, kept beside sabench so that its `blas`
 * kernel can be compared with it in the same minutes (make bench): per
 * head and block of 256 query rows, S = Q K^T over keys 0 to the block's
 * end with cblas_sgemm, the causal mask on the diagonal, a row softmax,
 * O = P V with cblas_sgemm; OpenMP over (head, block) tasks with OpenBLAS
 * on one thread. Prints the median of the repetitions and GFLOP/s of
 * useful work (4 d per causal pair), as sabench's gflops column counts it.
 *
 *   blas_plain HEADS N D [REPEATS]      (threads: OMP_NUM_THREADS) */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROWS 256

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One (head, block) task: rows [r0, r0 + rows) against keys [0, r0 + rows). */
static void task(const float *q, const float *k, const float *v, float *o,
		 float *s, long n, int d, long r0)
{
	long rows = n - r0 < ROWS ? n - r0 : ROWS, keys = r0 + rows;
	float scale = 1.0f / sqrtf((float)d);

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)keys, d, scale,
		    q + r0 * d, d, k, d, 0.0f, s, (int)keys);
	for (long r = 0; r < rows; r++) {
		float *sr = s + r * keys, mx = -INFINITY, sum = 0.0f;
		for (long j = r0 + r + 1; j < keys; j++)
			sr[j] = -INFINITY;
		for (long j = 0; j <= r0 + r; j++)
			mx = sr[j] > mx ? sr[j] : mx;
		for (long j = 0; j < keys; j++)
			sum += (sr[j] = expf(sr[j] - mx));
		for (long j = 0; j < keys; j++)
			sr[j] /= sum;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, d, (int)keys, 1.0f,
		    s, (int)keys, v, d, 0.0f, o + r0 * d, d);
}

int main(int argc, char **argv)
{
	int heads = argc > 3 ? atoi(argv[1]) : 0, d = argc > 3 ? atoi(argv[3]) : 0;
	long n = argc > 3 ? atol(argv[2]) : 0, blocks;
	int reps = argc > 4 ? atoi(argv[4]) : 7;
	size_t sz = (size_t)heads * (size_t)n * (size_t)d;
	float *q, *k, *v, *o, *s;
	double *t;

	if (heads < 1 || n < 1 || d < 1 || reps < 1) {
		fprintf(stderr, "usage: blas_plain HEADS N D [REPEATS]\n");
		return 2;
	}
	blocks = (n + ROWS - 1) / ROWS;
	q = malloc(sz * sizeof *q);
	k = malloc(sz * sizeof *k);
	v = malloc(sz * sizeof *v);
	o = malloc(sz * sizeof *o);
	s = malloc((size_t)omp_get_max_threads() * ROWS * (size_t)n * sizeof *s);
	t = malloc((size_t)reps * sizeof *t);
	if (!q || !k || !v || !o || !s || !t) {
		fprintf(stderr, "blas_plain: out of memory\n");
		return 1;
	}
	openblas_set_num_threads(1);
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < sz; i++) {
		q[i] = (float)((i * 7919 % 2003) / 1001.5 - 1.0);
		k[i] = (float)((i * 104729 % 1999) / 999.5 - 1.0);
		v[i] = (float)((i * 1299709 % 2011) / 1005.5 - 1.0);
		o[i] = 0.0f;
	}
	for (int r = -1; r < reps; r++) {               /* one warm-up */
		double t0 = now_s();
#pragma omp parallel
		{
			float *sb = s + (size_t)omp_get_thread_num() * ROWS * (size_t)n;
#pragma omp for schedule(dynamic, 1)
			for (long x = 0; x < heads * blocks; x++) {
				long h = x / blocks, bl = blocks - 1 - x % blocks;
				size_t off = (size_t)h * (size_t)n * (size_t)d;
				task(q + off, k + off, v + off, o + off, sb, n, d, bl * ROWS);
			}
		}
		if (r >= 0)
			t[r] = now_s() - t0;
	}
	qsort(t, (size_t)reps, sizeof *t, cmp_double);
	printf("blas_plain heads %d n %ld d %d threads %d: median %.4f s, %.1f GFLOP/s\n",
	       heads, n, d, omp_get_max_threads(), t[reps / 2],
	       4.0 * d * (double)n * (double)(n + 1) / 2.0 * heads / t[reps / 2] * 1e-9);
	free(q);
	free(k);
	free(v);
	free(o);
	free(s);
	free(t);
	return 0;
}
