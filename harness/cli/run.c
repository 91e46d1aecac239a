/* cli/run.c - run and validate: an experiment file run into a results
 * folder, or only checked. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/experiment.h"
#include "../config/plan.h"
#include "../report/results.h"
#include "../run/runner.h"
#include "cli.h"

/* OpenMP reads its environment when the library loads: pinning must be in
 * the environment before that, so run re-executes itself once with it. */
void cli_pin_threads(char **argv)
{
	if (getenv("OMP_PROC_BIND") || getenv("SABENCH_NO_PIN"))
		return;
	setenv("OMP_PROC_BIND", "close", 1);
	if (!getenv("OMP_PLACES"))
		setenv("OMP_PLACES", "cores", 1);
	execv("/proc/self/exe", argv);
	/* if exec fails we run unpinned; the manifest shows the settings */
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "resume", no_argument, NULL, 'r' },
		{ "dump", required_argument, NULL, 'd' },
		{ "shard", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = cli_find("run")->usage;
	struct run_opts o = { .mode = RES_NEW, .progress = cli_progress,
			      .warn = cli_warning };
	struct experiment x;
	struct run_summary s;
	struct err e;
	char dir[4096];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if ((c == 'o' || c == 'd') && !*optarg)
			return cli_usage(use, "%s", c == 'o' ? "-o needs a folder name, not ''"
							     : "--dump needs a folder name, not ''");
		if (c == 'o')
			o.out_dir = optarg;
		else if (c == 'f' || c == 'r') {
			if (o.mode != RES_NEW)
				return cli_usage(use, "%s", "--force and --resume exclude each other");
			o.mode = c == 'f' ? RES_FORCE : RES_RESUME;
		} else if (c == 'd')
			o.dump_dir = optarg;
		else if (c == 's') {
			int end = 0;
			if (sscanf(optarg, "%d/%d%n", &o.shard_k, &o.shard_n, &end) != 2 || optarg[end] ||
			    o.shard_n < 1 || o.shard_k < 1 || o.shard_k > o.shard_n)
				return cli_usage(use, "--shard must be K/N with 1 <= K <= N, not '%s'", optarg);
		} else
			return cli_usage(use, "%s", "bad option");
	}
	if (optind != argc - 1)
		return cli_usage(use, "%s", "run takes one experiment file");
	if (exp_load(argv[optind], &x, &e))
		return cli_fail(2, &e);
	if (!o.out_dir && o.shard_n)
		snprintf(dir, sizeof dir, "results/%s/shards/%d-of-%d", x.name, o.shard_k, o.shard_n);
	else if (!o.out_dir)
		snprintf(dir, sizeof dir, "results/%s", x.name);
	if (!o.out_dir)
		o.out_dir = dir;
	fprintf(stderr, "sabench: running '%s' into '%s'\n", x.path, o.out_dir);
	rc = runner_run(&x, &o, &s, &e);
	if (rc) {
		exp_free(&x);
		return cli_fail(e.usage ? 2 : 1, &e);
	}
	fprintf(stderr, "sabench: %zu cells: %zu ok, %zu skipped, %zu failed, %zu from an earlier run; %.1f s (inputs %.1f s, quality %.1f s)\n",
		s.cells, s.ok, s.skipped, s.failed, s.resumed, s.wall_s, s.inputs_s, s.quality_s);
	if (s.interrupted)
		fprintf(stderr, "sabench: interrupted; finished rows are in '%s/results.csv'; continue with: sabench run %s -o %s --resume\n",
			o.out_dir, x.path, o.out_dir);
	exp_free(&x);
	return s.failed || s.interrupted ? 1 : 0;
}

int cmd_validate(int argc, char **argv)
{
	struct experiment x;
	struct plan pl;
	struct err e;

	if (argc != 2)
		return cli_usage(cli_find("validate")->usage, "%s",
				   "validate takes one experiment file");
	if (exp_load(argv[1], &x, &e))
		return cli_fail(2, &e);
	if (plan_build(&x, &pl, &e)) {
		exp_free(&x);
		return cli_fail(1, &e);
	}
	printf("%s: ok: %zu pattern variants x %zu kernels x %zu shapes = %zu cells\n",
	       x.path, x.n_pat, x.n_kern, pl.n / (x.n_pat * x.n_kern), pl.n);
	for (size_t i = 0; i < x.n_pat; i++)
		printf("  pattern %s\n", x.pat[i].label);
	if (x.e2e.given)
		printf("e2e: the model's own pass and %zu designs x %zu seq_len inside '%s' over '%s'\n", x.e2e.n_des,
		       x.axis[EXP_SEQ_LEN].n, x.e2e.gguf, x.e2e.text);
	for (size_t i = 0; i < x.e2e.n_des; i++)
		printf("  design %s@%s\n", x.pat[x.e2e.des[i].pat].label, x.e2e.des[i].layers);
	plan_free(&pl);
	exp_free(&x);
	return 0;
}
