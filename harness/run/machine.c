/* machine.c - measuring and keeping the machine's ceilings. FMA (and the
 * bf16 dot products where the CPU has them): every thread of a team runs
 * independent chains, timed between barriers, best of ten. Memory: STREAM's method: arrays of 256 MiB each, touched
 * in parallel first, best of twenty sweeps (STREAM's NTIMES: on a shared
 * host the best sweep is the ceiling). The quick mode (a first `make run`
 * without results/machine.yaml) takes the best of three FMA tries and five
 * sweeps of 64 MiB arrays: a few seconds, and a lower bound. A team's FMA
 * ceiling is never below its cores' one-thread rates added
 * (machine_team_ceiling). */
#include <assert.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../kernels/isa/peak.h"
#include "../config/ytree.h"
#include "../report/manifest.h"
#include "machine.h"

#define STREAM_FLOATS ((size_t)64 << 20)        /* 256 MiB per array */
#define QUICK_FLOATS ((size_t)16 << 20)         /* 64 MiB: still beyond an LLC */

/* How long to measure: tries and their length. */
struct effort {
	int fma_tries;          /* best of */
	double fma_try_s;       /* seconds a try */
	int sweeps;             /* memory sweeps, best of */
	size_t floats;          /* per STREAM array */
};

static const struct effort full_effort = { 10, 0.1, 20, STREAM_FLOATS };
static const struct effort quick_effort = { 3, 0.05, 5, QUICK_FLOATS };

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* GFLOP/s of isa on a team of t threads running iters rounds each; the
 * seconds they took in *took. */
static double time_fma(enum kern_isa isa, int t, long iters, double *took)
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
	*took = t1 - t0;
	return flops / (t1 - t0) * 1e-9;
}

static double best_fma(enum kern_isa isa, int t, const struct effort *ef)
{
	long iters = 1 << 16;
	double best = 0, took, g = time_fma(isa, t, iters, &took);

	/* about 0.1 s a try, best of ten: on a shared host a try can lose a
	 * thread to a neighbour (a team of two once measured one thread's
	 * rate in all of three tries) */
	iters = (long)((double)iters * ef->fma_try_s / (took > 1e-6 ? took : 1e-6));
	for (int rep = 0; rep < ef->fma_tries; rep++) {
		g = time_fma(isa, t, iters > 1000 ? iters : 1000, &took);
		best = g > best ? g : best;
	}
	return best;
}

static void sweep_memory(struct machine_peaks *mp, int t, float *a, float *b,
			 float *c, const struct effort *ef)
{
	const size_t floats = ef->floats;

	for (int rep = 0; rep < ef->sweeps; rep++) {
		double bytes = 0, t0, t1, t2;
		float sum = 0;
		t0 = now_s();
#pragma omp parallel num_threads(t)
		bytes = peak_triad(a, b, c, floats);
		t1 = now_s();
#pragma omp parallel num_threads(t) reduction(+ : sum)
		peak_read(b, floats, &sum);
		t2 = now_s();
		peak_sink = sum;
		if (bytes / (t1 - t0) * 1e-9 > mp->triad[t])
			mp->triad[t] = bytes / (t1 - t0) * 1e-9;
		if ((double)floats * 4.0 / (t2 - t1) * 1e-9 > mp->read[t])
			mp->read[t] = (double)floats * 4.0 / (t2 - t1) * 1e-9;
	}
}

/* "threads t: fma avx512 .., avx2 ..; bf16 amx ..; triad .., read ..": the
 * ISAs measured here only (the others are 0 in the file). */
static void progress_line(const struct machine_peaks *mp, int t, char *line, size_t len)
{
	static const char *const what[] = {
		[KERN_PORTABLE] = NULL, /* no ceiling loop: plain C */
		[KERN_AVX2] = "fma", [KERN_AVX512] = "fma", [KERN_AVX512BF16] = "bf16",
		[KERN_AMX] = "bf16",
	};
	static_assert(sizeof what / sizeof *what == KERN_ISA_COUNT, "what: one per enum kern_isa");
	size_t at = (size_t)snprintf(line, len, "threads %d:", t);

	for (int isa = KERN_ISA_COUNT - 1; isa > KERN_PORTABLE && at < len; isa--)
		if (mp->fma[isa][t] > 0)
			at += (size_t)snprintf(line + at, len - at, " %s %s %.1f GFLOP/s,", what[isa],
					       kern_isa_name((enum kern_isa)isa), mp->fma[isa][t]);
	if (at < len)
		snprintf(line + at, len - at, " triad %.1f GB/s, read %.1f GB/s", mp->triad[t],
			 mp->read[t]);
}

/* Physical cores (distinct package and core ids under /sys), or 0 when
 * the topology is not there. */
static int physical_cores(void)
{
	char seen[1024][24], path[128], id[24];
	int n = 0;

	for (int cpu = 0; cpu < 4096 && n < 1024; cpu++) {
		FILE *f;
		int pkg = -1, core = -1;
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
		if (!(f = fopen(path, "r")))
			break;
		if (fscanf(f, "%d", &core) != 1)
			core = -1;
		fclose(f);
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
		if ((f = fopen(path, "r"))) {
			if (fscanf(f, "%d", &pkg) != 1)
				pkg = -1;
			fclose(f);
		}
		snprintf(id, sizeof id, "%d.%d", pkg, core);
		int k;
		for (k = 0; k < n && strcmp(seen[k], id); k++)
			;
		if (k == n)
			snprintf(seen[n++], sizeof seen[0], "%s", id);
	}
	return n;
}

/* A team's FMA ceiling: what it measured, or where a loaded host took a
 * core from it, what its threads on cores of their own do alone: FMA
 * units are per core, so t threads on min(t, cores) cores do at least
 * that many times one thread's rate (a turbo clock that only one busy
 * core gets makes this a little high, never low: no cell above it). The
 * measurement alone moved 24-62% between runs a minute apart on a loaded
 * 2-core host, the one-thread rate within 3%. */
double machine_team_ceiling(double measured, double one, int t, int cores)
{
	int alone = t < cores ? t : cores;
	double scaled = (double)(alone > 0 ? alone : 1) * one;

	return measured > scaled ? measured : scaled;
}

int machine_measure(struct machine_peaks *mp, int max_threads, int quick,
		    void (*progress)(const char *line), struct err *e)
{
	int cores = physical_cores();
	const struct effort *ef = quick ? &quick_effort : &full_effort;
	const size_t floats = ef->floats;
	float *a = malloc(floats * sizeof *a), *b = malloc(floats * sizeof *b);
	float *c = malloc(floats * sizeof *c);
	char line[256];

	memset(mp, 0, sizeof *mp);
	mp->quick = quick;
	if (max_threads > MACHINE_MAX_THREADS)
		max_threads = MACHINE_MAX_THREADS;
	mp->max_threads = max_threads;
	if (!a || !b || !c) {
		free(a);
		free(b);
		free(c);
		return err_set(e, "out of memory for the %zu MiB of STREAM arrays",
			       3 * floats * sizeof(float) >> 20);
	}
#pragma omp parallel for schedule(static) num_threads(max_threads)
	for (size_t i = 0; i < floats; i++) {
		a[i] = 0.0f;
		b[i] = 1.0f;
		c[i] = 2.0f;
	}
	for (int t = 1; t <= max_threads; t++) {
		for (int isa = KERN_AVX2; isa < KERN_ISA_COUNT; isa++)
			if (!kern_isa_unsupported((enum kern_isa)isa))
				mp->fma[isa][t] = machine_team_ceiling(best_fma((enum kern_isa)isa, t, ef),
								       mp->fma[isa][1], t, cores);
		sweep_memory(mp, t, a, b, c, ef);
		progress_line(mp, t, line, sizeof line);
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
		   "# accumulators; bf16 dot products: AMX TDPBF16PS, AVX512-BF16 VDPBF16PS,\n"
		   "# 0 where the CPU has none; STREAM triad a = b + s c counting 3 x 4 bytes\n"
		   "# per element)\n");
	fprintf(f, "cpu: \"%s\"\nmeasured: %s\nquick: %s\nthreads:\n", manifest_cpu_model(), when,
		mp->quick ? "true  # a few seconds' lower bound; `sabench machine` measures in full" : "false");
	for (int th = 1; th <= mp->max_threads; th++)
		fprintf(f, "  - {threads: %d, fma_avx512_gflops: %.1f, fma_avx2_gflops: %.1f, "
			   "bf16_amx_gflops: %.1f, bf16_avx512bf16_gflops: %.1f, triad_gbs: %.1f, read_gbs: %.1f}\n",
			th, mp->fma[KERN_AVX512][th], mp->fma[KERN_AVX2][th], mp->fma[KERN_AMX][th],
			mp->fma[KERN_AVX512BF16][th], mp->triad[th], mp->read[th]);
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
		mp->fma[KERN_AMX][t] = num(rows->kid[i], "bf16_amx_gflops");
		mp->fma[KERN_AVX512BF16][t] = num(rows->kid[i], "bf16_avx512bf16_gflops");
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
