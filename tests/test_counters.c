/* test_counters.c - counters through PAPI, run here where the VM has no
 * hardware counters: the software-defined events are read through PAPI for
 * real and must equal the models exactly; hardware events degrade to empty
 * columns with one warning and the reason in the manifest. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/counters.h"
#include "helpers.h"

static const char *const counted_run =
	"name: counted\n"
	"shape: {heads: 4, kv_heads: 2, head_dim: 16, batch: 2}\n"
	"sweep: {seq_len: [50, 130], threads: [1, 2]}\n"
	"patterns:\n"
	"  - dense\n"
	"  - sink_window: {sinks: 2, size: 9}\n"
	"  - random: {density: 0.2, seed: 3}\n"
	"  - bigbird: {block: 16, window_blocks: 3, global_blocks: 1, random_blocks: 1}\n"
	"kernels: [naive, masked, gather, ranges, tiled, blas]\n"
	"run: {warmup: 0, repeats: 2, min_time_ms: 0}\n"
	"counters: [sabench::pairs, sabench::flops_exec, PAPI_TOT_CYC, sabench::tiles_full]\n";

static void run_counted(const char *dir, char *out, char **err)
{
	char exp[256];

	snprintf(exp, sizeof exp, "%s/counted.yaml", dir);
	snprintf(out, 256, "%s/out", dir);
	write_text(exp, counted_run);
	char *argv[] = { "sabench", "run", exp, "-o", out, NULL };
	cr_assert_eq(run_bin(argv, NULL, err), 0, "%s", *err);
}

Test(counters, sde_events_equal_the_models_exactly, .timeout = 120)
{
	char out[256], path[300];
	char *err = NULL;
	struct csv t;

	run_counted(temp_dir(), out, &err);
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);
	cr_assert_eq(t.nrow, 2 * 2 * 4 * 6);
	for (int i = 0; i < t.nrow; i++) {
		long long nnz = atoll(csv_get(&t, i, "nnz"));
		long long heads = atoll(csv_get(&t, i, "heads")), batch = atoll(csv_get(&t, i, "batch"));
		if (strcmp(csv_get(&t, i, "status"), "ok"))
			continue;       /* a kernel this build lacks */
		cr_assert_eq(atoll(csv_get(&t, i, "ctr_sabench::pairs")), nnz * heads * batch,
			     "%s: pairs", csv_get(&t, i, "cell"));
		cr_assert_eq(atof(csv_get(&t, i, "ctr_sabench::flops_exec")),
			     atof(csv_get(&t, i, "flops_exec")), "%s: flops_exec",
			     csv_get(&t, i, "cell"));
		cr_assert_str_empty(csv_get(&t, i, "ctr_PAPI_TOT_CYC"), "hardware column filled here?");
		if (!strcmp(csv_get(&t, i, "kernel"), "tiled") &&
		    !strcmp(csv_get(&t, i, "pattern"), "dense") &&
		    !strcmp(csv_get(&t, i, "seq_len"), "130"))
			cr_assert_gt(atoll(csv_get(&t, i, "ctr_sabench::tiles_full")), 0);
	}
	csv_free(&t);
	free(err);
}

Test(counters, per_thread_sums_equal_single_thread_values, .timeout = 120)
{
	char out[256], path[300];
	char *err = NULL;
	struct csv t;

	run_counted(temp_dir(), out, &err);
	snprintf(path, sizeof path, "%s/results.csv", out);
	csv_load(&t, path);
	for (int i = 0; i < t.nrow; i++) {
		if (strcmp(csv_get(&t, i, "threads"), "1"))
			continue;
		for (int j = 0; j < t.nrow; j++) {
			if (strcmp(csv_get(&t, j, "threads"), "2") ||
			    strcmp(csv_get(&t, j, "pattern_label"), csv_get(&t, i, "pattern_label")) ||
			    strcmp(csv_get(&t, j, "kernel"), csv_get(&t, i, "kernel")) ||
			    strcmp(csv_get(&t, j, "seq_len"), csv_get(&t, i, "seq_len")))
				continue;
			cr_assert_str_eq(csv_get(&t, j, "ctr_sabench::pairs"),
					 csv_get(&t, i, "ctr_sabench::pairs"), "%s", csv_get(&t, i, "cell"));
			cr_assert_str_eq(csv_get(&t, j, "ctr_sabench::flops_exec"),
					 csv_get(&t, i, "ctr_sabench::flops_exec"));
		}
	}
	csv_free(&t);
	free(err);
}

Test(counters, missing_hardware_event_warns_once_and_says_why, .timeout = 120)
{
	char out[256], path[300], *err = NULL, *manifest, *first;

	if (!ctr_hw_unavailable() && ctr_available("PAPI_TOT_CYC"))
		cr_skip_test("this machine counts PAPI_TOT_CYC");
	run_counted(temp_dir(), out, &err);
	first = strstr(err, "sabench: warning: counter 'PAPI_TOT_CYC' is not available here");
	cr_assert_not_null(first, "no warning in:\n%s", err);
	cr_assert_null(strstr(first + 20, "warning: counter"), "warned more than once:\n%s", err);
	snprintf(path, sizeof path, "%s/manifest.yaml", out);
	manifest = read_text(path);
	cr_assert_not_null(strstr(manifest, "{name: \"PAPI_TOT_CYC\", kind: hardware, counted: false, why: \"not countable here"));
	cr_assert_not_null(strstr(manifest, "{name: \"sabench::pairs\", kind: software, counted: true}"));
	free(manifest);
	free(err);
}

Test(counters, defaults_without_a_counters_key)
{
	const char *names[CTR_MAX];
	int n = ctr_default_names(names, CTR_MAX);

	cr_assert_geq(n, 8);
	cr_assert_str_eq(names[0], "sabench::pairs");
	cr_assert_str_eq(names[6], "PAPI_TOT_CYC");
	cr_assert_str_eq(names[7], "PAPI_TOT_INS");
	for (int i = 8; i < n; i++)
		cr_assert(ctr_available(names[i]), "default %s is not countable", names[i]);
}

Test(counters, counters_command_tells_the_truth)
{
	char *out = NULL;
	char *argv[] = { "sabench", "counters", NULL };

	cr_assert_eq(run_bin(argv, &out, NULL), 0);
	cr_assert(strstr(out, "PAPI version: 7."), "%s", out);
	cr_assert(strstr(out, "  sabench::pairs\n"));
	if (ctr_hw_unavailable())
		cr_assert(strstr(out, "hardware events: no CPU PMU"), "%s", out);
	free(out);
}
