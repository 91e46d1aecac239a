/* pattern.h - G-set strategies (pattern kinds) and pattern instances.
 * A kind is a descriptor in the one table of patterns/registry.c: its name,
 * parameter table and a row enumerator that appends G_i as sorted, disjoint
 * half-open ranges. patterns/ knows nothing of files, kernels or timing. */
#ifndef SABENCH_PATTERN_H
#define SABENCH_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define PAT_MAX_PARAMS 8

enum pat_type {
	PAT_INT,        /* integer with inclusive bounds */
	PAT_FLOAT,      /* real with inclusive bounds */
	PAT_BOOL,       /* true / false */
	PAT_INT_LIST,   /* list of integers, each within the bounds */
	PAT_ROWS,       /* list of lists of key positions, one per query row */
	PAT_FILE,       /* a file's integer array, loaded by the harness */
	PAT_CHOICE,     /* one word of the parameter's choices, stored as its index */
	PAT_WORDS,      /* a word or a list of words of the choices (input kinds) */
	PAT_PATH,       /* a file, relative to the experiment file (input kinds) */
};
/* Outside the enum so that switches over a type need no case for it. */
#define PAT_TYPE_COUNT (PAT_PATH + 1)

/* The name `sabench patterns` and `sabench inputs` print for type t. */
const char *pat_type_name(enum pat_type t);

struct pat_param {
	const char *name;       /* key in YAML and in labels */
	enum pat_type type;     /* value type */
	int required;           /* 1: no default, the user must give it */
	double def;             /* default of a scalar parameter */
	double min, max;        /* inclusive bounds of a scalar or list item */
	const char *doc;        /* one line for `sabench patterns` */
	const char *const *choices; /* PAT_CHOICE, PAT_WORDS: the words, NULL-ended */
	const int *def_words;   /* PAT_WORDS: the default, indices, -1-ended */
	int min_open;           /* 1: min itself is out of bounds, (min, max] */
};

/* A scalar parameter's bounds as a reader writes them: "[0, 1]", "(0, 1]". */
const char *pat_param_range(const struct pat_param *d, char *buf, size_t len);

/* 1 when x is within d's bounds (min_open: above min). */
int pat_param_in_range(const struct pat_param *d, double x);

struct pat_list {
	long long *v;           /* values, owned by the pattern */
	size_t n;               /* number of values */
};

struct pat_rows {
	struct pat_list *row;   /* one sorted key list per query row */
	size_t n;               /* number of rows given; later rows are empty */
};

/* An integer array that the harness read from a file (patterns/ never
 * opens files): shared by the copies of a pattern, freed with the last. */
struct pat_blob {
	int refs;               /* patterns holding it */
	int64_t *v;             /* elements, widened to int64 */
	size_t n;               /* elements */
	size_t dim[2];          /* shape: [n] (ndim 1) or [dim0, dim1] */
	int ndim;               /* 1 or 2 */
};

struct pat_file {
	char *path;             /* as the user wrote it (labels, specs) */
	struct pat_blob *blob;  /* its contents */
};

/* PAT_WORDS: indices into the parameter's choices. */
struct pat_words {
	int *v;
	size_t n;
};

/* The value of one parameter: of a pattern kind, an input kind or a score
 * kind (one parameter system, pattern.h's). */
union pat_value {
	long long i;            /* PAT_INT, PAT_BOOL, PAT_CHOICE */
	double f;               /* PAT_FLOAT */
	struct pat_list list;   /* PAT_INT_LIST */
	struct pat_rows rows;   /* PAT_ROWS */
	struct pat_file file;   /* PAT_FILE */
	struct pat_words words; /* PAT_WORDS */
	char *path;             /* PAT_PATH: resolved against the experiment */
};

struct pat_range {
	int32_t lo, hi;         /* keys lo <= j < hi */
};

/* Growable list of ranges that enumerators append to. */
struct pat_ranges {
	struct pat_range *r;    /* ranges, sorted and disjoint once canonical */
	size_t n, cap;          /* used and allocated entries */
};

struct pattern;

/* Bounded decode caches a kind can name (pat_kind.cache); the decode
 * kernel's enum kv_layout implements each. */
enum pat_cache {
	PAT_CACHE_FULL,         /* no bound: every row */
	PAT_CACHE_RING,         /* the last kv_rows rows (windows) */
	PAT_CACHE_SINK_RING,    /* pinned_rows pinned, then a ring (StreamingLLM) */
	PAT_CACHE_COUNT
};

struct pat_kind {
	const char *name;                       /* YAML key and CLI name */
	const char *summary;                    /* one line: what it is, whose */
	const char *formula;                    /* G_i, causal form */
	const struct pat_param *params;         /* parameter table */
	int n_params;                           /* entries in params */
	/* cross-parameter checks; NULL when the bounds say it all */
	int (*check)(const struct pattern *p, char *why, size_t len);
	/* checks that need the sequence length; NULL when none */
	int (*check_n)(const struct pattern *p, long n, char *why, size_t len);
	/* checks that need the head count; NULL when none */
	int (*check_heads)(const struct pattern *p, long heads, char *why,
			   size_t len);
	/* appends G at absolute query position pos over n_kv keys, for head h */
	int (*row)(const struct pattern *p, int h, long pos, long n_kv,
		   struct pat_ranges *out);
	/* causal K/V rows a decoder keeps after n tokens (see pat_kv_rows) */
	long (*kv_rows)(const struct pattern *p, long n);
	/* 1 when rows depend on the head (for these parameters); NULL: never */
	int (*per_head)(const struct pattern *p);
	int sees_future;                        /* ignores causal clipping */
	int composite;                          /* combines child patterns */
	/* G is chosen from each sequence's Q and K at run time by select/
	 * (row is NULL): the modes it serves, enum pat_mode bits; 0: static */
	int selected;
	/* the bounded decode cache that serves the kind exactly (kv_rows of
	 * them, pinned_rows first); PAT_CACHE_FULL: none, every row is kept */
	enum pat_cache cache;
	/* rows a PAT_CACHE_SINK_RING pins before its ring (the sinks) */
	long (*pinned_rows)(const struct pattern *p);
};

/* Modes a selected kind serves (bits of pat_kind.selected). */
enum pat_mode { PAT_PREFILL = 1, PAT_DECODE = 2 };

struct pattern {
	const struct pat_kind *kind;            /* the strategy */
	union pat_value val[PAT_MAX_PARAMS];    /* by index in kind->params */
	int causal;                             /* clip to j <= i */
	struct pattern *child;                  /* composite: the children */
	size_t n_child;
	char label[256];                        /* display name, no commas */
};

/* Dense attention: the reference speed-ups and savings are measured
 * against (its name marks the reference rows of a results.csv). */
extern const struct pat_kind pat_dense;
/* The sliding window: a model's windowed layers (model/) build theirs. */
extern const struct pat_kind pat_window;

/* The registry: every kind, in the order `sabench patterns` lists them. */
extern const struct pat_kind *const pat_kinds[];
extern const int pat_kind_count;

/* Returns the kind called name, or NULL. */
const struct pat_kind *pat_kind_find(const char *name);

/* Index of parameter name in kind, or -1. */
int pat_param_index(const struct pat_kind *k, const char *name);

/* Sets every parameter of p to its default (lists empty). */
void pat_init(struct pattern *p, const struct pat_kind *k, int causal);

/* Deep copy of src into dst; returns 0 or -1 when out of memory. */
int pat_copy(struct pattern *dst, const struct pattern *src);

/* Drops one reference to b, freeing it with the last (NULL: nothing). */
void pat_blob_release(struct pat_blob *b);

/* Frees the lists p owns (not p itself). */
void pat_free(struct pattern *p);

/* Checks p (and its children) against sequence length n. */
int pat_check_n(const struct pattern *p, long n, char *why, size_t len);

/* Checks p (and its children) against the head count. */
int pat_check_heads(const struct pattern *p, long heads, char *why, size_t len);

/* Sets the causality of p and of its children. */
void pat_set_causal(struct pattern *p, int causal);

/* 1 when every row of p holds only keys j <= i (causal and no child, such
 * as prefix_lm, that sees the future). */
int pat_is_causal(const struct pattern *p);

/* 1 when p (or a child) is selected from the inputs. */
int pat_selected(const struct pattern *p);

/* 1 when p's rows depend on the head. */
int pat_per_head(const struct pattern *p);

/* K/V rows a decoder must keep once n tokens exist so that every later
 * token is computed exactly: the rows that the query at n - 1 or any later
 * query can still read, at most n (all of them when bidirectional). */
long pat_kv_rows(const struct pattern *p, long n);

/* Longest sequence whose KV cache under p fits budget bytes at
 * bytes_per_row bytes per token (K and V, all kv heads); -1 when any length
 * fits (the pattern's cache is bounded), 0 when none does. */
long pat_longest_context(const struct pattern *p, double bytes_per_row, double budget);

/* Checks bounds, required parameters and the kind's own rules. */
int pat_check(const struct pattern *p, char *why, size_t len);

/* Writes the default label, e.g. "window(size=128)" or
 * "sink_window(sinks=4 size=252)": parameters that differ from the
 * default, space-separated (labels are CSV fields, so no commas). */
void pat_default_label(const struct pattern *p, char *buf, size_t len);

/* Writes p as a YAML flow spec that parses back to the same pattern, e.g.
 * "sink_window: {sinks: 4, size: 252}". Returns 0, or -1 when buf is too
 * small. */
int pat_to_spec(const struct pattern *p, char *buf, size_t len);

/* Appends [lo, hi) clipped to [0, n_kv) and, when causal (and the kind
 * does not see the future), to j <= pos. */
int pat_push(struct pat_ranges *out, const struct pattern *p, long pos,
	     long n_kv, long lo, long hi);

/* Bounds [lo, hi) of a window of w keys at pos: causal [pos-w+1, pos],
 * bidirectional centred (floor((w-1)/2) keys before the query). */
void pat_window_bounds(const struct pattern *p, long pos, long w, long *lo,
		       long *hi);

/* Sorts and merges out->r into canonical form. */
void pat_canonical(struct pat_ranges *out);

/* Appends the union of blocks (block indices of size b, any order,
 * duplicates allowed; sorted in place) as token ranges, clipped as
 * pat_push does. */
int pat_push_blocks(struct pat_ranges *out, const struct pattern *p,
		    long pos, long n_kv, long *blocks, size_t n, long b);

/* A hash of (seed, a, b, c) to 64 bits: seeded, reproducible choices. */
unsigned long long pat_hash(unsigned long long seed, unsigned long long a,
			    unsigned long long b, unsigned long long c);

#endif
