/* quality.c - recall, best possible recall and output error of a G-set
 * against dense attention. Per row: the dense scores in double, their
 * softmax summed in key order (so a G that is the whole row keeps exactly
 * 1), the G part summed in the same order, a selection for the |G| largest
 * weights, and both outputs from the same weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../stats.h"
#include "quality.h"

/* q . k in double, eight partial sums so the compiler can vectorise. */
static double dot(const double *q, const float *k, int d)
{
	double a[8] = { 0 }, s = 0.0;
	int c = 0;

	for (; c + 8 <= d; c += 8)
		for (int u = 0; u < 8; u++)
			a[u] += q[c + u] * (double)k[c + u];
	for (; c < d; c++)
		s += q[c] * (double)k[c];
	for (int u = 0; u < 8; u++)
		s += a[u];
	return s;
}

static void axpy(double *o, double w, const float *v, int d)
{
	for (int c = 0; c < d; c++)
		o[c] += w * (double)v[c];
}

static void swap_d(double *a, double *b)
{
	double t = *a;
	*a = *b;
	*b = t;
}

/* Sum of the m largest of x[0, n) (x is reordered): quickselect, then
 * the elements at or above the pivot. */
static double top_sum(double *x, long n, long m)
{
	long lo = 0, hi = n - 1, want = m - 1;         /* descending rank */
	double s = 0.0;

	if (m <= 0)
		return 0.0;
	while (lo < hi) {
		double pivot = x[(lo + hi) / 2];
		long i = lo, j = hi;
		while (i <= j) {
			while (x[i] > pivot)
				i++;
			while (x[j] < pivot)
				j--;
			if (i <= j)
				swap_d(&x[i++], &x[j--]);
		}
		if (want <= j)
			hi = j;
		else if (want >= i)
			lo = i;
		else
			break;
	}
	for (long k = 0; k < m; k++)
		s += x[k];
	return s;
}

/* ||o / w - ref / z|| / ||ref / z|| for a d-vector o with weight sum w. */
static double rel_err(const double *o, double w, const double *ref, double z, int d)
{
	double num = 0.0, den = 0.0;

	for (int c = 0; c < d; c++) {
		double a = w > 0 ? o[c] / w : 0.0, want = ref[c] / z;
		num += (a - want) * (a - want);
		den += want * want;
	}
	return den > 0 ? sqrt(num / den) : num > 0 ? 1.0 : 0.0;
}

/* The kv figures of a row: scores on the keys the cache holds (as when
 * the row reads it: kvc_len_at), its softmax over every key and over
 * G, both outputs on the values it holds, against the dense f32 output
 * od (weight sum z). e: n_kv + 2 dv doubles of room; q: the scaled query. */
static void kv_row(const struct problem *p, const struct kv_view *view, int b, int h,
		   long r, long hi, double *e, const double *q, const double *od, double z,
		   struct quality_row *out)
{
	size_t off = kern_kv_off(p, b, h), voff = kern_v_off(p, b, h);
	long pos = p->n_kv - p->n_q + r, len = kvc_len_at(p, r);
	int dv = kern_dv(p);
	double *oa = e + p->n_kv, *og = oa + dv, mx = -INFINITY, za = 0.0, zg = 0.0;
	int64_t n;
	const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, b, h), r, &n);

	for (int c = 0; c < dv; c++)
		oa[c] = og[c] = 0.0;
	for (long j = 0; j < hi; j++) {
		e[j] = score_apply(p->score, h, pos, j,
				   dot(q, kv_view_row(view, 0, off, j, len, p->d), p->d));
		mx = e[j] > mx ? e[j] : mx;
	}
	for (long j = 0; j < hi; j++) {
		e[j] = exp(e[j] - mx);
		za += e[j];
		axpy(oa, e[j], kv_view_row(view, 1, voff, j, len, dv), dv);
	}
	for (int64_t i = 0; i < n; i++)
		for (long j = rg[i].lo; j < rg[i].hi && j < hi; j++) {
			zg += e[j];
			axpy(og, e[j], kv_view_row(view, 1, voff, j, len, dv), dv);
		}
	out->kv_recall = za > 0 ? zg / za : 0.0;
	out->kv_err_dense = rel_err(oa, za, od, z, dv);
	out->kv_err = zg > 0 ? rel_err(og, zg, od, z, dv) : 1.0;
}

void quality_row(const struct problem *p, const struct kv_view *view, int b, int h,
		 long r, double *ws, struct quality_row *out)
{
	const float *qf = p->q + kern_q_off(p, b, h) + (size_t)r * (size_t)p->d;
	const float *k = p->k + kern_kv_off(p, b, h), *v = p->v + kern_v_off(p, b, h);
	long pos = p->n_kv - p->n_q + r, hi = p->g->causal ? pos + 1 : p->n_kv, m_g = 0;
	int dv = kern_dv(p);
	double *e = ws, *sel = ws + p->n_kv, *q = sel + p->n_kv, *od = q + p->d, *og = od + dv;
	double scale = score_scale(p->score, p->d), mx = -INFINITY, z = 0.0, zg = 0.0, num = 0.0, den = 0.0;
	int64_t n;
	const struct pat_range *rg = gset_row(p->g, gset_layout(p->g, b, h), r, &n);

	if (hi > p->n_kv)
		hi = p->n_kv;
	for (int c = 0; c < p->d; c++)
		q[c] = (double)qf[c] * scale;
	for (int c = 0; c < dv; c++)
		od[c] = og[c] = 0.0;
	for (long j = 0; j < hi; j++) {
		e[j] = score_apply(p->score, h, pos, j, dot(q, k + (size_t)j * (size_t)p->d, p->d));
		mx = e[j] > mx ? e[j] : mx;
	}
	for (long j = 0; j < hi; j++) {
		e[j] = exp(e[j] - mx);
		z += e[j];
		axpy(od, e[j], v + (size_t)j * (size_t)dv, dv);
	}
	for (int64_t i = 0; i < n; i++)
		for (long j = rg[i].lo; j < rg[i].hi && j < hi; j++, m_g++) {
			zg += e[j];
			axpy(og, e[j], v + (size_t)j * (size_t)dv, dv);
		}
	out->recall = z > 0 ? zg / z : 0.0;
	if (m_g >= hi) {
		out->best = 1.0;
	} else {
		memcpy(sel, e, (size_t)hi * sizeof *sel);
		out->best = top_sum(sel, hi, m_g) / z;
	}
	if (m_g > 0 && !(zg > 0)) {     /* G's weights all underflow: exact row */
		kern_oracle_row(p, b, h, r, og);
		zg = 1.0;
	}
	for (int c = 0; c < dv; c++) {
		double dense = od[c] / z, sparse = zg > 0 ? og[c] / zg : 0.0;
		num += (sparse - dense) * (sparse - dense);
		den += dense * dense;
	}
	out->err = den > 0 ? sqrt(num / den) : num > 0 ? 1.0 : 0.0;
	if (m_g == 0)
		out->err = 1.0;
	out->kv_recall = out->kv_err_dense = out->kv_err = -1.0;
	if (view)
		kv_row(p, view, b, h, r, hi, og + dv, q, od, z, out);
}

/* Summarises rows t[0, n) of per-row figures into s (t is reordered). */
static void summarise(struct quality_row *t, long n, double *tmp,
		      struct quality_stats *s)
{
	double rec = 0.0, best = 0.0, err = 0.0, kr = 0.0, kd = 0.0, ke = 0.0;

	s->rows = n;
	s->recall_min = n ? 1.0 : 0.0;
	s->err_max = 0.0;
	for (long i = 0; i < n; i++) {
		rec += t[i].recall;
		best += t[i].best;
		err += t[i].err;
		kr += t[i].kv_recall;
		kd += t[i].kv_err_dense;
		ke += t[i].kv_err;
		tmp[i] = t[i].recall;
		if (t[i].recall < s->recall_min)
			s->recall_min = t[i].recall;
		if (t[i].err > s->err_max)
			s->err_max = t[i].err;
	}
	s->recall_mean = n ? rec / (double)n : 0.0;
	s->best_mean = n ? best / (double)n : 0.0;
	s->err_mean = n ? err / (double)n : 0.0;
	s->kv_recall_mean = n && t[0].kv_recall >= 0 ? kr / (double)n : -1.0;
	s->kv_err_dense_mean = n && t[0].kv_recall >= 0 ? kd / (double)n : -1.0;
	s->kv_err_mean = n && t[0].kv_recall >= 0 ? ke / (double)n : -1.0;
	s->efficiency = s->best_mean > 0 ? s->recall_mean / s->best_mean : 1.0;
	{
		struct stats_summary sum;
		stats_summarise(tmp, (size_t)n, &sum);
		s->recall_p10 = n ? stats_percentile_sorted(tmp, (size_t)n, 0.10) : 0.0;
	}
}

/* Pairs of G of layout l over the dense pairs, for head densities. */
static double layout_density(const struct gset *g, int l)
{
	long long pairs = 0;

	for (long r = 0; r < g->n_q; r++) {
		int64_t n;
		const struct pat_range *rg = gset_row(g, l, r, &n);
		pairs += gset_row_keys(rg, n);
	}
	return (double)pairs / (double)gset_dense_pairs(g->n_q, g->n_kv, g->causal);
}

int quality_measure(const struct problem *p, const struct kv_view *view, int rows_per_head,
		    unsigned long long seed, struct quality *q)
{
	int all = p->n_q <= rows_per_head || (double)p->n_q * (double)p->n_kv <= 1048576.0;
	long n = all ? p->n_q : rows_per_head, per_head = n * p->batch;
	long tasks = (long)p->batch * p->heads * n;
	long *rows = malloc((size_t)n * sizeof *rows);
	struct quality_row *res = malloc((size_t)tasks * sizeof *res);
	struct quality_row *tmp = malloc((size_t)tasks * sizeof *tmp);
	double *rec = malloc((size_t)tasks * sizeof *rec);
	int failed = 0;

	memset(q, 0, sizeof *q);
	q->heads = p->heads;
	q->head = calloc((size_t)p->heads, sizeof *q->head);
	if (!rows || !res || !tmp || !rec || !q->head) {
		failed = 1;
		goto out;
	}
	stats_pick_rows(rows, n, p->n_q, seed);
#pragma omp parallel reduction(|:failed)
	{
		double *ws = malloc((3 * (size_t)p->n_kv + (size_t)p->d + 4 * (size_t)kern_dv(p)) *
				    sizeof *ws);
		if (!ws)
			failed = 1;
#pragma omp for schedule(dynamic, 1)
		for (long t = 0; t < tasks; t++) {
			int h = (int)(t / per_head), b = (int)(t / n % p->batch);
			if (ws)
				quality_row(p, view, b, h, rows[t % n], ws, &res[t]);
		}
		free(ws);
	}
	if (failed)
		goto out;
	for (int h = 0; h < p->heads; h++) {
		memcpy(tmp, res + (size_t)h * (size_t)per_head, (size_t)per_head * sizeof *tmp);
		summarise(tmp, per_head, rec, &q->head[h]);
		q->head[h].density = layout_density(p->g, gset_layout(p->g, 0, h));
	}
	memcpy(tmp, res, (size_t)tasks * sizeof *tmp);
	summarise(tmp, tasks, rec, &q->all);
	q->all.density = p->g->st.density;
out:
	free(rows);
	free(res);
	free(tmp);
	free(rec);
	if (failed)
		quality_free(q);
	return failed ? -1 : 0;
}

void quality_free(struct quality *q)
{
	free(q->head);
	q->head = NULL;
}
