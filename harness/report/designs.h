/* designs.h - a design review's answer (`sabench review`, report.md):
 * each design the run measured (pattern x kv_layout x kv_dtype) with its
 * model-wide time to first token, time per output token, KV per
 * sequence, tenants that fit, recall and error, judged against the
 * manifest's review block: whether it meets every constraint, the one
 * that binds and by how much, and the cheapest design that meets all.
 * Every figure is a measured cell's, or fitted from them and marked. */
#ifndef SABENCH_DESIGNS_H
#define SABENCH_DESIGNS_H

#include <stdio.h>

#include "../err.h"
#include "serving.h"

/* The constraints a review may set. */
enum dsg_limit {
	DSG_TTFT, DSG_TPOT, DSG_TENANTS, DSG_RECALL, DSG_ERROR,
	DSG_KL, DSG_PPL, DSG_NEEDLE,    /* a real model's (e2e.csv): KL, perplexity's
					 * rise, the passkey's probability ratio */
	DSG_LIMIT_COUNT
};

struct dsg_design {
	struct srv_design d;
	struct srv_value ttft, tpot;    /* sums over the model's layers */
	double kv;                      /* KV cache per sequence at the context */
	double fit;                     /* tenants that fit; -1: no memory given */
	double recall, error;           /* < 0: not measured */
	long quality_n;                 /* seq_len (a real model's: context) the
					 * quality was read at */
	char pattern[256];              /* a real model's design: its pattern's
					 * label ("": the model's own) */
	double value[DSG_LIMIT_COUNT];  /* each constraint's figure; NAN: unknown */
	double ratio[DSG_LIMIT_COUNT];  /* value against the limit, > 1 fails; NAN: unknown */
	int feasible;                   /* 1: meets all; 0: fails one; -1: a figure unknown */
	int binding;                    /* the constraint of largest ratio, or -1 */
};

struct dsg_review {
	struct srv_model model;
	int real;                       /* 1: the e2e block's real model, its
					 * designs and figures e2e.csv's */
	long windowed, window;          /* a real model's windowed layers and window */
	long measured[16];              /* a real model's contexts in e2e.csv */
	size_t n_measured;
	long prompt, context, tenants;
	double limit[DSG_LIMIT_COUNT];  /* 0 (recall, error: < 0): not set */
	double pool;                    /* bytes the tenants' caches share; 0: none */
	char inputs[256];               /* whose quality counts */
	int extrapolate;
	struct dsg_design *des;
	size_t n;
	long cheapest;                  /* the feasible design of least KV, or -1 */
	int axis[2];                    /* the constraints the picture shows */
};

/* Name of constraint l as review.csv and the tables call it. */
const char *dsg_limit_name(enum dsg_limit l);

/* Builds the review of the run (manifest tree mf, results table t read
 * before res_table_series). 0; 1 when the manifest has no review block;
 * -1 with e set (e->usage) when a constraint no design can be judged on. */
int dsg_build(const struct ynode *mf, const struct res_table *t, struct dsg_review *r,
	      struct err *e);

/* The review's section of report.md (and of `sabench review`'s output). */
void dsg_write_md(const struct dsg_review *r, FILE *f);

/* review.csv: a line per design, the figures the picture draws. */
int dsg_write_csv(const struct dsg_review *r, const char *path, struct err *e);

/* The gnuplot variables of the picture of review.csv at csv into outdir
 * (the two binding axes, their limits and sides). */
void dsg_plot_vars(const struct dsg_review *r, const char *csv, const char *outdir,
		   char *buf, size_t len);

/* 1 when the picture has something to draw: a limit set and a design
 * with figures on both its axes. */
int dsg_plottable(const struct dsg_review *r);

void dsg_free(struct dsg_review *r);

/* The review of results folder dir (its results.csv and manifest.yaml)
 * into *r, and dir/review.csv written: 0; 1 when the run has no review
 * block; -1 with e set (e->usage: the folder's files are at fault). */
int dsg_review_dir(const char *dir, struct dsg_review *r, struct err *e);

#endif
