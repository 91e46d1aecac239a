/* manifest.h - manifest.yaml: the resolved experiment, the machine, the
 * build, OpenMP and PAPI settings, which counters were counted or dropped
 * and why, start and end time, and whether the run completed. */
#ifndef SABENCH_MANIFEST_H
#define SABENCH_MANIFEST_H

#include <time.h>

#include "../config/experiment.h"
#include "../counters.h"

struct manifest {
	const struct experiment *x;     /* what ran */
	const char *status;             /* running | complete | interrupted | failed */
	const char *reason;             /* why it stopped early, or NULL */
	time_t start, end;              /* wall clock */
	size_t cells, resumed;          /* planned; written by an earlier run */
	size_t ok, skipped, failed;     /* this run's rows by status */
	const struct ctr_set *ctr;      /* counter status, or NULL */
	const char *machine_file;       /* ceilings behind pct_peak, or NULL */
	int shard_k, shard_n;           /* this run is shard k of n; n 0: whole */
};

/* Writes dir/manifest.yaml atomically (temporary file, then rename). */
int manifest_write(const char *dir, const struct manifest *m, struct err *e);

/* Changes the status and reason of dir/manifest.yaml in place (no byte
 * added: what a full disk still allows), when manifest_write cannot
 * write a new one. */
int manifest_mark(const char *dir, const char *status, const char *reason, struct err *e);

/* A "Key: value kB" field of a /proc file (meminfo, self/status) in kB,
 * or -1. */
long long manifest_proc_kb(const char *path, const char *key);

/* CPU model name of this machine ("unknown" when unreadable). */
const char *manifest_cpu_model(void);

#endif
