/* cli/compare.c - compare: two results folders cell by cell, with U tests
 * and a CI exit code. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../report/compare.h"
#include "../report/plot.h"
#include "cli.h"

/* "5%" or "0.05" as a fraction; -1 when neither. */
static double parse_threshold(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -1;
	if (*end == '%' && !end[1])
		return v / 100.0;
	return *end ? -1 : v;
}

static void print_compare(const struct compare_result *r, double threshold)
{
	size_t slower = 0, faster = 0;

	printf("%-58s %12s %12s %8s %9s  %s\n", "cell", "median A (s)", "median B (s)",
	       "B/A", "p", "verdict");
	for (size_t i = 0; i < r->n; i++) {
		const struct compare_row *x = &r->row[i];
		printf("%-58s %12.6g %12.6g %8.3f %9.3g  %s%s\n", x->cell, x->median_a,
		       x->median_b, x->ratio, x->p,
		       x->verdict > 0 ? "slower" : x->verdict < 0 ? "faster" : "same",
		       x->reps_a < COMPARE_MIN_REPS || x->reps_b < COMPARE_MIN_REPS ? " (few reps)" : "");
		slower += x->verdict > 0;
		faster += x->verdict < 0;
	}
	for (size_t i = 0; i < r->n_only_a; i++)
		printf("only in A: %s\n", r->only_a[i]);
	for (size_t i = 0; i < r->n_only_b; i++)
		printf("only in B: %s\n", r->only_b[i]);
	if (r->n)
		printf("geometric mean of B/A over %zu cells: %.4f; significantly slower by more than %.3g%%: %zu, faster: %zu\n",
		       r->n, r->geomean, threshold * 100, slower, faster);
	if (r->few_reps)
		fprintf(stderr, "sabench: warning: some cells have fewer than %d repetitions; the U test means little there (raise run: repeats)\n",
			COMPARE_MIN_REPS);
}

int cmd_compare(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threshold", required_argument, NULL, 't' },
		{ "fail", no_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = cli_find("compare")->usage, *out = NULL;
	double threshold = 0.05;
	int c, fail_on_slow = 0, slow = 0, status = 0, drawn;
	struct compare_result r;
	char dir[4200];
	struct err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 't' && (threshold = parse_threshold(optarg)) < 0)
			return cli_usage(use, "--threshold must be like 5%% or 0.05, not '%s'", optarg);
		if (c == 'f')
			fail_on_slow = 1;
		if (c == 'o')
			out = optarg;
		if (c == '?')
			return cli_usage(use, "%s", "bad option");
	}
	if (optind != argc - 2)
		return cli_usage(use, "%s", "compare takes two results folders");
	if (compare_runs(argv[optind], argv[optind + 1], threshold, &r, &e))
		return cli_fail(2, &e);
	print_compare(&r, threshold);
	if (!out) {
		snprintf(dir, sizeof dir, "%s/compare", argv[optind + 1]);
		out = dir;
	}
	if (compare_write_csv(&r, out, &e)) {
		status = cli_fail(1, &e);   /* a guard whose output is lost must not pass */
	} else if (!r.n) {
		printf("wrote %s/compare.csv\n", out);
	} else if ((drawn = plot_compare(out, &e)) == PLOT_OK) {
		printf("wrote %s/compare.csv and compare.png\n", out);
	} else {
		printf("wrote %s/compare.csv\n", out);
		status = cli_fail(drawn == PLOT_NO_GNUPLOT ? 0 : 1, &e);
	}
	for (size_t i = 0; i < r.n; i++)
		slow |= r.row[i].verdict > 0;
	if (!r.n) {
		snprintf(e.msg, sizeof e.msg, "no timed cell is in both '%s' and '%s': nothing was compared",
			 argv[optind], argv[optind + 1]);
		status = cli_fail(2, &e);
	}
	compare_free(&r);
	return status ? status : fail_on_slow && slow ? 1 : 0;
}
