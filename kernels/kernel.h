/* kernel.h - attention kernel variants and the problem they solve. Every
 * kernel computes the same thing, attention over the pattern's G-set;
 * they differ in how. kernels/ knows nothing of YAML, CSV, PAPI or time. */
#ifndef SABENCH_KERNEL_H
#define SABENCH_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../patterns/gset.h"
#include "score.h"
#include "isa/dtype.h"
#include "isa/simd.h"

/* Per-thread work tallies that kernels keep once per row or tile (never per
 * element); the harness publishes their sums as PAPI software events. */
struct kern_tally {
	long long pairs;        /* query-key pairs scored */
	long long flops;        /* FLOPs executed, 2 d + 2 dv per scored pair */
	long long kv_bytes;     /* K and V bytes read */
	long long tiles_skipped;/* tiles with no pair of G */
	long long tiles_full;   /* tiles computed without a mask */
	long long tiles_partial;/* tiles computed with a mask */
	long long pad[2];       /* one cache line per thread */
};

/* How a decoder keeps K/V (kernels that read through a cache). */
enum kv_layout {
	KV_FULL,                /* every row, contiguous */
	KV_RING,                /* a ring of the last W rows (windows) */
	KV_SINK_RING,           /* S pinned rows plus a ring (StreamingLLM) */
	KV_PAGED,               /* fixed-size pages through a page table */
	KV_LAYOUT_COUNT
};

struct ragged;

struct problem {
	int batch;              /* sequences */
	int heads;              /* query heads */
	int kv_heads;           /* K/V heads; divides heads (GQA) */
	long n_q;               /* query rows, aligned bottom-right */
	long n_kv;              /* keys */
	int d;                  /* head_dim: q . k's width */
	int dv;                 /* head_dim_v: V's and the output's width (P V);
				 * 0: d. Read it through kern_dv */
	const float *q;         /* [batch][heads][n_q][d] */
	const float *k;         /* [batch][kv_heads][n_kv][d] */
	const float *v;         /* [batch][kv_heads][n_kv][dv] */
	float *o;               /* [batch][heads][n_q][dv] */
	const struct gset *g;   /* the index sets; g->causal: all j <= i */
	const struct score_mod *score; /* the score function (score.h); NULL: plain */
	enum dtype dtype;    /* of Q, K, V: DT_F32, or DT_BF16: q16, k16, v16
				 * hold them and q, k, v their exact fp32 values
				 * (the oracle's, and the kernels' that widen) */
	const uint16_t *q16, *k16, *v16;
	struct kern_tally *tally; /* one slot per thread, or NULL */
	enum kv_layout kv_layout; /* cache layout (decode kernels) */
	enum dtype kv_dtype; /* cache element type (decode kernels) */
	long kv_ring;           /* ring rows (ring, sink_ring) */
	long kv_sinks;          /* pinned rows (sink_ring) */
	int kv_group;           /* KIVI: tokens (keys) and channels (values) a scale covers */
	long kv_residual;       /* KIVI: newest tokens kept in f16 */
	int chunk;              /* decode kernels: 1 appends the n_q tokens
				 * together, then attends them (extend: a
				 * chunked prefill); 0 one by one (decode) */
	int kv_splits;          /* decode kernels: key splits per cache and
				 * token; 0: the kernel's choice */
	const struct ragged *ragged;    /* NULL, or a ragged batch to run whole
					 * (kernels with kern_desc.ragged) */
};

/* A ragged batch: sequences of their own lengths run as one step, as a
 * continuous-batching server schedules decodes and prefill chunks
 * together. Each sequence is a problem of batch 1 with its own n_kv, n_q
 * (its new tokens, appended as one chunk), inputs, G and cache fields;
 * its o is not used: the outputs go to the batch's problem o, sequence
 * after sequence, each [heads][n_q][dv]. */
struct ragged {
	int n;                  /* sequences */
	const struct problem *seq;
};

/* The width of V and of the output: head_dim_v (MLA: 128 against q . k's
 * 192 in prefill, 512 of a 576 latent in the absorbed decode form), or
 * head_dim when the problem leaves it 0. */
static inline int kern_dv(const struct problem *p)
{
	return p->dv > 0 ? p->dv : p->d;
}

/* Offset in the batch's o of sequence s's outputs. */
static inline size_t kern_ragged_off(const struct ragged *r, int s)
{
	size_t off = 0;

	for (int i = 0; i < s; i++)
		off += (size_t)r->seq[i].heads * (size_t)r->seq[i].n_q * (size_t)kern_dv(&r->seq[i]);
	return off;
}

/* FLOPs of one scored pair: q . k over d (2 d) and p v over dv (2 dv);
 * 4 d when they are equal. */
static inline double kern_pair_flops(const struct problem *p)
{
	return 2.0 * p->d + 2.0 * kern_dv(p);
}

/* What a kernel executes and holds, from its own cost model. */
struct kern_cost {
	double flops_exec;      /* FLOPs executed, 2 d + 2 dv per scored pair */
	double score_bytes;     /* largest score buffer materialised */
	double workspace_bytes; /* all workspace prepare allocates */
	double kv_cache_bytes;  /* K/V a cache-reading kernel allocates; 0: none */
};

struct kern_desc {
	const char *name;                       /* YAML and CLI name */
	const char *summary;                    /* one line for `kernels` */
	/* NULL when usable here, else why not (no CBLAS, no AVX-512) */
	const char *(*unavailable)(void);
	/* untimed: workspace and layouts; *ws owned by the kernel */
	int (*prepare)(const struct problem *p, int threads, void **ws);
	/* timed: writes p->o */
	void (*run)(const struct problem *p, void *ws);
	void (*release)(void *ws);              /* frees what prepare made */
	/* why it cannot run dtype bf16 here ("fp32 only"), or NULL; a NULL
	 * slot: it runs bf16 everywhere */
	const char *(*no_bf16)(void);
	/* cost model for this problem at this thread count */
	void (*cost)(const struct problem *p, int threads, struct kern_cost *c);
	/* rebuilds the views prepare made of p->g (block view, CSR, ...) for
	 * a G that was selected again from the inputs: timed with the
	 * selection; -1 when out of memory. NULL: run reads p->g directly */
	int (*index)(const struct problem *p, void *ws);
	/* untimed, before each timed run: restore state a run consumed (a
	 * decode cache's evicted rows); NULL when runs leave nothing behind */
	void (*reset)(const struct problem *p, void *ws);
	/* what the manifest should know (library, core); NULL when nothing */
	const char *(*info)(void);
	/* 1 when run reads p->g's compact vertical-slash form (gset.h's
	 * gset_vslash) rather than its ranges, and index builds its views
	 * from that alone: a selection for it need not write the rows; NULL:
	 * never */
	int (*reads_compact)(const struct problem *p);
	int simd;                               /* runs the ISA micro-kernels */
	int bf16_simd;                          /* bf16 products on the CPU's bf16
						 * instructions (bf16.h's, or a
						 * library's), not widened */
	int decode;                             /* reads K/V through a cache */
	int dense_work;                         /* computes every pair whatever G
						 * (then masks): its cost is dense */
	int ragged;                             /* runs p->ragged (prepare, run,
						 * reset, cost and release take the
						 * batch's problem) */
};

extern const struct kern_desc *const kern_table[];
extern const int kern_count;

/* Returns the kernel called name, or NULL. */
const struct kern_desc *kern_find(const char *name);

/* The instruction-set path k runs a cell of dtype bf16 (or not) on here:
 * what the isa column says and whose ceiling pct_peak divides by
 * (KERN_PORTABLE for the kernels in plain C). */
enum kern_isa kern_desc_isa(const struct kern_desc *k, int bf16);

/* Row r of head h of sequence b, computed in double over the ranges: the
 * oracle every kernel is verified against. out has dv entries; an empty
 * row gives zeros. */
void kern_oracle_row(const struct problem *p, int b, int h, long r,
		     double *out);

/* Offsets of the [b][h] slabs of Q and O and of the K and V heads it
 * reads (rows of d, of dv). */
static inline size_t kern_q_off(const struct problem *p, int b, int h)
{
	return ((size_t)b * (size_t)p->heads + (size_t)h) * (size_t)p->n_q *
	       (size_t)p->d;
}

static inline size_t kern_o_off(const struct problem *p, int b, int h)
{
	return ((size_t)b * (size_t)p->heads + (size_t)h) * (size_t)p->n_q *
	       (size_t)kern_dv(p);
}

/* Index of the K/V head head h of sequence b reads (batch x kv_heads). */
static inline size_t kern_kv_head(const struct problem *p, int b, int h)
{
	return (size_t)b * (size_t)p->kv_heads + (size_t)(h / (p->heads / p->kv_heads));
}

static inline size_t kern_kv_off(const struct problem *p, int b, int h)
{
	return kern_kv_head(p, b, h) * (size_t)p->n_kv * (size_t)p->d;
}

static inline size_t kern_v_off(const struct problem *p, int b, int h)
{
	return kern_kv_head(p, b, h) * (size_t)p->n_kv * (size_t)kern_dv(p);
}

/* dst[i] = src[i] widened, i < n. */
static inline void kern_bf16_widen_rows(const uint16_t *src, float *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = dt_from_bf16(src[i]);
}

/* x[i] := x[i] rounded to bf16 (and back), i < n: P before P V. */
static inline void kern_bf16_round(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = dt_from_bf16(dt_to_bf16(x[i]));
}

/* h[i] = x[i] in bf16, and x[i] := the value it holds, i < n: a problem's
 * inputs made bf16 once, untimed (the oracle reads x). */
static inline void kern_bf16_inputs(float *x, uint16_t *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h[i] = dt_to_bf16(x[i]);
		x[i] = dt_from_bf16(h[i]);
	}
}

/* Index of the calling thread inside a parallel region (0 outside). */
static inline int kern_thread(void)
{
#ifdef _OPENMP
	return omp_get_thread_num();
#else
	return 0;
#endif
}

/* Threads a parallel region would start here (1 without OpenMP, as in
 * the fuzzers' build). */
static inline int kern_max_threads(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

/* Adds to the calling thread's tally: pairs of G computed, FLOPs
 * executed and K/V bytes read. Called once per row or tile. */
static inline void kern_tally_add(const struct problem *p, int thread,
				  long long pairs, long long flops,
				  long long kv_bytes)
{
	struct kern_tally *t;

	if (!p->tally)
		return;
	t = &p->tally[thread];
	t->pairs += pairs;
	t->flops += flops;
	t->kv_bytes += kv_bytes;
}

/* The tally of a row-wise kernel that scores `scored` keys of a row of
 * which `pairs` are in G: each scored key costs 2 d + 2 dv FLOPs and one
 * K and one V row. */
static inline void kern_tally_row(const struct problem *p, long long pairs,
				  long long scored)
{
	long long width = p->d + kern_dv(p);

	kern_tally_add(p, kern_thread(), pairs, 2LL * width * scored,
		       (p->dtype == DT_BF16 ? 2 : 4) * width * scored);
}

#endif
