/* stats.h - summaries of repetition samples: order statistics (median,
 * percentiles by linear interpolation), mean and coefficient of variation. */
#ifndef SABENCH_STATS_H
#define SABENCH_STATS_H

#include <stddef.h>

struct stats_summary {
	size_t n;               /* samples */
	double min, max;        /* extremes */
	double median;          /* 50th percentile */
	double mean;            /* arithmetic mean */
	double p90;             /* 90th percentile */
	double cv;              /* sample standard deviation / mean */
};

/* Percentile q in [0, 1] of the n sorted values x (linear interpolation). */
double stats_percentile_sorted(const double *x, size_t n, double q);

/* Summary of x[0, n); x is left sorted. n may be 0 (all zeros). */
void stats_summarise(double *x, size_t n, struct stats_summary *s);

/* Median of x[0, n) of long long values; x is left sorted. */
long long stats_median_ll(long long *x, size_t n);

/* Two-sided Mann-Whitney U test of a[0, na) against b[0, nb): *u is U of
 * a (pairs (x in a, y in b) with x > y, ties counting half), *p the
 * p-value by the normal approximation with tie and continuity corrections
 * (scipy's method="asymptotic"); p = 1 when either sample is empty or all
 * values tie. */
void stats_mann_whitney(const double *a, size_t na, const double *b,
			size_t nb, double *u, double *p);

/* Fills rows[0, n) with ascending distinct rows of [0, n_q): all of them
 * when n >= n_q, else one seeded row per stratum of n_q / n rows with the
 * first and last rows included (recall and error depend on a row's
 * length: the shortest and the longest causal rows are always in).
 * Shared by verification and quality. */
void stats_pick_rows(long *rows, long n, long n_q, unsigned long long seed);

#endif
