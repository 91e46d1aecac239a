/* test_tables.c - the enum-indexed tables have an entry for every value
 * of their enum. Their length is checked at compile time (static_assert
 * beside each table); these catch the other way a table goes wrong, a
 * hole in the middle (a designated initialiser left out), on every
 * machine, whether or not it runs the entry. */
#include <criterion/criterion.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../kernels/isa/bf16.h"
#include "../kernels/isa/simd.h"
#include "../kernels/kvcache.h"
#include "../kernels/score.h"

Test(tables, every_isa_has_a_name_and_fp32_micro_kernels)
{
	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		const struct simd_ops *ops = kern_simd_of((enum kern_isa)isa);
		cr_assert(kern_isa_name((enum kern_isa)isa), "isa %d has no name", isa);
		cr_assert(ops && ops->qk && ops->transpose && ops->dots_kv && ops->max,
			  "isa %s has no fp32 micro-kernels", kern_isa_name((enum kern_isa)isa));
	}
	/* the bf16 ISAs are the ones with bf16 arithmetic */
	cr_assert(kern_bf16_of(KERN_PORTABLE));
	cr_assert(kern_bf16_of(KERN_AVX512BF16));
	cr_assert(kern_bf16_of(KERN_AMX));
	cr_assert_null(kern_bf16_of(KERN_AVX2));
	cr_assert_null(kern_bf16_of(KERN_AVX512));
}

/* A NULL-ended name list indexed by an enum: count names, then NULL. */
static void assert_names(const char *const *names, int count, const char *what)
{
	for (int i = 0; i < count; i++)
		cr_assert(names[i] && *names[i], "%s %d has no name", what, i);
	cr_assert_null(names[count], "%s has more names than its enum", what);
}

Test(tables, cache_layouts_dtypes_modes_and_score_kinds_have_names)
{
	assert_names(kv_layout_names, KV_LAYOUT_COUNT, "kv_layout");
	assert_names(kv_dtype_names, KV_DTYPE_COUNT, "kv_dtype");
	assert_names(exp_field_values(EXP_MODE), EXP_MODE_COUNT, "mode");
	cr_assert_eq(exp_field_values(EXP_KV_LAYOUT), kv_layout_names);
	cr_assert_eq(exp_field_values(EXP_KV_DTYPE), kv_dtype_names);
	for (int d = 0; d < EXP_DTYPE_COUNT; d++)
		cr_assert_str_neq(exp_dtype_name(d), "?", "dtype %d has no name", d);
	for (int k = 0; k < SCORE_KIND_COUNT; k++) {
		const char *name = score_kind_name((enum score_kind)k);
		cr_assert(name && strcmp(name, "?"), "score kind %d has no name", k);
		cr_assert_eq(score_kind_find(name), k);
	}
	for (int f = 0; f < EXP_FIELD_COUNT; f++)
		cr_assert(exp_fields[f].name && exp_fields[f].doc, "shape field %d is not described", f);
}
