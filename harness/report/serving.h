/* serving.h - whole-model serving figures from a run's cells: time to
 * first token (a layer's prefill, summed over layers), time per output
 * token (its decode step, summed), KV cache per sequence and how many
 * sequences fit. Each layer's time is a measured cell's or, at a context
 * no cell measured, the measured one nearest scaled by the fitted growth
 * exponent of its contexts (time ~ n^b, as the latency picture fits):
 * such figures carry SRV_FITTED and every table marks them. */
#ifndef SABENCH_SERVING_H
#define SABENCH_SERVING_H

#include <stdio.h>

#include "../../kernels/isa/dtype.h"
#include "../../patterns/pattern.h"
#include "results.h"

enum srv_source {
	SRV_NONE,               /* no cell measures it, and no fit could */
	SRV_MEASURED,           /* cells at that context */
	SRV_FITTED,             /* scaled from a measured context by the fitted exponent */
};

struct srv_value {
	double v;               /* seconds */
	enum srv_source src;
	double exponent;        /* the fit's b (SRV_FITTED) */
	long anchor;            /* the measured context it was scaled from */
	long longest;           /* the longest context measured (0: none) */
};

/* A design: a pattern with the cache its decode cells ran (kv_layout,
 * kv_dtype empty: any). */
struct srv_design {
	char label[256];        /* pattern_label */
	char kv_layout[32];
	char kv_dtype[32];
};

/* The shape a model's layers share (the manifest's model block). */
struct srv_model {
	char name[128];
	long layers;            /* all layers */
	int kv_heads, head_dim, head_dim_v;
	int kv_latent;          /* K and V one cached latent (MLA): head_dim values a token */
	enum dtype kv_dtype;    /* the cache type of designs that name none */
	double memory, weights; /* serving: bytes; memory 0: not given */
	long prefill_chunk;     /* tokens a chunked prefill appends at a time; 0: whole */
};

/* The steps a layer's time is read for. */
enum srv_step {
	SRV_PREFILL,            /* the whole prompt: the fastest prefill cell, per sequence */
	SRV_DECODE,             /* a token: the design's decode cells (the decode kernel's
				 * when it ran), time_per_token_s */
	SRV_EXTEND,             /* a chunk of chunk tokens ending at the context: the
				 * fastest extend cell of that extend_tokens, per sequence */
	SRV_STEP_COUNT
};

/* A layer's time for step at context n; fit 0 refuses to scale to a
 * context not measured. */
void srv_layer_time(const struct res_table *t, const struct srv_design *d, enum srv_step step,
		    long chunk, long n, int fit, struct srv_value *out);

/* A layer's time to first token for a prompt: its prefill, or with chunk
 * > 0 (and below the prompt) the sum of its extend chunks ending at
 * chunk, 2 chunk, ..., the prompt (the last, shorter, in proportion). */
void srv_first_token(const struct res_table *t, const struct srv_design *d, long prompt, long chunk,
		     int fit, struct srv_value *out);

/* Adds count x v into *sum (its source the worst of the two). */
void srv_add(struct srv_value *sum, double count, const struct srv_value *v);

/* Values a token stores per K/V head of m: head_dim + head_dim_v, or
 * with kv_latent head_dim alone (MLA's 576: V is part of the latent). */
double srv_row_values(const struct srv_model *m);

/* Their bytes in type t (scales included; KIVI at its group of 32). */
double srv_row_bytes(const struct srv_model *m, enum dtype t);

/* "kv_heads 8, head_dim 128" (and head_dim_v, the latent, where they
 * apply) into buf. */
const char *srv_model_shape(const struct srv_model *m, char *buf, size_t len);

/* Bytes a sequence's cache takes in one layer of m at context n for
 * pattern p through layout (a kv_layout name; "" or unknown: the
 * pattern's bounded cache) in type t (scales and KIVI's tail included). */
double srv_layer_kv_bytes(const struct pattern *p, const char *layout, enum dtype t,
			  const struct srv_model *m, long n);

/* Sequences whose caches of kv bytes each fit in memory - weights; -1
 * when m gives no memory. */
double srv_fit(const struct srv_model *m, double kv);

/* "12.3 ms", "~12.3 ms (fitted)" or "not measured" for v. */
void srv_format_time(const struct srv_value *v, char *buf, size_t len);

/* First value of shape axis key in manifest tree mf, or def. */
struct ynode;
const char *srv_shape_first(const struct ynode *mf, const char *key, const char *def);

/* Number key of manifest mapping n, or def when absent or empty. */
double srv_num(const struct ynode *n, const char *key, double def);

/* The model called name in manifest tree mf into *m (layers, shape,
 * serving); 0, or -1 when the manifest has no such model. */
int srv_model_of(const struct ynode *mf, const char *name, struct srv_model *m);

/* The pattern variant labelled label in the manifest, parsed into *p
 * (causality as the run's); 0, or -1. pat_free it. */
int srv_pattern_of(const struct ynode *mf, const char *label, struct pattern *p);

/* report.md's section on the manifest's models: per context, KV per
 * sequence, time to first token, time per output token and sequences
 * that fit, each a sum over the layers of measured cells (marked where
 * fitted). */
void srv_write_stacks(FILE *f, const struct ynode *mf, const struct res_table *t);

#endif
