/* compare.h - two runs side by side: cells matched by their key, median
 * times, ratio B / A, a two-sided Mann-Whitney U test on the repetition
 * samples (as Google Benchmark's compare.py), and the geometric mean. */
#ifndef SABENCH_COMPARE_H
#define SABENCH_COMPARE_H

#include <stddef.h>

#include "../err.h"

#define COMPARE_ALPHA 0.05      /* significance level */
#define COMPARE_MIN_REPS 9      /* fewer: the U test means little */

struct compare_row {
	char *cell;             /* cell key */
	double median_a, median_b;      /* seconds */
	double ratio;           /* median_b / median_a */
	double u, p;            /* U of A, two-sided p-value */
	size_t reps_a, reps_b;  /* samples */
	int verdict;            /* -1 faster, 0 same, 1 slower (significant, over threshold) */
};

struct compare_result {
	struct compare_row *row;        /* cells in both runs */
	size_t n;
	char **only_a, **only_b;        /* cells in one run only */
	size_t n_only_a, n_only_b;
	double geomean;                 /* of the ratios */
	int few_reps;                   /* some cell has < COMPARE_MIN_REPS */
};

/* Compares the runs in dir_a and dir_b; threshold is a fraction (0.05). */
int compare_runs(const char *dir_a, const char *dir_b, double threshold,
		 struct compare_result *r, struct err *e);

/* Writes compare.csv into out_dir (created if needed). */
int compare_write_csv(const struct compare_result *r, const char *out_dir,
		      struct err *e);

void compare_free(struct compare_result *r);

#endif
