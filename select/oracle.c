/* oracle.c - the oracle selections, top-k and top-p (patterns/
 * topk_oracle.c, topp_oracle.c): every query's exact dense scores over
 * the keys it sees, query tiles at a time (sel_dots_block), then the k
 * best keys, or the fewest best keys whose softmax mass reaches p (found
 * by a weighted quickselect, linear on average, rather than a sort of
 * every row). Ranked by score, ties to the lower index, so the choice is
 * the same on every ISA and thread count. A GQA group sharing its
 * selection ranks keys by the softmax mass its heads put on them, summed
 * (top-p: the group's mass, p of each head's on the sum). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

/* 1 when key a ranks before key b: a larger score, or equal and lower. */
static int before(const float *s, int32_t a, int32_t b)
{
	return s[a] > s[b] || (s[a] == s[b] && a < b);
}

static void swap(int32_t *x, long i, long j)
{
	int32_t t = x[i];

	x[i] = x[j];
	x[j] = t;
}

/* Puts the fewest best-ranked of idx[0, n) whose weights w (by key) sum
 * to at least target first, and returns how many: a quickselect whose
 * pivot is the middle entry and which keeps the mass of each side. */
static long heaviest(const float *s, const double *w, int32_t *idx, long n, double target)
{
	long lo = 0, hi = n;

	while (lo < hi) {
		long mid = lo + (hi - lo) / 2, store = lo;
		int32_t pv;
		double above = 0.0;
		swap(idx, mid, hi - 1);
		pv = idx[hi - 1];
		for (long i = lo; i < hi - 1; i++)
			if (before(s, idx[i], pv)) {
				above += w[idx[i]];
				swap(idx, i, store++);
			}
		swap(idx, store, hi - 1);
		if (above >= target) {
			hi = store;             /* the answer ends before the pivot */
			continue;
		}
		target -= above + w[pv];
		if (target <= 0.0)
			return store + 1;       /* ... with the pivot */
		lo = store + 1;
	}
	return lo;
}

/* Row r's keys [0, hi) by its scores row (a group's: its summed mass):
 * the k best (top-k), or the fewest best with mass p (top-p, p > 0);
 * keys pushed in ascending order. */
static int oracle_row(struct sel_rows *rows, long r, long hi, const float *row, int topp,
		      double k_or_p, int group, int32_t *work, int32_t *keep, double *w)
{
	long n;

	if (!topp) {
		n = sel_topk(row, hi, (long)k_or_p, NULL, work, keep);
	} else {
		float mx = -INFINITY;
		double total = 0.0;
		for (long j = 0; j < hi; j++)
			mx = row[j] > mx ? row[j] : mx;
		for (long j = 0; j < hi; j++) {
			w[j] = group > 1 ? (double)row[j] : exp2((double)row[j] - mx);
			total += w[j];
			keep[j] = (int32_t)j;
		}
		n = heaviest(row, w, keep, hi, k_or_p * total);
		qsort(keep, (size_t)n, sizeof *keep, sel_by_index);
	}
	for (long i = 0; i < n; i++)
		if (sel_push_key(rows, r, keep[i]))
			return -1;
	return sel_end_row(rows, r, hi);
}

/* Adds row's softmax over [0, hi) to mass (a head of a shared group). */
static void add_mass(const float *row, long hi, float *mass)
{
	float mx = -INFINITY;
	double total = 0.0;

	for (long j = 0; j < hi; j++)
		mx = row[j] > mx ? row[j] : mx;
	for (long j = 0; j < hi; j++)
		total += exp2((double)row[j] - mx);
	for (long j = 0; j < hi; j++)
		mass[j] += (float)(exp2((double)row[j] - mx) / total);
}

/* The scores of rows r0 .. r0 + nq - 1 over keys [0, seen) into s (n_kv
 * apart): head h's alone, or the softmax mass of the group's heads
 * summed (one holds a head's scores meanwhile). */
static int tile_scores(const struct sel_input *in, int b, int h, int group, long r0, int nq,
		       long seen, float *s, float *one, int causal)
{
	const struct problem *p = in->p;
	long q0 = p->n_kv - p->n_q;

	for (int g = 0; g < group; g++) {
		if (sel_dots_block(in, sel_query(in, b, h + g, in->n_hist - p->n_q + r0), p->d, nq,
				   p->k + kern_kv_off(p, b, h), seen, p->d, 1.0 / sqrt((double)p->d),
				   group > 1 ? one : s, p->n_kv))
			return -1;
		for (int i = 0; group > 1 && i < nq; i++) {
			long hi = causal ? q0 + r0 + i + 1 : p->n_kv;
			if (!g)
				memset(s + (size_t)i * p->n_kv, 0, (size_t)hi * sizeof *s);
			add_mass(one + (size_t)i * p->n_kv, hi, s + (size_t)i * p->n_kv);
		}
	}
	return 0;
}

/* Both oracles' selection: top-p when topp, else top-k. */
static int oracle_select(const struct pattern *pat, const struct sel_input *in, int b, int h,
			 struct sel_rows *rows, int topp)
{
	const struct problem *p = in->p;
	int group = sel_group(pat, p);
	double k_or_p = topp ? pat->val[0].f : (double)pat->val[0].i;
	long q0 = p->n_kv - p->n_q;
	size_t tile = (size_t)TILE_Q * (size_t)p->n_kv;
	float *s = malloc(tile * (group > 1 ? 2 : 1) * sizeof *s), *one = s + tile;
	int32_t *work = malloc((size_t)p->n_kv * sizeof *work), *keep = malloc((size_t)p->n_kv * sizeof *keep);
	double *w = topp ? malloc((size_t)p->n_kv * sizeof *w) : NULL;
	int rc = -1;

	if (!s || !work || !keep || (topp && !w))
		goto out;
	for (long r0 = 0; r0 < p->n_q; r0 += TILE_Q) {
		int nq = p->n_q - r0 < TILE_Q ? (int)(p->n_q - r0) : TILE_Q;
		long seen = pat->causal ? q0 + r0 + nq : p->n_kv;
		if (tile_scores(in, b, h, group, r0, nq, seen, s, one, pat->causal))
			goto out;
		for (int i = 0; i < nq; i++) {
			long hi = pat->causal ? q0 + r0 + i + 1 : p->n_kv;
			if (oracle_row(rows, r0 + i, hi, s + (size_t)i * p->n_kv, topp, k_or_p, group, work, keep, w))
				goto out;
		}
	}
	rc = 0;
out:
	free(s);
	free(work);
	free(keep);
	free(w);
	return rc;
}

static int topk_select(const struct pattern *pat, const struct sel_input *in,
		       const void *state, int b, int h, struct sel_rows *rows)
{
	(void)state;
	return oracle_select(pat, in, b, h, rows, 0);
}

static int topp_select(const struct pattern *pat, const struct sel_input *in,
		       const void *state, int b, int h, struct sel_rows *rows)
{
	(void)state;
	return oracle_select(pat, in, b, h, rows, 1);
}

/* A dense score pass (2 d a pair) and per_pair more for the choice; the
 * queries and keys read once. */
static void oracle_cost(const struct pattern *pat, const struct problem *p, double per_pair,
			struct sel_cost *c)
{
	double bh = (double)p->batch * p->heads, d = p->d;
	double pairs = (double)gset_dense_pairs(p->n_q, p->n_kv, pat->causal);

	c->flops = bh * pairs * (2.0 * d + per_pair);
	c->bytes = 4.0 * d * (bh * p->n_q + (double)p->batch * p->kv_heads * p->n_kv);
}

/* top-k: a comparison a pair; top-p: an exp, a sum and a partition step */
static void topk_cost(const struct pattern *pat, const struct problem *p, int decode,
		      struct sel_cost *c)
{
	(void)decode;
	oracle_cost(pat, p, 1.0, c);
}

static void topp_cost(const struct pattern *pat, const struct problem *p, int decode,
		      struct sel_cost *c)
{
	(void)decode;
	oracle_cost(pat, p, 4.0, c);
}

const struct sel_kind sel_topk_oracle = {
	.kind = &pat_topk_oracle,               /* patterns/topk_oracle.c */
	.history = NULL,                        /* the cell's own rows */
	.unservable = NULL,                     /* any shape */
	.prepare = NULL,                        /* keeps nothing */
	.select = topk_select,                  /* exact scores, k best */
	.cost = topk_cost,                      /* a dense score pass */
	.bidirectional = 1,                     /* and over every key */
};

const struct sel_kind sel_topp_oracle = {
	.kind = &pat_topp_oracle,               /* patterns/topp_oracle.c */
	.history = NULL,
	.unservable = NULL,
	.prepare = NULL,
	.select = topp_select,                  /* exact scores, fewest with mass p */
	.cost = topp_cost,                      /* a dense score pass, exps */
	.bidirectional = 1,
};
