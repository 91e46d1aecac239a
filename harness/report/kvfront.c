/* kvfront.c - KV bytes per token against output error, per design, and
 * its Pareto front (see kvfront.h). */
#include <stdlib.h>
#include <string.h>

#include "../config/experiment.h"
#include "kvfront.h"

static double num_or(const char *s, double def)
{
	return s && *s ? atof(s) : def;
}

/* The point of (inputs, label, kv_dtype), added when new; NULL out of
 * memory. */
static struct kv_point *point_of(struct kv_front *f, const char *in, const char *label,
				 const char *kt)
{
	struct kv_point *p;

	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->pt[i].inputs, in) && !strcmp(f->pt[i].label, label) &&
		    !strcmp(f->pt[i].kv_dtype, kt))
			return &f->pt[i];
	p = realloc(f->pt, (f->n + 1) * sizeof *p);
	if (!p)
		return NULL;
	f->pt = p;
	p = &f->pt[f->n++];
	memset(p, 0, sizeof *p);
	p->inputs = in;
	p->label = label;
	p->kv_dtype = kt;
	p->seq_len = -1;
	return p;
}

/* 1 when a is no worse than b on both axes and better on one. */
static int dominates(const struct kv_point *a, const struct kv_point *b)
{
	return strcmp(a->inputs, b->inputs) == 0 && a->bytes_per_token <= b->bytes_per_token &&
	       a->err <= b->err && (a->bytes_per_token < b->bytes_per_token || a->err < b->err);
}

int kv_front_build(const struct res_table *t, struct kv_front *f)
{
	int in = res_table_col(t, "inputs"), lab = res_table_col(t, "pattern_label");
	int kt = res_table_col(t, "kv_dtype"), n = res_table_col(t, "seq_len");
	int st = res_table_col(t, "status"), kvb = res_table_col(t, "kv_cache_bytes");
	int ke = res_table_col(t, "kv_err_mean"), oe = res_table_col(t, "out_err_mean");
	int kd = res_table_col(t, "kv_err_dense_mean"), kr = res_table_col(t, "kv_recall_mean");
	int rc = res_table_col(t, "recall_mean"), mode = res_table_col(t, "mode");

	memset(f, 0, sizeof *f);
	for (size_t i = 0; i < t->nrow; i++) {
		const char *kind = res_table_get(t, i, kt);
		double err = num_or(res_table_get(t, i, ke), num_or(res_table_get(t, i, oe), -1));
		long len = atol(res_table_get(t, i, n));
		struct kv_point *p;
		const struct exp_mode_desc *md = exp_mode_find(res_table_get(t, i, mode));
		if (!md || !md->cached || md->chunk || !*kind ||   /* token by token through a cache */
		    strcmp(res_table_get(t, i, st), "ok") || err < 0 ||
		    num_or(res_table_get(t, i, kvb), 0) <= 0)
			continue;
		p = point_of(f, res_table_get(t, i, in), res_table_get(t, i, lab), kind);
		if (!p)
			return -1;
		if (len <= p->seq_len)
			continue;
		p->seq_len = len;
		p->bytes_per_token = num_or(res_table_get(t, i, kvb), 0) / (double)len;
		p->err = err;
		p->err_dense = num_or(res_table_get(t, i, kd), -1);
		p->recall = num_or(res_table_get(t, i, kr), num_or(res_table_get(t, i, rc), -1));
	}
	for (size_t i = 0; i < f->n; i++) {
		f->pt[i].front = 1;
		for (size_t j = 0; j < f->n && f->pt[i].front; j++)
			if (j != i && dominates(&f->pt[j], &f->pt[i]))
				f->pt[i].front = 0;
	}
	return 0;
}

int kv_front_write_csv(const struct kv_front *f, double budget, const char *path,
		       struct err *e)
{
	FILE *out = fopen(path, "w");

	if (!out)
		return err_set(e, "cannot write '%s'", path);
	fputs("inputs,pattern_label,kv_dtype,seq_len,bytes_per_token,err,err_dense,recall,pareto,"
	      "budget_per_token\n", out);
	for (size_t i = 0; i < f->n; i++) {
		const struct kv_point *p = &f->pt[i];
		res_csv_field(out, p->inputs);
		fputc(',', out);
		res_csv_field(out, p->label);
		fprintf(out, ",%s,%ld,%.6g,%.6g,", p->kv_dtype, p->seq_len, p->bytes_per_token, p->err);
		if (p->err_dense >= 0)
			fprintf(out, "%.6g", p->err_dense);
		fputc(',', out);
		if (p->recall >= 0)
			fprintf(out, "%.6g", p->recall);
		fprintf(out, ",%d,", p->front);
		if (budget > 0)
			fprintf(out, "%.6g", budget / (double)p->seq_len);
		fputc('\n', out);
	}
	if (ferror(out) | fclose(out))
		return err_set(e, "cannot write '%s'", path);
	return 0;
}

static int by_bytes(const void *a, const void *b)
{
	const struct kv_point *x = a, *y = b;
	int c = strcmp(x->inputs, y->inputs);

	if (c)
		return c;
	return (x->bytes_per_token > y->bytes_per_token) - (x->bytes_per_token < y->bytes_per_token);
}

void kv_front_write_md(const struct kv_front *f, double budget, FILE *md)
{
	struct kv_point *s;

	if (!f->n || !(s = malloc(f->n * sizeof *s)))
		return;
	memcpy(s, f->pt, f->n * sizeof *s);
	qsort(s, f->n, sizeof *s, by_bytes);
	fputs("## KV cache: bytes per token against output error\n\n"
	      "Fewer keys (a sparse G) and fewer bits (a compressed kv_dtype) on the same axes, per "
	      "decoded design at its largest seq_len. Bytes per token: what the decoder's cache stores "
	      "(kv_cache_bytes / seq_len, scales, zero points and KIVI's f16 tail included). Error: "
	      "||o - o_dense|| / ||o_dense|| with the design's G over the values its cache holds, against "
	      "dense attention on f32 K/V (kv_err_mean); the type alone is the same with a dense G "
	      "(kv_err_dense_mean). Front: no other design of the same inputs stores less and loses less.\n\n"
	      "| inputs | pattern | kv_dtype | n | bytes / token | error | type alone | recall | front |", md);
	fputs(budget > 0 ? " within kv_budget |\n|---|---|---|---|---|---|---|---|---|---|\n"
			 : "\n|---|---|---|---|---|---|---|---|---|\n", md);
	for (size_t i = 0; i < f->n; i++) {
		fprintf(md, "| %s | %s | %s | %ld | %.1f | %.3g | ", s[i].inputs, s[i].label,
			s[i].kv_dtype, s[i].seq_len, s[i].bytes_per_token, s[i].err);
		if (s[i].err_dense >= 0)
			fprintf(md, "%.3g", s[i].err_dense);
		fputs(" | ", md);
		if (s[i].recall >= 0)
			fprintf(md, "%.3f", s[i].recall);
		fprintf(md, " | %s |", s[i].front ? "yes" : "");
		if (budget > 0)
			fprintf(md, " %s |", s[i].bytes_per_token * (double)s[i].seq_len <= budget ? "yes" : "no");
		fputc('\n', md);
	}
	fputc('\n', md);
	free(s);
}

void kv_front_free(struct kv_front *f)
{
	free(f->pt);
	memset(f, 0, sizeof *f);
}
