/* cli/cluster.c - merge and slurm: shards joined, and an experiment as
 * SLURM jobs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cluster/merge.h"
#include "../cluster/slurm.h"
#include "../config/experiment.h"
#include "cli.h"

int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = cli_find("merge")->usage, *out = NULL;
	struct merge_summary s;
	int c, force = 0;
	struct err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'f')
			force = 1;
		else
			return cli_usage(use, "%s", "bad option");
	}
	if (optind >= argc || !out)
		return cli_usage(use, "%s", "merge takes shard folders and -o DIR");
	if (merge_runs(argv + optind, argc - optind, out, force, &s, &e))
		return cli_fail(1, &e);
	printf("merged %d shards, %zu cells, from %d machine%s into %s\n", s.shards, s.cells,
	       s.machines, s.machines == 1 ? "" : "s", out);
	return 0;
}

int cmd_slurm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "shards", required_argument, NULL, 'n' },
		{ "partition", required_argument, NULL, 'p' },
		{ "time", required_argument, NULL, 't' },
		{ "submit", no_argument, NULL, 's' },
		{ "shared", no_argument, NULL, 'S' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = cli_find("slurm")->usage;
	struct slurm_opts so = { .shards = 4, .time = "01:00:00", .exclusive = 1 };
	struct experiment x;
	char dir[4200], array_id[64], merge_id[64], path[4300];
	long shards;
	int c, submit = 0, rc;
	struct err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'n' && (cli_parse_long(optarg, 1, &shards) || shards > 10000))
			return cli_usage(use, "--shards must be 1 to 10000, not '%s'", optarg);
		if (c == 'n')
			so.shards = (int)shards;
		else if (c == 'p')
			so.partition = optarg;
		else if (c == 't')
			so.time = optarg;
		else if (c == 's')
			submit = 1;
		else if (c == 'S')
			so.exclusive = 0;
		else if (c == 'o')
			so.run_dir = optarg;
		else
			return cli_usage(use, "%s", "bad option");
	}
	if (optind != argc - 1)
		return cli_usage(use, "%s", "slurm takes one experiment file");
	if (slurm_check_time(so.time))
		return cli_usage(use, "--time must be a SLURM time (minutes, m:s, h:m:s, d-h, d-h:m, d-h:m:s or UNLIMITED), not '%s'",
				   so.time);
	if (so.partition && (strlen(so.partition) > 200 || slurm_check_partition(so.partition)))
		return cli_usage(use, "--partition must be SLURM partition names (letters, digits, '_', '-', '.'; commas between), not '%s'",
				   so.partition);
	if (exp_load(argv[optind], &x, &e))
		return cli_fail(2, &e);
	so.experiment = argv[optind];
	so.name = x.name;
	if (!so.run_dir) {
		snprintf(dir, sizeof dir, "results/%s", x.name);
		so.run_dir = dir;
	}
	rc = slurm_write(&so, &e);
	if (!rc && submit)
		rc = slurm_submit(&so, array_id, merge_id, sizeof array_id, &e);
	if (rc) {
		exp_free(&x);
		return cli_fail(1, &e);
	}
	for (int k = 0; k < 2; k++) {
		char line[8192];
		FILE *f;
		snprintf(path, sizeof path, "%s/slurm/%s.sbatch", so.run_dir, k ? "merge" : "shards");
		f = fopen(path, "r");
		printf("==> %s <==\n", path);
		while (f && fgets(line, sizeof line, f))
			fputs(line, stdout);
		if (f)
			fclose(f);
	}
	if (submit)
		printf("submitted: array job %s (%d shards), merge job %s (afterok)\n", array_id,
		       so.shards, merge_id);
	exp_free(&x);
	return 0;
}
