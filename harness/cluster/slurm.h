/* slurm.h - an experiment as SLURM jobs: an array of shard tasks, then a
 * merge job that waits for all of them (afterok) and draws and reports. */
#ifndef SABENCH_SLURM_H
#define SABENCH_SLURM_H

#include "../err.h"

struct slurm_opts {
	const char *experiment;         /* EXP.yaml */
	const char *name;               /* experiment name */
	const char *run_dir;            /* merged results folder */
	int shards;                     /* array size */
	const char *partition;          /* or NULL */
	const char *time;               /* per task, e.g. 01:00:00 */
	int exclusive;                  /* whole nodes (default) */
};

/* 0 when t is a time sbatch --time takes (minutes, m:s, h:m:s, d-h,
 * d-h:m, d-h:m:s, UNLIMITED), else -1. */
int slurm_check_time(const char *t);

/* 0 when p is a comma-separated list of partition names (letters, digits,
 * '_', '-', '.'), else -1. */
int slurm_check_partition(const char *p);

/* Writes run_dir/slurm/shards.sbatch and merge.sbatch (paths quoted, the
 * options checked first); returns 0, or -1 with e set. */
int slurm_write(const struct slurm_opts *o, struct err *e);

/* Submits both with sbatch (merge afterok the array, killed if the array
 * fails); fills the job ids. */
int slurm_submit(const struct slurm_opts *o, char *array_id, char *merge_id,
		 size_t len, struct err *e);

#endif
