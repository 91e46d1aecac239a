/* test_fuzz_regressions.c - replays every input in fuzz/regressions/
 * through the fuzz targets' own code (`make fuzz` writes a crash or leak
 * there; `make check` replays them under ASan and UBSan). Files named
 * experiment-* go to the experiment loader, spec-* to the spec parser,
 * npy-* to the .npy reader, gguf-* to the GGUF reader. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLVMFuzzerTestOneInput fuzz_experiment_one
#include "../fuzz/fuzz_experiment.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_spec_one
#include "../fuzz/fuzz_spec.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_npy_one
#include "../fuzz/fuzz_npy.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_gguf_one
#include "../fuzz/fuzz_gguf.c"
#undef LLVMFuzzerTestOneInput

#include "helpers.h"

/* Reads a whole binary file; *n its size. */
static unsigned char *read_bytes(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long len;

	*n = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)len + 1);
		if (buf)
			*n = fread(buf, 1, (size_t)len, f);
	}
	fclose(f);
	return buf;
}

Test(fuzz, regressions_replay_cleanly)
{
	char dir[4096], path[4400];
	DIR *d;
	struct dirent *ent;
	int replayed = 0;

	snprintf(dir, sizeof dir, "%s", root_path("fuzz/regressions"));
	d = opendir(dir);
	cr_assert_not_null(d, "no %s", dir);
	while ((ent = readdir(d))) {
		size_t n;
		unsigned char *data;
		int exp = !strncmp(ent->d_name, "experiment-", 11), spec = !strncmp(ent->d_name, "spec-", 5);
		int npy = !strncmp(ent->d_name, "npy-", 4), gguf = !strncmp(ent->d_name, "gguf-", 5);
		if (!exp && !spec && !npy && !gguf)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
		data = read_bytes(path, &n);
		cr_assert_not_null(data, "%s", path);
		if (exp)
			fuzz_experiment_one(data, n);
		else if (spec)
			fuzz_spec_one(data, n);
		else if (npy)
			fuzz_npy_one(data, n);
		else
			fuzz_gguf_one(data, n);
		free(data);
		replayed++;
	}
	closedir(d);
	cr_assert_geq(replayed, 1, "the regression corpus is empty");
}
