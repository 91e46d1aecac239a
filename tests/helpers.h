/* helpers.h - shared test fixtures: problems with seeded inputs, running a
 * kernel against the oracle, running the built binary, temporary files. */
#ifndef SABENCH_TEST_HELPERS_H
#define SABENCH_TEST_HELPERS_H

#include "../kernels/kernel.h"
#include "../patterns/gset.h"

/* A problem and the buffers and gset it owns. */
struct fixture {
	struct problem p;
	struct pattern pat;
	struct gset g;
	float *q, *k, *v, *o;
	uint16_t *q16, *k16, *v16;      /* fx_bf16's copies */
};

/* Builds a fixture for pattern spec at n with the given shape; seeded
 * inputs in [-scale, scale]. Fails the test on any error. */
void fx_make(struct fixture *fx, const char *spec, int causal, long n,
	     int batch, int heads, int kv_heads, int d, float scale);

/* fx_make with V and the output dv wide (head_dim_v), Q and K d wide. */
void fx_make_dv(struct fixture *fx, const char *spec, int causal, long n,
		int batch, int heads, int kv_heads, int d, int dv, float scale);

void fx_free(struct fixture *fx);

/* Makes fx's problem dtype bf16, as the runner does: the inputs rounded
 * to bf16 in place and bf16 copies beside them. */
void fx_bf16(struct fixture *fx);

/* Runs kernel k on fx (threads threads) and returns the largest absolute
 * difference from the oracle over every row; *nonfinite counts NaN/Inf. */
double fx_max_err(struct fixture *fx, const struct kern_desc *k, int threads,
		  long *nonfinite);

/* Runs the decode kernel over the last `tokens` of fx through a cache of
 * layout l and type t (KIVI: group 16, residual 24), one by one (chunk 0)
 * or as one chunk (1); *out (if out) gets a copy of the outputs (free
 * it), *cost (if cost) the kernel's cost model. Returns the largest error
 * against the oracle on the values the cache holds. */
double fx_cache_run(struct fixture *fx, long tokens, enum kv_layout l, enum dtype t,
		    long ring, long sinks, int chunk, float **out, struct kern_cost *cost);

/* Runs kernel k on fx with 2 threads, counting its tallies: returns the
 * FLOPs they executed, *pairs (if pairs) the pairs of G they computed. */
long long fx_run_tallied(struct fixture *fx, const struct kern_desc *k, long long *pairs);

/* fx_cache_run over every cache type, one by one and as a chunk (a
 * chunk's ring keeps steps - 1 more rows, whole KIVI groups of 16); fails
 * the test, naming what, on an error above the f32 limit. */
void fx_cache_every_type(struct fixture *fx, long steps, enum kv_layout l, long ring,
			 long sinks, const char *what);

/* A small spec of every pattern kind but csr (which needs files; see
 * test_inputs.c), for tests that sweep the kinds; fx_every_kind_count of
 * them. */
extern const char *const fx_every_kind[];
extern const size_t fx_every_kind_count;

/* The kernels' edge shapes for tests that sweep a new dimension (score
 * functions, dtypes): n = 1, n off the tile with GQA, head_dim 1 and 80,
 * bidirectional, empty rows, scattered keys; fx_edge_count of them. */
struct fx_shape {
	const char *spec;
	int causal;
	long n;
	int heads, kv_heads, d;
};

extern const struct fx_shape fx_edge[];
extern const size_t fx_edge_count;

/* Runs "$SABENCH_BIN args..." (argv NULL-terminated, argv[0] ignored),
 * capturing stdout and stderr into malloc'ed strings (may be NULL).
 * Returns the exit status, or 128 + signal. */
int run_bin(char *const argv[], char **out, char **err);

/* Path under $SABENCH_ROOT, in a static buffer. */
const char *root_path(const char *rel);

/* Writes text to path; fails the test on error. */
void write_text(const char *path, const char *text);

/* Reads a whole file (malloc'ed), or NULL. */
char *read_text(const char *path);

/* A fresh temporary folder (static buffer). */
const char *temp_dir(void);

/* A parsed CSV file: header and rows of fields (quotes handled). */
struct csv {
	char **head;            /* column names */
	int ncol;
	char ***row;            /* row[i][j]: field j of data row i */
	int nrow;
};

/* Loads path; fails the test when it cannot. */
void csv_load(struct csv *t, const char *path);

/* Column index of name; fails the test when absent. */
int csv_col(const struct csv *t, const char *name);

/* Field of data row i in column name. */
const char *csv_get(const struct csv *t, int i, const char *name);

void csv_free(struct csv *t);

/* A small experiment of 12 cells (3 seq_len x 2 patterns x 2 kernels,
 * counters: sabench::pairs) that runs in well under a second, for the
 * fault and hardening tests. */
extern const char *const fx_small_run;

/* Writes yaml into a fresh temporary folder, runs it there (`sabench
 * run`, which must succeed) and loads its results.csv into t. */
void run_yaml_results(const char *yaml, struct csv *t);

/* Lines of text (count of '\n'). */
int count_lines(const char *text);

/* Words of text (runs of characters other than spaces). */
int count_words(const char *text);

#endif
