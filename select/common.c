/* common.c - what every selector shares: query rows, scores on the fast
 * or the reference path, softmax, top-k with ties to the lower index, and
 * the row assembly; and sel_run, which selects every (sequence, head). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

#define LOG2E 1.4426950408889634

const float *sel_query(const struct sel_input *in, int b, int h, long r)
{
	const struct problem *p = in->p;

	return in->q_hist + (((size_t)b * (size_t)p->heads + (size_t)h) * (size_t)in->n_hist +
			     (size_t)r) * (size_t)p->d;
}

void sel_dots(const struct sel_input *in, const float *q, const float *rows,
	      long n, int d, float scale, float *s)
{
	if (in->ref) {
		for (long j = 0; j < n; j++) {
			double acc = 0.0;
			for (int c = 0; c < d; c++)
				acc += (double)q[c] * (double)rows[(size_t)j * (size_t)d + (size_t)c];
			s[j] = (float)(acc * scale * LOG2E);
		}
		return;
	}
	in->ops->dots_kv[DT_F32](q, rows, (int)n, d, s);
	for (long j = 0; j < n; j++)
		s[j] *= (float)(scale * LOG2E);
}

int sel_dots_sliced(const struct sel_input *in, const float *q, long ldq, long qstep,
		    const float *rows, long rstep, int slices, int nq, long n, int d,
		    float scale, float *out, long ldo)
{
	const struct simd_ops *ops = in->ops;
	float *qt, *s, *part;

	if (slices == 1 && (in->ref || nq == 1)) {
		for (int i = 0; i < nq; i++)
			sel_dots(in, q + (size_t)i * (size_t)ldq, rows, n, d, scale,
				 out + (size_t)i * (size_t)ldo);
		return 0;
	}
	/* slice by slice, so one query tile stays in L1 while the keys stream;
	 * the sums stay in the tile layout until the end */
	qt = calloc((size_t)d * TILE_Q, sizeof *qt);
	s = malloc(((size_t)n + 2 * TILE_K) * TILE_Q * sizeof *s);
	if (!qt || !s) {
		free(qt);
		free(s);
		return -1;
	}
	part = s + ((size_t)n + TILE_K) * TILE_Q;
	for (int t = 0; t < slices; t++) {
		const float *rt = rows + (size_t)t * (size_t)rstep;
		ops->transpose(q + (size_t)t * (size_t)qstep, ldq, qt, TILE_Q, nq, d,
			       (float)(scale * LOG2E));
		for (long j0 = 0; j0 < n; j0 += TILE_K) {
			int nk = n - j0 < TILE_K ? (int)(n - j0) : TILE_K;
			float *acc = s + (size_t)j0 * TILE_Q;
			ops->qk(qt, rt + (size_t)j0 * (size_t)d, nk, d, t ? part : acc, 0, TILE_Q);
			for (int x = 0; t && x < nk * TILE_Q; x++)
				acc[x] += part[x];
		}
	}
	for (long j0 = 0; j0 < n; j0 += TILE_K)
		ops->transpose(s + (size_t)j0 * TILE_Q, TILE_Q, out + j0, ldo,
			       n - j0 < TILE_K ? (int)(n - j0) : TILE_K, nq, 1.0f);
	free(qt);
	free(s);
	return 0;
}

int sel_dots_block(const struct sel_input *in, const float *q, long ldq, int nq,
		   const float *rows, long n, int d, float scale, float *out, long ldo)
{
	return sel_dots_sliced(in, q, ldq, 0, rows, 0, 1, nq, n, d, scale, out, ldo);
}

void sel_softmax(const struct sel_input *in, float *s, long n)
{
	float m = -INFINITY;

	if (n <= 0)
		return;
	for (long j = 0; j < n; j++)
		m = s[j] > m ? s[j] : m;
	if (in->ref) {
		double z = 0.0;
		for (long j = 0; j < n; j++)
			z += exp2((double)s[j] - m);
		for (long j = 0; j < n; j++)
			s[j] = (float)(exp2((double)s[j] - m) / z);
		return;
	}
	float inv = 1.0f / in->ops->exp2_sum(s, (int)n, m);
	for (long j = 0; j < n; j++)
		s[j] *= inv;
}

/* 1 when entry a ranks before entry b: larger score, then lower index. */
static int ranks_before(const float *s, int32_t a, int32_t b)
{
	return s[a] > s[b] || (s[a] == s[b] && a < b);
}

int sel_by_index(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

/* Reorders w[0, n) so that its first k rank before the rest (quickselect
 * over a strict total order, so the set is unique). */
static void select_first(const float *s, int32_t *w, long n, long k)
{
	long lo = 0, hi = n - 1;

	while (lo < hi) {
		int32_t pivot = w[lo + (hi - lo) / 2], t;
		long i = lo, j = hi;
		while (i <= j) {
			while (ranks_before(s, w[i], pivot))
				i++;
			while (ranks_before(s, pivot, w[j]))
				j--;
			if (i <= j) {
				t = w[i], w[i] = w[j], w[j] = t;
				i++, j--;
			}
		}
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			return;
	}
}

void sel_order(const float *score, int32_t *idx, long n, int32_t *tmp)
{
	for (long w = 1; w < n; w *= 2) {       /* bottom-up merge sort: stable, no context */
		for (long lo = 0; lo < n; lo += 2 * w) {
			long mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			long a = lo, b = mid, k = lo;
			while (a < mid || b < hi)
				tmp[k++] = b >= hi || (a < mid && !ranks_before(score, idx[b], idx[a]))
					   ? idx[a++] : idx[b++];
		}
		memcpy(idx, tmp, (size_t)n * sizeof *idx);
	}
}

long sel_topk(const float *score, long n, long k, const unsigned char *taken,
	      int32_t *work, int32_t *idx)
{
	long m = 0;

	for (long j = 0; j < n; j++)
		if (!taken || !taken[j])
			work[m++] = (int32_t)j;
	if (k > m)
		k = m;
	if (k <= 0)
		return 0;
	if (k < m)
		select_first(score, work, m, k);
	memcpy(idx, work, (size_t)k * sizeof *idx);
	qsort(idx, (size_t)k, sizeof *idx, sel_by_index);
	return k;
}

int sel_reserve(struct pat_ranges *out, size_t more)
{
	size_t cap = out->cap ? out->cap : 256;
	struct pat_range *r;

	if (out->n + more <= out->cap)
		return 0;
	while (cap < out->n + more)
		cap *= 2;
	r = realloc(out->r, cap * sizeof *r);
	if (!r)
		return -1;
	out->r = r;
	out->cap = cap;
	return 0;
}

int sel_push(struct pat_ranges *out, long lo, long hi)
{
	if (lo >= hi)
		return 0;
	if (out->n == out->cap && sel_reserve(out, 1))
		return -1;
	out->r[out->n++] = (struct pat_range){ (int32_t)lo, (int32_t)hi };
	return 0;
}

int sel_push_key(struct sel_rows *rows, long r, long key)
{
	struct pat_ranges *out = rows->out;

	if (out->n > (size_t)rows->ptr[r]) {
		struct pat_range *last = &out->r[out->n - 1];
		if (key < last->hi)
			return 0;
		if (key == last->hi) {
			last->hi++;
			return 0;
		}
	}
	return sel_push(out, key, key + 1);
}

int sel_push_blocks(struct pat_ranges *out, const int32_t *blk, long n, long bs)
{
	for (long i = 0; i < n; i++)
		if (sel_push(out, (long)blk[i] * bs, ((long)blk[i] + 1) * bs))
			return -1;
	return 0;
}

int sel_end_row(struct sel_rows *rows, long r, long limit)
{
	size_t start = (size_t)rows->ptr[r], k = start;
	struct pat_ranges view = { rows->out->r + start, rows->out->n - start,
				   rows->out->cap - start };

	pat_canonical(&view);
	for (size_t i = 0; i < view.n; i++) {
		struct pat_range g = view.r[i];
		if (g.lo < 0)
			g.lo = 0;
		if (g.hi > limit)
			g.hi = (int32_t)limit;
		if (g.lo < g.hi)
			rows->out->r[k++] = g;
	}
	rows->out->n = k;
	rows->ptr[r + 1] = (int64_t)k;
	return 0;
}

/* ---- the driver ---- */

const char *sel_unservable(const struct pattern *pat, const struct problem *p,
			   int decode, char *buf, size_t len)
{
	const struct sel_kind *s = sel_find(pat->kind);
	int want = decode ? PAT_DECODE : PAT_PREFILL;

	if (!s) {
		snprintf(buf, len, "pattern '%s' has no selector", pat->kind->name);
		return buf;
	}
	if (!(pat->kind->selected & want)) {
		snprintf(buf, len, "'%s' selects in mode %s only", pat->kind->name,
			 decode ? "prefill" : "decode");
		return buf;
	}
	if (!pat->causal && !s->bidirectional) {
		snprintf(buf, len, "'%s' selects over causal rows only", pat->kind->name);
		return buf;
	}
	return s->unservable ? s->unservable(pat, p, decode, buf, len) : NULL;
}

long sel_history(const struct pattern *pat, long n_q, long n_kv, int decode)
{
	const struct sel_kind *s = sel_find(pat->kind);

	return s && s->history ? s->history(pat, n_q, n_kv, decode) : n_q;
}

void sel_cost(const struct pattern *pat, const struct problem *p, int decode,
	      struct sel_cost *c)
{
	const struct sel_kind *s = sel_find(pat->kind);

	memset(c, 0, sizeof *c);
	if (s)
		s->cost(pat, p, decode, c);
}

int sel_group(const struct pattern *pat, const struct problem *p)
{
	const struct sel_kind *s = sel_find(pat->kind);
	int at = pat_param_index(pat->kind, "share");

	if (s && s->all_heads)
		return p->heads;
	return at >= 0 && pat->val[at].i == PAT_SHARE_KV_GROUP ? p->heads / p->kv_heads : 1;
}

/* Selections a cell makes: one per (sequence, head), or per (sequence,
 * K/V head) when a group shares one; selection l's first head. */
static int sel_layouts(const struct pattern *pat, const struct problem *p)
{
	return p->batch * p->heads / sel_group(pat, p);
}

static void sel_head_of(const struct pattern *pat, const struct problem *p, int l, int *b, int *h)
{
	int group = sel_group(pat, p), per = p->heads / group;

	*b = l / per;
	*h = l % per * group;
}

int sel_prepare(const struct pattern *pat, struct sel_input *in)
{
	const struct sel_kind *s = sel_find(pat->kind);
	int n_layouts = sel_layouts(pat, in->p), failed = 0;

	in->state = calloc((size_t)n_layouts, sizeof *in->state);
	in->rows = calloc((size_t)n_layouts, sizeof *in->rows);
	in->ptr = calloc((size_t)n_layouts, sizeof *in->ptr);
	if (!in->state || !in->rows || !in->ptr)
		failed = 1;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
	for (int l = 0; l < n_layouts; l++) {
		if (failed)
			continue;
		int b, h;
		in->ptr[l] = malloc(((size_t)in->p->n_q + 1) * sizeof **in->ptr);
		failed |= !in->ptr[l];
		sel_head_of(pat, in->p, l, &b, &h);
		if (s && s->prepare)
			failed |= s->prepare(pat, in, b, h, &in->state[l]) != 0;
	}
	if (failed)
		sel_release(pat, in);
	return failed ? -1 : 0;
}

void sel_release(const struct pattern *pat, struct sel_input *in)
{
	const struct sel_kind *s = sel_find(pat->kind);

	for (int l = 0; l < sel_layouts(pat, in->p); l++) {
		if (in->state && s && s->release)
			s->release(in->state[l]);
		else if (in->state)
			free(in->state[l]);
		if (in->rows)
			free(in->rows[l].r);
		if (in->ptr)
			free(in->ptr[l]);
	}
	free(in->state);
	free(in->rows);
	free(in->ptr);
	in->state = NULL;
	in->rows = NULL;
	in->ptr = NULL;
}

int sel_run(const struct pattern *pat, const struct sel_input *in,
	    struct gset *g, char *why, size_t len)
{
	const struct problem *p = in->p;
	const struct sel_kind *s = sel_find(pat->kind);
	int n_layouts = sel_layouts(pat, p), group = sel_group(pat, p), failed = 0;
	struct sel_input once = *in;

	if (!s) {
		gset_free(g);
		return snprintf(why, len, "pattern '%s' has no selector", pat->kind->name), -1;
	}
	once.compact = in->compact && s->compact && g->vslash;
	if (!in->state && sel_prepare(pat, &once))
		failed = 1;
	if (s->compact && gset_vslash_alloc(g, n_layouts, p->n_kv))
		failed = 1;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
	for (int l = 0; l < n_layouts; l++) {
		struct sel_rows rows;
		int b, h;
		if (failed)
			continue;
		rows = (struct sel_rows){ &once.rows[l], once.ptr[l], s->compact ? &g->vslash[l] : NULL };
		rows.out->n = 0;
		rows.ptr[0] = 0;
		sel_head_of(pat, p, l, &b, &h);
		if (s->select(pat, &once, once.state[l], b, h, &rows))
			failed = 1;
	}
	/* the compact form alone: the rows are those the G already holds */
	if (!failed && !once.compact &&
	    gset_assemble(g, p->n_q, p->n_kv, pat->causal, n_layouts, p->heads / group,
			  group, once.rows, once.ptr))
		failed = 1;
	if (!in->state && once.state)
		sel_release(pat, &once);
	if (failed) {
		gset_free(g);
		snprintf(why, len, "out of memory selecting pattern '%s'", pat->label);
	}
	return failed ? -1 : 0;
}
