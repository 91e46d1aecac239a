/* review.c - report.md's quality sections. The per-input table comes from
 * the Pareto points (pareto.c); the per-head choice reads quality.csv at
 * the run's largest seq_len: for each head, the pattern of lowest density
 * whose recall reaches quality: target (the offline per-head choice
 * MInference makes), written as a per_head pattern with the specs the
 * manifest recorded. */
#include <stdlib.h>
#include <string.h>

#include "pareto.h"
#include "review.h"

#define GET(t, i, c) res_table_get((t), (i), (c))

static void write_keeps(FILE *f, const struct pareto *p)
{
	const char *done[64];
	size_t nd = 0;

	fprintf(f, "## What each pattern keeps (n = %ld, %ld threads)\n\n", p->seq_len, p->threads);
	fputs("Recall is the share of the dense softmax mass inside G (mean and smallest over the\n"
	      "measured rows), best the most any G of the same size keeps, error the relative\n"
	      "output error; speed-up is the best kernel's against dense's best. A pattern on the\n"
	      "Pareto front is not beaten on both speed-up and recall by another.\n\n", f);
	for (size_t i = 0; i < p->n && nd < 64; i++) {
		size_t k;
		for (k = 0; k < nd && strcmp(done[k], p->pt[i].inputs); k++)
			;
		if (k < nd)
			continue;
		done[nd++] = p->pt[i].inputs;
		fprintf(f, "### Inputs: %s\n\n", p->pt[i].inputs);
		fputs("| pattern | density | recall mean | recall min | best possible | output error | speed-up | front |\n"
		      "|---|---:|---:|---:|---:|---:|---:|:---:|\n", f);
		for (size_t j = i; j < p->n; j++) {
			const struct pareto_point *a = &p->pt[j];
			char sp[32] = "-";
			if (strcmp(a->inputs, p->pt[i].inputs))
				continue;
			if (a->speedup > 0)
				snprintf(sp, sizeof sp, "%.2fx", a->speedup);
			if (a->recall_mean < 0)
				fprintf(f, "| %s | %.4f | - | - | - | - | %s | |\n", a->label, a->density, sp);
			else
				fprintf(f, "| %s | %.4f | %.3f | %.3f | %.3f | %.3f | %s | %s |\n", a->label,
					a->density, a->recall_mean, a->recall_min, a->best_mean, a->err_mean,
					sp, a->front ? "**yes**" : "");
		}
		fputc('\n', f);
	}
}

/* The manifest's spec of the pattern labelled label, or NULL. */
static const char *spec_of(const struct ynode *m, const char *label)
{
	const struct ynode *pats = yt_get(yt_get(m, "experiment"), "patterns");

	for (size_t i = 0; pats && pats->type == YT_SEQ && i < pats->n; i++) {
		const struct ynode *l = yt_get(pats->kid[i], "label"), *s = yt_get(pats->kid[i], "spec");
		if (l && s && l->type == YT_SCALAR && s->type == YT_SCALAR && s->quoted &&
		    !strcmp(l->str, label))
			return s->str;
	}
	return NULL;
}

static double target_of(const struct ynode *m)
{
	const struct ynode *t = yt_get(yt_get(yt_get(m, "experiment"), "quality"), "target");

	return t && t->type == YT_SCALAR ? atof(t->str) : 0.95;
}

struct qcols {
	int inputs, label, n, head, type, density, recall;
};

/* For inputs `in` at seq_len n: per head, the row of the cheapest pattern
 * reaching target (else the one keeping most); writes the table and the
 * per_head snippet. */
static void write_choice(FILE *f, const struct res_table *q, const struct qcols *c,
			 const char *in, long n, double target, const struct ynode *m)
{
	long heads = 0;

	for (size_t i = 0; i < q->nrow; i++)
		if (!strcmp(GET(q, i, c->inputs), in) && atol(GET(q, i, c->n)) == n &&
		    atol(GET(q, i, c->head)) + 1 > heads)
			heads = atol(GET(q, i, c->head)) + 1;
	long *pick = calloc((size_t)(heads ? heads : 1), sizeof *pick);
	if (!pick)
		return;
	fprintf(f, "### Inputs: %s (n = %ld)\n\n| head | type | cheapest pattern | its density | its recall |\n|---:|---|---|---:|---:|\n",
		in, n);
	for (long h = 0; h < heads; h++) {
		long best = -1;
		for (size_t i = 0; i < q->nrow; i++) {
			double r, d;
			if (strcmp(GET(q, i, c->inputs), in) || atol(GET(q, i, c->n)) != n ||
			    atol(GET(q, i, c->head)) != h)
				continue;
			r = atof(GET(q, i, c->recall));
			d = atof(GET(q, i, c->density));
			if (best < 0) {
				best = (long)i;
				continue;
			}
			double br = atof(GET(q, (size_t)best, c->recall)), bd = atof(GET(q, (size_t)best, c->density));
			if ((r >= target && (br < target || d < bd || (d == bd && r > br))) ||
			    (r < target && br < target && r > br))
				best = (long)i;
		}
		pick[h] = best;
		if (best >= 0)
			fprintf(f, "| %ld | %s | %s%s | %.4f | %.3f |\n", h, GET(q, (size_t)best, c->type),
				GET(q, (size_t)best, c->label),
				atof(GET(q, (size_t)best, c->recall)) < target ? " (none reaches the target)" : "",
				atof(GET(q, (size_t)best, c->density)), atof(GET(q, (size_t)best, c->recall)));
	}
	fprintf(f, "\nTo run these per-head choices, paste into an experiment with %ld heads:\n\n"
		"```yaml\npatterns:\n  - label: per-head-%s\n    per_head:\n", heads, in);
	for (long h = 0; h < heads; h++) {
		const char *spec = pick[h] >= 0 ? spec_of(m, GET(q, (size_t)pick[h], c->label)) : NULL;
		fprintf(f, "      - %s%s%s\n", spec && strchr(spec, ':') ? "{" : "", spec ? spec : "dense",
			spec && strchr(spec, ':') ? "}" : "");
	}
	fputs("```\n\n", f);
	free(pick);
}

/* Recall by head type (heads of a type averaged) for each pattern, for
 * inputs `in` at seq_len n: which pattern keeps which kind of head. */
static void write_by_type(FILE *f, const struct res_table *q, const struct qcols *c,
			  const char *in, long n)
{
	const char *types[32], *pats[128];
	size_t nt = 0, np = 0;

	for (size_t i = 0; i < q->nrow; i++) {
		size_t k;
		if (strcmp(GET(q, i, c->inputs), in) || atol(GET(q, i, c->n)) != n || !GET(q, i, c->type)[0])
			continue;
		for (k = 0; k < nt && strcmp(types[k], GET(q, i, c->type)); k++)
			;
		if (k == nt && nt < 32)
			types[nt++] = GET(q, i, c->type);
		for (k = 0; k < np && strcmp(pats[k], GET(q, i, c->label)); k++)
			;
		if (k == np && np < 128)
			pats[np++] = GET(q, i, c->label);
	}
	if (!nt)
		return;
	fprintf(f, "Recall by head type (heads of a type averaged), inputs %s, n = %ld:\n\n| pattern |", in, n);
	for (size_t k = 0; k < nt; k++)
		fprintf(f, " %s |", types[k]);
	fputs("\n|---|", f);
	for (size_t k = 0; k < nt; k++)
		fputs("---:|", f);
	fputc('\n', f);
	for (size_t p = 0; p < np; p++) {
		fprintf(f, "| %s |", pats[p]);
		for (size_t k = 0; k < nt; k++) {
			double sum = 0;
			int cnt = 0;
			for (size_t i = 0; i < q->nrow; i++)
				if (!strcmp(GET(q, i, c->inputs), in) && atol(GET(q, i, c->n)) == n &&
				    !strcmp(GET(q, i, c->label), pats[p]) && !strcmp(GET(q, i, c->type), types[k])) {
					sum += atof(GET(q, i, c->recall));
					cnt++;
				}
			fprintf(f, cnt ? " %.3f |" : " - |", cnt ? sum / cnt : 0.0);
		}
		fputc('\n', f);
	}
	fputc('\n', f);
}

static void write_per_head(FILE *f, const char *dir, const struct ynode *m)
{
	char path[4200];
	struct res_table q;
	struct qcols c;
	struct err e;
	long n = 0;
	const char *done[64];
	size_t nd = 0;

	snprintf(path, sizeof path, "%s/quality.csv", dir);
	if (res_table_read(path, &q, &e))
		return;
	if (res_table_series(&q)) {
		res_table_free(&q);
		return;
	}
	c = (struct qcols){ res_table_col(&q, "inputs"), res_table_col(&q, "pattern_label"),
		res_table_col(&q, "seq_len"), res_table_col(&q, "head"), res_table_col(&q, "head_type"),
		res_table_col(&q, "density"), res_table_col(&q, "recall_mean") };
	for (size_t i = 0; i < q.nrow; i++)
		if (atol(GET(&q, i, c.n)) > n)
			n = atol(GET(&q, i, c.n));
	if (q.nrow) {
		fprintf(f, "## Per head: the cheapest pattern keeping %.0f%% of the attention\n\n",
			100 * target_of(m));
		fputs("Per head, the pattern of lowest density whose recall reaches `quality: target`\n"
		      "(heads differ more than patterns do).\n\n", f);
	}
	for (size_t i = 0; i < q.nrow && nd < 64; i++) {
		size_t k;
		if (atol(GET(&q, i, c.n)) != n)
			continue;
		for (k = 0; k < nd && strcmp(done[k], GET(&q, i, c.inputs)); k++)
			;
		if (k < nd)
			continue;
		done[nd++] = GET(&q, i, c.inputs);
		write_choice(f, &q, &c, GET(&q, i, c.inputs), n, target_of(m), m);
		write_by_type(f, &q, &c, GET(&q, i, c.inputs), n);
	}
	res_table_free(&q);
}

/* The point of family kind (pattern kind) and inputs in that decides for
 * it: on the front, the fastest; else the best recall; without quality,
 * the fastest. -1: none. */
static long family_best(const struct pareto *p, const char *in, const char *kind)
{
	long best = -1;

	for (size_t i = 0; i < p->n; i++) {
		const struct pareto_point *a = &p->pt[i], *b = best < 0 ? NULL : &p->pt[best];
		if (strcmp(a->inputs, in) || strcmp(a->pattern, kind))
			continue;
		if (!b || (a->front && !b->front) ||
		    (a->front == b->front && (a->front || a->recall_mean < 0 ? a->speedup > b->speedup
									  : a->recall_mean > b->recall_mean)))
			best = (long)i;
	}
	return best;
}

void review_decides(FILE *f, const struct res_table *t)
{
	struct pareto p;
	const char *done[64], *kinds[128];
	size_t nd = 0;

	if (pareto_build(t, &p) || !p.n)
		return;
	fprintf(f, "## The best design of each pattern family (n = %ld, %ld threads)\n\n", p.seq_len,
		p.threads);
	fputs("Per family (pattern kind), its variant on the Pareto front of speed-up against\n"
	      "recall that runs fastest, else its best recall; speed-up is the fastest verified\n"
	      "kernel's over dense's. The full table is under \"What each pattern keeps\".\n\n", f);
	for (size_t i = 0; i < p.n && nd < 64; i++) {
		size_t k, nk = 0;
		for (k = 0; k < nd && strcmp(done[k], p.pt[i].inputs); k++)
			;
		if (k < nd)
			continue;
		done[nd++] = p.pt[i].inputs;
		fprintf(f, "### Inputs: %s\n\n| family | design | kernel | speed-up | recall mean | output error | density |\n"
			   "|---|---|---|---:|---:|---:|---:|\n", p.pt[i].inputs);
		for (size_t j = i; j < p.n && nk < 128; j++) {
			const struct pareto_point *a;
			long b;
			size_t q;
			if (strcmp(p.pt[j].inputs, p.pt[i].inputs))
				continue;
			for (q = 0; q < nk && strcmp(kinds[q], p.pt[j].pattern); q++)
				;
			if (q < nk)
				continue;
			kinds[nk++] = p.pt[j].pattern;
			if ((b = family_best(&p, p.pt[i].inputs, p.pt[j].pattern)) < 0)
				continue;
			a = &p.pt[b];
			fprintf(f, "| %s | %s | %s | ", a->pattern, a->label, a->kernel[0] ? a->kernel : "-");
			fprintf(f, a->speedup > 0 ? "%.2fx | " : "- | ", a->speedup);
			if (a->recall_mean >= 0)
				fprintf(f, "%.3f | %.3f | %.4f |\n", a->recall_mean, a->err_mean, a->density);
			else
				fprintf(f, "- | - | %.4f |\n", a->density);
		}
		fputc('\n', f);
	}
	pareto_free(&p);
}

void review_quality(FILE *f, const char *dir, const struct res_table *t,
		    const struct ynode *m)
{
	struct pareto p;
	int any = 0;

	if (pareto_build(t, &p))
		return;
	for (size_t i = 0; i < p.n; i++)
		any |= p.pt[i].recall_mean >= 0;
	if (any) {
		write_keeps(f, &p);
		write_per_head(f, dir, m);
	}
	pareto_free(&p);
}
