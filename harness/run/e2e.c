/* e2e.c - the e2e block run (e2e.h). Per context (each seq_len of the
 * sweep, shortest first): the text's first tokens (with the needle
 * planted when asked), the model's own pass, then each design's: a
 * prefill scoring the last score_last positions, then decode_steps steps
 * over the cache it kept, feeding the text's next tokens. Each design is
 * compared with the own pass (KL, perplexity, top-1, the passkey's
 * log-probability) and its row written at once; the own pass's row is
 * the baseline (KL 0). One pass per design and context: a 32k-token
 * forward takes minutes, so prefill times are single runs and decode
 * times the median of the steps. */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../model/eval.h"
#include "../../model/model.h"
#include "../report/e2e.h"
#include "../report/results.h"
#include "../stats.h"
#include "../textfile.h"
#include "e2e.h"


/* What one pass over a context measured. */
struct pass {
	float *logits;                  /* [scored][vocab] */
	double prefill_s, prefill_attn_s;
	double decode_s, decode_attn_s; /* medians over the steps; < 0: none */
	double layer_overlap, step_overlap;     /* < 0: not a selected design */
};

/* One context's tokens: the text (or needle text) and what decode feeds. */
struct context {
	long want;                      /* the sweep's seq_len */
	int32_t *tok;                   /* n tokens */
	long n, at, k;                  /* the passkey's tokens [at, at + k); k 0: none */
	const int32_t *next;            /* decode's tokens */
	long n_next;
	long score_from;
};

struct e2e {
	const struct experiment *x;
	const struct e2e_opts *o;
	struct model m;
	int loaded;                     /* m is open */
	const struct kern_desc *kernel;
	char *text;
	size_t n_text;
	int32_t *plain;                 /* the text's tokens */
	size_t n_plain;
	FILE *csv;
	char **done;                    /* "design@context" of the rows kept (resume) */
	size_t n_done;
	float *own_logits;
};

static void progress(const struct e2e *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const struct e2e *r, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!r->o->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	r->o->progress(line);
}

/* ---- files ---- */

/* The model, the text's tokens and the kernel; each design's layers
 * checked against the model. */
static int open_model(struct e2e *r, struct err *e)
{
	const struct exp_e2e *cfg = &r->x->e2e;
	char why[1024];
	struct stat st;
	int *take;

	if (stat(cfg->gguf, &st))
		return err_set(e, "cannot read the e2e model '%s': %s", cfg->gguf,
			       errno == ENOENT ? "no such file (make model fetches Gemma 3 270M)" : strerror(errno));
	if (model_load(&r->m, cfg->gguf, why, sizeof why))
		return err_set(e, "e2e: %s", why);
	r->loaded = 1;
	if (text_read(cfg->text, "the e2e text", " (make model fetches the model and its text)", &r->text, &r->n_text,
		      e))
		return -1;
	if (tok_encode(&r->m.tok, r->text, r->n_text, &r->plain, &r->n_plain, why, sizeof why))
		return err_set(e, "e2e: the text '%s': %s", cfg->text, why);
	if (!(take = malloc((size_t)r->m.n_layer * sizeof *take)))
		return err_set(e, "out of memory opening the e2e model");
	for (size_t i = 0; i < cfg->n_des; i++)
		if (model_layers_named(&r->m, cfg->des[i].layers, take)) {
			free(take);
			return err_set(e, "e2e design '%s' names layers '%s'; '%s' has layers 0 to %d",
				       r->x->pat[cfg->des[i].pat].label, cfg->des[i].layers, cfg->gguf, r->m.n_layer - 1);
		}
	free(take);
	for (size_t i = 0; i < r->x->n_kern && !r->kernel; i++)
		if (!r->x->kern[i]->decode && !r->x->kern[i]->ragged &&
		    !(r->x->kern[i]->unavailable && r->x->kern[i]->unavailable()))
			r->kernel = r->x->kern[i];
	if (!r->kernel)
		return err_set(e, "e2e runs the model's attention through the experiment's first kernel that reads "
			       "whole arrays; its kernels list has none (add tiled)");
	return 0;
}

/* "design@context", malloc'ed (NULL: out of memory). */
static char *done_key(const char *design, long context)
{
	size_t len = strlen(design) + 32;
	char *k = malloc(len);

	if (k)
		snprintf(k, len, "%s@%ld", design, context);
	return k;
}

/* "design@context" of the rows an earlier run wrote, when resuming (kept,
 * whatever their status, as results.csv's cells are: the file is appended
 * to); else a new e2e.csv with its header. */
static int open_csv(struct e2e *r, struct err *e)
{
	char path[4200];
	struct res_table t;
	struct err ignore;

	snprintf(path, sizeof path, "%s/e2e.csv", r->o->dir);
	if (r->o->resume && !res_table_read(path, &t, &ignore)) {
		int d = res_table_col(&t, "design"), c = res_table_col(&t, "context"), s = res_table_col(&t, "status");
		int whole = !t.torn_line && d >= 0 && c >= 0 && s >= 0 && e2e_header_matches(&t);
		for (size_t i = 0; whole && i < t.nrow; i++) {
			char **k = realloc(r->done, (r->n_done + 1) * sizeof *k);
			if (k)
				r->done = k;
			if (!k || !(k[r->n_done] = done_key(res_table_get(&t, i, d), atol(res_table_get(&t, i, c))))) {
				res_table_free(&t);
				return err_set(e, "out of memory reading '%s'", path);
			}
			r->n_done++;
		}
		res_table_free(&t);
		if (whole) {
			r->csv = fopen(path, "a");
			return r->csv ? 0 : err_set(e, "cannot write '%s': %s", path, strerror(errno));
		}
	}
	if (!(r->csv = fopen(path, "w")))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	fprintf(r->csv, "%s\n", e2e_header);
	return fflush(r->csv) ? err_set(e, "cannot write '%s': %s", path, strerror(errno)) : 0;
}

static int is_done(const struct e2e *r, const char *design, long context)
{
	char *key = done_key(design, context);
	int found = 0;

	for (size_t i = 0; key && !found && i < r->n_done; i++)
		found = !strcmp(r->done[i], key);
	free(key);
	return found;
}

/* ---- passes ---- */

/* One pass of the model with pat over context c: its prefill (logits
 * of the scored positions into logits), then its decode steps. 0, or -1
 * with why. */
static int run_pass(const struct e2e *r, const struct pattern *const *pat, const struct context *c,
		    float *logits, struct pass *p, char *why, size_t len)
{
	struct model_run run = { .pat = pat, .kernel = r->kernel, .capture = -1, .last_layer = -1,
				 .logits = logits, .score_from = c->score_from };
	struct model_cache cache = { 0 };
	const long steps = r->x->e2e.decode_steps < c->n_next ? r->x->e2e.decode_steps : c->n_next;
	double *ts = NULL, *ta = NULL;
	float *out = NULL;
	long s = 0;
	int rc = -1;

	p->decode_s = p->decode_attn_s = p->step_overlap = -1;
	if (steps > 0) {
		ts = malloc((size_t)steps * sizeof *ts);
		ta = malloc((size_t)steps * sizeof *ta);
		out = malloc((size_t)r->m.n_vocab * sizeof *out);
		if (!ts || !ta || !out) {
			snprintf(why, len, "out of memory for %ld decode steps", steps);
			goto done;
		}
		if (model_cache_init(&r->m, &run, c->n + steps, &cache, why, len))
			goto done;
		run.cache = &cache;
	}
	if (model_forward(&r->m, c->tok, c->n, &run, why, len))
		goto done;
	p->prefill_s = model_times_total(&run.t) - run.t.out + run.t.out_last;
	p->prefill_attn_s = run.t.attn;
	p->layer_overlap = run.layer_pairs ? run.layer_overlap : -1;
	for (s = 0; s < steps; s++) {
		if (model_step(&r->m, c->next[s], &run, out, why, len))
			goto done;
		ts[s] = model_times_total(&run.t);
		ta[s] = run.t.attn;
	}
	if (steps > 0) {
		struct stats_summary st;
		stats_summarise(ts, (size_t)steps, &st);
		p->decode_s = st.median;
		stats_summarise(ta, (size_t)steps, &st);
		p->decode_attn_s = st.median;
	}
	p->step_overlap = run.step_pairs ? run.step_overlap : -1;
	rc = 0;
done:
	model_run_end(&r->m, &run);
	if (run.cache)
		model_cache_free(&r->m, &cache);
	free(ts);
	free(ta);
	free(out);
	return rc;
}

/* ---- rows ---- */

/* A row's design: its label, pattern and layers, each layer's pattern
 * (NULL: the model's own) and how many layers it takes. */
struct design {
	char label[600];
	const char *pattern, *layers;
	const struct pattern **pat;
	int designed, designed_windowed;
};

static void num(FILE *f, double v, const char *fmt)
{
	fputc(',', f);
	if (isfinite(v) && v >= 0)
		fprintf(f, fmt, v);
}

/* Row of design d at context c: cmp against the own pass (the own
 * pass's against itself), needle its and the own pass's passkey
 * log-probabilities (NULL: no needle); p NULL when the pass failed or
 * was skipped (reason). */
static int write_row(struct e2e *r, const struct design *d, const struct context *c, const struct pass *p,
		     const struct model_compare *cmp, const double *needle, const char *status, const char *reason,
		     struct err *e)
{
	const struct model *m = &r->m;
	FILE *f = r->csv;
	int windowed = 0;

	for (int il = 0; il < m->n_layer; il++)
		windowed += m->layer[il].windowed;
	res_csv_field(f, d->label);
	fputc(',', f);
	res_csv_field(f, d->pattern);
	fputc(',', f);
	res_csv_field(f, d->layers);
	fprintf(f, ",%ld,%ld,%ld", c->want, c->n, c->n - c->score_from);
	num(f, cmp ? cmp->kl_mean : NAN, "%.9g");
	num(f, cmp ? cmp->kl_p99 : NAN, "%.9g");
	num(f, cmp ? cmp->ppl_design : NAN, "%.9g");
	num(f, cmp ? cmp->ppl_dense : NAN, "%.9g");
	fputc(',', f);
	if (cmp)
		fprintf(f, "%.9g", cmp->ppl_design / cmp->ppl_dense - 1);
	num(f, cmp ? cmp->top1 : NAN, "%.9g");
	fputc(',', f);
	if (needle && isfinite(needle[0]))
		fprintf(f, "%.9g", needle[0]);
	fputc(',', f);
	if (needle && isfinite(needle[1]))
		fprintf(f, "%.9g", needle[1]);
	num(f, needle && isfinite(needle[0]) && isfinite(needle[1]) ? exp(needle[0] - needle[1]) : NAN, "%.9g");
	num(f, model_kv_bytes(m, d->pat, c->n) / (double)c->n, "%.6g");
	num(f, p ? p->prefill_s : NAN, "%.6g");
	num(f, p ? p->prefill_attn_s : NAN, "%.6g");
	num(f, p ? p->decode_s : NAN, "%.6g");
	num(f, p ? p->decode_attn_s : NAN, "%.6g");
	num(f, p && p->decode_s > 0 ? 1.0 / p->decode_s : NAN, "%.6g");
	num(f, p ? p->layer_overlap : NAN, "%.6g");
	num(f, p ? p->step_overlap : NAN, "%.6g");
	fprintf(f, ",%d,%d,%ld,%d,%d,%d,%d,%d,%s,%d,%s,", m->n_layer, windowed, m->window, m->kv_heads, m->head_dim,
		m->head_dim_v, d->designed, d->designed_windowed, r->kernel->name, kern_max_threads(), status);
	res_csv_field(f, reason ? reason : "");
	fputc('\n', f);
	if (fflush(f) || ferror(f))
		return err_set(e, "cannot write '%s/e2e.csv': %s", r->o->dir, strerror(errno));
	return 0;
}

/* ---- contexts ---- */

/* Design i of the block (-1: the model's own) into d, its layers'
 * patterns in pat[n_layer]. */
static void design_of(const struct e2e *r, long i, const struct pattern **pat, int *take, struct design *d)
{
	const struct model *m = &r->m;

	memset(d, 0, sizeof *d);
	d->pat = pat;
	memset(pat, 0, (size_t)m->n_layer * sizeof *pat);
	if (i < 0) {
		snprintf(d->label, sizeof d->label, "own");
		d->pattern = "";
		d->layers = "";
		return;
	}
	const struct exp_e2e_design *ed = &r->x->e2e.des[i];
	const struct pattern *p = &r->x->pat[ed->pat];
	snprintf(d->label, sizeof d->label, "%s@%s", p->label, ed->layers);
	d->pattern = p->label;
	d->layers = ed->layers;
	model_layers_named(m, ed->layers, take);        /* checked when the model opened */
	for (int il = 0; il < m->n_layer; il++)
		if (take[il]) {
			pat[il] = p;
			d->designed++;
			d->designed_windowed += m->layer[il].windowed;
		}
}

/* The context's tokens: the needle text or the text's first, scored from
 * where the last score_last positions (and the passkey's) begin; decode
 * feeds the text's tokens after them. 0, or -1 with why. */
static int make_context(const struct e2e *r, long want, struct context *c, char *why, size_t len)
{
	const struct exp_e2e *cfg = &r->x->e2e;
	size_t n = 0;

	memset(c, 0, sizeof *c);
	c->want = want;
	if (cfg->needle) {
		if (model_needle(&r->m, r->text, r->n_text, want, &c->tok, &n, &c->at, &c->k, why, len))
			return -1;
	} else {
		n = r->n_plain < (size_t)want ? r->n_plain : (size_t)want;
		if (!(c->tok = malloc(n * sizeof *c->tok)))
			return snprintf(why, len, "out of memory for %zu tokens", n), -1;
		memcpy(c->tok, r->plain, n * sizeof *c->tok);
	}
	c->n = (long)n;
	if (c->n > want)
		return snprintf(why, len, "the needle text takes %ld tokens, more than the context's %ld", c->n, want), -1;
	if (c->n < 2)
		return snprintf(why, len, "the text gives %ld tokens; a context needs 2", c->n), -1;
	c->score_from = c->n > cfg->score_last ? c->n - cfg->score_last : 0;
	if (c->k && c->at - 1 < c->score_from)
		c->score_from = c->at - 1;
	if (c->n - c->score_from > cfg->score_last)
		return snprintf(why, len, "the passkey's %ld tokens need %ld positions scored, more than score_last %ld",
				c->k, c->n - c->score_from, cfg->score_last), -1;
	c->n_next = cfg->decode_steps;
	c->next = r->plain + ((long)r->n_plain >= c->n + c->n_next ? c->n : 0);
	if ((long)r->n_plain < c->n_next)
		c->n_next = (long)r->n_plain;
	return 0;
}

/* The passkey's log-probability under logits scored from c's score_from. */
static double needle_logprob(const struct e2e *r, const struct context *c, const float *logits)
{
	if (!c->k)
		return NAN;
	return model_logprob(logits, c->tok + c->score_from, r->m.n_vocab, c->at - c->score_from, c->k);
}

/* Every pending design of one context: the own pass, then each design's. */
static int run_context(struct e2e *r, long want, const struct pattern **pat, int *take, float *logits,
		       struct err *e)
{
	const struct exp_e2e *cfg = &r->x->e2e;
	struct context c = { 0 };
	struct design d;
	struct pass own, p;
	char why[1024];
	long pending = 0;
	int rc = 0;

	for (long i = -1; i < (long)cfg->n_des; i++) {
		design_of(r, i, pat, take, &d);
		pending += !is_done(r, d.label, want);
	}
	if (!pending)
		return 0;
	if (want > r->m.n_ctx || make_context(r, want, &c, why, sizeof why)) {
		if (want > r->m.n_ctx)
			snprintf(why, sizeof why, "%ld tokens are past the model's context of %ld", want, r->m.n_ctx);
		free(c.tok);
		c = (struct context){ .want = want };
		for (long i = -1; i < (long)cfg->n_des && !rc; i++) {
			design_of(r, i, pat, take, &d);
			if (!is_done(r, d.label, want))
				rc = write_row(r, &d, &c, NULL, NULL, NULL, "skipped", why, e);
		}
		return rc;
	}
	design_of(r, -1, pat, take, &d);
	progress(r, "e2e: %ld tokens: the model's own pass", c.n);
	if (run_pass(r, pat, &c, r->own_logits, &own, why, sizeof why)) {
		rc = err_set(e, "e2e: the model's own pass at %ld tokens: %s", c.n, why);
		goto out;
	}
	double nd[2] = { needle_logprob(r, &c, r->own_logits), needle_logprob(r, &c, r->own_logits) };
	struct model_compare cmp;
	if (model_compare(r->own_logits, r->own_logits, c.tok + c.score_from, c.n - c.score_from, r->m.n_vocab, &cmp)) {
		rc = err_set(e, "out of memory scoring the model's own pass");
		goto out;
	}
	if (!is_done(r, d.label, want) && (rc = write_row(r, &d, &c, &own, &cmp, c.k ? nd : NULL, "ok", NULL, e)))
		goto out;
	for (long i = 0; i < (long)cfg->n_des && !rc && !*r->o->stop; i++) {
		design_of(r, i, pat, take, &d);
		if (is_done(r, d.label, want))
			continue;
		progress(r, "e2e: %ld tokens: %s", c.n, d.label);
		if (run_pass(r, pat, &c, logits, &p, why, sizeof why)) {
			rc = write_row(r, &d, &c, NULL, NULL, NULL, "failed", why, e);
			continue;
		}
		if (model_compare(r->own_logits, logits, c.tok + c.score_from, c.n - c.score_from, r->m.n_vocab, &cmp)) {
			rc = err_set(e, "out of memory comparing design '%s'", d.label);
			break;
		}
		nd[0] = needle_logprob(r, &c, logits);
		rc = write_row(r, &d, &c, &p, &cmp, c.k ? nd : NULL, "ok", NULL, e);
		progress(r, "e2e: %ld tokens: %s: KL %.4g, perplexity %+.2f%%, top-1 %.3f%s, prefill %.2f s, decode %.1f ms/token",
			 c.n, d.label, cmp.kl_mean, 100 * (cmp.ppl_design / cmp.ppl_dense - 1), cmp.top1,
			 c.k ? (exp(nd[0] - nd[1]) >= 0.5 ? ", needle kept" : ", needle lost") : "", p.prefill_s,
			 1e3 * p.decode_s);
	}
out:
	free(c.tok);
	return rc;
}

int e2e_run(const struct experiment *x, const struct e2e_opts *o, struct err *e)
{
	const struct exp_axis *ax = &x->axis[EXP_SEQ_LEN];
	struct e2e r = { .x = x, .o = o };
	const struct pattern **pat = NULL;
	float *logits = NULL;
	long *ctx = NULL;
	int *take = NULL, rc;

	rc = open_model(&r, e);
	if (!rc) {
		size_t scored = (size_t)x->e2e.score_last * (size_t)r.m.n_vocab * sizeof *logits;
		pat = calloc((size_t)r.m.n_layer, sizeof *pat);
		take = calloc((size_t)r.m.n_layer, sizeof *take);
		ctx = malloc(ax->n * sizeof *ctx);
		logits = malloc(scored);
		r.own_logits = malloc(scored);
		if (!pat || !take || !ctx || !logits || !r.own_logits)
			rc = err_set(e, "out of memory for the logits of %ld positions", x->e2e.score_last);
	}
	if (!rc)
		rc = open_csv(&r, e);
	if (!rc) {
		size_t n = 0;
		for (size_t i = 0; i < ax->n; i++) {    /* the contexts, shortest first, once each */
			size_t j = 0;
			while (j < n && ctx[j] != (long)ax->v[i])
				j++;
			if (j == n)
				ctx[n++] = (long)ax->v[i];
		}
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && ctx[j - 1] > ctx[j]; j--) {
				long t = ctx[j];
				ctx[j] = ctx[j - 1];
				ctx[j - 1] = t;
			}
		for (size_t i = 0; i < n && !rc && !*o->stop; i++)
			rc = run_context(&r, ctx[i], pat, take, logits, e);
	}
	if (r.csv && fclose(r.csv) && !rc)
		rc = err_set(e, "cannot write '%s/e2e.csv': %s", o->dir, strerror(errno));
	for (size_t i = 0; i < r.n_done; i++)
		free(r.done[i]);
	free(r.done);
	free(pat);
	free(take);
	free(ctx);
	free(logits);
	free(r.own_logits);
	free(r.plain);
	free(r.text);
	if (r.loaded)
		model_free(&r.m);
	return rc;
}
