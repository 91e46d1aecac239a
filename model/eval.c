/* eval.c - a design's model against dense's (eval.h), in double from
 * the fp32 logits: per position the log-softmax of each (max-shifted),
 * then KL, NLL and the top token; the needle text, the layers a design
 * takes and the KV a design keeps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The needle text: the passkey sentence planted a tenth of the way into
 * the first tokens of the text, the question at the end; *at and *k the
 * answer's tokens. */
int model_needle(const struct model *m, const char *text, size_t n_text, long want, int32_t **tok, size_t *n,
		 long *at, long *k, char *why, size_t len)
{
	static const char plant[] = " The pass key is 68391. Remember it: 68391 is the pass key. ";
	static const char ask[] = " What is the pass key? The pass key is";
	static const char answer[] = " 68391";
	size_t cut = 0, tail = 0, bytes;
	int32_t *probe;
	size_t n_probe;
	char *s;

	/* bytes of filler: about 4 a token, the plant at a tenth, trimmed to
	 * whole characters and to the text */
	bytes = (size_t)want * 4 < n_text ? (size_t)want * 4 : n_text;
	cut = bytes / 10;
	while (cut < n_text && ((unsigned char)text[cut] & 0xc0) == 0x80)
		cut++;
	for (;;) {
		while (bytes < n_text && ((unsigned char)text[bytes] & 0xc0) == 0x80)
			bytes++;
		s = malloc(bytes + sizeof plant + sizeof ask + sizeof answer);
		if (!s)
			return snprintf(why, len, "out of memory for the needle text"), -1;
		memcpy(s, text, cut);
		tail = cut;
		memcpy(s + tail, plant, sizeof plant - 1);
		tail += sizeof plant - 1;
		memcpy(s + tail, text + cut, bytes - cut);
		tail += bytes - cut;
		memcpy(s + tail, ask, sizeof ask - 1);
		tail += sizeof ask - 1;
		if (tok_encode(&m->tok, s, tail, &probe, &n_probe, why, len)) {
			free(s);
			return -1;
		}
		free(probe);
		memcpy(s + tail, answer, sizeof answer - 1);
		if (tok_encode(&m->tok, s, tail + sizeof answer - 1, tok, n, why, len)) {
			free(s);
			return -1;
		}
		free(s);
		if ((long)*n <= want || bytes <= cut + 64)
			break;
		free(*tok);
		bytes = cut + (bytes - cut) * 9 / 10;   /* too many tokens: less filler */
	}
	*k = (long)(*n - n_probe);
	*at = (long)*n - *k;
	return *k > 0 ? 0 : (snprintf(why, len, "the passkey took no token"), -1);
}

/* KV bytes a sequence of n tokens keeps under each layer's G, f16 cache. */
double model_kv_bytes(const struct model *m, const struct pattern *const *pat, long n)
{
	double rows = 0;

	for (int il = 0; il < m->n_layer; il++)
		rows += pat[il] ? (double)pat_kv_rows(pat[il], n)
				: m->layer[il].windowed && m->window < n ? (double)m->window : (double)n;
	return rows * m->kv_heads * (m->head_dim + m->head_dim_v) * 2.0;
}

/* Which layers take the design: "global" (those the model does not
 * window), "all", or a list "5,11,17"; into take[]. 0, or -1. */
int model_layers_named(const struct model *m, const char *which, int *take)
{
	if (!strcmp(which, "global") || !strcmp(which, "all")) {
		for (int il = 0; il < m->n_layer; il++)
			take[il] = !strcmp(which, "all") || !m->layer[il].windowed;
		return 0;
	}
	memset(take, 0, (size_t)m->n_layer * sizeof *take);
	for (const char *p = which; *p;) {
		char *end;
		long il = strtol(p, &end, 10);
		if (end == p || il < 0 || il >= m->n_layer || (*end && *end != ','))
			return -1;
		take[il] = 1;
		p = *end ? end + 1 : end;
	}
	return 0;
}
