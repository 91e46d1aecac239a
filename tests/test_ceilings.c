/* test_ceilings.c - the ceilings figures are divided by: the read loops
 * sum every element (any length, any team), and a team's FMA ceiling is
 * never below its cores' one-thread rates added, whatever a loaded host
 * let it measure. (How fast they read is for `make bench`, not a test.) */
#include <criterion/criterion.h>
#include <omp.h>
#include <stdlib.h>

#include "../harness/run/machine.h"
#include "../kernels/isa/peak.h"

/* Lengths around the 64 lanes and the prefetch distance, summed by one
 * thread, by a team (with and without prefetch): every element once. */
Test(ceilings, reads_sum_every_element)
{
	static const size_t lengths[] = { 0, 1, 63, 64, 65, 127, 513, 4096 + 7 };
	float *a = malloc(5000 * sizeof *a);

	cr_assert_not_null(a);
	for (size_t i = 0; i < 5000; i++)
		a[i] = (float)(i % 7);
	for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
		size_t n = lengths[k];
		double want = 0;
		for (size_t i = 0; i < n; i++)
			want += a[i];
		float one = 0.0f;
		cr_assert_eq(peak_read_one(a, n, &one), 4.0 * (double)n);
		cr_assert_eq(one, (float)want, "one thread, n %zu: %g, not %g", n, one, want);
		for (int prefetch = 0; prefetch < 2; prefetch++) {
			float team = 0.0f;
#pragma omp parallel num_threads(3) reduction(+ : team)
			peak_read_as(a, n, prefetch, &team);
			cr_assert_eq(team, (float)want, "team, n %zu, prefetch %d: %g, not %g", n, prefetch,
				     team, want);
		}
	}
	free(a);
}

/* The 24-62% a loaded host took from two threads' measured rate is put
 * back from the one-thread rate; a measurement above the sum stands; a
 * team past the cores gains nothing from the extra threads. */
Test(ceilings, a_team_ceiling_is_never_below_its_cores)
{
	cr_assert_eq(machine_team_ceiling(120.0, 100.0, 2, 2), 200.0);
	cr_assert_eq(machine_team_ceiling(210.0, 100.0, 2, 2), 210.0);
	cr_assert_eq(machine_team_ceiling(150.0, 100.0, 4, 2), 200.0);
	cr_assert_eq(machine_team_ceiling(100.0, 100.0, 1, 2), 100.0);
	cr_assert_eq(machine_team_ceiling(90.0, 100.0, 2, 0), 100.0, "no topology: one core's");
}
