/* gguf_writer.h - GGUF files built byte by byte for the tests (a header,
 * metadata of every value type, tensor infos, the aligned data section),
 * so that each field a reader checks can be set to what a test needs. */
#ifndef SABENCH_GGUF_WRITER_H
#define SABENCH_GGUF_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct gbuf {
	uint8_t *p;
	size_t n, cap;
};

void gb_bytes(struct gbuf *b, const void *x, size_t n);
void gb_u32(struct gbuf *b, uint32_t v);
void gb_u64(struct gbuf *b, uint64_t v);
void gb_str(struct gbuf *b, const char *s);
/* A metadata entry: key, u32 type, then the caller writes the value. */
void gb_key(struct gbuf *b, const char *key, uint32_t type);
/* Pads b with zeros to a multiple of a. */
void gb_align(struct gbuf *b, size_t a);
void gb_free(struct gbuf *b);

/* A SentencePiece vocabulary of n pieces (three metadata entries): the
 * 256 byte tokens <0x00> .. <0xFF>, then t256, t257, ..., every score 0. */
void gw_byte_vocab(struct gbuf *kv, int n);

/* A tensor to write: its name, shape (ne[0] the row), ggml type and
 * bytes (NULL: zeros). */
struct gw_tensor {
	const char *name;
	int n_dims;
	int64_t ne[4];
	uint32_t type;
	const void *data;
	size_t bytes;
};

/* A whole file: the header (version, counts), the metadata entries
 * already written into kv (n_kv of them), the tensor infos and the data
 * aligned to 32. */
void gw_file(struct gbuf *out, uint32_t version, const struct gbuf *kv, uint64_t n_kv,
	     const struct gw_tensor *t, int n_t);

#endif
