/* selected.c - a content-selected pattern's G for pictures and the
 * `pattern` command: inputs made for one sequence, then the selection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../select/select.h"
#include "inputs.h"

int inp_select_g(const struct exp_input *in, const struct pattern *p, long n, long steps,
		 int heads, int d, struct gset *g, char *why, size_t len)
{
	int decode = steps > 0;
	struct problem pr = { .batch = 1, .heads = heads, .kv_heads = heads, .n_kv = n,
			      .n_q = decode ? steps : n, .d = d };
	struct problem hist;
	struct sel_input si = { .p = &pr, .decode = decode, .ops = kern_simd() };
	size_t nkv = (size_t)heads * n * d;
	float *qh = NULL, *q = NULL, *k = malloc(nkv * sizeof *k), *v = malloc(nkv * sizeof *v);
	const char *no;
	int rc = -1;

	memset(g, 0, sizeof *g);
	if ((no = sel_unservable(p, &pr, decode, why, len)))
		goto out;
	si.n_hist = sel_history(p, pr.n_q, n, decode);
	hist = pr;
	hist.n_q = si.n_hist;
	qh = malloc((size_t)heads * si.n_hist * d * sizeof *qh);
	q = malloc((size_t)heads * pr.n_q * d * sizeof *q);
	if (!qh || !q || !k || !v) {
		snprintf(why, len, "out of memory making inputs for '%s'", p->label);
		goto out;
	}
	if (in->kind->min_head_dim > d || in->kind->fill(in, &hist, qh, k, v, 1)) {
		snprintf(why, len, "inputs '%s' cannot fill %d heads of head_dim %d at n %ld",
			 in->label, heads, d, n);
		goto out;
	}
	for (int h = 0; h < heads; h++)
		memcpy(q + (size_t)h * pr.n_q * d, qh + ((size_t)h * si.n_hist + si.n_hist - pr.n_q) * d,
		       (size_t)pr.n_q * d * sizeof *q);
	pr.q = q;
	pr.k = k;
	pr.v = v;
	si.q_hist = qh;
	rc = sel_run(p, &si, g, why, len);
out:
	free(qh);
	free(q);
	free(k);
	free(v);
	return rc;
}
