/* eval.h - what a design does to a whole model's predictions: its
 * next-token distributions against dense's at every position (KL, mean
 * and 99th percentile), the text's perplexity under each, how often the
 * top token agrees, and the log-probability each gives chosen tokens (a
 * needle's passkey). */
#ifndef SABENCH_EVAL_H
#define SABENCH_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

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

/* The needle text of about want tokens: the passkey sentence planted a
 * tenth of the way into text's first bytes, the question at the end and
 * the answer after it: *tok (malloc'ed, *n tokens, at most want unless
 * the text is too short to trim), the answer's tokens at [*at, *at + *k)
 * (the last). 0, or -1 with why. */
int model_needle(const struct model *m, const char *text, size_t n_text, long want, int32_t **tok, size_t *n,
		 long *at, long *k, char *why, size_t len);

/* Which layers take a design: "global" (those the model does not window),
 * "all", or a list "5,11,17", into take[n_layer]. 0, or -1 (a layer the
 * model lacks, or not a list). */
int model_layers_named(const struct model *m, const char *which, int *take);

/* Bytes of f16 K and V a sequence of n tokens keeps under each layer's G
 * (pat[layer], NULL: the model's own window or all). */
double model_kv_bytes(const struct model *m, const struct pattern *const *pat, long n);

#endif
