/* modes.c - the modes of a cell (prefill, decode, extend): what each
 * reads of the shape, as one table. A leaf of config/: the shape, the
 * ragged batches and the later stages ask it. */
#include <assert.h>
#include <string.h>

#include "experiment.h"

static const struct exp_mode_desc exp_modes[] = {
	[EXP_PREFILL] = { .name = "prefill", .cached = 0, .chunk = 1, .tokens = -1 },
	[EXP_DECODE] = { .name = "decode", .cached = 1, .chunk = 0, .tokens = EXP_DECODE_STEPS },
	[EXP_EXTEND] = { .name = "extend", .cached = 1, .chunk = 1, .tokens = EXP_EXTEND_TOKENS },
};
static_assert(sizeof exp_modes / sizeof *exp_modes == EXP_MODE_COUNT,
	      "exp_modes: one per enum exp_mode");

const struct exp_mode_desc *exp_mode_of(long long m)
{
	return &exp_modes[m >= 0 && m < EXP_MODE_COUNT ? m : EXP_PREFILL];
}

const struct exp_mode_desc *exp_mode_find(const char *name)
{
	for (int m = 0; m < EXP_MODE_COUNT; m++)
		if (!strcmp(exp_modes[m].name, name))
			return &exp_modes[m];
	return NULL;
}
