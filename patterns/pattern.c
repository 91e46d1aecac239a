/* pattern.c - what every pattern kind shares: parameter defaults, bounds
 * checks, copies, default labels and the range-list helpers the row
 * enumerators use. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

const struct pat_kind *pat_kind_find(const char *name)
{
	for (int i = 0; i < pat_kind_count; i++)
		if (strcmp(pat_kinds[i]->name, name) == 0)
			return pat_kinds[i];
	return NULL;
}

int pat_param_index(const struct pat_kind *k, const char *name)
{
	for (int i = 0; i < k->n_params; i++)
		if (strcmp(k->params[i].name, name) == 0)
			return i;
	return -1;
}

void pat_init(struct pattern *p, const struct pat_kind *k, int causal)
{
	memset(p, 0, sizeof *p);
	p->kind = k;
	p->causal = causal;
	for (int i = 0; i < k->n_params; i++) {
		const struct pat_param *d = &k->params[i];
		if (d->type == PAT_FLOAT)
			p->val[i].f = d->def;
		else if (d->type == PAT_INT || d->type == PAT_BOOL || d->type == PAT_CHOICE)
			p->val[i].i = (long long)d->def;
	}
}

static int copy_list(struct pat_list *dst, const struct pat_list *src)
{
	dst->n = src->n;
	dst->v = NULL;
	if (!src->n)
		return 0;
	dst->v = malloc(src->n * sizeof *dst->v);
	if (!dst->v)
		return -1;
	memcpy(dst->v, src->v, src->n * sizeof *dst->v);
	return 0;
}

static int copy_rows(struct pat_rows *dst, const struct pat_rows *src)
{
	dst->n = src->n;
	dst->row = src->n ? calloc(src->n, sizeof *dst->row) : NULL;
	if (src->n && !dst->row)
		return -1;
	for (size_t r = 0; r < src->n; r++)
		if (copy_list(&dst->row[r], &src->row[r]))
			return -1;
	return 0;
}

/* Copies the path; the loaded contents are shared, counted. */
static int copy_file(struct pat_file *dst, const struct pat_file *src)
{
	dst->path = NULL;
	dst->blob = src->blob;
	if (src->path && !(dst->path = strdup(src->path))) {
		dst->blob = NULL;
		return -1;
	}
	if (dst->blob)
		dst->blob->refs++;
	return 0;
}

void pat_blob_release(struct pat_blob *b)
{
	if (b && --b->refs <= 0) {
		free(b->v);
		free(b);
	}
}

int pat_copy(struct pattern *dst, const struct pattern *src)
{
	*dst = *src;
	dst->child = NULL;
	dst->n_child = 0;
	if (src->n_child) {
		dst->child = calloc(src->n_child, sizeof *dst->child);
		if (!dst->child)
			return -1;
		for (size_t c = 0; c < src->n_child; c++) {
			if (pat_copy(&dst->child[c], &src->child[c])) {
				pat_free(dst);
				return -1;
			}
			dst->n_child = c + 1;
		}
	}
	for (int i = 0; i < src->kind->n_params; i++) {
		enum pat_type t = src->kind->params[i].type;
		int rc = 0;
		if (t == PAT_INT_LIST)
			rc = copy_list(&dst->val[i].list, &src->val[i].list);
		else if (t == PAT_ROWS)
			rc = copy_rows(&dst->val[i].rows, &src->val[i].rows);
		else if (t == PAT_FILE)
			rc = copy_file(&dst->val[i].file, &src->val[i].file);
		if (rc) {
			pat_free(dst);
			return -1;
		}
	}
	return 0;
}

void pat_free(struct pattern *p)
{
	if (!p->kind)
		return;
	for (size_t c = 0; c < p->n_child; c++)
		pat_free(&p->child[c]);
	free(p->child);
	p->child = NULL;
	p->n_child = 0;
	for (int i = 0; i < p->kind->n_params; i++) {
		enum pat_type t = p->kind->params[i].type;
		if (t == PAT_INT_LIST) {
			free(p->val[i].list.v);
			p->val[i].list.v = NULL;
		} else if (t == PAT_ROWS && p->val[i].rows.row) {
			for (size_t r = 0; r < p->val[i].rows.n; r++)
				free(p->val[i].rows.row[r].v);
			free(p->val[i].rows.row);
			p->val[i].rows.row = NULL;
		} else if (t == PAT_FILE) {
			free(p->val[i].file.path);
			pat_blob_release(p->val[i].file.blob);
			p->val[i].file.path = NULL;
			p->val[i].file.blob = NULL;
		}
	}
}

static int check_list(const struct pat_param *d, const struct pat_list *l,
		      char *why, size_t len)
{
	for (size_t j = 0; j < l->n; j++)
		if (l->v[j] < d->min || l->v[j] > d->max) {
			snprintf(why, len, "'%s' item %lld out of range [%.0f, %.0f]",
				 d->name, l->v[j], d->min, d->max);
			return -1;
		}
	return 0;
}

/* An INT whose default lies below its bounds and that still holds it was
 * not given (block_topk's k when coverage decides): not checked, and not
 * written back into a spec. */
static int not_given(const struct pat_param *d, const union pat_value *v)
{
	return d->type == PAT_INT && v->i == (long long)d->def && d->def < d->min;
}

const char *pat_param_range(const struct pat_param *d, char *buf, size_t len)
{
	if (d->type == PAT_INT)
		snprintf(buf, len, "%c%.0f, %.0f]", d->min_open ? '(' : '[', d->min, d->max);
	else
		snprintf(buf, len, "%c%g, %g]", d->min_open ? '(' : '[', d->min, d->max);
	return buf;
}

int pat_param_in_range(const struct pat_param *d, double x)
{
	return (d->min_open ? x > d->min : x >= d->min) && x <= d->max;
}

int pat_check(const struct pattern *p, char *why, size_t len)
{
	const struct pat_kind *k = p->kind;

	for (int i = 0; i < k->n_params; i++) {
		const struct pat_param *d = &k->params[i];
		const union pat_value *v = &p->val[i];
		if (not_given(d, v))
			continue;
		if (d->type == PAT_INT && (v->i < d->min || v->i > d->max)) {
			snprintf(why, len, "'%s' is %lld, must be in [%.0f, %.0f]",
				 d->name, v->i, d->min, d->max);
			return -1;
		}
		if (d->type == PAT_FLOAT && !pat_param_in_range(d, v->f)) {
			char range[80];
			snprintf(why, len, "'%s' is %g, must be in %s", d->name, v->f,
				 pat_param_range(d, range, sizeof range));
			return -1;
		}
		if (d->type == PAT_INT_LIST && check_list(d, &v->list, why, len))
			return -1;
		if (d->type == PAT_ROWS)
			for (size_t r = 0; r < v->rows.n; r++)
				if (check_list(d, &v->rows.row[r], why, len))
					return -1;
	}
	for (size_t c = 0; c < p->n_child; c++) {
		if (p->child[c].kind->selected) {
			snprintf(why, len, "'%s' is selected from the inputs and cannot be a part of '%s'",
				 p->child[c].kind->name, k->name);
			return -1;
		}
		if (pat_check(&p->child[c], why, len))
			return -1;
	}
	return k->check ? k->check(p, why, len) : 0;
}

int pat_check_n(const struct pattern *p, long n, char *why, size_t len)
{
	for (size_t c = 0; c < p->n_child; c++)
		if (pat_check_n(&p->child[c], n, why, len))
			return -1;
	return p->kind->check_n ? p->kind->check_n(p, n, why, len) : 0;
}

int pat_check_heads(const struct pattern *p, long heads, char *why, size_t len)
{
	for (size_t c = 0; c < p->n_child; c++)
		if (pat_check_heads(&p->child[c], heads, why, len))
			return -1;
	return p->kind->check_heads ? p->kind->check_heads(p, heads, why, len) : 0;
}

void pat_set_causal(struct pattern *p, int causal)
{
	p->causal = causal;
	for (size_t c = 0; c < p->n_child; c++)
		pat_set_causal(&p->child[c], causal);
}

int pat_is_causal(const struct pattern *p)
{
	if (!p->causal || p->kind->sees_future)
		return 0;
	for (size_t c = 0; c < p->n_child; c++)
		if (!pat_is_causal(&p->child[c]))
			return 0;
	return 1;
}

int pat_selected(const struct pattern *p)
{
	return p->kind->selected != 0;
}

int pat_per_head(const struct pattern *p)
{
	if (p->kind->per_head && p->kind->per_head(p))
		return 1;
	for (size_t c = 0; c < p->n_child; c++)
		if (pat_per_head(&p->child[c]))
			return 1;
	return 0;
}

long pat_kv_rows(const struct pattern *p, long n)
{
	long rows;

	if (!pat_is_causal(p))
		return n;
	rows = p->kind->kv_rows(p, n);
	return rows < 0 ? 0 : rows > n ? n : rows;
}

/* Writes "name=[a b c]" (at most 8 items, then "..."). */
static int label_list(const char *name, const struct pat_list *l, char *buf,
		      size_t len)
{
	size_t off = (size_t)snprintf(buf, len, "%s=[", name);

	for (size_t j = 0; j < l->n && j <= 8 && off < len; j++)
		off += (size_t)(j < 8 ? snprintf(buf + off, len - off, "%s%lld",
						 j ? " " : "", l->v[j])
				      : snprintf(buf + off, len - off, " ..."));
	if (off < len)
		off += (size_t)snprintf(buf + off, len - off, "]");
	return (int)off;
}

/* The last part of a path, for labels. */
static const char *pat_file_base(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path ? path : "";
}

/* Appends "name=value" for parameter i to buf at *off. */
static void label_param(const struct pattern *p, int i, char *buf, size_t len,
			size_t *off)
{
	const struct pat_param *d = &p->kind->params[i];
	const union pat_value *v = &p->val[i];
	int w = 0;

	if (*off >= len)
		return;
	if (d->type == PAT_INT)
		w = snprintf(buf + *off, len - *off, "%s=%lld", d->name, v->i);
	else if (d->type == PAT_BOOL)
		w = snprintf(buf + *off, len - *off, "%s=%s", d->name,
			     v->i ? "true" : "false");
	else if (d->type == PAT_FLOAT)
		w = snprintf(buf + *off, len - *off, "%s=%g", d->name, v->f);
	else if (d->type == PAT_CHOICE)
		w = snprintf(buf + *off, len - *off, "%s=%s", d->name, d->choices[v->i]);
	else if (d->type == PAT_INT_LIST)
		w = label_list(d->name, &v->list, buf + *off, len - *off);
	else if (d->type == PAT_FILE)
		w = snprintf(buf + *off, len - *off, "%s=%s", d->name, pat_file_base(v->file.path));
	else
		w = snprintf(buf + *off, len - *off, "%zu rows", v->rows.n);
	if (w > 0)
		*off += (size_t)w;
}

/* 1 when parameter i still holds its default (lists count as given). */
static int is_default(const struct pattern *p, int i)
{
	const struct pat_param *d = &p->kind->params[i];

	if (d->required)
		return 0;
	if (d->type == PAT_INT || d->type == PAT_BOOL || d->type == PAT_CHOICE)
		return p->val[i].i == (long long)d->def;
	if (d->type == PAT_FLOAT)
		return p->val[i].f == d->def;
	if (d->type == PAT_FILE)
		return 0;
	return p->val[i].list.n == 0;
}

void pat_default_label(const struct pattern *p, char *buf, size_t len)
{
	size_t off = 0;
	int shown = 0;

	off = (size_t)snprintf(buf, len, "%s", p->kind->name);
	if (p->kind->composite) {
		for (size_t c = 0; c < p->n_child && off < len; c++)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
						c ? " " : "(", p->child[c].label);
		if (off < len)
			snprintf(buf + off, len - off, "%s", p->n_child ? ")" : "()");
		return;
	}
	for (int i = 0; i < p->kind->n_params; i++) {
		if (is_default(p, i))
			continue;
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s",
						shown ? " " : "(");
		label_param(p, i, buf, len, &off);
		shown = 1;
	}
	if (shown && off < len)
		snprintf(buf + off, len - off, ")");
}

int pat_push(struct pat_ranges *out, const struct pattern *p, long pos,
	     long n_kv, long lo, long hi)
{
	if (lo < 0)
		lo = 0;
	if (hi > n_kv)
		hi = n_kv;
	if (p->causal && !p->kind->sees_future && hi > pos + 1)
		hi = pos + 1;
	if (lo >= hi)
		return 0;
	if (out->n == out->cap) {
		size_t cap = out->cap ? 2 * out->cap : 16;
		struct pat_range *r = realloc(out->r, cap * sizeof *r);
		if (!r)
			return -1;
		out->r = r;
		out->cap = cap;
	}
	out->r[out->n].lo = (int32_t)lo;
	out->r[out->n].hi = (int32_t)hi;
	out->n++;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct pat_range *x = a, *y = b;
	return (x->lo > y->lo) - (x->lo < y->lo);
}

void pat_canonical(struct pat_ranges *out)
{
	size_t w = 0;
	int apart = 1, sorted = 1;

	for (size_t i = 1; i < out->n; i++) {
		apart &= out->r[i].lo > out->r[i - 1].hi;
		sorted &= out->r[i].lo >= out->r[i - 1].lo;
	}
	if (apart)
		return;
	/* ascending starts (adjacent blocks, most often) only need the merge */
	if (!sorted)
		qsort(out->r, out->n, sizeof *out->r, range_cmp);
	for (size_t i = 0; i < out->n; i++) {
		if (w && out->r[i].lo <= out->r[w - 1].hi) {
			if (out->r[i].hi > out->r[w - 1].hi)
				out->r[w - 1].hi = out->r[i].hi;
		} else {
			out->r[w++] = out->r[i];
		}
	}
	out->n = w;
}

static int long_cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

int pat_push_blocks(struct pat_ranges *out, const struct pattern *p,
		    long pos, long n_kv, long *blocks, size_t n, long b)
{
	size_t i = 0;

	qsort(blocks, n, sizeof *blocks, long_cmp);
	while (i < n) {
		size_t j = i + 1;
		while (j < n && blocks[j] <= blocks[j - 1] + 1)
			j++;
		if (pat_push(out, p, pos, n_kv, blocks[i] * b, (blocks[j - 1] + 1) * b))
			return -1;
		i = j;
	}
	return 0;
}

unsigned long long pat_hash(unsigned long long seed, unsigned long long a,
			    unsigned long long b, unsigned long long c)
{
	unsigned long long x = seed ^ 0x9e3779b97f4a7c15ULL;

	x = (x ^ a) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 29) ^ b) * 0x94d049bb133111ebULL;
	x = (x ^ (x >> 32) ^ c) * 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 31);
}

/* Appends formatted text at *off; sets *off past len on overflow. */
__attribute__((format(printf, 4, 5)))
static void put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	*off = w < 0 ? len : *off + (size_t)w;
}

static void put_list(char *buf, size_t len, size_t *off, const struct pat_list *l)
{
	put(buf, len, off, "[");
	for (size_t j = 0; j < l->n; j++)
		put(buf, len, off, "%s%lld", j ? ", " : "", l->v[j]);
	put(buf, len, off, "]");
}

static void put_spec(const struct pattern *p, char *buf, size_t len, size_t *off)
{
	const struct pat_kind *k = p->kind;

	if (k->composite) {
		put(buf, len, off, "%s: [", k->name);
		for (size_t c = 0; c < p->n_child; c++) {
			put(buf, len, off, "%s", c ? ", " : "");
			if (p->child[c].kind->n_params || p->child[c].kind->composite) {
				put(buf, len, off, "{");
				put_spec(&p->child[c], buf, len, off);
				put(buf, len, off, "}");
			} else {
				put_spec(&p->child[c], buf, len, off);
			}
		}
		put(buf, len, off, "]");
		return;
	}
	put(buf, len, off, "%s", k->name);
	if (!k->n_params)
		return;
	put(buf, len, off, ": {");
	for (int i = 0, first = 1; i < k->n_params; i++) {
		const union pat_value *v = &p->val[i];
		if (not_given(&k->params[i], v))
			continue;
		put(buf, len, off, "%s%s: ", first ? "" : ", ", k->params[i].name);
		first = 0;
		switch (k->params[i].type) {
		case PAT_INT:
			put(buf, len, off, "%lld", v->i);
			break;
		case PAT_BOOL:
			put(buf, len, off, "%s", v->i ? "true" : "false");
			break;
		case PAT_CHOICE:
			put(buf, len, off, "%s", k->params[i].choices[v->i]);
			break;
		case PAT_FLOAT: {
			char num[40];
			snprintf(num, sizeof num, "%.15g", v->f);
			if (strtod(num, NULL) != v->f)  /* shortest that reads back */
				snprintf(num, sizeof num, "%.17g", v->f);
			put(buf, len, off, "%s", num);
			break;
		}
		case PAT_INT_LIST:
			put_list(buf, len, off, &v->list);
			break;
		case PAT_ROWS:
			put(buf, len, off, "[");
			for (size_t r = 0; r < v->rows.n; r++) {
				put(buf, len, off, "%s", r ? ", " : "");
				put_list(buf, len, off, &v->rows.row[r]);
			}
			put(buf, len, off, "]");
			break;
		case PAT_FILE:
			put(buf, len, off, "'%s'", v->file.path ? v->file.path : "");
			break;
		case PAT_WORDS:         /* input kinds' types: no pattern has them */
		case PAT_PATH:
			break;
		}
	}
	put(buf, len, off, "}");
}

int pat_to_spec(const struct pattern *p, char *buf, size_t len)
{
	size_t off = 0;

	put_spec(p, buf, len, &off);
	return off < len ? 0 : -1;
}

/* A binary search over n: the rows a decoder keeps grow with n past the
 * bounded part of the pattern. */
long pat_longest_context(const struct pattern *p, double bytes_per_row, double budget)
{
	const long top = 1L << 30;
	long lo = 0, hi = top;

	if ((double)pat_kv_rows(p, top) * bytes_per_row <= budget)
		return -1;
	/* largest n with rows(n) within budget; rows grow with n past the
	 * bounded part (chunked-like cycles were caught above) */
	while (lo < hi) {
		long mid = lo + (hi - lo + 1) / 2;
		if ((double)pat_kv_rows(p, mid) * bytes_per_row <= budget)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

const char *pat_type_name(enum pat_type t)
{
	static const char *const names[] = {
		[PAT_INT] = "int", [PAT_FLOAT] = "real", [PAT_BOOL] = "bool",
		[PAT_INT_LIST] = "int list", [PAT_ROWS] = "rows", [PAT_FILE] = "file",
		[PAT_CHOICE] = "word", [PAT_WORDS] = "names", [PAT_PATH] = "file",
	};
	static_assert(sizeof names / sizeof *names == PAT_TYPE_COUNT, "names: one per enum pat_type");

	return t < PAT_TYPE_COUNT ? names[t] : "?";
}
