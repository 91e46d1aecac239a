/* test_tables.c - the enum-indexed tables have an entry for every value
 * of their enum. Their length is checked at compile time (static_assert
 * beside each table); these catch the other way a table goes wrong, a
 * hole in the middle (a designated initialiser left out), on every
 * machine, whether or not it runs the entry. */
#include <criterion/criterion.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../harness/inputs/inputs.h"
#include "../harness/report/designs.h"
#include "../patterns/selected.h"
#include "../kernels/isa/bf16.h"
#include "../kernels/isa/simd.h"
#include "../kernels/kvcache.h"
#include "../kernels/score.h"

Test(tables, every_isa_has_a_name_and_fp32_micro_kernels)
{
	for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
		const struct simd_ops *ops = kern_simd_of((enum kern_isa)isa);
		cr_assert(kern_isa_name((enum kern_isa)isa), "isa %d has no name", isa);
		cr_assert(ops && ops->qk && ops->transpose && ops->max,
			  "isa %s has no fp32 micro-kernels", kern_isa_name((enum kern_isa)isa));
		/* a slot per storage type: dots for every type of row-local form
		 * (KIVI's keys go through dots_kivi), axpys for every one */
		for (int t = 0; t < DT_COUNT; t++) {
			int kivi = dtype_of((enum dtype)t)->form == DT_FORM_KIVI;
			cr_assert_eq(ops->dots_kv[t] != NULL, !kivi, "%s: dots_kv of %s",
				     kern_isa_name((enum kern_isa)isa), dtype_names[t]);
			cr_assert_not_null(ops->axpys_kv[t], "%s: axpys_kv of %s",
					   kern_isa_name((enum kern_isa)isa), dtype_names[t]);
		}
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
	assert_names(dtype_names, DT_COUNT, "dtype");
	assert_names(exp_field_values(EXP_MODE), EXP_MODE_COUNT, "mode");
	cr_assert_eq(exp_field_values(EXP_KV_LAYOUT), kv_layout_names);
	cr_assert_eq(exp_field_values(EXP_KV_DTYPE), dtype_names);
	for (int t = 0; t < DT_COUNT; t++) {
		const struct dtype_desc *d = dtype_of((enum dtype)t);
		cr_assert_str_eq(d->name, dtype_names[t], "dtype %d: its name and the vocabulary's differ", t);
		cr_assert_eq(dtype_find(d->name), t);
		cr_assert_str_eq(exp_dtype_name(t), d->name);
		cr_assert(d->bits > 0 && d->max_abs > 0 && d->max_nmse > 0 && d->encode && d->decode &&
			  d->form < DT_FORM_COUNT && (d->form != DT_FORM_BLOCK || d->block > 0),
			  "dtype %s is not described", d->name);
	}
	for (int k = 0; k < SCORE_KIND_COUNT; k++) {
		const char *name = score_kind_name((enum score_kind)k);
		cr_assert(name && strcmp(name, "?"), "score kind %d has no name", k);
		cr_assert_eq(score_kind_find(name), k);
	}
	for (int f = 0; f < EXP_FIELD_COUNT; f++)
		cr_assert(exp_fields[f].name && exp_fields[f].doc, "shape field %d is not described", f);
}

/* Each plain dtype's coder rounds to nearest even and its decoder widens
 * exactly: 1.5 survives every type, 1 + 2^-9 fp32 and f16 (10 mantissa
 * bits) but not bf16 (7), and 1 + 3 * 2^-9 rounds to even in bf16. */
Test(tables, every_plain_dtype_codes_and_decodes_by_its_descriptor)
{
	const float ulp9 = 1.0f / 512.0f;
	const struct { float x; float want[DT_COUNT]; } cases[] = {
		{ 1.5f, { [DT_F32] = 1.5f, [DT_F16] = 1.5f, [DT_BF16] = 1.5f } },
		{ 1.0f + ulp9, { [DT_F32] = 1.0f + ulp9, [DT_F16] = 1.0f + ulp9, [DT_BF16] = 1.0f } },
		{ 1.0f + 3 * ulp9, { [DT_F32] = 1.0f + 3 * ulp9, [DT_F16] = 1.0f + 3 * ulp9,
				     [DT_BF16] = 1.0f + 4 * ulp9 } },
	};
	struct dt_params par = { 1.0f, 1 };
	unsigned char row[16];
	float x[2], out[2];

	for (int t = 0; t < DT_COUNT; t++) {
		const struct dtype_desc *d = dtype_of((enum dtype)t);
		if (d->form != DT_FORM_PLAIN)
			continue;
		for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
			memset(row, 0, sizeof row);
			x[0] = 0.0f;
			x[1] = cases[i].x;
			d->encode(row, x, 2, &par);
			d->decode(out, row, 2, &par);
			cr_assert_eq(out[1], cases[i].want[t], "%s: %a coded and decoded is %a, not %a",
				     d->name, cases[i].x, out[1], cases[i].want[t]);
			cr_assert_eq(out[0], 0.0f, "%s: 0 did not survive", d->name);
			cr_assert_eq(dtype_row_bytes((enum dtype)t, 2, 1), (size_t)d->bits / 4);
		}
	}
}

/* The tables this wave added: modes (name as the vocabulary, a token
 * field for the cached ones), share's names, the review's limits. */
Test(tables, modes_shares_and_review_limits_are_described)
{
	const char *const *names = exp_field_values(EXP_MODE);

	for (int m = 0; m < EXP_MODE_COUNT; m++) {
		const struct exp_mode_desc *d = exp_mode_of(m);
		cr_assert(d->name && !strcmp(d->name, names[m]), "mode %d: its name and the vocabulary's differ", m);
		cr_assert(d->tokens < EXP_FIELD_COUNT, "mode %s: token field out of range", d->name);
		cr_assert(!d->cached || d->tokens >= 0, "mode %s keeps a cache but times no tokens", d->name);
	}
	assert_names(pat_share_choices, PAT_SHARE_COUNT, "share");
	for (int l = 0; l < DSG_LIMIT_COUNT; l++)
		cr_assert(dsg_limit_name((enum dsg_limit)l) && *dsg_limit_name((enum dsg_limit)l),
			  "review limit %d has no name", l);
}

/* The descriptor slots code asks instead of a kind's name: one default
 * input kind; the score kinds that leave attention as written; the
 * storage types whose cache changes what attention reads; the modes by
 * their CSV names; the file that names a file-read input. */
Test(tables, kinds_answer_through_their_descriptors)
{
	int defaults = 0;

	for (int i = 0; i < inp_kind_count; i++) {
		defaults += inp_kinds[i]->is_default;
		cr_assert(inp_kinds[i]->label_file < inp_kinds[i]->n_params, "%s", inp_kinds[i]->name);
	}
	cr_assert_eq(defaults, 1, "one input kind is the default");
	cr_assert_str_eq(inp_default_kind()->name, "gaussian");
	cr_assert(score_label_identity("plain"));
	cr_assert_not(score_label_identity("alibi"));
	cr_assert_not(score_label_identity("softcap(cap=50)"));
	cr_assert_not(score_label_identity("no_such_kind"));
	for (int t = 0; t < DT_COUNT; t++)
		cr_assert_eq(dtype_of((enum dtype)t)->lossy, t != DT_F32, "%s", dtype_names[t]);
	for (int m = 0; m < EXP_MODE_COUNT; m++)
		cr_assert_eq(exp_mode_find(exp_mode_of(m)->name), exp_mode_of(m));
	cr_assert_null(exp_mode_find("decoding"));
}
