/* designs.c - the review's answer (see designs.h): the designs found in
 * results.csv, their model-wide figures (serving.c), each constraint's
 * ratio to its limit, the binding one, the cheapest feasible design,
 * and its table, CSV and picture variables. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/kernel.h"
#include "../config/ytree.h"
#include "../config/experiment.h"
#include "../inputs/inputs.h"
#include "designs.h"
#include "e2e_review.h"

#define GET(t, i, c) res_table_get((t), (i), (c))

/* What each constraint is: its name, how the table words it, and which
 * side of the limit passes. */
static const struct {
	const char *name;       /* review.csv's and the picture's */
	const char *label;      /* the table's */
	int at_most;            /* 1: value <= limit passes; 0: value >= limit */
	int log_axis;           /* the picture draws it on a log scale */
} limits[] = {
	[DSG_TTFT] = { "ttft_s", "time to first token", 1, 1 },
	[DSG_TPOT] = { "tpot_s", "time per output token", 1, 1 },
	[DSG_TENANTS] = { "tenants_fit", "tenants that fit", 0, 1 },
	[DSG_RECALL] = { "recall", "recall", 0, 0 },
	[DSG_ERROR] = { "error", "output error", 1, 1 },
	[DSG_KL] = { "kl", "KL", 1, 1 },
	[DSG_PPL] = { "ppl_increase", "perplexity's rise", 1, 0 },
	[DSG_NEEDLE] = { "needle", "needle", 0, 0 },
};
static_assert(sizeof limits / sizeof *limits == DSG_LIMIT_COUNT, "limits: one per enum dsg_limit");

const char *dsg_limit_name(enum dsg_limit l)
{
	return limits[l].name;
}

/* Limits of a quality (a target 0 is a limit); times and tenants are
 * set when above 0. */
static int limit_set(const struct dsg_review *r, int l)
{
	return l >= DSG_RECALL ? r->limit[l] >= 0 : r->limit[l] > 0;
}

/* The review block of the manifest into r (no designs yet); 1 when none. */
static int read_review(const struct ynode *mf, struct dsg_review *r, struct err *e)
{
	const struct ynode *x = yt_get(mf, "experiment"), *rv = yt_get(x, "review");
	const struct ynode *m = yt_get(rv, "model"), *in = yt_get(rv, "inputs");

	memset(r, 0, sizeof *r);
	r->cheapest = -1;
	if (!rv || rv->type != YT_MAP)
		return 1;
	r->real = m && m->type == YT_SCALAR && !m->str[0] && yt_get(x, "e2e");
	if (!r->real && (!m || m->type != YT_SCALAR || srv_model_of(mf, m->str, &r->model))) {
		err_set(e, "review names model '%s', which the manifest lacks", m && m->str ? m->str : "");
		e->usage = 1;
		return -1;
	}
	r->prompt = (long)srv_num(rv, "prompt", 1);
	r->context = (long)srv_num(rv, "context", (double)r->prompt);
	r->tenants = (long)srv_num(rv, "tenants", 1);
	r->limit[DSG_TTFT] = srv_num(rv, "ttft_s", 0);
	r->limit[DSG_TPOT] = srv_num(rv, "tpot_s", 0);
	r->limit[DSG_RECALL] = srv_num(rv, "recall", -1);
	r->limit[DSG_ERROR] = srv_num(rv, "error", -1);
	r->limit[DSG_KL] = srv_num(rv, "kl", -1);
	r->limit[DSG_PPL] = srv_num(rv, "ppl_increase", -1);
	r->limit[DSG_NEEDLE] = srv_num(rv, "needle", -1);
	if (srv_num(rv, "memory_bytes", 0) > 0) {
		r->model.memory = srv_num(rv, "memory_bytes", 0);
		r->model.weights = srv_num(rv, "weights_bytes", 0);
	}
	r->pool = srv_num(rv, "kv_memory_bytes", 0);
	if (!r->pool && r->model.memory > 0)
		r->pool = r->model.memory - r->model.weights;
	r->limit[DSG_TENANTS] = r->pool > 0 ? (double)r->tenants : 0;
	r->extrapolate = strcmp(yt_get(rv, "extrapolate") ? yt_get(rv, "extrapolate")->str : "true", "false") != 0;
	if (in && in->type == YT_SCALAR && in->str[0]) {
		snprintf(r->inputs, sizeof r->inputs, "%s", in->str);
	} else {
		const struct ynode *ins = yt_get(x, "inputs");
		const struct ynode *l = ins && ins->type == YT_SEQ && ins->n ? yt_get(ins->kid[0], "label") : NULL;
		snprintf(r->inputs, sizeof r->inputs, "%s", l && l->type == YT_SCALAR ? l->str : inp_default_kind()->name);
	}
	return 0;
}

/* Adds design (label, layout, dtype) unless r has it: 0, or -1 (memory). */
static int add_design(struct dsg_review *r, const char *label, const char *layout, const char *dtype)
{
	struct dsg_design *d;

	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->des[i].d.label, label) && !strcmp(r->des[i].d.kv_layout, layout) &&
		    !strcmp(r->des[i].d.kv_dtype, dtype))
			return 0;
	d = realloc(r->des, (r->n + 1) * sizeof *d);
	if (!d)
		return -1;
	r->des = d;
	d = &r->des[r->n++];
	memset(d, 0, sizeof *d);
	snprintf(d->d.label, sizeof d->d.label, "%s", label);
	snprintf(d->d.kv_layout, sizeof d->d.kv_layout, "%s", layout);
	snprintf(d->d.kv_dtype, sizeof d->d.kv_dtype, "%s", dtype);
	return 0;
}

/* The designs: every (pattern, kv_layout, kv_dtype) a cache-reading
 * kernel's decode cell ran, then every other pattern measured (in
 * prefill, or decoded by full-array kernels only) as a design of its
 * pattern alone. */
static int find_designs(const struct res_table *t, struct dsg_review *r)
{
	int lab = res_table_col(t, "pattern_label"), mode = res_table_col(t, "mode");
	int lay = res_table_col(t, "kv_layout"), dt = res_table_col(t, "kv_dtype");
	int st = res_table_col(t, "status"), ker = res_table_col(t, "kernel");
	int rag = res_table_col(t, "ragged");

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < t->nrow; i++) {
			const struct kern_desc *k = kern_find(GET(t, i, ker));
			const char *label = GET(t, i, lab);
			const struct exp_mode_desc *md = exp_mode_find(GET(t, i, mode));
			int step = md && md->cached && !md->chunk;      /* a decode step */
			int cache = k && k->decode && step;
			size_t n;
			/* designs are read off decode steps and whole prefills (an
			 * extend chunk is neither) */
			if (strcmp(GET(t, i, st), "ok") || (!pass && !cache) || GET(t, i, rag)[0] ||
			    (pass && (!md || (md->cached && md->chunk))))
				continue;
			for (n = 0; pass && n < r->n && strcmp(r->des[n].d.label, label); n++)
				;
			if (pass && n < r->n)
				continue;
			if (add_design(r, label, pass ? "" : GET(t, i, lay), pass ? "" : GET(t, i, dt)))
				return -1;
		}
	return 0;
}

/* Recall and error of design d on the review's inputs, at the longest
 * seq_len that measured them: of the cache's values where its type is
 * not f32 (kv_recall_mean, kv_err_mean), else of G on f32. */
static void design_quality(const struct res_table *t, const struct dsg_review *r, struct dsg_design *d)
{
	int lab = res_table_col(t, "pattern_label"), in = res_table_col(t, "inputs");
	int n = res_table_col(t, "seq_len"), dt = res_table_col(t, "kv_dtype");
	int rec = res_table_col(t, "recall_mean"), err = res_table_col(t, "out_err_mean");
	int krec = res_table_col(t, "kv_recall_mean"), kerr = res_table_col(t, "kv_err_mean");
	int type = d->d.kv_dtype[0] ? dtype_find(d->d.kv_dtype) : -1;
	int compressed = type >= 0 && dtype_of((enum dtype)type)->lossy;

	d->recall = d->error = -1;
	d->quality_n = 0;
	for (size_t i = 0; i < t->nrow; i++) {
		long at = atol(GET(t, i, n));
		int kv = compressed && !strcmp(GET(t, i, dt), d->d.kv_dtype) && GET(t, i, kerr)[0];
		if (strcmp(GET(t, i, lab), d->d.label) || strcmp(GET(t, i, in), r->inputs) ||
		    !GET(t, i, rec)[0] || (compressed && !kv) || at < d->quality_n)
			continue;
		d->quality_n = at;
		d->recall = atof(GET(t, i, kv && GET(t, i, krec)[0] ? krec : rec));
		d->error = GET(t, i, kv ? kerr : err)[0] ? atof(GET(t, i, kv ? kerr : err)) : -1;
	}
}

/* A real model's designs' recall and error: their patterns' on the
 * review's inputs in the run's cells (the model's own keeps all: 1, 0). */
static void real_recall(const struct res_table *t, struct dsg_review *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct dsg_design *d = &r->des[i], q = *d;
		q.recall = 1;
		q.error = 0;
		if (d->pattern[0]) {
			snprintf(q.d.label, sizeof q.d.label, "%s", d->pattern);
			design_quality(t, r, &q);
		}
		d->recall = q.recall;
		d->error = q.error;
		d->value[DSG_RECALL] = d->recall < 0 ? NAN : d->recall;
		d->value[DSG_ERROR] = d->error < 0 ? NAN : d->error;
	}
}

/* Design d's figures from the run's cells. */
static void judge(const struct ynode *mf, const struct res_table *t, const struct dsg_review *r,
		  struct dsg_design *d)
{
	struct srv_design prefill = d->d;
	struct srv_value v;
	struct pattern p;
	int t_kv = d->d.kv_dtype[0] ? dtype_find(d->d.kv_dtype) : -1;

	prefill.kv_layout[0] = prefill.kv_dtype[0] = 0;
	d->ttft = (struct srv_value){ .src = SRV_MEASURED };
	d->tpot = (struct srv_value){ .src = SRV_MEASURED };
	srv_first_token(t, &prefill, r->prompt, r->model.prefill_chunk, r->extrapolate, &v);
	srv_add(&d->ttft, (double)r->model.layers, &v);
	d->ttft.longest = v.longest;
	srv_layer_time(t, &d->d, SRV_DECODE, 0, r->context, r->extrapolate, &v);
	srv_add(&d->tpot, (double)r->model.layers, &v);
	d->tpot.longest = v.longest;
	d->kv = -1;
	if (!srv_pattern_of(mf, d->d.label, &p)) {
		d->kv = (double)r->model.layers *
			srv_layer_kv_bytes(&p, d->d.kv_layout, t_kv < 0 ? r->model.kv_dtype : (enum dtype)t_kv,
					   &r->model, r->context);
		pat_free(&p);
	}
	d->fit = r->pool > 0 && d->kv > 0 ? floor(r->pool / d->kv) : -1;
	design_quality(t, r, d);
	d->value[DSG_TTFT] = d->ttft.src == SRV_NONE ? NAN : d->ttft.v;
	d->value[DSG_TPOT] = d->tpot.src == SRV_NONE ? NAN : d->tpot.v;
	d->value[DSG_TENANTS] = d->fit < 0 ? NAN : d->fit;
	d->value[DSG_RECALL] = d->recall < 0 ? NAN : d->recall;
	d->value[DSG_ERROR] = d->error < 0 ? NAN : d->error;
	for (int l = DSG_ERROR + 1; l < DSG_LIMIT_COUNT; l++)
		d->value[l] = NAN;      /* a real model's, e2e_review.c's */
}

/* Design d's standing against each constraint: the ratio of its figure
 * to the limit (> 1 fails; a perplexity that falls counts as 0), the one
 * that binds, and whether it meets all. */
static void stand(const struct dsg_review *r, struct dsg_design *d)
{
	double worst = -1;

	d->feasible = 1;
	d->binding = -1;
	for (int l = 0; l < DSG_LIMIT_COUNT; l++) {
		double x = d->value[l], lim = r->limit[l];
		d->ratio[l] = NAN;
		if (!limit_set(r, l))
			continue;
		if (isnan(x)) {
			d->feasible = d->feasible ? -1 : 0;
			continue;
		}
		x = limits[l].at_most && x < 0 ? 0 : x;
		d->ratio[l] = limits[l].at_most ? (lim > 0 ? x / lim : (x > 0 ? INFINITY : 0))
						: (x > 0 ? lim / x : INFINITY);
		if (d->ratio[l] > 1)
			d->feasible = 0;
		if (d->ratio[l] > worst) {
			worst = d->ratio[l];
			d->binding = l;
		}
	}
}

/* Why no design has a figure for constraint l (e set), or 0. */
static int unjudgeable(const struct dsg_review *r, int l, struct err *e)
{
	long longest = 0;
	int decode = l == DSG_TPOT;

	for (size_t i = 0; i < r->n; i++) {
		if (!isnan(r->des[i].value[l]))
			return 0;
		longest = r->des[i].ttft.longest > longest && !decode ? r->des[i].ttft.longest : longest;
		longest = r->des[i].tpot.longest > longest && decode ? r->des[i].tpot.longest : longest;
	}
	if (r->real && l >= DSG_KL)
		return err_set(e, "review limit '%s' cannot be judged: no row of e2e.csv has it%s", limits[l].name,
			       l == DSG_NEEDLE ? " (the e2e block's needle is off)" : "");
	if (r->real && (l == DSG_TTFT || l == DSG_TPOT))
		return err_set(e, "review limit '%s' cannot be judged: e2e.csv has no %s at %ld tokens and %s", limits[l].name,
			       decode ? "decode step" : "prefill", decode ? r->context : r->prompt,
			       r->extrapolate ? "fewer than two contexts to fit a growth from" : "extrapolate is false");
	if (l == DSG_TTFT || l == DSG_TPOT) {
		long want = decode ? r->context : r->prompt;
		if (!longest && !decode && r->model.prefill_chunk)
			return err_set(e, "review limit '%s' cannot be judged: the run measured no extend cell of %ld tokens "
				       "(model '%s' prefills in chunks of %ld; add mode extend)", limits[l].name,
				       r->model.prefill_chunk, r->model.name, r->model.prefill_chunk);
		if (!longest)
			return err_set(e, "review limit '%s' cannot be judged: the run measured no %s cell (add mode %s)",
				       limits[l].name, decode ? "decode" : "prefill", decode ? "decode" : "prefill");
		return err_set(e, "review limit '%s' cannot be judged: no cell measured a context of %ld tokens "
			       "(the longest is %ld) and extrapolate is %s", limits[l].name, want, longest,
			       r->extrapolate ? "true but one context gives no exponent" : "false");
	}
	if (l == DSG_TENANTS)
		return err_set(e, "review limit 'tenants' cannot be judged: no design's pattern is in the manifest");
	return err_set(e, "review limit '%s' cannot be judged: the run measured no quality on inputs '%s' (quality: enabled)",
		       limits[l].name, r->inputs);
}

/* The limit that binds the answer: the tightest of the cheapest design
 * that meets them all, else of the design closest to meeting them; -1. */
static int answer_binding(const struct dsg_review *r)
{
	const struct dsg_design *best = r->cheapest >= 0 ? &r->des[r->cheapest] : NULL;

	for (size_t i = 0; !best && i < r->n; i++)
		if (r->des[i].binding >= 0 &&
		    (!best || r->des[i].ratio[r->des[i].binding] < best->ratio[best->binding]))
			best = &r->des[i];
	return best ? best->binding : -1;
}

/* The picture's two axes: the limit that binds the answer first, then the
 * constraints that fail the most designs, then by the largest ratio; a
 * second axis of time when only one is set. */
static void choose_axes(struct dsg_review *r)
{
	int fails[DSG_LIMIT_COUNT] = { 0 }, n = 0;
	double most[DSG_LIMIT_COUNT] = { 0 };

	r->axis[0] = r->axis[1] = -1;
	if ((r->axis[0] = answer_binding(r)) >= 0 && !limit_set(r, r->axis[0]))
		r->axis[0] = -1;
	for (int l = 0; l < DSG_LIMIT_COUNT; l++)
		for (size_t i = 0; i < r->n; i++)
			if (!isnan(r->des[i].ratio[l])) {
				fails[l] += r->des[i].ratio[l] > 1;
				most[l] = fmax(most[l], fmin(r->des[i].ratio[l], 1e300));
			}
	for (int k = r->axis[0] >= 0; k < 2; k++)
		for (int l = 0; l < DSG_LIMIT_COUNT; l++) {
			int a = r->axis[k];
			if (!limit_set(r, l) || l == r->axis[0])
				continue;
			if (a < 0 || fails[l] > fails[a] || (fails[l] == fails[a] && most[l] > most[a]))
				r->axis[k] = l;
		}
	for (int l = 0; l < DSG_LIMIT_COUNT; l++)
		n += limit_set(r, l);
	if (n == 1)
		r->axis[1] = r->axis[0] == DSG_TPOT ? DSG_TTFT : DSG_TPOT;
}

/* 1 when d is cheaper than c: less KV per sequence; at equal KV, on a
 * real model, the smaller KL, then the model's own before a design (a
 * design that changes nothing measurable buys nothing), then less time
 * per token. */
static int cheaper(const struct dsg_review *r, const struct dsg_design *d, const struct dsg_design *c)
{
	if (d->kv != c->kv)
		return d->kv < c->kv;
	if (r->real && d->value[DSG_KL] != c->value[DSG_KL])
		return d->value[DSG_KL] < c->value[DSG_KL];
	if (r->real && !d->pattern[0] != !c->pattern[0])
		return !d->pattern[0];
	return d->tpot.v < c->tpot.v;
}

/* Each design's standing, the limits no design can be judged on refused,
 * the cheapest design that meets all and the picture's axes. */
static int conclude(struct dsg_review *r, struct err *e)
{
	for (size_t i = 0; i < r->n; i++)
		stand(r, &r->des[i]);
	for (int l = 0; l < DSG_LIMIT_COUNT; l++)
		if (limit_set(r, l) && unjudgeable(r, l, e)) {
			dsg_free(r);
			e->usage = 1;   /* the review asks what the run did not measure */
			return -1;
		}
	for (size_t i = 0; i < r->n; i++) {
		const struct dsg_design *d = &r->des[i], *c = r->cheapest >= 0 ? &r->des[r->cheapest] : NULL;
		if (d->feasible == 1 && (!c || cheaper(r, d, c)))
			r->cheapest = (long)i;
	}
	choose_axes(r);
	return 0;
}

/* The designs of the run's cells, judged on the manifest's model. */
static int build_cells(const struct ynode *mf, const struct res_table *t, struct dsg_review *r, struct err *e)
{
	if (find_designs(t, r)) {
		dsg_free(r);
		return err_set(e, "out of memory reviewing the designs");
	}
	if (!r->n) {
		dsg_free(r);
		err_set(e, "review has no design to judge: no cell of the run ended ok");
		e->usage = 1;
		return -1;
	}
	for (size_t i = 0; i < r->n; i++)
		judge(mf, t, r, &r->des[i]);
	return conclude(r, e);
}

int dsg_build(const struct ynode *mf, const struct res_table *t, struct dsg_review *r,
	      struct err *e)
{
	int rc = read_review(mf, r, e);

	if (rc)
		return rc;
	if (r->real) {
		err_set(e, "a review of the e2e block's model reads the folder's e2e.csv (dsg_review_dir)");
		e->usage = 1;
		return -1;
	}
	return build_cells(mf, t, r, e);
}

/* A constraint's figure as the table prints it. */
static void format_value(const struct dsg_design *d, int l, char *buf, size_t len)
{
	if (l == DSG_TTFT || l == DSG_TPOT)
		srv_format_time(l == DSG_TTFT ? &d->ttft : &d->tpot, buf, len);
	else if (isnan(d->value[l]))
		snprintf(buf, len, "-");
	else if (l == DSG_TENANTS)
		snprintf(buf, len, "%.0f", d->value[l]);
	else if (l == DSG_PPL)
		snprintf(buf, len, "%+.1f%%", 100 * d->value[l]);
	else
		snprintf(buf, len, "%.3g", d->value[l]);
}

static void write_limits(const struct dsg_review *r, FILE *f)
{
	char hb[32];

	fputs("Limits:", f);
	if (limit_set(r, DSG_TTFT))
		fprintf(f, " time to first token at most %g s;", r->limit[DSG_TTFT]);
	if (limit_set(r, DSG_TPOT))
		fprintf(f, " time per output token at most %g s;", r->limit[DSG_TPOT]);
	if (limit_set(r, DSG_TENANTS)) {
		res_human_bytes(r->pool, hb, sizeof hb);
		fprintf(f, " %ld tenants' caches in %s;", r->tenants, hb);
	}
	if (limit_set(r, DSG_RECALL))
		fprintf(f, " recall at least %g on inputs '%s';", r->limit[DSG_RECALL], r->inputs);
	if (limit_set(r, DSG_ERROR))
		fprintf(f, " output error at most %g on inputs '%s';", r->limit[DSG_ERROR], r->inputs);
	if (limit_set(r, DSG_KL))
		fprintf(f, " KL(own || design) at most %g nats;", r->limit[DSG_KL]);
	if (limit_set(r, DSG_PPL))
		fprintf(f, " perplexity at most %g%% above the model's own;", 100 * r->limit[DSG_PPL]);
	if (limit_set(r, DSG_NEEDLE))
		fprintf(f, " the passkey's probability at least %g of the model's own;", r->limit[DSG_NEEDLE]);
	fputs("\n\n", f);
}

/* The verdict cell of design d: the binding constraint and its ratio. */
static void verdict(const struct dsg_design *d, char *buf, size_t len)
{
	if (d->binding < 0)
		snprintf(buf, len, "%s", d->feasible < 0 ? "unknown" : "-");
	else if (d->feasible == 1)
		snprintf(buf, len, "yes (tightest: %s, %.2f of the way to its limit)", limits[d->binding].label,
			 d->ratio[d->binding]);
	else if (d->feasible < 0)
		snprintf(buf, len, "unknown: a figure is not measured");
	else if (isinf(d->ratio[d->binding]))
		snprintf(buf, len, "**no**: %s is 0", limits[d->binding].label);
	else if (d->ratio[d->binding] < 100)
		snprintf(buf, len, "**no**: %s %.2fx past its limit", limits[d->binding].label, d->ratio[d->binding]);
	else
		snprintf(buf, len, "**no**: %s %.3gx past its limit", limits[d->binding].label, d->ratio[d->binding]);
}

/* A design's row as the tables print it. */
struct row_text {
	char v[DSG_LIMIT_COUNT][64];    /* each constraint's figure */
	char kv[32];                    /* KV per sequence */
	char verdict[128];
};

static void row_text(const struct dsg_design *d, struct row_text *t)
{
	for (int l = 0; l < DSG_LIMIT_COUNT; l++)
		format_value(d, l, t->v[l], sizeof t->v[l]);
	if (d->kv >= 0)
		res_human_bytes(d->kv, t->kv, sizeof t->kv);
	else
		snprintf(t->kv, sizeof t->kv, "-");
	verdict(d, t->verdict, sizeof t->verdict);
}

/* How the answer names design d: its label, and for a design of the
 * run's cells the cache it runs on ("**quest** on a paged cache of f16",
 * closest: "**quest** (paged, f16)"). */
static void design_words(const struct dsg_review *r, const struct dsg_design *d, int closest, char *buf,
			 size_t len)
{
	const char *type = d->d.kv_dtype[0] ? d->d.kv_dtype : dtype_of(r->model.kv_dtype)->name;

	if (r->real)
		snprintf(buf, len, "**%s**", d->d.label);
	else if (closest)
		snprintf(buf, len, "**%s** (%s, %s)", d->d.label, d->d.kv_layout[0] ? d->d.kv_layout : "its own cache",
			 type);
	else
		snprintf(buf, len, "**%s**%s%s%s%s", d->d.label, d->d.kv_layout[0] ? " on a " : "", d->d.kv_layout,
			 d->d.kv_layout[0] ? " cache of " : " in ", type);
}

/* The answer line: the cheapest design that meets every limit, else the
 * closest and the limit that binds it. */
static void write_answer(const struct dsg_review *r, FILE *f)
{
	const struct dsg_design *best = NULL;
	char hb[32], what[400];

	if (r->cheapest >= 0) {
		const struct dsg_design *d = &r->des[r->cheapest];
		res_human_bytes(d->kv, hb, sizeof hb);
		design_words(r, d, 0, what, sizeof what);
		fprintf(f, "**Answer:** the cheapest design that meets every limit is %s: %s of KV per sequence", what, hb);
		if (d->binding >= 0)
			fprintf(f, "; its tightest limit is %s (%.2f of the way to it)", limits[d->binding].label,
				d->ratio[d->binding]);
		fputs(r->real ? ". Cheapest: least KV per sequence, then the smaller KL, the model's own before a design, "
		      "then least time per token.\n\n"
			      : ". Cheapest: least KV per sequence, then least time per token.\n\n", f);
		return;
	}
	for (size_t i = 0; i < r->n; i++)
		if (r->des[i].binding >= 0 && (!best || r->des[i].ratio[r->des[i].binding] < best->ratio[best->binding]))
			best = &r->des[i];
	if (!best) {
		fputs("**Answer:** no design could be judged on every limit.\n\n", f);
		return;
	}
	design_words(r, best, 1, what, sizeof what);
	fprintf(f, "**Answer:** no design measured meets every limit. The closest is %s: %s binds, %.3gx past its "
		"limit.\n\n", what, limits[best->binding].label, best->ratio[best->binding]);
}

/* A review of the e2e block's real model: its designs (a pattern on the
 * layers named, and the model's own attention) on the e2e figures. */
static void write_real_md(const struct dsg_review *r, FILE *f)
{
	char shape[128], ctx[256] = "";
	int fitted = 0, carried = 0;
	size_t at = 0;

	for (size_t i = 0; i < r->n_measured; i++)
		at += (size_t)snprintf(ctx + at, sizeof ctx - at, "%s%ld", i ? ", " : "", r->measured[i]);
	fprintf(f, "## Review: %s, a prompt of %ld tokens, %ld tokens cached, %ld tenant%s\n\n", r->model.name,
		r->prompt, r->context, r->tenants, r->tenants == 1 ? "" : "s");
	fprintf(f, "The model's own shape (its GGUF file): %ld layers, %ld of them windowed (window %ld), %s, an f16 "
		"cache. Each design runs inside the whole model on the layers its name gives after '@' (own: the model's "
		"attention); the others keep their own. Time to first token: the model's measured prefill of the prompt; "
		"time per output token: its measured decode step at the context; KV per sequence: what every layer keeps "
		"at the context; KL, perplexity's rise and the needle (the passkey's probability against the own "
		"pass's): measured at the context, else at the longest measured context below it (at n); recall: the "
		"pattern's on the review's inputs in the run's cells (the model's own: 1). Measured "
		"contexts: %s tokens.\n\n", r->model.layers, r->windowed, r->window,
		srv_model_shape(&r->model, shape, sizeof shape), ctx);
	write_limits(r, f);
	fputs("| design | time to first token | time per output token | KV per sequence | tenants that fit | KL |"
	      " perplexity's rise | needle | at n | recall | meets all |\n"
	      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct dsg_design *d = &r->des[i];
		struct row_text v;
		row_text(d, &v);
		fitted |= d->ttft.src == SRV_FITTED || d->tpot.src == SRV_FITTED;
		carried |= d->quality_n && d->quality_n != r->context;
		fprintf(f, "| %s%s | %s | %s | %s | %s | %s | %s | %s | %ld%s | %s | %s |\n", d->d.label,
			(long)i == r->cheapest ? " (cheapest)" : "", v.v[DSG_TTFT], v.v[DSG_TPOT], v.kv, v.v[DSG_TENANTS],
			v.v[DSG_KL], v.v[DSG_PPL], v.v[DSG_NEEDLE], d->quality_n, d->quality_n != r->context ? " (carried)" : "",
			v.v[DSG_RECALL], v.verdict);
	}
	if (fitted)
		fputs("\n~ (fitted): not measured at that context; the nearest measured context scaled by the growth "
		      "exponent of the two longest (time ~ n^b).\n", f);
	if (carried)
		fputs("\n(carried): KL, perplexity and the needle not measured at the review's context; the figures of "
		      "the longest measured context below it stand for them (a sparse design loses more as the "
		      "context grows: read them as a lower bound of the loss).\n", f);
	fputc('\n', f);
	write_answer(r, f);
}

static void write_cells_md(const struct dsg_review *r, FILE *f)
{
	char shape[128];
	int fitted = 0;

	fprintf(f, "## Review: %s, a prompt of %ld tokens, %ld tokens cached, %ld tenant%s\n\n", r->model.name,
		r->prompt, r->context, r->tenants, r->tenants == 1 ? "" : "s");
	fprintf(f, "Each design runs every one of the model's %ld layers (%s). ",
		r->model.layers, srv_model_shape(&r->model, shape, sizeof shape));
	fputs("Time to first token: the layers' prefill of the prompt; time per output token: their decode step at the "
	      "context; KV per sequence: what their caches keep at the context; recall and error: the pattern's "
	      "on the review's inputs at the longest seq_len measured (the cache's values where its type is not f32).\n\n", f);
	write_limits(r, f);
	fputs("| pattern | kv_layout | kv_dtype | time to first token | time per output token | KV per sequence |"
	      " tenants that fit | recall | error | at n | meets all |\n"
	      "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct dsg_design *d = &r->des[i];
		struct row_text v;
		row_text(d, &v);
		fitted |= d->ttft.src == SRV_FITTED || d->tpot.src == SRV_FITTED;
		fprintf(f, "| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %ld | %s |\n", d->d.label,
			(long)i == r->cheapest ? " (cheapest)" : "", d->d.kv_layout[0] ? d->d.kv_layout : "-",
			d->d.kv_dtype[0] ? d->d.kv_dtype : dtype_of(r->model.kv_dtype)->name, v.v[DSG_TTFT], v.v[DSG_TPOT],
			v.kv, v.v[DSG_TENANTS], v.v[DSG_RECALL], v.v[DSG_ERROR], d->quality_n, v.verdict);
	}
	if (fitted)
		fputs("\n~ (fitted): no cell measured that context; the nearest measured one scaled by the growth "
		      "exponent fitted over the measured contexts (time ~ n^b).\n", f);
	fputc('\n', f);
	write_answer(r, f);
}

void dsg_write_md(const struct dsg_review *r, FILE *f)
{
	if (r->real) {
		write_real_md(r, f);
		return;
	}
	write_cells_md(r, f);
}

static void csv_num(FILE *f, double v)
{
	if (isnan(v) || v < 0)
		fputs(",", f);
	else
		fprintf(f, ",%.9g", fmin(v, 1e300));
}

int dsg_write_csv(const struct dsg_review *r, const char *path, struct err *e)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	fputs("design,pattern_label,kv_layout,kv_dtype,ttft_s,ttft_fitted,tpot_s,tpot_fitted,kv_bytes_per_seq,"
	      "tenants_fit,recall,error,quality_seq_len,feasible,binding,binding_ratio,cheapest,x,y,kl,ppl_increase,needle\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct dsg_design *d = &r->des[i];
		char name[400];
		snprintf(name, sizeof name, "%s%s%s%s%s", d->d.label, d->d.kv_layout[0] ? " " : "", d->d.kv_layout,
			 d->d.kv_dtype[0] ? " " : "", d->d.kv_dtype);
		res_csv_field(f, name);
		fputc(',', f);
		res_csv_field(f, d->d.label);
		fprintf(f, ",%s,%s", d->d.kv_layout, d->d.kv_dtype);
		csv_num(f, d->value[DSG_TTFT]);
		fprintf(f, ",%d", d->ttft.src == SRV_FITTED);
		csv_num(f, d->value[DSG_TPOT]);
		fprintf(f, ",%d", d->tpot.src == SRV_FITTED);
		csv_num(f, d->kv);
		csv_num(f, d->value[DSG_TENANTS]);
		csv_num(f, d->value[DSG_RECALL]);
		csv_num(f, d->value[DSG_ERROR]);
		fprintf(f, ",%ld,%s,%s", d->quality_n, d->feasible == 1 ? "yes" : d->feasible ? "unknown" : "no",
			d->binding >= 0 ? limits[d->binding].name : "");
		csv_num(f, d->binding >= 0 ? d->ratio[d->binding] : NAN);
		fprintf(f, ",%d", (long)i == r->cheapest);
		csv_num(f, r->axis[0] >= 0 ? d->value[r->axis[0]] : NAN);
		csv_num(f, r->axis[1] >= 0 ? d->value[r->axis[1]] : NAN);
		csv_num(f, d->value[DSG_KL]);
		fputc(',', f);  /* perplexity's rise may be negative */
		if (!isnan(d->value[DSG_PPL]))
			fprintf(f, "%.9g", d->value[DSG_PPL]);
		csv_num(f, d->value[DSG_NEEDLE]);
		fputc('\n', f);
	}
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

void dsg_plot_vars(const struct dsg_review *r, const char *csv, const char *outdir,
		   char *buf, size_t len)
{
	int x = r->axis[0], y = r->axis[1];

	snprintf(buf, len, "csv='%s'; outdir='%s'; xname='%s'; yname='%s'; xlim=%.9g; ylim=%.9g; xle=%d; yle=%d; "
		 "xlog=%d; ylog=%d; title='%s: designs on the limit that binds the answer and the one that fails most (shaded: both met)'",
		 csv, outdir, x >= 0 ? limits[x].label : "", y >= 0 ? limits[y].label : "",
		 x >= 0 && limit_set(r, x) ? r->limit[x] : 0, y >= 0 && limit_set(r, y) ? r->limit[y] : 0,
		 x >= 0 ? limits[x].at_most : 1, y >= 0 ? limits[y].at_most : 1,
		 x >= 0 ? limits[x].log_axis : 0, y >= 0 ? limits[y].log_axis : 0, r->model.name);
}

int dsg_plottable(const struct dsg_review *r)
{
	for (size_t i = 0; r->axis[0] >= 0 && r->axis[1] >= 0 && i < r->n; i++)
		if (!isnan(r->des[i].value[r->axis[0]]) && !isnan(r->des[i].value[r->axis[1]]))
			return 1;
	return 0;
}

void dsg_free(struct dsg_review *r)
{
	free(r->des);
	r->des = NULL;
	r->n = 0;
}

int dsg_review_dir(const char *dir, struct dsg_review *r, struct err *e)
{
	char path[4200];
	struct res_table t;
	struct ynode *mf = NULL;
	int rc;

	if (res_read_run(dir, &t, &mf, e))
		return -1;
	rc = read_review(mf, r, e);
	if (!rc && r->real) {
		rc = e2e_review_designs(dir, mf, r, e);
		if (!rc && (limit_set(r, DSG_RECALL) || limit_set(r, DSG_ERROR)))
			real_recall(&t, r);
		if (!rc)
			rc = conclude(r, e);
		if (rc && r->des)
			dsg_free(r);
		e->usage = rc != 0;
	} else if (!rc) {
		rc = build_cells(mf, &t, r, e);
	}
	yt_free(mf);
	res_table_free(&t);
	if (rc)
		return rc;
	snprintf(path, sizeof path, "%s/review.csv", dir);
	if (dsg_write_csv(r, path, e)) {
		dsg_free(r);
		return -1;
	}
	return 0;
}
