/* runner.h - executes a plan: per group of cells sharing inputs, seeded
 * first-touch inputs, untimed preparation, discarded warm-ups, interleaved
 * timed repetitions, verification against the oracle after timing, and a
 * row per cell written as soon as the group ends. */
#ifndef SABENCH_RUNNER_H
#define SABENCH_RUNNER_H

#include <stddef.h>

#include "../config/experiment.h"
#include "../out/results.h"

/* Tolerances of verification against the double-precision oracle. */
#define VERIFY_MAX_ABS 2e-4     /* largest |out - oracle| */
#define VERIFY_NMSE 1e-7        /* sum (out - oracle)^2 / sum oracle^2 */
/* With a decode cache in f16 (11-bit mantissa) or bf16 (8-bit): the
 * rounding of K and V alone, against the fp32 oracle. */
#define VERIFY_MAX_ABS_F16 4e-3
#define VERIFY_NMSE_F16 2e-5
#define VERIFY_MAX_ABS_BF16 3e-2
#define VERIFY_NMSE_BF16 2e-3

struct run_opts {
	const char *out_dir;            /* results folder */
	enum res_mode mode;             /* new, --force or --resume */
	const char *dump_dir;           /* .npy dumps, or NULL */
	void (*progress)(const char *line);     /* one line per cell */
	void (*warn)(const char *line);         /* once per run */
	int shard_k, shard_n;           /* run shard k of n (1-based); n 0: all */
};

struct run_summary {
	size_t cells;           /* planned */
	size_t resumed;         /* written by an earlier run */
	size_t ok, skipped, failed;     /* rows this run wrote */
	int interrupted;        /* stopped by SIGINT / SIGTERM */
	double wall_s;          /* seconds */
	double inputs_s;        /* of which making inputs */
	double quality_s;       /* of which measuring quality */
};

/* Runs x into o->out_dir. Returns 0 when every cell was attempted or the
 * run was interrupted cleanly (see s), -1 with e set when it could not go
 * on (results folder, memory, PAPI). */
int runner_run(const struct experiment *x, const struct run_opts *o,
	       struct run_summary *s, struct err *e);

/* Memory the kernel could still get, in bytes (MemAvailable). */
double runner_mem_available(void);

#endif
