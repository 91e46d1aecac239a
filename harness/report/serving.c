/* serving.c - whole-model serving figures from a run's cells (see
 * serving.h): each layer's prefill and decode times found among the rows
 * of results.csv, fitted across contexts where a context was not
 * measured, summed over a model's layers; the KV per sequence its caches
 * keep; and report.md's table of them per model. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/kernel.h"
#include "../../kernels/kvcache.h"
#include "../config/experiment.h"
#include "../config/ytree.h"
#include "serving.h"

#define GET(t, i, c) res_table_get((t), (i), (c))
#define MAX_CONTEXTS 256

/* The step a layer time measures: its mode's word, its column. */
static const struct {
	const char *mode;       /* results.csv's mode */
	const char *time;       /* the column read */
	int per_sequence;       /* divided by the row's batch */
} steps[] = {
	[SRV_PREFILL] = { "prefill", "time_median_s", 1 },
	[SRV_DECODE] = { "decode", "time_per_token_s", 0 },
	[SRV_EXTEND] = { "extend", "time_median_s", 1 },
};
static_assert(sizeof steps / sizeof *steps == SRV_STEP_COUNT, "steps: one per enum srv_step");

/* The row columns a layer time reads. */
struct srv_cols {
	int label, mode, layout, dtype, kernel, n, status, time, batch, ragged, chunk;
};

static void srv_cols_of(const struct res_table *t, enum srv_step step, struct srv_cols *c)
{
	c->label = res_table_col(t, "pattern_label");
	c->mode = res_table_col(t, "mode");
	c->layout = res_table_col(t, "kv_layout");
	c->dtype = res_table_col(t, "kv_dtype");
	c->kernel = res_table_col(t, "kernel");
	c->n = res_table_col(t, "seq_len");
	c->status = res_table_col(t, "status");
	c->batch = res_table_col(t, "batch");
	c->ragged = res_table_col(t, "ragged");
	c->chunk = res_table_col(t, "extend_tokens");
	c->time = res_table_col(t, steps[step].time);
}

/* Row i's layer time for design d in step (seconds; per sequence but in
 * decode), or -1 when the row is not one of d's for that step (an extend
 * row of another chunk, a ragged batch's). kernel_decode: 1 keeps only
 * the decode kernel's rows, 0 any kernel's. */
static double row_time(const struct res_table *t, const struct srv_cols *c, size_t i,
		       const struct srv_design *d, enum srv_step step, long chunk, int kernel_decode)
{
	const struct kern_desc *k = kern_find(GET(t, i, c->kernel));
	double batch = atof(GET(t, i, c->batch)), v;

	if (GET(t, i, c->ragged)[0])
		return -1;              /* a ragged batch's step: not one length's */
	if (strcmp(GET(t, i, c->label), d->label) || strcmp(GET(t, i, c->status), "ok") ||
	    !GET(t, i, c->time)[0] || strcmp(GET(t, i, c->mode), steps[step].mode))
		return -1;
	if (step == SRV_EXTEND && atol(GET(t, i, c->chunk)) != chunk)
		return -1;
	if (step == SRV_DECODE && ((d->kv_layout[0] && strcmp(GET(t, i, c->layout), d->kv_layout)) ||
				   (d->kv_dtype[0] && strcmp(GET(t, i, c->dtype), d->kv_dtype))))
		return -1;
	if (kernel_decode && !(k && k->decode))
		return -1;
	v = atof(GET(t, i, c->time));
	return steps[step].per_sequence ? v / (batch > 0 ? batch : 1) : v;
}

/* The fastest time of d per measured context: ns[] ascending, ts[] its
 * times; returns how many contexts. */
static size_t measured_times(const struct res_table *t, const struct srv_design *d, enum srv_step step,
			     long chunk, long *ns, double *ts)
{
	struct srv_cols c;
	size_t m = 0;
	int only_decode_kernel = 0;

	srv_cols_of(t, step, &c);
	if (c.time < 0)
		return 0;
	for (size_t i = 0; step == SRV_DECODE && i < t->nrow && !only_decode_kernel; i++)
		only_decode_kernel = row_time(t, &c, i, d, step, chunk, 1) >= 0;
	for (size_t i = 0; i < t->nrow; i++) {
		double v = row_time(t, &c, i, d, step, chunk, only_decode_kernel);
		long n = atol(GET(t, i, c.n));
		size_t k;
		if (v < 0)
			continue;
		for (k = 0; k < m && ns[k] != n; k++)
			;
		if (k == m && m < MAX_CONTEXTS) {
			ns[m] = n;
			ts[m++] = v;
		} else if (k < m && v < ts[k]) {
			ts[k] = v;
		}
	}
	for (size_t a = 1; a < m; a++)          /* ascending context */
		for (size_t b = a; b > 0 && ns[b] < ns[b - 1]; b--) {
			long tn = ns[b];
			double tt = ts[b];
			ns[b] = ns[b - 1];
			ts[b] = ts[b - 1];
			ns[b - 1] = tn;
			ts[b - 1] = tt;
		}
	return m;
}

/* Least-squares slope of log t against log n (the latency picture's). */
static double fitted_exponent(const long *ns, const double *ts, size_t m)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, det;

	for (size_t i = 0; i < m; i++) {
		double x = log((double)ns[i]), y = log(ts[i]);
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
	}
	det = (double)m * sxx - sx * sx;
	return det > 0 ? ((double)m * sxy - sx * sy) / det : 0.0;
}

/* The time at context n from the measured contexts ns[] (times ts[], m
 * of them): measured there, or fitted when fit and two or more were. */
static void series_time(const long *ns, const double *ts, size_t m, long n, int fit,
			struct srv_value *out)
{
	size_t near = 0;

	memset(out, 0, sizeof *out);
	out->src = SRV_NONE;
	out->longest = m ? ns[m - 1] : 0;
	for (size_t i = 0; i < m; i++) {
		if (ns[i] == n) {
			out->v = ts[i];
			out->src = SRV_MEASURED;
			out->anchor = n;
			return;
		}
		if (labs(ns[i] - n) < labs(ns[near] - n))
			near = i;
	}
	if (!fit || m < 2)
		return;
	out->exponent = fitted_exponent(ns, ts, m);
	out->anchor = ns[near];
	out->v = ts[near] * pow((double)n / (double)ns[near], out->exponent);
	out->src = SRV_FITTED;
}

void srv_layer_time(const struct res_table *t, const struct srv_design *d, enum srv_step step,
		    long chunk, long n, int fit, struct srv_value *out)
{
	long ns[MAX_CONTEXTS];
	double ts[MAX_CONTEXTS];
	size_t m = measured_times(t, d, step, chunk, ns, ts);

	series_time(ns, ts, m, n, fit, out);
}

void srv_first_token(const struct res_table *t, const struct srv_design *d, long prompt, long chunk,
		     int fit, struct srv_value *out)
{
	struct srv_value v;
	long ns[MAX_CONTEXTS];
	double ts[MAX_CONTEXTS];
	size_t m;

	if (chunk <= 0 || chunk >= prompt) {
		srv_layer_time(t, d, SRV_PREFILL, 0, prompt, fit, out);
		return;
	}
	/* the chunks' cells read once; each chunk then costs O(contexts) */
	m = measured_times(t, d, SRV_EXTEND, chunk, ns, ts);
	*out = (struct srv_value){ .src = SRV_MEASURED };
	if (exp_prefill_chunks(prompt, chunk) > EXP_MAX_PREFILL_CHUNKS) {
		out->src = SRV_NONE;    /* refused when the experiment was read */
		return;
	}
	for (long end = chunk; end - chunk < prompt; end += chunk) {
		long at = end < prompt ? end : prompt;  /* the last chunk may be short */
		series_time(ns, ts, m, at, fit, &v);
		out->longest = v.longest;
		srv_add(out, (double)(at - (end - chunk)) / (double)chunk, &v);
	}
}

void srv_add(struct srv_value *sum, double count, const struct srv_value *v)
{
	if (sum->src == SRV_NONE || v->src == SRV_NONE) {
		sum->src = SRV_NONE;
		return;
	}
	sum->v += count * v->v;
	if (v->src == SRV_FITTED)
		sum->src = SRV_FITTED;
}

double srv_row_values(const struct srv_model *m)
{
	return m->kv_latent ? m->head_dim : m->head_dim + m->head_dim_v;
}

double srv_row_bytes(const struct srv_model *m, enum dtype t)
{
	return (double)dtype_row_bytes(t, m->head_dim, EXP_MODEL_KIVI_GROUP) +
	       (m->kv_latent ? 0.0 : (double)dtype_row_bytes(t, m->head_dim_v, EXP_MODEL_KIVI_GROUP));
}

const char *srv_model_shape(const struct srv_model *m, char *buf, size_t len)
{
	int n = snprintf(buf, len, "kv_heads %d, head_dim %d", m->kv_heads, m->head_dim);

	if (n > 0 && (size_t)n < len && (m->head_dim_v != m->head_dim || m->kv_latent))
		snprintf(buf + n, len - (size_t)n, ", head_dim_v %d%s", m->head_dim_v,
			 m->kv_latent ? ", K and V one cached latent" : "");
	return buf;
}

double srv_layer_kv_bytes(const struct pattern *p, const char *layout, enum dtype t,
			  const struct srv_model *m, long n)
{
	long sinks = p->kind->pinned_rows ? p->kind->pinned_rows(p) : 0;
	long bounded = pat_kv_rows(p, n), rows = bounded;
	int l;

	for (l = 0; l < KV_LAYOUT_COUNT && strcmp(kv_layout_names[l], layout); l++)
		;
	if (l < KV_LAYOUT_COUNT)
		rows = kv_layout_rows((enum kv_layout)l, n, bounded - sinks > 0 ? bounded - sinks : 1,
				      l == KV_SINK_RING ? sinks : 0);
	return m->kv_heads * ((double)rows * srv_row_bytes(m, t) +
			      (dtype_of(t)->form == DT_FORM_KIVI ?
			       (128.0 + 32.0) * srv_row_values(m) * 2.0 : 0.0));
}

double srv_fit(const struct srv_model *m, double kv)
{
	if (m->memory <= 0)
		return -1;
	return kv > 0 ? floor((m->memory - m->weights) / kv) : 0;
}

void srv_format_time(const struct srv_value *v, char *buf, size_t len)
{
	double s = v->v;
	const char *unit = s >= 1 ? "s" : "ms";

	if (v->src == SRV_NONE) {
		snprintf(buf, len, "not measured");
		return;
	}
	if (s < 1)
		s *= 1e3;
	snprintf(buf, len, "%s%.3g %s%s", v->src == SRV_FITTED ? "~" : "", s, unit,
		 v->src == SRV_FITTED ? " (fitted)" : "");
}

const char *srv_shape_first(const struct ynode *mf, const char *key, const char *def)
{
	const struct ynode *v = yt_get(yt_get(yt_get(mf, "experiment"), "shape"), key);

	return v && v->type == YT_SEQ && v->n ? v->kid[0]->str : def;
}

double srv_num(const struct ynode *n, const char *key, double def)
{
	const struct ynode *v = yt_get(n, key);

	return v && v->type == YT_SCALAR && v->str[0] ? atof(v->str) : def;
}

int srv_model_of(const struct ynode *mf, const char *name, struct srv_model *m)
{
	const struct ynode *models = yt_get(yt_get(mf, "experiment"), "models");

	for (size_t i = 0; models && models->type == YT_SEQ && i < models->n; i++) {
		const struct ynode *x = models->kid[i], *nm = yt_get(x, "name");
		const struct ynode *layers = yt_get(x, "layers"), *dt = yt_get(x, "kv_dtype");
		const struct ynode *sv = yt_get(x, "serving");
		int t;
		if (!nm || nm->type != YT_SCALAR || strcmp(nm->str, name))
			continue;
		memset(m, 0, sizeof *m);
		snprintf(m->name, sizeof m->name, "%s", nm->str);
		m->kv_heads = (int)srv_num(x, "kv_heads", 1);
		m->head_dim = (int)srv_num(x, "head_dim", 64);
		m->head_dim_v = (int)srv_num(x, "head_dim_v", m->head_dim);
		m->kv_latent = yt_get(x, "kv_latent") && yt_get(x, "kv_latent")->type == YT_SCALAR &&
			       !strcmp(yt_get(x, "kv_latent")->str, "true");
		t = dt && dt->type == YT_SCALAR ? dtype_find(dt->str) : -1;
		m->kv_dtype = t < 0 ? DT_F32 : (enum dtype)t;
		m->memory = srv_num(sv, "memory_bytes", 0);
		m->prefill_chunk = (long)srv_num(x, "prefill_chunk", 0);
		m->weights = srv_num(sv, "weights_bytes", 0);
		for (size_t j = 0; layers && layers->type == YT_SEQ && j < layers->n; j++)
			m->layers += (long)srv_num(layers->kid[j], "count", 0);
		return 0;
	}
	return -1;
}

int srv_pattern_of(const struct ynode *mf, const char *label, struct pattern *p)
{
	const struct ynode *pats = yt_get(yt_get(mf, "experiment"), "patterns");
	int causal = strcmp(srv_shape_first(mf, "causal", "true"), "false") != 0;
	struct err e;

	for (size_t i = 0; pats && pats->type == YT_SEQ && i < pats->n; i++) {
		const struct ynode *l = yt_get(pats->kid[i], "label"), *s = yt_get(pats->kid[i], "spec");
		if (l && s && l->type == YT_SCALAR && !strcmp(l->str, label))
			return exp_parse_spec(s->str, causal, p, &e) ? -1 : 0;
	}
	return -1;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* The contexts of the stacks' table: every seq_len measured, 32k and
 * 128k, and the review's prompt and context; ascending, no repeats. */
static size_t stack_contexts(const struct ynode *mf, const struct res_table *t, long *ns)
{
	const struct ynode *rv = yt_get(yt_get(mf, "experiment"), "review");
	int c = res_table_col(t, "seq_len");
	size_t n = 0, k = 0;

	for (size_t i = 0; c >= 0 && i < t->nrow && n < MAX_CONTEXTS - 4; i++)
		ns[n++] = atol(GET(t, i, c));
	ns[n++] = 32768;
	ns[n++] = 131072;
	if (rv) {
		ns[n++] = (long)srv_num(rv, "prompt", 32768);
		ns[n++] = (long)srv_num(rv, "context", 32768);
	}
	qsort(ns, n, sizeof *ns, cmp_long);
	for (size_t i = 0; i < n; i++)
		if (!k || ns[i] != ns[k - 1])
			ns[k++] = ns[i];
	return k;
}


/* One model's table: a line per context. */
static void write_stack(FILE *f, const struct ynode *mf, const struct ynode *x,
			const struct res_table *t)
{
	const struct ynode *nm = yt_get(x, "name"), *layers = yt_get(x, "layers");
	struct srv_model m;
	long ns[MAX_CONTEXTS];
	size_t nn = stack_contexts(mf, t, ns);
	int fitted = 0;
	char shape[128];

	if (!nm || srv_model_of(mf, nm->str, &m))
		return;
	fprintf(f, "### %s\n\n", m.name);
	for (size_t j = 0; layers && layers->type == YT_SEQ && j < layers->n; j++) {
		const struct ynode *cnt = yt_get(layers->kid[j], "count"), *pl = yt_get(layers->kid[j], "pattern");
		fprintf(f, "%s%s x %s", j ? ", " : "Layers: ", cnt ? cnt->str : "?", pl ? pl->str : "?");
	}
	fprintf(f, " (%ld layers; %s, %s", m.layers, srv_model_shape(&m, shape, sizeof shape),
		dtype_of(m.kv_dtype)->name);
	if (m.memory > 0) {
		char hm[32], hw[32];
		res_human_bytes(m.memory, hm, sizeof hm);
		res_human_bytes(m.weights, hw, sizeof hw);
		fprintf(f, "; serving %s with %s of weights", hm, hw);
	}
	if (m.prefill_chunk)
		fprintf(f, "; prefill in chunks of %ld", m.prefill_chunk);
	fputs(").\n\n| context | KV cache per sequence | time to first token | time per output token |", f);
	fputs(m.memory > 0 ? " sequences that fit |\n|---:|---:|---:|---:|---:|\n" : "\n|---:|---:|---:|---:|\n", f);
	for (size_t k = 0; k < nn; k++) {
		struct srv_value ttft = { .src = SRV_MEASURED }, tpot = { .src = SRV_MEASURED };
		double kv = 0;
		char hb[32], a[64], b[64];
		for (size_t j = 0; layers && layers->type == YT_SEQ && j < layers->n; j++) {
			const struct ynode *pl = yt_get(layers->kid[j], "pattern");
			double cnt = (double)(long)srv_num(layers->kid[j], "count", 0);
			struct srv_design d = { .kv_dtype = "" };
			struct srv_value v;
			struct pattern p;
			if (!pl || pl->type != YT_SCALAR)
				continue;
			snprintf(d.label, sizeof d.label, "%s", pl->str);
			snprintf(d.kv_dtype, sizeof d.kv_dtype, "%s", dtype_of(m.kv_dtype)->name);
			if (!srv_pattern_of(mf, pl->str, &p)) {
				kv += cnt * srv_layer_kv_bytes(&p, "", m.kv_dtype, &m, ns[k]);
				pat_free(&p);
			}
			srv_first_token(t, &d, ns[k], m.prefill_chunk, 1, &v);
			srv_add(&ttft, cnt, &v);
			srv_layer_time(t, &d, SRV_DECODE, 0, ns[k], 1, &v);
			if (v.src == SRV_NONE) {        /* decode cells of another cache type */
				d.kv_dtype[0] = 0;
				srv_layer_time(t, &d, SRV_DECODE, 0, ns[k], 1, &v);
			}
			srv_add(&tpot, cnt, &v);
		}
		fitted |= ttft.src == SRV_FITTED || tpot.src == SRV_FITTED;
		res_human_bytes(kv, hb, sizeof hb);
		srv_format_time(&ttft, a, sizeof a);
		srv_format_time(&tpot, b, sizeof b);
		fprintf(f, "| %ld | %s | %s | %s |", ns[k], hb, a, b);
		if (m.memory > 0)
			fprintf(f, " %.0f |", srv_fit(&m, kv));
		fputc('\n', f);
	}
	fputs(fitted ? "\n~ (fitted): no cell measured that context; the nearest measured one scaled by the "
		       "growth exponent fitted over the measured contexts (time ~ n^b, as in the latency picture).\n\n"
		     : "\n", f);
}

void srv_write_stacks(FILE *f, const struct ynode *mf, const struct res_table *t)
{
	const struct ynode *models = yt_get(yt_get(mf, "experiment"), "models");

	if (!models || models->type != YT_SEQ || !models->n)
		return;
	fputs("## Layer stacks\n\nEach model's figures are sums over its layers of the cells this run measured "
	      "for each layer's pattern. KV cache per sequence: the cache each layer's pattern keeps. Time to first "
	      "token: each layer's prefill of the whole prompt (its fastest kernel, per sequence), or with "
	      "prefill_chunk C the sum of its extend cells of C tokens ending at C, 2C, ..., the prompt. Time per output "
	      "token: each layer's decode step at that context (the decode kernel's, in the model's kv_dtype where "
	      "measured). Sequences that fit: (memory - weights) / KV per sequence.\n\n", f);
	for (size_t i = 0; i < models->n; i++)
		write_stack(f, mf, models->kid[i], t);
}
