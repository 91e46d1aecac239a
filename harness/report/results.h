/* results.h - a results folder: results.csv (one row per cell), samples.csv
 * (one row per repetition) and manifest.yaml. Rows are appended and
 * flushed as each cell ends, so an interrupted run loses nothing, and an
 * existing folder is resumed or refused, never silently overwritten. */
#ifndef SABENCH_RESULTS_H
#define SABENCH_RESULTS_H

#include <stdio.h>

#include "../config/experiment.h"
#include "../counters.h"
#include "lock.h"
#include "resume.h"

/* The values of one results.csv row; the column table says which field
 * each column prints and in what unit. */
struct result_row {
	const char *experiment, *cell, *pattern, *pattern_label, *kernel;
	const char *inputs;     /* the inputs' label */
	const char *score;      /* the score function's label */
	const char *mode, *dtype, *isa;
	const char *kv_layout, *kv_dtype, *kv_note;     /* decode cache; "" in prefill */
	long long decode_steps; /* decode: tokens timed per run; else 0 */
	long long extend_tokens;/* extend: tokens of the timed chunk; else 0 */
	double time_per_chunk_s;/* extend: the chunk's median time; < 0: empty */
	double keys_read;       /* decode, extend: K/V rows a run reads, one sequence; < 0: empty */
	const char *ragged;     /* the ragged batch's label; "" for a uniform one */
	double time_one_by_one_s;       /* ragged: its sequences' times alone, summed; < 0: empty */
	const char *seq_time;   /* ragged: each sequence's time alone; "" */
	double time_per_token_s, tokens_per_s, kv_bytes_per_token, kv_gbs; /* < 0: empty */
	double probe_gbs, pct_bw;       /* decode: read probe in the same rounds; < 0: empty */
	long long causal, batch, heads, kv_heads, seq_len, n_q, head_dim, head_dim_v;
	long long threads;
	long long nnz, row_min, row_max, empty_rows;
	double density, row_mean;
	double flops, flops_exec, bytes_min, bytes_gather, kv_cache_bytes;
	double score_bytes, pattern_bytes, workspace_bytes;
	long long reps;
	double time_min_s, time_median_s, time_mean_s, time_p90_s;
	double time_max_s, time_cv;
	double select_s;        /* selected G: median selection time; < 0: empty */
	double select_flops, select_bytes; /* its cost model; < 0: empty */
	double gflops, gflops_exec, gbs, intensity;
	double pct_peak;        /* < 0: no machine.yaml, column empty */
	double ipc, flops_hw, flops_hw_ratio, dram_bytes_hw, intensity_hw; /* < 0: empty */
	double peak_rss_bytes;
	double max_abs_err, nmse;
	/* quality of the group's G against dense; < 0: empty (not measured) */
	double recall_mean, recall_min, recall_p10, recall_best_mean;
	double recall_efficiency, out_err_mean, out_err_max;
	double kv_recall_mean, kv_err_dense_mean, kv_err_mean;  /* decode cache's values */
	long long quality_rows; /* rows measured, 0: none */
	const char *verified;   /* "yes", "no" or "" when not checked */
	int timed;              /* 0: time, rate and check columns empty */
	const char *status;     /* ok | skipped: why | failed: why */
	int n_ctr;              /* counters requested */
	const long long *ctr;   /* their per-repetition medians */
	const int *ctr_ok;      /* 0: counter unavailable, empty column */
};

enum res_mode { RES_NEW, RES_FORCE, RES_RESUME };

/* One line of quality.csv: a group's G against dense, for one head. */
struct quality_line {
	const char *experiment, *inputs, *score, *pattern, *pattern_label, *mode;
	const char *head_type;  /* the input's type of this head, or "" */
	long long seq_len, n_q, head_dim, batch, heads, kv_heads, causal, head;
	double density, recall_mean, recall_min, recall_p10, recall_best_mean;
	double recall_efficiency, out_err_mean, out_err_max;
	long long quality_rows;
	const char *kv_dtype;   /* the decode cache's type; "" in prefill */
	double kv_recall_mean, kv_err_dense_mean, kv_err_mean;  /* < 0: empty */
	const char *group;      /* plan_quality_key of its cells: with head, the line's key */
};

struct results {
	char dir[4096];         /* the folder */
	FILE *csv;              /* results.csv, appending */
	FILE *samples;          /* samples.csv, appending */
	FILE *quality;          /* quality.csv, appending */
	struct keyset done;     /* resume: cell keys already written */
	struct keyset qdone;    /* quality.csv lines written (quality_key) */
	char **ctr_names;       /* counter column names */
	int n_ctr;
	long csv_mark;          /* results.csv size after the last whole row */
	long samples_mark;      /* samples.csv size after the last whole row */
	long quality_mark;      /* quality.csv size after the last whole line */
	struct res_lock lock;   /* dir/.sabench.lock, held while open */
	char note[1200];        /* what res_open would tell the user, or "" */
};

/* Opens dir for experiment x: creates it, or resumes it (reading which
 * cells are done; check, or NULL, says which quality lines a cell needs
 * to count as done), or starts it over. Refuses an existing run
 * otherwise. */
int res_open(struct results *r, const char *dir, const struct experiment *x,
	     enum res_mode mode, const struct quality_check *check, struct err *e);

/* 1 when key was written by an earlier run of a resumed folder. */
int res_is_done(const struct results *r, const char *key);

/* Appends and flushes one row of results.csv. */
int res_write_row(struct results *r, const struct result_row *row,
		  struct err *e);

/* Appends one repetition to samples.csv (flushed by res_write_row). On a
 * write error both files are cut back to their last whole row. */
int res_write_sample(struct results *r, const char *experiment,
		     const char *cell, const char *kernel, int rep,
		     unsigned long long round, double seconds,
		     const struct ctr_set *cs, struct err *e);

/* Appends and flushes one line of quality.csv, unless a line of the same
 * key is there already (a resumed group measures again); on a write
 * error the file is cut back to its last whole line. */
int res_write_quality(struct results *r, const struct quality_line *q,
		      struct err *e);

void res_close(struct results *r);

/* Creates dir and its missing parents (mkdir -p). */
int res_make_dirs(const char *dir, struct err *e);

/* What a results.csv or quality.csv column holds (the column tables', for
 * checking a file read back). */
enum res_col_type { RES_COL_TEXT, RES_COL_INT, RES_COL_NUM, RES_COL_STATUS };

/* What a column's values must be beyond their type. */
enum res_col_check {
	CHK_ANY,                /* its type says all */
	CHK_NAME,               /* a label or key: no comma, quote or newline */
	CHK_MODE,               /* a mode's name */
	CHK_DTYPE,              /* a storage type's name */
	CHK_LAYOUT,             /* a cache layout's name */
	CHK_RAGGED,             /* a ragged batch's label */
	CHK_TIMES,              /* numbers, space-separated */
	CHK_VERIFIED,           /* yes or no */
	CHK_POSITIVE,           /* a count of at least 1 */
	CHK_FRACTION,           /* a share in [0, 1] */
	CHK_BOOL,               /* 0 or 1 */
	CHK_COUNT
};

struct res_col_info {
	enum res_col_type type;
	int may_be_empty;       /* a row may leave it empty */
	enum res_col_check check;
};

/* What results.csv column name holds; 0, or -1 for a column sabench does
 * not write. */
int res_column_info(const char *name, struct res_col_info *info);

/* The name of results.csv's i-th fixed column (counters and status
 * aside), or NULL past the last: the columns every file has. */
const char *res_column_name(int i);

/* What quality.csv column name holds; 0, or -1 for one sabench does not
 * write. Its names in order: res_quality_column_name. */
int res_quality_column_info(const char *name, struct res_col_info *info);
const char *res_quality_column_name(int i);

/* A CSV file read back (results.csv, samples.csv): header and rows
 * (table.c). */
struct res_table {
	char **head;            /* column names */
	int ncol;
	char ***row;            /* row[i][j], "" where a field was missing */
	size_t nrow;
	int *nfield;            /* fields row i had (ncol + 1: more than ncol) */
	long *line;             /* line number of row i in the file */
	long torn_line;         /* a last line without its newline (not a row), or 0 */
};

/* Reads path; returns 0, or -1 with e set. */
int res_table_read(const char *path, struct res_table *t, struct err *e);

/* Checks a results.csv read back (report, plot) against what a run
 * writes: known columns, each row whole with every field of its type,
 * finite non-negative numbers, one row per cell, at least one row.
 * Returns 0, or -1 with e naming path:line and the column. */
int res_table_check(const struct res_table *t, const char *path, struct err *e);

/* Checks a quality.csv read back likewise (its columns, every field of
 * its type and range: recalls in [0, 1]). 0, or -1 with e naming
 * path:line and the column. */
int res_quality_check(const struct res_table *t, const char *path, struct err *e);

/* Reads and checks the quality.csv at path, when there is one; 0, or -1
 * with e set. */
int res_check_quality_file(const char *path, struct err *e);

/* Column of name, or -1. */
int res_table_col(const struct res_table *t, const char *name);

/* Field (row i, column c); "" when c < 0. */
const char *res_table_get(const struct res_table *t, size_t i, int c);

void res_table_free(struct res_table *t);

/* The review's series: each row's inputs label, with its score function
 * appended where the table has one that is not plain ("synthetic /
 * alibi": no comma, which gnuplot would split), so pictures and tables
 * keep each (inputs, score) apart.
 * Returns 0, or -1 out of memory. */
int res_table_series(struct res_table *t);

/* "1.5 GiB": b bytes in the largest binary unit under it. */
void res_human_bytes(double b, char *buf, size_t len);

/* A results folder read back: results.csv (checked, res_table_check)
 * into *t and manifest.yaml into *manifest (yt_free it). 0, or -1 with e
 * set (e->usage when a file is not what a run writes). */
struct ynode;
int res_read_run(const char *dir, struct res_table *t, struct ynode **manifest, struct err *e);

/* Writes s with CSV quoting when it holds a comma, quote or newline. */
void res_csv_field(FILE *f, const char *s);

/* Prints the column table: name, unit, meaning (sabench columns). */
void res_describe_columns(void (*line)(const char *text));

#endif
