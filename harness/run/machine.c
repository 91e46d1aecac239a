/* machine.c - measuring and keeping the machine's ceilings. FMA: every
 * thread of a team runs independent FMA chains, timed between barriers,
 * best of ten. Memory: STREAM's method: arrays of 256 MiB each, touched
 * in parallel first, best of twenty sweeps (STREAM's NTIMES: on a shared
 * host the best sweep is the ceiling). */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../kernels/peak.h"
#include "../config/ytree.h"
#include "../out/manifest.h"
#include "machine.h"

#define STREAM_FLOATS ((size_t)64 << 20)        /* 256 MiB per array */

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* GFLOP/s of isa on a team of t threads running iters rounds each. */
static double time_fma(enum kern_isa isa, int t, long iters)
{
	double flops = 0, t0 = 0, t1 = 0;

#pragma omp parallel num_threads(t) reduction(+ : flops)
	{
#pragma omp barrier
#pragma omp master
		t0 = now_s();
		flops += peak_fma(isa, iters);
#pragma omp barrier
#pragma omp master
		t1 = now_s();
	}
	return flops / (t1 - t0) * 1e-9;
}

static double best_fma(enum kern_isa isa, int t)
{
	long iters = 1 << 20;
	double best = 0, g = time_fma(isa, t, iters);

	/* about 0.1 s a try, best of ten: on a shared host a try can lose a
	 * thread to a neighbour (a team of two once measured one thread's
	 * rate in all of three tries) */
	iters = (long)((double)iters * 0.1 / ((double)iters * 768.0 / (g * 1e9)));
	for (int rep = 0; rep < 10; rep++) {
		g = time_fma(isa, t, iters > 1000 ? iters : 1000);
		best = g > best ? g : best;
	}
	return best;
}

static void sweep_memory(struct machine_peaks *mp, int t, float *a, float *b,
			 float *c)
{
	for (int rep = 0; rep < 20; rep++) {
		double bytes = 0, t0, t1, t2;
		float sum = 0;
		t0 = now_s();
#pragma omp parallel num_threads(t)
		bytes = peak_triad(a, b, c, STREAM_FLOATS);
		t1 = now_s();
#pragma omp parallel num_threads(t) reduction(+ : sum)
		peak_read(b, STREAM_FLOATS, &sum);
		t2 = now_s();
		peak_sink = sum;
		if (bytes / (t1 - t0) * 1e-9 > mp->triad[t])
			mp->triad[t] = bytes / (t1 - t0) * 1e-9;
		if ((double)STREAM_FLOATS * 4.0 / (t2 - t1) * 1e-9 > mp->read[t])
			mp->read[t] = (double)STREAM_FLOATS * 4.0 / (t2 - t1) * 1e-9;
	}
}

int machine_measure(struct machine_peaks *mp, int max_threads,
		    void (*progress)(const char *line), struct err *e)
{
	float *a = malloc(STREAM_FLOATS * sizeof *a), *b = malloc(STREAM_FLOATS * sizeof *b);
	float *c = malloc(STREAM_FLOATS * sizeof *c);
	char line[256];

	memset(mp, 0, sizeof *mp);
	if (max_threads > MACHINE_MAX_THREADS)
		max_threads = MACHINE_MAX_THREADS;
	mp->max_threads = max_threads;
	if (!a || !b || !c) {
		free(a);
		free(b);
		free(c);
		return err_set(e, "out of memory for the 768 MiB of STREAM arrays");
	}
#pragma omp parallel for schedule(static) num_threads(max_threads)
	for (size_t i = 0; i < STREAM_FLOATS; i++) {
		a[i] = 0.0f;
		b[i] = 1.0f;
		c[i] = 2.0f;
	}
	for (int t = 1; t <= max_threads; t++) {
		for (int isa = KERN_AVX2; isa < KERN_ISA_COUNT; isa++)
			if (!kern_isa_unsupported((enum kern_isa)isa))
				mp->fma[isa][t] = best_fma((enum kern_isa)isa, t);
		sweep_memory(mp, t, a, b, c);
		snprintf(line, sizeof line,
			 "threads %d: fma avx512 %.1f GFLOP/s, avx2 %.1f GFLOP/s; triad %.1f GB/s, read %.1f GB/s",
			 t, mp->fma[KERN_AVX512][t], mp->fma[KERN_AVX2][t], mp->triad[t], mp->read[t]);
		if (progress)
			progress(line);
	}
	free(a);
	free(b);
	free(c);
	return 0;
}

int machine_write(const char *path, const struct machine_peaks *mp,
		  struct err *e)
{
	FILE *f = fopen(path, "w");
	char when[64];
	time_t t = time(NULL);

	if (!f)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	fprintf(f, "# sabench machine: measured ceilings (fp32 FMA with independent\n"
		   "# accumulators; STREAM triad a = b + s c counting 3 x 4 bytes per element)\n");
	fprintf(f, "cpu: \"%s\"\nmeasured: %s\nthreads:\n", manifest_cpu_model(), when);
	for (int th = 1; th <= mp->max_threads; th++)
		fprintf(f, "  - {threads: %d, fma_avx512_gflops: %.1f, fma_avx2_gflops: %.1f, triad_gbs: %.1f, read_gbs: %.1f}\n",
			th, mp->fma[KERN_AVX512][th], mp->fma[KERN_AVX2][th], mp->triad[th], mp->read[th]);
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

static double num(const struct ynode *row, const char *key)
{
	const struct ynode *v = yt_get(row, key);

	return v && v->type == YT_SCALAR ? atof(v->str) : 0.0;
}

int machine_load(const char *path, struct machine_peaks *mp, struct err *e)
{
	struct ynode *root;
	const struct ynode *rows;

	memset(mp, 0, sizeof *mp);
	if (access(path, R_OK) != 0)
		return 1;
	if (yt_load_file(path, &root, e))
		return -1;
	rows = yt_get(root, "threads");
	for (size_t i = 0; rows && rows->type == YT_SEQ && i < rows->n; i++) {
		int t = (int)num(rows->kid[i], "threads");
		if (t < 1 || t > MACHINE_MAX_THREADS)
			continue;
		mp->fma[KERN_AVX512][t] = num(rows->kid[i], "fma_avx512_gflops");
		mp->fma[KERN_AVX2][t] = num(rows->kid[i], "fma_avx2_gflops");
		mp->triad[t] = num(rows->kid[i], "triad_gbs");
		mp->read[t] = num(rows->kid[i], "read_gbs");
		mp->max_threads = t > mp->max_threads ? t : mp->max_threads;
	}
	yt_free(root);
	if (!mp->max_threads)
		return err_set(e, "'%s' holds no thread rows; run 'sabench machine' again", path);
	return 0;
}

double machine_peak(const struct machine_peaks *mp, enum kern_isa isa,
		    int threads)
{
	if (threads < 1 || threads > mp->max_threads)
		return 0.0;
	if (isa == KERN_PORTABLE)       /* compiled C: the best the CPU has */
		return mp->fma[KERN_AVX512][threads] > 0 ? mp->fma[KERN_AVX512][threads]
							 : mp->fma[KERN_AVX2][threads];
	return mp->fma[isa][threads];
}
