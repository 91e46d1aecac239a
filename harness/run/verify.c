/* verify.c - the oracle on selected rows and the error measures; the rows
 * are stats_pick_rows's (shared with quality). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../stats.h"
#include "../../kernels/kvcache.h"
#include "verify.h"

static int prepare_on(struct verify_ref *ref, const struct problem *p, const struct kv_view *w,
		      int max_rows, unsigned long long seed)
{
	int all = p->n_q <= max_rows || (double)p->n_q * (double)p->n_kv <= 1048576.0;
	long n = all ? p->n_q : max_rows, bh = (long)p->batch * p->heads;

	ref->n_rows = n;
	ref->rows = malloc((size_t)n * sizeof *ref->rows);
	ref->out = malloc((size_t)bh * (size_t)n * (size_t)kern_dv(p) * sizeof *ref->out);
	if (!ref->rows || !ref->out) {
		verify_free(ref);
		return -1;
	}
	stats_pick_rows(ref->rows, n, p->n_q, seed);
#pragma omp parallel for schedule(dynamic, 4)
	for (long t = 0; t < bh * n; t++) {
		int b = (int)(t / n / p->heads), h = (int)(t / n % p->heads);
		kern_oracle_row_view(p, w, b, h, ref->rows[t % n],
				     ref->out + (size_t)t * (size_t)kern_dv(p));
	}
	return 0;
}

int verify_prepare(struct verify_ref *ref, const struct problem *p,
		   int max_rows, unsigned long long seed)
{
	return prepare_on(ref, p, NULL, max_rows, seed);
}

int verify_prepare_cache(struct verify_ref *ref, const struct problem *p,
			 int max_rows, unsigned long long seed)
{
	struct kv_view w;
	int rc;

	if (kv_view_build(&w, p, p->kv_group, p->kv_residual))
		return -1;
	rc = prepare_on(ref, p, &w, max_rows, seed);
	kv_view_free(&w);
	return rc;
}

void verify_check(const struct verify_ref *ref, const struct problem *p,
		  const float *out, double max_abs, double max_nmse,
		  struct verify_result *res)
{
	long bh = (long)p->batch * p->heads;
	double num = 0.0, den = 0.0, big = 1.0;

	res->max_abs_err = 0.0;
	res->ok = 1;
	res->why[0] = 0;
	for (long t = 0; t < bh * ref->n_rows; t++) {
		int b = (int)(t / ref->n_rows / p->heads);
		int h = (int)(t / ref->n_rows % p->heads);
		long r = ref->rows[t % ref->n_rows];
		const float *o = out + kern_o_off(p, b, h) + (size_t)r * (size_t)kern_dv(p);
		const double *want = ref->out + (size_t)t * (size_t)kern_dv(p);
		for (int c = 0; c < kern_dv(p); c++) {
			double diff = fabs((double)o[c] - want[c]);
			if (!isfinite(o[c]) && res->ok) {
				res->ok = 0;
				snprintf(res->why, sizeof res->why,
					 "non-finite output at batch %d head %d row %ld", b, h, r);
			}
			if (diff > res->max_abs_err)
				res->max_abs_err = diff;
			if (fabs(want[c]) > big)
				big = fabs(want[c]);
			num += diff * diff;
			den += want[c] * want[c];
		}
	}
	res->nmse = den > 0 ? num / den : num;
	if (!res->ok)
		return;
	max_abs *= big;         /* fp32 rounds relative to the values' size */
	if (!(res->max_abs_err <= max_abs) || !(res->nmse <= max_nmse)) {
		res->ok = 0;
		snprintf(res->why, sizeof res->why,
			 "differs from the oracle: max_abs_err %.3g (limit %.3g) nmse %.3g (limit %.3g)",
			 res->max_abs_err, max_abs, res->nmse, max_nmse);
	}
}

void verify_free(struct verify_ref *ref)
{
	free(ref->rows);
	free(ref->out);
	ref->rows = NULL;
	ref->out = NULL;
}
