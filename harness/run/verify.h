/* verify.h - checking kernel outputs against the oracle after timing: all
 * rows of small problems, a seeded sample of rows per head otherwise. */
#ifndef SABENCH_VERIFY_H
#define SABENCH_VERIFY_H

#include "../../kernels/kernel.h"

struct verify_ref {
	long *rows;             /* checked query rows, ascending */
	long n_rows;            /* per (batch, head) */
	double *out;            /* oracle: [batch][heads][n_rows][d] */
};

struct verify_result {
	double max_abs_err;     /* largest |out - oracle| */
	double nmse;            /* sum (out - oracle)^2 / sum oracle^2 */
	int ok;                 /* within both tolerances, all finite */
	char why[192];          /* when not ok: what and where */
};

/* Picks the rows (all when n_q <= max_rows or n_q * n_kv <= 2^20) and
 * computes the oracle on them. Returns 0, or -1 when out of memory. */
int verify_prepare(struct verify_ref *ref, const struct problem *p,
		   int max_rows, unsigned long long seed);

/* The same, with the oracle on what p's decode caches hold (its kv_dtype
 * coded and decoded: kvcache.h's view), for the kernels that read them. */
int verify_prepare_cache(struct verify_ref *ref, const struct problem *p,
			 int max_rows, unsigned long long seed);

/* Compares out (the kernel's output for p) with ref: the largest
 * |out - oracle| may be max_abs times the oracle's largest |value| when
 * that is above 1 (fp32 rounds relative to the values: a real model's V
 * reaches tens), the NMSE max_nmse. */
void verify_check(const struct verify_ref *ref, const struct problem *p,
		  const float *out, double max_abs, double max_nmse,
		  struct verify_result *res);

void verify_free(struct verify_ref *ref);

#endif
