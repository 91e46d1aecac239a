/* runner.c - runs the plan group by group. A group is the cells that share
 * one shape, thread count, inputs and pattern variant: their tensors and
 * G-set are made once, then every kernel of the group is timed interleaved
 * (each round runs each unfinished kernel once, in a seeded shuffled order)
 * so that slow drift of a shared host hits all of them alike; after timing,
 * verification, then quality (once per group, reused across thread
 * counts). */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
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
#include "../report/dump.h"
#include "../report/manifest.h"
#include "../quality/quality.h"
#include "../counters.h"
#include "../stats.h"
#include "e2e.h"
#include "group.h"
#include "machine.h"
#include "model.h"
#include "runner.h"
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

/* The selection step of a timed run: G from the inputs again, and the
 * kernel's views of it. The inputs are the same in every run, so is G
 * (ties go to the lower index): a different count is a bug, said as such. */
static int select_again(struct group *gr, struct slot *s)
{
	char why[256];
	long long nnz = gr->g.st.nnz_layouts, size = gset_vslash_size(&gr->g);
	int rc;

	/* a kernel that reads the compact form is selected for in that form */
	gr->sel.compact = s->kd->reads_compact && s->kd->reads_compact(&gr->p);
	rc = sel_run(&gr->pat, &gr->sel, &gr->g, why, sizeof why);
	gr->sel.compact = 0;
	if (rc || (s->kd->index && s->kd->index(&gr->p, s->ws)))
		return -1;
	if (gr->g.st.nnz_layouts != nnz || gset_vslash_size(&gr->g) != size) {
		fprintf(stderr, "sabench: bug: pattern '%s' selected %lld pairs (%lld columns and offsets), "
			"then %lld (%lld), from the same inputs\n", gr->pat.label, nnz, size,
			gr->g.st.nnz_layouts, gset_vslash_size(&gr->g));
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
	run_reset_slot(gr, s);
	memset(st->tally, 0, (size_t)gr->threads * sizeof *st->tally);
	ctr_start(&st->ctr);
	t0 = run_now_s();
	if (gr->selected && select_again(gr, s))
		return -1;
	s->sel_t[s->nt] = run_now_s() - t0;
	gr->p.tally = st->tally;
	run_once(gr, s);
	t1 = run_now_s();
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
		if (run_group_close(st, &grs[g], timed, e))
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

/* A shard's cells.txt: the cells it was dealt, a line each (plan index,
 * key and quality group, tab-separated), so that merge can tell a missing
 * cell from one that was never this shard's and lay rows and quality
 * lines in the single run's order. */
static int write_shard_cells(const struct experiment *x, const char *dir, const struct plan *pl,
			     struct err *e)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/cells.txt", dir);
	f = fopen(path, "w");
	if (!f)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	for (size_t i = 0; i < pl->n; i++) {
		char group[300];
		plan_quality_key(x, &pl->cell[i], group, sizeof group);
		fprintf(f, "%zu\t%s\t%s\n", pl->cell[i].index, pl->cell[i].key, group);
	}
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
		   (double)exp_n_q(v);
	double kv = 2.0 * v[EXP_BATCH] * v[EXP_KV_HEADS] * v[EXP_HEAD_DIM] * (double)v[EXP_SEQ_LEN];

	return 4.0 * (q * (1.0 + (double)n) + kv * (exp_mode_of(v[EXP_MODE])->cached ? 3.0 : 1.0));
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
		if ((rc = run_group_open(st, &grs[ng], i, j - i, e))) {
			struct err e2;
			for (int g = 0; g <= ng; g++)   /* the run stops: nothing timed is lost */
				run_group_close(st, &grs[g], 0, &e2);
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

/* A resumed cell's quality lines: every head of its group (plan_quality_key). */
struct resumed_quality {
	const struct experiment *x;
	const struct plan *pl;
	struct keyset keys;     /* the plan's cell keys, in plan order */
};

static int quality_complete(void *vctx, const char *cell, const struct keyset *lines)
{
	const struct resumed_quality *rq = vctx;
	long i = keyset_find(&rq->keys, cell);
	char group[300], head[24], key[400];

	if (i < 0)
		return 1;               /* not this plan's: check_resumed_grid says so */
	plan_quality_key(rq->x, &rq->pl->cell[i], group, sizeof group);
	for (long long h = 0; h < rq->pl->cell[i].sh.v[EXP_HEADS]; h++) {
		snprintf(head, sizeof head, "%lld", h);
		quality_line_key(group, head, key, sizeof key);
		if (!keyset_has(lines, key))
			return 0;
	}
	return 1;
}

/* Opens the results folder; a resumed one keeps only the cells whose
 * samples and quality lines are whole. */
static int open_results(struct run_state *st, struct err *e)
{
	struct resumed_quality rq = { .x = st->x, .pl = st->pl };
	struct quality_check check = { quality_complete, &rq };
	int rc = 0;

	for (size_t i = 0; st->x->quality.enabled && i < st->pl->n && !rc; i++)
		rc = keyset_add(&rq.keys, st->pl->cell[i].key);
	if (rc)
		rc = err_set(e, "out of memory checking the resumed cells");
	if (!rc)
		rc = res_open(&st->res, st->o->out_dir, st->x, st->o->mode,
			      st->x->quality.enabled ? &check : NULL, e);
	keyset_free(&rq.keys);
	return rc;
}

/* Opens what a run needs before its first cell: the dump folder, PAPI, the
 * results folder (checked against the plan when resumed) and a shard's
 * cell list; what is left open is closed by runner_run's one exit. */
static int open_run(struct run_state *st, const char *dump, struct err *e)
{
	const struct run_opts *o = st->o;

	if (dump && (res_make_dirs(o->out_dir, e) || dump_open(dump, o->out_dir, e)))
		return -1;
	if (ctr_library_init(st->tally, CTR_MAX_THREADS, e) || open_results(st, e))
		return -1;
	st->res_open = 1;
	if (check_resumed_grid(&st->res, st->pl, o->out_dir, e) ||
	    (dump && dump_keep(dump, o->mode, &st->res.done, e)))
		return -1;
	return o->shard_n > 0 ? write_shard_cells(st->x, o->out_dir, st->pl, e) : 0;
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

/* The e2e block (run/e2e.c) after the cells, in the first shard: its
 * rows kept when resuming, the run interrupted when a signal stops it. */
static int run_e2e(struct run_state *st, struct err *e)
{
	struct e2e_opts eo = { .dir = st->o->out_dir, .resume = st->o->mode == RES_RESUME,
			       .progress = st->o->progress, .stop = &stop_requested };
	int rc = e2e_run(st->x, &eo, e);

	st->sum->interrupted |= stop_requested != 0;
	return rc;
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
	st.t0 = run_now_s();
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
		if (!rc && x->e2e.given && !stop_requested && (!o->shard_n || o->shard_k == 1))
			rc = run_e2e(&st, e);
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
	sum->wall_s = run_now_s() - st.t0;
	return rc;
}
