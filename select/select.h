/* select.h - content-selected G-sets: the selection step of the pattern
 * kinds whose G depends on Q and K (patterns/vertical_slash.c, ...). A
 * selector reads one sequence's Q and K for one query head and writes that
 * layout's rows as canonical ranges; sel_run runs every (sequence, head)
 * in parallel and assembles the gset the kernels read. The harness times
 * it as part of every repetition, as a serving engine pays it per request.
 * Each selector has two score paths: the ISA micro-kernels (fast) and an
 * exact scalar one in double (ref, for the tests); the choices made from
 * the scores are shared, and ties go to the lower index, so G is the same
 * on every thread count and ISA. */
#ifndef SABENCH_SELECT_H
#define SABENCH_SELECT_H

#include "../kernels/kernel.h"
#include "../kernels/isa/simd.h"
#include "../patterns/selected.h"

/* What a selector reads: the cell's problem and, when the kind needs
 * queries before the cell's first (SnapKV's window in decode), n_hist
 * query rows ending at the cell's last, [batch][heads][n_hist][d]. */
struct sel_input {
	const struct problem *p;        /* shape, Q (n_q rows), K */
	const float *q_hist;            /* n_hist rows, or p->q when n_hist == n_q */
	long n_hist;                    /* >= p->n_q */
	int decode;                     /* the cell is in decode mode */
	int ref;                        /* 1: the scalar double reference */
	const struct simd_ops *ops;     /* micro-kernels of the fast path */
	void **state;                   /* per layout, from sel_prepare; NULL: sel_run
					 * makes and drops it each time */
	struct pat_ranges *rows;        /* per layout, from sel_prepare: the rows'
					 * buffers, reused by every selection */
	int64_t **ptr;                  /* per layout: their row offsets */
	int compact;                    /* 1: only the compact form is made (a kind
					 * with sel_kind.compact, for a kernel that
					 * reads it); the G keeps the ranges an
					 * earlier selection of the same inputs made */
	/* an indexer from the inputs (dsa_topk), or NULL: q [batch][n_hist]
	 * [H][d_I], k [batch][n_kv][d_I], w [batch][n_hist][H] */
	const float *index_q, *index_k, *index_w;
};

/* One layout's rows as they are made: out gets each row's canonical
 * ranges, ptr[r + 1] the end of row r's (ptr[0] = 0). */
struct sel_rows {
	struct pat_ranges *out;
	int64_t *ptr;
	struct gset_vslash *vs;         /* a compact kind's form of the layout */
};

/* Cost of one selection of the whole cell (every sequence and head), as
 * the cost model counts it. */
struct sel_cost {
	double flops;                   /* FLOPs of the estimate (2 per MAC, 1 per exp) */
	double bytes;                   /* bytes of Q, K and metadata it reads once */
};

extern const struct pat_kind pat_vertical_slash, pat_block_topk, pat_quest,
	pat_snapkv, pat_nsa_select, pat_moba, pat_topk_oracle, pat_topp_oracle, pat_dsa_topk;

struct sel_kind {
	const struct pat_kind *kind;    /* the pattern kind it selects for */
	/* query rows it reads ending at the cell's last (>= n_q) */
	long (*history)(const struct pattern *pat, long n_q, long n_kv, int decode);
	/* why this cell cannot be selected (too short a prompt, ...), or NULL */
	const char *(*unservable)(const struct pattern *pat, const struct problem *p,
				  int decode, char *buf, size_t len);
	/* what layout (b, h) keeps between selections, made once from the
	 * prompt and untimed, as a server writes it while prefilling (Quest's
	 * page metadata): *state, freed with free(); 0, or -1 out of memory */
	int (*prepare)(const struct pattern *pat, const struct sel_input *in,
		       int b, int h, void **state);
	/* frees a state prepare made; NULL: free() */
	void (*release)(void *state);
	/* the indexer the kind reads (heads, dimension), which the inputs may
	 * give; NULL: none */
	void (*indexer)(const struct pattern *pat, int *heads, int *dim);
	/* selects layout (b, h) given its state: 0, or -1 when out of memory */
	int (*select)(const struct pattern *pat, const struct sel_input *in,
		      const void *state, int b, int h, struct sel_rows *rows);
	/* its cost model */
	void (*cost)(const struct pattern *pat, const struct problem *p, int decode,
		     struct sel_cost *c);
	int bidirectional;              /* also selects over causal: false rows */
	int compact;                    /* writes the G's compact vertical-slash form
					 * (rows->vs) beside its rows */
	int all_heads;                  /* one G per query token for every head
					 * of a sequence (DeepSeek's indexer) */
};

/* The selector of kind k, or NULL when k is static. */
const struct sel_kind *sel_find(const struct pat_kind *k);

/* Why pat cannot be selected for this cell (NULL: it can); buf holds the
 * text. Covers the mode, causality and the kind's own rules. */
const char *sel_unservable(const struct pattern *pat, const struct problem *p,
			   int decode, char *buf, size_t len);

/* Query heads one selection serves: every head of the sequence for a kind
 * that selects for all (all_heads), the heads of a GQA group when the
 * pattern shares its selection (share: kv_group), else 1. A shared
 * selection of kind X is called for the group's first head h0 and
 * combines the scores of heads h0 .. h0 + group - 1. */
int sel_group(const struct pattern *pat, const struct problem *p);

/* Query rows the selection reads, ending at the cell's last. */
long sel_history(const struct pattern *pat, long n_q, long n_kv, int decode);

/* Makes in->state for every layout of in->p (the kind's prepare, once per
 * cell, untimed) and the buffers the selections reuse: 0, or -1 out of
 * memory. sel_release frees them. */
int sel_prepare(const struct pattern *pat, struct sel_input *in);
void sel_release(const struct pattern *pat, struct sel_input *in);

/* Selects every (sequence, head) of in->p in parallel on the current
 * OpenMP team and assembles g (zeroed, or holding a G whose arrays are
 * reused). Returns 0, or -1 with why set and g freed. */
int sel_run(const struct pattern *pat, const struct sel_input *in,
	    struct gset *g, char *why, size_t len);

void sel_cost(const struct pattern *pat, const struct problem *p, int decode,
	      struct sel_cost *c);

/* ---- shared by the selectors (select/common.c) ---- */

/* Query row r (0 .. n_hist - 1) of head h of sequence b. */
const float *sel_query(const struct sel_input *in, int b, int h, long r);

/* Absolute position of history row r. */
static inline long sel_pos(const struct sel_input *in, long r)
{
	return in->p->n_kv - in->n_hist + r;
}

/* s[j] = log2(e) scale q . rows[j] for j < n, rows d floats apart. */
void sel_dots(const struct sel_input *in, const float *q, const float *rows,
	      long n, int d, float scale, float *s);

/* out[i ldo + j] = log2(e) scale q_i . rows[j] for i < nq <= TILE_Q and
 * j < n, query i at q + i ldq: the reference per pair in double; the fast
 * path in 64 x 64 tiles through the tiled kernel's transpose and qk
 * micro-kernels (one query: sel_dots). Returns 0, or -1 out of memory. */
int sel_dots_block(const struct sel_input *in, const float *q, long ldq, int nq,
		   const float *rows, long n, int d, float scale, float *out, long ldo);

/* The fast path of sel_dots_block summed over `slices` pairs of d-channel
 * pieces: query i's piece t at q + i ldq + t qstep, row j's at rows +
 * t rstep + j d. A score of S d channels stored as S separate matrices
 * keeps each query tile in L1 (XAttention's strided rows). */
int sel_dots_sliced(const struct sel_input *in, const float *q, long ldq, long qstep,
		    const float *rows, long rstep, int slices, int nq, long n, int d,
		    float scale, float *out, long ldo);

/* Softmax of s[0, n) in place (log2-domain scores); n = 0 is a no-op. */
void sel_softmax(const struct sel_input *in, float *s, long n);

/* The k largest of score[0, n) (ties: the lower index) written to idx in
 * ascending index order; skips entries whose taken[] is set (NULL: none).
 * Returns how many were written (min(k, candidates)). work holds n ints. */
long sel_topk(const float *score, long n, long k, const unsigned char *taken,
	      int32_t *work, int32_t *idx);

/* qsort comparator of int32 indices, ascending. */
int sel_by_index(const void *a, const void *b);

/* Sorts idx[0, n) by rank (larger score first, then lower index); tmp
 * holds n ints. */
void sel_order(const float *score, int32_t *idx, long n, int32_t *tmp);

/* Makes room for `more` ranges in out (capacity doubles): 0, or -1. */
int sel_reserve(struct pat_ranges *out, size_t more);

/* Appends [lo, hi) to out (no clipping; caller keeps ranges ordered). */
int sel_push(struct pat_ranges *out, long lo, long hi);

/* Ends row r: canonical form of the ranges appended since the row began,
 * clipped to [0, limit). */
int sel_end_row(struct sel_rows *rows, long r, long limit);

/* Adds key to row r, keys coming in ascending order (repeats ignored):
 * extends the row's last range or starts one. */
int sel_push_key(struct sel_rows *rows, long r, long key);

/* Appends sorted block indices blk[0, n) of size bs as token ranges. */
int sel_push_blocks(struct pat_ranges *out, const int32_t *blk, long n, long bs);

#endif
