/* group.c - making a group of cells ready to time: its slots, its shape
 * as a problem, inputs (with the history a selection reads, bf16 copies),
 * the first selection, the score function, the decode cache layout and the
 * read probe, and what fits in memory. */
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

void run_skip_slot(struct slot *s, const char *fmt, const char *why)
{
	snprintf(s->status, sizeof s->status, fmt, why);
	s->active = 0;
}

/* Bytes of Q, K, V and one output: what every kernel of a group shares. */
double run_group_input_bytes(const struct problem *p)
{
	return 4.0 * ((double)p->batch * p->heads * (double)p->n_q * (p->d + kern_dv(p)) +
		      (double)p->batch * p->kv_heads * (double)p->n_kv * (p->d + kern_dv(p)));
}

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

void run_cache_layout(struct group *gr, struct problem *p, const struct gset *g)
{
	long long asked = gr->sh.v[EXP_KV_LAYOUT];
	enum kv_layout l = asked == EXP_KV_AUTO ? natural_layout(&gr->pat) : (enum kv_layout)asked;
	long sinks = gr->pat.kind->pinned_rows ? gr->pat.kind->pinned_rows(&gr->pat) : 0;
	long ring = pat_kv_rows(&gr->pat, p->n_kv) - sinks;

	/* a chunk is appended whole before its first row reads: the ring
	 * keeps that row's window too (C - 1 more rows, whole KIVI groups) */
	if (p->chunk && ring > 0) {
		ring += p->n_q - 1;
		if (dtype_of(p->kv_dtype)->form == DT_FORM_KIVI)
			ring = (ring + p->kv_group - 1) / p->kv_group * p->kv_group;
	}
	p->kv_sinks = l == KV_SINK_RING ? (int)sinks : 0;
	p->kv_ring = ring > 0 ? ring : 1;
	if (!kvc_serves(g, l, p->kv_ring, p->kv_sinks, p->chunk)) {
		snprintf(gr->layout_note, sizeof gr->layout_note,
			 "%s cannot serve '%s' exactly; used full", kv_layout_names[l], gr->pat.label);
		l = KV_FULL;
	} else if (dtype_of(p->kv_dtype)->form == DT_FORM_KIVI && (l == KV_RING || l == KV_SINK_RING) &&
		   (p->kv_ring % p->kv_group || p->kv_sinks % p->kv_group)) {
		snprintf(gr->layout_note, sizeof gr->layout_note,
			 "%s's %ld ring rows and %ld sinks are not whole KIVI groups of %d; used full",
			 kv_layout_names[l], p->kv_ring, p->kv_sinks, p->kv_group);
		l = KV_FULL;
	}
	p->kv_layout = l;
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
	if (spec->kind == SCORE_PLAIN)
		return 0;
	if (score_make(&gr->score, spec, gr->p.heads, gr->p.d, gr->p.n_kv, (int)gr->sh.v[EXP_CAUSAL]))
		return -1;
	gr->p.score = &gr->score;
	return 0;
}
