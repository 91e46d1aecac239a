/* pareto.h - the design-review question from a results table: per input
 * and pattern (at the run's largest seq_len and thread count), how much
 * faster than dense its best kernel is and how much of the dense attention
 * it keeps; the patterns no other beats on both are the Pareto front. */
#ifndef SABENCH_PARETO_H
#define SABENCH_PARETO_H

#include <stddef.h>

#include "../err.h"
#include "results.h"

struct pareto_point {
	const char *inputs, *label, *pattern;   /* into the table */
	const char *kernel;     /* the fastest verified kernel, or "" */
	long seq_len, threads, head_dim;
	double density;
	double recall_mean, recall_min, best_mean, err_mean; /* < 0: not measured */
	double time_s;          /* its median, < 0: none */
	double dense_time_s;    /* dense's best median, same inputs and shape */
	double speedup;         /* dense_time_s / time_s, < 0: unknown */
	int front;              /* 1: on its input's Pareto front */
};

struct pareto {
	struct pareto_point *pt;
	size_t n;
	long seq_len, threads;  /* where the points were taken */
};

/* The points of table t (a results.csv). Returns 0, or -1 out of memory. */
int pareto_build(const struct res_table *t, struct pareto *p);

/* Writes the points as CSV (pareto.csv, what plots/pareto.gp draws). */
int pareto_write_csv(const struct pareto *p, const char *path, struct err *e);

void pareto_free(struct pareto *p);

#endif
