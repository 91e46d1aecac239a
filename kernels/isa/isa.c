/* isa.c - choosing the instruction-set path once: the best the CPU offers,
 * or the one SABENCH_ISA names (tests force every path the machine can
 * run). An ISA the CPU (or the OS) lacks is refused, never emulated. */
#include <assert.h>
#include <cpuid.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "bf16.h"
#include "simd.h"

static const char *const isa_names[] = {
	[KERN_PORTABLE] = "portable",
	[KERN_AVX2] = "avx2",
	[KERN_AVX512] = "avx512",
	[KERN_AVX512BF16] = "avx512bf16",
	[KERN_AMX] = "amx",
};

static const struct simd_ops *const isa_ops[] = {
	[KERN_PORTABLE] = &simd_portable,
	[KERN_AVX2] = &simd_avx2,
	[KERN_AVX512] = &simd_avx512,
	[KERN_AVX512BF16] = &simd_avx512,
	[KERN_AMX] = &simd_avx512,
};

static const struct bf16_ops *const isa_bf16[] = {
	[KERN_PORTABLE] = &bf16_portable,
	[KERN_AVX2] = NULL,                     /* widened to fp32 */
	[KERN_AVX512] = NULL,                   /* widened to fp32 */
	[KERN_AVX512BF16] = &bf16_avx512bf16,
	[KERN_AMX] = &bf16_amx,
};

/* Sized by their initialisers, so an ISA added to the enum without its
 * entries stops the build instead of leaving a NULL for the machines that
 * have it. */
static_assert(sizeof isa_names / sizeof *isa_names == KERN_ISA_COUNT, "isa_names: one per enum kern_isa");
static_assert(sizeof isa_ops / sizeof *isa_ops == KERN_ISA_COUNT, "isa_ops: one per enum kern_isa");
static_assert(sizeof isa_bf16 / sizeof *isa_bf16 == KERN_ISA_COUNT, "isa_bf16: one per enum kern_isa");

static const struct bf16_ops *forced_bf16;

const char *kern_isa_name(enum kern_isa isa)
{
	return isa_names[isa];
}

static int cpuid_bit(unsigned leaf, unsigned sub, int reg, int bit)
{
	unsigned r[4];

	if (!__get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3]))
		return 0;
	return (r[reg] >> bit) & 1;
}

enum { EAX, EBX, ECX, EDX };

/* CPUID leaf 1, ECX bit 29 (compilers differ on naming it for
 * __builtin_cpu_supports). */
static int has_f16c(void)
{
	return cpuid_bit(1, 0, ECX, 29);
}

/* Linux hands out AMX tile data only to a process that asks
 * (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)); asked once. */
static int amx_granted;

static void ask_amx(void)
{
#if defined(__linux__) && defined(SYS_arch_prctl)
	amx_granted = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */,
			      18 /* XFEATURE_XTILEDATA */) == 0;
#endif
}

static const char *amx_permission(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, ask_amx);
	return amx_granted ? NULL : "the OS refuses AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM)";
}

const char *kern_isa_unsupported(enum kern_isa isa)
{
	__builtin_cpu_init();
	if (isa == KERN_AMX && !(cpuid_bit(7, 0, EDX, 24) && cpuid_bit(7, 0, EDX, 22)))
		return "the CPU has no AMX-TILE/AMX-BF16";
	if (isa == KERN_AVX512BF16 && !cpuid_bit(7, 1, EAX, 5))
		return "the CPU has no AVX512-BF16";
	if (isa >= KERN_AVX512 && !(__builtin_cpu_supports("avx512f") &&
				    __builtin_cpu_supports("avx512bw")))
		return "the CPU has no AVX-512F/BW";
	if (isa == KERN_AVX2 && !(__builtin_cpu_supports("avx2") &&
				  __builtin_cpu_supports("fma")))
		return "the CPU has no AVX2/FMA";
	if (isa != KERN_PORTABLE && !has_f16c())
		return "the CPU has no F16C";
	if (isa == KERN_AMX)
		return amx_permission();
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
	for (int i = KERN_ISA_COUNT - 1; i > KERN_PORTABLE; i--)
		if (!kern_isa_unsupported((enum kern_isa)i))
			return (enum kern_isa)i;
	return KERN_PORTABLE;
}

enum kern_isa kern_isa_of(int bf16)
{
	enum kern_isa isa = kern_isa();

	return !bf16 && isa > KERN_AVX512 ? KERN_AVX512 : isa;
}

const struct simd_ops *kern_simd_of(enum kern_isa isa)
{
	return isa_ops[isa];
}

const struct bf16_ops *kern_bf16_of(enum kern_isa isa)
{
	return isa_bf16[isa];
}

const struct simd_ops *kern_simd(void)
{
	return kern_simd_of(kern_isa());
}

const struct bf16_ops *kern_bf16(void)
{
	return forced_bf16 ? forced_bf16 : kern_bf16_of(kern_isa());
}

void kern_bf16_test_force(const struct bf16_ops *ops)
{
	forced_bf16 = ops;
}
