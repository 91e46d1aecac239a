/* cli/machine.c - machine: the ceilings of this CPU into machine.yaml. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../report/results.h"
#include "../run/machine.h"
#include "cli.h"

int cmd_machine(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "threads", required_argument, NULL, 't' },
		{ "quick", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = cli_find("machine")->usage, *out = "results/machine.yaml";
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	struct machine_peaks *mp = malloc(sizeof *mp);
	struct err e;
	int c, rc, quick = 0;

	if (!mp)
		return fprintf(stderr, "sabench: out of memory\n"), 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'q')
			quick = 1;
		else if (c == 't' && (cli_parse_long(optarg, 1, &threads) || threads > 1024)) {
			free(mp);
			return cli_usage(use, "--threads must be an integer in [1, 1024], not '%s'", optarg);
		} else if (c == 't')
			;
		else {
			free(mp);
			return cli_usage(use, "%s", "bad option");
		}
	}
	if (optind != argc) {
		free(mp);
		return cli_usage(use, "%s", "machine takes no operands");
	}
	if (!strncmp(out, "results/", 8) && res_make_dirs("results", &e)) {
		free(mp);
		return cli_fail(1, &e);
	}
	rc = machine_measure(mp, (int)threads, quick, cli_progress, &e);
	if (!rc)
		rc = machine_write(out, mp, &e);
	free(mp);
	if (rc)
		return cli_fail(1, &e);
	printf("wrote %s\n", out);
	return 0;
}
