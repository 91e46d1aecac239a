/* parse.h - what the files of config/ share while reading an experiment:
 * the parsing context and its error helpers (every message names the
 * file, line and column), the typed readers of YAML scalars, and each
 * section's parser. Private to config/: the rest of sabench reads
 * experiment.h. */
#ifndef SABENCH_CONFIG_PARSE_H
#define SABENCH_CONFIG_PARSE_H

#include <stddef.h>

#include "experiment.h"
#include "ytree.h"

/* Parsing context: the file name for messages and the error sink. */
struct ctx {
	const char *file;
	struct err *e;
};

/* A list item of patterns: a kind with its fixed parameters set and the
 * lists that sweep the others. */
struct pat_item {
	struct pattern base;            /* fixed parameters set */
	const struct ynode *sweep[PAT_MAX_PARAMS]; /* list nodes, or NULL */
	const struct ynode *node;       /* the item, for messages */
	const char *label;              /* user label, or NULL */
};

/* ---- parse.c: context, errors and typed scalars ---- */

/* Index of s in a NULL-terminated list, or -1. */
int cfg_value_index(const char *const *list, const char *s);

/* Sets c's error at node n (file:line:col; 1:1 without a node); -1. */
__attribute__((format(printf, 3, 4)))
int cfg_bad(struct ctx *c, const struct ynode *n, const char *fmt, ...);

/* "; did you mean 'x'?" for the closest of names, or "". */
const char *cfg_hint(const char *word, const char *const *names, size_t n, char *buf,
		     size_t len);

/* The scalar text of n, or NULL after an error naming what it was. */
const char *cfg_want_scalar(struct ctx *c, const struct ynode *n, const char *key,
			    const char *what);

/* Typed scalars of key at n, within [min, max] where bounded; 0, or -1
 * with the error set (cfg_parse_string: a malloc'ed copy). */
int cfg_parse_int(struct ctx *c, const struct ynode *n, const char *key, long long min,
		  long long max, long long *out);

int cfg_parse_float(struct ctx *c, const struct ynode *n, const char *key, double min,
		    double max, double *out);

/* A size in bytes: a number alone, or with B, KiB, MiB, GiB, TiB (powers
 * of 1024) or KB, MB, GB, TB (powers of 1000): "2 GiB", "1.5 GB". */
int cfg_parse_size(struct ctx *c, const struct ynode *n, const char *key, double *out);

int cfg_parse_bool(struct ctx *c, const struct ynode *n, const char *key, long long *out);

int cfg_parse_string(struct ctx *c, const struct ynode *n, const char *key, char **out);

/* Checks that map holds only keys from allowed. */
int cfg_only_keys(struct ctx *c, const struct ynode *map, const char *const *allowed,
		  size_t n_allowed, const char *where);

/* The value of parameter d at n into v: the one reader of the parameter
 * system the pattern, input and score kinds share (pattern.h's pat_param),
 * for its scalar types (int, real, bool, a word, words, a path). */
int cfg_parse_value(struct ctx *c, const struct ynode *n, const struct pat_param *d,
		    union pat_value *v);

/* ---- shape.c: shape and sweep, dtypes, score functions ---- */

/* The value of shape field f at n (a name of its vocabulary, a bool, a
 * type or an integer within the field's bounds). */
int cfg_parse_field_value(struct ctx *c, int f, const struct ynode *n, long long *out);

/* shape: (swept 0) or sweep: (swept 1) into x's axes. */
int cfg_parse_axes(struct ctx *c, struct experiment *x, const struct ynode *map,
		   int swept);

/* Fills axes the file left out with their defaults. */
int cfg_default_axes(struct ctx *c, struct experiment *x, const struct ynode *root);

/* A decode cell times at most seq_len tokens. */
int cfg_check_decode(struct ctx *c, struct experiment *x);
/* Cache types against head_dim and kv_group. */
int cfg_check_kv_types(struct ctx *c, struct experiment *x);
/* 0 when every cache type and KIVI group of x holds rows of width values
 * (field names the width in why, which says otherwise; room len). */
int cfg_kv_width_fits(const struct experiment *x, const char *field, long long width,
		      char *why, size_t len);

/* kv_heads must divide heads in every combination. */
int cfg_check_gqa(struct ctx *c, struct experiment *x);

/* ---- patterns.c: the pattern list and its variants ---- */

/* Index of the pattern variant labelled label in x, or -1. */
long cfg_pattern_by_label(const struct experiment *x, const char *label);

/* path resolved against the experiment file's folder (absolute paths and
 * inline specs stay as they are); malloc'ed, NULL when out of memory. */
char *cfg_resolve_path(const struct ctx *c, const char *path);

/* Reads a list item of patterns: into it (kind, label, parameters). */
int cfg_parse_pattern_item(struct ctx *c, const struct ynode *n, struct pat_item *it);

/* Expands the swept parameters of it, from parameter i on, into x. */
int cfg_expand(struct ctx *c, struct experiment *x, struct pat_item *it,
	       struct pattern *p, int i, const struct exp_axis *causal, const struct exp_axis *seq_len);

/* rest: the cells each pattern variant multiplies into (shape axes,
 * inputs, kernels), so that a grid past max_cells is refused before its
 * variants are made. */
int cfg_parse_patterns(struct ctx *c, struct experiment *x, const struct ynode *root,
		       const struct ynode *list, double rest, long long max_cells);

/* ---- inputs.c: inputs and quality ---- */

/* Reads a list item of inputs into in: a kind name, or a mapping of one
 * kind to its parameters with an optional label. */
int cfg_parse_input_item(struct ctx *c, const struct ynode *n, struct exp_input *in);

int cfg_parse_inputs(struct ctx *c, struct experiment *x, const struct ynode *list);

/* The lengths axis (ragged batches): under shape one batch, under sweep
 * a list of them, each appended to x->batches. */
int cfg_set_lengths_axis(struct ctx *c, struct experiment *x, const struct ynode *val, int swept);

/* Ragged batches: a mode with a cache, every new-token count within its
 * sequence, and memory enough for their K/V. */
int cfg_check_batches(struct ctx *c, struct experiment *x);

/* serving: {memory, weights} of a model into *s. */
int cfg_parse_serving(struct ctx *c, const struct ynode *n, const char *model, struct exp_serving *s);

/* review: the block into x->review, checked against the models and inputs. */
int cfg_parse_review(struct ctx *c, struct experiment *x, const struct ynode *n);

int cfg_parse_quality(struct ctx *c, struct experiment *x, const struct ynode *m);

/* ---- e2e.c: designs inside a real model ---- */

/* The e2e block at n (NULL: none) into x->e2e. */
int cfg_parse_e2e(struct ctx *c, struct experiment *x, const struct ynode *n);
void cfg_free_e2e(struct exp_e2e *e2e);

#endif
