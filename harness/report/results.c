/* results.c - results.csv and samples.csv: the column table (names, units,
 * meanings; one source for the header, the rows and `sabench columns`),
 * creating, resuming or restarting a results folder, and appending rows. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvline.h"
#include "lock.h"
#include "resume.h"
#include "results.h"

enum col_kind {
	COL_STR,                /* const char * field */
	COL_LL,                 /* long long field */
	COL_NUM,                /* double, %.9g */
	COL_BYTES,              /* double holding a whole count, %.0f */
	COL_OPT,                /* double, %.4g; empty when negative */
};

struct column {
	const char *name;       /* header name: the contract */
	enum col_kind kind;     /* how to print it */
	size_t off;             /* field in struct result_row */
	int timed;              /* empty when the cell was not timed */
	const char *unit;       /* for the docs */
	const char *doc;        /* for the docs */
	enum res_col_check check; /* what a value read back must be */
};

#define F(x) offsetof(struct result_row, x)

static const struct column columns[] = {
	{ "experiment", COL_STR, F(experiment), 0, "", "experiment name", CHK_NAME },
	{ "cell", COL_STR, F(cell), 0, "", "stable cell key: label/kernel/n/d/b/h/kv/t/causality/dtype, then /dv when head_dim_v differs from head_dim", CHK_NAME },
	{ "pattern", COL_STR, F(pattern), 0, "", "pattern kind", CHK_NAME },
	{ "pattern_label", COL_STR, F(pattern_label), 0, "", "pattern variant, e.g. window(size=256)", CHK_NAME },
	{ "kernel", COL_STR, F(kernel), 0, "", "kernel variant", CHK_NAME },
	{ "inputs", COL_STR, F(inputs), 0, "", "label of the inputs (gaussian, synthetic, npy, ...)", CHK_NAME },
	{ "score", COL_STR, F(score), 0, "", "score function: plain, scale(value=...), alibi, softcap(cap=...), relative_bias(...)", CHK_NAME },
	{ "mode", COL_STR, F(mode), 0, "", "prefill (n_q = seq_len), decode (n_q = decode_steps, one by one) or extend (n_q = extend_tokens, one chunk)", CHK_MODE },
	{ "causal", COL_LL, F(causal), 0, "0/1", "1: keys j <= i only", CHK_BOOL },
	{ "batch", COL_LL, F(batch), 0, "", "sequences", CHK_POSITIVE },
	{ "heads", COL_LL, F(heads), 0, "", "query heads", CHK_POSITIVE },
	{ "kv_heads", COL_LL, F(kv_heads), 0, "", "K/V heads (GQA)", CHK_POSITIVE },
	{ "seq_len", COL_LL, F(seq_len), 0, "tokens", "keys n", CHK_POSITIVE },
	{ "n_q", COL_LL, F(n_q), 0, "tokens", "query rows", CHK_POSITIVE },
	{ "head_dim", COL_LL, F(head_dim), 0, "", "d: the width of q . k", CHK_POSITIVE },
	{ "head_dim_v", COL_LL, F(head_dim_v), 0, "", "dv: the width of V and of the output (MLA: 128 against 192; = head_dim unless set)", CHK_POSITIVE },
	{ "dtype", COL_STR, F(dtype), 0, "", "element type", CHK_DTYPE },
	{ "threads", COL_LL, F(threads), 0, "", "OpenMP threads", CHK_POSITIVE },
	{ "kv_layout", COL_STR, F(kv_layout), 0, "", "decode: the cache layout that ran (full, ring, sink_ring, paged); empty in prefill", CHK_LAYOUT },
	{ "kv_dtype", COL_STR, F(kv_dtype), 0, "", "decode: cache type (f32, f16, bf16, q8_0, q4_0, kivi2, kivi4, fp8_e4m3, fp8_e5m2); empty in prefill", CHK_DTYPE },
	{ "decode_steps", COL_LL, F(decode_steps), 0, "tokens", "decode: tokens appended and attended per timed run; 0 in prefill and extend", CHK_ANY },
	{ "extend_tokens", COL_LL, F(extend_tokens), 0, "tokens", "extend: tokens appended as one chunk and attended over the cache and each other per timed run; 0 in prefill and decode", CHK_ANY },
	{ "ragged", COL_STR, F(ragged), 0, "", "a ragged batch (lengths:): its label, e.g. lengths(512 8192 32768 new 1 1 512); then batch is its sequences, seq_len the longest, n_q and extend_tokens its new tokens; empty for a uniform batch", CHK_RAGGED },
	{ "kv_layout_note", COL_STR, F(kv_note), 0, "", "why a bounded layout was not used, or empty", CHK_ANY },
	{ "isa", COL_STR, F(isa), 0, "", "instruction set of the kernel's micro-kernels: amx, avx512bf16 (bf16 cells of tiled, ranges and onednn), avx512, avx2, portable, or compiler (plain C)", CHK_NAME },
	{ "nnz", COL_LL, F(nnz), 0, "pairs", "|G| summed over rows, per head", CHK_ANY },
	{ "density", COL_NUM, F(density), 0, "", "nnz / nnz of dense with the same causality", CHK_FRACTION },
	{ "row_min", COL_LL, F(row_min), 0, "keys", "smallest |G_i|", CHK_ANY },
	{ "row_max", COL_LL, F(row_max), 0, "keys", "largest |G_i|", CHK_ANY },
	{ "row_mean", COL_NUM, F(row_mean), 0, "keys", "mean |G_i|", CHK_ANY },
	{ "empty_rows", COL_LL, F(empty_rows), 0, "rows", "rows with G_i empty (output zeros)", CHK_ANY },
	{ "flops", COL_NUM, F(flops), 0, "FLOP", "useful: (2 head_dim + 2 head_dim_v) nnz batch heads (4 d nnz batch heads when equal), plus the score function's", CHK_ANY },
	{ "flops_exec", COL_NUM, F(flops_exec), 0, "FLOP", "what this kernel executes", CHK_ANY },
	{ "bytes_min", COL_BYTES, F(bytes_min), 0, "B", "compulsory: Q, O, each referenced K/V row once", CHK_ANY },
	{ "bytes_gather", COL_BYTES, F(bytes_gather), 0, "B", "no reuse: Q, O, k_j and v_j per pair", CHK_ANY },
	{ "kv_cache_bytes", COL_BYTES, F(kv_cache_bytes), 0, "B", "K/V kept to decode the next token exactly", CHK_ANY },
	{ "score_bytes", COL_BYTES, F(score_bytes), 0, "B", "largest score buffer the kernel materialises", CHK_ANY },
	{ "pattern_bytes", COL_BYTES, F(pattern_bytes), 0, "B", "storage of the compiled G-set", CHK_ANY },
	{ "workspace_bytes", COL_BYTES, F(workspace_bytes), 0, "B", "kernel workspace", CHK_ANY },
	{ "reps", COL_LL, F(reps), 1, "", "timed repetitions", CHK_ANY },
	{ "time_min_s", COL_NUM, F(time_min_s), 1, "s", "fastest repetition", CHK_ANY },
	{ "time_median_s", COL_NUM, F(time_median_s), 1, "s", "median repetition: the headline", CHK_ANY },
	{ "time_mean_s", COL_NUM, F(time_mean_s), 1, "s", "mean repetition", CHK_ANY },
	{ "time_p90_s", COL_NUM, F(time_p90_s), 1, "s", "90th percentile", CHK_ANY },
	{ "time_max_s", COL_NUM, F(time_max_s), 1, "s", "slowest repetition", CHK_ANY },
	{ "time_cv", COL_NUM, F(time_cv), 1, "", "standard deviation / mean", CHK_ANY },
	{ "select_s", COL_OPT, F(select_s), 1, "s", "content-selected patterns: median time of the selection step (G from Q and K, and the kernel's views of it) within the timed runs; time_* include it", CHK_ANY },
	{ "select_flops", COL_OPT, F(select_flops), 0, "FLOP", "content-selected patterns: FLOPs of one selection (the estimate's dots, exps and pooling)", CHK_ANY },
	{ "select_bytes", COL_OPT, F(select_bytes), 0, "B", "content-selected patterns: Q, K and metadata bytes one selection reads", CHK_ANY },
	{ "gflops", COL_NUM, F(gflops), 1, "GFLOP/s", "flops / time_median_s", CHK_ANY },
	{ "gflops_exec", COL_NUM, F(gflops_exec), 1, "GFLOP/s", "flops_exec / time_median_s", CHK_ANY },
	{ "gbs", COL_NUM, F(gbs), 1, "GB/s", "bytes_min / time_median_s", CHK_ANY },
	{ "intensity", COL_NUM, F(intensity), 0, "FLOP/B", "flops / bytes_min", CHK_ANY },
	{ "time_per_token_s", COL_OPT, F(time_per_token_s), 1, "s", "decode, extend: time_median_s / (decode_steps or extend_tokens)", CHK_ANY },
	{ "time_per_chunk_s", COL_OPT, F(time_per_chunk_s), 1, "s", "extend: the chunk's time, time_median_s", CHK_ANY },
	{ "tokens_per_s", COL_OPT, F(tokens_per_s), 1, "tokens/s", "decode, extend: batch x tokens / time_median_s", CHK_ANY },
	{ "keys_read", COL_OPT, F(keys_read), 0, "rows", "decode, extend: K/V rows a timed run reads from the cache, one sequence (query heads sharing a K/V head and a G read it once)", CHK_ANY },
	{ "kv_bytes_per_token", COL_OPT, F(kv_bytes_per_token), 0, "B", "decode, extend: K/V bytes read per token, one sequence: 2 x keys_read x stored row bytes / tokens", CHK_ANY },
	{ "time_one_by_one_s", COL_OPT, F(time_one_by_one_s), 1, "s", "ragged: the sum of seq_time_s, each sequence run alone by the same kernel after the batch's rounds: the batch's gain is this over time_median_s", CHK_ANY },
	{ "seq_time_s", COL_STR, F(seq_time), 1, "s", "ragged: each sequence's median time alone, in the batch's order, space-separated", CHK_TIMES },
	{ "kv_gbs", COL_OPT, F(kv_gbs), 1, "GB/s", "decode: K/V bytes read / time_median_s", CHK_ANY },
	{ "probe_gbs", COL_OPT, F(probe_gbs), 1, "GB/s", "decode: STREAM read over a buffer of the cache's K/V size, median of runs in the same timing rounds as the kernel", CHK_ANY },
	{ "pct_bw", COL_OPT, F(pct_bw), 1, "%", "decode: kv_gbs / probe_gbs, the read bandwidth the kernel reached of what the host gave in the same rounds", CHK_ANY },
	{ "pct_peak", COL_OPT, F(pct_peak), 1, "%", "gflops over the peak `sabench machine` measured for this thread count and the path the cell ran (fp32 FMA, or the bf16 dot products of amx and avx512bf16)", CHK_ANY },
	{ "peak_rss_bytes", COL_BYTES, F(peak_rss_bytes), 1, "B", "resident peak: inputs, G-set, outputs and this kernel's workspace", CHK_ANY },
	{ "max_abs_err", COL_NUM, F(max_abs_err), 1, "", "largest abs(out - oracle) over checked rows", CHK_ANY },
	{ "nmse", COL_NUM, F(nmse), 1, "", "sum (out - oracle)^2 / sum oracle^2", CHK_ANY },
	{ "verified", COL_STR, F(verified), 1, "", "yes / no / empty when not checked", CHK_VERIFIED },
	{ "recall_mean", COL_OPT, F(recall_mean), 0, "", "mean over measured rows of the dense softmax mass inside G_i (same in every kernel row of a group)", CHK_FRACTION },
	{ "recall_min", COL_OPT, F(recall_min), 0, "", "smallest row recall", CHK_FRACTION },
	{ "recall_p10", COL_OPT, F(recall_p10), 0, "", "10th percentile of row recall", CHK_FRACTION },
	{ "recall_best_mean", COL_OPT, F(recall_best_mean), 0, "", "mean of the |G_i| largest dense weights: the most a G of the same size keeps", CHK_FRACTION },
	{ "recall_efficiency", COL_OPT, F(recall_efficiency), 0, "", "recall_mean / recall_best_mean", CHK_ANY },
	{ "out_err_mean", COL_OPT, F(out_err_mean), 0, "", "mean ||o_G - o_dense|| / ||o_dense|| over measured rows, both on f32 K/V", CHK_ANY },
	{ "out_err_max", COL_OPT, F(out_err_max), 0, "", "largest row output error", CHK_ANY },
	{ "kv_recall_mean", COL_OPT, F(kv_recall_mean), 0, "", "decode, kv_dtype not f32: recall_mean under the scores of the keys the cache holds", CHK_FRACTION },
	{ "kv_err_dense_mean", COL_OPT, F(kv_err_dense_mean), 0, "", "decode: mean ||o_dense(cache's K/V) - o_dense(f32 K/V)|| / ||o_dense(f32)||: the cache type alone, against dense f32", CHK_ANY },
	{ "kv_err_mean", COL_OPT, F(kv_err_mean), 0, "", "decode: mean ||o_G(cache's K/V) - o_dense(f32 K/V)|| / ||o_dense(f32)||: the type and G together, against dense f32", CHK_ANY },
	{ "quality_rows", COL_LL, F(quality_rows), 0, "rows", "rows measured (all heads and sequences); 0: quality not measured", CHK_ANY },
	{ "ipc", COL_OPT, F(ipc), 1, "", "PAPI_TOT_INS / PAPI_TOT_CYC, when both were counted", CHK_ANY },
	{ "flops_hw", COL_OPT, F(flops_hw), 1, "FLOP", "FP operations the hardware counted (PAPI_SP_OPS, PAPI_FP_OPS or RETIRED_SSE_AVX_FLOPS)", CHK_ANY },
	{ "flops_hw_ratio", COL_OPT, F(flops_hw_ratio), 1, "", "flops_hw / flops_exec: the model checked against the hardware", CHK_ANY },
	{ "dram_bytes_hw", COL_OPT, F(dram_bytes_hw), 1, "B", "last-level-cache misses x 64 bytes", CHK_ANY },
	{ "intensity_hw", COL_OPT, F(intensity_hw), 1, "FLOP/B", "flops_hw / dram_bytes_hw", CHK_ANY },
};

#undef F

static const int n_columns = (int)(sizeof columns / sizeof columns[0]);

void res_csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void print_value(FILE *f, const struct column *c,
			const struct result_row *row)
{
	const char *p = (const char *)row + c->off;

	if (c->timed && !row->timed)
		return;
	switch (c->kind) {
	case COL_STR:
		res_csv_field(f, *(const char *const *)p);
		break;
	case COL_LL:
		fprintf(f, "%lld", *(const long long *)p);
		break;
	case COL_NUM:
		fprintf(f, "%.9g", *(const double *)p);
		break;
	case COL_BYTES:
		fprintf(f, "%.0f", *(const double *)p);
		break;
	case COL_OPT:
		if (*(const double *)p >= 0)
			fprintf(f, "%.4g", *(const double *)p);
		break;
	}
}

/* Writes the results.csv header for the counters in r. */
static void write_header(FILE *f, const struct results *r)
{
	for (int i = 0; i < n_columns; i++)
		fprintf(f, "%s%s", i ? "," : "", columns[i].name);
	for (int i = 0; i < r->n_ctr; i++)
		fprintf(f, ",ctr_%s", r->ctr_names[i]);
	fputs(",status\n", f);
}

static void write_samples_header(FILE *f, const struct results *r)
{
	fputs("experiment,cell,kernel,rep,round,time_s", f);
	for (int i = 0; i < r->n_ctr; i++)
		fprintf(f, ",ctr_%s", r->ctr_names[i]);
	for (int i = 0; i < r->n_ctr; i++)
		fprintf(f, ",ctr_%s_per_thread", r->ctr_names[i]);
	fputc('\n', f);
}

/* quality.csv's columns, in order; a line's key (resume.h's quality_key)
 * is its group (every axis its cells vary but kernel and threads) and
 * head. */
static const struct qcolumn {
	const char *name;
	struct res_col_info info;
} qcolumns[] = {
	{ "experiment", { RES_COL_TEXT, 0, CHK_NAME } },
	{ "inputs", { RES_COL_TEXT, 0, CHK_NAME } },
	{ "pattern", { RES_COL_TEXT, 0, CHK_NAME } },
	{ "pattern_label", { RES_COL_TEXT, 0, CHK_NAME } },
	{ "mode", { RES_COL_TEXT, 0, CHK_MODE } },
	{ "seq_len", { RES_COL_INT, 0, CHK_POSITIVE } },
	{ "n_q", { RES_COL_INT, 0, CHK_POSITIVE } },
	{ "head_dim", { RES_COL_INT, 0, CHK_POSITIVE } },
	{ "batch", { RES_COL_INT, 0, CHK_POSITIVE } },
	{ "heads", { RES_COL_INT, 0, CHK_POSITIVE } },
	{ "kv_heads", { RES_COL_INT, 0, CHK_POSITIVE } },
	{ "causal", { RES_COL_INT, 0, CHK_BOOL } },
	{ "head", { RES_COL_INT, 0, CHK_ANY } },
	{ "head_type", { RES_COL_TEXT, 1, CHK_NAME } },
	{ "density", { RES_COL_NUM, 0, CHK_FRACTION } },
	{ "recall_mean", { RES_COL_NUM, 0, CHK_FRACTION } },
	{ "recall_min", { RES_COL_NUM, 0, CHK_FRACTION } },
	{ "recall_p10", { RES_COL_NUM, 0, CHK_FRACTION } },
	{ "recall_best_mean", { RES_COL_NUM, 0, CHK_FRACTION } },
	{ "recall_efficiency", { RES_COL_NUM, 0, CHK_ANY } },
	{ "out_err_mean", { RES_COL_NUM, 0, CHK_ANY } },
	{ "out_err_max", { RES_COL_NUM, 0, CHK_ANY } },
	{ "quality_rows", { RES_COL_INT, 0, CHK_ANY } },
	{ "score", { RES_COL_TEXT, 0, CHK_NAME } },
	{ "kv_dtype", { RES_COL_TEXT, 1, CHK_DTYPE } },
	{ "kv_recall_mean", { RES_COL_NUM, 1, CHK_FRACTION } },
	{ "kv_err_dense_mean", { RES_COL_NUM, 1, CHK_ANY } },
	{ "kv_err_mean", { RES_COL_NUM, 1, CHK_ANY } },
	{ "group", { RES_COL_TEXT, 0, CHK_NAME } },
};

/* quality.csv's header line, made once from qcolumns. */
static const char *quality_header_text(void)
{
	static char header[1024];

	if (!header[0]) {
		for (size_t i = 0; i < sizeof qcolumns / sizeof *qcolumns; i++) {
			strcat(header, i ? "," : "");
			strcat(header, qcolumns[i].name);
		}
		strcat(header, "\n");
	}
	return header;
}

int res_quality_column_info(const char *name, struct res_col_info *info)
{
	for (size_t i = 0; i < sizeof qcolumns / sizeof *qcolumns; i++)
		if (!strcmp(qcolumns[i].name, name)) {
			*info = qcolumns[i].info;
			return 0;
		}
	return -1;
}

const char *res_quality_column_name(int i)
{
	return i >= 0 && (size_t)i < sizeof qcolumns / sizeof *qcolumns ? qcolumns[i].name : NULL;
}

/* One quality.csv line into f. */
static void print_quality(FILE *f, const struct quality_line *q)
{
	const char *str[] = { q->experiment, q->inputs, q->pattern, q->pattern_label, q->mode };

	for (size_t i = 0; i < sizeof str / sizeof *str; i++) {
		res_csv_field(f, str[i]);
		fputc(',', f);
	}
	fprintf(f, "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,", q->seq_len, q->n_q,
		q->head_dim, q->batch, q->heads, q->kv_heads, q->causal, q->head);
	res_csv_field(f, q->head_type);
	fprintf(f, ",%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%lld,", q->density,
		q->recall_mean, q->recall_min, q->recall_p10, q->recall_best_mean,
		q->recall_efficiency, q->out_err_mean, q->out_err_max, q->quality_rows);
	res_csv_field(f, q->score);
	fputc(',', f);
	res_csv_field(f, q->kv_dtype ? q->kv_dtype : "");
	for (int i = 0; i < 3; i++) {
		double m = i == 0 ? q->kv_recall_mean : i == 1 ? q->kv_err_dense_mean : q->kv_err_mean;
		if (m >= 0)
			fprintf(f, ",%.9g", m);
		else
			fputc(',', f);
	}
	fputc(',', f);
	res_csv_field(f, q->group ? q->group : "");
	fputc('\n', f);
}

int res_write_quality(struct results *r, const struct quality_line *q,
		      struct err *e)
{
	char *line = NULL, *copy, *field[32], key[4200];
	size_t len = 0;
	FILE *mem = open_memstream(&line, &len);
	int rc = 0;

	if (!mem)
		return err_set(e, "out of memory writing quality.csv");
	print_quality(mem, q);
	if (fclose(mem) || !(copy = strdup(line))) {
		free(line);
		return err_set(e, "out of memory writing quality.csv");
	}
	csv_split(copy, field, 32);
	quality_key(quality_header_text(), field, key, sizeof key);
	free(copy);
	if (keyset_has(&r->qdone, key)) {
		free(line);
		return 0;               /* measured by the run this one resumes */
	}
	fputs(line, r->quality);
	free(line);
	if (fflush(r->quality) || ferror(r->quality)) {
		int err_no = errno;
		clearerr(r->quality);
		if (ftruncate(fileno(r->quality), r->quality_mark) == 0)
			fseek(r->quality, r->quality_mark, SEEK_SET);
		rc = err_set(e, "cannot write to '%s/quality.csv': %s", r->dir, strerror(err_no));
	} else {
		r->quality_mark = ftell(r->quality);
	}
	return rc;
}

/* Cuts both files back to their last whole row after a failed write. */
static int write_failed(struct results *r, const char *file, int err_no,
			struct err *e)
{
	clearerr(r->csv);
	clearerr(r->samples);
	if (ftruncate(fileno(r->csv), r->csv_mark) == 0)
		fseek(r->csv, r->csv_mark, SEEK_SET);
	if (ftruncate(fileno(r->samples), r->samples_mark) == 0)
		fseek(r->samples, r->samples_mark, SEEK_SET);
	return err_set(e, "cannot write to '%s/%s': %s", r->dir, file, strerror(err_no));
}

int res_write_row(struct results *r, const struct result_row *row,
		  struct err *e)
{
	FILE *f = r->csv;

	for (int i = 0; i < n_columns; i++) {
		if (i)
			fputc(',', f);
		print_value(f, &columns[i], row);
	}
	for (int i = 0; i < row->n_ctr; i++) {
		fputc(',', f);
		if (row->timed && row->ctr_ok[i])
			fprintf(f, "%lld", row->ctr[i]);
	}
	fputc(',', f);
	res_csv_field(f, row->status);
	fputc('\n', f);
	/* samples first: a row in results.csv means its samples are whole */
	if (fflush(r->samples) || ferror(r->samples))
		return write_failed(r, "samples.csv", errno, e);
	if (fflush(f) || ferror(f))
		return write_failed(r, "results.csv", errno, e);
	r->csv_mark = ftell(f);
	r->samples_mark = ftell(r->samples);
	return 0;
}

int res_write_sample(struct results *r, const char *experiment,
		     const char *cell, const char *kernel, int rep,
		     unsigned long long round, double seconds,
		     const struct ctr_set *cs, struct err *e)
{
	FILE *f = r->samples;

	res_csv_field(f, experiment);
	fputc(',', f);
	res_csv_field(f, cell);
	fputc(',', f);
	res_csv_field(f, kernel);
	fprintf(f, ",%d,%llu,%.9g", rep, round, seconds);
	for (int i = 0; i < r->n_ctr; i++) {
		fputc(',', f);
		if (cs->ev[i].counted)
			fprintf(f, "%lld", cs->total[i]);
	}
	for (int i = 0, k = 0; i < r->n_ctr; i++) {
		fputc(',', f);
		if (cs->ev[i].sde || !cs->ev[i].counted)
			continue;
		for (int t = 0; t < cs->threads; t++)
			fprintf(f, "%s%lld", t ? ";" : "", cs->hw[t][k]);
		k++;
	}
	fputc('\n', f);
	if (ferror(f))
		return write_failed(r, "samples.csv", errno, e);
	return 0;
}

/* ---- opening a folder ---- */

int res_make_dirs(const char *dir, struct err *e)
{
	char path[4096];
	size_t len = strlen(dir);

	if (len >= sizeof path)
		return err_set(e, "results folder name too long: '%s'", dir);
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0777) && errno != EEXIST)
			return err_set(e, "cannot create '%s': %s", path, strerror(errno));
		*p = '/';
	}
	if (mkdir(path, 0777) && errno != EEXIST)
		return err_set(e, "cannot create '%s': %s", path, strerror(errno));
	{
		struct stat st;
		if (stat(path, &st) || !S_ISDIR(st.st_mode))
			return err_set(e, "cannot create '%s': a file of that name is in the way", path);
	}
	return 0;
}

static FILE *open_in(const struct results *r, const char *name,
		     const char *mode, struct err *e)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", r->dir, name);
	f = fopen(path, mode);
	if (!f)
		err_set(e, "cannot open '%s': %s", path, strerror(errno));
	return f;
}

static int exists(const char *dir, const char *name)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* A header as this run writes it, into buf. */
static int header_text(const struct results *r, void (*write)(FILE *, const struct results *),
		       char *buf, size_t len)
{
	FILE *mem = fmemopen(buf, len, "w");

	if (!mem)
		return -1;
	write(mem, r);
	return fclose(mem);
}

/* Resume: the folder's files repaired (resume.c), and a note of what was
 * dropped. */
static int repair(struct results *r, const struct quality_check *check, struct err *e)
{
	static char csv_header[65536], samples_header[65536];
	struct repair_report rep;
	size_t at = strlen(r->note);

	if (header_text(r, write_header, csv_header, sizeof csv_header) ||
	    header_text(r, write_samples_header, samples_header, sizeof samples_header))
		return err_set(e, "out of memory");
	if (res_repair(r->dir, csv_header, samples_header, quality_header_text(), check, &r->done,
		       &r->qdone, &rep, e))
		return -1;
	if (rep.torn || rep.duplicates || rep.incomplete || rep.unmeasured)
		snprintf(r->note + at, sizeof r->note - at,
			 "%srepaired '%s' before resuming: %zu torn line(s) and %zu duplicate row(s) dropped, %zu cell(s) whose samples and %zu whose quality lines were incomplete run again",
			 at ? "; " : "", r->dir, rep.torn, rep.duplicates, rep.incomplete, rep.unmeasured);
	return 0;
}

int res_open(struct results *r, const char *dir, const struct experiment *x,
	     enum res_mode mode, const struct quality_check *check, struct err *e)
{
	int had = exists(dir, "results.csv");

	memset(r, 0, sizeof *r);
	if (strlen(dir) >= sizeof r->dir)
		return err_set(e, "results folder name too long: '%s'", dir);
	strcpy(r->dir, dir);
	r->lock.fd = -1;
	r->ctr_names = x->counters;
	r->n_ctr = (int)x->n_counters;
	if (res_make_dirs(dir, e) || lock_take(&r->lock, dir, r->note, sizeof r->note, e))
		return -1;
	if (had && mode == RES_NEW) {
		lock_drop(&r->lock);
		err_set(e, "results folder '%s' holds a run already; use --resume to continue it or --force to start over",
			dir);
		e->usage = 1;
		return -1;
	}
	if (mode == RES_RESUME && had && repair(r, check, e)) {
		res_close(r);
		return -1;
	}
	if (mode != RES_RESUME || !had) {
		r->csv = open_in(r, "results.csv", "w", e);
		r->samples = r->csv ? open_in(r, "samples.csv", "w", e) : NULL;
		r->quality = r->samples ? open_in(r, "quality.csv", "w", e) : NULL;
		if (r->quality) {
			write_header(r->csv, r);
			write_samples_header(r->samples, r);
			fputs(quality_header_text(), r->quality);
		}
	} else {
		int had_samples = exists(dir, "samples.csv"), had_quality = exists(dir, "quality.csv");
		r->csv = open_in(r, "results.csv", "a", e);
		r->samples = r->csv ? open_in(r, "samples.csv", "a", e) : NULL;
		r->quality = r->samples ? open_in(r, "quality.csv", "a", e) : NULL;
		if (r->samples && !had_samples)
			write_samples_header(r->samples, r);
		if (r->quality && !had_quality)
			fputs(quality_header_text(), r->quality);
	}
	if (!r->csv || !r->samples || !r->quality) {
		res_close(r);
		return -1;
	}
	if (fflush(r->csv) || fflush(r->samples) || fflush(r->quality)) {
		res_close(r);
		return err_set(e, "cannot write to '%s': %s", dir, strerror(errno));
	}
	fseek(r->csv, 0, SEEK_END);
	fseek(r->samples, 0, SEEK_END);
	fseek(r->quality, 0, SEEK_END);
	r->csv_mark = ftell(r->csv);
	r->samples_mark = ftell(r->samples);
	r->quality_mark = ftell(r->quality);
	return 0;
}

int res_is_done(const struct results *r, const char *key)
{
	return keyset_has(&r->done, key);
}

void res_close(struct results *r)
{
	if (r->csv)
		fclose(r->csv);
	if (r->samples)
		fclose(r->samples);
	if (r->quality)
		fclose(r->quality);
	keyset_free(&r->done);
	keyset_free(&r->qdone);
	lock_drop(&r->lock);
	r->csv = r->samples = r->quality = NULL;
}

void res_describe_columns(void (*line)(const char *text))
{
	char buf[256];

	for (int i = 0; i < n_columns; i++) {
		snprintf(buf, sizeof buf, "%-16s %-8s %s", columns[i].name,
			 columns[i].unit, columns[i].doc);
		line(buf);
	}
	line("ctr_<event>      count    per-repetition median of a requested counter; empty when unavailable");
	line("status                    ok, skipped: <reason> or failed: <reason>");
}

int res_column_info(const char *name, struct res_col_info *info)
{
	for (int i = 0; i < n_columns; i++) {
		if (strcmp(columns[i].name, name))
			continue;
		info->type = columns[i].kind == COL_STR ? RES_COL_TEXT :
			     columns[i].kind == COL_LL ? RES_COL_INT : RES_COL_NUM;
		/* timed columns are empty in skipped rows, optional ones when unmeasured */
		info->may_be_empty = columns[i].timed || columns[i].kind == COL_OPT ||
				     columns[i].kind == COL_STR;
		info->check = columns[i].check;
		return 0;
	}
	*info = (struct res_col_info){ RES_COL_INT, 1, CHK_ANY };
	if (!strncmp(name, "ctr_", 4))
		return 0;
	if (!strcmp(name, "status")) {
		*info = (struct res_col_info){ RES_COL_STATUS, 0, CHK_ANY };
		return 0;
	}
	return -1;
}

const char *res_column_name(int i)
{
	return i >= 0 && i < n_columns ? columns[i].name : NULL;
}
