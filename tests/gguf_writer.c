/* gguf_writer.c - GGUF files built byte by byte for the tests
 * (gguf_writer.h), little-endian as the format is. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_writer.h"

void gb_bytes(struct gbuf *b, const void *x, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p);
	}
	if (x)
		memcpy(b->p + b->n, x, n);
	else
		memset(b->p + b->n, 0, n);
	b->n += n;
}

void gb_u32(struct gbuf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	gb_bytes(b, x, 4);
}

void gb_u64(struct gbuf *b, uint64_t v)
{
	gb_u32(b, (uint32_t)v);
	gb_u32(b, (uint32_t)(v >> 32));
}

void gb_str(struct gbuf *b, const char *s)
{
	gb_u64(b, strlen(s));
	gb_bytes(b, s, strlen(s));
}

void gb_key(struct gbuf *b, const char *key, uint32_t type)
{
	gb_str(b, key);
	gb_u32(b, type);
}

void gb_align(struct gbuf *b, size_t a)
{
	if (b->n % a)
		gb_bytes(b, NULL, a - b->n % a);
}

void gb_free(struct gbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

void gw_file(struct gbuf *out, uint32_t version, const struct gbuf *kv, uint64_t n_kv,
	     const struct gw_tensor *t, int n_t)
{
	uint64_t off = 0;

	gb_bytes(out, "GGUF", 4);
	gb_u32(out, version);
	gb_u64(out, (uint64_t)n_t);
	gb_u64(out, n_kv);
	if (kv && kv->n)
		gb_bytes(out, kv->p, kv->n);
	for (int i = 0; i < n_t; i++) {
		gb_str(out, t[i].name);
		gb_u32(out, (uint32_t)t[i].n_dims);
		for (int d = 0; d < t[i].n_dims; d++)
			gb_u64(out, (uint64_t)t[i].ne[d]);
		gb_u32(out, t[i].type);
		gb_u64(out, off);
		off += (t[i].bytes + 31) / 32 * 32;
	}
	gb_align(out, 32);
	for (int i = 0; i < n_t; i++) {
		gb_bytes(out, t[i].data, t[i].bytes);
		gb_align(out, 32);
	}
}

void gw_byte_vocab(struct gbuf *kv, int n)
{
	char tok[16];
	float zero = 0;

	gb_key(kv, "tokenizer.ggml.model", 8);
	gb_str(kv, "llama");
	gb_key(kv, "tokenizer.ggml.tokens", 9);
	gb_u32(kv, 8);
	gb_u64(kv, (uint64_t)n);
	for (int i = 0; i < n; i++) {
		snprintf(tok, sizeof tok, i < 256 ? "<0x%02X>" : "t%d", i);
		gb_str(kv, tok);
	}
	gb_key(kv, "tokenizer.ggml.scores", 9);
	gb_u32(kv, 6);
	gb_u64(kv, (uint64_t)n);
	for (int i = 0; i < n; i++)
		gb_bytes(kv, &zero, 4);
}
