/* gguf.h - a GGUF file (ggml's docs/gguf.md) read in place: the header,
 * the typed metadata (arrays included), the tensor infos and the data
 * section, mapped read-only. Every count, length and offset is checked
 * against the file before it is used: a malformed file is refused with a
 * message naming the file and what is wrong, never read past its end. */
#ifndef SABENCH_GGUF_H
#define SABENCH_GGUF_H

#include <stddef.h>
#include <stdint.h>

/* Metadata value types, as the file numbers them. */
enum gg_vtype {
	GG_U8, GG_I8, GG_U16, GG_I16, GG_U32, GG_I32, GG_F32, GG_BOOL,
	GG_STRING, GG_ARRAY, GG_U64, GG_I64, GG_F64,
	GG_VTYPE_COUNT
};

/* A string inside the mapped file (not NUL-terminated). */
struct gg_str {
	const char *s;
	uint64_t len;
};

struct gg_kv {
	struct gg_str key;
	enum gg_vtype type;
	union {
		uint64_t u;             /* the unsigned integer types and bool */
		int64_t i;              /* the signed ones */
		double f;               /* f32, f64 */
		struct gg_str str;
		struct {
			enum gg_vtype type;   /* of the elements */
			uint64_t n;
			const uint8_t *data;    /* the elements, in the file */
			struct gg_str *strs;  /* string arrays: each element (owned) */
		} arr;
	} v;
};

#define GG_MAX_DIMS 4

struct gg_tensor {
	struct gg_str name;
	int n_dims;
	int64_t ne[GG_MAX_DIMS];      /* ne[0] varies fastest: the row length; 1 past n_dims */
	uint32_t type;                  /* ggml type id, as in the file */
	uint64_t offset;                /* from the start of the data section */
	const uint8_t *data;            /* in the mapping */
	uint64_t bytes;                 /* its size, from its type and shape */
};

struct gg_file {
	char path[4096];                /* for messages */
	const uint8_t *map;             /* the whole file (mmap'ed, or given) */
	size_t size;
	int mapped;                     /* 1: gg_close unmaps it */
	uint32_t version;
	uint64_t alignment;
	struct gg_kv *kv;
	uint64_t n_kv;
	struct gg_tensor *t;
	uint64_t n_tensors;
	uint64_t data_at;               /* where the data section starts */
};

/* Bytes a row of n values of ggml type `type` takes, or 0 with why for a
 * type sabench does not read or an n that is not whole blocks (tensor.c
 * says which types: one table). */
uint64_t gg_row_bytes(uint32_t type, int64_t n, const char **why);

/* Maps path read-only and parses it; 0, or -1 with why (room len)
 * naming the file and the problem. */
int gg_open(struct gg_file *g, const char *path, char *why, size_t len);

/* Parses size bytes at buf (not copied; they must outlive g) as a file
 * called name: what gg_open does after mapping, and the fuzz target's
 * entry. */
int gg_parse(struct gg_file *g, const void *buf, size_t size, const char *name, char *why,
	       size_t len);

void gg_close(struct gg_file *g);

/* The metadata entry called key, or NULL. */
const struct gg_kv *gg_get(const struct gg_file *g, const char *key);

/* An integer entry (any integer type) into *out: 0, or -1 when missing,
 * not an integer, or negative where unsigned is asked. */
int gg_get_int(const struct gg_file *g, const char *key, int64_t *out);

/* A float entry (f32 or f64) into *out: 0, or -1. */
int gg_get_float(const struct gg_file *g, const char *key, double *out);

/* A string entry as a NUL-terminated copy in buf (room len): 0, or -1. */
int gg_get_string(const struct gg_file *g, const char *key, char *buf, size_t len);

/* The tensor called name, or NULL. */
const struct gg_tensor *gg_find_tensor(const struct gg_file *g, const char *name);

/* Element i of a numeric array entry as a double. */
double gg_arr_num(const struct gg_kv *kv, uint64_t i);

#endif
