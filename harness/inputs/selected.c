/* selected.c - a content-selected pattern's G for pictures and the
 * `pattern` command: inputs made for one sequence, then the selection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../select/select.h"
#include "inputs.h"

int inp_fill_history(const struct exp_input *in, const struct problem *p, long n_hist,
		     float *q_hist, float *q, float *k, float *v, unsigned long long seed)
{
	struct problem hist = *p;
	size_t d = (size_t)p->d;

	hist.n_q = n_hist;
	if (in->kind->fill(in, &hist, q_hist, k, v, seed))
		return -1;
	/* the cell's queries are the history's last n_q rows, per (b, h) */
	for (size_t bh = 0; bh < (size_t)p->batch * (size_t)p->heads; bh++)
		memcpy(q + bh * (size_t)p->n_q * d,
		       q_hist + (bh * (size_t)n_hist + (size_t)(n_hist - p->n_q)) * d,
		       (size_t)p->n_q * d * sizeof *q);
	return 0;
}

int inp_fill_indexer(const struct exp_input *in, const struct pattern *pat, struct sel_input *si,
		     float **q, float **k, float **w, char *why, size_t len)
{
	const struct sel_kind *s = sel_find(pat->kind);
	const struct inp_shape *sh = &in->shape;
	const struct problem *p = si->p;
	int H, di;

	if (!s || !s->indexer || !in->kind->indexer || !sh->index_heads)
		return 0;
	s->indexer(pat, &H, &di);
	if (H != sh->index_heads || di != sh->index_dim)
		return snprintf(why, len, "the inputs' indexer has %ld heads of %ld, the pattern's %d of %d",
				sh->index_heads, sh->index_dim, H, di), -1;
	*q = malloc((size_t)p->batch * si->n_hist * H * di * sizeof **q);
	*k = malloc((size_t)p->batch * p->n_kv * di * sizeof **k);
	*w = malloc((size_t)p->batch * si->n_hist * H * sizeof **w);
	if (!*q || !*k || !*w)
		return snprintf(why, len, "out of memory for the inputs' indexer"), -1;
	if (in->kind->indexer(in, p, si->n_hist, *q, *k, *w))
		return snprintf(why, len, "the inputs' indexer cannot fill %ld tokens", p->n_kv), -1;
	si->index_q = *q;
	si->index_k = *k;
	si->index_w = *w;
	return 0;
}

int inp_select_g(const struct exp_input *in, const struct pattern *p, long n, long steps,
		 int heads, int d, struct gset *g, char *why, size_t len)
{
	int decode = steps > 0;
	struct problem pr = { .batch = 1, .heads = heads, .kv_heads = heads, .n_kv = n,
			      .n_q = decode ? steps : n, .d = d };
	struct sel_input si = { .p = &pr, .decode = decode, .ops = kern_simd() };
	size_t nkv = (size_t)heads * n * d;
	float *qh = NULL, *q = NULL, *k = malloc(nkv * sizeof *k), *v = malloc(nkv * sizeof *v);
	float *iq = NULL, *ik = NULL, *iw = NULL;
	const char *no;
	int rc = -1;

	memset(g, 0, sizeof *g);
	if ((no = sel_unservable(p, &pr, decode, why, len)))
		goto out;
	si.n_hist = sel_history(p, pr.n_q, n, decode);
	qh = malloc((size_t)heads * si.n_hist * d * sizeof *qh);
	q = malloc((size_t)heads * pr.n_q * d * sizeof *q);
	if (!qh || !q || !k || !v) {
		snprintf(why, len, "out of memory making inputs for '%s'", p->label);
		goto out;
	}
	if (in->kind->min_head_dim > d || inp_fill_history(in, &pr, si.n_hist, qh, q, k, v, 1)) {
		snprintf(why, len, "inputs '%s' cannot fill %d heads of head_dim %d at n %ld",
			 in->label, heads, d, n);
		goto out;
	}
	pr.q = q;
	pr.k = k;
	pr.v = v;
	si.q_hist = qh;
	if (inp_fill_indexer(in, p, &si, &iq, &ik, &iw, why, len))
		goto out;
	rc = sel_run(p, &si, g, why, len);
out:
	free(iq);
	free(ik);
	free(iw);
	free(qh);
	free(q);
	free(k);
	free(v);
	return rc;
}
