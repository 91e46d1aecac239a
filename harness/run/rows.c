/* rows.c - the rows of a measured group: a results.csv row per cell
 * (identity, G-set, models, times, rates, verification, counters and the
 * quantities derived from them, quality, decode), the quality.csv lines
 * of its heads, and the progress line. */
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

/* quality.csv: one line per head of a freshly measured group. */
int run_write_quality(struct run_state *st, const struct group *gr, struct err *e)
{
	const long long *v = gr->sh.v;
	char group[300];

	plan_quality_key(st->x, gr->s[0].c, group, sizeof group);
	for (int h = 0; h < gr->qual.heads; h++) {
		const struct quality_stats *q = &gr->qual.head[h];
		const char *type = gr->in->kind->head_type ? gr->in->kind->head_type(gr->in, h) : "";
		struct quality_line ql = {
			.experiment = st->x->name, .inputs = gr->in->label,
			.score = st->x->scores[v[EXP_SCORE]].label,
			.pattern = gr->pat.kind->name, .pattern_label = gr->pat.label,
			.mode = exp_mode_of(v[EXP_MODE])->name,
			.head_type = type, .seq_len = v[EXP_SEQ_LEN], .n_q = gr->p.n_q,
			.head_dim = v[EXP_HEAD_DIM], .batch = v[EXP_BATCH], .heads = v[EXP_HEADS],
			.kv_heads = v[EXP_KV_HEADS], .causal = v[EXP_CAUSAL], .head = h,
			.density = q->density, .recall_mean = q->recall_mean,
			.recall_min = q->recall_min, .recall_p10 = q->recall_p10,
			.recall_best_mean = q->best_mean, .recall_efficiency = q->efficiency,
			.out_err_mean = q->err_mean, .out_err_max = q->err_max,
			.quality_rows = q->rows,
			.kv_dtype = exp_mode_of(v[EXP_MODE])->cached ? dtype_names[v[EXP_KV_DTYPE]] : "",
			.kv_recall_mean = q->kv_recall_mean, .kv_err_dense_mean = q->kv_err_dense_mean,
			.kv_err_mean = q->kv_err_mean, .group = group,
		};
		if (res_write_quality(&st->res, &ql, e))
			return -1;
	}
	return 0;
}
/* The columns of the tokens timed through a cache (decode, extend; empty
 * in prefill). */
static void fill_decode(const struct group *gr, const struct slot *s,
			struct result_row *row)
{
	const struct exp_mode_desc *mode = exp_mode_of(gr->sh.v[EXP_MODE]);
	enum dtype t = s->kd->decode ? gr->p.kv_dtype : DT_F32;

	row->time_per_token_s = row->tokens_per_s = row->kv_bytes_per_token = row->kv_gbs = -1;
	row->probe_gbs = row->pct_bw = row->time_per_chunk_s = row->keys_read = -1;
	row->kv_layout = row->kv_dtype = row->kv_note = "";
	row->decode_steps = row->extend_tokens = 0;
	row->mode = mode->name;
	if (!mode->cached)
		return;
	*(mode->chunk ? &row->extend_tokens : &row->decode_steps) = gr->p.n_q;
	row->kv_layout = kv_layout_names[s->kd->decode ? gr->p.kv_layout : KV_FULL];
	row->kv_dtype = dtype_names[t];
	row->kv_note = s->kd->decode ? gr->layout_note : "";
	if (!gr->g.n_layouts)
		return;         /* no G (the pattern could not serve the cell) */
	row->keys_read = (double)(s->kd->decode ? kvc_pairs_read(&gr->g, gr->p.heads, gr->p.kv_heads)
						: gset_pairs(&gr->g, gr->p.heads));
	row->kv_bytes_per_token = (double)(dtype_row_bytes(t, gr->p.d, gr->p.kv_group) +
					   dtype_row_bytes(t, kern_dv(&gr->p), gr->p.kv_group)) /
				  (double)gr->p.n_q * row->keys_read;
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
	row->kv_recall_mean = row->kv_err_dense_mean = row->kv_err_mean = -1;
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
	row->kv_recall_mean = q->kv_recall_mean;
	row->kv_err_dense_mean = q->kv_err_dense_mean;
	row->kv_err_mean = q->kv_err_mean;
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
	row->ragged = row->seq_time = "";
	row->time_one_by_one_s = -1;
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
	row->head_dim_v = v[EXP_HEAD_DIM_V];
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
	if (row->decode_steps || row->extend_tokens) {
		double tokens = (double)(row->decode_steps + row->extend_tokens);
		row->time_per_token_s = t.median / tokens;
		row->time_per_chunk_s = row->extend_tokens ? t.median : -1;
		row->tokens_per_s = (double)row->batch * tokens / t.median;
		row->kv_gbs = row->kv_bytes_per_token * (double)row->batch * tokens / t.median * 1e-9;
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
	double el = run_now_s() - st->t0, t = row->time_median_s;
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

int run_write_group(struct run_state *st, struct group *gr, struct err *e)
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
		if (gr->batch)
			run_ragged_columns(gr, s, &row);
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
