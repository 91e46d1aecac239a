/* plan.c - the experiment grid: every combination of the shape axes, each
 * pattern variant and each kernel, in an order that runs small sequences
 * first and keeps the kernels of one group together. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/kvcache.h"
#include "plan.h"

/* Axis order of the grid, outermost first. */
static const enum exp_field grid_order[] = {
	EXP_SEQ_LEN, EXP_HEAD_DIM, EXP_HEAD_DIM_V, EXP_BATCH, EXP_HEADS, EXP_KV_HEADS,
	EXP_CAUSAL, EXP_DTYPE, EXP_SCORE, EXP_MODE, EXP_DECODE_STEPS, EXP_EXTEND_TOKENS, EXP_KV_LAYOUT,
	EXP_KV_DTYPE, EXP_KV_GROUP, EXP_KV_RESIDUAL, EXP_LENGTHS, EXP_THREADS,
};
static_assert(sizeof grid_order / sizeof *grid_order == EXP_FIELD_COUNT,
	      "grid_order: every enum exp_field once");

/* A cell's key (plan_key), or with whole = 0 its group's without the
 * kernel and the thread count: what its quality lines measure. */
static void key_of(const struct experiment *x, const struct cell *c, int whole, char *buf,
		   size_t len)
{
	const long long *v = c->sh.v;
	const struct exp_mode_desc *mode = exp_mode_of(v[EXP_MODE]);
	char kern[96] = "", thr[32] = "";
	int off;

	if (whole) {
		snprintf(kern, sizeof kern, "/%s", x->kern[c->kern]->name);
		snprintf(thr, sizeof thr, "/t%lld", v[EXP_THREADS]);
	}
	off = snprintf(buf, len, "%s%s/n%lld/d%lld/b%lld/h%lld/kv%lld%s/%s/%s",
		       x->pat[c->pat].label, kern, v[EXP_SEQ_LEN], v[EXP_HEAD_DIM], v[EXP_BATCH],
		       v[EXP_HEADS], v[EXP_KV_HEADS], thr, v[EXP_CAUSAL] ? "causal" : "bidir",
		       exp_dtype_name(v[EXP_DTYPE]));

	if (v[EXP_HEAD_DIM_V] != v[EXP_HEAD_DIM] && off > 0 && (size_t)off < len)
		off += snprintf(buf + off, len - (size_t)off, "/dv%lld", v[EXP_HEAD_DIM_V]);
	if (mode->cached && off > 0 && (size_t)off < len)
		off += snprintf(buf + off, len - (size_t)off, "/%s%ld/%s/%s", mode->name, exp_n_q(v),
				v[EXP_KV_LAYOUT] == EXP_KV_AUTO ? "auto" : kv_layout_names[v[EXP_KV_LAYOUT]],
				dtype_names[v[EXP_KV_DTYPE]]);
	if (mode->cached && dtype_of((enum dtype)v[EXP_KV_DTYPE])->form == DT_FORM_KIVI &&
	    off > 0 && (size_t)off < len)
		off += snprintf(buf + off, len - (size_t)off, "/g%lldr%lld", v[EXP_KV_GROUP],
				v[EXP_KV_RESIDUAL]);
	/* keys of files without inputs or scores stay as they were, so old
	 * runs resume */
	if (exp_batch_of(x, v) && off > 0 && (size_t)off < len)
		off += snprintf(buf + off, len - (size_t)off, "/ragged=%s", exp_batch_of(x, v)->label);
	if (x->inputs_given && off > 0 && (size_t)off < len)
		off += snprintf(buf + off, len - (size_t)off, "/in=%s", x->inputs[c->inp].label);
	if (!score_kind_of(x->scores[v[EXP_SCORE]].kind)->identity && off > 0 && (size_t)off < len)
		snprintf(buf + off, len - (size_t)off, "/score=%s", x->scores[v[EXP_SCORE]].label);
}

void plan_key(const struct experiment *x, const struct cell *c, char *buf, size_t len)
{
	key_of(x, c, 1, buf, len);
}

void plan_quality_key(const struct experiment *x, const struct cell *c, char *buf, size_t len)
{
	key_of(x, c, 0, buf, len);
}

/* Fixes the shape fields an input's files decide. */
static void input_shape(const struct exp_input *in, struct cell_shape *sh)
{
	if (!in->shape.n)
		return;
	sh->v[EXP_BATCH] = in->shape.batch;
	sh->v[EXP_HEADS] = in->shape.heads;
	sh->v[EXP_KV_HEADS] = in->shape.kv_heads;
	sh->v[EXP_HEAD_DIM] = in->shape.head_dim;
	sh->v[EXP_HEAD_DIM_V] = in->shape.head_dim_v;
}

static size_t shape_count(const struct experiment *x)
{
	size_t n = 1;

	for (int f = 0; f < EXP_FIELD_COUNT; f++)
		n *= x->axis[f].n;
	return n;
}

/* The shape at mixed-radix position s of the grid. */
static void shape_at(const struct experiment *x, size_t s, struct cell_shape *sh)
{
	for (int i = EXP_FIELD_COUNT - 1; i >= 0; i--) {
		const struct exp_axis *a = &x->axis[grid_order[i]];
		sh->v[grid_order[i]] = a->v[s % a->n];
		s /= a->n;
	}
	if (!sh->v[EXP_KV_HEADS])
		sh->v[EXP_KV_HEADS] = sh->v[EXP_HEADS];
	if (!sh->v[EXP_HEAD_DIM_V])
		sh->v[EXP_HEAD_DIM_V] = sh->v[EXP_HEAD_DIM];
}

/* 1 for a shape that repeats another but for KIVI's fields, whose cache
 * type is not KIVI's. */
static int kivi_fields_unused(const struct experiment *x, const struct cell_shape *sh)
{
	if (dtype_of((enum dtype)sh->v[EXP_KV_DTYPE])->form == DT_FORM_KIVI &&
	    exp_mode_of(sh->v[EXP_MODE])->cached)
		return 0;
	return sh->v[EXP_KV_GROUP] != x->axis[EXP_KV_GROUP].v[0] ||
	       sh->v[EXP_KV_RESIDUAL] != x->axis[EXP_KV_RESIDUAL].v[0];
}

/* 1 for a shape that repeats another but for fields its mode does not
 * read: the token counts of the other modes, and the cache's fields in
 * prefill. */
static int decode_fields_unused(const struct experiment *x, const struct cell_shape *sh)
{
	const struct exp_mode_desc *m = exp_mode_of(sh->v[EXP_MODE]);

	/* a ragged batch's lengths and sequences are its own */
	if (sh->v[EXP_LENGTHS] && (sh->v[EXP_SEQ_LEN] != x->axis[EXP_SEQ_LEN].v[0] ||
				   sh->v[EXP_BATCH] != x->axis[EXP_BATCH].v[0]))
		return 1;
	for (int other = 0; other < EXP_MODE_COUNT; other++) {
		int f = exp_mode_of(other)->tokens;     /* another mode's token count */
		if (f >= 0 && f != m->tokens && sh->v[f] != x->axis[f].v[0])
			return 1;
	}
	if (m->cached)
		return 0;
	return sh->v[EXP_KV_LAYOUT] != x->axis[EXP_KV_LAYOUT].v[0] ||
	       sh->v[EXP_KV_DTYPE] != x->axis[EXP_KV_DTYPE].v[0] ||
	       kivi_fields_unused(x, sh);
}

int plan_build(const struct experiment *x, struct plan *p, struct err *e)
{
	size_t shapes = shape_count(x), k = 0;

	memset(p, 0, sizeof *p);
	p->n = shapes * x->n_inputs * x->n_pat * x->n_kern;
	p->cell = calloc(p->n ? p->n : 1, sizeof *p->cell);
	if (!p->cell)
		return err_set(e, "out of memory planning %zu cells", p->n);
	for (size_t s = 0; s < shapes; s++) {
		struct cell_shape sh;
		shape_at(x, s, &sh);
		if (decode_fields_unused(x, &sh) || kivi_fields_unused(x, &sh))
			continue;
		for (size_t in = 0; in < x->n_inputs; in++)
			for (size_t pt = 0; pt < x->n_pat; pt++, p->n_groups++)
				for (size_t kn = 0; kn < x->n_kern; kn++, k++) {
					struct cell *c = &p->cell[k];
					c->index = k;
					c->group = p->n_groups;
					c->inp = in;
					c->pat = pt;
					c->kern = kn;
					c->sh = sh;
					input_shape(&x->inputs[in], &c->sh);
					plan_key(x, c, c->key, sizeof c->key);
				}
	}
	p->n = k;
	return 0;
}

void plan_free(struct plan *p)
{
	free(p->cell);
	memset(p, 0, sizeof *p);
}

double plan_cell_cost(const struct experiment *x, const struct cell *c)
{
	const long long *v = c->sh.v;
	double n = (double)v[EXP_SEQ_LEN];
	double q = (double)exp_n_q(v);
	double keys = (double)pat_kv_rows(&x->pat[c->pat], (long)n);
	const struct exp_batch *b = exp_batch_of(x, v);

	if (b) {                        /* a ragged batch: the sum of its sequences' */
		double sum = 0;
		for (long s = 0; s < b->n; s++)
			sum += (double)exp_batch_new(b, (size_t)s, v) *
			       (double)pat_kv_rows(&x->pat[c->pat], b->len[s]);
		return sum * (double)v[EXP_HEAD_DIM] * (double)v[EXP_HEADS] + 1e6;
	}
	if (x->kern[c->kern]->dense_work || keys > n)
		keys = n;               /* dense work, or a pattern that reaches all */
	return q * (keys > 1 ? keys : 1) * (double)v[EXP_HEAD_DIM] *
	       (double)v[EXP_HEADS] * (double)v[EXP_BATCH] + 1e6;    /* + setup */
}

struct group_cost {
	size_t first, n;        /* cells of the group */
	double cost;
};

static int cost_desc(const void *a, const void *b)
{
	const struct group_cost *x = a, *y = b;

	if (x->cost != y->cost)
		return x->cost < y->cost ? 1 : -1;
	return (x->first > y->first) - (x->first < y->first);
}

int plan_shard(const struct experiment *x, struct plan *p, int k, int n,
	       struct err *e)
{
	struct group_cost *g = calloc(p->n_groups ? p->n_groups : 1, sizeof *g);
	double *load = calloc((size_t)n, sizeof *load);
	unsigned char *mine = calloc(p->n ? p->n : 1, 1);
	size_t ng = 0, w = 0;

	if (!g || !load || !mine) {
		free(g);
		free(load);
		free(mine);
		return err_set(e, "out of memory sharding the plan");
	}
	for (size_t i = 0; i < p->n; i++) {
		if (!i || p->cell[i].group != p->cell[i - 1].group)
			g[ng++] = (struct group_cost){ .first = i };
		g[ng - 1].n++;
		g[ng - 1].cost += plan_cell_cost(x, &p->cell[i]);
	}
	qsort(g, ng, sizeof *g, cost_desc);
	for (size_t i = 0; i < ng; i++) {
		int best = 0;
		for (int s = 1; s < n; s++)
			if (load[s] < load[best])
				best = s;
		load[best] += g[i].cost;
		if (best == k - 1)
			memset(mine + g[i].first, 1, g[i].n);
	}
	for (size_t i = 0; i < p->n; i++)
		if (mine[i])
			p->cell[w++] = p->cell[i];
	p->n = w;
	free(g);
	free(load);
	free(mine);
	return 0;
}
