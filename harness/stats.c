/* stats.c - order statistics and moments of repetition samples. */
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
