/* runner.c - runs the plan group by group. A group is the cells that share
 * one shape, thread count, inputs and pattern variant: their tensors and
 * G-set are made once, then every kernel of the group is timed interleaved
 * (each round runs each unfinished kernel once, in a seeded shuffled order)
 * so that slow drift of a shared host hits all of them alike; after timing,
 * verification, then quality (once per group, reused across thread
 * counts). */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "../../kernels/kvcache.h"
#include "../../kernels/isa/peak.h"
#include "../../kernels/isa/simd.h"
#include "../../select/select.h"
#include "../config/plan.h"
#include "../npy.h"
#include "../out/dump.h"
#include "../out/manifest.h"
#include "../quality/quality.h"
#include "../counters.h"
#include "machine.h"
#include "model.h"
#include "runner.h"
#include "../stats.h"
#include "verify.h"

#define MAX_REPS 100000         /* repetitions of one cell at most */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	if (stop_requested) {
		signal(sig, SIG_DFL);   /* second signal: stop at once */
		raise(sig);
	}
	stop_requested = 1;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Resets the peak-RSS mark to the current RSS (Linux clear_refs 5). */
static void reset_peak_rss(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

double runner_mem_available(void)
{
	long long kb = manifest_proc_kb("/proc/meminfo", "MemAvailable");

	return kb < 0 ? 1e18 : (double)kb * 1024.0;
}

/* 64-byte aligned buffer, huge pages advised (first touch is costly). */
static float *alloc_floats(size_t n)
{
	size_t bytes = (n ? n : 1) * sizeof(float);
	void *p;

	bytes = (bytes + 4095) & ~(size_t)4095;
	if (posix_memalign(&p, 4096, bytes))
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

static void zero_floats(float *x, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		x[i] = 0.0f;
}

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
	struct slot *s;                 /* pending cells */
	int n;
	size_t first;                   /* plan index of its first cell */
	char layout_note[200];          /* why a bounded cache was not used */
	int threads;                    /* its OpenMP team */
	int opened;                     /* inputs made and kernels prepared */
	float *probe;                   /* decode: the read probe's buffer, or NULL */
	size_t probe_floats;            /* its size: the cache's K/V bytes / 4 */
	int probe_sweeps;               /* reads of it per run, as the kernel rereads its cache */
	double *probe_t;                /* its times, one per round */
	size_t probe_n, probe_cap;
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

static void skip_slot(struct slot *s, const char *fmt, const char *why)
{
	snprintf(s->status, sizeof s->status, fmt, why);
	s->active = 0;
}

/* Bytes of Q, K, V and one output: what every kernel of a group shares. */
static double group_input_bytes(const struct problem *p)
{
	return 4.0 * (2.0 * p->batch * p->heads * (double)p->n_q * p->d +
		      2.0 * p->batch * p->kv_heads * (double)p->n_kv * p->d);
}

/* Skips kernels, largest workspace first, until the group fits memory. */
static void fit_memory(struct group *gr)
{
	double avail = runner_mem_available() * 0.9, need;
	double out = (double)gr->p.batch * gr->p.heads * gr->p.n_q * gr->p.d * 4.0;
	char why[160];

	for (;;) {
		int worst = -1;
		need = group_input_bytes(&gr->p) + (double)gr->g.st.storage_bytes;
		for (int i = 0; i < gr->n; i++) {
			struct slot *s = &gr->s[i];
			if (!s->active)
				continue;
			need += s->m.workspace_bytes + out;
			if (worst < 0 || s->m.workspace_bytes > gr->s[worst].m.workspace_bytes)
				worst = i;
		}
		if (need <= avail || worst < 0)
			return;
		snprintf(why, sizeof why, "needs %.2f GiB with the other kernels of its group; %.2f GiB available",
			 need / 1073741824.0, avail / 1073741824.0);
		skip_slot(&gr->s[worst], "skipped: %s", why);
	}
}

/* The inputs when the selection reads queries before the cell's first:
 * n_hist query rows are made, and the cell's Q is their last n_q. */
static int history_inputs(struct group *gr, unsigned long long seed)
{
	const struct problem *p = &gr->p;
	long n_hist = gr->sel.n_hist;

	gr->q_hist = alloc_floats((size_t)p->batch * p->heads * (size_t)n_hist * p->d);
	if (!gr->q_hist)
		return -1;
	if (inp_fill_history(gr->in, p, n_hist, gr->q_hist, gr->q, gr->k, gr->v, seed))
		return -2;
	gr->sel.q_hist = gr->q_hist;
	gr->p.q = gr->q;
	gr->p.k = gr->k;
	gr->p.v = gr->v;
	return 0;
}

/* Allocates the group's tensors and has its input kind fill them (in
 * parallel: first touch). -1 out of memory, -2 the kind could not. */
static int group_inputs(struct group *gr, unsigned long long seed)
{
	const struct problem *p = &gr->p;
	size_t nq = (size_t)p->batch * p->heads * p->n_q * p->d;
	size_t nkv = (size_t)p->batch * p->kv_heads * p->n_kv * p->d;

	gr->q = alloc_floats(nq);
	gr->k = alloc_floats(nkv);
	gr->v = alloc_floats(nkv);
	if (!gr->q || !gr->k || !gr->v)
		return -1;
	if (gr->sel.n_hist > p->n_q)
		return history_inputs(gr, seed);
	if (gr->in->kind->fill(gr->in, p, gr->q, gr->k, gr->v, seed))
		return -2;
	gr->sel.q_hist = gr->q;
	gr->p.q = gr->q;
	gr->p.k = gr->k;
	gr->p.v = gr->v;
	return 0;
}

/* Restores what the previous run consumed (untimed). */
static void reset_slot(struct group *gr, struct slot *s)
{
	gr->p.o = s->o;
	if (s->kd->reset)
		s->kd->reset(&gr->p, s->ws);
}

static void run_once(struct group *gr, struct slot *s)
{
	gr->p.o = s->o;
	s->kd->run(&gr->p, s->ws);
}

/* Prepares every active kernel, measuring its resident peak over prepare
 * and warm-up. */
static void prepare_slots(struct run_state *st, struct group *gr, int threads)
{
	size_t out_n = (size_t)gr->p.batch * gr->p.heads * gr->p.n_q * gr->p.d;

	for (int i = 0; i < gr->n; i++) {
		struct slot *s = &gr->s[i];
		if (!s->active)
			continue;
		reset_peak_rss();
		s->o = alloc_floats(out_n);
		if (!s->o) {
			skip_slot(s, "skipped: %s", "out of memory for its output");
			continue;
		}
		zero_floats(s->o, out_n);
		if (s->kd->prepare(&gr->p, threads, &s->ws)) {
			skip_slot(s, "skipped: %s", "out of memory in its prepare step");
			continue;
		}
		s->prepared = 1;
		gr->p.tally = NULL;
		for (int w = 0; w < st->x->run.warmup; w++) {
			reset_slot(gr, s);
			run_once(gr, s);
		}
		s->peak_rss = 1024.0 * (double)manifest_proc_kb("/proc/self/status", "VmHWM");
	}
}

static void shuffle(int *order, int n, unsigned long long seed)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(inp_mix64(seed + (unsigned long long)i) % (unsigned long long)(i + 1));
		int t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

static int slot_needs_more(const struct experiment *x, const struct slot *s)
{
	if (s->nt >= MAX_REPS)
		return 0;
	return s->nt < (size_t)x->run.repeats || s->sum_t * 1e3 < x->run.min_time_ms;
}

static int grow_samples(struct slot *s, int n_ctr)
{
	size_t cap = s->nt + 1;
	double *t;
	long long *c;
	unsigned long long *r;

	if ((cap & (cap - 1)) != 0 && s->t)
		return 0;               /* capacity grows at powers of two */
	cap = cap < 8 ? 8 : cap * 2;
	t = realloc(s->t, cap * sizeof *t);
	if (!t)
		return -1;
	s->t = t;
	c = realloc(s->ctr, cap * (size_t)(n_ctr ? n_ctr : 1) * sizeof *c);
	if (!c)
		return -1;
	s->ctr = c;
	r = realloc(s->round, cap * sizeof *r);
	if (!r)
		return -1;
	s->round = r;
	t = realloc(s->sel_t, cap * sizeof *t);
	if (!t)
		return -1;
	s->sel_t = t;
	return 0;
}

/* 1 when a kernel of gr still needs repetitions. */
static int group_needs_more(const struct experiment *x, const struct group *gr)
{
	for (int i = 0; i < gr->n; i++)
		if (gr->s[i].active && slot_needs_more(x, &gr->s[i]))
			return 1;
	return 0;
}

/* The STREAM read over a buffer of the decode cache's size, in the same
 * rounds as the kernels: the bandwidth they could have had then. With a
 * cache per thread or more, each thread rereads one cache's part at a
 * time (so a small cache is read from where the kernel reads it); else
 * the team sweeps the whole buffer. */
static int run_probe(struct group *gr)
{
	long units = (long)gr->p.batch * gr->p.kv_heads;  /* caches */
	size_t per = gr->probe_floats / (size_t)units;
	float sum = 0.0f;
	double t0;

	if (gr->probe_n == gr->probe_cap) {
		size_t cap = gr->probe_cap ? 2 * gr->probe_cap : 16;
		double *t = realloc(gr->probe_t, cap * sizeof *t);
		if (!t)
			return -1;
		gr->probe_t = t;
		gr->probe_cap = cap;
	}
	t0 = now_s();
	if (units >= gr->threads) {
		/* one cache a thread at a time, reread, as the decode kernel
		 * walks its caches through every token */
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : sum)
		for (long u = 0; u < units; u++)
			for (int k = 0; k < gr->probe_sweeps; k++)
				peak_read_one(gr->probe + (size_t)u * per, per, &sum);
	} else {
#pragma omp parallel reduction(+ : sum)
		for (int k = 0; k < gr->probe_sweeps; k++)
			peak_read(gr->probe, gr->probe_floats, &sum);
	}
	gr->probe_t[gr->probe_n++] = now_s() - t0;
	peak_sink = sum;
	return 0;
}

/* The selection step of a timed run: G from the inputs again, and the
 * kernel's views of it. The inputs are the same in every run, so is G
 * (ties go to the lower index): a different count is a bug, said as such. */
static int select_again(struct group *gr, struct slot *s)
{
	char why[256];
	long long nnz = gr->g.st.nnz_layouts;

	if (sel_run(&gr->pat, &gr->sel, &gr->g, why, sizeof why))
		return -1;
	if (s->kd->index && s->kd->index(&gr->p, s->ws))
		return -1;
	if (gr->g.st.nnz_layouts != nnz) {
		fprintf(stderr, "sabench: bug: pattern '%s' selected %lld pairs, then %lld, from the same inputs\n",
			gr->pat.label, nnz, gr->g.st.nnz_layouts);
		abort();
	}
	return 0;
}

/* Times one kernel run of slot s of gr, recording round r. */
static int time_one(struct run_state *st, struct group *gr, struct slot *s,
		    unsigned long long r)
{
	int n_ctr = st->ctr.n;
	double t0, t1;

	if (grow_samples(s, n_ctr))
		return -1;
	reset_slot(gr, s);
	memset(st->tally, 0, (size_t)gr->threads * sizeof *st->tally);
	ctr_start(&st->ctr);
	t0 = now_s();
	if (gr->selected && select_again(gr, s))
		return -1;
	s->sel_t[s->nt] = now_s() - t0;
	gr->p.tally = st->tally;
	run_once(gr, s);
	t1 = now_s();
	ctr_stop(&st->ctr);
	gr->p.tally = NULL;
	s->t[s->nt] = t1 - t0;
	s->round[s->nt] = r;
	for (int c = 0; c < n_ctr; c++)
		s->ctr[s->nt * (size_t)n_ctr + (size_t)c] = st->ctr.total[c];
	s->sum_t += t1 - t0;
	s->nt++;
	return 0;
}

/* Timed rounds over the kernels (and decode probes) of ng groups that
 * share a thread count, until every kernel has its repetitions and time:
 * each round runs each unfinished one once, in a seeded shuffled order. */
static int time_groups(struct run_state *st, struct group **grs, int ng)
{
	int n = 0, more = 1, rc = 0;
	int *order, *turn_g, *turn_s;           /* turn: (group, slot or -1 probe) */

	for (int g = 0; g < ng; g++)
		n += grs[g]->n + (grs[g]->probe != NULL);
	order = malloc((size_t)(n ? n : 1) * sizeof *order);
	turn_g = malloc((size_t)(n ? n : 1) * sizeof *turn_g);
	turn_s = malloc((size_t)(n ? n : 1) * sizeof *turn_s);
	if (!order || !turn_g || !turn_s)
		rc = -1;
	for (int g = 0, k = 0; !rc && g < ng; g++)
		for (int i = grs[g]->probe ? -1 : 0; i < grs[g]->n; i++, k++) {
			turn_g[k] = g;
			turn_s[k] = i;
			order[k] = k;
		}
	omp_set_num_threads(ng ? grs[0]->threads : 1);
	while (!rc && more) {
		unsigned long long r = st->round++;
		more = 0;
		shuffle(order, n, st->x->run.seed ^ (grs[0]->first << 20) ^ r);
		for (int i = 0; i < n && !rc; i++) {
			struct group *gr = grs[turn_g[order[i]]];
			struct slot *s;
			if (turn_s[order[i]] < 0) {
				if (group_needs_more(st->x, gr))
					rc = run_probe(gr);
				continue;
			}
			s = &gr->s[turn_s[order[i]]];
			if (!s->active || !slot_needs_more(st->x, s))
				continue;
			rc = time_one(st, gr, s, r);
			more |= slot_needs_more(st->x, s);
		}
	}
	free(order);
	free(turn_g);
	free(turn_s);
	return rc;
}

/* The element type a kernel's output is limited by: bf16 for the bf16
 * paths (P in bf16), its cache's for a decoder, else f32. */
static enum dtype verify_dtype(const struct slot *s, const struct problem *p)
{
	if (p->dtype == DT_BF16 && !s->kd->decode)
		return DT_BF16;
	return s->kd->decode ? p->kv_dtype : DT_F32;
}

/* Limits for a kernel's output: those of the dtype that bounds it. */
static double verify_abs(const struct slot *s, const struct problem *p)
{
	return dtype_of(verify_dtype(s, p))->max_abs;
}

static double verify_nmse(const struct slot *s, const struct problem *p)
{
	return dtype_of(verify_dtype(s, p))->max_nmse;
}

static void verify_slots(struct run_state *st, struct group *gr)
{
	struct verify_ref ref = { 0 };

	if (!st->x->run.verify)
		return;
	if (verify_prepare(&ref, &gr->p, st->x->run.verify_rows,
			   st->x->run.seed ^ gr->first)) {
		for (int i = 0; i < gr->n; i++)
			if (gr->s[i].prepared)
				snprintf(gr->s[i].status, sizeof gr->s[i].status,
					 "failed: out of memory for the oracle");
		return;
	}
	for (int i = 0; i < gr->n; i++) {
		struct slot *s = &gr->s[i];
		if (!s->prepared || !s->nt)
			continue;
		verify_check(&ref, &gr->p, s->o, verify_abs(s, &gr->p), verify_nmse(s, &gr->p), &s->vr);
		s->verified = s->vr.ok;
		if (!s->vr.ok)
			snprintf(s->status, sizeof s->status, "failed: %s", s->vr.why);
	}
	verify_free(&ref);
}

/* The memo key of a group: inputs, pattern and every shape field but
 * the thread count. */
static void memo_key(const struct group *gr, char *buf, size_t len)
{
	const long long *v = gr->sh.v;
	size_t off = (size_t)snprintf(buf, len, "%s|%s", gr->in->label, gr->pat.label);

	for (int f = 0; f < EXP_FIELD_COUNT && off < len; f++)
		if (f != EXP_THREADS)
			off += (size_t)snprintf(buf + off, len - off, "|%lld", v[f]);
}

/* quality.csv: one line per head of a freshly measured group. */
static int write_quality(struct run_state *st, const struct group *gr, struct err *e)
{
	const long long *v = gr->sh.v;

	for (int h = 0; h < gr->qual.heads; h++) {
		const struct quality_stats *q = &gr->qual.head[h];
		const char *type = gr->in->kind->head_type ? gr->in->kind->head_type(gr->in, h) : "";
		struct quality_line ql = {
			.experiment = st->x->name, .inputs = gr->in->label,
			.score = st->x->scores[v[EXP_SCORE]].label,
			.pattern = gr->pat.kind->name, .pattern_label = gr->pat.label,
			.mode = v[EXP_MODE] == EXP_DECODE ? "decode" : "prefill",
			.head_type = type, .seq_len = v[EXP_SEQ_LEN], .n_q = gr->p.n_q,
			.head_dim = v[EXP_HEAD_DIM], .batch = v[EXP_BATCH], .heads = v[EXP_HEADS],
			.kv_heads = v[EXP_KV_HEADS], .causal = v[EXP_CAUSAL], .head = h,
			.density = q->density, .recall_mean = q->recall_mean,
			.recall_min = q->recall_min, .recall_p10 = q->recall_p10,
			.recall_best_mean = q->best_mean, .recall_efficiency = q->efficiency,
			.out_err_mean = q->err_mean, .out_err_max = q->err_max,
			.quality_rows = q->rows,
		};
		if (res_write_quality(&st->res, &ql, e))
			return -1;
	}
	return 0;
}

/* Measures the group's G against dense (or takes the measure of a group
 * that differs only in threads), outside the timed runs. */
static int measure_quality(struct run_state *st, struct group *gr, struct err *e)
{
	struct quality_memo *m;
	char key[400];
	double t0, dt;

	if (!st->x->quality.enabled)
		return 0;
	memo_key(gr, key, sizeof key);
	for (size_t i = 0; i < st->n_memo; i++)
		if (!strcmp(st->memo[i].key, key)) {
			gr->qual = st->memo[i].q;
			gr->has_quality = 1;
			return 0;
		}
	t0 = now_s();
	if (quality_measure(&gr->p, st->x->quality.rows, st->x->run.seed ^ gr->first ^ 0x51ULL,
			    &gr->qual))
		return 0;               /* out of memory: the columns stay empty */
	gr->has_quality = 1;
	dt = now_s() - t0;
	st->sum->quality_s += dt;
	if (dt >= 1.0 && st->o->progress) {
		char line[600];
		snprintf(line, sizeof line, "quality of %s on %s at n = %ld: %ld rows in %.1f s",
			 gr->pat.label, gr->in->label, gr->p.n_kv, gr->qual.all.rows, dt);
		st->o->progress(line);
	}
	m = realloc(st->memo, (st->n_memo + 1) * sizeof *m);
	if (m) {
		st->memo = m;
		snprintf(m[st->n_memo].key, sizeof m[st->n_memo].key, "%s", key);
		m[st->n_memo++].q = gr->qual;
	} else {
		gr->has_quality = 0;
		quality_free(&gr->qual);
		return 0;
	}
	return write_quality(st, gr, e);
}

/* Writes dump files of the group and its cells when small enough
 * (out/dump.c). */
static int dump_group(struct run_state *st, struct group *gr, const char *dir,
		      struct err *e)
{
	struct dump_cell *cells = calloc((size_t)gr->n, sizeof *cells);
	int n = 0, rc;

	if (group_input_bytes(&gr->p) + 8.0 * (double)gr->g.st.nnz_layouts >
	    st->x->run.dump_limit_mb * 1048576.0) {
		free(cells);
		return 0;
	}
	if (!cells)
		return err_set(e, "out of memory dumping the group");
	for (int i = 0; i < gr->n; i++)
		if (gr->s[i].prepared)
			cells[n++] = (struct dump_cell){ gr->s[i].c->key, gr->s[i].c->index, gr->s[i].o };
	rc = dump_write(dir, &gr->p, &gr->g, gr->q, gr->k, gr->v, gr->s[0].c->group, cells, n, e);
	free(cells);
	return rc;
}

/* The decode columns of a row (empty in prefill). */
static void fill_decode(const struct group *gr, const struct slot *s,
			struct result_row *row)
{
	int decode = gr->sh.v[EXP_MODE] == EXP_DECODE;
	enum dtype t = s->kd->decode ? gr->p.kv_dtype : DT_F32;

	row->time_per_token_s = row->tokens_per_s = row->kv_bytes_per_token = row->kv_gbs = -1;
	row->probe_gbs = row->pct_bw = -1;
	row->kv_layout = row->kv_dtype = row->kv_note = "";
	row->decode_steps = 0;
	if (!decode)
		return;
	row->mode = "decode";
	row->decode_steps = gr->p.n_q;
	row->kv_layout = kv_layout_names[s->kd->decode ? gr->p.kv_layout : KV_FULL];
	row->kv_dtype = dtype_names[t];
	row->kv_note = s->kd->decode ? gr->layout_note : "";
	if (!gr->g.n_layouts)
		return;         /* no G (the pattern could not serve the cell) */
	row->kv_bytes_per_token = 2.0 * dtype_of(t)->bytes * gr->p.d / (double)gr->p.n_q *
				  (double)(s->kd->decode ? kvc_pairs_read(&gr->g, gr->p.heads, gr->p.kv_heads)
							 : gset_pairs(&gr->g, gr->p.heads));
}

/* The derived counter columns, from the counters that feed them. */
static void derive_counters(const struct run_state *st, const long long *med,
			    const int *ok, struct result_row *row)
{
	struct ctr_roles r;
	int n = st->ctr.n;

	row->ipc = row->flops_hw = row->flops_hw_ratio = -1;
	row->dram_bytes_hw = row->intensity_hw = -1;
	ctr_roles_of(st->x->counters, n, &r);
#define HAVE(i) ((i) >= 0 && ok[i])
	if (HAVE(r.cycles) && HAVE(r.instructions) && med[r.cycles] > 0)
		row->ipc = (double)med[r.instructions] / (double)med[r.cycles];
	if (HAVE(r.fp)) {
		row->flops_hw = (double)med[r.fp];
		if (row->flops_exec > 0)
			row->flops_hw_ratio = row->flops_hw / row->flops_exec;
	}
	if (HAVE(r.llc_miss)) {
		row->dram_bytes_hw = 64.0 * (double)med[r.llc_miss];
		if (row->flops_hw >= 0 && row->dram_bytes_hw > 0)
			row->intensity_hw = row->flops_hw / row->dram_bytes_hw;
	}
#undef HAVE
}

/* The probe's read bandwidth in the rounds the kernels ran, and the
 * kernel's share of it. */
static void fill_probe(const struct group *gr, struct result_row *row)
{
	struct stats_summary sum;
	double *t, med;

	if (!gr->probe_n || !(t = malloc(gr->probe_n * sizeof *t)))
		return;
	memcpy(t, gr->probe_t, gr->probe_n * sizeof *t);
	stats_summarise(t, gr->probe_n, &sum);
	med = sum.median;
	free(t);
	if (med <= 0)
		return;
	row->probe_gbs = 4.0 * (double)gr->probe_floats * gr->probe_sweeps / med * 1e-9;
	if (row->kv_gbs > 0)
		row->pct_bw = 100.0 * row->kv_gbs / row->probe_gbs;
}

/* The quality columns: the group's, the same in every kernel row. */
static void fill_quality(const struct group *gr, struct result_row *row)
{
	const struct quality_stats *q = &gr->qual.all;

	row->recall_mean = row->recall_min = row->recall_p10 = row->recall_best_mean = -1;
	row->recall_efficiency = row->out_err_mean = row->out_err_max = -1;
	row->quality_rows = 0;
	if (!gr->has_quality)
		return;
	row->recall_mean = q->recall_mean;
	row->recall_min = q->recall_min;
	row->recall_p10 = q->recall_p10;
	row->recall_best_mean = q->best_mean;
	row->recall_efficiency = q->efficiency;
	row->out_err_mean = q->err_mean;
	row->out_err_max = q->err_max;
	row->quality_rows = q->rows;
}

/* Median of x[0, n) (x is left as it was). */
static double median_of(const double *x, size_t n)
{
	struct stats_summary sum;
	double *t = n ? malloc(n * sizeof *t) : NULL;

	if (!t)
		return -1;
	memcpy(t, x, n * sizeof *t);
	stats_summarise(t, n, &sum);
	free(t);
	return sum.median;
}

static void fill_row(const struct run_state *st, const struct group *gr,
		     const struct slot *s, long long *ctr_med, int *ctr_ok,
		     struct result_row *row)
{
	const struct ctr_set *cs = &st->ctr;
	enum kern_isa isa = kern_desc_isa(s->kd, gr->sh.v[EXP_DTYPE] == DT_BF16);
	const struct gset_stats *g = &gr->g.st;
	const long long *v = gr->sh.v;
	struct stats_summary t;
	double *times = s->nt ? malloc(s->nt * sizeof *times) : NULL;

	memset(row, 0, sizeof *row);
	row->experiment = gr->x->name;
	row->cell = s->c->key;
	row->pattern = gr->pat.kind->name;
	row->pattern_label = gr->pat.label;
	row->kernel = s->kd->name;
	row->inputs = gr->in->label;
	row->score = gr->x->scores[v[EXP_SCORE]].label;
	fill_quality(gr, row);
	row->mode = "prefill";
	row->dtype = exp_dtype_name(v[EXP_DTYPE]);
	row->isa = s->kd->simd ? kern_isa_name(isa) : "compiler";
	row->pct_peak = -1;
	fill_decode(gr, s, row);
	row->causal = v[EXP_CAUSAL];
	row->batch = v[EXP_BATCH];
	row->heads = v[EXP_HEADS];
	row->kv_heads = v[EXP_KV_HEADS];
	row->seq_len = v[EXP_SEQ_LEN];
	row->n_q = gr->p.n_q;
	row->head_dim = v[EXP_HEAD_DIM];
	row->threads = v[EXP_THREADS];
	row->nnz = g->nnz;
	row->density = g->density;
	row->row_min = g->row_min;
	row->row_max = g->row_max;
	row->row_mean = g->row_mean;
	row->empty_rows = g->empty_rows;
	row->flops = s->m.flops;
	row->flops_exec = s->m.flops_exec;
	row->bytes_min = s->m.bytes_min;
	row->bytes_gather = s->m.bytes_gather;
	row->kv_cache_bytes = s->m.kv_cache_bytes;
	row->score_bytes = s->m.score_bytes;
	row->pattern_bytes = s->m.pattern_bytes;
	row->workspace_bytes = s->m.workspace_bytes;
	row->intensity = s->m.bytes_min > 0 ? s->m.flops / s->m.bytes_min : 0;
	row->select_s = -1;
	row->select_flops = gr->selected ? gr->sel_cost.flops : -1;
	row->select_bytes = gr->selected ? gr->sel_cost.bytes : -1;
	row->status = s->status;
	row->verified = s->verified < 0 ? "" : s->verified ? "yes" : "no";
	row->n_ctr = cs->n;
	row->ctr = ctr_med;
	row->ctr_ok = ctr_ok;
	row->timed = s->nt > 0 && times;
	if (!row->timed) {
		free(times);
		return;
	}
	memcpy(times, s->t, s->nt * sizeof *times);
	stats_summarise(times, s->nt, &t);
	free(times);
	row->reps = (long long)s->nt;
	row->time_min_s = t.min;
	row->time_median_s = t.median;
	row->time_mean_s = t.mean;
	row->time_p90_s = t.p90;
	row->time_max_s = t.max;
	row->time_cv = t.cv;
	if (gr->selected)
		row->select_s = median_of(s->sel_t, s->nt);
	row->gflops = s->m.flops / t.median * 1e-9;
	row->gflops_exec = s->m.flops_exec / t.median * 1e-9;
	row->gbs = s->m.bytes_min / t.median * 1e-9;
	if (row->decode_steps) {
		row->time_per_token_s = t.median / (double)row->decode_steps;
		row->tokens_per_s = (double)(row->batch * row->decode_steps) / t.median;
		row->kv_gbs = row->kv_bytes_per_token * (double)(row->batch * row->decode_steps) /
			      t.median * 1e-9;
		fill_probe(gr, row);
	}
	if (st->peaks && machine_peak(st->peaks, isa, (int)row->threads) > 0)
		row->pct_peak = 100.0 * row->gflops /
				machine_peak(st->peaks, isa, (int)row->threads);
	row->peak_rss_bytes = s->peak_rss;
	derive_counters(st, ctr_med, ctr_ok, row);
	row->max_abs_err = s->vr.max_abs_err;
	row->nmse = s->vr.nmse;
}

/* Median of counter c over the slot's repetitions. */
static long long counter_median(const struct slot *s, int c, int n_ctr)
{
	long long *tmp = malloc((s->nt ? s->nt : 1) * sizeof *tmp), med;

	if (!tmp)
		return 0;
	for (size_t r = 0; r < s->nt; r++)
		tmp[r] = s->ctr[r * (size_t)n_ctr + (size_t)c];
	med = stats_median_ll(tmp, s->nt);
	free(tmp);
	return med;
}

static void progress(struct run_state *st, const struct slot *s,
		     const struct result_row *row)
{
	char line[768], timing[96] = "";
	double el = now_s() - st->t0, t = row->time_median_s;
	/* what is left, by the cells' estimated cost rather than their count */
	double left = st->cost_done > 0 ? el * (st->cost_total - st->cost_done) / st->cost_done : 0;

	if (!st->o->progress)
		return;
	if (row->timed)
		snprintf(timing, sizeof timing, " %.3g %s (cv %.1f%%%s)",
			 t >= 1 ? t : t * 1e3, t >= 1 ? "s" : "ms", row->time_cv * 100,
			 row->time_cv > 0.05 ? ", noisy" : "");
	snprintf(line, sizeof line, "[%zu/%zu] %s%s %s  elapsed %.0fs, ~%.0fs left",
		 st->cells_seen + st->sum->resumed, st->sum->cells, s->c->key,
		 timing, s->status, el, left);
	st->o->progress(line);
}

static int write_group(struct run_state *st, struct group *gr, struct err *e)
{
	long long med[CTR_MAX];
	int ok[CTR_MAX];

	for (int i = 0; i < gr->n; i++) {
		struct slot *s = &gr->s[i];
		struct result_row row;
		for (int c = 0; c < st->ctr.n; c++) {
			ok[c] = st->ctr.ev[c].counted;
			med[c] = s->nt ? counter_median(s, c, st->ctr.n) : 0;
		}
		for (size_t r = 0; r < s->nt; r++) {
			for (int c = 0; c < st->ctr.n; c++)
				st->ctr.total[c] = s->ctr[r * (size_t)st->ctr.n + (size_t)c];
			if (res_write_sample(&st->res, st->x->name, s->c->key,
					     s->kd->name, (int)r, s->round[r], s->t[r], &st->ctr, e))
				return -1;
		}
		fill_row(st, gr, s, med, ok, &row);
		if (res_write_row(&st->res, &row, e))
			return -1;
		if (!strncmp(s->status, "ok", 2))
			st->sum->ok++;
		else if (!strncmp(s->status, "skipped", 7))
			st->sum->skipped++;
		else
			st->sum->failed++;
		st->cells_seen++;
		st->cost_done += plan_cell_cost(st->x, s->c);
		progress(st, s, &row);
	}
	return 0;
}

static void free_group(struct group *gr)
{
	for (int i = 0; i < gr->n; i++) {
		struct slot *s = &gr->s[i];
		if (s->prepared && s->kd->release)
			s->kd->release(s->ws);
		free(s->o);
		free(s->t);
		free(s->ctr);
		free(s->round);
		free(s->sel_t);
	}
	free(gr->s);
	free(gr->q_hist);
	free(gr->probe);
	free(gr->probe_t);
	free(gr->q);
	free(gr->k);
	free(gr->v);
	free(gr->q16);
	free(gr->k16);
	free(gr->v16);
	gset_free(&gr->g);
	score_free(&gr->score);
	if (gr->sel.state)
		sel_release(&gr->pat, &gr->sel);
	pat_free(&gr->pat);
	memset(gr, 0, sizeof *gr);
}

/* Sets up the slots of the pending cells [first, first + n). */
static int group_slots(struct run_state *st, struct group *gr, size_t first,
		       size_t n)
{
	gr->s = calloc(n, sizeof *gr->s);
	if (!gr->s)
		return -1;
	for (size_t i = first; i < first + n; i++) {
		const struct cell *c = &st->pl->cell[i];
		struct slot *s;
		const char *why;
		if (res_is_done(&st->res, c->key))
			continue;
		s = &gr->s[gr->n++];
		s->c = c;
		s->kd = st->x->kern[c->kern];
		s->active = 1;
		s->verified = -1;
		snprintf(s->status, sizeof s->status, "ok");
		why = s->kd->unavailable ? s->kd->unavailable() : NULL;
		if (!why && c->sh.v[EXP_DTYPE] == DT_BF16)
			why = s->kd->no_bf16 ? s->kd->no_bf16() : NULL;
		if (why)
			skip_slot(s, "skipped: %s", why);
	}
	return 0;
}

static void problem_from_shape(struct group *gr)
{
	const long long *v = gr->sh.v;

	gr->p.batch = (int)v[EXP_BATCH];
	gr->p.heads = (int)v[EXP_HEADS];
	gr->p.kv_heads = (int)v[EXP_KV_HEADS];
	gr->p.n_kv = (long)v[EXP_SEQ_LEN];
	gr->p.n_q = v[EXP_MODE] == EXP_DECODE ? (long)v[EXP_DECODE_STEPS] : gr->p.n_kv;
	gr->p.d = (int)v[EXP_HEAD_DIM];
	gr->p.g = &gr->g;
	gr->p.kv_dtype = (enum dtype)v[EXP_KV_DTYPE];
	gr->p.dtype = (enum dtype)v[EXP_DTYPE];
	gr->p.kv_layout = KV_FULL;
}

/* The decode cache layout of each bounded cache a pattern kind names. */
static const enum kv_layout cache_layout[] = {
	[PAT_CACHE_FULL] = KV_FULL,
	[PAT_CACHE_RING] = KV_RING,
	[PAT_CACHE_SINK_RING] = KV_SINK_RING,
};
static_assert(sizeof cache_layout / sizeof *cache_layout == PAT_CACHE_COUNT,
	      "cache_layout: one per enum pat_cache");

/* The bounded layout that fits the pattern's own shape (auto): what its
 * kind's descriptor names. */
static enum kv_layout natural_layout(const struct pattern *p)
{
	return cache_layout[p->kind->cache];
}

/* Decode groups: the cache layout (the one asked for, or the pattern's
 * own with auto; full when a bounded one would not be exact, with a note)
 * and which kernels can run. */
static void plan_decode(struct group *gr)
{
	long long asked = gr->sh.v[EXP_KV_LAYOUT];
	enum kv_layout l = asked == EXP_KV_AUTO ? natural_layout(&gr->pat) : (enum kv_layout)asked;
	long sinks = gr->pat.kind->pinned_rows ? gr->pat.kind->pinned_rows(&gr->pat) : 0;
	long ring = pat_kv_rows(&gr->pat, gr->p.n_kv) - sinks;

	gr->layout_note[0] = 0;
	gr->p.kv_sinks = l == KV_SINK_RING ? (int)sinks : 0;
	gr->p.kv_ring = ring > 0 ? ring : 1;
	if (!kvc_serves(&gr->g, l, gr->p.kv_ring, gr->p.kv_sinks)) {
		snprintf(gr->layout_note, sizeof gr->layout_note,
			 "%s cannot serve '%s' exactly; used full", kv_layout_names[l], gr->pat.label);
		l = KV_FULL;
	}
	gr->p.kv_layout = l;
	for (int i = 0; i < gr->n; i++) {
		struct slot *s = &gr->s[i];
		if (!s->active)
			continue;
		if (s->kd->decode && !gr->g.causal)
			skip_slot(s, "skipped: %s", "decode needs a causal pattern");
		else if (!s->kd->decode && (gr->p.kv_dtype != DT_F32 ||
					    (asked != EXP_KV_AUTO && asked != KV_FULL)))
			skip_slot(s, "skipped: %s", "reads K/V as full f32 arrays; kv_layout and kv_dtype need the decode kernel");
	}
}

static int open_counters(struct run_state *st, int threads, struct err *e)
{
	char line[400];

	if (st->ctr_open && st->ctr.threads == threads)
		return 0;
	if (st->ctr_open)
		ctr_close(&st->ctr);
	st->ctr_open = 0;
	if (ctr_open(&st->ctr, st->x->counters, st->x->n_counters, threads, e))
		return -1;
	st->ctr_open = 1;
	for (int i = 0; i < st->ctr.n && !st->warned_counters; i++) {
		if (st->ctr.ev[i].counted)
			continue;
		snprintf(line, sizeof line,
			 "counter '%s' is not available here; its column stays empty (%s)",
			 st->ctr.ev[i].name, st->ctr.ev[i].why);
		if (st->o->warn)
			st->o->warn(line);
	}
	st->warned_counters = 1;
	return 0;
}

/* Bytes of K/V the group's cache holds: what the decode kernel's layout
 * allocates (a ring holds a window, a full cache every row), else the
 * pattern's KV horizon. The probe reads as much. */
static double group_kv_bytes(const struct group *gr)
{
	double bytes = 0.0;

	for (int i = 0; i < gr->n; i++)
		if (gr->s[i].active && (gr->s[i].kd->decode || bytes == 0.0) &&
		    gr->s[i].m.kv_cache_bytes > bytes)
			bytes = gr->s[i].m.kv_cache_bytes;
	return bytes;
}

/* Decode groups: a buffer of the cache's size for the read probe, touched
 * by the team first (so the probe is beyond the LLC when the cache is, and
 * in it when a ring fits there). No probe when it does not fit in memory;
 * probe_gbs and pct_bw then stay empty. */
static void open_probe(struct group *gr)
{
	size_t floats = (size_t)(group_kv_bytes(gr) / 4.0);

	if (gr->sh.v[EXP_MODE] != EXP_DECODE || !floats ||
	    (double)floats * 4.0 > 0.5 * runner_mem_available())
		return;
	gr->probe = alloc_floats(floats);
	if (!gr->probe)
		return;
	gr->probe_floats = floats / (size_t)(gr->p.batch * gr->p.kv_heads) *
			   (size_t)(gr->p.batch * gr->p.kv_heads);     /* whole caches */
	if (!gr->probe_floats) {
		free(gr->probe);
		gr->probe = NULL;
		return;
	}
	/* a cache the decode steps reread gets as many sweeps (each thread
	 * its own part, as the kernel splits its caches), up to 256 MiB a run:
	 * long enough to time, short enough not to double the run */
	gr->probe_sweeps = (int)((256.0 * 1048576.0) / (4.0 * (double)floats)) + 1;
	floats = gr->probe_floats;
	if (gr->probe_sweeps > gr->p.n_q)
		gr->probe_sweeps = (int)gr->p.n_q;
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < floats; i++)
		gr->probe[i] = 1.0f;
}

/* bf16 copy of x[0, n), x rounded to the values it holds: the oracle
 * and the kernels that widen read x, the bf16 paths the copy. */
static uint16_t *to_bf16(float *x, size_t n)
{
	uint16_t *h = malloc((n ? n : 1) * sizeof *h);

	if (h)
		kern_bf16_inputs(x, h, n);
	return h;
}

/* Rounds the inputs to bf16 once, untimed (the inputs are made in fp32,
 * as a model's are before it casts them). */
static int inputs_to_bf16(struct group *gr)
{
	const struct problem *p = &gr->p;
	size_t nq = (size_t)p->batch * p->heads * p->n_q * p->d;
	size_t nkv = (size_t)p->batch * p->kv_heads * p->n_kv * p->d;

	if (gr->q_hist)
		free(to_bf16(gr->q_hist, (size_t)p->batch * p->heads * (size_t)gr->sel.n_hist * p->d));
	gr->q16 = to_bf16(gr->q, nq);
	gr->k16 = to_bf16(gr->k, nkv);
	gr->v16 = to_bf16(gr->v, nkv);
	gr->p.q16 = gr->q16;
	gr->p.k16 = gr->k16;
	gr->p.v16 = gr->v16;
	return gr->q16 && gr->k16 && gr->v16 ? 0 : -1;
}

/* Makes the group's inputs (and their bf16 copies when the dtype is):
 * NULL, or why it could not. */
static const char *make_inputs(struct run_state *st, struct group *gr)
{
	double t_in = now_s();
	int in_rc = group_inputs(gr, st->x->run.seed);

	if (!in_rc && gr->p.dtype == DT_BF16 && inputs_to_bf16(gr))
		in_rc = -1;

	st->sum->inputs_s += now_s() - t_in;
	if (!in_rc)
		return NULL;
	return in_rc == -1 ? "out of memory for the inputs" : "its inputs cannot fill this shape";
}

/* A selected pattern's first selection, untimed: its inputs are made
 * first (with the history rows it reads), and the G it gives sizes the
 * model and the kernels' workspaces. -1 with why when it cannot run. */
static int select_first(struct run_state *st, struct group *gr, char *why, size_t len)
{
	int decode = gr->sh.v[EXP_MODE] == EXP_DECODE;
	const char *no = sel_unservable(&gr->pat, &gr->p, decode, why, len);

	if (no)
		return -1;
	gr->sel = (struct sel_input){ .p = &gr->p, .decode = decode, .ops = kern_simd(),
		.n_hist = sel_history(&gr->pat, gr->p.n_q, gr->p.n_kv, decode) };
	if ((no = make_inputs(st, gr)))
		return snprintf(why, len, "%s", no), -1;
	sel_cost(&gr->pat, &gr->p, decode, &gr->sel_cost);
	if (sel_prepare(&gr->pat, &gr->sel))
		return snprintf(why, len, "out of memory preparing pattern '%s'", gr->pat.label), -1;
	if (sel_run(&gr->pat, &gr->sel, &gr->g, why, len))
		return -1;
	if (gset_count_keys(&gr->g))        /* for the model; the timed runs skip it */
		return snprintf(why, len, "out of memory selecting pattern '%s'", gr->pat.label), -1;
	return 0;
}

/* The group's score function, made once outside the timed runs as a
 * model keeps its bias tables; plain leaves p.score NULL. */
static int make_score(const struct experiment *x, struct group *gr)
{
	const struct score_spec *spec = &x->scores[gr->sh.v[EXP_SCORE]];

	gr->p.score = NULL;
	if (spec->kind == SCORE_PLAIN)
		return 0;
	if (score_make(&gr->score, spec, gr->p.heads, gr->p.d, gr->p.n_kv, (int)gr->sh.v[EXP_CAUSAL]))
		return -1;
	gr->p.score = &gr->score;
	return 0;
}

/* Opens the cells [first, first + n) as a group: G-set, cost models,
 * inputs, prepared kernels, the decode probe. Cells that cannot run get
 * their status; 0, or -1 with e set when the run cannot go on. */
static int group_open(struct run_state *st, struct group *gr, size_t first,
		      size_t n, struct err *e)
{
	char why[256];
	const char *no;
	long kv_rows;

	*gr = (struct group){ .x = st->x, .first = first, .in = &st->x->inputs[st->pl->cell[first].inp] };
	if (group_slots(st, gr, first, n))
		return err_set(e, "out of memory setting up a group of cells");
	if (!gr->n)
		return 0;
	gr->sh = st->pl->cell[first].sh;
	gr->threads = (int)gr->sh.v[EXP_THREADS];
	omp_set_num_threads(gr->threads);
	problem_from_shape(gr);
	if (make_score(st->x, gr))
		return err_set(e, "out of memory making the score function '%s'",
			       st->x->scores[gr->sh.v[EXP_SCORE]].label);
	if (pat_copy(&gr->pat, &st->x->pat[st->pl->cell[first].pat]))
		return err_set(e, "out of memory setting up a group of cells");
	pat_set_causal(&gr->pat, (int)gr->sh.v[EXP_CAUSAL]);
	if (open_counters(st, gr->threads, e))
		return -1;
	gr->selected = pat_selected(&gr->pat);
	if (gr->selected ? select_first(st, gr, why, sizeof why)
			 : gset_build(&gr->g, &gr->pat, gr->p.n_q, gr->p.n_kv, gr->p.heads, why, sizeof why)) {
		for (int i = 0; i < gr->n; i++)
			if (gr->s[i].active)
				skip_slot(&gr->s[i], "skipped: %s", why);
		return 0;
	}
	/* a selected G's decoder keeps the keys any row reads */
	kv_rows = gr->selected ? (long)gr->g.st.keys_used : pat_kv_rows(&gr->pat, gr->p.n_kv);
	if (gr->sh.v[EXP_MODE] == EXP_DECODE)
		plan_decode(gr);
	else
		for (int i = 0; i < gr->n; i++)
			if (gr->s[i].active && gr->s[i].kd->decode)
				skip_slot(&gr->s[i], "skipped: %s", "runs in mode decode only");
	for (int i = 0; i < gr->n; i++)
		if (gr->s[i].active)
			model_cell(&gr->p, gr->s[i].kd, gr->threads, kv_rows, &gr->s[i].m);
	fit_memory(gr);
	if (!gr->selected && (no = make_inputs(st, gr))) {
		for (int i = 0; i < gr->n; i++)
			if (gr->s[i].active)
				skip_slot(&gr->s[i], "skipped: %s", no);
		return 0;
	}
	prepare_slots(st, gr, gr->threads);
	open_probe(gr);
	gr->opened = 1;
	return 0;
}

/* After timing (timed 0: it failed, e set): verification, quality, dumps,
 * the rows; frees the group. */
static int group_close(struct run_state *st, struct group *gr, int timed,
		       struct err *e)
{
	int rc = timed ? 0 : -1;

	if (!rc && gr->opened) {
		omp_set_num_threads(gr->threads);
		verify_slots(st, gr);
		rc = measure_quality(st, gr, e);
		if (!rc && (st->o->dump_dir || st->x->run.dump))
			rc = dump_group(st, gr, st->o->dump_dir ? st->o->dump_dir : st->x->run.dump, e);
	}
	if (!rc && gr->n)
		rc = write_group(st, gr, e);
	free_group(gr);
	return rc;
}

/* Times the open groups of a batch together and closes them. */
static int run_batch(struct run_state *st, struct group *grs, int ng, struct err *e)
{
	struct group **open = malloc((size_t)(ng ? ng : 1) * sizeof *open);
	int n_open = 0, timed = 1, rc = 0;
	char line[160];

	if (!open)
		timed = 0, err_set(e, "out of memory timing a group of cells");
	for (int g = 0; open && g < ng; g++)
		if (grs[g].opened)
			open[n_open++] = &grs[g];
	if (n_open > 1 && st->o->progress) {
		snprintf(line, sizeof line, "timing %d groups round by round together (interleave: across_groups)",
			 n_open);
		st->o->progress(line);
	}
	if (open && n_open && time_groups(st, open, n_open)) {
		timed = 0;
		err_set(e, "out of memory recording samples");
	}
	for (int g = 0; g < ng; g++)
		if (group_close(st, &grs[g], timed, e))
			rc = -1;
	free(open);
	return rc;
}

static int write_manifest(struct run_state *st, const char *status,
			  const char *reason, time_t start, time_t end,
			  struct err *e)
{
	struct manifest m = {
		.x = st->x, .status = status, .reason = reason, .start = start,
		.end = end, .cells = st->sum->cells, .resumed = st->sum->resumed,
		.ok = st->sum->ok, .skipped = st->sum->skipped,
		.failed = st->sum->failed, .ctr = st->ctr_open ? &st->ctr : NULL,
		.machine_file = st->peaks ? st->machine_file : NULL,
		.shard_k = st->o->shard_k, .shard_n = st->o->shard_n,
	};
	return manifest_write(st->o->out_dir, &m, e);
}

/* A shard's cells.txt: the keys of the cells it was dealt, so that merge
 * can tell a missing cell from one that was never this shard's. */
static int write_shard_cells(const char *dir, const struct plan *pl, struct err *e)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/cells.txt", dir);
	f = fopen(path, "w");
	if (!f)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	for (size_t i = 0; i < pl->n; i++)
		fprintf(f, "%s\n", pl->cell[i].key);
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

/* Loads the machine's ceilings for pct_peak: $SABENCH_MACHINE, else
 * results/machine.yaml; a run without them leaves pct_peak empty. */
static void load_peaks(struct run_state *st, const struct run_opts *o)
{
	struct err e;
	int rc;

	st->machine_file = getenv("SABENCH_MACHINE") ? getenv("SABENCH_MACHINE")
						     : "results/machine.yaml";
	st->peaks = malloc(sizeof *st->peaks);
	if (!st->peaks)
		return;
	rc = machine_load(st->machine_file, st->peaks, &e);
	if (rc < 0 && o->warn)
		o->warn(e.msg);
	if (rc) {
		free(st->peaks);
		st->peaks = NULL;
	}
}

/* Bytes a group of the cell at index i will hold, roughly: its inputs,
 * one output per kernel, a decode cache and its probe. */
static double group_bytes_estimate(const struct run_state *st, size_t i, size_t n)
{
	const long long *v = st->pl->cell[i].sh.v;
	double q = (double)v[EXP_BATCH] * v[EXP_HEADS] * v[EXP_HEAD_DIM] *
		   (double)(v[EXP_MODE] == EXP_DECODE ? v[EXP_DECODE_STEPS] : v[EXP_SEQ_LEN]);
	double kv = 2.0 * v[EXP_BATCH] * v[EXP_KV_HEADS] * v[EXP_HEAD_DIM] * (double)v[EXP_SEQ_LEN];

	return 4.0 * (q * (1.0 + (double)n) + kv * (v[EXP_MODE] == EXP_DECODE ? 3.0 : 1.0));
}

/* The cells [i, *j) of the group starting at i. */
static size_t group_end(const struct plan *pl, size_t i)
{
	size_t j = i;

	while (j < pl->n && pl->cell[j].group == pl->cell[i].group)
		j++;
	return j;
}

/* Runs every group in plan order until done or interrupted: one at a time,
 * or with run: {interleave: across_groups} as many consecutive groups of
 * one thread count as fit in memory (at most 64), timed round by round
 * together. */
static int run_groups(struct run_state *st, struct err *e)
{
	int across = st->x->run.interleave == EXP_INTERLEAVE_ACROSS;
	int cap = across ? 64 : 1, ng = 0, rc = 0;
	struct group *grs = calloc((size_t)cap, sizeof *grs);
	size_t i = 0;

	if (!grs)
		return err_set(e, "out of memory setting up a group of cells");
	while (i < st->pl->n && !stop_requested) {
		size_t j = group_end(st->pl, i);
		/* a batch is full, or the next group needs another thread
		 * count or more memory than is left: time what is open */
		if (ng && (ng == cap || st->pl->cell[i].sh.v[EXP_THREADS] != grs[0].sh.v[EXP_THREADS] ||
			   group_bytes_estimate(st, i, j - i) > 0.7 * runner_mem_available())) {
			if ((rc = run_batch(st, grs, ng, e)))
				break;
			ng = 0;
			continue;
		}
		if ((rc = group_open(st, &grs[ng], i, j - i, e))) {
			struct err e2;
			for (int g = 0; g <= ng; g++)   /* the run stops: nothing timed is lost */
				group_close(st, &grs[g], 0, &e2);
			ng = 0;
			break;
		}
		ng++;
		i = j;
	}
	if (!rc && ng)
		rc = run_batch(st, grs, ng, e);
	free(grs);
	st->sum->interrupted = i < st->pl->n;
	return rc;
}

/* Resume: every cell the folder holds must be a cell of this plan; a
 * folder of another grid is refused (its rows and the manifest this run
 * writes would not describe one experiment). */
static int check_resumed_grid(const struct results *res, const struct plan *pl,
			      const char *dir, struct err *e)
{
	struct keyset planned = { 0 };
	size_t foreign = 0, first = 0;
	int rc = 0;

	for (size_t i = 0; i < pl->n && !rc; i++)
		rc = keyset_add(&planned, pl->cell[i].key);
	keyset_sort(&planned);
	for (size_t i = 0; !rc && i < res->done.n; i++)
		if (!keyset_has(&planned, res->done.key[i]) && !foreign++)
			first = i;
	keyset_free(&planned);
	if (rc)
		return err_set(e, "out of memory checking the resumed cells");
	if (!foreign)
		return 0;
	err_set(e, "cannot resume '%s': it holds %zu cell(s) this experiment does not have (first '%s'); the grid changed: use --force to start over, or -o for a new folder",
		dir, foreign, res->done.key[first]);
	e->usage = 1;
	return -1;
}

/* Opens what a run needs before its first cell: the dump folder, PAPI, the
 * results folder (checked against the plan when resumed) and a shard's
 * cell list; what is left open is closed by runner_run's one exit. */
static int open_run(struct run_state *st, const char *dump, struct err *e)
{
	const struct run_opts *o = st->o;

	if (dump && (res_make_dirs(o->out_dir, e) || dump_open(dump, o->out_dir, e)))
		return -1;
	if (ctr_library_init(st->tally, CTR_MAX_THREADS, e) ||
	    res_open(&st->res, o->out_dir, st->x, o->mode, e))
		return -1;
	st->res_open = 1;
	if (check_resumed_grid(&st->res, st->pl, o->out_dir, e) ||
	    (dump && dump_keep(dump, o->mode, &st->res.done, e)))
		return -1;
	return o->shard_n > 0 ? write_shard_cells(o->out_dir, st->pl, e) : 0;
}

/* The final manifest: complete, or interrupted with the reason (an error
 * stops a run like a signal: finished rows stay, --resume goes on); on a
 * full disk its status is changed in place. Returns rc, or -1. */
static int close_manifest(struct run_state *st, int rc, time_t start, struct err *e)
{
	const char *status = rc || st->sum->interrupted ? "interrupted" : "complete";
	const char *why = rc ? e->msg : st->sum->interrupted ? "stopped by a signal" : NULL;
	struct err e2, e3;

	if (!write_manifest(st, status, why, start, time(NULL), rc ? &e2 : e))
		return rc;
	if (manifest_mark(st->o->out_dir, status, why ? why : (rc ? e2.msg : e->msg), &e3) && !rc)
		*e = e3;
	return -1;
}

int runner_run(const struct experiment *x, const struct run_opts *o,
	       struct run_summary *sum, struct err *e)
{
	struct run_state st = { .x = x, .o = o, .sum = sum };
	struct plan pl = { 0 };
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	time_t start = time(NULL);
	const char *dump = o->dump_dir ? o->dump_dir : x->run.dump;
	int rc;

	memset(sum, 0, sizeof *sum);
	st.t0 = now_s();
	st.pl = &pl;
	rc = plan_build(x, &pl, e);
	if (!rc && o->shard_n > 0)
		rc = plan_shard(x, &pl, o->shard_k, o->shard_n, e);
	st.tally = rc ? NULL : aligned_alloc(64, CTR_MAX_THREADS * sizeof *st.tally);
	if (!rc && !st.tally)
		rc = err_set(e, "out of memory setting up a group of cells");
	if (!rc) {
		memset(st.tally, 0, CTR_MAX_THREADS * sizeof *st.tally);
		sum->cells = pl.n;
		rc = open_run(&st, dump, e);
	}
	if (!rc) {
		sum->resumed = st.res.done.n;
		for (size_t i = 0; i < pl.n; i++)
			if (!res_is_done(&st.res, pl.cell[i].key))
				st.cost_total += plan_cell_cost(x, &pl.cell[i]);
		if (st.res.note[0] && o->warn)
			o->warn(st.res.note);
		load_peaks(&st, o);
		stop_requested = 0;
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		rc = write_manifest(&st, "running", NULL, start, 0, e);
		if (!rc)
			rc = run_groups(&st, e);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		rc = close_manifest(&st, rc, start, e);
	}
	/* the one exit: everything opened above is closed here */
	if (st.ctr_open)
		ctr_close(&st.ctr);
	for (size_t i = 0; i < st.n_memo; i++)
		quality_free(&st.memo[i].q);
	free(st.memo);
	free(st.peaks);
	if (st.res_open)
		res_close(&st.res);
	free(st.tally);
	plan_free(&pl);
	sum->wall_s = now_s() - st.t0;
	return rc;
}
