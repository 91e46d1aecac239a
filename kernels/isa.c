/* isa.c - choosing the instruction-set path once: the best the CPU offers,
 * or the one SABENCH_ISA names (tests force every path the machine can
 * run). An ISA the CPU lacks is refused, never emulated. */
#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"

static const char *const isa_names[KERN_ISA_COUNT] = {
	[KERN_PORTABLE] = "portable",
	[KERN_AVX2] = "avx2",
	[KERN_AVX512] = "avx512",
};

static const struct simd_ops *const isa_ops[KERN_ISA_COUNT] = {
	[KERN_PORTABLE] = &simd_portable,
	[KERN_AVX2] = &simd_avx2,
	[KERN_AVX512] = &simd_avx512,
};

const char *kern_isa_name(enum kern_isa isa)
{
	return isa_names[isa];
}

/* CPUID leaf 1, ECX bit 29 (compilers differ on naming it for
 * __builtin_cpu_supports). */
static int has_f16c(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

const char *kern_isa_unsupported(enum kern_isa isa)
{
	__builtin_cpu_init();
	if (isa == KERN_AVX512 && !(__builtin_cpu_supports("avx512f") &&
				    __builtin_cpu_supports("avx512bw")))
		return "the CPU has no AVX-512F/BW";
	if (isa == KERN_AVX2 && !(__builtin_cpu_supports("avx2") &&
				  __builtin_cpu_supports("fma")))
		return "the CPU has no AVX2/FMA";
	if (isa != KERN_PORTABLE && !has_f16c())
		return "the CPU has no F16C";
	return NULL;
}

enum kern_isa kern_isa(void)
{
	const char *want = getenv("SABENCH_ISA");

	if (want)
		for (int i = 0; i < KERN_ISA_COUNT; i++)
			if (!strcmp(want, isa_names[i]) &&
			    !kern_isa_unsupported((enum kern_isa)i))
				return (enum kern_isa)i;
	if (!kern_isa_unsupported(KERN_AVX512))
		return KERN_AVX512;
	if (!kern_isa_unsupported(KERN_AVX2))
		return KERN_AVX2;
	return KERN_PORTABLE;
}

const struct simd_ops *kern_simd(void)
{
	return isa_ops[kern_isa()];
}
