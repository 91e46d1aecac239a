/* attend.h - one layer's attention through a sabench kernel over the G
 * the layer reads (its window or dense, or the run's design, static or
 * selected from the layer's own Q and K), for the whole-sequence pass
 * (forward.c) and the decode step (decode.c). Internal to model/. */
#ifndef SABENCH_MODEL_ATTEND_H
#define SABENCH_MODEL_ATTEND_H

#include "model.h"

/* Attention of layer il over problem p (its shape, Q, K, V and O set;
 * n_q rows ending at key n_kv - 1): the G made and the kernel run; a
 * selected design's G is moved into *sel (zeroed before; NULL: freed).
 * A kind that selects at prefill only decodes over the layer's own G
 * (MInference's sparse prefill, dense decode): *sel stays empty.
 * q_hist, n_hist: the query rows a selection reads ending at the last
 * (p->q when n_hist is p->n_q); decode 1 for a step. 0, or -1 with why. */
int att_layer(const struct model *m, int il, const struct model_run *r, struct problem *p,
	      const float *q_hist, long n_hist, int decode, struct gset *sel, char *why, size_t len);

/* Query rows a selected design reads for n_q rows over n_kv keys (n_q
 * for a static one). */
long att_history(const struct model_run *r, int il, long n_q, long n_kv, int decode);

/* 1 when layer il's G is chosen from its Q and K. */
int att_selected(const struct model_run *r, int il);

/* The mean so far of *mean over *count values, with x added. */
void att_mean_add(double *mean, long *count, double x);

#endif
