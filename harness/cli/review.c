/* cli/review.c - review: a results folder's designs against the limits
 * of its experiment's review block, printed, written to review.csv,
 * drawn (plots/review.png) and put at the end of report.md. */
#include <stdio.h>

#include "../report/designs.h"
#include "../report/plot.h"
#include "../report/report.h"
#include "cli.h"

int cmd_review(int argc, char **argv)
{
	struct dsg_review r;
	struct err e;
	int rc;

	if (argc != 2)
		return cli_usage(cli_find("review")->usage, "%s", "review takes one results folder");
	rc = dsg_review_dir(argv[1], &r, &e);
	if (rc > 0) {
		err_set(&e, "no review in '%s': its experiment has no review block (see docs/serving.md)",
			argv[1]);
		return cli_fail(2, &e);
	}
	if (rc < 0)
		return cli_fail(e.usage ? 2 : 1, &e);
	dsg_write_md(&r, stdout);
	fflush(stdout);
	dsg_free(&r);
	rc = plot_review(argv[1], &e);
	if (rc == PLOT_NO_GNUPLOT)
		cli_warning(e.msg);
	else if (rc)
		return cli_fail(rc == PLOT_BAD_INPUT ? 2 : 1, &e);
	e.usage = 0;
	if (report_write(argv[1], &e))
		return cli_fail(e.usage ? 2 : 1, &e);
	fprintf(stderr, "review: wrote %s/review.csv, %s/plots/review.png and %s/report.md\n", argv[1],
		argv[1], argv[1]);
	return 0;
}
