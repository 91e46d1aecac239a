/* gset.h - the compiled index set: per query row (and per head when the
 * pattern differs per head) its canonical ranges, the statistics of the
 * set, and derived views built on demand (CSR). Never an n x n mask. */
#ifndef SABENCH_GSET_H
#define SABENCH_GSET_H

#include <stdint.h>

#include "pattern.h"

struct gset_stats {
	long long nnz;          /* pairs per head (mean when heads differ) */
	long long nnz_layouts;  /* pairs summed over the distinct layouts */
	double density;         /* nnz over the dense pattern's pairs */
	long long row_min;      /* fewest keys of a row */
	long long row_max;      /* most keys of a row */
	double row_mean;        /* nnz / n_q */
	long long empty_rows;   /* rows with no key (per head, mean) */
	long long keys_used;    /* distinct keys referenced by any row */
	long long storage_bytes;/* bytes of row_ptr and ranges */
};

/* A vertical-slash G in MInference's compact form, one per layout: the
 * row at position i holds {c in cols : c <= i} u {i - o : o in offs,
 * o <= i}. A kernel may read it instead of the rows' ranges (a thousand
 * single keys and diagonals a row): the columns as one index list, the
 * diagonals as the key blocks they cross (kern_desc.reads_compact). */
struct gset_vslash {
	int32_t *cols;          /* kept key columns, ascending */
	long n_cols;
	int32_t *offs;          /* kept offsets i - j, ascending */
	long n_offs;
};

struct gset {
	long n_q, n_kv;         /* query rows and keys */
	long q_offset;          /* row r is at absolute position q_offset + r */
	int causal;             /* built with causal clipping */
	int n_layouts;          /* 1, heads (per head), or batch x heads */
	int layout_heads;       /* layouts of a sequence when the layouts are
				 * per (sequence, head or group): a G selected
				 * from each sequence's own Q and K; else 0 */
	int layout_group;       /* query heads that read one layout: a GQA
				 * group's shared selection; 0 or 1: each head
				 * its own */
	int64_t *row_ptr;       /* n_layouts * n_q + 1 offsets into ranges */
	struct pat_range *ranges; /* all rows' ranges, row after row */
	struct gset_vslash *vslash; /* per layout, the compact form of a
				 * vertical-slash G (its rows say the same), or
				 * NULL */
	int n_vslash;           /* its entries */
	long vslash_room;       /* columns (and offsets) each entry has room for */
	struct gset_stats st;   /* filled by gset_build */
};

/* Compiles p for n_q queries aligned bottom-right over n_kv keys and heads
 * heads; g owns its arrays (gset_free). Returns 0, or -1 with why set. */
int gset_build(struct gset *g, const struct pattern *p, long n_q, long n_kv,
	       int heads, char *why, size_t len);

void gset_free(struct gset *g);

/* How much of a's G b keeps: over every layout and row with keys, the
 * share of the row's keys in a that b's same row also holds, averaged
 * (1: b keeps all of a). a and b have the same rows; a layout of a past
 * b's layouts is read against b's last. 1 when a has no key. */
double gset_overlap(const struct gset *a, const struct gset *b);

/* Assembles g from rows made elsewhere (a G selected from the inputs):
 * rows[l] holds layout l's ranges, row after row, canonical, and
 * ptr[l][r] .. ptr[l][r + 1] indexes row r's. g is zeroed or holds a G,
 * whose arrays are reused. Fills the statistics as gset_build does but
 * keys_used (-1: gset_count_keys counts it); the caller frees rows and
 * ptr. Returns 0, or -1 when out of memory (g freed). */
int gset_assemble(struct gset *g, long n_q, long n_kv, int causal,
		  int n_layouts, int layout_heads, int layout_group,
		  const struct pat_ranges *rows, int64_t *const *ptr);

/* Row at position pos of a compact vertical-slash G as canonical ranges
 * into out (n_cols + n_offs entries of room): the columns <= pos merged
 * with the keys pos - o of the offsets <= pos, adjacent keys joined.
 * Returns how many ranges. */
long gset_vslash_row(const struct gset_vslash *vs, long pos, struct pat_range *out);

/* Columns and offsets of every layout's compact form (the selection's
 * size: the same inputs give the same). */
long long gset_vslash_size(const struct gset *g);

/* Gives g room for a compact form of n_layouts layouts of up to n keys
 * each (kept between selections of that shape, made anew for another);
 * 0, or -1 when out of memory. */
int gset_vslash_alloc(struct gset *g, int n_layouts, long n);

/* Fills g->st.keys_used, the distinct keys any row reads: 0, or -1 when
 * out of memory. */
int gset_count_keys(struct gset *g);

/* The layout that head h of sequence b reads. */
static inline int gset_layout(const struct gset *g, int b, int h)
{
	if (g->n_layouts == 1)
		return 0;
	if (g->layout_group > 1)
		h /= g->layout_group;
	return g->layout_heads ? b * g->layout_heads + h : h;
}

/* 1 when the group query heads of a K/V head read one layout (one G for
 * all heads, or a GQA group's shared selection): they may walk it
 * together and read each K/V row once. */
static inline int gset_group_shares(const struct gset *g, int group)
{
	return g->n_layouts == 1 || (g->layout_group > 1 && g->layout_group % group == 0);
}

/* Ranges of query row r in layout l: *n ranges starting at the result. */
static inline const struct pat_range *gset_row(const struct gset *g, int l,
					       long r, int64_t *n)
{
	int64_t at = (int64_t)l * g->n_q + r;
	*n = g->row_ptr[at + 1] - g->row_ptr[at];
	return g->ranges + g->row_ptr[at];
}

/* Keys in a row's ranges. */
static inline long long gset_row_keys(const struct pat_range *r, int64_t n)
{
	long long k = 0;
	for (int64_t i = 0; i < n; i++)
		k += r[i].hi - r[i].lo;
	return k;
}

/* CSR view of layout l: indptr[n_q + 1], indices[nnz], both malloc'ed and
 * owned by the caller. Returns 0, or -1 when out of memory. */
int gset_csr(const struct gset *g, int l, int64_t **indptr, int32_t **indices);

/* Block view (BSR): for blocks of br query rows x bc keys, the blocks that
 * hold any pair of G, in row-major order, each full (every pair in G: no
 * mask needed) or partial. Like FlexAttention's BlockMask. */
struct gset_blocks {
	long br, bc;            /* block height (rows) and width (keys) */
	long n_brow, n_bcol;    /* block rows and columns */
	int64_t *row_ptr;       /* n_brow + 1 offsets into col and full */
	int32_t *col;           /* block column of each stored block */
	uint8_t *full;          /* 1: full, 0: partial */
	int64_t n_full, n_partial;      /* counts */
};

/* Builds the block view of layout l in O(ranges + blocks), with
 * no n x n mask. Returns 0, or -1 when out of memory. */
int gset_block_view(const struct gset *g, int l, long br, long bc,
		    struct gset_blocks *bv);

void gset_blocks_free(struct gset_blocks *bv);

/* Entries of the stored blocks (real rows x real keys of each), summed over
 * heads heads: what a block-sparse kernel computes, masked entries too. */
double gset_block_entries(const struct gset *g, long br, long bc, int heads);

/* Pairs of G summed over heads heads (of one sequence). */
static inline long long gset_pairs(const struct gset *g, int heads)
{
	return g->st.nnz_layouts * heads / g->n_layouts;
}

/* Pairs of the dense pattern with the same shape and causality. */
long long gset_dense_pairs(long n_q, long n_kv, int causal);

#endif
