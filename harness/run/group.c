/* group.c - a group of cells' whole life but its timing: opened (its
 * slots, its shape as a problem, inputs with the history a selection
 * reads and bf16 copies, the first selection, the score function, the
 * decode cache layout and the read probe, what fits in memory, its
 * kernels prepared), then closed after the driver's rounds (checks,
 * rows) and freed. */
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

#include "group.h"

/* Skips kernels, largest workspace first, until the group fits memory. */
void run_fit_memory(struct group *gr)
{
	double avail = runner_mem_available() * 0.9, need;
	double out = (double)gr->p.batch * gr->p.heads * gr->p.n_q * kern_dv(&gr->p) * 4.0;
	char why[160];

	for (;;) {
		int worst = -1;
		need = run_group_input_bytes(&gr->p) + (double)gr->g.st.storage_bytes;
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
		run_skip_slot(&gr->s[worst], "skipped: %s", why);
	}
}

/* The inputs when the selection reads queries before the cell's first:
 * n_hist query rows are made, and the cell's Q is their last n_q. */
static int history_inputs(struct group *gr, unsigned long long seed)
{
	const struct problem *p = &gr->p;
	long n_hist = gr->sel.n_hist;

	gr->q_hist = run_alloc_floats((size_t)p->batch * p->heads * (size_t)n_hist * p->d);
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
	size_t nv = (size_t)p->batch * p->kv_heads * p->n_kv * kern_dv(p);

	gr->q = run_alloc_floats(nq);
	gr->k = run_alloc_floats(nkv);
	gr->v = run_alloc_floats(nv);
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
void run_free_group(struct group *gr)
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
	free(gr->index_q);
	free(gr->index_k);
	free(gr->index_w);
	gset_free(&gr->g);
	run_free_ragged(gr);
	score_free(&gr->score);
	if (gr->sel.state)
		sel_release(&gr->pat, &gr->sel);
	pat_free(&gr->pat);
	memset(gr, 0, sizeof *gr);
}

/* Sets up the slots of the pending cells [first, first + n). */
int run_group_slots(struct run_state *st, struct group *gr, size_t first,
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
			run_skip_slot(s, "skipped: %s", why);
	}
	return 0;
}

void run_problem_from_shape(struct group *gr)
{
	const long long *v = gr->sh.v;

	gr->p.batch = (int)v[EXP_BATCH];
	gr->p.heads = (int)v[EXP_HEADS];
	gr->p.kv_heads = (int)v[EXP_KV_HEADS];
	gr->p.n_kv = (long)v[EXP_SEQ_LEN];
	gr->p.n_q = exp_n_q(v);
	gr->p.chunk = exp_mode_of(v[EXP_MODE])->chunk;
	gr->p.d = (int)v[EXP_HEAD_DIM];
	gr->p.dv = (int)v[EXP_HEAD_DIM_V];
	gr->p.g = &gr->g;
	gr->p.kv_dtype = (enum dtype)v[EXP_KV_DTYPE];
	gr->p.kv_group = (int)v[EXP_KV_GROUP];
	gr->p.kv_residual = (long)v[EXP_KV_RESIDUAL];
	gr->p.dtype = (enum dtype)v[EXP_DTYPE];
	gr->p.kv_layout = KV_FULL;
}

/* Decode groups: the cache layout (the one asked for, or the pattern's
 * own with auto; full when a bounded one would not be exact, with a note)
 * and which kernels can run. */
void run_plan_decode(struct group *gr)
{
	long long asked = gr->sh.v[EXP_KV_LAYOUT];

	gr->layout_note[0] = 0;
	run_cache_layout(gr, &gr->p, &gr->g);
	for (int i = 0; i < gr->n; i++) {
		struct slot *s = &gr->s[i];
		if (!s->active)
			continue;
		if (s->kd->decode && !gr->g.causal)
			run_skip_slot(s, "skipped: %s", "decode needs a causal pattern");
		else if (!s->kd->decode && (gr->p.kv_dtype != DT_F32 ||
					    (asked != EXP_KV_AUTO && asked != KV_FULL)))
			run_skip_slot(s, "skipped: %s", "reads K/V as full f32 arrays; kv_layout and kv_dtype need the decode kernel");
	}
}

int run_open_counters(struct run_state *st, int threads, struct err *e)
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
	size_t nv = (size_t)p->batch * p->kv_heads * p->n_kv * kern_dv(p);

	if (gr->q_hist)
		free(to_bf16(gr->q_hist, (size_t)p->batch * p->heads * (size_t)gr->sel.n_hist * p->d));
	gr->q16 = to_bf16(gr->q, nq);
	gr->k16 = to_bf16(gr->k, nkv);
	gr->v16 = to_bf16(gr->v, nv);
	gr->p.q16 = gr->q16;
	gr->p.k16 = gr->k16;
	gr->p.v16 = gr->v16;
	return gr->q16 && gr->k16 && gr->v16 ? 0 : -1;
}

/* Makes the group's inputs (and their bf16 copies when the dtype is):
 * NULL, or why it could not. */
const char *run_make_inputs(struct run_state *st, struct group *gr)
{
	double t_in = run_now_s();
	int in_rc = group_inputs(gr, st->x->run.seed);

	if (!in_rc && gr->p.dtype == DT_BF16 && inputs_to_bf16(gr))
		in_rc = -1;

	st->sum->inputs_s += run_now_s() - t_in;
	if (!in_rc)
		return NULL;
	return in_rc == -1 ? "out of memory for the inputs" : "its inputs cannot fill this shape";
}

/* A selected pattern's first selection, untimed: its inputs are made
 * first (with the history rows it reads), and the G it gives sizes the
 * model and the kernels' workspaces. -1 with why when it cannot run. */
int run_select_first(struct run_state *st, struct group *gr, char *why, size_t len)
{
	int decode = gr->sh.v[EXP_MODE] == EXP_DECODE;
	const char *no = sel_unservable(&gr->pat, &gr->p, decode, why, len);

	if (no)
		return -1;
	gr->sel = (struct sel_input){ .p = &gr->p, .decode = decode, .ops = kern_simd(),
		.n_hist = sel_history(&gr->pat, gr->p.n_q, gr->p.n_kv, decode) };
	/* G does not exist yet, but input kinds read its causality (the
	 * synthetic queries' recency): the same as a static pattern's group
	 * sees, so selected and static patterns are measured on one Q */
	gr->g.causal = (int)gr->sh.v[EXP_CAUSAL];
	if ((no = run_make_inputs(st, gr)))
		return snprintf(why, len, "%s", no), -1;
	if (inp_fill_indexer(gr->in, &gr->pat, &gr->sel, &gr->index_q, &gr->index_k, &gr->index_w,
			     why, len))
		return -1;
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
int run_make_score(const struct experiment *x, struct group *gr)
{
	const struct score_spec *spec = &x->scores[gr->sh.v[EXP_SCORE]];

	gr->p.score = NULL;
	if (score_kind_of(spec->kind)->identity)
		return 0;
	if (score_make(&gr->score, spec, gr->p.heads, gr->p.d, gr->p.n_kv, (int)gr->sh.v[EXP_CAUSAL]))
		return -1;
	gr->p.score = &gr->score;
	return 0;
}

/* Prepares every active kernel, measuring its resident peak over prepare
 * and warm-up. */
static void prepare_slots(struct run_state *st, struct group *gr, int threads)
{
	size_t out_n = (size_t)gr->p.batch * gr->p.heads * gr->p.n_q * kern_dv(&gr->p);

	for (int i = 0; i < gr->n; i++) {
		struct slot *s = &gr->s[i];
		if (!s->active)
			continue;
		run_reset_peak_rss();
		s->o = run_alloc_floats(out_n);
		if (!s->o) {
			run_skip_slot(s, "skipped: %s", "out of memory for its output");
			continue;
		}
		run_zero_floats(s->o, out_n);
		if (s->kd->prepare(&gr->p, threads, &s->ws)) {
			run_skip_slot(s, "skipped: %s", "out of memory in its prepare step");
			continue;
		}
		s->prepared = 1;
		gr->p.tally = NULL;
		for (int w = 0; w < st->x->run.warmup; w++) {
			run_reset_slot(gr, s);
			run_once(gr, s);
		}
		s->peak_rss = 1024.0 * (double)manifest_proc_kb("/proc/self/status", "VmHWM");
	}
}

/* Opens the cells [first, first + n) as a group: G-set, cost models,
 * inputs, prepared kernels, the decode probe. Cells that cannot run get
 * their status; 0, or -1 with e set when the run cannot go on. */
int run_group_open(struct run_state *st, struct group *gr, size_t first,
		      size_t n, struct err *e)
{
	char why[256];
	const char *no;
	long kv_rows;

	*gr = (struct group){ .x = st->x, .first = first, .in = &st->x->inputs[st->pl->cell[first].inp] };
	if (run_group_slots(st, gr, first, n))
		return err_set(e, "out of memory setting up a group of cells");
	if (!gr->n)
		return 0;
	gr->sh = st->pl->cell[first].sh;
	gr->threads = (int)gr->sh.v[EXP_THREADS];
	gr->batch = exp_batch_of(st->x, gr->sh.v);
	omp_set_num_threads(gr->threads);
	run_problem_from_shape(gr);
	if (gr->batch)
		run_problem_ragged(gr);
	if (run_make_score(st->x, gr))
		return err_set(e, "out of memory making the score function '%s'",
			       st->x->scores[gr->sh.v[EXP_SCORE]].label);
	if (pat_copy(&gr->pat, &st->x->pat[st->pl->cell[first].pat]))
		return err_set(e, "out of memory setting up a group of cells");
	pat_set_causal(&gr->pat, (int)gr->sh.v[EXP_CAUSAL]);
	if (run_open_counters(st, gr->threads, e))
		return -1;
	if (gr->batch) {
		if (run_open_ragged(st, gr, why, sizeof why))
			return 0;
		prepare_slots(st, gr, gr->threads);
		gr->opened = 1;
		return 0;
	}
	gr->selected = pat_selected(&gr->pat);
	if (gr->selected ? run_select_first(st, gr, why, sizeof why)
			 : gset_build(&gr->g, &gr->pat, gr->p.n_q, gr->p.n_kv, gr->p.heads, why, sizeof why)) {
		for (int i = 0; i < gr->n; i++)
			if (gr->s[i].active)
				run_skip_slot(&gr->s[i], "skipped: %s", why);
		return 0;
	}
	/* a selected G's decoder keeps the keys any row reads */
	kv_rows = gr->selected ? (long)gr->g.st.keys_used : pat_kv_rows(&gr->pat, gr->p.n_kv);
	if (exp_mode_of(gr->sh.v[EXP_MODE])->cached)
		run_plan_decode(gr);
	else
		for (int i = 0; i < gr->n; i++)
			if (gr->s[i].active && gr->s[i].kd->decode)
				run_skip_slot(&gr->s[i], "skipped: %s", "reads K/V through a cache: runs in modes decode and extend");
	for (int i = 0; i < gr->n; i++)
		if (gr->s[i].active)
			model_cell(&gr->p, gr->s[i].kd, gr->threads, kv_rows, &gr->s[i].m);
	run_fit_memory(gr);
	if (!gr->selected && (no = run_make_inputs(st, gr))) {
		for (int i = 0; i < gr->n; i++)
			if (gr->s[i].active)
				run_skip_slot(&gr->s[i], "skipped: %s", no);
		return 0;
	}
	prepare_slots(st, gr, gr->threads);
	run_open_probe(gr);
	gr->opened = 1;
	return 0;
}

/* After timing (timed 0: it failed, e set): verification, quality, dumps,
 * the rows; frees the group. */
int run_group_close(struct run_state *st, struct group *gr, int timed,
		       struct err *e)
{
	int rc = timed ? 0 : -1;

	if (!rc && gr->opened && gr->batch) {
		omp_set_num_threads(gr->threads);
		run_verify_ragged(st, gr);      /* quality and dumps are uniform cells' */
		run_time_ragged_alone(st, gr);
		if (st->o->dump_dir || st->x->run.dump)
			run_dump_left_out(st, gr, "a ragged batch has a Q, K, V and G per sequence, not one to dump");
	} else if (!rc && gr->opened) {
		omp_set_num_threads(gr->threads);
		run_verify_slots(st, gr);
		rc = run_measure_quality(st, gr, e);
		if (!rc && (st->o->dump_dir || st->x->run.dump))
			rc = run_dump_group(st, gr, st->o->dump_dir ? st->o->dump_dir : st->x->run.dump, e);
	}
	if (!rc && gr->n)
		rc = run_write_group(st, gr, e);
	run_free_group(gr);
	return rc;
}
