/* tokenizer.c - SentencePiece BPE with byte fallback (tokenizer.h),
 * written from llama.cpp's llm_tokenizer_spm: the text's characters are
 * symbols in a list; every adjacent pair whose joined text is a token
 * goes into a queue by that token's score (ties: the left one first);
 * the best pair is merged while it is still what was queued, and the
 * new neighbours queued; each symbol left is its token, or its bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

static uint64_t hash_of(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

int32_t tok_find(const struct tokenizer *t, const char *s, size_t n)
{
	for (uint64_t i = hash_of(s, n) & (t->nslot - 1); t->slot[i]; i = (i + 1) & (t->nslot - 1)) {
		const struct gg_str *p = &t->piece[t->slot[i] - 1];
		if (p->len == n && !memcmp(p->s, s, n))
			return (int32_t)(t->slot[i] - 1);
	}
	return -1;
}

static float score_of(const struct tokenizer *t, int32_t id)
{
	return (float)gg_arr_num(t->scores, (uint64_t)id);
}

/* An id entry of g, or -1. */
static int32_t id_of(const struct gg_file *g, const char *key, uint64_t n)
{
	int64_t v;

	return gg_get_int(g, key, &v) || v < 0 || (uint64_t)v >= n ? -1 : (int32_t)v;
}

int tok_load(struct tokenizer *t, const struct gg_file *g, char *why, size_t len)
{
	const struct gg_kv *toks = gg_get(g, "tokenizer.ggml.tokens");
	char model[64] = "";
	int64_t flag;

	memset(t, 0, sizeof *t);
	if (gg_get_string(g, "tokenizer.ggml.model", model, sizeof model) || strcmp(model, "llama"))
		return snprintf(why, len, "'%s' has tokenizer model '%s'; sabench reads SentencePiece's (\"llama\")",
				g->path, model), -1;
	if (!toks || toks->type != GG_ARRAY || toks->v.arr.type != GG_STRING || !toks->v.arr.n ||
	    toks->v.arr.n > (1u << 30))
		return snprintf(why, len, "'%s' has no tokenizer.ggml.tokens (an array of strings)", g->path), -1;
	t->scores = gg_get(g, "tokenizer.ggml.scores");
	if (!t->scores || t->scores->type != GG_ARRAY || t->scores->v.arr.type != GG_F32 ||
	    t->scores->v.arr.n != toks->v.arr.n)
		return snprintf(why, len, "'%s' has no tokenizer.ggml.scores of %llu f32 values", g->path,
				(unsigned long long)toks->v.arr.n), -1;
	t->n = toks->v.arr.n;
	t->piece = toks->v.arr.strs;
	for (t->nslot = 64; t->nslot < 2 * t->n + 2; t->nslot *= 2)
		;
	t->slot = calloc(t->nslot, sizeof *t->slot);
	if (!t->slot)
		return snprintf(why, len, "out of memory for the tokenizer of '%s'", g->path), -1;
	for (uint64_t id = 0; id < t->n; id++) {
		uint64_t i = hash_of(t->piece[id].s, t->piece[id].len) & (t->nslot - 1);
		if (tok_find(t, t->piece[id].s, t->piece[id].len) >= 0)
			continue;               /* a repeated text: its first id serves */
		while (t->slot[i])
			i = (i + 1) & (t->nslot - 1);
		t->slot[i] = (uint32_t)id + 1;
	}
	for (int b = 0; b < 256; b++) {
		char name[8];
		snprintf(name, sizeof name, "<0x%02X>", b);
		t->byte_token[b] = tok_find(t, name, 6);
	}
	t->bos = id_of(g, "tokenizer.ggml.bos_token_id", t->n);
	t->eos = id_of(g, "tokenizer.ggml.eos_token_id", t->n);
	t->add_bos = t->bos >= 0 && (gg_get_int(g, "tokenizer.ggml.add_bos_token", &flag) || flag);
	t->add_space_prefix = !gg_get_int(g, "tokenizer.ggml.add_space_prefix", &flag) && flag;
	return 0;
}

void tok_free(struct tokenizer *t)
{
	free(t->slot);
	memset(t, 0, sizeof *t);
}

size_t tok_utf8_bad(const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;

	for (size_t i = 0; i < n;) {
		int len = s[i] < 0x80 ? 1 : (s[i] >> 5) == 6 ? 2 : (s[i] >> 4) == 14 ? 3 : (s[i] >> 3) == 30 ? 4 : 0;
		if (!len || i + (size_t)len > n || (s[i] >= 0xf5) || (len == 2 && s[i] < 0xc2))
			return i;
		for (int k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		if ((len == 3 && ((s[i] == 0xe0 && s[i + 1] < 0xa0) || (s[i] == 0xed && s[i + 1] >= 0xa0))) ||
		    (len == 4 && ((s[i] == 0xf0 && s[i + 1] < 0x90) || (s[i] == 0xf4 && s[i + 1] >= 0x90))))
			return i;               /* overlong, a surrogate, past U+10FFFF */
		i += (size_t)len;
	}
	return n;
}

/* ---- the merge ---- */

struct symbol {
	size_t at, n;                   /* its text in the escaped string */
	long prev, next;                /* neighbours in the list, -1 at the ends */
};

struct bigram {
	long left, right;
	float score;
	size_t n;                       /* its text's length when queued */
};

struct queue {
	struct bigram *b;
	size_t n, cap;
};

/* 1 when a comes out of the queue before b. */
static int before(const struct bigram *a, const struct bigram *b)
{
	return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int push(struct queue *q, struct bigram x)
{
	size_t i;

	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 256;
		struct bigram *b = realloc(q->b, cap * sizeof *b);
		if (!b)
			return -1;
		q->b = b;
		q->cap = cap;
	}
	for (i = q->n++; i > 0 && before(&x, &q->b[(i - 1) / 2]); i = (i - 1) / 2)
		q->b[i] = q->b[(i - 1) / 2];
	q->b[i] = x;
	return 0;
}

static struct bigram pop(struct queue *q)
{
	struct bigram top = q->b[0], last = q->b[--q->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && before(&q->b[c + 1], &q->b[c]))
			c++;
		if (!before(&q->b[c], &last))
			break;
		q->b[i] = q->b[c];
		i = c;
	}
	if (q->n)
		q->b[i] = last;
	return top;
}

struct work {
	const struct tokenizer *t;
	char *s;                        /* the escaped text */
	struct symbol *sym;
	struct queue q;
};

/* Queues the pair (left, right) when their joined text is a token. */
static int add_bigram(struct work *w, long left, long right)
{
	const struct symbol *a, *b;
	int32_t id;

	if (left < 0 || right < 0)
		return 0;
	a = &w->sym[left];
	b = &w->sym[right];
	id = tok_find(w->t, w->s + a->at, a->n + b->n);
	if (id < 0)
		return 0;
	return push(&w->q, (struct bigram){ left, right, score_of(w->t, id), a->n + b->n });
}

/* Appends id to *ids (room *cap); 0, or -1. */
static int emit(int32_t **ids, size_t *n, size_t *cap, int32_t id)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 256;
		int32_t *x = realloc(*ids, c * sizeof *x);
		if (!x)
			return -1;
		*ids = x;
		*cap = c;
	}
	(*ids)[(*n)++] = id;
	return 0;
}

/* The text with a space prefix when asked and every ' ' as U+2581. */
static char *escaped(const struct tokenizer *t, const char *text, size_t n, size_t *out)
{
	char *s = malloc(3 * n + 4);
	size_t k = 0;

	if (!s)
		return NULL;
	for (size_t i = 0; i <= n; i++) {
		char c = i == 0 ? (t->add_space_prefix ? ' ' : 0) : text[i - 1];
		if (i == 0 && !c)
			continue;
		if (c == ' ') {
			memcpy(s + k, "\xe2\x96\x81", 3);
			k += 3;
		} else {
			s[k++] = c;
		}
	}
	*out = k;
	return s;
}

int tok_encode(const struct tokenizer *t, const char *text, size_t n, int32_t **ids, size_t *count,
	       char *why, size_t len)
{
	struct work w = { .t = t };
	size_t bad = tok_utf8_bad(text, n), sn = 0, nsym = 0, cap = 0;
	int rc = 0;

	*ids = NULL;
	*count = 0;
	if (bad < n)
		return snprintf(why, len, "not UTF-8 at byte %zu", bad), -1;
	if (t->add_bos && emit(ids, count, &cap, t->bos))
		return snprintf(why, len, "out of memory tokenizing"), -1;
	w.s = escaped(t, text, n, &sn);
	w.sym = malloc((sn + 1) * sizeof *w.sym);
	if (!w.s || !w.sym) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < sn; nsym++) {        /* a symbol a character */
		unsigned char c = (unsigned char)w.s[i];
		size_t l = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		w.sym[nsym] = (struct symbol){ i, l, (long)nsym - 1, i + l < sn ? (long)nsym + 1 : -1 };
		i += l;
	}
	for (size_t i = 1; i < nsym && !rc; i++)
		rc = add_bigram(&w, (long)i - 1, (long)i);
	while (!rc && w.q.n) {
		struct bigram b = pop(&w.q);
		struct symbol *l = &w.sym[b.left], *r = &w.sym[b.right];
		if (!l->n || !r->n || l->n + r->n != b.n)
			continue;               /* one of them merged since */
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			w.sym[r->next].prev = b.left;
		rc = add_bigram(&w, l->prev, b.left) || add_bigram(&w, b.left, l->next);
	}
	for (long i = nsym ? 0 : -1; !rc && i >= 0; i = w.sym[i].next) {
		const struct symbol *s = &w.sym[i];
		int32_t id = tok_find(t, w.s + s->at, s->n);
		if (id >= 0) {
			rc = emit(ids, count, &cap, id);
			continue;
		}
		for (size_t k = 0; k < s->n && !rc; k++) {      /* byte fallback */
			int32_t b = t->byte_token[(unsigned char)w.s[s->at + k]];
			if (b < 0) {
				snprintf(why, len, "the text holds a character no token covers and no <0x%02X> byte token",
					 (unsigned char)w.s[s->at + k]);
				rc = -2;
				break;
			}
			rc = emit(ids, count, &cap, b);
		}
	}
out:
	if (rc == -1)
		snprintf(why, len, "out of memory tokenizing");
	if (rc) {
		free(*ids);
		*ids = NULL;
		*count = 0;
	}
	free(w.s);
	free(w.sym);
	free(w.q.b);
	return rc ? -1 : 0;
}
