/* plot.h - drawing a results folder with the gnuplot scripts of plots/. */
#ifndef SABENCH_PLOT_H
#define SABENCH_PLOT_H

#include "../err.h"

enum {
	PLOT_OK = 0,
	PLOT_FAILED = -1,       /* a script failed */
	PLOT_NO_GNUPLOT = -2,   /* gnuplot is not on the PATH */
	PLOT_BAD_INPUT = -3,    /* no results.csv in the folder */
};

/* The gnuplot scripts sabench runs, in order (plots/<name>.gp). */
extern const char *const plot_scripts[];

/* Runs every script on dir/results.csv into dir/plots/; progress gets a
 * line per picture. Returns PLOT_OK or a PLOT_ code with e set. */
int plot_results(const char *dir, void (*progress)(const char *line),
		 struct err *e);

/* Draws the pictures of the patterns specs (YAML specs) at n into
 * outdir/name.png and .svg; the data gnuplot reads (masks.dat, .labels)
 * go to datadir (a results folder's plots/, or a scratch folder). */
int plot_masks(char *const *specs, char *const *labels, size_t n_pat, long n,
	       int causal, const char *input, const char *datadir, const char *outdir,
	       const char *name, struct err *e);

/* Draws datadir/attention.dat (maps_write) into outdir/name.png and .svg. */
int plot_attention(const char *datadir, const char *outdir, const char *name, long n,
		   struct err *e);

/* A private scratch folder for the helper files of a picture drawn beside
 * the user's own files (pattern --png, attention --png), so that none of
 * theirs is overwritten: made in $TMPDIR (or /tmp) into dir; 0 or -1. */
int plot_scratch_open(char *dir, size_t len, struct err *e);

/* Removes the scratch folder and the helper files in it. */
void plot_scratch_close(const char *dir);

/* The review of results folder dir (designs.h): dir/review.csv and, when
 * it sets limits, dir/plots/review.png and .svg. PLOT_OK also when the run
 * has no review block; PLOT_BAD_INPUT when it cannot be judged (e says
 * why), PLOT_NO_GNUPLOT, PLOT_FAILED. */
int plot_review(const char *dir, struct err *e);

/* Draws out_dir/compare.csv into out_dir/compare.png and .svg; PLOT_OK,
 * PLOT_NO_GNUPLOT or PLOT_FAILED with e set. */
int plot_compare(const char *out_dir, struct err *e);

#endif
