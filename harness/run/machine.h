/* machine.h - this machine's measured ceilings (`sabench machine`): fp32
 * FMA GFLOP/s per ISA, bf16 dot-product GFLOP/s for the bf16 ISAs
 * (avx512bf16, amx), and STREAM triad and read GB/s, for 1..N threads,
 * kept in results/machine.yaml so every run's rows can say how close to
 * the limit they came (pct_peak). */
#ifndef SABENCH_MACHINE_H
#define SABENCH_MACHINE_H

#include "../../kernels/isa/simd.h"
#include "../err.h"

#define MACHINE_MAX_THREADS 256

struct machine_peaks {
	int max_threads;                                /* rows measured */
	int quick;                                      /* the quick mode measured them */
	double fma[KERN_ISA_COUNT][MACHINE_MAX_THREADS + 1];  /* GFLOP/s (bf16 for
								 * avx512bf16, amx) */
	double triad[MACHINE_MAX_THREADS + 1];          /* GB/s */
	double read[MACHINE_MAX_THREADS + 1];           /* GB/s */
};

/* Measures 1..max_threads (quick: a few seconds in all, a lower bound);
 * progress gets a line per thread count. */
int machine_measure(struct machine_peaks *mp, int max_threads, int quick,
		    void (*progress)(const char *line), struct err *e);

int machine_write(const char *path, const struct machine_peaks *mp,
		  struct err *e);

/* Loads path; returns 0, 1 when there is no such file, -1 on a bad file. */
int machine_load(const char *path, struct machine_peaks *mp, struct err *e);

/* Peak GFLOP/s for isa at threads (0 when not measured): a cell's ceiling
 * is that of the path it ran (kern_isa_of). */
/* A team of t threads' FMA ceiling: measured, or when a loaded host took
 * a core from the team, min(t, cores) times the one-thread rate one (FMA
 * units are per core); the larger. */
double machine_team_ceiling(double measured, double one, int t, int cores);

double machine_peak(const struct machine_peaks *mp, enum kern_isa isa,
		    int threads);

#endif
