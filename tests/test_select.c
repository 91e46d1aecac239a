/* test_select.c - content-selected G-sets: each selector's fast path
 * against its scalar double reference (every ISA path here, 1 and 2
 * threads, GQA, two sequences, n not a multiple of any block), designed
 * picks on hand-built inputs, and every kernel against the oracle on a
 * selected G. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../harness/quality/quality.h"
#include "../kernels/kvcache.h"
#include "../select/select.h"
#include "helpers.h"

/* A problem over seeded inputs with the history rows the kind reads. */
struct sel_fx {
	struct problem p;
	struct pattern pat;
	struct sel_input in;
	float *qh, *q, *k, *v, *o;
};

static float noise(unsigned long long i)
{
	return (float)((double)(pat_hash(7, i, 0, 0) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void sfx_make(struct sel_fx *f, const char *spec, long n, long n_q, int batch,
		     int heads, int kv_heads, int d)
{
	struct err e;
	int decode = n_q < n;
	size_t nkv = (size_t)batch * kv_heads * n * d;

	memset(f, 0, sizeof *f);
	cr_assert_eq(exp_parse_spec(spec, 1, &f->pat, &e), 0, "%s", e.msg);
	f->in.n_hist = sel_history(&f->pat, n_q, n, decode);
	f->qh = malloc((size_t)batch * heads * f->in.n_hist * d * sizeof *f->qh);
	f->q = malloc((size_t)batch * heads * n_q * d * sizeof *f->q);
	f->k = malloc(nkv * sizeof *f->k);
	f->v = malloc(nkv * sizeof *f->v);
	f->o = calloc((size_t)batch * heads * n_q * d, sizeof *f->o);
	for (size_t i = 0; i < (size_t)batch * heads * f->in.n_hist * d; i++)
		f->qh[i] = 2.0f * noise(i);
	for (size_t i = 0; i < nkv; i++) {
		f->k[i] = 2.0f * noise(i + (1ULL << 40));
		f->v[i] = noise(i + (2ULL << 40));
	}
	for (int bh = 0; bh < batch * heads; bh++)
		memcpy(f->q + (size_t)bh * n_q * d, f->qh + ((size_t)bh * f->in.n_hist + f->in.n_hist - n_q) * d,
		       (size_t)n_q * d * sizeof *f->q);
	f->p = (struct problem){ .batch = batch, .heads = heads, .kv_heads = kv_heads,
				 .n_q = n_q, .n_kv = n, .d = d, .q = f->q, .k = f->k,
				 .v = f->v, .o = f->o };
	f->in.p = &f->p;
	f->in.q_hist = f->qh;
	f->in.decode = decode;
	f->in.ops = &simd_portable;
}

static void sfx_free(struct sel_fx *f)
{
	pat_free(&f->pat);
	free(f->qh);
	free(f->q);
	free(f->k);
	free(f->v);
	free(f->o);
}

static void sfx_select(struct sel_fx *f, int ref, const struct simd_ops *ops, int threads,
		       struct gset *g)
{
	char why[256];

	f->in.ref = ref;
	f->in.ops = ops;
	omp_set_num_threads(threads);
	cr_assert_null(sel_unservable(&f->pat, &f->p, f->in.decode, why, sizeof why), "%s", why);
	cr_assert_eq(sel_run(&f->pat, &f->in, g, why, sizeof why), 0, "%s", why);
}

static void assert_same_g(const struct gset *a, const struct gset *b, const char *what)
{
	int64_t rows = (int64_t)a->n_layouts * a->n_q;

	cr_assert_eq(a->n_layouts, b->n_layouts, "%s: layouts", what);
	for (int64_t i = 0; i <= rows; i++)
		cr_assert_eq(a->row_ptr[i], b->row_ptr[i], "%s: row %lld differs", what, (long long)i);
	for (int64_t i = 0; i < a->row_ptr[rows]; i++)
		cr_assert(a->ranges[i].lo == b->ranges[i].lo && a->ranges[i].hi == b->ranges[i].hi,
			  "%s: range %lld differs", what, (long long)i);
}

/* Every kind's small cases: spec, n, decode steps (0: prefill). */
static const struct { const char *spec; long n, steps; } cases[] = {
	{ "vertical_slash: {last_q: 20, verticals: 9, slashes: 7, sink_keys: 2, local_offsets: 3}", 150, 0 },
	{ "block_topk: {block: 16, k: 3}", 150, 0 },
	{ "block_topk: {block: 16, coverage: 0.6}", 150, 0 },
	{ "block_topk: {block: 16, estimate: antidiagonal, stride: 4, coverage: 0.7}", 150, 0 },
	{ "block_topk: {block: 16, estimate: antidiagonal, stride: 8, k: 2}", 150, 0 },
	{ "quest: {page: 8, budget: 40, query_block: 16}", 150, 0 },
	{ "quest: {page: 8, budget: 40}", 150, 6 },
	{ "snapkv: {window: 8, kernel: 5, capacity: 30}", 150, 5 },
	{ "nsa_select: {compress_block: 16, compress_stride: 8, select_block: 16, select_n: 4, local_blocks: 1}", 150, 0 },
	{ "nsa_select: {compress_block: 16, compress_stride: 8, select_block: 16, select_n: 4, local_blocks: 1}", 150, 7 },
	{ "moba: {block: 16, topk: 2}", 150, 0 },
	{ "moba: {block: 16, topk: 3}", 150, 6 },
	{ "topk_oracle: {k: 12}", 150, 0 },
	{ "topk_oracle: {k: 20}", 150, 5 },
	{ "topp_oracle: {p: 0.5}", 150, 0 },
	{ "topp_oracle: {p: 0.8}", 150, 5 },
	{ "moba: {block: 16, topk: 2, share: kv_group}", 150, 0 },
	{ "topk_oracle: {k: 12, share: kv_group}", 150, 0 },
	{ "topp_oracle: {p: 0.7, share: kv_group}", 150, 5 },
	{ "quest: {page: 8, budget: 40, share: kv_group}", 150, 6 },
	{ "quest: {page: 8, budget: 40, query_block: 16, share: kv_group}", 150, 0 },
	{ "snapkv: {window: 8, kernel: 5, capacity: 30, share: kv_group}", 150, 5 },
	{ "nsa_select: {compress_block: 16, compress_stride: 8, select_block: 16, select_n: 4, local_blocks: 1, share: kv_group}", 150, 0 },
	{ "block_topk: {block: 16, coverage: 0.6, share: kv_group}", 150, 0 },
	{ "block_topk: {block: 16, estimate: antidiagonal, stride: 4, k: 2, share: kv_group}", 150, 0 },
	{ "vertical_slash: {last_q: 20, verticals: 9, slashes: 7, sink_keys: 2, local_offsets: 3, share: kv_group}", 150, 0 },
	{ "dsa_topk: {k: 16, index_heads: 3, index_dim: 12}", 150, 0 },
	{ "dsa_topk: {k: 24, index_heads: 4, index_dim: 8, faithful: 0.5}", 150, 6 },
};

Test(select, fast_paths_equal_the_scalar_reference)
{
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		struct sel_fx f;
		struct gset ref = { 0 };
		long n_q = cases[c].steps ? cases[c].steps : cases[c].n;
		sfx_make(&f, cases[c].spec, cases[c].n, n_q, 2, 4, 2, 24);
		sfx_select(&f, 1, &simd_portable, 1, &ref);
		cr_assert_gt(ref.st.nnz, 0, "%s selected nothing", cases[c].spec);
		cr_assert_lt(ref.st.density, 1.0, "%s selected everything", cases[c].spec);
		for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
			if (kern_isa_unsupported((enum kern_isa)isa))
				continue;
			for (int t = 1; t <= 2; t++) {
				struct gset g = { 0 };
				char what[200];
				sfx_select(&f, 0, kern_simd_of((enum kern_isa)isa), t, &g);
				snprintf(what, sizeof what, "%s on %s, %d threads", cases[c].spec,
					 kern_isa_name((enum kern_isa)isa), t);
				assert_same_g(&ref, &g, what);
				gset_free(&g);
			}
		}
		gset_free(&ref);
		sfx_free(&f);
	}
}

Test(select, every_kernel_matches_the_oracle_on_a_selected_g)
{
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		struct sel_fx f;
		struct gset g = { 0 };
		long n_q = cases[c].steps ? cases[c].steps : cases[c].n;
		sfx_make(&f, cases[c].spec, cases[c].n, n_q, 1, 4, 2, 16);
		sfx_select(&f, 0, kern_simd(), 2, &g);
		f.p.g = &g;
		for (int k = 0; k < kern_count; k++) {
			struct fixture fx = { .p = f.p };
			long bad;
			double err;
			if (!strcmp(kern_table[k]->name, "masked") && n_q < cases[c].n)
				continue;
			fx.g = g;
			fx.p.g = &fx.g;
			err = fx_max_err(&fx, kern_table[k], 2, &bad);
			cr_assert_eq(bad, 0, "%s on %s: non-finite", kern_table[k]->name, cases[c].spec);
			cr_assert_lt(err, 1e-4, "%s on %s: error %g", kern_table[k]->name, cases[c].spec, err);
		}
		gset_free(&g);
		sfx_free(&f);
	}
}

/* Hand-built inputs: every query is e_0, keys are 0 but the hot ones,
 * whose channel 0 is large; each kind must pick what holds them. */
static void make_hot(struct sel_fx *f, const long *hot, int n_hot)
{
	size_t nq = (size_t)f->p.batch * f->p.heads * f->in.n_hist;

	memset(f->k, 0, (size_t)f->p.batch * f->p.kv_heads * f->p.n_kv * f->p.d * sizeof *f->k);
	memset(f->qh, 0, nq * f->p.d * sizeof *f->qh);
	for (size_t r = 0; r < nq; r++)
		f->qh[r * f->p.d] = 1.0f;
	for (int bh = 0; bh < f->p.batch * f->p.kv_heads; bh++)
		for (int i = 0; i < n_hot; i++)
			f->k[((size_t)bh * f->p.n_kv + hot[i]) * f->p.d] = 40.0f;
}

/* 1 when key j is in row r of layout 0. */
static int has_key(const struct gset *g, long r, long j)
{
	int64_t n;
	const struct pat_range *rg = gset_row(g, 0, r, &n);

	for (int64_t i = 0; i < n; i++)
		if (j >= rg[i].lo && j < rg[i].hi)
			return 1;
	return 0;
}

Test(select, picks_the_designed_columns_blocks_pages_and_keys)
{
	static const long hot[] = { 37, 90 };
	static const struct { const char *spec; long steps, keys_per_row_max; } picks[] = {
		{ "vertical_slash: {last_q: 16, verticals: 4, slashes: 2, sink_keys: 1, local_offsets: 1}", 0, 6 },
		{ "block_topk: {block: 16, k: 2}", 0, 64 },
		{ "block_topk: {block: 16, estimate: antidiagonal, stride: 4, k: 2}", 0, 64 },
		{ "quest: {page: 8, budget: 24}", 4, 24 },
		{ "snapkv: {window: 8, kernel: 1, capacity: 11}", 4, 15 },
		{ "nsa_select: {compress_block: 8, compress_stride: 8, select_block: 16, select_n: 4, local_blocks: 1}", 0, 64 },
		{ "moba: {block: 16, topk: 2}", 0, 48 },
		{ "moba: {block: 16, topk: 2}", 4, 48 },
		{ "topk_oracle: {k: 3}", 0, 3 },
		{ "topp_oracle: {p: 0.95}", 4, 3 },
		{ "dsa_topk: {k: 4, index_heads: 4, index_dim: 8, faithful: 1}", 0, 4 },
	};

	for (size_t c = 0; c < sizeof picks / sizeof *picks; c++) {
		struct sel_fx f;
		struct gset g = { 0 };
		long n = 160, n_q = picks[c].steps ? picks[c].steps : n;
		sfx_make(&f, picks[c].spec, n, n_q, 1, 2, 1, 8);
		make_hot(&f, hot, 2);
		sfx_select(&f, 0, kern_simd(), 2, &g);
		for (long r = 0; r < n_q; r++) {
			long pos = n - n_q + r;
			for (int i = 0; i < 2; i++)
				if (hot[i] <= pos - (picks[c].steps ? 0 : 16))
					cr_assert(has_key(&g, r, hot[i]), "%s: row %ld lacks hot key %ld",
						  picks[c].spec, r, hot[i]);
			cr_assert(has_key(&g, r, pos) || strstr(picks[c].spec, "snapkv") == NULL,
				  "%s: row %ld lacks itself", picks[c].spec, r);
		}
		cr_assert_leq(g.st.row_max, picks[c].keys_per_row_max, "%s: rows of %lld keys",
			      picks[c].spec, g.st.row_max);
		gset_free(&g);
		sfx_free(&f);
	}
}

Test(select, forced_parts_and_budgets_hold)
{
	struct sel_fx f;
	struct gset g = { 0 };

	/* quest, decode: budget 40 = 5 pages of 8, the current one included */
	sfx_make(&f, "quest: {page: 8, budget: 40}", 150, 6, 1, 2, 2, 16);
	sfx_select(&f, 0, kern_simd(), 1, &g);
	for (long r = 0; r < 6; r++) {
		long pos = 144 + r;
		cr_assert(has_key(&g, r, pos) && has_key(&g, r, pos / 8 * 8), "row %ld lacks its page", r);
	}
	cr_assert_leq(g.st.row_max, 40);
	gset_free(&g);
	sfx_free(&f);
	/* nsa_select: the first block and the local ones in every row */
	sfx_make(&f, "nsa_select: {compress_block: 16, compress_stride: 8, select_block: 16, select_n: 3, local_blocks: 2}",
		 150, 150, 1, 1, 1, 16);
	sfx_select(&f, 0, kern_simd(), 2, &g);
	for (long r = 0; r < 150; r++) {
		cr_assert(has_key(&g, r, 0) && has_key(&g, r, r), "row %ld lacks block 0 or its own", r);
		if (r >= 16)
			cr_assert(has_key(&g, r, (r / 16 - 1) * 16), "row %ld lacks the block before", r);
	}
	cr_assert_leq(g.st.row_max, 48);
	gset_free(&g);
	sfx_free(&f);
	/* snapkv: capacity 30 prompt keys, then every decoded token */
	sfx_make(&f, "snapkv: {window: 8, kernel: 5, capacity: 30}", 150, 5, 1, 1, 1, 16);
	sfx_select(&f, 0, kern_simd(), 1, &g);
	for (long r = 0; r < 5; r++) {
		int64_t n;
		const struct pat_range *rg = gset_row(&g, 0, r, &n);
		long long keys = gset_row_keys(rg, n);
		cr_assert_eq(keys, 30 + r + 1, "row %ld reads %lld keys", r, keys);
		for (long j = 137; j <= 145 + r; j++)
			cr_assert(has_key(&g, r, j), "row %ld lacks window or decoded key %ld", r, j);
	}
	gset_free(&g);
	sfx_free(&f);
}

Test(select, cells_a_kind_cannot_serve_say_why)
{
	struct sel_fx f;
	char why[256];

	sfx_make(&f, "snapkv: {window: 32, capacity: 64}", 40, 10, 1, 1, 1, 16);
	cr_assert_str_eq(sel_unservable(&f.pat, &f.p, 1, why, sizeof why),
			 "'snapkv' needs a prompt longer than its window of 32; it has 30 tokens");
	cr_assert_str_eq(sel_unservable(&f.pat, &f.p, 0, why, sizeof why),
			 "'snapkv' selects in mode decode only");
	sfx_free(&f);
	sfx_make(&f, "vertical_slash: {last_q: 64, verticals: 40, slashes: 100}", 40, 40, 1, 1, 1, 16);
	cr_assert_str_eq(sel_unservable(&f.pat, &f.p, 0, why, sizeof why),
			 "'last_q' is 64, above seq_len 40");
	pat_set_causal(&f.pat, 0);
	cr_assert_str_eq(sel_unservable(&f.pat, &f.p, 0, why, sizeof why),
			 "'vertical_slash' selects over causal rows only");
	sfx_free(&f);
}

/* State kept between selections (Quest's prompt page metadata in decode)
 * is made once by sel_prepare and gives the G of a selection that is
 * handed no state and summarises every page itself; a prefill cell keeps
 * none; selecting again into the same G and buffers changes nothing. */
Test(select, prepared_state_gives_the_same_g)
{
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		struct sel_fx f;
		struct gset once = { 0 }, kept = { 0 };
		long n_q = cases[c].steps ? cases[c].steps : cases[c].n;
		/* Quest keeps its prompt's pages in decode, DSA its indexer */
		int has_state = (cases[c].steps && strncmp(cases[c].spec, "quest", 5) == 0) ||
				strncmp(cases[c].spec, "dsa_topk", 8) == 0, layouts;
		char why[256];
		void *made[2];
		sfx_make(&f, cases[c].spec, cases[c].n, n_q, 1, 2, 1, 16);
		f.in.ops = kern_simd();
		layouts = 2 / sel_group(&f.pat, &f.p);
		cr_assert_eq(sel_prepare(&f.pat, &f.in), 0);
		for (int l = 0; l < layouts; l++) {
			cr_assert_eq(f.in.state[l] != NULL, has_state, "%s: layout %d state", cases[c].spec, l);
			made[l] = f.in.state[l];
			f.in.state[l] = NULL;
		}
		cr_assert_eq(sel_run(&f.pat, &f.in, &once, why, sizeof why), 0, "%s", why);
		for (int l = 0; l < layouts; l++)
			f.in.state[l] = made[l];
		cr_assert_eq(sel_run(&f.pat, &f.in, &kept, why, sizeof why), 0, "%s", why);
		assert_same_g(&once, &kept, cases[c].spec);
		/* again into the same G and buffers, as every timed run does */
		cr_assert_eq(sel_run(&f.pat, &f.in, &kept, why, sizeof why), 0, "%s", why);
		assert_same_g(&once, &kept, cases[c].spec);
		sel_release(&f.pat, &f.in);
		cr_assert_null(f.in.state);
		gset_free(&once);
		gset_free(&kept);
		sfx_free(&f);
	}
}

/* The oracles are the bounds they claim: top-k keeps exactly the most a
 * G of its size keeps (quality's best possible recall), top-p keeps at
 * least p of every row's mass. */
Test(select, the_oracles_are_the_bounds_they_claim)
{
	static const char *const specs[] = { "topk_oracle: {k: 9}", "topp_oracle: {p: 0.7}" };

	for (size_t c = 0; c < 2; c++) {
		struct sel_fx f;
		struct gset g = { 0 };
		struct quality q;
		sfx_make(&f, specs[c], 150, 150, 1, 2, 1, 16);
		sfx_select(&f, 0, kern_simd(), 2, &g);
		f.p.g = &g;
		cr_assert_eq(quality_measure(&f.p, NULL, 1000, 1, &q), 0);
		for (int h = 0; h < q.heads; h++) {
			const struct quality_stats *s = &q.head[h];
			if (c == 0)
				cr_assert(fabs(s->recall_mean - s->best_mean) < 1e-6, "%s head %d: recall %g, best %g",
					  specs[c], h, s->recall_mean, s->best_mean);
			else
				cr_assert_geq(s->recall_min, 0.7 - 1e-6, "%s head %d: a row keeps %g", specs[c], h,
					      s->recall_min);
		}
		quality_free(&q);
		gset_free(&g);
		sfx_free(&f);
	}
}

/* share: kv_group: one G a GQA group (a layout per sequence and K/V
 * head) that each of its heads reads, the group's K/V rows counted once
 * for the decoder; a group of one head equals the unshared selection.
 * (Every kernel against the oracle on a shared G: the cases above.) */
Test(select, a_gqa_group_shares_one_selection)
{
	struct sel_fx f, one;
	struct gset g = { 0 }, own = { 0 };

	sfx_make(&f, "topk_oracle: {k: 10, share: kv_group}", 120, 120, 2, 4, 2, 16);
	sfx_select(&f, 0, kern_simd(), 2, &g);
	cr_assert_eq(g.n_layouts, 2 * 2, "a layout per (sequence, K/V head)");
	for (int b = 0; b < 2; b++)
		for (int h = 0; h < 4; h++)
			cr_assert_eq(gset_layout(&g, b, h), b * 2 + h / 2);
	cr_assert(gset_group_shares(&g, 2));
	cr_assert_eq(kvc_pairs_read(&g, 4, 2), gset_pairs(&g, 2), "the group reads its rows once");
	cr_assert_eq(gset_pairs(&g, 4), 2 * gset_pairs(&g, 2));
	gset_free(&g);
	sfx_free(&f);
	/* DeepSeek's indexer: one G per sequence for all its heads */
	sfx_make(&f, "dsa_topk: {k: 10, index_heads: 2, index_dim: 8}", 120, 120, 2, 4, 2, 16);
	sfx_select(&f, 0, kern_simd(), 2, &g);
	cr_assert_eq(g.n_layouts, 2, "a layout per sequence");
	for (int b = 0; b < 2; b++)
		for (int h = 0; h < 4; h++)
			cr_assert_eq(gset_layout(&g, b, h), b);
	cr_assert(gset_group_shares(&g, 2));
	cr_assert_eq(g.st.row_max, 10);
	gset_free(&g);
	sfx_free(&f);
	/* one head per K/V head: sharing changes nothing */
	sfx_make(&f, "moba: {block: 16, topk: 2, share: kv_group}", 150, 150, 1, 2, 2, 16);
	sfx_make(&one, "moba: {block: 16, topk: 2}", 150, 150, 1, 2, 2, 16);
	sfx_select(&f, 0, kern_simd(), 2, &g);
	sfx_select(&one, 0, kern_simd(), 2, &own);
	assert_same_g(&own, &g, "moba shared by groups of one head");
	gset_free(&g);
	gset_free(&own);
	sfx_free(&f);
	sfx_free(&one);
}
