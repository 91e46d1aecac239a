/* verify.c - the oracle on selected rows and the error measures. Rows are
 * sampled one per stratum of positions (recall and error depend on the
 * row's length), row 0 and the last row always among them (the shortest
 * and the longest causal rows). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "verify.h"

static unsigned long long mix64(unsigned long long x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void verify_pick_rows(long *rows, long n, long n_q, unsigned long long seed)
{
	if (n >= n_q) {
		for (long r = 0; r < n_q; r++)
			rows[r] = r;
		return;
	}
	/* one seeded row in each of n equal strata of [0, n_q) */
	for (long k = 0; k < n; k++) {
		long lo = (long)((double)k * (double)n_q / (double)n);
		long hi = (long)((double)(k + 1) * (double)n_q / (double)n);
		rows[k] = lo + (long)(mix64(seed + (unsigned long long)k) %
				      (unsigned long long)(hi > lo ? hi - lo : 1));
	}
	rows[0] = 0;
	if (n > 1)
		rows[n - 1] = n_q - 1;
}

int verify_prepare(struct verify_ref *ref, const struct problem *p,
		   int max_rows, unsigned long long seed)
{
	int all = p->n_q <= max_rows || (double)p->n_q * (double)p->n_kv <= 1048576.0;
	long n = all ? p->n_q : max_rows, bh = (long)p->batch * p->heads;

	ref->n_rows = n;
	ref->rows = malloc((size_t)n * sizeof *ref->rows);
	ref->out = malloc((size_t)bh * (size_t)n * (size_t)p->d * sizeof *ref->out);
	if (!ref->rows || !ref->out) {
		verify_free(ref);
		return -1;
	}
	verify_pick_rows(ref->rows, n, p->n_q, seed);
#pragma omp parallel for schedule(dynamic, 4)
	for (long t = 0; t < bh * n; t++) {
		int b = (int)(t / n / p->heads), h = (int)(t / n % p->heads);
		kern_oracle_row(p, b, h, ref->rows[t % n],
				ref->out + (size_t)t * (size_t)p->d);
	}
	return 0;
}

void verify_check(const struct verify_ref *ref, const struct problem *p,
		  const float *out, double max_abs, double max_nmse,
		  struct verify_result *res)
{
	long bh = (long)p->batch * p->heads;
	double num = 0.0, den = 0.0;

	res->max_abs_err = 0.0;
	res->ok = 1;
	res->why[0] = 0;
	for (long t = 0; t < bh * ref->n_rows; t++) {
		int b = (int)(t / ref->n_rows / p->heads);
		int h = (int)(t / ref->n_rows % p->heads);
		long r = ref->rows[t % ref->n_rows];
		const float *o = out + kern_q_off(p, b, h) + (size_t)r * (size_t)p->d;
		const double *want = ref->out + (size_t)t * (size_t)p->d;
		for (int c = 0; c < p->d; c++) {
			double diff = fabs((double)o[c] - want[c]);
			if (!isfinite(o[c]) && res->ok) {
				res->ok = 0;
				snprintf(res->why, sizeof res->why,
					 "non-finite output at batch %d head %d row %ld", b, h, r);
			}
			if (diff > res->max_abs_err)
				res->max_abs_err = diff;
			num += diff * diff;
			den += want[c] * want[c];
		}
	}
	res->nmse = den > 0 ? num / den : num;
	if (!res->ok)
		return;
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
