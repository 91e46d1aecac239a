/* inputs.h - where a group's Q, K and V come from. An input kind is a
 * descriptor in the one table of inputs/registry.c (gaussian noise, the
 * synthetic head-type generator, tensors captured from a model in .npy
 * files): its parameters, an open step that checks and maps what it needs
 * before anything runs, and a fill step that writes a group's tensors. */
#ifndef SABENCH_INPUTS_H
#define SABENCH_INPUTS_H

#include <stddef.h>

#include "../../kernels/kernel.h"
#include "../err.h"

#define INP_MAX_PARAMS 12

/* Shape fields an input fixes (tensors from files); 0: not fixed. */
struct inp_shape {
	long batch, heads, kv_heads, head_dim;
	long head_dim_v;        /* V's last dimension */
	const char *v_file;     /* the file it comes from (messages) */
	long n;                 /* tokens in the files: seq_len at most this */
	const char *limit;      /* what caps n, for messages; NULL: the first file's tokens */
	long index_heads, index_dim;    /* an indexer in the files (dsa_topk's); 0: none */
};

struct inp_kind;

struct exp_input {
	const struct inp_kind *kind;            /* where the tensors come from */
	union pat_value val[INP_MAX_PARAMS];    /* by index in kind->params */
	char label[128];                        /* CSV 'inputs' column */
	struct inp_shape shape;                 /* what the files fix */
	void *state;                            /* the kind's (mapped files) */
};

struct inp_kind {
	const char *name;                       /* YAML key */
	const char *summary;                    /* one line */
	const struct pat_param *params;         /* parameter table */
	int n_params;
	/* untimed, at load: checks, maps files, sets in->shape; NULL: none */
	int (*open)(struct exp_input *in, struct err *e);
	void (*close)(struct exp_input *in);    /* undoes open; NULL: none */
	/* writes p->q, p->k, p->v (shapes from p) in parallel, first touch;
	 * seed is the run's; 0, or -1 when the shape cannot be served */
	int (*fill)(const struct exp_input *in, const struct problem *p,
		    float *q, float *k, float *v, unsigned long long seed);
	/* an indexer for p's sequences (dsa_topk's): q [batch][n_hist][H][d_I]
	 * of the last n_hist tokens, k [batch][n_kv][d_I], w [batch][n_hist][H],
	 * H and d_I as shape.index_*; 0, or -1 when it cannot. NULL: none */
	int (*indexer)(const struct exp_input *in, const struct problem *p, long n_hist,
		       float *q, float *k, float *w);
	/* a head's type for quality.csv, or NULL */
	const char *(*head_type)(const struct exp_input *in, int h);
	/* smallest head_dim the kind can fill; 0: any */
	int min_head_dim;
	int is_default;                         /* 1: the inputs of a file without inputs: */
	/* of a kind read from files, the parameter whose file names the
	 * inputs in their label (the others are left out); -1: none */
	int label_file;
};

/* The kind an experiment without inputs: runs on. */
const struct inp_kind *inp_default_kind(void);

extern const struct inp_kind *const inp_kinds[];
extern const int inp_kind_count;

/* The kind called name, or NULL. */
const struct inp_kind *inp_kind_find(const char *name);

/* Index of parameter name in k, or -1. */
int inp_param_index(const struct inp_kind *k, const char *name);

/* Sets every parameter of in to its default. 0, or -1 out of memory. */
int inp_init(struct exp_input *in, const struct inp_kind *k);

/* Closes and frees what in owns (not in itself). */
void inp_free(struct exp_input *in);

/* Writes the default label: the kind and the parameters that differ from
 * their defaults, e.g. "synthetic(temperature=2)" (no commas). */
void inp_default_label(const struct exp_input *in, char *buf, size_t len);

/* What the synthetic generator marked for query position i of head h of
 * sequence b: mark[j] for every key j < p->n_kv is INP_MARK_*. For the
 * tests of the generator's promises. 0, or -1 out of memory. */
enum { INP_MARK_NONE, INP_MARK_SINK, INP_MARK_VERTICAL, INP_MARK_NEEDLE };
int inp_synthetic_marks(const struct exp_input *in, const struct problem *p,
			unsigned long long run_seed, int b, int h, long i,
			unsigned char *mark);

/* The seeded uniform value in [-1, 1) of element i of tensor t (1 q, 2 k,
 * 3 v): the gaussian inputs, a pure function so any thread count gives
 * the same tensors. */
float inp_uniform(unsigned long long seed, int tensor, size_t i);

/* A 64-bit mix (splitmix64's finaliser). */
unsigned long long inp_mix64(unsigned long long x);

/* The inputs of a cell whose selection reads queries before the cell's
 * first (a decode step's history, a prefill's last_q window): in fills
 * n_hist query rows into q_hist (with K and V over the cell's n_kv), and
 * q gets their last p->n_q rows per (sequence, head). The one routine
 * behind the runner's groups and inp_select_g. 0, or -1 when the kind
 * cannot fill the shape. */
int inp_fill_history(const struct exp_input *in, const struct problem *p, long n_hist,
		     float *q_hist, float *q, float *k, float *v, unsigned long long seed);

/* The indexer a selector of pat reads (DeepSeek's), when the inputs give
 * one: *q, *k, *w allocated (the caller frees them, set or not) and
 * filled for si's problem and history, and si's index_* set to them. 0
 * also when there is none to give; -1 with why (shapes disagree). */
struct sel_input;
int inp_fill_indexer(const struct exp_input *in, const struct pattern *pat, struct sel_input *si,
		     float **q, float **k, float **w, char *why, size_t len);

/* The G that content-selected pattern p picks at n over inputs in (one
 * sequence of heads heads of head_dim d; steps > 0: that many decode
 * steps after a prompt). Layout h is head h's. 0, or -1 with why. */
int inp_select_g(const struct exp_input *in, const struct pattern *p, long n, long steps,
		 int heads, int d, struct gset *g, char *why, size_t len);

#endif
