/* e2e_review.h - the figures a review of the e2e block's real model
 * judges, from e2e.csv: for each design (a pattern on some layers, and
 * the model's own attention) its time to first token (prefill of the
 * prompt) and per output token (a decode step at the context), measured
 * at that context or scaled from the nearest measured one by the growth
 * exponent of its measured contexts (marked fitted); the KV a sequence
 * keeps at the context, from the model's shape and the pattern; KL,
 * perplexity's rise and the needle at the context, or at the longest
 * measured context below it (quality_n says which). */
#ifndef SABENCH_E2E_REVIEW_H
#define SABENCH_E2E_REVIEW_H

#include "../config/ytree.h"
#include "designs.h"

/* Fills r's designs (r read from the manifest: its limits, prompt,
 * context, pool) from dir/e2e.csv, their figures only: 0, or -1 with e
 * set (no e2e.csv, or no design ran). */
int e2e_review_designs(const char *dir, const struct ynode *mf, struct dsg_review *r, struct err *e);

#endif
