/* group.h - the runner's private picture of a run (run/ only): a group
 * of cells that share inputs and G (its slots, one a kernel), the run's
 * state, and the functions runner.c, group.c (making a group: inputs,
 * selection, score, cache layout, probe, memory) and rows.c (the rows of
 * a measured group) share. */
#ifndef SABENCH_RUN_GROUP_H
#define SABENCH_RUN_GROUP_H

#include "../../kernels/kvcache.h"
#include "../../kernels/isa/peak.h"
#include "../../kernels/isa/simd.h"
#include "../../select/select.h"
#include "../config/plan.h"
#include "../npy.h"
#include "../report/dump.h"
#include "../report/manifest.h"
#include "../quality/quality.h"
#include "../counters.h"
#include "../stats.h"
#include "machine.h"
#include "model.h"
#include "runner.h"
#include "verify.h"

/* One kernel of a group: its cell, buffers and measurements. */
struct slot {
	const struct cell *c;           /* the cell */
	const struct kern_desc *kd;     /* its kernel */
	struct cell_model m;            /* cost model */
	float *o;                       /* its own output */
	void *ws;                       /* its workspace */
	int active;                     /* still to be run and timed */
	int prepared;                   /* prepare succeeded */
	double *t;                      /* repetition times, s */
	long long *ctr;                 /* [rep][counter] values */
	unsigned long long *round;      /* [rep] the run's timing round it ran in */
	double *sel_t;                  /* [rep] selection time within it (selected G) */
	size_t nt;                      /* repetitions so far */
	double sum_t;                   /* their total */
	double peak_rss;                /* bytes */
	struct verify_result vr;        /* verification */
	int verified;                   /* -1 not checked, 0 no, 1 yes */
	char status[320];               /* row status */
	double tol_abs, tol_nmse;       /* verification limits */
};

/* Everything a group shares. */
struct group {
	const struct experiment *x;
	const struct exp_input *in;     /* where its Q, K, V come from */
	struct quality qual;            /* its G against dense */
	int has_quality;                /* qual measured */
	struct cell_shape sh;           /* shape of every cell */
	struct pattern pat;             /* variant with causality set */
	struct gset g;                  /* its compiled (or selected) G-set */
	int selected;                   /* G is selected from Q and K every run */
	struct sel_input sel;           /* what the selection reads */
	struct sel_cost sel_cost;       /* its cost model */
	float *q_hist;                  /* queries before the cell's (SnapKV's window), or NULL */
	struct problem p;               /* inputs; o set per slot */
	struct score_mod score;         /* its score function (p.score points here) */
	float *q, *k, *v;               /* inputs */
	uint16_t *q16, *k16, *v16;      /* and in bf16, when the dtype is */
	float *index_q, *index_k, *index_w;     /* an indexer the inputs gave (dsa_topk) */
	struct slot *s;                 /* pending cells */
	int n;
	size_t first;                   /* plan index of its first cell */
	char layout_note[200];          /* why a bounded cache was not used */
	int threads;                    /* its OpenMP team */
	int opened;                     /* inputs made and kernels prepared */
	float *probe;                   /* decode: the read probe's buffer, or NULL */
	size_t probe_floats;            /* its size: the cache's K/V bytes / 4 */
	int probe_sweeps;               /* reads of it per run, as the kernel rereads its cache */
	int probe_way;                  /* how it reads: the fastest way (probe.c) */
	double *probe_t;                /* its times, one per round */
	size_t probe_n, probe_cap;
	/* a ragged batch (lengths:), run/ragged.c; batch NULL: a uniform one */
	const struct exp_batch *batch;
	struct ragged rag;              /* its sequences (p.ragged points here) */
	struct problem *rag_seq;        /* rag.seq's storage */
	struct gset *rag_g;             /* their G */
	float *rag_in;                  /* their Q, K, V */
	double *rag_alone;              /* [slot][sequence]: median time alone */
	char (*rag_text)[512];          /* [slot]: those times, the seq_time column */
};

struct run_state {
	const struct experiment *x;
	const struct run_opts *o;
	const struct plan *pl;
	struct results res;
	int res_open;                   /* res is open (res_close at the end) */
	struct run_summary *sum;
	struct ctr_set ctr;             /* counters of the current group */
	int ctr_open;
	struct kern_tally *tally;       /* per-thread tallies */
	struct machine_peaks *peaks;    /* measured ceilings, or NULL */
	const char *machine_file;       /* where they came from */
	size_t cells_seen;              /* for progress */
	double cost_total, cost_done;   /* estimated cost to run, and run so far */
	double t0;                      /* run start */
	int warned_counters;
	struct quality_memo *memo;      /* quality of groups that differ only in threads */
	size_t n_memo;
	unsigned long long round;       /* timing rounds so far, over the whole run */
};

/* Quality depends on inputs, pattern and shape, not on the thread count:
 * groups that differ only in threads reuse it. */
struct quality_memo {
	char key[400];
	struct quality q;
};

/* The files of run/ depend one way: runner.c (the driver: plan loop and
 * timing rounds) -> group.c (a group's life) -> checks.c, rows.c ->
 * ragged.c -> layout.c, probe.c -> leaf.c. Each section below is a file's. */

/* ---- leaf.c ---- */

/* Monotonic seconds. */
double run_now_s(void);

/* 64-byte aligned buffer, huge pages advised (first touch is costly). */
float *run_alloc_floats(size_t n);

/* x[0, n) := 0, by the team (first touch where the kernel reads). */
void run_zero_floats(float *x, size_t n);

/* Resets the peak-RSS mark to the current RSS (Linux clear_refs 5). */
void run_reset_peak_rss(void);

/* Restores what the previous run of s consumed (untimed). */
void run_reset_slot(struct group *gr, struct slot *s);

/* One run of s's kernel on the group's problem, into s's output. */
void run_once(struct group *gr, struct slot *s);

/* Takes s out of the group with status fmt (filled with why). */
void run_skip_slot(struct slot *s, const char *fmt, const char *why);

/* Bytes of Q, K, V and one output: what every kernel of a group shares. */
double run_group_input_bytes(const struct problem *p);

/* ---- group.c ---- */

/* Opens the cells [first, first + n) as a group: G-set, cost models,
 * inputs, prepared kernels, the decode probe. Cells that cannot run get
 * their status; 0, or -1 with e set when the run cannot go on. */
int run_group_open(struct run_state *st, struct group *gr, size_t first, size_t n,
		   struct err *e);

/* After timing (timed 0: it failed, e set): checks, the rows; frees the
 * group. */
int run_group_close(struct run_state *st, struct group *gr, int timed, struct err *e);

/* Skips kernels, largest workspace first, until the group fits memory. */
void run_fit_memory(struct group *gr);

/* Frees what the group made (inputs, G, workspaces, samples). */
void run_free_group(struct group *gr);

/* Sets up the slots of the pending cells [first, first + n). */
int run_group_slots(struct run_state *st, struct group *gr, size_t first, size_t n);

/* The group's problem from its cells' shape (batch, heads, n, d, dtypes). */
void run_problem_from_shape(struct group *gr);

/* Decode groups: the cache layout (the one asked for, or the pattern's
 * own with auto; full when a bounded one would not be exact, with a note)
 * and which kernels can run. */
void run_plan_decode(struct group *gr);

/* The counters for a team of threads (reopened when the team changes);
 * warns once about those this machine cannot count. */
int run_open_counters(struct run_state *st, int threads, struct err *e);

/* Decode groups: a buffer of the cache's size for the read probe, touched
 * by the team first (so the probe is beyond the LLC when the cache is, and
 * in it when a ring fits there), and the fastest way to read it found
 * (probe.c). No probe when it does not fit in memory; probe_gbs and pct_bw
 * then stay empty. */
void run_open_probe(struct group *gr);

/* One timed run of the group's probe, in a round beside its kernels; its
 * time is appended to probe_t. 0, or -1 out of memory. */
int run_probe(struct group *gr);

/* Makes the group's inputs (and their bf16 copies when the dtype is):
 * NULL, or why it could not. */
const char *run_make_inputs(struct run_state *st, struct group *gr);

/* A selected pattern's first selection, untimed: its inputs are made
 * first (with the history rows it reads), and the G it gives sizes the
 * model and the kernels' workspaces. -1 with why when it cannot run. */
int run_select_first(struct run_state *st, struct group *gr, char *why, size_t len);

/* The group's score function, made once outside the timed runs as a
 * model keeps its bias tables; plain leaves p.score NULL. */
int run_make_score(const struct experiment *x, struct group *gr);

/* ---- checks.c ---- */

/* Each prepared kernel's output against the oracle (its row's status). */
void run_verify_slots(struct run_state *st, struct group *gr);

/* Measures the group's G against dense (or takes the measure of a group
 * that differs only in threads), outside the timed runs; writes its
 * quality.csv lines. */
int run_measure_quality(struct run_state *st, struct group *gr, struct err *e);

/* Writes dump files of the group and its cells when small enough
 * (report/dump.c), else says why not. */
int run_dump_group(struct run_state *st, struct group *gr, const char *dir, struct err *e);

/* Tells the user that --dump leaves out gr's cells, and why. */
void run_dump_left_out(const struct run_state *st, const struct group *gr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- layout.c ---- */

/* The cache layout of p (its kv_layout, kv_ring, kv_sinks) for G g: the
 * one asked for, or the pattern's own with auto; full, with a note in
 * gr->layout_note, when a bounded one would not serve g exactly. */
void run_cache_layout(struct group *gr, struct problem *p, const struct gset *g);

/* ---- ragged.c ---- */

/* The batch problem of a ragged group: batch 1 of all new tokens over the
 * longest sequence, chunked, p.ragged set. */
void run_problem_ragged(struct group *gr);

/* Makes each sequence (inputs, G, cache layout), skips the kernels that
 * cannot run the batch, and sums the cost models: 0, or -1 with why
 * (every slot skipped with it). */
int run_open_ragged(struct run_state *st, struct group *gr, char *why, size_t len);

/* Each sequence's output against the oracle on what its caches hold. */
void run_verify_ragged(struct run_state *st, struct group *gr);

/* After the batch's rounds: each sequence timed alone by each kernel. */
void run_time_ragged_alone(struct run_state *st, struct group *gr);

/* The row's ragged columns and the per-token figures of the batch. */
void run_ragged_columns(struct group *gr, const struct slot *s, struct result_row *row);

void run_free_ragged(struct group *gr);

/* ---- rows.c ---- */

/* quality.csv: one line per head of a freshly measured group. */
int run_write_quality(struct run_state *st, const struct group *gr, struct err *e);

/* results.csv rows (and progress lines) of the group's cells. */
int run_write_group(struct run_state *st, struct group *gr, struct err *e);

#endif
