/* fuzz_experiment.c - libFuzzer target for the experiment loader: any byte
 * string is YAML text to load, validate and plan; every outcome must be a
 * clean success or a clean error (ASan and UBSan watch). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../harness/config/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct experiment x;
	struct plan pl;
	struct err e;
	char *text;

	if (size > 65536 || memchr(data, 0, size))
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (exp_load_string("<fuzz>", text, &x, &e) == 0) {
		if (plan_build(&x, &pl, &e) == 0)
			plan_free(&pl);
		exp_free(&x);
	}
	free(text);
	return 0;
}
