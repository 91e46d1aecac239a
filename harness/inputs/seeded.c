/* seeded.c - the seeded numbers input kinds are made of (splitmix64 and
 * a uniform value per element): a leaf below the kinds and their table. */
#include <stddef.h>

#include "inputs.h"

unsigned long long inp_mix64(unsigned long long x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

float inp_uniform(unsigned long long seed, int tensor, size_t i)
{
	unsigned long long base = inp_mix64(seed ^ ((unsigned long long)tensor << 56));

	return (float)((double)(inp_mix64(base + i) >> 11) * 0x1.0p-52 - 1.0);
}
