/* plan.h - the experiment grid as a flat list of cells. Cells that share
 * inputs and G-set (same shape, threads and pattern variant) form a group
 * and are timed interleaved; each cell has a stable key for resuming. */
#ifndef SABENCH_PLAN_H
#define SABENCH_PLAN_H

#include <stddef.h>

#include "experiment.h"

struct cell_shape {
	long long v[EXP_FIELD_COUNT];   /* one value per shape field */
};

struct cell {
	size_t index;           /* position in the plan, 0-based */
	size_t group;           /* cells of a group share inputs */
	size_t pat;             /* index into experiment.pat */
	size_t inp;             /* index into experiment.inputs */
	size_t kern;            /* index into experiment.kern */
	struct cell_shape sh;   /* kv_heads resolved (never 0) */
	char key[256];          /* stable identity, the CSV 'cell' column */
};

struct plan {
	struct cell *cell;      /* groups are contiguous */
	size_t n;               /* cells */
	size_t n_groups;        /* groups */
};

/* Expands x into cells (seq_len outermost, then the other shape fields,
 * inputs, patterns, kernel innermost). Inputs read from files fix batch,
 * heads, kv_heads and head_dim of their cells. */
int plan_build(const struct experiment *x, struct plan *p, struct err *e);

void plan_free(struct plan *p);

/* Keeps only shard k (1-based) of n: whole groups (their kernels are timed
 * together), dealt largest estimated cost first to the least loaded shard,
 * so every shard of the same plan gets the same deterministic share. */
int plan_shard(const struct experiment *x, struct plan *p, int k, int n,
	       struct err *e);

/* Estimated cost of a cell (pairs it computes x head_dim x heads x batch). */
double plan_cell_cost(const struct experiment *x, const struct cell *c);

/* Writes the stable key of a cell into buf. */
void plan_key(const struct experiment *x, const struct cell *c, char *buf,
	      size_t len);

/* Writes the key of what a cell's quality lines measure into buf: its
 * key without the kernel and the thread count (quality.csv's group). */
void plan_quality_key(const struct experiment *x, const struct cell *c, char *buf,
		      size_t len);

#endif
