/* quality.h - what a G-set keeps of the dense attention, measured once per
 * group in double precision outside the timed runs: for sampled query
 * rows, the share of the dense softmax mass inside G (recall), the most any
 * G of the same size could keep (best), and the output error G causes;
 * for a compressed decode cache, the same against dense f32 with the
 * cache's values (what the type loses alone, and with G). */
#ifndef SABENCH_QUALITY_H
#define SABENCH_QUALITY_H

#include "../../kernels/kernel.h"
#include "../../kernels/kvcache.h"

/* The figures of a set of rows (one head, or all heads). */
struct quality_stats {
	long rows;              /* rows measured */
	double recall_mean;     /* mean share of the dense mass inside G_i */
	double recall_min;      /* smallest */
	double recall_p10;      /* 10th percentile */
	double best_mean;       /* mean of the |G_i| largest dense weights */
	double efficiency;      /* recall_mean / best_mean (1 when best is 0) */
	double err_mean;        /* mean ||o_G - o_dense|| / ||o_dense|| */
	double err_max;         /* largest */
	double density;         /* |G| over the dense pairs of these rows' heads */
	/* with the decode cache's values (K^, V^ of kv_dtype); < 0: no view */
	double kv_recall_mean;  /* mean share of the softmax of q.K^ inside G_i */
	double kv_err_dense_mean; /* mean ||o(all, K^, V^) - o_dense|| / ||o_dense||: the type alone */
	double kv_err_mean;     /* mean ||o(G, K^, V^) - o_dense|| / ||o_dense||: type and G */
};

struct quality {
	struct quality_stats all;       /* every head and sequence */
	struct quality_stats *head;     /* per query head, over sequences */
	int heads;
};

/* One row's figures, for tests and the scalar reference. */
struct quality_row {
	double recall, best, err;
	double kv_recall, kv_err_dense, kv_err; /* < 0: no view */
};

/* Measures p's G (p->g) against dense attention with the same causality
 * on rows_per_head rows per head (every row when n_q <= rows_per_head or
 * n_q x n_kv <= 2^20), picked as verification picks them. Returns 0, or -1
 * when out of memory. */
int quality_measure(const struct problem *p, const struct kv_view *view, int rows_per_head,
		    unsigned long long seed, struct quality *q);

/* The figures of row r of head h of sequence b; with view (the values a
 * decode cache of p's kv_dtype holds, kvcache.h), also the kv figures.
 * ws holds 3 n_kv + d + 4 dv doubles. */
void quality_row(const struct problem *p, const struct kv_view *view, int b, int h,
		 long r, double *ws, struct quality_row *out);

void quality_free(struct quality *q);

#endif
