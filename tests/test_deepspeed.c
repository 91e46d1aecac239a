/* test_deepspeed.c - parity with DeepSpeed's sparsity configs
 * (deepspeed/ops/sparse_attention/sparsity_config.py): at block 1 a layout
 * is the token mask, so each test states the layout DeepSpeed's
 * make_layout gives, row by row, bidirectional and unidirectional (where
 * sabench clips the diagonal blocks to token causality, DeepSpeed keeps
 * them whole; at block 1 the two agree). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* Checks head h of spec at n against rows[i] ('#' kept, '.' not). */
static void expect_layout(const char *spec, int causal, int heads, int h,
			  const char *const *rows, long n)
{
	struct fixture fx;

	fx_make(&fx, spec, causal, n, 1, heads, heads, 8, 1.0f);
	for (long i = 0; i < n; i++) {
		char got[64];
		int64_t nr;
		const struct pat_range *rg = gset_row(&fx.g, gset_layout(&fx.g, 0, h), i, &nr);
		memset(got, '.', (size_t)n);
		got[n] = 0;
		for (int64_t k = 0; k < nr; k++)
			for (long j = rg[k].lo; j < rg[k].hi; j++)
				got[j] = '#';
		cr_assert_str_eq(got, rows[i], "%s (%s) head %d row %ld", spec,
				 causal ? "causal" : "bidirectional", h, i);
	}
	fx_free(&fx);
}

/* FixedSparsityConfig(num_local_blocks=4, num_global_blocks=1) over 10
 * blocks: windows [0-3] [4-7] and a short one [8-9]; global columns 3, 7
 * and, for the short window, min(8 + 3, 10 - 1) = 9. Global columns only
 * (horizontal_global_attention=False, DeepSpeed's default). */
Test(deepspeed, fixed_bidirectional_global_columns_only)
{
	static const char *const rows[] = {
		"####...#.#", "####...#.#", "####...#.#", "####...#.#",
		"...#####.#", "...#####.#", "...#####.#", "...#####.#",
		"...#...###", "...#...###",
	};
	expect_layout("ds_fixed: {block: 1, local_blocks: 4, global_blocks: 1}", 0, 1, 0, rows, 10);
}

/* The same with horizontal_global_attention=True: global rows 3, 7, 9
 * attend to every block. */
Test(deepspeed, fixed_bidirectional_horizontal)
{
	static const char *const rows[] = {
		"####...#.#", "####...#.#", "####...#.#", "##########",
		"...#####.#", "...#####.#", "...#####.#", "##########",
		"...#...###", "##########",
	};
	expect_layout("ds_fixed: {block: 1, local_blocks: 4, global_blocks: 1, horizontal_global_attention: true}",
		      0, 1, 0, rows, 10);
}

/* attention='unidirectional': local windows up to the row, a global
 * column seen from its own row on. */
Test(deepspeed, fixed_unidirectional)
{
	static const char *const rows[] = {
		"#.........", "##........", "###.......", "####......",
		"...##.....", "...###....", "...####...", "...#####..",
		"...#...##.", "...#...###",
	};
	expect_layout("ds_fixed: {block: 1, local_blocks: 4, global_blocks: 1}", 1, 1, 0, rows, 10);
}

/* num_global_blocks=2, head 1 of two global patterns: first global block
 * 4 - (1 + 1) * 2 = 0 in each window (columns 0-1, 4-5); over 9 blocks the
 * short window [8] takes min(8 + 0, 9 - 2) = 7, so columns 7 and 8. */
Test(deepspeed, fixed_short_window_reaches_back)
{
	static const char *const rows[] = {
		"######.##", "######.##", "######.##", "######.##",
		"##..#####", "##..#####", "##..#####", "##..#####",
		"##..##.##",
	};
	expect_layout("ds_fixed: {block: 1, local_blocks: 4, global_blocks: 2, different_per_head: true}",
		      0, 2, 1, rows, 9);
}

/* BSLongformerSparsityConfig(num_sliding_window_blocks=3,
 * global_block_indices=[0, 5]) over 8 blocks: a window of one block each
 * side, global rows and columns 0 and 5; unidirectional is its tril. */
Test(deepspeed, bslongformer_both_directions)
{
	static const char *const bi[] = {
		"########", "###..#..", "####.#..", "#.####..",
		"#..###..", "########", "#....###", "#....###",
	};
	static const char *const uni[] = {
		"#.......", "##......", "###.....", "#.##....",
		"#..##...", "######..", "#....##.", "#....###",
	};
	const char *spec = "bslongformer: {block: 1, window_blocks: 3, global_block_indices: [0, 5]}";

	expect_layout(spec, 0, 1, 0, bi, 8);
	expect_layout(spec, 1, 1, 0, uni, 8);
}

/* BigBirdSparsityConfig without random blocks (num_random_blocks=0,
 * num_sliding_window_blocks=3, num_global_blocks=1) over 6 blocks: the
 * window, global row and column 0; unidirectional is its tril. */
Test(deepspeed, bigbird_fixed_part_both_directions)
{
	static const char *const bi[] = {
		"######", "###...", "####..", "#.###.", "#..###", "#...##",
	};
	static const char *const uni[] = {
		"#.....", "##....", "###...", "#.##..", "#..##.", "#...##",
	};
	const char *spec = "bigbird: {block: 1, window_blocks: 3, global_blocks: 1, random_blocks: 0}";

	expect_layout(spec, 0, 1, 0, bi, 6);
	expect_layout(spec, 1, 1, 0, uni, 6);
}
