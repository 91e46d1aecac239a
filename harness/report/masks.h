/* masks.h - pattern pictures: a G-set drawn as a grid of cells (one pair
 * per cell at small n, the fraction of kept pairs per cell otherwise),
 * written for gnuplot's masks.gp. */
#ifndef SABENCH_MASKS_H
#define SABENCH_MASKS_H

#include "../../patterns/gset.h"
#include "../err.h"

/* Fraction of kept pairs in each of dim x dim cells of layout l of g
 * (dim = min(n, cells)); *grid is malloc'ed, row-major, caller frees. */
int mask_grid(const struct gset *g, int l, long cells, float **grid,
	      long *dim);

/* Compiles each spec at n (causal as given) and writes masks.dat (one
 * gnuplot matrix block per pattern) and masks.labels into dir. */
/* input: an inline input spec that content-selected patterns select
 * over (head 0, head_dim 64; NULL: gaussian). */
int masks_write(const char *dir, char *const *specs, char *const *labels,
		size_t n_pat, long n, int causal, const char *input, struct err *e);

#endif
