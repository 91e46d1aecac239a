/* compose.c - patterns made of child patterns, by merging their range
 * lists row by row (FlexAttention's or_masks / and_masks): union,
 * intersection, and difference (the first child minus the others). */
#include <stdio.h>
#include <stdlib.h>

#include "pattern.h"

/* Canonical ranges of child c at pos into buf (reset first). */
static int child_row(const struct pattern *c, int h, long pos, long n_kv,
		     struct pat_ranges *buf)
{
	buf->n = 0;
	if (c->kind->row(c, h, pos, n_kv, buf))
		return -1;
	pat_canonical(buf);
	return 0;
}

/* a := a op b on canonical lists; keep_b 1 intersects, 0 subtracts. */
static int combine(struct pat_ranges *a, const struct pat_ranges *b,
		   int keep_b, struct pat_ranges *tmp, const struct pattern *p,
		   long pos, long n_kv)
{
	size_t j = 0;

	tmp->n = 0;
	for (size_t i = 0; i < a->n; i++) {
		long lo = a->r[i].lo, hi = a->r[i].hi;
		while (j < b->n && b->r[j].hi <= lo)
			j++;
		for (size_t k = j; k < b->n && b->r[k].lo < hi; k++) {
			long blo = b->r[k].lo, bhi = b->r[k].hi;
			if (keep_b) {
				if (pat_push(tmp, p, pos, n_kv, blo > lo ? blo : lo,
					     bhi < hi ? bhi : hi))
					return -1;
			} else {
				if (blo > lo && pat_push(tmp, p, pos, n_kv, lo, blo))
					return -1;
				lo = bhi > lo ? bhi : lo;
			}
		}
		if (!keep_b && lo < hi && pat_push(tmp, p, pos, n_kv, lo, hi))
			return -1;
	}
	/* swap a and tmp */
	{
		struct pat_ranges t = *a;
		*a = *tmp;
		*tmp = t;
	}
	return 0;
}

static int union_row(const struct pattern *p, int h, long pos, long n_kv,
		     struct pat_ranges *out)
{
	for (size_t c = 0; c < p->n_child; c++)
		if (p->child[c].kind->row(&p->child[c], h, pos, n_kv, out))
			return -1;
	return 0;
}

/* Intersection (keep_b 1) or difference (0) of the children. */
static int fold_row(const struct pattern *p, int h, long pos, long n_kv,
		    struct pat_ranges *out, int keep_b)
{
	struct pat_ranges a = { 0 }, b = { 0 }, tmp = { 0 };
	int rc = child_row(&p->child[0], h, pos, n_kv, &a);

	for (size_t c = 1; !rc && c < p->n_child && a.n; c++) {
		rc = child_row(&p->child[c], h, pos, n_kv, &b);
		if (!rc)
			rc = combine(&a, &b, keep_b, &tmp, p, pos, n_kv);
	}
	for (size_t i = 0; !rc && i < a.n; i++)
		rc = pat_push(out, p, pos, n_kv, a.r[i].lo, a.r[i].hi);
	free(a.r);
	free(b.r);
	free(tmp.r);
	return rc;
}

static int intersection_row(const struct pattern *p, int h, long pos,
			    long n_kv, struct pat_ranges *out)
{
	return fold_row(p, h, pos, n_kv, out, 1);
}

static int difference_row(const struct pattern *p, int h, long pos,
			  long n_kv, struct pat_ranges *out)
{
	return fold_row(p, h, pos, n_kv, out, 0);
}

static int need_children(const struct pattern *p, size_t least, char *why,
			 size_t len)
{
	if (p->n_child >= least)
		return 0;
	snprintf(why, len, "'%s' needs at least %s child pattern%s", p->kind->name,
		 least == 1 ? "one" : "two", least == 1 ? "" : "s");
	return -1;
}

static int union_check(const struct pattern *p, char *why, size_t len)
{
	return need_children(p, 1, why, len);
}

static int pair_check(const struct pattern *p, char *why, size_t len)
{
	return need_children(p, 2, why, len);
}

/* Rows of a union: at most the children's together (an upper bound; exact
 * when the children keep disjoint rows, such as sinks and a window). */
static long union_kv_rows(const struct pattern *p, long n)
{
	long sum = 0;

	for (size_t c = 0; c < p->n_child && sum < n; c++)
		sum += pat_kv_rows(&p->child[c], n);
	return sum;
}

/* Rows of an intersection: at most the smallest child's. */
static long intersection_kv_rows(const struct pattern *p, long n)
{
	long least = n;

	for (size_t c = 0; c < p->n_child; c++) {
		long k = pat_kv_rows(&p->child[c], n);
		least = k < least ? k : least;
	}
	return least;
}

/* Rows of a difference: at most the first child's. */
static long difference_kv_rows(const struct pattern *p, long n)
{
	return pat_kv_rows(&p->child[0], n);
}

const struct pat_kind pat_union = {
	.name = "union",                        /* YAML key, a list of patterns */
	.summary = "keys in any child pattern (or_masks)",
	.formula = "G_i = union of the children's G_i",
	.params = NULL,                         /* children only */
	.n_params = 0,
	.check = union_check,                   /* at least one child */
	.row = union_row,                       /* children appended, merged */
	.kv_rows = union_kv_rows,               /* sum of children, at most */
	.per_head = NULL,                       /* per head when a child is */
	.composite = 1,
};

const struct pat_kind pat_intersection = {
	.name = "intersection",                 /* YAML key, a list of patterns */
	.summary = "keys in every child pattern (and_masks)",
	.formula = "G_i = intersection of the children's G_i",
	.params = NULL,                         /* children only */
	.n_params = 0,
	.check = pair_check,                    /* at least two children */
	.row = intersection_row,                /* pairwise range merge */
	.kv_rows = intersection_kv_rows,        /* smallest child, at most */
	.per_head = NULL,                       /* per head when a child is */
	.composite = 1,
};

const struct pat_kind pat_difference = {
	.name = "difference",                   /* YAML key, a list of patterns */
	.summary = "keys of the first child pattern not in the others",
	.formula = "G_i = first child's G_i minus the others'",
	.params = NULL,                         /* children only */
	.n_params = 0,
	.check = pair_check,                    /* at least two children */
	.row = difference_row,                  /* pairwise range merge */
	.kv_rows = difference_kv_rows,          /* first child, at most */
	.per_head = NULL,                       /* per head when a child is */
	.composite = 1,
};
