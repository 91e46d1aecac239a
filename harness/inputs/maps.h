/* maps.h - dense attention maps of an input's heads, for `sabench
 * attention`: what each head attends to before any pattern is chosen. */
#ifndef SABENCH_MAPS_H
#define SABENCH_MAPS_H

#include <stdio.h>

#include "inputs.h"

/* The shape of the maps: n tokens, heads (kv_heads) of head_dim d. */
struct map_shape {
	long n;
	int heads, kv_heads, d;
	unsigned long long seed;
};

/* Fills the input at shape s and writes, per head, a downsampled map of
 * log10 of the dense weight over the uniform one (dir/attention.dat, one
 * matrix block per head, and dir/attention.labels), and a line per head
 * to `summary` (mass near the diagonal, on the first tokens, largest
 * weight); dir NULL: the summary only. Returns 0, or -1 with e set. */
int maps_write(const struct exp_input *in, const struct map_shape *s,
	       const char *dir, FILE *summary, struct err *e);

#endif
