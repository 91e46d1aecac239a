/* pareto.c - one point per (inputs, pattern) at the largest seq_len and
 * thread count of a run: its best kernel's median against dense's, its
 * recall and output error, and whether another pattern of the same inputs
 * is at least as fast and keeps at least as much (then it is dominated). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../patterns/pattern.h"
#include "../inputs/inputs.h"
#include "pareto.h"

#define GET(t, i, c) res_table_get((t), (i), (c))

struct pcols {
	int inputs, label, pattern, kernel, n, threads, d, mode, median, status;
	int density, recall, recall_min, best, err;
};

static void pcols_find(const struct res_table *t, struct pcols *c)
{
	c->inputs = res_table_col(t, "inputs");
	c->label = res_table_col(t, "pattern_label");
	c->pattern = res_table_col(t, "pattern");
	c->kernel = res_table_col(t, "kernel");
	c->n = res_table_col(t, "seq_len");
	c->threads = res_table_col(t, "threads");
	c->d = res_table_col(t, "head_dim");
	c->mode = res_table_col(t, "mode");
	c->median = res_table_col(t, "time_median_s");
	c->status = res_table_col(t, "status");
	c->density = res_table_col(t, "density");
	c->recall = res_table_col(t, "recall_mean");
	c->recall_min = res_table_col(t, "recall_min");
	c->best = res_table_col(t, "recall_best_mean");
	c->err = res_table_col(t, "out_err_mean");
}

static double num_or(const char *s, double def)
{
	return s[0] ? atof(s) : def;
}

/* The point of (inputs, label) in p, added when new. */
static struct pareto_point *point_of(struct pareto *p, const char *inputs,
				     const char *label)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->pt[i].inputs, inputs) && !strcmp(p->pt[i].label, label))
			return &p->pt[i];
	return NULL;
}

/* 1 when row i is at the chosen seq_len, threads, head_dim and mode. */
static int chosen(const struct res_table *t, const struct pcols *c, size_t i,
		  const struct pareto *p, const char *d, const char *mode)
{
	return atol(GET(t, i, c->n)) == p->seq_len && atol(GET(t, i, c->threads)) == p->threads &&
	       !strcmp(GET(t, i, c->d), d) && !strcmp(GET(t, i, c->mode), mode);
}

static void add_row(struct pareto_point *pt, const struct res_table *t,
		    const struct pcols *c, size_t i)
{
	double med = num_or(GET(t, i, c->median), -1);

	if (pt->recall_mean < 0 && GET(t, i, c->recall)[0]) {
		pt->recall_mean = atof(GET(t, i, c->recall));
		pt->recall_min = num_or(GET(t, i, c->recall_min), -1);
		pt->best_mean = num_or(GET(t, i, c->best), -1);
		pt->err_mean = num_or(GET(t, i, c->err), -1);
	}
	if (med > 0 && !strcmp(GET(t, i, c->status), "ok") && (pt->time_s < 0 || med < pt->time_s)) {
		pt->time_s = med;
		pt->kernel = GET(t, i, c->kernel);
	}
}

/* Marks the points no other point of the same inputs dominates. */
static void mark_front(struct pareto *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct pareto_point *a = &p->pt[i];
		a->front = a->recall_mean >= 0 && a->speedup > 0;
		for (size_t j = 0; j < p->n && a->front; j++) {
			const struct pareto_point *b = &p->pt[j];
			if (j == i || strcmp(a->inputs, b->inputs) || b->recall_mean < 0 || b->speedup <= 0)
				continue;
			if (b->speedup >= a->speedup && b->recall_mean >= a->recall_mean &&
			    (b->speedup > a->speedup || b->recall_mean > a->recall_mean))
				a->front = 0;
		}
	}
}

int pareto_build(const struct res_table *t, struct pareto *p)
{
	struct pcols c;
	const char *d = NULL, *mode = NULL;

	memset(p, 0, sizeof *p);
	pcols_find(t, &c);
	for (size_t i = 0; i < t->nrow; i++)
		if (atol(GET(t, i, c.n)) > p->seq_len)
			p->seq_len = atol(GET(t, i, c.n));
	for (size_t i = 0; i < t->nrow; i++)
		if (atol(GET(t, i, c.n)) == p->seq_len) {
			if (atol(GET(t, i, c.threads)) > p->threads)
				p->threads = atol(GET(t, i, c.threads));
			if (!d) {
				d = GET(t, i, c.d);
				mode = GET(t, i, c.mode);
			}
		}
	p->pt = calloc(t->nrow ? t->nrow : 1, sizeof *p->pt);
	if (!p->pt)
		return -1;
	for (size_t i = 0; d && i < t->nrow; i++) {
		const char *in = c.inputs >= 0 ? GET(t, i, c.inputs) : inp_default_kind()->name;
		struct pareto_point *pt;
		if (!chosen(t, &c, i, p, d, mode))
			continue;
		pt = point_of(p, in, GET(t, i, c.label));
		if (!pt) {
			pt = &p->pt[p->n++];
			*pt = (struct pareto_point){ .inputs = in, .label = GET(t, i, c.label),
				.pattern = GET(t, i, c.pattern), .kernel = "", .seq_len = p->seq_len,
				.threads = p->threads, .head_dim = atol(d),
				.density = atof(GET(t, i, c.density)), .recall_mean = -1,
				.recall_min = -1, .best_mean = -1, .err_mean = -1, .time_s = -1,
				.dense_time_s = -1, .speedup = -1 };
		}
		add_row(pt, t, &c, i);
	}
	for (size_t i = 0; i < p->n; i++)
		for (size_t j = 0; j < p->n; j++)
			if (!strcmp(p->pt[j].pattern, pat_dense.name) && !strcmp(p->pt[j].inputs, p->pt[i].inputs))
				p->pt[i].dense_time_s = p->pt[j].time_s;
	for (size_t i = 0; i < p->n; i++)
		if (p->pt[i].dense_time_s > 0 && p->pt[i].time_s > 0)
			p->pt[i].speedup = p->pt[i].dense_time_s / p->pt[i].time_s;
	mark_front(p);
	return 0;
}

int pareto_write_csv(const struct pareto *p, const char *path, struct err *e)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	fputs("inputs,pattern_label,pattern,seq_len,threads,head_dim,density,recall_mean,"
	      "recall_min,recall_best_mean,out_err_mean,best_kernel,time_median_s,"
	      "dense_time_median_s,speedup,pareto\n", f);
	for (size_t i = 0; i < p->n; i++) {
		const struct pareto_point *a = &p->pt[i];
		res_csv_field(f, a->inputs);
		fputc(',', f);
		res_csv_field(f, a->label);
		fprintf(f, ",%s,%ld,%ld,%ld,%.6g,", a->pattern, a->seq_len, a->threads,
			a->head_dim, a->density);
		if (a->recall_mean >= 0)
			fprintf(f, "%.6g,%.6g,%.6g,%.6g", a->recall_mean, a->recall_min,
				a->best_mean, a->err_mean);
		else
			fputs(",,,", f);
		fprintf(f, ",%s,", a->kernel);
		if (a->time_s > 0)
			fprintf(f, "%.6g", a->time_s);
		fputc(',', f);
		if (a->dense_time_s > 0)
			fprintf(f, "%.6g", a->dense_time_s);
		fputc(',', f);
		if (a->speedup > 0)
			fprintf(f, "%.6g", a->speedup);
		fprintf(f, ",%d\n", a->front);
	}
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

void pareto_free(struct pareto *p)
{
	free(p->pt);
	memset(p, 0, sizeof *p);
}
