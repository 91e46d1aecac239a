/* cli/plot.c - plot and report: the pictures and report.md of a results
 * folder. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../report/plot.h"
#include "../report/report.h"
#include "cli.h"

int cmd_plot(int argc, char **argv)
{
	struct err e;
	int rc;

	if (argc != 2)
		return cli_usage(cli_find("plot")->usage, "%s",
				   "plot takes one results folder");
	rc = plot_results(argv[1], cli_progress, &e);
	if (rc == PLOT_NO_GNUPLOT || rc == PLOT_BAD_INPUT)
		return cli_fail(rc == PLOT_NO_GNUPLOT ? 1 : 2, &e);
	if (rc)
		return cli_fail(1, &e);
	return 0;
}

int cmd_report(int argc, char **argv)
{
	struct err e;

	if (argc != 2)
		return cli_usage(cli_find("report")->usage, "%s",
				   "report takes one results folder");
	e.usage = 0;
	if (report_write(argv[1], &e))
		return cli_fail(e.usage ? 2 : 1, &e);
	printf("wrote %s/report.md\n", argv[1]);
	return 0;
}
