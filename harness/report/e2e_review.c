/* e2e_review.c - a review's figures on the e2e block's real model
 * (e2e_review.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../patterns/pattern.h"
#include "e2e.h"
#include "e2e_review.h"
#include "serving.h"

#define GET(t, i, c) res_table_get((t), (i), (c))

/* Rows of design label that ran ok, by context ascending: how many. */
static size_t rows_of(const struct res_table *t, const char *label, size_t *row, size_t room)
{
	int d = res_table_col(t, "design"), c = res_table_col(t, "context");
	size_t n = 0;

	for (size_t i = 0; i < t->nrow && n < room; i++)
		if (!strcmp(GET(t, i, d), label) && e2e_ok(t, i)) {
			size_t j = n++;
			for (; j > 0 && atol(GET(t, row[j - 1], c)) > atol(GET(t, i, c)); j--)
				row[j] = row[j - 1];
			row[j] = i;
		}
	return n;
}

/* Column col of the rows at context n: measured there, else scaled from
 * the nearest measured context by the exponent of the two longest
 * (fit 0: not scaled). */
static void time_at(const struct res_table *t, const size_t *row, size_t n_row, const char *col, long n, int fit,
		    struct srv_value *out)
{
	int c = res_table_col(t, "context");
	size_t near = 0;
	long ctx[16];
	double v[16];
	size_t m = 0;

	memset(out, 0, sizeof *out);
	out->src = SRV_NONE;
	for (size_t i = 0; i < n_row && m < 16; i++)
		if (!isnan(e2e_num(t, row[i], col))) {
			ctx[m] = atol(GET(t, row[i], c));
			v[m++] = e2e_num(t, row[i], col);
		}
	if (!m)
		return;
	out->longest = ctx[m - 1];
	for (size_t i = 0; i < m; i++) {
		if (ctx[i] == n) {
			out->v = v[i];
			out->src = SRV_MEASURED;
			return;
		}
		if (labs(ctx[i] - n) < labs(ctx[near] - n))
			near = i;
	}
	if (!fit || m < 2 || v[m - 1] <= 0 || v[m - 2] <= 0)
		return;
	out->exponent = log(v[m - 1] / v[m - 2]) / log((double)ctx[m - 1] / (double)ctx[m - 2]);
	out->anchor = ctx[near];
	out->v = v[near] * pow((double)n / (double)ctx[near], out->exponent);
	out->src = SRV_FITTED;
}

/* The row whose quality figures stand for context n: the one at n, else
 * the longest measured below it (else the shortest); -1 when none, or
 * when n is past them all and extrapolate is off. */
static long quality_row(const struct res_table *t, const size_t *row, size_t n_row, long n, int extrapolate)
{
	int c = res_table_col(t, "context");
	long best = -1;

	for (size_t i = 0; i < n_row; i++) {
		long at = atol(GET(t, row[i], c));
		if (at == n)
			return (long)row[i];
		if (at < n)
			best = (long)row[i];
	}
	if (best >= 0 && !extrapolate)
		return -1;
	return best >= 0 ? best : n_row ? (long)row[0] : -1;
}

/* Bytes of f16 K and V a sequence keeps at n tokens with the design of
 * row i (its pattern on designed layers; the model's own window or all
 * keys on the others): < 0 when its pattern is not in the manifest. */
static double kv_at(const struct ynode *mf, const struct res_table *t, size_t i, long n)
{
	const char *label = GET(t, i, res_table_col(t, "pattern"));
	double layers = e2e_num(t, i, "model_layers"), windowed = e2e_num(t, i, "model_windowed");
	double window = e2e_num(t, i, "model_window"), designed = e2e_num(t, i, "designed_layers");
	double dwin = e2e_num(t, i, "designed_windowed");
	double row = e2e_num(t, i, "kv_heads") * (e2e_num(t, i, "head_dim") + e2e_num(t, i, "head_dim_v")) * 2.0;
	double own_win = window > 0 && window < n ? window : (double)n, rows;
	struct pattern p;

	rows = (windowed - dwin) * own_win + (layers - windowed - (designed - dwin)) * (double)n;
	if (designed > 0) {
		if (srv_pattern_of(mf, label, &p))
			return -1;
		rows += designed * (double)pat_kv_rows(&p, n);
		pat_free(&p);
	}
	return rows * row;
}

/* Design i's figures (label: its e2e.csv design). */
static void figures(const struct ynode *mf, const struct res_table *t, struct dsg_review *r, struct dsg_design *d)
{
	size_t row[16];
	size_t n = rows_of(t, d->d.label, row, 16);
	long q = quality_row(t, row, n, r->context, r->extrapolate);

	time_at(t, row, n, "prefill_s", r->prompt, r->extrapolate, &d->ttft);
	time_at(t, row, n, "decode_s", r->context, r->extrapolate, &d->tpot);
	d->kv = n ? kv_at(mf, t, row[0], r->context) : -1;
	d->fit = r->pool > 0 && d->kv > 0 ? floor(r->pool / d->kv) : -1;
	d->recall = d->error = -1;
	d->quality_n = q >= 0 ? atol(GET(t, (size_t)q, res_table_col(t, "context"))) : 0;
	for (int l = 0; l < DSG_LIMIT_COUNT; l++)
		d->value[l] = NAN;
	d->value[DSG_TTFT] = d->ttft.src == SRV_NONE ? NAN : d->ttft.v;
	d->value[DSG_TPOT] = d->tpot.src == SRV_NONE ? NAN : d->tpot.v;
	d->value[DSG_TENANTS] = d->fit < 0 ? NAN : d->fit;
	if (q >= 0) {
		d->value[DSG_KL] = e2e_num(t, (size_t)q, "kl_mean");
		d->value[DSG_PPL] = e2e_num(t, (size_t)q, "ppl_change");
		d->value[DSG_NEEDLE] = e2e_num(t, (size_t)q, "needle_ratio");
	}
}

/* The model's shape (every row carries it) and the contexts a pass ran. */
static void shape_of(const struct res_table *t, const struct ynode *mf, struct dsg_review *r)
{
	const struct ynode *g = yt_get(yt_get(yt_get(mf, "experiment"), "e2e"), "gguf");
	const char *name = g && g->type == YT_SCALAR ? g->str : "the e2e model", *slash = strrchr(name, '/');

	snprintf(r->model.name, sizeof r->model.name, "%s", slash ? slash + 1 : name);
	r->model.layers = (long)e2e_num(t, 0, "model_layers");
	r->model.kv_heads = (int)e2e_num(t, 0, "kv_heads");
	r->model.head_dim = (int)e2e_num(t, 0, "head_dim");
	r->model.head_dim_v = (int)e2e_num(t, 0, "head_dim_v");
	r->model.kv_dtype = DT_F16;
	r->windowed = (long)e2e_num(t, 0, "model_windowed");
	r->window = (long)e2e_num(t, 0, "model_window");
	r->n_measured = e2e_contexts(t, 1, r->measured, sizeof r->measured / sizeof *r->measured);
}

int e2e_review_designs(const char *dir, const struct ynode *mf, struct dsg_review *r, struct err *e)
{
	struct res_table t;
	int d, rc = e2e_read(dir, &t, e);

	if (rc > 0)
		return err_set(e, "the review reads the e2e block's model, but '%s' has no e2e.csv (run the experiment)", dir);
	if (rc < 0)
		return -1;
	d = res_table_col(&t, "design");
	if (t.nrow)
		shape_of(&t, mf, r);
	for (size_t i = 0; i < t.nrow; i++) {
		size_t k = 0;
		if (!e2e_ok(&t, i))
			continue;
		while (k < r->n && strcmp(r->des[k].d.label, GET(&t, i, d)))
			k++;
		if (k < r->n)
			continue;
		struct dsg_design *nd = realloc(r->des, (r->n + 1) * sizeof *nd);
		if (!nd) {
			res_table_free(&t);
			return err_set(e, "out of memory reviewing the designs");
		}
		r->des = nd;
		nd = &r->des[r->n++];
		memset(nd, 0, sizeof *nd);
		snprintf(nd->d.label, sizeof nd->d.label, "%s", GET(&t, i, d));
		snprintf(nd->pattern, sizeof nd->pattern, "%s", GET(&t, i, res_table_col(&t, "pattern")));
		figures(mf, &t, r, nd);
	}
	res_table_free(&t);
	return r->n ? 0 : err_set(e, "review has no design to judge: no row of e2e.csv ran ok");
}
