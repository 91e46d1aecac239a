/* batches.c - ragged batches, the lengths axis: sequences of their own
 * lengths run as one step (FlashAttention's varlen, a continuous-batching
 * step). A batch is a list of lengths, a mapping {lengths, new} whose new
 * tokens per sequence make a mixed step (1: a decode, more: a prefill
 * chunk), or a seeded distribution of lengths. Each batch is kept in
 * experiment.batches; the axis holds its index + 1 (0: a uniform batch). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment.h"
#include "parse.h"
#include "ytree.h"

#define MAX_SEQUENCES 4096
#define MAX_LENGTH (1L << 30)

const struct exp_batch *exp_batch_of(const struct experiment *x, const long long *v)
{
	long long k = v[EXP_LENGTHS];

	return k > 0 && (size_t)k <= x->n_batches ? &x->batches[k - 1] : NULL;
}

long exp_batch_new(const struct exp_batch *b, size_t i, const long long *v)
{
	long want = b->new_tokens[i];

	if (!want) {
		int f = exp_mode_of(v[EXP_MODE])->tokens;
		want = f < 0 ? b->len[i] : (long)v[f];
	}
	return want < b->len[i] ? want : b->len[i];
}

/* A list of whole numbers in [lo, hi] into a malloc'ed array (NULL
 * after an error). */
static int int_list(struct ctx *c, const struct ynode *n, const char *key, long lo, long hi,
		    long **out, size_t *count)
{
	long long v;

	if (n->type != YT_SEQ)
		return cfg_bad(c, n, "'%s' must be a list of token counts, not %s", key, yt_what(n));
	if (!n->n)
		return cfg_bad(c, n, "'%s' is empty", key);
	if (n->n > MAX_SEQUENCES)
		return cfg_bad(c, n, "'%s' has %zu sequences, more than %d", key, n->n, MAX_SEQUENCES);
	*out = calloc(n->n, sizeof **out);
	if (!*out)
		return err_set(c->e, "out of memory reading the experiment");
	for (size_t i = 0; i < n->n; i++) {
		if (cfg_parse_int(c, n->kid[i], key, lo, hi, &v)) {
			free(*out);
			*out = NULL;
			return -1;
		}
		(*out)[i] = (long)v;
	}
	*count = n->n;
	return 0;
}

/* splitmix64: the seeded stream of a distribution's draws. */
static unsigned long long mix(unsigned long long *s)
{
	unsigned long long z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double uniform01(unsigned long long *s)
{
	return ((double)(mix(s) >> 11) + 0.5) / 9007199254740992.0;
}

/* FNV-1a, 64 bits, of a batch's lengths and new tokens. */
static unsigned long long batch_hash(const struct exp_batch *b)
{
	unsigned long long h = 1469598103934665603ULL;

	for (long i = 0; i < b->n; i++) {
		unsigned long long v[2] = { (unsigned long long)b->len[i],
					    b->new_tokens ? (unsigned long long)b->new_tokens[i] : 0 };
		const unsigned char *p = (const unsigned char *)v;
		for (size_t k = 0; k < sizeof v; k++)
			h = (h ^ p[k]) * 1099511628211ULL;
	}
	return h;
}

/* text as b's label, or where it does not fit, name(N sequences #hash) of
 * all its lengths: two batches that differ never share a label. */
static void set_label(struct exp_batch *b, const char *name, const char *text)
{
	if (strlen(text) < sizeof b->label)
		snprintf(b->label, sizeof b->label, "%s", text);
	else
		snprintf(b->label, sizeof b->label, "%s(%ld sequences #%016llx)", name, b->n,
			 batch_hash(b));
}

/* {distribution: lognormal|uniform, count, median, sigma, min, max, seed}:
 * the lengths drawn, seeded (Box-Muller for the lognormal), clipped to
 * [min, max]. */
static int draw_lengths(struct ctx *c, const struct ynode *m, struct exp_batch *b)
{
	static const char *const dists[] = { "lognormal", "uniform", NULL };
	const struct ynode *d = yt_get(m, "distribution");
	long long count, lo = 64, hi = 131072, seed = 1;
	double median = 4096, sigma = 1.0;
	unsigned long long s;
	char text[256];
	int kind;

	if (!d || d->type != YT_SCALAR || (kind = cfg_value_index(dists, d->str)) < 0)
		return cfg_bad(c, d ? d : m, "'distribution' must be lognormal or uniform, not '%s'",
			       d && d->type == YT_SCALAR ? d->str : "");
	if (!yt_get(m, "count"))
		return cfg_bad(c, m, "a distribution of lengths needs 'count'");
	if (cfg_parse_int(c, yt_get(m, "count"), "count", 1, MAX_SEQUENCES, &count) ||
	    (yt_get(m, "min") && cfg_parse_int(c, yt_get(m, "min"), "min", 1, MAX_LENGTH, &lo)) ||
	    (yt_get(m, "max") && cfg_parse_int(c, yt_get(m, "max"), "max", lo, MAX_LENGTH, &hi)) ||
	    (yt_get(m, "seed") && cfg_parse_int(c, yt_get(m, "seed"), "seed", 0, 1LL << 62, &seed)) ||
	    (yt_get(m, "median") && cfg_parse_float(c, yt_get(m, "median"), "median", 1, (double)MAX_LENGTH, &median)) ||
	    (yt_get(m, "sigma") && cfg_parse_float(c, yt_get(m, "sigma"), "sigma", 0, 10, &sigma)))
		return -1;
	b->n = (long)count;
	b->len = calloc((size_t)count, sizeof *b->len);
	if (!b->len)
		return err_set(c->e, "out of memory reading the experiment");
	s = (unsigned long long)seed;
	for (long i = 0; i < b->n; i++) {
		double u = uniform01(&s), v = uniform01(&s), x;
		x = kind == 0 ? median * exp(sigma * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v))
			      : (double)lo + u * (double)(hi - lo + 1);
		x = floor(x + (kind == 0 ? 0.5 : 0.0));
		b->len[i] = x < (double)lo ? lo : x > (double)hi ? hi : (long)x;
	}
	if (kind == 0)
		snprintf(text, sizeof text, "lognormal(count=%lld median=%g sigma=%g min=%lld max=%lld seed=%lld)",
			 count, median, sigma, lo, hi, seed);
	else
		snprintf(text, sizeof text, "uniform(count=%lld min=%lld max=%lld seed=%lld)", count, lo, hi,
			 seed);
	set_label(b, dists[kind], text);
	return 0;
}

/* The label of an explicit batch: its lengths, and its new tokens when given. */
static int list_label(struct exp_batch *b, int with_new)
{
	size_t cap = 32 + (size_t)b->n * 44, at;
	char *text = malloc(cap);

	if (!text)
		return -1;
	at = (size_t)snprintf(text, cap, "lengths(");
	for (long i = 0; i < b->n; i++)
		at += (size_t)snprintf(text + at, cap - at, "%s%ld", i ? " " : "", b->len[i]);
	for (long i = 0; with_new && i < b->n; i++)
		at += (size_t)snprintf(text + at, cap - at, "%s%ld", i ? " " : " new ", b->new_tokens[i]);
	snprintf(text + at, cap - at, ")");
	set_label(b, "lengths", text);
	free(text);
	return 0;
}

/* 1 when a and b hold the same sequences (lengths and new tokens). */
static int same_batch(const struct exp_batch *a, const struct exp_batch *b)
{
	if (a->n != b->n)
		return 0;
	for (long i = 0; i < a->n; i++)
		if (a->len[i] != b->len[i] || a->new_tokens[i] != b->new_tokens[i])
			return 0;
	return 1;
}

/* One batch from node n. */
static int parse_batch(struct ctx *c, const struct ynode *n, struct exp_batch *b)
{
	static const char *const keys[] = { "lengths", "new", "distribution", "count", "median", "sigma",
					    "min", "max", "seed" };
	const struct ynode *nw;
	size_t count, nn;

	memset(b, 0, sizeof *b);
	if (n->type == YT_SEQ) {
		if (int_list(c, n, "lengths", 1, MAX_LENGTH, &b->len, &count))
			return -1;
		b->n = (long)count;
	} else if (n->type == YT_MAP) {
		if (cfg_only_keys(c, n, keys, sizeof keys / sizeof *keys, " in 'lengths'"))
			return -1;
		if (yt_get(n, "lengths") && yt_get(n, "distribution"))
			return cfg_bad(c, n, "give 'lengths' or 'distribution', not both");
		if (yt_get(n, "lengths")) {
			if (int_list(c, yt_get(n, "lengths"), "lengths", 1, MAX_LENGTH, &b->len, &count))
				return -1;
			b->n = (long)count;
		} else if (draw_lengths(c, n, b)) {
			return -1;
		}
	} else {
		return cfg_bad(c, n, "a ragged batch is a list of lengths or a mapping, not %s", yt_what(n));
	}
	b->new_tokens = calloc((size_t)b->n, sizeof *b->new_tokens);
	if (!b->new_tokens)
		return err_set(c->e, "out of memory reading the experiment");
	nw = n->type == YT_MAP ? yt_get(n, "new") : NULL;
	if (nw && nw->type == YT_SCALAR) {
		long long v;
		if (cfg_parse_int(c, nw, "new", 1, MAX_LENGTH, &v))
			return -1;
		for (long i = 0; i < b->n; i++)
			b->new_tokens[i] = (long)v;
	} else if (nw) {
		long *given;
		if (int_list(c, nw, "new", 1, MAX_LENGTH, &given, &nn))
			return -1;
		memcpy(b->new_tokens, given, (nn < (size_t)b->n ? nn : (size_t)b->n) * sizeof *given);
		free(given);
		if (nn != (size_t)b->n)
			return cfg_bad(c, nw, "'new' has %zu entries for %ld sequences", nn, b->n);
	}
	for (long i = 0; i < b->n; i++)
		if (b->new_tokens[i] > b->len[i])
			return cfg_bad(c, nw, "sequence %ld has %ld new tokens, more than its length %ld", i,
				       b->new_tokens[i], b->len[i]);
	if (!b->label[0] && list_label(b, nw != NULL))
		return err_set(c->e, "out of memory reading the experiment");
	return 0;
}

/* Appends a batch parsed from n to x and its index + 1 to the axis. */
static int add_batch(struct ctx *c, struct experiment *x, const struct ynode *n)
{
	struct exp_axis *a = &x->axis[EXP_LENGTHS];
	struct exp_batch *grown = realloc(x->batches, (x->n_batches + 1) * sizeof *grown);
	long long *v = realloc(a->v, (a->n + 1) * sizeof *v);

	if (grown)
		x->batches = grown;
	if (v)
		a->v = v;
	if (!grown || !v)
		return err_set(c->e, "out of memory reading the experiment");
	x->n_batches++;
	if (parse_batch(c, n, &x->batches[x->n_batches - 1]))
		return -1;
	for (size_t i = 0; i + 1 < x->n_batches; i++)
		if (same_batch(&x->batches[i], &x->batches[x->n_batches - 1]))
			return cfg_bad(c, n, "ragged batch '%s' is listed twice", x->batches[i].label);
	a->v[a->n++] = (long long)x->n_batches;
	return 0;
}

int cfg_set_lengths_axis(struct ctx *c, struct experiment *x, const struct ynode *val, int swept)
{
	if (!swept)
		return add_batch(c, x, val);
	for (size_t i = 0; i < val->n; i++) {
		if (val->kid[i]->type == YT_SCALAR)
			return cfg_bad(c, val->kid[i], "sweep 'lengths' takes a list of batches (each a list or a "
				       "mapping), not a number; one batch goes under shape");
		if (add_batch(c, x, val->kid[i]))
			return -1;
	}
	return 0;
}

/* A seq_len the file gives beside ragged batches must be each batch's
 * longest sequence (what the row reports), or it contradicts them. */
static int check_seq_len(struct ctx *c, const struct experiment *x)
{
	const struct exp_axis *n = &x->axis[EXP_SEQ_LEN];

	for (size_t i = 0; n->line && i < n->n; i++)
		for (size_t k = 0; k < x->n_batches; k++) {
			const struct exp_batch *b = &x->batches[k];
			long longest = 0;
			for (long s = 0; s < b->n; s++)
				longest = b->len[s] > longest ? b->len[s] : longest;
			if (n->v[i] != longest)
				return err_at(c->e, c->file, n->line, n->col,
					      "seq_len %lld contradicts ragged batch '%s', whose longest sequence is %ld; leave seq_len out of a ragged run",
					      n->v[i], b->label, longest);
		}
	return 0;
}

int cfg_check_batches(struct ctx *c, struct experiment *x)
{
	const struct exp_axis *a = &x->axis[EXP_LENGTHS], *m = &x->axis[EXP_MODE];
	double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
	long long kv = 0, d = 0;

	if (!x->n_batches)
		return 0;
	for (size_t i = 0; i < m->n; i++)
		if (!exp_mode_of(m->v[i])->cached)
			return err_at(c->e, c->file, a->line, a->col,
				      "a ragged batch (lengths) runs in mode decode or extend, not %s",
				      exp_mode_of(m->v[i])->name);
	if (check_seq_len(c, x))
		return -1;
	for (size_t i = 0; i < x->axis[EXP_KV_HEADS].n; i++)
		kv = x->axis[EXP_KV_HEADS].v[i] > kv ? x->axis[EXP_KV_HEADS].v[i] : kv;
	for (size_t i = 0; !kv && i < x->axis[EXP_HEADS].n; i++)
		kv = x->axis[EXP_HEADS].v[i] > kv ? x->axis[EXP_HEADS].v[i] : kv;
	for (size_t i = 0; i < x->axis[EXP_HEAD_DIM].n; i++)
		d = x->axis[EXP_HEAD_DIM].v[i] > d ? x->axis[EXP_HEAD_DIM].v[i] : d;
	for (size_t i = 0; i < x->n_batches; i++) {
		const struct exp_batch *b = &x->batches[i];
		double tokens = 0;
		for (long s = 0; s < b->n; s++)
			tokens += (double)b->len[s];
		/* K and V in f32 (the inputs), and the cache beside them */
		if (phys > 0 && tokens * (double)kv * (double)d * 4.0 * 4.0 > phys)
			return err_at(c->e, c->file, a->line, a->col,
				      "ragged batch '%s' holds %.0f tokens: their K/V need about %.1f GiB, more than this machine's %.1f GiB",
				      b->label, tokens, tokens * (double)kv * (double)d * 16.0 / 1073741824.0,
				      phys / 1073741824.0);
	}
	return 0;
}
