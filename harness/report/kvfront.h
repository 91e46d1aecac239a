/* kvfront.h - the two levers of a KV budget on one pair of axes: for every
 * (inputs, pattern, kv_dtype) a run decoded, the bytes its cache stores
 * per context token against the output error it costs (the cell's G over
 * the cache's values, against dense f32), and the Pareto front: no other
 * design both stores less and loses less. "Fewer keys" (a sparse G) and
 * "fewer bits" (a compressed cache) sit side by side. */
#ifndef SABENCH_KVFRONT_H
#define SABENCH_KVFRONT_H

#include <stdio.h>

#include "../err.h"
#include "results.h"

struct kv_point {
	const char *inputs, *label, *kv_dtype;  /* into the table */
	long seq_len;           /* the largest decoded for this design */
	double bytes_per_token; /* kv_cache_bytes / seq_len: what is stored */
	double err;             /* kv_err_mean (f32 caches: out_err_mean) */
	double err_dense;       /* kv_err_dense_mean: the type alone; < 0: none */
	double recall;          /* kv_recall_mean (f32: recall_mean); < 0: none */
	int front;              /* 1: on its inputs' front */
};

struct kv_front {
	struct kv_point *pt;
	size_t n;
};

/* The points of t (decode rows that ran, with a quality measure). Returns
 * 0, or -1 out of memory. */
int kv_front_build(const struct res_table *t, struct kv_front *f);

/* kv_front.csv beside results.csv (what plots/kv.gp draws); budget: the
 * run's kv_budget in bytes per sequence, 0 for none. */
int kv_front_write_csv(const struct kv_front *f, double budget, const char *path,
		       struct err *e);

/* The report's table of the points, or nothing when there are none. */
void kv_front_write_md(const struct kv_front *f, double budget, FILE *md);

void kv_front_free(struct kv_front *f);

#endif
