/* review.h - the quality part of report.md: per inputs, what each pattern
 * keeps against what it costs (Pareto front marked), and per head the
 * cheapest pattern that keeps the target share, as a per_head pattern to
 * paste into an experiment. */
#ifndef SABENCH_REVIEW_H
#define SABENCH_REVIEW_H

#include <stdio.h>

#include "../config/ytree.h"
#include "results.h"

/* Writes the sections for the run in dir (its results table t and
 * manifest m) to f; nothing when the run measured no quality. */
/* What the run decides per pattern family, at the largest n: the variant
 * on the front that runs fastest (else the best recall), per inputs; t's
 * inputs already joined with their score (res_table_series). */
void review_decides(FILE *f, const struct res_table *t);

void review_quality(FILE *f, const char *dir, const struct res_table *t,
		    const struct ynode *m);

#endif
