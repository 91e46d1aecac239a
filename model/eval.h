/* eval.h - what a design does to a whole model's predictions: its
 * next-token distributions against dense's at every position (KL, mean
 * and 99th percentile), the text's perplexity under each, how often the
 * top token agrees, and the log-probability each gives chosen tokens (a
 * needle's passkey). */
#ifndef SABENCH_EVAL_H
#define SABENCH_EVAL_H

#include <stddef.h>
#include <stdint.h>

struct model_compare {
	double kl_mean, kl_p99;         /* KL(dense || design) over positions, nats */
	double nll_dense, nll_design;   /* mean NLL of tokens[1 .. n), nats */
	double ppl_dense, ppl_design;   /* exp of them */
	double top1;                    /* share of positions whose top tokens agree */
	long positions;                 /* n - 1 */
};

/* Compares two logits tables [n][vocab] of the same tokens (tokens[i + 1]
 * follows position i). 0, or -1 out of memory. */
int model_compare(const float *dense, const float *design, const int32_t *tokens, long n, long vocab,
		  struct model_compare *c);

/* The log-probability that logits [n][vocab] give tokens[at .. at + k)
 * after the positions before each (the passkey's tokens, position
 * at - 1 predicting tokens[at], ...), summed, in nats. */
double model_logprob(const float *logits, const int32_t *tokens, long vocab, long at, long k);

#endif
