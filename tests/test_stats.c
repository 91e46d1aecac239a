/* test_stats.c - order statistics and moments on known samples. */
#include <criterion/criterion.h>

#include "../harness/stats.h"

Test(stats, summary_of_known_samples)
{
	double x[] = { 5, 1, 4, 2, 3 };
	struct stats_summary s;

	stats_summarise(x, 5, &s);
	cr_assert_float_eq(s.min, 1, 1e-12);
	cr_assert_float_eq(s.max, 5, 1e-12);
	cr_assert_float_eq(s.median, 3, 1e-12);
	cr_assert_float_eq(s.mean, 3, 1e-12);
	cr_assert_float_eq(s.p90, 4.6, 1e-12);
	/* sample standard deviation sqrt(2.5) over the mean 3 */
	cr_assert_float_eq(s.cv, 0.527046276694730, 1e-12);
}

Test(stats, even_count_median_and_single_sample)
{
	double x[] = { 4, 1, 3, 2 }, y[] = { 7 };
	long long z[] = { 10, 2, 6, 4 };
	struct stats_summary s;

	stats_summarise(x, 4, &s);
	cr_assert_float_eq(s.median, 2.5, 1e-12);
	stats_summarise(y, 1, &s);
	cr_assert_float_eq(s.median, 7, 1e-12);
	cr_assert_float_eq(s.cv, 0, 1e-12);
	cr_assert_eq(stats_median_ll(z, 4), 5);
}
