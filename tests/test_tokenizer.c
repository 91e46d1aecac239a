/* test_tokenizer.c - the GGUF tokenizer on a small vocabulary written
 * here, whose ids are checked by hand: merges by score (ties to the
 * left), words, digits, spaces, newlines, byte fallback for a character
 * no piece holds, BOS, and the refusals (a text that is not UTF-8, a
 * tokenizer model sabench does not run). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/gguf.h"
#include "../model/tokenizer.h"
#include "gguf_writer.h"

#define SP "\xe2\x96\x81"               /* U+2581, SentencePiece's space */

/* The pieces after the 4 specials and the 256 byte tokens, with their
 * scores; ids from 260 on. */
static const struct { const char *piece; float score; } pieces[] = {
	{ SP, -1.0f },          /* 260 */
	{ "he", -5.0f },        /* 261 */
	{ "ll", -3.0f },        /* 262 */
	{ "lo", -4.0f },        /* 263 */
	{ "llo", -2.5f },       /* 264 */
	{ "hello", -1.0f },     /* 265 */
	{ SP "w", -3.5f },      /* 266 */
	{ "or", -3.2f },        /* 267 */
	{ "ld", -3.3f },        /* 268 */
	{ "orld", -2.0f },      /* 269 */
	{ "world", -1.2f },     /* 270 */
	{ SP "world", -0.8f },  /* 271 */
	{ "1", -2.0f },         /* 272 */
	{ "2", -2.0f },         /* 273 */
	{ "12", -1.0f },        /* 274 */
	{ "\n", -1.0f },        /* 275 */
	{ "aa", -1.0f },        /* 276 */
	{ "h", -9.0f },         /* 277 */
	{ "e", -9.0f },         /* 278 */
	{ "l", -9.0f },         /* 279 */
	{ "o", -9.0f },         /* 280 */
	{ "w", -9.0f },         /* 281 */
	{ "r", -9.0f },         /* 282 */
	{ "d", -9.0f },         /* 283 */
};
enum { BOS = 2, BYTE0 = 4, SPACE = 260, HELLO = 265, SP_W = 266, SP_WORLD = 271, TWELVE = 274, NEWLINE = 275,
       AA = 276, O = 280 };
#define NP ((int)(sizeof pieces / sizeof *pieces))

/* A GGUF holding only a tokenizer of model `model`. */
static void vocab_file(struct gbuf *f, const char *model, int add_bos)
{
	struct gbuf kv = { 0 };
	char name[8];
	float zero = 0.0f;
	int n = 4 + 256 + NP;
	uint8_t flag = (uint8_t)add_bos;

	gb_key(&kv, "tokenizer.ggml.model", 8);
	gb_str(&kv, model);
	gb_key(&kv, "tokenizer.ggml.tokens", 9);
	gb_u32(&kv, 8);
	gb_u64(&kv, (uint64_t)n);
	gb_str(&kv, "<pad>");
	gb_str(&kv, "<eos>");
	gb_str(&kv, "<bos>");
	gb_str(&kv, "<unk>");
	for (int b = 0; b < 256; b++) {
		snprintf(name, sizeof name, "<0x%02X>", b);
		gb_str(&kv, name);
	}
	for (int i = 0; i < NP; i++)
		gb_str(&kv, pieces[i].piece);
	gb_key(&kv, "tokenizer.ggml.scores", 9);
	gb_u32(&kv, 6);
	gb_u64(&kv, (uint64_t)n);
	for (int i = 0; i < 260; i++)
		gb_bytes(&kv, &zero, 4);
	for (int i = 0; i < NP; i++)
		gb_bytes(&kv, &pieces[i].score, 4);
	gb_key(&kv, "tokenizer.ggml.bos_token_id", 4);
	gb_u32(&kv, BOS);
	gb_key(&kv, "tokenizer.ggml.add_bos_token", 7);
	gb_bytes(&kv, &flag, 1);
	gw_file(f, 3, &kv, 5, NULL, 0);
	gb_free(&kv);
}

static void load(struct gg_file *g, struct tokenizer *t, struct gbuf *f, int add_bos)
{
	char why[512];

	vocab_file(f, "llama", add_bos);
	cr_assert_eq(gg_parse(g, f->p, f->n, "vocab.gguf", why, sizeof why), 0, "%s", why);
	cr_assert_eq(tok_load(t, g, why, sizeof why), 0, "%s", why);
}

static void expect(const struct tokenizer *t, const char *text, const int32_t *want, size_t n)
{
	int32_t *ids;
	size_t count;
	char why[256];

	cr_assert_eq(tok_encode(t, text, strlen(text), &ids, &count, why, sizeof why), 0, "%s", why);
	cr_assert_eq(count, n, "'%s': %zu tokens, not %zu", text, count, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(ids[i], want[i], "'%s': token %zu is %d, not %d", text, i, ids[i], want[i]);
	free(ids);
}

Test(tokenizer, ids_by_hand)
{
	struct gbuf f = { 0 };
	struct gg_file g;
	struct tokenizer t;

	load(&g, &t, &f, 1);
	/* ll (-3) first, then llo (-2.5), he (-5), hello (-1); or (-3.2), ld
	 * (-3.3), orld, world (-1.2) before ▁w (-3.5), then ▁world */
	expect(&t, "hello world", (int32_t[]){ BOS, HELLO, SP_WORLD }, 3);
	/* 12 is a piece, ▁ alone one, 3 none: its byte */
	expect(&t, "12 3", (int32_t[]){ BOS, TWELVE, SPACE, BYTE0 + '3' }, 4);
	/* a newline piece between two bytes */
	expect(&t, "a\nb", (int32_t[]){ BOS, BYTE0 + 'a', NEWLINE, BYTE0 + 'b' }, 4);
	/* two spaces: no ▁▁ piece, so ▁ and then ▁w */
	expect(&t, "o  w", (int32_t[]){ BOS, O, SPACE, SP_W }, 4);
	expect(&t, "o w", (int32_t[]){ BOS, O, SP_W }, 3);
	/* é (c3 a9) through byte fallback */
	expect(&t, "\xc3\xa9", (int32_t[]){ BOS, BYTE0 + 0xc3, BYTE0 + 0xa9 }, 3);
	/* aaa: both pairs score alike, the left one merges */
	expect(&t, "aaa", (int32_t[]){ BOS, AA, BYTE0 + 'a' }, 3);
	/* the empty text is BOS alone */
	expect(&t, "", (int32_t[]){ BOS }, 1);
	tok_free(&t);
	gg_close(&g);
	gb_free(&f);
	/* without add_bos */
	memset(&f, 0, sizeof f);
	load(&g, &t, &f, 0);
	expect(&t, "hello", (int32_t[]){ HELLO }, 1);
	tok_free(&t);
	gg_close(&g);
	gb_free(&f);
}

Test(tokenizer, refusals)
{
	struct gbuf f = { 0 };
	struct gg_file g;
	struct tokenizer t;
	int32_t *ids;
	size_t n;
	char why[512];

	load(&g, &t, &f, 1);
	cr_assert_eq(tok_encode(&t, "ok \xff no", 7, &ids, &n, why, sizeof why), -1);
	cr_assert_str_eq(why, "not UTF-8 at byte 3");
	cr_assert_eq(tok_encode(&t, "\xed\xa0\x80", 3, &ids, &n, why, sizeof why), -1, "a surrogate");
	cr_assert_eq(tok_encode(&t, "\xc0\xaf", 2, &ids, &n, why, sizeof why), -1, "overlong");
	tok_free(&t);
	gg_close(&g);
	gb_free(&f);
	memset(&f, 0, sizeof f);
	vocab_file(&f, "gpt2", 1);
	cr_assert_eq(gg_parse(&g, f.p, f.n, "bpe.gguf", why, sizeof why), 0);
	cr_assert_eq(tok_load(&t, &g, why, sizeof why), -1);
	cr_assert_str_eq(why, "'bpe.gguf' has tokenizer model 'gpt2'; sabench reads SentencePiece's (\"llama\")");
	gg_close(&g);
	gb_free(&f);
}
