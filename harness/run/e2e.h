/* e2e.h - the e2e block run: each design inside the real model at each
 * context of the sweep, against the model's own attention, into e2e.csv
 * (a row per design x context, written as each ends). */
#ifndef SABENCH_RUN_E2E_H
#define SABENCH_RUN_E2E_H

#include <signal.h>

#include "../config/experiment.h"
#include "../err.h"

struct e2e_opts {
	const char *dir;                        /* results folder */
	int resume;                             /* keep the rows e2e.csv has */
	void (*progress)(const char *line);     /* a line per pass, or NULL */
	volatile sig_atomic_t *stop;            /* set: stop after the pass */
};

/* Runs x->e2e into o->dir/e2e.csv. 0 (every row attempted, or stopped by
 * *o->stop), or -1 with e set (the model or text cannot be read, a
 * design names layers the model lacks, the file cannot be written). */
int e2e_run(const struct experiment *x, const struct e2e_opts *o, struct err *e);

#endif
