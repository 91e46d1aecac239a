/* gset.c - compiling a pattern into per-row canonical ranges, the set's
 * statistics, and the CSR view. Work is O(rows + ranges) except the CSR
 * view, which is O(nnz) by nature. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gset.h"

long long gset_dense_pairs(long n_q, long n_kv, int causal)
{
	long long off = n_kv - n_q, pairs = 0;

	if (!causal)
		return (long long)n_q * n_kv;
	/* row r sees off + r + 1 keys */
	pairs = (long long)n_q * (off + 1) + (long long)n_q * (n_q - 1) / 2;
	return pairs;
}

/* Appends the canonical ranges in tmp to g, growing *cap. */
static int append_ranges(struct gset *g, int64_t *used, int64_t *cap,
			 const struct pat_ranges *tmp)
{
	if (!tmp->n)
		return 0;
	if (*used + (int64_t)tmp->n > *cap) {
		int64_t c = *cap ? *cap : 1024;
		while (c < *used + (int64_t)tmp->n)
			c *= 2;
		struct pat_range *r = realloc(g->ranges, (size_t)c * sizeof *r);
		if (!r)
			return -1;
		g->ranges = r;
		*cap = c;
	}
	memcpy(g->ranges + *used, tmp->r, tmp->n * sizeof *tmp->r);
	*used += (int64_t)tmp->n;
	return 0;
}

/* Counts distinct keys referenced by any row, by a difference array. */
static long long count_keys_used(const struct gset *g, int64_t n_ranges)
{
	int64_t *diff = calloc((size_t)g->n_kv + 1, sizeof *diff);
	long long used = 0, depth = 0;

	if (!diff)
		return -1;
	for (int64_t i = 0; i < n_ranges; i++) {
		diff[g->ranges[i].lo]++;
		diff[g->ranges[i].hi]--;
	}
	for (long j = 0; j < g->n_kv; j++) {
		depth += diff[j];
		used += depth > 0;
	}
	free(diff);
	return used;
}

static void fill_stats(struct gset *g)
{
	struct gset_stats *st = &g->st;
	long long rows = (long long)g->n_layouts * g->n_q, empty = 0;
	long long dense = gset_dense_pairs(g->n_q, g->n_kv, g->causal);

	st->nnz_layouts = 0;
	st->row_min = g->n_q ? -1 : 0;
	st->row_max = 0;
	for (long long i = 0; i < rows; i++) {
		int64_t n = 0;
		const struct pat_range *r = gset_row(g, 0, i, &n);
		long long k = gset_row_keys(r, n);
		st->nnz_layouts += k;
		if (st->row_min < 0 || k < st->row_min)
			st->row_min = k;
		if (k > st->row_max)
			st->row_max = k;
		empty += k == 0;
	}
	st->nnz = st->nnz_layouts / g->n_layouts;
	st->empty_rows = empty / g->n_layouts;
	st->row_mean = g->n_q ? (double)st->nnz / (double)g->n_q : 0.0;
	st->density = dense ? (double)st->nnz / (double)dense : 0.0;
	st->storage_bytes = (long long)(rows + 1) * (long long)sizeof *g->row_ptr +
			    g->row_ptr[rows] * (long long)sizeof *g->ranges;
}

int gset_build(struct gset *g, const struct pattern *p, long n_q, long n_kv,
	       int heads, char *why, size_t len)
{
	struct pat_ranges tmp = { 0 };
	int64_t used = 0, cap = 0;

	memset(g, 0, sizeof *g);
	if (n_q < 1 || n_kv < n_q || n_kv > INT32_MAX - 1) {
		snprintf(why, len, "bad gset shape n_q %ld over n_kv %ld", n_q, n_kv);
		return -1;
	}
	if (p->kind->selected) {
		snprintf(why, len, "pattern '%s' is selected from the inputs' Q and K; it has no G without them",
			 p->kind->name);
		return -1;
	}
	g->n_q = n_q;
	g->n_kv = n_kv;
	g->q_offset = n_kv - n_q;
	g->causal = pat_is_causal(p);
	g->n_layouts = pat_per_head(p) ? heads : 1;
	g->row_ptr = malloc(((size_t)g->n_layouts * (size_t)n_q + 1) *
			    sizeof *g->row_ptr);
	if (!g->row_ptr)
		goto oom;
	g->row_ptr[0] = 0;
	for (int l = 0; l < g->n_layouts; l++) {
		for (long r = 0; r < n_q; r++) {
			tmp.n = 0;
			if (p->kind->row(p, l, g->q_offset + r, n_kv, &tmp))
				goto oom;
			pat_canonical(&tmp);
			if (append_ranges(g, &used, &cap, &tmp))
				goto oom;
			g->row_ptr[(int64_t)l * n_q + r + 1] = used;
		}
	}
	free(tmp.r);
	if (!g->ranges && !(g->ranges = malloc(sizeof *g->ranges)))
		goto oom_built;         /* all rows empty: still a valid array */
	fill_stats(g);
	g->st.keys_used = count_keys_used(g, used);
	if (g->st.keys_used < 0)
		goto oom_built;
	return 0;
oom:
	free(tmp.r);
oom_built:
	gset_free(g);
	snprintf(why, len, "out of memory compiling pattern '%s' at n %ld",
		 p->label[0] ? p->label : p->kind->name, n_kv);
	return -1;
}

int gset_assemble(struct gset *g, long n_q, long n_kv, int causal,
		  int n_layouts, int layout_heads, int layout_group,
		  const struct pat_ranges *rows, int64_t *const *ptr)
{
	int64_t total = 0, *row_ptr;
	struct pat_range *ranges;

	for (int l = 0; l < n_layouts; l++)
		total += ptr[l][n_q];
	/* the arrays of the G g held are reused: a selection made in every
	 * timed run does not fault in fresh pages each time */
	row_ptr = realloc(g->row_ptr, ((size_t)n_layouts * (size_t)n_q + 1) * sizeof *row_ptr);
	if (row_ptr)
		g->row_ptr = row_ptr;
	ranges = row_ptr ? realloc(g->ranges, (size_t)(total ? total : 1) * sizeof *ranges) : NULL;
	struct gset_vslash *vs = g->vslash;     /* the selection's compact form, kept */
	int n_vs = g->n_vslash;
	long vs_room = g->vslash_room;

	if (!ranges) {
		gset_free(g);
		return -1;
	}
	memset(g, 0, sizeof *g);
	g->row_ptr = row_ptr;
	g->ranges = ranges;
	g->vslash = vs;
	g->n_vslash = n_vs;
	g->vslash_room = vs_room;
	g->n_q = n_q;
	g->n_kv = n_kv;
	g->q_offset = n_kv - n_q;
	g->causal = causal;
	g->n_layouts = n_layouts;
	g->layout_heads = layout_heads;
	g->layout_group = layout_group;
	total = 0;
	for (int l = 0; l < n_layouts; l++) {
		int64_t *at = g->row_ptr + (int64_t)l * n_q;
		for (long r = 0; r < n_q; r++)
			at[r] = total + ptr[l][r];
		memcpy(g->ranges + total, rows[l].r, (size_t)ptr[l][n_q] * sizeof *g->ranges);
		total += ptr[l][n_q];
	}
	g->row_ptr[(int64_t)n_layouts * n_q] = total;
	fill_stats(g);
	g->st.keys_used = -1;
	return 0;
}

int gset_count_keys(struct gset *g)
{
	g->st.keys_used = count_keys_used(g, g->row_ptr[(int64_t)g->n_layouts * g->n_q]);
	return g->st.keys_used < 0 ? -1 : 0;
}

static void vslash_free(struct gset *g)
{
	for (int l = 0; g->vslash && l < g->n_vslash; l++) {
		free(g->vslash[l].cols);
		free(g->vslash[l].offs);
	}
	free(g->vslash);
	g->vslash = NULL;
	g->n_vslash = 0;
	g->vslash_room = 0;
}

void gset_free(struct gset *g)
{
	vslash_free(g);
	free(g->row_ptr);
	free(g->ranges);
	g->row_ptr = NULL;
	g->ranges = NULL;
}

int gset_vslash_alloc(struct gset *g, int n_layouts, long n)
{
	if (g->vslash && g->n_vslash == n_layouts && g->vslash_room >= n)
		return 0;
	vslash_free(g);
	g->vslash = calloc((size_t)n_layouts, sizeof *g->vslash);
	if (!g->vslash)
		return -1;
	g->n_vslash = n_layouts;        /* so that vslash_free frees what is made */
	for (int l = 0; l < n_layouts; l++) {
		g->vslash[l].cols = malloc((size_t)(n ? n : 1) * sizeof *g->vslash[l].cols);
		g->vslash[l].offs = malloc((size_t)(n ? n : 1) * sizeof *g->vslash[l].offs);
		if (!g->vslash[l].cols || !g->vslash[l].offs) {
			vslash_free(g);
			return -1;
		}
	}
	g->vslash_room = n;
	return 0;
}

long long gset_vslash_size(const struct gset *g)
{
	long long n = 0;

	for (int l = 0; g->vslash && l < g->n_vslash; l++)
		n += g->vslash[l].n_cols + g->vslash[l].n_offs;
	return n;
}

long gset_vslash_row(const struct gset_vslash *vs, long pos, struct pat_range *out)
{
	long a = 0, z = vs->n_offs - 1, n = 0;

	while (z >= 0 && vs->offs[z] > pos)
		z--;
	/* descending offsets are ascending keys: merge them with the columns */
	while ((a < vs->n_cols && vs->cols[a] <= pos) || z >= 0) {
		long kc = a < vs->n_cols && vs->cols[a] <= pos ? vs->cols[a] : LONG_MAX;
		long ks = z >= 0 ? pos - vs->offs[z] : LONG_MAX;
		long key = kc < ks ? kc : ks;
		a += key == kc;
		z -= key == ks;
		if (n && out[n - 1].hi == key)
			out[n - 1].hi++;
		else
			out[n++] = (struct pat_range){ (int32_t)key, (int32_t)key + 1 };
	}
	return n;
}

int gset_csr(const struct gset *g, int l, int64_t **indptr, int32_t **indices)
{
	int64_t *ptr = malloc(((size_t)g->n_q + 1) * sizeof *ptr);
	int32_t *idx;
	int64_t nnz = 0;

	if (!ptr)
		return -1;
	ptr[0] = 0;
	for (long r = 0; r < g->n_q; r++) {
		int64_t n;
		const struct pat_range *rg = gset_row(g, l, r, &n);
		nnz += gset_row_keys(rg, n);
		ptr[r + 1] = nnz;
	}
	idx = malloc((size_t)(nnz ? nnz : 1) * sizeof *idx);
	if (!idx) {
		free(ptr);
		return -1;
	}
	for (long r = 0; r < g->n_q; r++) {
		int64_t n, at = ptr[r];
		const struct pat_range *rg = gset_row(g, l, r, &n);
		for (int64_t i = 0; i < n; i++)
			for (int32_t j = rg[i].lo; j < rg[i].hi; j++)
				idx[at++] = j;
	}
	*indptr = ptr;
	*indices = idx;
	return 0;
}

/* The block sweep of one block row accumulates, per block column, the
 * pairs of that block alone (`add`: the edge blocks of ranges) and the
 * change of the per-block rate of runs (`rate`: the blocks ranges cover
 * whole), then walks the touched columns in order. Columns are counted in
 * dense arrays, so a row of many short ranges (vertical and slash G) costs
 * its ranges plus a sort of the distinct columns, not of every range. */
struct blk_builder {
	int64_t *add, *rate;    /* per block column, zero outside the sweep */
	uint8_t *seen;          /* per block column: in touched */
	int32_t *touched;       /* distinct columns of the current block row */
	long n_touched;
	int64_t n, cap;         /* stored blocks */
	struct gset_blocks *bv;
};

static void touch(struct blk_builder *b, int64_t col, int64_t add, int64_t rate)
{
	if (!b->seen[col]) {
		b->seen[col] = 1;
		b->touched[b->n_touched++] = (int32_t)col;
	}
	b->add[col] += add;
	b->rate[col] += rate;
}

static int push_block(struct blk_builder *b, int64_t col, int full)
{
	struct gset_blocks *bv = b->bv;

	if (b->n == b->cap) {
		int64_t cap = b->cap ? 2 * b->cap : 256;
		int32_t *c = realloc(bv->col, (size_t)cap * sizeof *c);
		uint8_t *f;
		if (!c)
			return -1;
		bv->col = c;
		f = realloc(bv->full, (size_t)cap * sizeof *f);
		if (!f)
			return -1;
		bv->full = f;
		b->cap = cap;
	}
	bv->col[b->n] = (int32_t)col;
	bv->full[b->n] = (uint8_t)full;
	b->n++;
	if (full)
		bv->n_full++;
	else
		bv->n_partial++;
	return 0;
}

/* Counts one range [lo, hi): edge blocks as points, the blocks in between
 * as a run of bc pairs each. */
static void range_events(struct blk_builder *b, long lo, long hi, long bc)
{
	int64_t c_lo = lo / bc, c_hi = (hi - 1) / bc;

	if (c_lo == c_hi) {
		touch(b, c_lo, hi - lo, 0);
		return;
	}
	touch(b, c_lo, (c_lo + 1) * bc - lo, 0);
	touch(b, c_hi, hi - c_hi * bc, 0);
	if (c_hi > c_lo + 1) {
		touch(b, c_lo + 1, 0, bc);
		touch(b, c_hi, 0, -bc);
	}
}

static int by_col(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* Sweeps the counted columns of block row R into stored blocks and
 * clears the counts. */
static int sweep_events(struct blk_builder *b, const struct gset *g, long R)
{
	const struct gset_blocks *bv = b->bv;
	long rows = (R + 1) * bv->br > g->n_q ? g->n_q - R * bv->br : bv->br;
	int64_t rate = 0;

	qsort(b->touched, (size_t)b->n_touched, sizeof *b->touched, by_col);
	for (long i = 0; i < b->n_touched; i++) {
		int64_t col = b->touched[i], add = b->add[col], next;
		long width;
		rate += b->rate[col];
		b->add[col] = b->rate[col] = 0;
		b->seen[col] = 0;
		width = (col + 1) * bv->bc > g->n_kv ? g->n_kv - col * bv->bc : bv->bc;
		if (add + rate > 0 &&
		    push_block(b, col, add + rate == (int64_t)rows * width))
			return -1;
		/* blocks strictly between touched columns hold exactly `rate` pairs */
		next = i + 1 < b->n_touched ? b->touched[i + 1] : col + 1;
		for (int64_t c = col + 1; rate > 0 && c < next; c++) {
			width = (c + 1) * bv->bc > g->n_kv ? g->n_kv - c * bv->bc : bv->bc;
			if (push_block(b, c, rate == (int64_t)rows * width))
				return -1;
		}
	}
	b->n_touched = 0;
	return 0;
}

int gset_block_view(const struct gset *g, int l, long br, long bc,
		    struct gset_blocks *bv)
{
	struct blk_builder b = { .bv = bv };
	int rc = -1;

	memset(bv, 0, sizeof *bv);
	bv->br = br;
	bv->bc = bc;
	bv->n_brow = (g->n_q + br - 1) / br;
	bv->n_bcol = (g->n_kv + bc - 1) / bc;
	bv->row_ptr = malloc(((size_t)bv->n_brow + 1) * sizeof *bv->row_ptr);
	b.add = calloc((size_t)bv->n_bcol + 1, sizeof *b.add);
	b.rate = calloc((size_t)bv->n_bcol + 1, sizeof *b.rate);
	b.seen = calloc((size_t)bv->n_bcol + 1, 1);
	b.touched = malloc(((size_t)bv->n_bcol + 1) * sizeof *b.touched);
	if (!bv->row_ptr || !b.add || !b.rate || !b.seen || !b.touched)
		goto out;
	bv->row_ptr[0] = 0;
	for (long R = 0; R < bv->n_brow; R++) {
		for (long r = R * br; r < (R + 1) * br && r < g->n_q; r++) {
			int64_t n;
			const struct pat_range *rg = gset_row(g, l, r, &n);
			for (int64_t i = 0; i < n; i++)
				range_events(&b, rg[i].lo, rg[i].hi, bc);
		}
		if (sweep_events(&b, g, R))
			goto out;
		bv->row_ptr[R + 1] = b.n;
	}
	rc = 0;
out:
	free(b.add);
	free(b.rate);
	free(b.seen);
	free(b.touched);
	if (rc)
		gset_blocks_free(bv);
	return rc;
}

void gset_blocks_free(struct gset_blocks *bv)
{
	free(bv->row_ptr);
	free(bv->col);
	free(bv->full);
	memset(bv, 0, sizeof *bv);
}

double gset_block_entries(const struct gset *g, long br, long bc, int heads)
{
	double total = 0;

	for (int l = 0; l < g->n_layouts; l++) {
		struct gset_blocks bv;
		double per = 0;
		if (gset_block_view(g, l, br, bc, &bv))
			return -1;
		for (long R = 0; R < bv.n_brow; R++) {
			long rows = g->n_q - R * br < br ? g->n_q - R * br : br;
			for (int64_t t = bv.row_ptr[R]; t < bv.row_ptr[R + 1]; t++) {
				long c0 = (long)bv.col[t] * bc;
				per += (double)rows * (double)(g->n_kv - c0 < bc ? g->n_kv - c0 : bc);
			}
		}
		total += per * (g->n_layouts == 1 ? heads : g->layout_group > 1 ? g->layout_group : 1);
		gset_blocks_free(&bv);
	}
	return total;
}

/* Keys the canonical ranges x[0, nx) and y[0, ny) share. */
static long long ranges_shared(const struct pat_range *x, int64_t nx, const struct pat_range *y, int64_t ny)
{
	long long shared = 0;

	for (int64_t i = 0, j = 0; i < nx && j < ny;) {
		int32_t lo = x[i].lo > y[j].lo ? x[i].lo : y[j].lo;
		int32_t hi = x[i].hi < y[j].hi ? x[i].hi : y[j].hi;
		if (hi > lo)
			shared += hi - lo;
		if (x[i].hi < y[j].hi)
			i++;
		else
			j++;
	}
	return shared;
}

double gset_overlap(const struct gset *a, const struct gset *b)
{
	double sum = 0.0;
	long rows = 0;

	for (int l = 0; l < a->n_layouts; l++) {
		int lb = l < b->n_layouts ? l : b->n_layouts - 1;
		for (long r = 0; r < a->n_q; r++) {
			const int64_t *pa = a->row_ptr + (size_t)l * a->n_q + r;
			const int64_t *pb = b->row_ptr + (size_t)lb * b->n_q + r;
			long long keys = 0;
			for (int64_t i = pa[0]; i < pa[1]; i++)
				keys += a->ranges[i].hi - a->ranges[i].lo;
			if (!keys)
				continue;
			sum += (double)ranges_shared(a->ranges + pa[0], pa[1] - pa[0], b->ranges + pb[0],
						     pb[1] - pb[0]) / (double)keys;
			rows++;
		}
	}
	return rows ? sum / (double)rows : 1.0;
}
