/* ragged.c - groups of a ragged batch (lengths:): each sequence is made
 * with its own length, new tokens, inputs (seeded apart), G and cache
 * layout, and the batch is timed as one step by the kernels that run
 * ragged batches (kern_desc.ragged; the others are skipped with why).
 * Verified sequence by sequence against the oracle on what its caches
 * hold; its costs are the sums of its sequences'; and after the batch's
 * timing rounds each sequence is timed alone, as the one-by-one baseline
 * the batch is judged against (seq_time_s, time_one_by_one_s). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"

/* Sequence s's problem: the group's shape, its own length and new tokens,
 * appended as one chunk. */
static void sequence_problem(const struct group *gr, size_t s, struct problem *p)
{
	*p = gr->p;
	p->batch = 1;
	p->ragged = NULL;
	p->chunk = 1;
	p->n_kv = gr->batch->len[s];
	p->n_q = exp_batch_new(gr->batch, s, gr->sh.v);
	p->g = &gr->rag_g[s];
	p->o = NULL;
}

void run_problem_ragged(struct group *gr)
{
	long most = 0, tokens = 0;

	for (long s = 0; s < gr->batch->n; s++) {
		most = gr->batch->len[s] > most ? gr->batch->len[s] : most;
		tokens += exp_batch_new(gr->batch, (size_t)s, gr->sh.v);
	}
	gr->p.batch = 1;
	gr->p.n_kv = most;
	gr->p.n_q = tokens;
	gr->p.chunk = 1;
	gr->p.ragged = &gr->rag;
}

/* Inputs and G of every sequence; why set when the batch cannot run. */
static int make_sequences(struct run_state *st, struct group *gr, char *why, size_t len)
{
	size_t n = (size_t)gr->batch->n, floats = 0, at = 0;

	gr->rag_seq = calloc(n, sizeof *gr->rag_seq);
	gr->rag_g = calloc(n, sizeof *gr->rag_g);
	if (!gr->rag_seq || !gr->rag_g)
		return snprintf(why, len, "out of memory for the batch's sequences"), -1;
	for (size_t s = 0; s < n; s++) {
		struct problem *p = &gr->rag_seq[s];
		sequence_problem(gr, s, p);
		floats += (size_t)p->heads * (size_t)p->n_q * (size_t)p->d +
			  (size_t)p->kv_heads * (size_t)p->n_kv * (size_t)(p->d + kern_dv(p));
	}
	gr->rag_in = run_alloc_floats(floats);
	if (!gr->rag_in)
		return snprintf(why, len, "out of memory for the batch's inputs"), -1;
	for (size_t s = 0; s < n; s++) {
		struct problem *p = &gr->rag_seq[s];
		float *q = gr->rag_in + at, *k, *v;
		at += (size_t)p->heads * (size_t)p->n_q * (size_t)p->d;
		k = gr->rag_in + at;
		at += (size_t)p->kv_heads * (size_t)p->n_kv * (size_t)p->d;
		v = gr->rag_in + at;
		at += (size_t)p->kv_heads * (size_t)p->n_kv * (size_t)kern_dv(p);
		if (gset_build(&gr->rag_g[s], &gr->pat, p->n_q, p->n_kv, p->heads, why, len))
			return -1;
		/* each sequence its own inputs: the run's seed, moved along */
		if (gr->in->kind->fill(gr->in, p, q, k, v, st->x->run.seed + 0x9e3779b97f4a7c15ULL * (s + 1)))
			return snprintf(why, len, "its inputs cannot fill sequence %zu (%ld tokens)", s, p->n_kv), -1;
		p->q = q;
		p->k = k;
		p->v = v;
	}
	gr->rag = (struct ragged){ (int)n, gr->rag_seq };
	return 0;
}

/* The batch's G statistics for its rows: sums over the sequences (rows,
 * pairs, storage), extremes of the row sizes. */
static void batch_stats(struct group *gr)
{
	struct gset_stats *t = &gr->g.st;
	double dense = 0, rows = 0;

	memset(t, 0, sizeof *t);
	t->row_min = -1;
	for (int s = 0; s < gr->rag.n; s++) {
		const struct gset_stats *a = &gr->rag_g[s].st;
		t->nnz += a->nnz;
		t->nnz_layouts += a->nnz_layouts;
		t->empty_rows += a->empty_rows;
		t->keys_used += a->keys_used;
		t->storage_bytes += a->storage_bytes;
		t->row_max = a->row_max > t->row_max ? a->row_max : t->row_max;
		t->row_min = t->row_min < 0 || a->row_min < t->row_min ? a->row_min : t->row_min;
		dense += (double)gset_dense_pairs(gr->rag_g[s].n_q, gr->rag_g[s].n_kv, gr->rag_g[s].causal);
		rows += (double)gr->rag_g[s].n_q;
	}
	t->density = dense > 0 ? (double)t->nnz / dense : 0;
	t->row_mean = rows > 0 ? (double)t->nnz / rows : 0;
	gr->g.n_q = gr->p.n_q;
	gr->g.n_kv = gr->p.n_kv;
	gr->g.causal = gr->rag_g[0].causal;
	gr->g.n_layouts = gr->rag_g[0].n_layouts;
}

/* Every slot's cost model: the sums of its sequences'. */
static void batch_models(struct group *gr)
{
	for (int i = 0; i < gr->n; i++) {
		struct slot *s = &gr->s[i];
		memset(&s->m, 0, sizeof s->m);
		for (int q = 0; s->active && q < gr->rag.n; q++) {
			struct cell_model m;
			model_cell(&gr->rag_seq[q], s->kd, gr->threads, pat_kv_rows(&gr->pat, gr->rag_seq[q].n_kv), &m);
			s->m.flops += m.flops;
			s->m.flops_exec += m.flops_exec;
			s->m.bytes_min += m.bytes_min;
			s->m.bytes_gather += m.bytes_gather;
			s->m.kv_cache_bytes += m.kv_cache_bytes;
			s->m.pattern_bytes += m.pattern_bytes;
			s->m.workspace_bytes += m.workspace_bytes;
			s->m.score_bytes = m.score_bytes > s->m.score_bytes ? m.score_bytes : s->m.score_bytes;
		}
	}
}

int run_open_ragged(struct run_state *st, struct group *gr, char *why, size_t len)
{
	const char *no = NULL;
	int full = 0;

	if (pat_selected(&gr->pat))
		no = "a ragged batch takes static patterns (this one selects from Q and K)";
	else if (gr->p.dtype != DT_F32)
		no = "a ragged batch takes dtype f32";
	if (!no && make_sequences(st, gr, why, len))
		no = why;
	for (int i = 0; i < gr->n; i++)
		if (gr->s[i].active && (no || !gr->s[i].kd->ragged))
			run_skip_slot(&gr->s[i], "skipped: %s", no ? no : "runs one length per batch; a ragged batch (lengths) needs a kernel that runs them (decode)");
	if (no)
		return -1;
	gr->layout_note[0] = 0;
	for (int s = 0; s < gr->rag.n; s++) {
		run_cache_layout(gr, &gr->rag_seq[s], &gr->rag_g[s]);
		full |= gr->rag_seq[s].kv_layout != gr->rag_seq[0].kv_layout;
	}
	for (int s = 0; full && s < gr->rag.n; s++)
		gr->rag_seq[s].kv_layout = KV_FULL;     /* one layout a row */
	gr->p.kv_layout = gr->rag_seq[0].kv_layout;
	for (int i = 0; i < gr->n; i++)
		if (gr->s[i].active && !gr->rag_g[0].causal)
			run_skip_slot(&gr->s[i], "skipped: %s", "decode needs a causal pattern");
	batch_stats(gr);
	batch_models(gr);
	return 0;
}

void run_free_ragged(struct group *gr)
{
	for (int s = 0; gr->rag_g && s < (gr->batch ? gr->batch->n : 0); s++)
		gset_free(&gr->rag_g[s]);
	free(gr->rag_g);
	free(gr->rag_seq);
	free(gr->rag_in);
	free(gr->rag_alone);
	free(gr->rag_text);
}

void run_verify_ragged(struct run_state *st, struct group *gr)
{
	unsigned long long seed = st->x->run.seed ^ gr->first;

	for (int i = 0; st->x->run.verify && i < gr->n; i++) {
		struct slot *s = &gr->s[i];
		double worst = 0, nmse = 0;
		if (!s->prepared || !s->nt)
			continue;
		s->verified = 1;
		for (int q = 0; q < gr->rag.n && s->verified; q++) {
			const struct problem *p = &gr->rag_seq[q];
			struct verify_ref ref = { 0 };
			struct verify_result vr;
			if (verify_prepare_cache(&ref, p, st->x->run.verify_rows, seed + (unsigned)q)) {
				snprintf(s->status, sizeof s->status, "failed: out of memory for the oracle");
				s->verified = -1;
				break;
			}
			verify_check(&ref, p, s->o + kern_ragged_off(&gr->rag, q), dtype_of(DT_F32)->max_abs,
				     dtype_of(DT_F32)->max_nmse, &vr);
			verify_free(&ref);
			worst = fmax(worst, vr.max_abs_err);
			nmse = fmax(nmse, vr.nmse);
			if (!vr.ok) {
				s->verified = 0;
				snprintf(s->status, sizeof s->status, "failed: sequence %d: %s", q, vr.why);
			}
		}
		s->vr.max_abs_err = worst;
		s->vr.nmse = nmse;
		s->vr.ok = s->verified == 1;
	}
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median time of sequence q run alone by slot s's kernel (its own
 * prepare, warm-up and the run's repeats); -1 when it cannot. */
static double time_alone(struct run_state *st, struct group *gr, struct slot *s, int q)
{
	struct problem p = gr->rag_seq[q];
	int reps = st->x->run.repeats > 0 ? st->x->run.repeats : 1;
	double *t = malloc((size_t)reps * sizeof *t), med;
	void *ws;

	p.o = run_alloc_floats((size_t)p.heads * (size_t)p.n_q * (size_t)kern_dv(&p));
	if (!t || !p.o || s->kd->prepare(&p, gr->threads, &ws)) {
		free(t);
		free(p.o);
		return -1;
	}
	for (int w = 0; w < st->x->run.warmup; w++) {
		s->kd->reset(&p, ws);
		s->kd->run(&p, ws);
	}
	for (int r = 0; r < reps; r++) {
		double t0;
		s->kd->reset(&p, ws);
		t0 = run_now_s();
		s->kd->run(&p, ws);
		t[r] = run_now_s() - t0;
	}
	s->kd->release(ws);
	qsort(t, (size_t)reps, sizeof *t, by_value);
	med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
	free(t);
	free(p.o);
	return med;
}

void run_time_ragged_alone(struct run_state *st, struct group *gr)
{
	gr->rag_alone = calloc((size_t)gr->n * (size_t)gr->rag.n, sizeof *gr->rag_alone);
	gr->rag_text = calloc((size_t)gr->n, sizeof *gr->rag_text);
	for (int i = 0; gr->rag_alone && i < gr->n; i++)
		for (int q = 0; q < gr->rag.n; q++)
			gr->rag_alone[(size_t)i * gr->rag.n + q] =
				gr->s[i].prepared && gr->s[i].nt ? time_alone(st, gr, &gr->s[i], q) : -1;
}

void run_ragged_columns(struct group *gr, const struct slot *s, struct result_row *row)
{
	size_t i = (size_t)(s - gr->s), at = 0;
	double sum = 0, tokens = 0, bytes = 0, keys = 0;

	row->ragged = gr->batch->label;
	row->seq_len = gr->p.n_kv;
	row->batch = gr->rag.n;
	row->n_q = gr->p.n_q;
	for (int q = 0; q < gr->rag.n; q++) {
		const struct problem *p = &gr->rag_seq[q];
		double k = (double)kvc_pairs_read(&gr->rag_g[q], p->heads, p->kv_heads);
		keys += k;
		bytes += (double)(dtype_row_bytes(p->kv_dtype, p->d, p->kv_group) +
				  dtype_row_bytes(p->kv_dtype, kern_dv(p), p->kv_group)) * k;
		tokens += (double)p->n_q;
	}
	row->keys_read = keys;
	row->kv_bytes_per_token = tokens > 0 ? bytes / tokens : -1;
	row->extend_tokens = gr->p.n_q;
	row->decode_steps = 0;
	row->seq_time = "";
	row->time_one_by_one_s = -1;
	if (!row->timed)
		return;
	row->time_per_chunk_s = row->time_median_s;     /* the step: a chunk of every sequence */
	row->kv_gbs = bytes / row->time_median_s * 1e-9;
	if (!gr->rag_alone || !gr->rag_text)
		return;
	for (int q = 0; q < gr->rag.n; q++) {
		double t = gr->rag_alone[i * gr->rag.n + q];
		char *text = gr->rag_text[i];
		if (t < 0)
			return;
		sum += t;
		if (at < sizeof gr->rag_text[i])
			at += (size_t)snprintf(text + at, sizeof gr->rag_text[i] - at, "%s%.4g", q ? " " : "", t);
	}
	if (at >= sizeof gr->rag_text[i])
		snprintf(gr->rag_text[i], sizeof gr->rag_text[i], "%s", "too many sequences to list");
	row->seq_time = gr->rag_text[i];
	row->time_one_by_one_s = sum;
}
