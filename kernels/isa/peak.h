/* peak.h - ceiling loops for `sabench machine`: FMA (or bf16 dot product)
 * throughput per ISA and STREAM-style memory sweeps. */
#ifndef SABENCH_PEAK_H
#define SABENCH_PEAK_H

#include <stddef.h>

#include "simd.h"

extern volatile float peak_sink;        /* keeps results alive */

/* Runs iters rounds of independent FMAs on the calling thread (bf16 dot
 * products for avx512bf16 and amx); returns the FLOPs done (0 for an ISA
 * without a loop here). */
double peak_fma(enum kern_isa isa, long iters);

/* Inside a parallel region: the team's share of a = b + 3 c; returns the
 * bytes the whole sweep moves (STREAM counts 3 per element). */
double peak_triad(float *a, const float *b, const float *c, size_t n);

/* Inside a parallel region: the team's share of a sum over a into *sum;
 * returns the bytes the whole sweep reads. */
double peak_read(const float *a, size_t n, float *sum);

/* peak_read, with prefetch 1 asking for each line a little ahead in
 * software (which helps some CPUs' DRAM reads and slows others'). */
double peak_read_as(const float *a, size_t n, int prefetch, float *sum);

/* On the calling thread alone: the sum over a[0, n) into *sum; returns
 * the bytes read. */
double peak_read_one(const float *a, size_t n, float *sum);

#endif
