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
};

#define F(x) offsetof(struct result_row, x)

static const struct column columns[] = {
	{ "experiment", COL_STR, F(experiment), 0, "", "experiment name" },
	{ "cell", COL_STR, F(cell), 0, "", "stable cell key: label/kernel/n/d/b/h/kv/t/causality/dtype" },
	{ "pattern", COL_STR, F(pattern), 0, "", "pattern kind" },
	{ "pattern_label", COL_STR, F(pattern_label), 0, "", "pattern variant, e.g. window(size=256)" },
	{ "kernel", COL_STR, F(kernel), 0, "", "kernel variant" },
	{ "inputs", COL_STR, F(inputs), 0, "", "label of the inputs (gaussian, synthetic, npy, ...)" },
	{ "score", COL_STR, F(score), 0, "", "score function: plain, scale(value=...), alibi, softcap(cap=...), relative_bias(...)" },
	{ "mode", COL_STR, F(mode), 0, "", "prefill (n_q = seq_len)" },
	{ "causal", COL_LL, F(causal), 0, "0/1", "1: keys j <= i only" },
	{ "batch", COL_LL, F(batch), 0, "", "sequences" },
	{ "heads", COL_LL, F(heads), 0, "", "query heads" },
	{ "kv_heads", COL_LL, F(kv_heads), 0, "", "K/V heads (GQA)" },
	{ "seq_len", COL_LL, F(seq_len), 0, "tokens", "keys n" },
	{ "n_q", COL_LL, F(n_q), 0, "tokens", "query rows" },
	{ "head_dim", COL_LL, F(head_dim), 0, "", "d" },
	{ "dtype", COL_STR, F(dtype), 0, "", "element type" },
	{ "threads", COL_LL, F(threads), 0, "", "OpenMP threads" },
	{ "kv_layout", COL_STR, F(kv_layout), 0, "", "decode: the cache layout that ran (full, ring, sink_ring, paged); empty in prefill" },
	{ "kv_dtype", COL_STR, F(kv_dtype), 0, "", "decode: cache element type (f32, f16, bf16); empty in prefill" },
	{ "decode_steps", COL_LL, F(decode_steps), 0, "tokens", "decode: tokens appended and attended per timed run; 0 in prefill" },
	{ "kv_layout_note", COL_STR, F(kv_note), 0, "", "why a bounded layout was not used, or empty" },
	{ "isa", COL_STR, F(isa), 0, "", "instruction set of the kernel's micro-kernels: amx, avx512bf16 (bf16 cells of tiled, ranges and onednn), avx512, avx2, portable, or compiler (plain C)" },
	{ "nnz", COL_LL, F(nnz), 0, "pairs", "|G| summed over rows, per head" },
	{ "density", COL_NUM, F(density), 0, "", "nnz / nnz of dense with the same causality" },
	{ "row_min", COL_LL, F(row_min), 0, "keys", "smallest |G_i|" },
	{ "row_max", COL_LL, F(row_max), 0, "keys", "largest |G_i|" },
	{ "row_mean", COL_NUM, F(row_mean), 0, "keys", "mean |G_i|" },
	{ "empty_rows", COL_LL, F(empty_rows), 0, "rows", "rows with G_i empty (output zeros)" },
	{ "flops", COL_NUM, F(flops), 0, "FLOP", "useful: 4 head_dim nnz batch heads" },
	{ "flops_exec", COL_NUM, F(flops_exec), 0, "FLOP", "what this kernel executes" },
	{ "bytes_min", COL_BYTES, F(bytes_min), 0, "B", "compulsory: Q, O, each referenced K/V row once" },
	{ "bytes_gather", COL_BYTES, F(bytes_gather), 0, "B", "no reuse: Q, O, k_j and v_j per pair" },
	{ "kv_cache_bytes", COL_BYTES, F(kv_cache_bytes), 0, "B", "K/V kept to decode the next token exactly" },
	{ "score_bytes", COL_BYTES, F(score_bytes), 0, "B", "largest score buffer the kernel materialises" },
	{ "pattern_bytes", COL_BYTES, F(pattern_bytes), 0, "B", "storage of the compiled G-set" },
	{ "workspace_bytes", COL_BYTES, F(workspace_bytes), 0, "B", "kernel workspace" },
	{ "reps", COL_LL, F(reps), 1, "", "timed repetitions" },
	{ "time_min_s", COL_NUM, F(time_min_s), 1, "s", "fastest repetition" },
	{ "time_median_s", COL_NUM, F(time_median_s), 1, "s", "median repetition: the headline" },
	{ "time_mean_s", COL_NUM, F(time_mean_s), 1, "s", "mean repetition" },
	{ "time_p90_s", COL_NUM, F(time_p90_s), 1, "s", "90th percentile" },
	{ "time_max_s", COL_NUM, F(time_max_s), 1, "s", "slowest repetition" },
	{ "time_cv", COL_NUM, F(time_cv), 1, "", "standard deviation / mean" },
	{ "select_s", COL_OPT, F(select_s), 1, "s", "content-selected patterns: median time of the selection step (G from Q and K, and the kernel's views of it) within the timed runs; time_* include it" },
	{ "select_flops", COL_OPT, F(select_flops), 0, "FLOP", "content-selected patterns: FLOPs of one selection (the estimate's dots, exps and pooling)" },
	{ "select_bytes", COL_OPT, F(select_bytes), 0, "B", "content-selected patterns: Q, K and metadata bytes one selection reads" },
	{ "gflops", COL_NUM, F(gflops), 1, "GFLOP/s", "flops / time_median_s" },
	{ "gflops_exec", COL_NUM, F(gflops_exec), 1, "GFLOP/s", "flops_exec / time_median_s" },
	{ "gbs", COL_NUM, F(gbs), 1, "GB/s", "bytes_min / time_median_s" },
	{ "intensity", COL_NUM, F(intensity), 0, "FLOP/B", "flops / bytes_min" },
	{ "time_per_token_s", COL_OPT, F(time_per_token_s), 1, "s", "decode: time_median_s / decode_steps" },
	{ "tokens_per_s", COL_OPT, F(tokens_per_s), 1, "tokens/s", "decode: batch x decode_steps / time_median_s" },
	{ "kv_bytes_per_token", COL_OPT, F(kv_bytes_per_token), 0, "B", "decode: K/V bytes read per token, one sequence (query heads sharing a K/V head read it once in decode)" },
	{ "kv_gbs", COL_OPT, F(kv_gbs), 1, "GB/s", "decode: K/V bytes read / time_median_s" },
	{ "probe_gbs", COL_OPT, F(probe_gbs), 1, "GB/s", "decode: STREAM read over a buffer of the cache's K/V size, median of runs in the same timing rounds as the kernel" },
	{ "pct_bw", COL_OPT, F(pct_bw), 1, "%", "decode: kv_gbs / probe_gbs, the read bandwidth the kernel reached of what the host gave in the same rounds" },
	{ "pct_peak", COL_OPT, F(pct_peak), 1, "%", "gflops over the peak `sabench machine` measured for this thread count and the path the cell ran (fp32 FMA, or the bf16 dot products of amx and avx512bf16)" },
	{ "peak_rss_bytes", COL_BYTES, F(peak_rss_bytes), 1, "B", "resident peak: inputs, G-set, outputs and this kernel's workspace" },
	{ "max_abs_err", COL_NUM, F(max_abs_err), 1, "", "largest abs(out - oracle) over checked rows" },
	{ "nmse", COL_NUM, F(nmse), 1, "", "sum (out - oracle)^2 / sum oracle^2" },
	{ "verified", COL_STR, F(verified), 1, "", "yes / no / empty when not checked" },
	{ "recall_mean", COL_OPT, F(recall_mean), 0, "", "mean over measured rows of the dense softmax mass inside G_i (same in every kernel row of a group)" },
	{ "recall_min", COL_OPT, F(recall_min), 0, "", "smallest row recall" },
	{ "recall_p10", COL_OPT, F(recall_p10), 0, "", "10th percentile of row recall" },
	{ "recall_best_mean", COL_OPT, F(recall_best_mean), 0, "", "mean of the |G_i| largest dense weights: the most a G of the same size keeps" },
	{ "recall_efficiency", COL_OPT, F(recall_efficiency), 0, "", "recall_mean / recall_best_mean" },
	{ "out_err_mean", COL_OPT, F(out_err_mean), 0, "", "mean ||o_G - o_dense|| / ||o_dense|| over measured rows" },
	{ "out_err_max", COL_OPT, F(out_err_max), 0, "", "largest row output error" },
	{ "quality_rows", COL_LL, F(quality_rows), 0, "rows", "rows measured (all heads and sequences); 0: quality not measured" },
	{ "ipc", COL_OPT, F(ipc), 1, "", "PAPI_TOT_INS / PAPI_TOT_CYC, when both were counted" },
	{ "flops_hw", COL_OPT, F(flops_hw), 1, "FLOP", "FP operations the hardware counted (PAPI_SP_OPS, PAPI_FP_OPS or RETIRED_SSE_AVX_FLOPS)" },
	{ "flops_hw_ratio", COL_OPT, F(flops_hw_ratio), 1, "", "flops_hw / flops_exec: the model checked against the hardware" },
	{ "dram_bytes_hw", COL_OPT, F(dram_bytes_hw), 1, "B", "last-level-cache misses x 64 bytes" },
	{ "intensity_hw", COL_OPT, F(intensity_hw), 1, "FLOP/B", "flops_hw / dram_bytes_hw" },
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

static const char quality_header[] =
	"experiment,inputs,pattern,pattern_label,mode,seq_len,n_q,head_dim,batch,heads,kv_heads,"
	"causal,head,head_type,density,recall_mean,recall_min,recall_p10,recall_best_mean,"
	"recall_efficiency,out_err_mean,out_err_max,quality_rows,score\n";

int res_write_quality(struct results *r, const struct quality_line *q,
		      struct err *e)
{
	FILE *f = r->quality;
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
	fputc('\n', f);
	if (fflush(f) || ferror(f)) {
		clearerr(f);
		return err_set(e, "cannot write to '%s/quality.csv': %s", r->dir, strerror(errno));
	}
	return 0;
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

/* Takes dir/.sabench.lock (our pid); a lock whose holder is dead is taken
 * over with a note, a live one refuses. */
static int take_lock(struct results *r, struct err *e)
{
	char path[4200], buf[32];
	int fd, tries = 0;

	snprintf(path, sizeof path, "%s/.sabench.lock", r->dir);
	while ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0) {
		FILE *f;
		long pid = 0;
		if (errno != EEXIST || tries++)
			return err_set(e, "cannot lock '%s': %s", r->dir, strerror(errno));
		f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%ld", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		if (pid > 0 && pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			return err_set(e, "results folder '%s' is in use by another sabench run (pid %ld)",
				       r->dir, pid);
		snprintf(r->note, sizeof r->note,
			 "took over the stale lock of '%s' (pid %ld is gone)", r->dir, pid);
		unlink(path);
	}
	snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (write(fd, buf, strlen(buf)) < 0 || close(fd))
		return err_set(e, "cannot lock '%s': %s", r->dir, strerror(errno));
	r->locked = 1;
	return 0;
}

static void drop_lock(struct results *r)
{
	char path[4200];

	if (!r->locked)
		return;
	snprintf(path, sizeof path, "%s/.sabench.lock", r->dir);
	unlink(path);
	r->locked = 0;
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

/* Reads one line into a malloc'ed buffer; NULL at the end. */
static char *read_line(FILE *f)
{
	size_t cap = 0;
	char *line = NULL;
	ssize_t n = getline(&line, &cap, f);

	if (n < 0) {
		free(line);
		return NULL;
	}
	return line;
}

/* Splits a CSV line in place into at most max fields (handles quotes). */
static int split_csv(char *line, char **field, int max)
{
	int n = 0;
	char *w = line, *s = line;

	while (n < max) {
		int quoted = *s == '"';
		field[n++] = w;
		if (quoted)
			s++;
		for (; *s; s++) {
			if (quoted && *s == '"' && s[1] == '"') {
				*w++ = '"';
				s++;
			} else if (quoted && *s == '"') {
				quoted = 0;
			} else if (!quoted && (*s == ',' || *s == '\n' || *s == '\r')) {
				break;
			} else {
				*w++ = *s;
			}
		}
		if (*s != ',') {
			*w = 0;
			break;
		}
		*w++ = 0;
		s++;
	}
	return n;
}

/* Drops a partial last line (no newline) left by a crash. */
static int trim_partial_line(const char *path, struct err *e)
{
	FILE *f = fopen(path, "r+");
	long good = 0, pos = 0;
	int c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF) {
		pos++;
		if (c == '\n')
			good = pos;
	}
	fclose(f);
	if (good != pos && truncate(path, good))
		return err_set(e, "cannot repair '%s': %s", path, strerror(errno));
	return 0;
}

static int add_done(struct results *r, const char *key, struct err *e)
{
	char **d = realloc(r->done, (r->n_done + 1) * sizeof *d);

	if (!d || !(d[r->n_done] = strdup(key))) {
		if (d)
			r->done = d;
		return err_set(e, "out of memory reading results.csv");
	}
	r->done = d;
	r->n_done++;
	return 0;
}

/* Resume: checks the header and collects the cells already written. */
static int read_done(struct results *r, struct err *e)
{
	char path[4200], header[65536], *line, *field[256];
	FILE *f, *mem = fmemopen(header, sizeof header, "w");
	int cell_col = 1, rc = 0;

	if (!mem)
		return err_set(e, "out of memory");
	write_header(mem, r);
	fclose(mem);
	snprintf(path, sizeof path, "%s/results.csv", r->dir);
	if (trim_partial_line(path, e))
		return -1;
	f = fopen(path, "r");
	if (!f)
		return 0;               /* nothing written yet */
	line = read_line(f);
	if (line && strcmp(line, header) != 0)
		rc = err_set(e, "cannot resume '%s': its results.csv has other columns than this experiment writes; use --force to start over",
			     r->dir);
	free(line);
	while (!rc && (line = read_line(f))) {
		if (split_csv(line, field, 256) > cell_col)
			rc = add_done(r, field[cell_col], e);
		free(line);
	}
	fclose(f);
	return rc;
}

/* Resume: keeps only the samples of cells that results.csv holds. */
static int filter_samples(struct results *r, struct err *e)
{
	char path[4200], tmp[4300], *line, *field[3];
	FILE *in, *out;
	int first = 1;

	snprintf(path, sizeof path, "%s/samples.csv", r->dir);
	snprintf(tmp, sizeof tmp, "%s/samples.csv.tmp", r->dir);
	in = fopen(path, "r");
	if (!in)
		return 0;
	out = fopen(tmp, "w");
	if (!out) {
		fclose(in);
		return err_set(e, "cannot write '%s': %s", tmp, strerror(errno));
	}
	while ((line = read_line(in))) {
		char *copy = strdup(line);
		int keep = first;
		if (copy && !first && line[strlen(line) - 1] == '\n' &&
		    split_csv(copy, field, 3) >= 2)
			keep = res_is_done(r, field[1]);
		if (keep)
			fputs(line, out);
		first = 0;
		free(copy);
		free(line);
	}
	fclose(in);
	if (fclose(out) || rename(tmp, path))
		return err_set(e, "cannot rewrite '%s': %s", path, strerror(errno));
	return 0;
}

int res_is_done(const struct results *r, const char *key)
{
	for (size_t i = 0; i < r->n_done; i++)
		if (strcmp(r->done[i], key) == 0)
			return 1;
	return 0;
}

static int exists(const char *dir, const char *name)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

int res_open(struct results *r, const char *dir, const struct experiment *x,
	     enum res_mode mode, struct err *e)
{
	int had = exists(dir, "results.csv");

	memset(r, 0, sizeof *r);
	if (strlen(dir) >= sizeof r->dir)
		return err_set(e, "results folder name too long: '%s'", dir);
	strcpy(r->dir, dir);
	r->ctr_names = x->counters;
	r->n_ctr = (int)x->n_counters;
	if (res_make_dirs(dir, e) || take_lock(r, e))
		return -1;
	if (had && mode == RES_NEW) {
		drop_lock(r);
		err_set(e, "results folder '%s' holds a run already; use --resume to continue it or --force to start over",
			dir);
		e->usage = 1;
		return -1;
	}
	if (mode == RES_RESUME && (read_done(r, e) || filter_samples(r, e))) {
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
			fputs(quality_header, r->quality);
		}
	} else {
		int had_samples = exists(dir, "samples.csv"), had_quality = exists(dir, "quality.csv");
		r->csv = open_in(r, "results.csv", "a", e);
		r->samples = r->csv ? open_in(r, "samples.csv", "a", e) : NULL;
		r->quality = r->samples ? open_in(r, "quality.csv", "a", e) : NULL;
		if (r->samples && !had_samples)
			write_samples_header(r->samples, r);
		if (r->quality && !had_quality)
			fputs(quality_header, r->quality);
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
	r->csv_mark = ftell(r->csv);
	r->samples_mark = ftell(r->samples);
	return 0;
}

void res_close(struct results *r)
{
	if (r->csv)
		fclose(r->csv);
	if (r->samples)
		fclose(r->samples);
	if (r->quality)
		fclose(r->quality);
	for (size_t i = 0; i < r->n_done; i++)
		free(r->done[i]);
	free(r->done);
	drop_lock(r);
	r->csv = r->samples = r->quality = NULL;
	r->done = NULL;
	r->n_done = 0;
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

/* ---- reading tables back ---- */

static int table_row(struct res_table *t, char *line, struct err *e)
{
	char **f = calloc((size_t)t->ncol, sizeof *f), *fields[512];
	char ***rows;
	int n;

	line[strcspn(line, "\r\n")] = 0;
	n = split_csv(line, fields, t->ncol < 512 ? t->ncol : 512);
	rows = realloc(t->row, (t->nrow + 1) * sizeof *rows);
	if (!f || !rows) {
		free(f);
		if (rows)
			t->row = rows;
		return err_set(e, "out of memory reading a table");
	}
	t->row = rows;
	for (int j = 0; j < t->ncol; j++)
		f[j] = strdup(j < n ? fields[j] : "");
	t->row[t->nrow++] = f;
	return 0;
}

int res_table_read(const char *path, struct res_table *t, struct err *e)
{
	FILE *f = fopen(path, "r");
	char *line, *fields[512];
	int rc = 0;

	memset(t, 0, sizeof *t);
	if (!f)
		return err_set(e, "cannot open '%s': %s", path, strerror(errno));
	line = read_line(f);
	if (!line) {
		fclose(f);
		return err_set(e, "'%s' is empty", path);
	}
	line[strcspn(line, "\r\n")] = 0;
	t->ncol = split_csv(line, fields, 512);
	t->head = calloc((size_t)t->ncol, sizeof *t->head);
	for (int j = 0; t->head && j < t->ncol; j++)
		t->head[j] = strdup(fields[j]);
	free(line);
	if (!t->head)
		rc = err_set(e, "out of memory reading '%s'", path);
	while (!rc && (line = read_line(f))) {
		if (line[strlen(line) - 1] == '\n')    /* a partial last line is not a row */
			rc = table_row(t, line, e);
		free(line);
	}
	fclose(f);
	if (rc)
		res_table_free(t);
	return rc;
}

int res_table_col(const struct res_table *t, const char *name)
{
	for (int j = 0; j < t->ncol; j++)
		if (t->head[j] && !strcmp(t->head[j], name))
			return j;
	return -1;
}

const char *res_table_get(const struct res_table *t, size_t i, int c)
{
	return c < 0 || !t->row[i][c] ? "" : t->row[i][c];
}

int res_table_series(struct res_table *t)
{
	int ci = res_table_col(t, "inputs"), cs = res_table_col(t, "score");

	for (size_t i = 0; ci >= 0 && cs >= 0 && i < t->nrow; i++) {
		const char *score = t->row[i][cs];
		char *joined;
		if (!score[0] || !strcmp(score, "plain"))
			continue;
		joined = malloc(strlen(t->row[i][ci]) + strlen(score) + 4);
		if (!joined)
			return -1;
		sprintf(joined, "%s / %s", t->row[i][ci], score);
		free(t->row[i][ci]);
		t->row[i][ci] = joined;
	}
	return 0;
}

void res_table_free(struct res_table *t)
{
	for (size_t i = 0; i < t->nrow; i++) {
		for (int j = 0; j < t->ncol; j++)
			free(t->row[i][j]);
		free(t->row[i]);
	}
	for (int j = 0; t->head && j < t->ncol; j++)
		free(t->head[j]);
	free(t->head);
	free(t->row);
	memset(t, 0, sizeof *t);
}
