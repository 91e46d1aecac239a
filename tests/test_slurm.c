/* test_slurm.c - sharding and merging locally, and the whole path on a
 * real one-node SLURM cluster (tests/slurm/cluster-test.sh, which installs
 * slurm-wlm and munge when it can and says why when it cannot). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "helpers.h"

static const char *const sharded =
	"name: sharded\n"
	"shape: {heads: 2, head_dim: 16, threads: 1}\n"
	"sweep: {seq_len: [64, 128, 256]}\n"
	"patterns: [dense, {window: {size: 16}}]\n"
	"kernels: [naive, tiled]\n"
	"run: {warmup: 0, repeats: 2, min_time_ms: 0}\n"
	"counters: [sabench::pairs]\n";

Test(shards, shards_partition_the_plan_and_merge_back, .timeout = 60)
{
	const char *dir = temp_dir();
	char exp[256], shard[300], spec[16], merged[300], path[400], *out = NULL, *err = NULL;
	struct csv t;

	snprintf(exp, sizeof exp, "%s/sharded.yaml", dir);
	write_text(exp, sharded);
	for (int k = 1; k <= 3; k++) {
		snprintf(shard, sizeof shard, "%s/shards/%d-of-3", dir, k);
		snprintf(spec, sizeof spec, "%d/3", k);
		char *argv[] = { "sabench", "run", exp, "--shard", spec, "-o", shard, NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 0, "%s", err);
		free(err);
	}
	snprintf(shard, sizeof shard, "%s/shards", dir);
	snprintf(merged, sizeof merged, "%s/merged", dir);
	char *merge[] = { "sabench", "merge", shard, "-o", merged, NULL };
	cr_assert_eq(run_bin(merge, &out, &err), 0, "%s", err);
	cr_assert(strstr(out, "merged 3 shards, 12 cells, from 1 machine"), "%s", out);
	free(out);
	free(err);
	snprintf(path, sizeof path, "%s/results.csv", merged);
	csv_load(&t, path);
	cr_assert_eq(t.nrow, 12);
	for (int i = 0; i < t.nrow; i++)
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(csv_get(&t, i, "cell"), csv_get(&t, j, "cell"));
	csv_free(&t);
	/* again: the folder holds a run; a shard given twice; a shard missing */
	cr_assert_eq(run_bin(merge, NULL, &err), 1);
	cr_assert(strstr(err, "holds a run already"), "%s", err);
	free(err);
	snprintf(path, sizeof path, "%s/shards/1-of-3", dir);
	char *twice[] = { "sabench", "merge", path, path, "-o", merged, "--force", NULL };
	cr_assert_eq(run_bin(twice, NULL, &err), 1);
	cr_assert(strstr(err, "shard 1 of 3 is given twice"), "%s", err);
	free(err);
	char *missing[] = { "sabench", "merge", path, "-o", merged, "--force", NULL };
	cr_assert_eq(run_bin(missing, NULL, &err), 1);
	cr_assert(strstr(err, "shard 2 of 3 is missing"), "%s", err);
	free(err);
}

Test(shards, merge_refuses_other_experiments, .timeout = 60)
{
	const char *dir = temp_dir();
	char a[256], b[256], s1[300], s2[300], merged[300], *err = NULL;

	snprintf(a, sizeof a, "%s/a.yaml", dir);
	snprintf(b, sizeof b, "%s/b.yaml", dir);
	write_text(a, sharded);
	write_text(b, "name: sharded\nshape: {heads: 2, head_dim: 16, threads: 1}\n"
		      "sweep: {seq_len: [64, 128, 256]}\npatterns: [dense]\nkernels: [naive]\n"
		      "run: {warmup: 0, repeats: 2, min_time_ms: 0}\ncounters: [sabench::pairs]\n");
	snprintf(s1, sizeof s1, "%s/s1", dir);
	snprintf(s2, sizeof s2, "%s/s2", dir);
	char *r1[] = { "sabench", "run", a, "--shard", "1/2", "-o", s1, NULL };
	char *r2[] = { "sabench", "run", b, "--shard", "2/2", "-o", s2, NULL };
	cr_assert_eq(run_bin(r1, NULL, NULL), 0);
	cr_assert_eq(run_bin(r2, NULL, NULL), 0);
	snprintf(merged, sizeof merged, "%s/m", dir);
	char *merge[] = { "sabench", "merge", s1, s2, "-o", merged, NULL };
	cr_assert_eq(run_bin(merge, NULL, &err), 1);
	cr_assert(strstr(err, "they ran different experiments"), "%s", err);
	free(err);
}

Test(slurm, real_cluster_runs_shards_and_merges, .timeout = 600)
{
	char cmd[8400];
	FILE *p;
	char line[1024];
	int status;

	snprintf(cmd, sizeof cmd, "bash '%s' '%s' 2>&1", root_path("tests/slurm/cluster-test.sh"),
		 getenv("SABENCH_BIN"));
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof line, p))
		cr_log_info("%s", line);        /* job ids, timings, the comparison */
	status = pclose(p);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		cr_skip_test("no SLURM cluster could be started here (see the log above)");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the SLURM test failed");
}
