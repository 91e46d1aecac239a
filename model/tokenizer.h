/* tokenizer.h - the tokenizer a GGUF file carries (tokenizer.ggml.*):
 * SentencePiece's BPE as llama.cpp runs it for tokenizer model "llama"
 * (spaces as U+2581, the highest-scoring pair of adjacent pieces merged
 * first, ties to the left; a character no piece holds written as its
 * UTF-8 bytes' <0xXX> tokens), BOS added when the file says so. */
#ifndef SABENCH_TOKENIZER_H
#define SABENCH_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

struct tokenizer {
	uint64_t n;                     /* vocabulary */
	const struct gg_str *piece;   /* each token's text, in the file */
	const struct gg_kv *scores;   /* tokenizer.ggml.scores (f32 array) */
	uint32_t *slot;                 /* open addressing: id + 1, 0 empty */
	uint64_t nslot;                 /* a power of two above 2 n */
	int32_t byte_token[256];        /* <0xXX>, or -1 */
	int32_t bos, eos;               /* ids, or -1 */
	int add_bos;                    /* BOS first (tokenizer.ggml.add_bos_token) */
	int add_space_prefix;           /* a space before the text */
};

/* Reads g's tokenizer: 0, or -1 with why (a model other than "llama",
 * tokens or scores missing or of another length). */
int tok_load(struct tokenizer *t, const struct gg_file *g, char *why, size_t len);

void tok_free(struct tokenizer *t);

/* The id of the token whose text is s[0, n), or -1. */
int32_t tok_find(const struct tokenizer *t, const char *s, size_t n);

/* Token ids of text[0, n) into *ids (malloc'ed, *count of them), BOS
 * first when the tokenizer adds it: 0, or -1 with why (text not UTF-8,
 * with the byte offset; out of memory). */
int tok_encode(const struct tokenizer *t, const char *text, size_t n, int32_t **ids, size_t *count,
	       char *why, size_t len);

/* Offset of the first byte of text[0, n) that breaks UTF-8, or n. */
size_t tok_utf8_bad(const char *text, size_t n);

#endif
