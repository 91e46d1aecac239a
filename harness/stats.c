/* stats.c - order statistics and moments of repetition samples, and the
 * seeded row sampling that verification and quality share. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

double stats_percentile_sorted(const double *x, size_t n, double q)
{
	double pos, frac;
	size_t lo;

	if (n == 0)
		return 0.0;
	pos = q * (double)(n - 1);
	lo = (size_t)pos;
	frac = pos - (double)lo;
	if (lo + 1 >= n)
		return x[n - 1];
	return x[lo] + frac * (x[lo + 1] - x[lo]);
}

void stats_summarise(double *x, size_t n, struct stats_summary *s)
{
	double sum = 0.0, ss = 0.0;

	memset(s, 0, sizeof *s);
	s->n = n;
	if (!n)
		return;
	qsort(x, n, sizeof *x, cmp_double);
	for (size_t i = 0; i < n; i++)
		sum += x[i];
	s->mean = sum / (double)n;
	for (size_t i = 0; i < n; i++)
		ss += (x[i] - s->mean) * (x[i] - s->mean);
	s->min = x[0];
	s->max = x[n - 1];
	s->median = stats_percentile_sorted(x, n, 0.5);
	s->p90 = stats_percentile_sorted(x, n, 0.9);
	s->cv = n > 1 && s->mean > 0 ? sqrt(ss / (double)(n - 1)) / s->mean : 0.0;
}

long long stats_median_ll(long long *x, size_t n)
{
	if (!n)
		return 0;
	qsort(x, n, sizeof *x, cmp_ll);
	if (n % 2)
		return x[n / 2];
	/* mean of the middle two, rounded toward the lower */
	return x[n / 2 - 1] + (x[n / 2] - x[n / 2 - 1]) / 2;
}

struct ranked {
	double v;               /* value */
	int from_a;             /* 1: sample a */
};

static int cmp_ranked(const void *x, const void *y)
{
	double a = ((const struct ranked *)x)->v, b = ((const struct ranked *)y)->v;
	return (a > b) - (a < b);
}

void stats_mann_whitney(const double *a, size_t na, const double *b,
			size_t nb, double *u, double *p)
{
	size_t n = na + nb, i = 0;
	struct ranked *r = malloc((n ? n : 1) * sizeof *r);
	double rank_a = 0, ties = 0, mu, sigma2, z;

	*u = 0;
	*p = 1;
	if (!r || !na || !nb) {
		free(r);
		return;
	}
	for (size_t k = 0; k < na; k++)
		r[k] = (struct ranked){ a[k], 1 };
	for (size_t k = 0; k < nb; k++)
		r[na + k] = (struct ranked){ b[k], 0 };
	qsort(r, n, sizeof *r, cmp_ranked);
	while (i < n) {                 /* average ranks over each run of ties */
		size_t j = i;
		double t, avg;
		while (j + 1 < n && r[j + 1].v == r[i].v)
			j++;
		t = (double)(j - i + 1);
		avg = ((double)i + (double)j) / 2.0 + 1.0;
		for (size_t k = i; k <= j; k++)
			rank_a += r[k].from_a ? avg : 0;
		ties += t * t * t - t;
		i = j + 1;
	}
	free(r);
	*u = rank_a - (double)na * ((double)na + 1) / 2.0;
	mu = (double)na * (double)nb / 2.0;
	sigma2 = (double)na * (double)nb / 12.0 *
		 (((double)n + 1) - ties / ((double)n * ((double)n - 1)));
	if (sigma2 <= 0)
		return;
	z = (fabs(*u - mu) - 0.5) / sqrt(sigma2);
	*p = z <= 0 ? 1.0 : erfc(z / sqrt(2.0));
}

/* ---- row sampling (verification and quality) ---- */

static unsigned long long mix64(unsigned long long x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void stats_pick_rows(long *rows, long n, long n_q, unsigned long long seed)
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
