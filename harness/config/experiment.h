/* experiment.h - an experiment file, loaded and validated: the shape axes
 * (fixed or swept), the pattern variants (parameter lists expanded), the
 * kernels, the run settings and the counters. */
#ifndef SABENCH_EXPERIMENT_H
#define SABENCH_EXPERIMENT_H

#include "../../kernels/kernel.h"
#include "../../patterns/pattern.h"
#include "../err.h"
#include "../inputs/inputs.h"

/* Shape fields: each may be fixed under shape: or swept under sweep:. */
enum exp_field {
	EXP_SEQ_LEN,            /* keys n (= queries in prefill) */
	EXP_HEAD_DIM,           /* d: q . k's width */
	EXP_HEAD_DIM_V,         /* dv: V's and the output's width; 0 means = d */
	EXP_BATCH,              /* sequences */
	EXP_HEADS,              /* query heads */
	EXP_KV_HEADS,           /* K/V heads (GQA); 0 means = heads */
	EXP_THREADS,            /* OpenMP threads */
	EXP_CAUSAL,             /* 1 causal, 0 bidirectional */
	EXP_DTYPE,              /* enum dtype of Q, K, V (an operand type) */
	EXP_MODE,               /* enum exp_mode */
	EXP_DECODE_STEPS,       /* tokens a decode cell times */
	EXP_EXTEND_TOKENS,      /* tokens an extend cell appends as one chunk */
	EXP_KV_LAYOUT,          /* enum kv_layout, or EXP_KV_AUTO */
	EXP_KV_DTYPE,           /* enum dtype */
	EXP_KV_GROUP,           /* KIVI: tokens (keys) and channels (values) a scale covers */
	EXP_KV_RESIDUAL,        /* KIVI: newest tokens kept in f16 */
	EXP_SCORE,              /* index into experiment.scores */
	EXP_LENGTHS,            /* 0: every sequence seq_len long; k: experiment.batches[k - 1] */
	EXP_FIELD_COUNT
};

/* The name of a dtype axis value ("f32", "bf16"). */
const char *exp_dtype_name(long long dtype);
enum exp_mode { EXP_PREFILL, EXP_DECODE, EXP_EXTEND, EXP_MODE_COUNT };

/* What a mode is: how many of the sequence's tokens a cell times and
 * whether they go through a KV cache (one by one or as one chunk). */
struct exp_mode_desc {
	const char *name;       /* YAML, CSV and cell-key word */
	int cached;             /* the timed tokens are appended to a KV cache: the
				 * kv_ fields, the decode kernel's layouts and the
				 * per-token columns apply */
	int chunk;              /* 1: appended together, then attended (extend);
				 * 0: each appended, then attended (decode) */
	int tokens;             /* the field giving the timed tokens n_q, or -1:
				 * n_q = seq_len */
};

/* The descriptor of mode m (an enum exp_mode). */
const struct exp_mode_desc *exp_mode_of(long long m);
/* The mode called name (a CSV's mode column), or NULL. */
const struct exp_mode_desc *exp_mode_find(const char *name);

/* Query rows (timed tokens) of a cell of shape v. */
long exp_n_q(const long long *v);
#define EXP_KV_AUTO 100         /* kv_layout: the pattern's bounded layout */

/* Names of the string-valued fields' values, by field; NULL-terminated. */
const char *const *exp_field_values(enum exp_field f);

struct exp_field_desc {
	const char *name;       /* YAML key */
	long long min, max;     /* inclusive bounds */
	const char *doc;        /* for --help and the README */
};

extern const struct exp_field_desc exp_fields[];

struct exp_axis {
	long long *v;           /* values, in file order */
	size_t n;               /* at least 1 */
	int line, col;          /* where it was given (0: default) */
};

struct exp_run {
	int warmup;             /* discarded runs before timing */
	int repeats;            /* at least this many timed runs */
	double min_time_ms;     /* and at least this much timed time */
	int verify;             /* compare with the oracle after timing */
	int verify_rows;        /* rows per head checked when n is large */
	unsigned long long seed;/* inputs and shuffles */
	char *dump;             /* folder for .npy dumps, or NULL */
	double dump_limit_mb;   /* cells larger than this are not dumped */
	long long max_cells;    /* a larger grid is refused (a typo guard) */
	int interleave;         /* enum exp_interleave */
};

/* Which cells share timing rounds: a group's kernels (default), or the
 * kernels of consecutive groups of one thread count, as memory allows. */
enum exp_interleave { EXP_INTERLEAVE_GROUP, EXP_INTERLEAVE_ACROSS };

/* quality: what each G keeps of the dense attention, once per group. */
struct exp_quality {
	int enabled;            /* compute recall and output error */
	int rows;               /* rows per head when n is large */
	double target;          /* recall the report's per-head choice must keep */
};

/* A whole network's attention: layers that each use a pattern of the
 * experiment (by label), for KV-cache and per-token latency totals. */
struct exp_layer {
	long count;             /* layers using this pattern */
	size_t pat;             /* index into experiment.pat */
};

/* A ragged batch (lengths: under shape or sweep): sequences of their own
 * lengths, each with its new tokens, run as one step. */
struct exp_batch {
	char label[96];         /* "lengths(512 8192 32768)", "lognormal(...)" */
	long n;                 /* sequences */
	long *len;              /* tokens of each: cached + new */
	long *new_tokens;       /* new tokens of each; 0: the mode's count */
};

/* What a server holds besides the caches (serving: in a model). */
struct exp_serving {
	double memory;          /* bytes of the device; 0: not given */
	double weights;         /* bytes the weights take of it */
};

/* A chunked prefill's time to first token sums one extend time per chunk:
 * at most this many chunks (16M, under a second), so that a prompt of
 * 2^40 tokens in chunks of 1 is refused, not summed for hours. */
#define EXP_MAX_PREFILL_CHUNKS (1L << 24)

/* The chunks of chunk tokens a prompt of prompt tokens is prefilled in. */
static inline long exp_prefill_chunks(long prompt, long chunk)
{
	return chunk > 0 && chunk < prompt ? prompt / chunk + (prompt % chunk != 0) : 1;
}

/* The KIVI group a model's KV bytes per token are costed at. */
#define EXP_MODEL_KIVI_GROUP 32

struct exp_model {
	char *name;             /* e.g. gemma3-like */
	int kv_heads;           /* per layer */
	int head_dim;
	int head_dim_v;         /* V's width */
	int kv_latent;          /* 1: K and V are one cached latent (MLA's absorbed
				 * form): a token stores head_dim values a K/V head,
				 * V its first head_dim_v */
	int kv_dtype;           /* enum dtype */
	struct exp_layer *layer;
	size_t n_layer;
	struct exp_serving serving;     /* memory and weights, for sequences that fit */
	long prefill_chunk;     /* time to first token as chunks of this many tokens; 0: whole */
};

/* review: the constraints a design review asks of the run's designs
 * (pattern x kv_layout x kv_dtype), answered from its cells only. */
struct exp_review {
	int given;              /* 1: the file has a review block */
	char *model;            /* a model of the model block, by name */
	long prompt;            /* prompt tokens: time to first token */
	long context;           /* tokens cached when decoding: time per token, KV */
	long tenants;           /* sequences held at once */
	double kv_memory;       /* bytes the tenants' caches share; 0: memory - weights */
	struct exp_serving serving;     /* memory and weights; 0: the model's */
	double ttft_s, tpot_s;  /* limits in seconds; 0: none */
	double recall;          /* quality: recall at least this; < 0: none */
	double error;           /* quality: output error at most this; < 0: none */
	char *inputs;           /* label of the inputs quality is read on; NULL: the first */
	int extrapolate;        /* 1: contexts past the measured ones by the fitted exponent */
	/* on the e2e block's real model (no model: named): limits on what a
	 * design does to it; < 0: none */
	double kl;              /* KL(own || design), mean over the scored positions, at most */
	double ppl_increase;    /* perplexity's rise over the model's own, a fraction, at most */
	double needle;          /* the passkey's probability against the model's own, at least */
};

/* e2e: designs run inside a real model end to end (run/e2e.c): at each
 * seq_len of the sweep, the model's own pass and each design's, compared
 * (KL, perplexity, top-1, a needle), timed (prefill, decode steps) and
 * their selections' overlap, into e2e.csv. */
struct exp_e2e_design {
	size_t pat;             /* index into experiment.pat */
	char *layers;           /* "global" (the layers the model does not
				 * window), "all", or a list "5,11,17" */
};

struct exp_e2e {
	int given;              /* 1: the file has an e2e block */
	char *gguf, *text;      /* the model and the text, resolved against the
				 * file's folder */
	int needle;             /* 1: a passkey planted early, asked at the end */
	long decode_steps;      /* steps timed after each prefill (0: none) */
	long score_last;        /* positions scored: the last of each context */
	struct exp_e2e_design *des;
	size_t n_des;
};

struct experiment {
	char *path;             /* the file, as given */
	char *name;             /* results/<name>/ */
	char *description;      /* free text, may be empty */
	struct exp_axis axis[EXP_FIELD_COUNT];  /* shape and sweep */
	struct score_spec *scores;      /* score functions the score axis names */
	size_t n_scores;
	struct pattern *pat;    /* pattern variants, labelled */
	size_t n_pat;
	size_t pat_cap;         /* entries allocated in pat (doubling) */
	struct exp_input *inputs;       /* where Q, K, V come from */
	size_t n_inputs;                /* at least 1 */
	int inputs_given;               /* 1: the file has inputs: (cell keys say which) */
	struct exp_axis heads_used;     /* head counts of the cells (inputs may fix them) */
	struct exp_quality quality;     /* quality: settings */
	const struct kern_desc **kern;          /* kernels, file order */
	size_t n_kern;
	struct exp_run run;     /* run: settings */
	char **counters;        /* counters: names */
	size_t n_counters;
	double kv_budget;       /* bytes of KV cache per sequence, 0: none */
	struct exp_model *models;       /* model: layer stacks */
	size_t n_models;
	struct exp_review review;       /* review: constraints */
	struct exp_e2e e2e;             /* e2e: designs inside a real model */
	struct exp_batch *batches;      /* ragged batches the lengths axis names */
	size_t n_batches;
};

/* The ragged batch of shape v, or NULL for a uniform one. */
const struct exp_batch *exp_batch_of(const struct experiment *x, const long long *v);

/* New tokens of sequence i of batch b in a cell of shape v. */
long exp_batch_new(const struct exp_batch *b, size_t i, const long long *v);

/* Loads and validates path into *x (exp_free it). Returns 0, or -1 with a
 * file:line:col message in e. */
int exp_load(const char *path, struct experiment *x, struct err *e);

/* The same from text in memory; name stands for the file in messages. */
int exp_load_string(const char *name, const char *text, struct experiment *x,
		    struct err *e);

void exp_free(struct experiment *x);

/* Parses one inline pattern spec ("window: {size: 128}") into *p, with
 * causality given; errors name "<spec>". Sweeps are refused. */
int exp_parse_spec(const char *spec, int causal, struct pattern *p,
		   struct err *e);

/* Parses one inline input spec ("synthetic: {temperature: 2}") into *in
 * and opens it (files relative to the working folder); errors name
 * "<spec>". inp_free it. */
int exp_parse_input(const char *spec, struct exp_input *in, struct err *e);

#endif
