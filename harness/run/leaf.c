/* leaf.c - what every part of a run uses and that uses nothing of the
 * run: the clock, memory (how much is free, buffers a kernel may read at
 * full speed, the peak-RSS mark) and a slot's one run, its reset and its
 * skip. The bottom of run/: driver (runner.c) -> a group's life (group.c)
 * -> its checks and rows (checks.c, rows.c) -> ragged batches (ragged.c)
 * -> cache layout and probe (layout.c, probe.c) -> this file. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "group.h"

double run_now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Resets the peak-RSS mark to the current RSS (Linux clear_refs 5). */
void run_reset_peak_rss(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

double runner_mem_available(void)
{
	long long kb = manifest_proc_kb("/proc/meminfo", "MemAvailable");

	return kb < 0 ? 1e18 : (double)kb * 1024.0;
}

/* 64-byte aligned buffer, huge pages advised (first touch is costly). */
float *run_alloc_floats(size_t n)
{
	size_t bytes = (n ? n : 1) * sizeof(float);
	void *p;

	bytes = (bytes + 4095) & ~(size_t)4095;
	if (posix_memalign(&p, 4096, bytes))
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

void run_zero_floats(float *x, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		x[i] = 0.0f;
}

/* Restores what the previous run consumed (untimed). */
void run_reset_slot(struct group *gr, struct slot *s)
{
	gr->p.o = s->o;
	if (s->kd->reset)
		s->kd->reset(&gr->p, s->ws);
}

void run_once(struct group *gr, struct slot *s)
{
	gr->p.o = s->o;
	s->kd->run(&gr->p, s->ws);
}

void run_skip_slot(struct slot *s, const char *fmt, const char *why)
{
	snprintf(s->status, sizeof s->status, fmt, why);
	s->active = 0;
}

/* Bytes of Q, K, V and one output: what every kernel of a group shares. */
double run_group_input_bytes(const struct problem *p)
{
	return 4.0 * ((double)p->batch * p->heads * (double)p->n_q * (p->d + kern_dv(p)) +
		      (double)p->batch * p->kv_heads * (double)p->n_kv * (p->d + kern_dv(p)));
}
