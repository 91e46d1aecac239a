/* test_experiment.c - experiment loading: a good file resolves as written;
 * every class of bad input gives its exact file:line:col message, both
 * through exp_load and through `sabench validate` with exit status 2. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/config/experiment.h"
#include "../harness/config/plan.h"
#include "helpers.h"

struct bad_case {
	const char *file;       /* under tests/bad/ */
	const char *where;      /* "line:col", or "" when no position */
	const char *message;    /* after the position */
};

static const struct bad_case bad_cases[] = {
	{ "unknown_key.yaml", "1:1", "unknown key 'kernals'; did you mean 'kernels'?" },
	{ "unknown_key_in_run.yaml", "5:3", "unknown key 'repeat' in 'run'; did you mean 'repeats'?" },
	{ "wrong_type.yaml", "3:10", "'heads' must be an integer, not 'eight'" },
	{ "wrong_type_list.yaml", "2:12", "'seq_len' must be an integer, not a list" },
	{ "zero_size.yaml", "3:20", "'size' is 0, must be at least 1" },
	{ "negative_seq_len.yaml", "2:17", "'seq_len' is -5, must be at least 1" },
	{ "unknown_pattern.yaml", "3:5", "unknown pattern 'windw'; did you mean 'window'?" },
	{ "unknown_kernel.yaml", "3:18", "unknown kernel 'gahter'; did you mean 'gather'?" },
	{ "empty_sweep.yaml", "2:12", "sweep 'seq_len' is empty" },
	{ "syntax_error.yaml", "2:9", "yaml syntax error: did not find expected ',' or '}' while parsing a flow mapping" },
	{ "empty.yaml", "1:1", "experiment file is empty" },
	{ "kv_dtype_unknown.yaml", "4:13", "unknown kv_dtype 'q5_1'" },
	{ "extend_above_seq_len.yaml", "1:37", "extend_tokens 512 is more than seq_len 256" },
	{ "extend_zero.yaml", "3:23", "'extend_tokens' is 0, must be at least 1" },
	{ "lengths_empty.yaml", "1:32", "'lengths' is empty" },
	{ "moba_topk_zero.yaml", "3:29", "'topk' is 0, must be at least 1" },
	{ "dsa_index_heads_zero.yaml", "3:36", "'index_heads' is 0, must be at least 1" },
	{ "share_cannot.yaml", "3:23", "pattern 'dsa_topk' takes no 'share': its kind decides which heads a selection serves (dsa_topk: every head of a sequence)" },
	{ "share_unknown.yaml", "3:30", "'share' must be one of 'head', 'kv_group', not 'group'" },
	{ "topp_zero.yaml", "3:22", "'p' is 0, must be in (0, 1]" },
	{ "topp_above_one.yaml", "3:22", "'p' is 1.5, must be in (0, 1]" },
	{ "topk_oracle_zero.yaml", "3:22", "'k' is 0, must be at least 1" },
	{ "lengths_in_prefill.yaml", "1:9", "a ragged batch (lengths) runs in mode decode or extend, not prefill" },
	{ "lengths_new_above_length.yaml", "1:57", "sequence 1 has 30 new tokens, more than its length 20" },
	{ "review_unknown_model.yaml", "5:17", "review names model 'llama', which the model block lacks" },
	{ "review_unknown_inputs.yaml", "5:41", "review names inputs 'needles', which the inputs list lacks" },
	{ "size_unit_lowercase.yaml", "5:56", "unknown unit 'gb' in kv_memory; use B, KiB, MiB, GiB, TiB (powers of 1024), KB, MB, GB or TB (powers of 1000)" },
	{ "serving_size_garbled.yaml", "4:74", "unknown unit 'gigs' in memory; use B, KiB, MiB, GiB, TiB (powers of 1024), KB, MB, GB or TB (powers of 1000)" },
	{ "weights_over_memory.yaml", "5:57", "'weights' of 17179869184 B leave no room in 'memory' of 8589934592 B" },
	{ "review_tenants_without_memory.yaml", "5:9", "a review of 16 tenants needs 'kv_memory', 'memory' or the model's serving memory" },
	{ "review_without_prompt.yaml", "5:9", "a review needs 'prompt', the prompt's tokens" },
	{ "review_recall_above_one.yaml", "5:41", "'recall' is 1.5, must be in [0, 1]" },
	{ "kivi_group_not_dividing.yaml", "5:3", "kv_group 24 is not 16, 32 or 64 (a KIVI group divides a page of 64 rows)" },
	{ "kivi_residual_negative.yaml", "5:16", "'kv_residual' is -1, must be at least 0" },
	{ "q4_0_head_dim.yaml", "5:3", "head_dim 48 is not a multiple of 32, the block of kv_dtype 'q4_0'" },
	{ "kivi_head_dim.yaml", "5:3", "head_dim 80 is not a multiple of 32, the kv_group of kv_dtype 'kivi2'" },
	{ "head_dim_v_zero.yaml", "2:34", "'head_dim_v' is 0, must be at least 1" },
	{ "head_dim_v_block.yaml", "3:9", "head_dim_v 48 is not a multiple of 32, the block of kv_dtype 'q4_0'" },
	{ "kv_latent_wider.yaml", "10:14", "kv_latent needs head_dim_v 128 within head_dim 64: V is read from the latent's first head_dim_v values" },
	{ "unknown_parameter.yaml", "3:29", "unknown parameter 'sise' for pattern 'sink_window'; did you mean 'size'?" },
	{ "missing_parameter.yaml", "3:5", "pattern 'window' needs parameter 'size'" },
	{ "missing_seq_len.yaml", "1:1", "missing 'seq_len' under shape or sweep" },
	{ "kv_heads_not_dividing.yaml", "4:3", "kv_heads 3 does not divide heads 8" },
	{ "duplicate_key.yaml", "4:1", "duplicate key 'patterns'" },
	{ "alias.yaml", "1:8", "anchors and aliases are not supported" },
	{ "shape_and_sweep.yaml", "2:9", "'seq_len' is both fixed under shape and swept under sweep" },
	{ "label_with_comma.yaml", "3:12", "label 'a,b' must be non-empty without commas, quotes or newlines" },
	{ "unsupported_dtype.yaml", "1:29", "dtype 'f16' is not supported yet; use f32 or bf16" },
	{ "unknown_counter.yaml", "4:28", "unknown counter 'sabench::pears'" },
	{ "unknown_papi_event.yaml", "4:26", "unknown counter 'PAPI_FOO'" },
	{ "explicit_future_key.yaml", "3:5", "pattern 'explicit(2 rows)': row 1 has key 2 after the query; causal rows hold only j <= i" },
	{ "duplicate_label.yaml", "3:3", "pattern label 'window(size=8)' is used twice; give one a label" },
	{ "not_a_mapping.yaml", "1:1", "an experiment must be a mapping of keys, not a list" },
	{ "kernel_twice.yaml", "3:18", "kernel 'naive' is listed twice" },
	{ "bad_bool.yaml", "1:30", "'causal' must be true or false, not 'maybe'" },
	{ "dilation_zero.yaml", "3:34", "'dilation' is 0, must be at least 1" },
	{ "score_buckets_one.yaml", "1:55", "'buckets' is 1, must be at least 2" },
	{ "score_cap_negative.yaml", "1:45", "'cap' is -3, must be above 0" },
	{ "score_cap_zero.yaml", "1:45", "'cap' is 0, must be above 0" },
	{ "score_distance_below_buckets.yaml", "1:73", "'max_distance' is 16, must be at least 'buckets' 32" },
	{ "score_list_in_shape.yaml", "1:29", "'score' under shape is one function, not a list; list several under sweep" },
	{ "score_params_not_mapping.yaml", "1:39", "parameters of score 'softcap' must be a mapping, not a scalar" },
	{ "score_scale_without_value.yaml", "1:29", "score 'scale' needs 'value'" },
	{ "score_scale_zero.yaml", "1:45", "'value' is 0, must be above 0" },
	{ "score_twice.yaml", "2:31", "score 'alibi' is listed twice" },
	{ "score_unknown.yaml", "1:29", "unknown score 'alibbi'; did you mean 'alibi'?" },
	{ "score_unknown_param.yaml", "1:40", "unknown key 'capp' in score 'softcap'; did you mean 'cap'?" },
	{ "sel_budget_below_page.yaml", "3:5", "pattern 'quest(budget=8)': 'budget' is 8 tokens, below one page of 16" },
	{ "sel_capacity_within_window.yaml", "3:5", "pattern 'snapkv(capacity=32)': 'capacity' is 32, must exceed 'window' 32" },
	{ "sel_coverage_above_one.yaml", "3:5", "pattern 'block_topk(coverage=1.5)': 'coverage' is 1.5, must be in (0, 1]" },
	{ "sel_coverage_zero.yaml", "3:5", "pattern 'block_topk(coverage=0)': 'coverage' is 0, must be in (0, 1]" },
	{ "sel_even_kernel.yaml", "3:5", "pattern 'snapkv(kernel=6)': 'kernel' is 6, must be odd" },
	{ "sel_in_union.yaml", "3:5", "pattern 'union(window(size=8) quest)': 'quest' is selected from the inputs and cannot be a part of 'union'" },
	{ "sel_k_zero.yaml", "3:21", "'k' is 0, must be at least 1" },
	{ "sel_last_q_above_n.yaml", "3:5", "pattern 'vertical_slash(last_q=128)': 'last_q' is 128, above seq_len 64" },
	{ "sel_select_n_no_room.yaml", "3:5", "pattern 'nsa_select(select_n=2)': 'select_n' is 2, below the first and 2 local blocks" },
	{ "sel_sinks_above_verticals.yaml", "3:5", "pattern 'vertical_slash(verticals=10 slashes=200)': 'sink_keys' is 30, above 'verticals' 10" },
	{ "sel_stride_not_dividing.yaml", "3:5", "pattern 'block_topk(estimate=antidiagonal stride=12)': 'stride' 12 does not divide 'block' 64" },
	{ "sel_unknown_estimate.yaml", "3:28", "'estimate' must be one of 'mean_pool', 'antidiagonal', not 'mean_pol'; did you mean 'mean_pool'?" },
	{ "block_not_dividing.yaml", "3:5", "pattern 'ds_fixed(block=16 global_blocks=3)': 'global_blocks' 3 does not divide 'local_blocks' 4" },
	{ "token_out_of_range.yaml", "3:5", "pattern 'global(tokens=[0 40])': token 40 is out of range for seq_len 32" },
	{ "density_out_of_range.yaml", "3:23", "'density' is 1.5, must be in (0, 1]" },
	{ "density_zero.yaml", "3:23", "'density' is 0, must be in (0, 1]" },
	{ "unknown_child.yaml", "3:35", "unknown pattern 'globl'; did you mean 'global'?" },
	{ "empty_union.yaml", "3:5", "pattern 'union()': 'union' needs at least one child pattern" },
	{ "child_sweeps.yaml", "3:29", "a child of 'union' cannot sweep a parameter; list each variant as its own pattern" },
	{ "even_window_blocks.yaml", "3:5", "pattern 'bigbird(block=8 window_blocks=2)': 'window_blocks' is 2, must be odd (the query's block in the middle)" },
	{ "summary_too_large.yaml", "3:5", "pattern 'fixed(block=4 summary=5)': 'summary' 5 is larger than 'block' 4" },
	{ "tokens_unsorted.yaml", "3:5", "pattern 'global(tokens=[3 1])': 'tokens' must be strictly increasing: 1 after 3" },
	{ "non_utf8.yaml", "1:1", "yaml syntax error: invalid trailing UTF-8 octet" },
	{ "deep_nesting.yaml", "1:45", "document nested deeper than 32 levels" },
	{ "two_documents.yaml", "4:1", "more than one yaml document" },
	{ "too_many_cells.yaml", "1:1", "the grid has 120000 cells, more than run: max_cells 100000; sweep less or raise max_cells" },
	{ "zero_heads.yaml", "1:29", "'heads' is 0, must be at least 1" },
	{ "shape_not_mapping.yaml", "1:8", "'shape' must be a mapping, not a list" },
	{ "empty_label.yaml", "3:12", "label '' must be non-empty without commas, quotes or newlines" },
	{ "tab_indent.yaml", "2:1", "yaml syntax error: found character that cannot start any token while scanning for the next token" },
	{ "bad_name.yaml", "1:7", "name '../escape' must use only letters, digits, '.', '_' and '-'" },
	{ "run_not_mapping.yaml", "4:6", "'run' must be a mapping, not a scalar" },
	{ "float_for_int.yaml", "1:18", "'seq_len' must be an integer, not '64.5'" },
	/* inputs and .npy files ({dir} stands for the folder of the file) */
	{ "npy_missing.yaml", "4:5", "cannot open '{dir}/npy/missing.npy': No such file or directory" },
	{ "npy_not_npy.yaml", "4:5", "not an .npy file: '{dir}/npy/not_npy.npy' (no \\x93NUMPY magic)" },
	{ "npy_version.yaml", "4:5", "unsupported .npy version 9.0 in '{dir}/npy/version9.npy'; sabench reads 1.0, 2.0 and 3.0" },
	{ "npy_dtype.yaml", "4:5", "unsupported dtype '<f8' in '{dir}/npy/f64.npy'; use float32 or float16 (little-endian)" },
	{ "npy_int8.yaml", "4:5", "unsupported dtype '|i1' in '{dir}/npy/i1.npy'; use float32 or float16 (little-endian)" },
	{ "npy_big_endian.yaml", "4:5", "unsupported dtype '>f4' in '{dir}/npy/big_endian.npy'; use float32 or float16 (little-endian)" },
	{ "npy_int32_q.yaml", "4:5", "unsupported dtype '<i4' in '{dir}/npy/indices.npy'; use float32 or float16 (little-endian)" },
	{ "explicit_bidir_out_of_range.yaml", "3:5", "pattern 'explicit(2 rows)': row 0 has key 70, outside [0, 64) at seq_len 64" },
	{ "explicit_rows_past_seq_len.yaml", "3:5", "pattern 'explicit(3 rows)': 'rows' lists 3 rows; seq_len 2 has only 2 queries" },
	{ "grid_2_65.yaml", "2:1", "the grid has 36893488147419103232 cells, more than run: max_cells 100000; sweep less or raise max_cells" },
	{ "npy_fortran.yaml", "4:5", "'{dir}/npy/fortran.npy' is in Fortran order; save it in C order (numpy.ascontiguousarray)" },
	{ "npy_rank.yaml", "4:5", "'{dir}/npy/rank2.npy' has 2 dimensions; tensors need [batch, heads, n, d] or [heads, n, d]" },
	{ "npy_qk_disagree.yaml", "4:5", "shapes of q and k disagree: '{dir}/npy/q.npy' is [1, 2, 32, 8], '{dir}/npy/k_short.npy' is [1, 1, 16, 8] (batch, n and d must match)" },
	{ "npy_kv_disagree.yaml", "4:5", "shapes of k and v disagree: '{dir}/npy/k.npy' is [1, 1, 32, 8], '{dir}/npy/k_short.npy' is [1, 1, 16, 8] (batch, heads and n must match; v's last dimension is head_dim_v)" },
	{ "npy_dv_disagree.yaml", "5:5", "input 'npy(q.npy)': head_dim_v is 8 in the experiment but 4 in '{dir}/npy/v_narrow.npy'" },
	{ "npy_truncated.yaml", "4:5", "truncated .npy file '{dir}/npy/truncated.npy': 2038 data bytes, its shape needs 2048" },
	{ "npy_header_cut.yaml", "4:5", "truncated .npy file '{dir}/npy/header_cut.npy': the header is cut short" },
	{ "npy_nan.yaml", "4:5", "non-finite value (NaN or Inf) at element 285 of '{dir}/npy/nan.npy'" },
	{ "npy_heads_disagree.yaml", "5:5", "input 'npy(q.npy)': heads is 4 in the experiment but 2 in '{dir}/npy/q.npy'" },
	{ "npy_seq_len_too_long.yaml", "4:5", "input 'npy(q.npy)': seq_len 64 is longer than the 32 tokens of '{dir}/npy/q.npy'" },
	{ "npy_missing_v.yaml", "4:5", "input 'npy' needs parameter 'v'" },
	/* widths an input or a model gives meet the cache types' blocks (#35) */
	{ "npy_width_q8_0.yaml", "4:5", "input 'npy(q.npy)': head_dim 8 is not a multiple of 32, the block of kv_dtype 'q8_0' (from '{dir}/npy/q.npy')" },
	{ "npy_width_q4_0.yaml", "4:5", "input 'npy(q.npy)': head_dim 8 is not a multiple of 32, the block of kv_dtype 'q4_0' (from '{dir}/npy/q.npy')" },
	{ "npy_width_kivi2.yaml", "4:5", "input 'npy(q.npy)': head_dim 8 is not a multiple of 32, the kv_group of kv_dtype 'kivi2' (from '{dir}/npy/q.npy')" },
	{ "npy_width_kivi4.yaml", "4:5", "input 'npy(q.npy)': head_dim 8 is not a multiple of 32, the kv_group of kv_dtype 'kivi4' (from '{dir}/npy/q.npy')" },
	{ "npy_width_swept_dtypes.yaml", "5:5", "input 'npy(q.npy)': head_dim 8 is not a multiple of 32, the block of kv_dtype 'q8_0' (from '{dir}/npy/q.npy')" },
	{ "npy_width_v40_q8_0.yaml", "4:5", "input 'npy(q32.npy)': head_dim_v 40 is not a multiple of 32, the block of kv_dtype 'q8_0' (from '{dir}/npy/v40.npy')" },
	{ "model_q4_0_head_dim.yaml", "4:8", "model 'm': head_dim 40 is not a multiple of 32, the block of kv_dtype 'q4_0'" },
	{ "model_kivi2_head_dim.yaml", "4:8", "model 'm': head_dim 24 is not a multiple of 32, the KIVI group of kv_dtype 'kivi2'" },
	{ "model_head_dim_v_run_dtype.yaml", "4:8", "model 'm': head_dim_v 48 is not a multiple of 32, the block of kv_dtype 'q8_0'" },
	{ "model_named_twice.yaml", "6:12", "model 'm' is named twice; a review names a model by its name" },
	{ "model_without_name.yaml", "4:8", "a model needs 'name', which a review names it by" },
	/* work that grows without bound is refused up front (#35) */
	{ "review_prompt_chunks.yaml", "5:28", "a prompt of 1099511627776 tokens is 1099511627776 chunks of prefill_chunk 1 (model 'm'); time to first token sums at most 16777216 (raise prefill_chunk)" },
	{ "model_seq_len_chunks.yaml", "4:33", "model 'm': seq_len 1073741824 is 67108864 chunks of prefill_chunk 16; time to first token sums at most 16777216 (raise prefill_chunk)" },
	/* ragged batches: a contradicting seq_len; batches told apart by their sequences (#35) */
	{ "lengths_seq_len_contradicts.yaml", "1:47", "seq_len 64 contradicts ragged batch 'lengths(100 300)', whose longest sequence is 300; leave seq_len out of a ragged run" },
	{ "lengths_long_lists_differ.yaml", "6:7", "ragged batch 'lengths(40 sequences #bc032275da9e4c03)' is listed twice" },
	{ "lengths_seeds_differ.yaml", "7:7", "ragged batch 'lognormal(count=4 median=1000 sigma=0.1 min=64 max=4096 seed=1)' is listed twice" },
	{ "npy_key_twice.yaml", "4:5", "bad .npy header in '{dir}/npy/key_twice.npy': 'descr' is given twice" },
	{ "npy_nul_padding.yaml", "4:5", "bad .npy header in '{dir}/npy/nul_padding.npy': it holds a NUL byte" },
	{ "extend_default_above_seq_len.yaml", "1:23", "mode extend takes extend_tokens new tokens, 512 unless set, more than seq_len 256; set extend_tokens" },
	/* the last wave's blocks under hostile input: extend, lengths, caches, head_dim_v, model, review (#35) */
	{ "decode_steps_above.yaml", "1:36", "decode_steps 65 is more than seq_len 64" },
	{ "decode_steps_zero.yaml", "1:50", "'decode_steps' is 0, must be at least 1" },
	{ "extend_swept_above.yaml", "2:9", "extend_tokens 300 is more than seq_len 256" },
	{ "extend_tokens_float.yaml", "1:52", "'extend_tokens' must be an integer, not '1.5'" },
	{ "extend_tokens_negative.yaml", "1:52", "'extend_tokens' is -4, must be at least 1" },
	{ "extend_tokens_string.yaml", "1:52", "'extend_tokens' must be an integer, not 'many'" },
	{ "fp8_head_dim_v_block.yaml", "1:36", "head_dim_v 16 is not a multiple of 32, the block of kv_dtype 'q4_0'" },
	{ "head_dim_v_huge.yaml", "1:34", "'head_dim_v' is 100000, must be at most 4096" },
	{ "head_dim_v_negative.yaml", "1:34", "'head_dim_v' is -8, must be at least 1" },
	{ "head_dim_v_string.yaml", "1:34", "'head_dim_v' must be an integer, not 'wide'" },
	{ "head_dim_v_swept_empty.yaml", "2:21", "sweep 'head_dim_v' is empty" },
	{ "kivi_residual_huge.yaml", "1:66", "'kv_residual' is 100000000000, must be at most 1048576" },
	{ "kv_dtype_list_in_shape.yaml", "1:46", "'kv_dtype' must be a name, not a list" },
	{ "kv_dtype_number.yaml", "1:46", "unknown kv_dtype '8'" },
	{ "kv_group_swept_bad.yaml", "2:9", "kv_group 48 is not 16, 32 or 64 (a KIVI group divides a page of 64 rows)" },
	{ "kv_group_zero.yaml", "1:63", "'kv_group' is 0, must be at least 16" },
	{ "kv_layout_unknown.yaml", "1:47", "unknown kv_layout 'circular'" },
	{ "lengths_both_kinds.yaml", "1:56", "give 'lengths' or 'distribution', not both" },
	{ "lengths_distribution_no_count.yaml", "1:56", "a distribution of lengths needs 'count'" },
	{ "lengths_empty_batch.yaml", "2:19", "'lengths' is empty" },
	{ "lengths_min_above_max.yaml", "1:105", "'max' is 10, must be at least 100" },
	{ "lengths_negative.yaml", "1:57", "'lengths' is -3, must be at least 1" },
	{ "lengths_new_count.yaml", "1:81", "'new' has 3 entries for 2 sequences" },
	{ "lengths_new_zero.yaml", "1:81", "'new' is 0, must be at least 1" },
	{ "lengths_seq_len_swept.yaml", "2:9", "seq_len 40 contradicts ragged batch 'lengths(10 20)', whose longest sequence is 20; leave seq_len out of a ragged run" },
	{ "lengths_sigma_huge.yaml", "1:99", "'sigma' is 50, must be in [0, 10]" },
	{ "lengths_strings.yaml", "1:57", "'lengths' must be an integer, not 'a'" },
	{ "lengths_sweep_scalar.yaml", "2:19", "sweep 'lengths' takes a list of batches (each a list or a mapping), not a number; one batch goes under shape" },
	{ "lengths_twice_listed.yaml", "2:29", "ragged batch 'lengths(10 20)' is listed twice" },
	{ "lengths_unknown_distribution.yaml", "1:71", "'distribution' must be lognormal or uniform, not 'gamma'" },
	{ "lengths_unknown_key.yaml", "1:72", "unknown key 'news' in 'lengths'; did you mean 'new'?" },
	{ "lengths_zero_length.yaml", "1:57", "'lengths' is 0, must be at least 1" },
	{ "mode_list_in_shape.yaml", "1:29", "'mode' must be a name, not a list" },
	{ "mode_unknown.yaml", "1:29", "unknown mode 'extnd'" },
	{ "model_kv_dtype_unknown.yaml", "4:28", "unknown kv_dtype 'q5_k'" },
	{ "model_kv_heads_zero.yaml", "4:28", "'kv_heads' is 0, must be at least 1" },
	{ "model_latent_wider_v.yaml", "4:60", "kv_latent needs head_dim_v 128 within head_dim 64: V is read from the latent's first head_dim_v values" },
	{ "model_layer_count_zero.yaml", "4:35", "'count' is 0, must be at least 1" },
	{ "model_layer_unknown_pattern.yaml", "4:47", "model 'm' names pattern 'window', which the patterns list lacks (use a label from it)" },
	{ "model_layers_empty.yaml", "4:26", "model 'm' needs a non-empty list of layers" },
	{ "model_name_number.yaml", "4:15", "'name' must be a string, not a list" },
	{ "model_no_layers.yaml", "4:8", "model 'm' needs a non-empty list of layers" },
	{ "model_not_mapping.yaml", "4:9", "a model must be a mapping, not a scalar" },
	{ "model_prefill_chunk_zero.yaml", "4:33", "'prefill_chunk' is 0, must be at least 1" },
	{ "model_serving_no_memory.yaml", "4:27", "serving of model 'm' needs 'memory'" },
	{ "model_unknown_key.yaml", "4:18", "unknown key 'layer' in 'model'; did you mean 'layers'?" },
	{ "q8_0_head_dim_swept.yaml", "1:36", "head_dim 80 is not a multiple of 32, the block of kv_dtype 'q8_0'" },
	{ "review_context_below_prompt.yaml", "5:41", "'context' is 32 tokens, fewer than the prompt's 64: the cache a decode step reads holds the prompt" },
	{ "review_error_negative.yaml", "5:39", "'error' is -0.5, must be in [0, 1e+09]" },
	{ "review_extrapolate_word.yaml", "5:45", "'extrapolate' must be true or false, not 'perhaps'" },
	{ "review_kv_memory_negative.yaml", "5:43", "'kv_memory' must be a size like '2 GiB', not '-1 GiB'" },
	{ "review_no_model.yaml", "5:9", "a review needs 'model', a model of the model block (or an e2e block, whose model it reads)" },
	/* the e2e block and a review of its real model (#38) */
	{ "e2e_unknown_pattern.yaml", "7:23", "e2e design names pattern 'window8', which the patterns list lacks (use a label from it)" },
	{ "e2e_bad_layers.yaml", "7:38", "'layers' must be global, all or a list of layer indices like [5, 11], not 'local'" },
	{ "e2e_layer_twice.yaml", "7:45", "layer 1 is listed twice" },
	{ "e2e_no_gguf.yaml", "4:6", "the e2e block needs 'gguf'" },
	{ "e2e_design_twice.yaml", "7:31", "e2e design 'dense' on layers global is listed twice" },
	{ "e2e_score_last_small.yaml", "4:79", "'score_last' is 8, must be at least 16" },
	{ "review_e2e_unknown_inputs.yaml", "5:43", "review names inputs 'needles', which the inputs list lacks" },
	{ "review_kl_without_e2e.yaml", "5:36", "'kl' is a limit on the e2e block's real model; a review of model 'm' reads its cells" },
	{ "review_not_mapping.yaml", "5:9", "'review' must be a mapping, not a scalar" },
	{ "review_prompt_huge.yaml", "5:28", "'prompt' must be an integer, not '99999999999999999999'" },
	{ "review_prompt_zero.yaml", "5:28", "'prompt' is 0, must be at least 1" },
	{ "review_tenants_zero.yaml", "5:41", "'tenants' is 0, must be at least 1" },
	{ "review_tpot_string.yaml", "5:40", "'tpot_s' must be a number, not 'fast'" },
	{ "review_ttft_negative.yaml", "5:40", "'ttft_s' is -1, must be in [1e-09, 1e+09]" },
	{ "review_unknown_key.yaml", "5:32", "unknown key 'latency' in 'review'" },
	{ "review_without_model_block.yaml", "4:17", "review names model 'm', which the model block lacks" },
	/* a real model's layer as inputs (#37) */
	{ "model_input_cut_file.yaml", "4:5", "bad GGUF file '{dir}/../../build/fixtures/cut.gguf': tensor 'token_embd.weight' (33792 bytes at offset 0) runs past the end of the file" },
	{ "model_input_heads_contradict.yaml", "5:5", "input 'model(tiny.gguf)': heads is 8 in the experiment but 2 in '{dir}/../../build/fixtures/tiny.gguf'" },
	{ "model_input_layer_past.yaml", "4:5", "layer 5 is past the 2 layers of '{dir}/../../build/fixtures/tiny.gguf' (0 to 1)" },
	{ "model_input_missing_gguf.yaml", "4:5", "cannot open '{dir}/model/none.gguf': No such file or directory (`make model` fetches Gemma 3 270M into models/)" },
	{ "model_input_negative_layer.yaml", "4:80", "'layer' is -1, must be at least 0" },
	{ "model_input_no_text.yaml", "4:5", "input 'model' needs parameter 'text'" },
	{ "model_input_not_utf8.yaml", "4:5", "text '{dir}/model/latin1.txt' is not UTF-8 (at byte 3)" },
	{ "model_input_past_context.yaml", "4:5", "input 'model(tiny.gguf layer=1)': seq_len 128 is longer than the context of 64 tokens of '{dir}/../../build/fixtures/tiny.gguf'" },
	{ "model_input_past_text.yaml", "4:5", "input 'model(tiny.gguf layer=1)': seq_len 1000 is longer than the 34 tokens of text '{dir}/model/text.txt'" },
	{ "model_input_unknown_arch.yaml", "4:5", "'{dir}/../../build/fixtures/mamba.gguf' is a 'mamba' model; sabench runs gemma3 and llama" },
	{ "csr_out_of_range.yaml", "4:5", "pattern 'csr(indptr=indptr.npy indices=indices_oob.npy)': 'indices' holds key 40 in row 31, outside [0, 32)" },
	{ "csr_unsorted.yaml", "4:5", "pattern 'csr(indptr=indptr.npy indices=indices_unsorted.npy)': 'indices' of row 2 are not strictly increasing: 0 after 1" },
	{ "csr_not_monotone.yaml", "4:5", "pattern 'csr(indptr=indptr_not_monotone.npy indices=indices.npy)': 'indptr' is not monotone: row 11 starts at 38 after 42" },
	{ "csr_float_indices.yaml", "4:44", "unsupported dtype '<f4' in '{dir}/npy/indices_float.npy'; use int64 or int32 (little-endian)" },
	{ "csr_seq_len_too_long.yaml", "4:5", "pattern 'csr(indptr=indptr.npy indices=indices.npy)': 'indptr' has 32 rows; seq_len 64 is longer" },
	{ "unknown_input.yaml", "3:20", "unknown input 'synthetc'; did you mean 'synthetic'?" },
	{ "unknown_head_type.yaml", "4:37", "unknown value 'retreival' in 'heads'; did you mean 'retrieval'?" },
	{ "synthetic_small_head_dim.yaml", "4:10", "input 'synthetic' needs head_dim of at least 16, not 4" },
	{ "inputs_empty.yaml", "3:9", "'inputs' is empty" },
	{ "input_label_twice.yaml", "3:21", "input label 'synthetic' is used twice; give one a label" },
	{ "synthetic_sink_mass.yaml", "4:28", "'sink_mass' is 1.5, must be in [0, 0.95]" },
	{ "quality_rows_zero.yaml", "5:17", "'rows' is 0, must be at least 1" },
	{ "interleave_unknown.yaml", "5:19", "unknown interleave 'across'; use within_groups or across_groups" },
	{ "horizontal_causal.yaml", "5:5", "pattern 'ds_fixed(block=4 horizontal_global_attention=true)': 'horizontal_global_attention' needs causal: false (DeepSpeed allows it only bidirectionally)" },
};

/* msg with every "{dir}" replaced by dir, into buf. */
static void with_dir(const char *msg, const char *dir, char *buf, size_t len)
{
	size_t off = 0;

	while (*msg && off + 1 < len) {
		if (!strncmp(msg, "{dir}", 5)) {
			off += (size_t)snprintf(buf + off, len - off, "%s", dir);
			msg += 5;
		} else {
			buf[off++] = *msg++;
		}
	}
	buf[off < len ? off : len - 1] = 0;
}

static void expected(const struct bad_case *c, const char *path, char *buf,
		     size_t len)
{
	char dir[4096], msg[4096];
	const char *slash = strrchr(path, '/');

	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	with_dir(c->message, dir, msg, sizeof msg);
	snprintf(buf, len, "%s:%s: %s", path, c->where, msg);
}

Test(experiment_bad, each_class_has_its_message)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
		char path[4096], want[8192];
		struct experiment x;
		struct err e;
		snprintf(path, sizeof path, "%s/tests/bad/%s",
			 getenv("SABENCH_ROOT") ? getenv("SABENCH_ROOT") : ".", bad_cases[i].file);
		expected(&bad_cases[i], path, want, sizeof want);
		cr_assert_eq(exp_load(path, &x, &e), -1, "%s loaded", bad_cases[i].file);
		cr_assert_str_eq(e.msg, want);
	}
}

Test(experiment_bad, validate_exits_2_with_the_message)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
		char path[4096], want[8192], line[8400];
		char *err = NULL;
		snprintf(path, sizeof path, "%s", root_path("tests/bad/"));
		strncat(path, bad_cases[i].file, sizeof path - strlen(path) - 1);
		expected(&bad_cases[i], path, want, sizeof want);
		snprintf(line, sizeof line, "sabench: %s\n", want);
		char *argv[] = { "sabench", "validate", path, NULL };
		cr_assert_eq(run_bin(argv, NULL, &err), 2, "%s", bad_cases[i].file);
		cr_assert_str_eq(err, line);
		free(err);
	}
}

Test(experiment_bad, at_least_forty_classes)
{
	cr_assert_geq(sizeof bad_cases / sizeof *bad_cases + 2, 40,
		      "the corpus, the missing file and the huge file: 40 classes or more");
}

Test(experiment_bad, huge_file)
{
	char path[256], want[400];
	char *err = NULL;
	FILE *f;

	snprintf(path, sizeof path, "%s/huge.yaml", temp_dir());
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("shape: {seq_len: 64}\npatterns: [dense]\nkernels: [naive]\n", f);
	for (int i = 0; i < 120000; i++)
		fputs("# padding\n", f);
	fclose(f);
	char *argv[] = { "sabench", "validate", path, NULL };
	cr_assert_eq(run_bin(argv, NULL, &err), 2);
	snprintf(want, sizeof want, "sabench: '%s' is larger than 1048576 bytes\n", path);
	cr_assert_str_eq(err, want);
	free(err);
}

Test(experiment_bad, missing_file)
{
	char *err = NULL;
	char *argv[] = { "sabench", "run", "/nonexistent/x.yaml", NULL };

	cr_assert_eq(run_bin(argv, NULL, &err), 2);
	cr_assert_str_eq(err, "sabench: cannot open '/nonexistent/x.yaml': No such file or directory\n");
	free(err);
}

Test(experiment, good_file_resolves)
{
	const char *dir = temp_dir();
	char path[256];
	struct experiment x;
	struct plan pl;
	struct err e;

	snprintf(path, sizeof path, "%s/good.yaml", dir);
	write_text(path,
		   "description: two patterns\n"
		   "shape: {heads: 8, kv_heads: 2, head_dim: 32}\n"
		   "sweep: {seq_len: [64, 128], threads: [1, 2]}\n"
		   "patterns:\n"
		   "  - dense\n"
		   "  - window: {size: [8, 16]}\n"
		   "  - label: sinks\n"
		   "    sink_window: {sinks: 2, size: [6, 10]}\n"
		   "kernels: [naive, masked]\n"
		   "run: {repeats: 3, min_time_ms: 0, seed: 7}\n");
	cr_assert_eq(exp_load(path, &x, &e), 0, "%s", e.msg);
	cr_assert_str_eq(x.name, "good");
	cr_assert_eq(x.n_pat, 5);
	cr_assert_str_eq(x.pat[1].label, "window(size=8)");
	cr_assert_str_eq(x.pat[2].label, "window(size=16)");
	cr_assert_str_eq(x.pat[3].label, "sinks(size=6)");
	cr_assert_eq(x.n_kern, 2);
	cr_assert_eq(x.run.repeats, 3);
	cr_assert_eq(x.run.seed, 7);
	cr_assert_eq(x.axis[EXP_HEADS].v[0], 8);
	cr_assert_eq(plan_build(&x, &pl, &e), 0);
	cr_assert_eq(pl.n, 2 * 2 * 5 * 2);
	cr_assert_eq(pl.n_groups, 2 * 2 * 5);
	cr_assert_str_eq(pl.cell[0].key, "dense/naive/n64/d32/b1/h8/kv2/t1/causal/f32");
	plan_free(&pl);
	exp_free(&x);
}
