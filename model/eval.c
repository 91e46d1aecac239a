/* eval.c - a design's model against dense's (eval.h), in double from
 * the fp32 logits: per position the log-softmax of each (max-shifted),
 * then KL, NLL and the top token. */
#include <math.h>
#include <stdlib.h>

#include "eval.h"

/* log-softmax of row l[0, vocab) into out; returns the argmax. */
static long log_softmax(const float *l, long vocab, double *out)
{
	double mx = l[0], z = 0.0;
	long arg = 0;

	for (long v = 1; v < vocab; v++)
		if (l[v] > mx) {
			mx = l[v];
			arg = v;
		}
	for (long v = 0; v < vocab; v++)
		z += exp((double)l[v] - mx);
	z = log(z);
	for (long v = 0; v < vocab; v++)
		out[v] = (double)l[v] - mx - z;
	return arg;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int model_compare(const float *dense, const float *design, const int32_t *tokens, long n, long vocab,
		  struct model_compare *c)
{
	long m = n - 1;
	double *kl = malloc((size_t)(m > 0 ? m : 1) * sizeof *kl);
	double nd = 0.0, ns = 0.0;
	long agree = 0;
	int oom = 0;

	if (!kl)
		return -1;
#pragma omp parallel reduction(+ : nd, ns, agree) reduction(| : oom)
	{
		double *a = malloc((size_t)vocab * sizeof *a), *b = malloc((size_t)vocab * sizeof *b);
		oom |= !a || !b;
#pragma omp for schedule(static)
		for (long i = 0; i < m; i++) {
			double k = 0.0;
			if (!a || !b)
				continue;
			long ta = log_softmax(dense + (size_t)i * (size_t)vocab, vocab, a);
			long tb = log_softmax(design + (size_t)i * (size_t)vocab, vocab, b);
			for (long v = 0; v < vocab; v++)
				k += exp(a[v]) * (a[v] - b[v]);
			kl[i] = k > 0.0 ? k : 0.0;      /* rounding can leave -1e-17 */
			nd -= a[tokens[i + 1]];
			ns -= b[tokens[i + 1]];
			agree += ta == tb;
		}
		free(a);
		free(b);
	}
	if (oom) {
		free(kl);
		return -1;
	}
	c->positions = m;
	c->kl_mean = 0.0;
	for (long i = 0; i < m; i++)
		c->kl_mean += kl[i];
	c->kl_mean = m ? c->kl_mean / (double)m : 0.0;
	qsort(kl, (size_t)m, sizeof *kl, cmp_double);
	c->kl_p99 = m ? kl[(size_t)ceil(0.99 * (double)m) - 1] : 0.0;
	c->nll_dense = m ? nd / (double)m : 0.0;
	c->nll_design = m ? ns / (double)m : 0.0;
	c->ppl_dense = exp(c->nll_dense);
	c->ppl_design = exp(c->nll_design);
	c->top1 = m ? (double)agree / (double)m : 1.0;
	free(kl);
	return 0;
}

double model_logprob(const float *logits, const int32_t *tokens, long vocab, long at, long k)
{
	double *row = malloc((size_t)vocab * sizeof *row), sum = 0.0;

	if (!row)
		return NAN;
	for (long i = at; i < at + k; i++) {
		log_softmax(logits + (size_t)(i - 1) * (size_t)vocab, vocab, row);
		sum += row[tokens[i]];
	}
	free(row);
	return sum;
}
