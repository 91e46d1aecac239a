/* runner.h - executes a plan: per group of cells sharing inputs, seeded
 * first-touch inputs, untimed preparation, discarded warm-ups, interleaved
 * timed repetitions, verification against the oracle after timing, and a
 * row per cell written as soon as the group ends. */
#ifndef SABENCH_RUNNER_H
#define SABENCH_RUNNER_H

#include <stddef.h>

#include "../config/experiment.h"
#include "../report/results.h"

/* Tolerances of verification against the double-precision oracle: the
 * dtype table's (kernels/isa/dtype.c), by name for the tests. */
#define VERIFY_MAX_ABS (dtype_of(DT_F32)->max_abs)      /* largest |out - oracle| */
#define VERIFY_NMSE (dtype_of(DT_F32)->max_nmse)        /* sum (out - oracle)^2 / sum oracle^2 */
#define VERIFY_MAX_ABS_F16 (dtype_of(DT_F16)->max_abs)
#define VERIFY_NMSE_F16 (dtype_of(DT_F16)->max_nmse)
#define VERIFY_MAX_ABS_BF16 (dtype_of(DT_BF16)->max_abs)
#define VERIFY_NMSE_BF16 (dtype_of(DT_BF16)->max_nmse)

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
