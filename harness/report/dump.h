/* dump.h - --dump DIR: a group's inputs, its G-set as CSR and each cell's
 * output as .npy, listed per cell in DIR/index.csv; one run's dump a
 * folder. */
#ifndef SABENCH_DUMP_H
#define SABENCH_DUMP_H

#include <stddef.h>

#include "../../kernels/kernel.h"
#include "../err.h"
#include "results.h"

/* One cell of a dumped group: its key, plan index and output. */
struct dump_cell {
	const char *key;
	size_t index;
	const float *out;
};

/* Makes dir the dump folder of the run writing results folder out_dir
 * (before that folder is opened): a folder holding another run's dump,
 * or files of its own, is refused. Returns 0, or -1 with e set. */
int dump_open(const char *dir, const char *out_dir, struct err *e);

/* Once the results folder is open: the same run's index.csv starts over
 * (a new run, --force) or keeps the rows of the cells done, one each
 * (--resume). */
int dump_keep(const char *dir, enum res_mode mode, const struct keyset *done, struct err *e);

/* Writes group `group`'s q, k, v, G (every layout: indptr [layouts,
 * n_q + 1] into one indices array) and the n cells' outputs, and appends
 * their index.csv rows. Returns 0, or -1 with e set. */
int dump_write(const char *dir, const struct problem *p, const struct gset *g,
	       const float *q, const float *k, const float *v, size_t group,
	       const struct dump_cell *cells, int n, struct err *e);

#endif
