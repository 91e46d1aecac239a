/* merge.h - joining the shard folders of one experiment into one results
 * folder: same experiment and build required, every shard present once,
 * every dealt cell present once. */
#ifndef SABENCH_MERGE_H
#define SABENCH_MERGE_H

#include <stddef.h>

#include "../err.h"

struct merge_summary {
	int shards;             /* shard folders joined */
	size_t cells;           /* rows written */
	size_t quality_lines;   /* quality.csv lines written */
	int machines;           /* distinct hosts among the shards */
};

/* Merges dirs (shard folders, or one folder holding them) into out (which
 * must not hold a run unless force). Returns 0, or -1 with e naming the
 * mismatch, the missing shard, or the missing and duplicate cells. */
int merge_runs(char *const *dirs, int n, const char *out, int force,
	       struct merge_summary *s, struct err *e);

#endif
