/* gguf.c - reading a GGUF file (gguf.h). A cursor walks the mapping and
 * every read asks first whether the bytes are there; counts are checked
 * against the bytes left before anything is allocated for them, sizes
 * are multiplied with overflow checks, and a tensor's data must lie
 * whole inside the data section. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "tensor.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_KEY 65536              /* bytes of a key or a tensor name */

/* Bytes of one element of a fixed-size value type; 0 for string, array. */
static const int vtype_size[] = {
	[GG_U8] = 1, [GG_I8] = 1, [GG_U16] = 2, [GG_I16] = 2, [GG_U32] = 4,
	[GG_I32] = 4, [GG_F32] = 4, [GG_BOOL] = 1, [GG_STRING] = 0, [GG_ARRAY] = 0,
	[GG_U64] = 8, [GG_I64] = 8, [GG_F64] = 8,
};
_Static_assert(sizeof vtype_size / sizeof *vtype_size == GG_VTYPE_COUNT,
	       "vtype_size: one per enum gg_vtype");

struct cursor {
	const uint8_t *p;
	uint64_t at, size;
	const char *name;       /* the file, for messages */
	char *why;
	size_t len;
};

static int fail(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct cursor *c, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(c->why, c->len, "bad GGUF file '%s': %s", c->name, what);
	return -1;
}

/* 1 when n more bytes are there. */
static int have(const struct cursor *c, uint64_t n)
{
	return n <= c->size - c->at;
}

static int take(struct cursor *c, void *out, uint64_t n, const char *what)
{
	if (!have(c, n))
		return fail(c, "truncated in %s (at byte %llu of %llu)", what,
			    (unsigned long long)c->at, (unsigned long long)c->size);
	memcpy(out, c->p + c->at, n);
	c->at += n;
	return 0;
}

static int take_u32(struct cursor *c, uint32_t *v, const char *what)
{
	uint8_t b[4] = { 0 };

	if (take(c, b, 4, what))
		return -1;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

static int take_u64(struct cursor *c, uint64_t *v, const char *what)
{
	uint32_t lo, hi;

	if (!have(c, 8))
		return fail(c, "truncated in %s (at byte %llu of %llu)", what,
			    (unsigned long long)c->at, (unsigned long long)c->size);
	if (take_u32(c, &lo, what) || take_u32(c, &hi, what))
		return -1;
	*v = (uint64_t)lo | (uint64_t)hi << 32;
	return 0;
}

/* A string: u64 length, then its bytes (left in the mapping). */
static int take_str(struct cursor *c, struct gg_str *s, uint64_t max, const char *what)
{
	if (take_u64(c, &s->len, what))
		return -1;
	if (s->len > max)
		return fail(c, "%s is %llu bytes long, more than %llu", what,
			    (unsigned long long)s->len, (unsigned long long)max);
	if (!have(c, s->len))
		return fail(c, "truncated in %s (%llu bytes at byte %llu of %llu)", what,
			    (unsigned long long)s->len, (unsigned long long)c->at,
			    (unsigned long long)c->size);
	s->s = (const char *)c->p + c->at;
	c->at += s->len;
	return 0;
}

/* An array's elements: fixed-size ones stay in the mapping; strings get
 * an index of their places. */
static int take_array(struct cursor *c, struct gg_kv *kv, const char *key)
{
	uint32_t et;

	if (take_u32(c, &et, "an array's element type") || take_u64(c, &kv->v.arr.n, "an array's length"))
		return -1;
	if (et >= GG_VTYPE_COUNT || et == GG_ARRAY)
		return fail(c, "metadata '%s' is an array of type %u, which GGUF does not define%s", key, et,
			    et == GG_ARRAY ? " (arrays of arrays are not read)" : "");
	kv->v.arr.type = (enum gg_vtype)et;
	kv->v.arr.data = c->p + c->at;
	if (et != GG_STRING) {
		uint64_t bytes = kv->v.arr.n * (uint64_t)vtype_size[et];
		if (kv->v.arr.n > c->size || !have(c, bytes))
			return fail(c, "array '%s' of %llu elements runs past the end of the file", key,
				    (unsigned long long)kv->v.arr.n);
		c->at += bytes;
		return 0;
	}
	/* each string takes 8 bytes at least: a count past that is a lie */
	if (kv->v.arr.n > (c->size - c->at) / 8)
		return fail(c, "array '%s' of %llu strings runs past the end of the file", key,
			    (unsigned long long)kv->v.arr.n);
	kv->v.arr.strs = malloc((kv->v.arr.n ? kv->v.arr.n : 1) * sizeof *kv->v.arr.strs);
	if (!kv->v.arr.strs)
		return fail(c, "out of memory for array '%s'", key);
	for (uint64_t i = 0; i < kv->v.arr.n; i++)
		if (take_str(c, &kv->v.arr.strs[i], UINT64_MAX, "a string of an array"))
			return -1;
	return 0;
}

static int take_value(struct cursor *c, struct gg_kv *kv, const char *key)
{
	uint8_t b[8] = { 0 };
	int n = vtype_size[kv->type];

	if (kv->type == GG_STRING)
		return take_str(c, &kv->v.str, UINT64_MAX, "a string value");
	if (kv->type == GG_ARRAY)
		return take_array(c, kv, key);
	if (take(c, b, (uint64_t)n, "a metadata value"))
		return -1;
	for (int i = n - 1; i >= 0; i--)
		kv->v.u = kv->v.u << 8 | b[i];
	if (kv->type == GG_I8 || kv->type == GG_I16 || kv->type == GG_I32) {
		int shift = 64 - 8 * n;
		kv->v.i = (int64_t)(kv->v.u << shift) >> shift;     /* sign-extended */
	} else if (kv->type == GG_F32) {
		float f;
		uint32_t u = (uint32_t)kv->v.u;
		memcpy(&f, &u, sizeof f);
		kv->v.f = f;
	} else if (kv->type == GG_F64) {
		double f;
		memcpy(&f, &kv->v.u, sizeof f);
		kv->v.f = f;
	}
	return 0;
}

/* The key as a C string (keys hold no NUL in a sound file). */
static void key_text(const struct gg_str *k, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)(k->len < len ? k->len : len - 1), k->s);
}

static int take_metadata(struct gg_file *g, struct cursor *c)
{
	/* an entry takes 12 bytes at least: key length and value type */
	if (g->n_kv > (c->size - c->at) / 12)
		return fail(c, "it claims %llu metadata entries, more than the %llu bytes after its header can hold",
			    (unsigned long long)g->n_kv, (unsigned long long)(c->size - c->at));
	g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
	if (!g->kv)
		return fail(c, "out of memory for %llu metadata entries", (unsigned long long)g->n_kv);
	for (uint64_t i = 0; i < g->n_kv; i++) {
		struct gg_kv *kv = &g->kv[i];
		uint32_t type;
		char key[256];
		if (take_str(c, &kv->key, GGUF_MAX_KEY, "a metadata key") ||
		    take_u32(c, &type, "a metadata value type"))
			return -1;
		key_text(&kv->key, key, sizeof key);
		if (type >= GG_VTYPE_COUNT)
			return fail(c, "metadata '%s' has value type %u, which GGUF does not define", key, type);
		kv->type = (enum gg_vtype)type;
		if (take_value(c, kv, key))
			return -1;
		for (uint64_t j = 0; j < i; j++)
			if (g->kv[j].key.len == kv->key.len && !memcmp(g->kv[j].key.s, kv->key.s, kv->key.len))
				return fail(c, "metadata key '%s' appears twice", key);
	}
	return 0;
}

/* The tensor's bytes from its type and shape, with overflow checks. */
static int tensor_size(struct cursor *c, struct gg_tensor *t, const char *name)
{
	const char *why = NULL;
	uint64_t rows = 1, row;

	if (t->ne[0] <= 0)
		return fail(c, "tensor '%s' has a row of %lld values", name, (long long)t->ne[0]);
	row = gg_row_bytes(t->type, t->ne[0], &why);
	if (!row)
		return fail(c, "tensor '%s': %s", name, why);
	for (int d = 1; d < t->n_dims; d++) {
		if (t->ne[d] <= 0)
			return fail(c, "tensor '%s' has dimension %d of %lld", name, d, (long long)t->ne[d]);
		if (rows > UINT64_MAX / (uint64_t)t->ne[d])
			return fail(c, "tensor '%s''s size overflows", name);
		rows *= (uint64_t)t->ne[d];
	}
	if (rows > UINT64_MAX / row)
		return fail(c, "tensor '%s''s size overflows", name);
	t->bytes = rows * row;
	return 0;
}

static int take_tensor_infos(struct gg_file *g, struct cursor *c)
{
	/* an info takes 24 bytes at least: name length, n_dims, type, offset */
	if (g->n_tensors > (c->size - c->at) / 24)
		return fail(c, "it claims %llu tensors, more than the %llu bytes after its metadata can hold",
			    (unsigned long long)g->n_tensors, (unsigned long long)(c->size - c->at));
	g->t = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->t);
	if (!g->t)
		return fail(c, "out of memory for %llu tensors", (unsigned long long)g->n_tensors);
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		struct gg_tensor *t = &g->t[i];
		uint32_t nd;
		char name[256];
		if (take_str(c, &t->name, GGUF_MAX_KEY, "a tensor name") ||
		    take_u32(c, &nd, "a tensor's dimension count"))
			return -1;
		key_text(&t->name, name, sizeof name);
		if (nd < 1 || nd > GG_MAX_DIMS)
			return fail(c, "tensor '%s' has %u dimensions; GGUF allows 1 to %d", name, nd,
				    GG_MAX_DIMS);
		t->n_dims = (int)nd;
		for (int d = 0; d < GG_MAX_DIMS; d++)
			t->ne[d] = 1;
		for (uint32_t d = 0; d < nd; d++) {
			uint64_t v = 0;
			if (take_u64(c, &v, "a tensor's dimension"))
				return -1;
			if (v > (uint64_t)INT64_MAX)
				return fail(c, "tensor '%s' has dimension %u of %llu", name, d, (unsigned long long)v);
			t->ne[d] = (int64_t)v;
		}
		if (take_u32(c, &t->type, "a tensor's type") || take_u64(c, &t->offset, "a tensor's offset"))
			return -1;
		if (tensor_size(c, t, name))
			return -1;
		for (uint64_t j = 0; j < i; j++)
			if (g->t[j].name.len == t->name.len && !memcmp(g->t[j].name.s, t->name.s, t->name.len))
				return fail(c, "tensor '%s' appears twice", name);
	}
	return 0;
}

/* The data section: after the infos, at the next multiple of the
 * alignment; each tensor aligned and whole inside it. */
static int place_data(struct gg_file *g, struct cursor *c)
{
	int64_t a = GGUF_DEFAULT_ALIGNMENT;

	if (gg_get(g, "general.alignment")) {
		if (gg_get_int(g, "general.alignment", &a) || a < 1 || a > (1 << 24) || (a & (a - 1)))
			return fail(c, "general.alignment is not a power of two up to 2^24");
	}
	g->alignment = (uint64_t)a;
	g->data_at = (c->at + g->alignment - 1) / g->alignment * g->alignment;
	if (g->data_at > c->size && g->n_tensors)
		return fail(c, "truncated before its data section (at byte %llu of %llu)",
			    (unsigned long long)g->data_at, (unsigned long long)c->size);
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		struct gg_tensor *t = &g->t[i];
		char name[256];
		key_text(&t->name, name, sizeof name);
		if (t->offset % g->alignment)
			return fail(c, "tensor '%s' at offset %llu is not aligned to %llu", name,
				    (unsigned long long)t->offset, (unsigned long long)g->alignment);
		if (t->offset > c->size - g->data_at || t->bytes > c->size - g->data_at - t->offset)
			return fail(c, "tensor '%s' (%llu bytes at offset %llu) runs past the end of the file",
				    name, (unsigned long long)t->bytes, (unsigned long long)t->offset);
		t->data = c->p + g->data_at + t->offset;
	}
	return 0;
}

int gg_parse(struct gg_file *g, const void *buf, size_t size, const char *name, char *why,
	       size_t len)
{
	struct cursor c = { .p = buf, .size = size, .name = name, .why = why, .len = len };
	char magic[4];
	uint64_t n_kv, n_t;

	memset(g, 0, sizeof *g);
	snprintf(g->path, sizeof g->path, "%s", name);
	g->map = buf;
	g->size = size;
	if (take(&c, magic, 4, "the magic") || memcmp(magic, GGUF_MAGIC, 4))
		return fail(&c, "no GGUF magic (the file does not start with \"GGUF\")");
	if (take_u32(&c, &g->version, "the version"))
		return -1;
	if (g->version != 2 && g->version != 3)
		return fail(&c, "version %u; sabench reads versions 2 and 3", g->version);
	if (take_u64(&c, &n_t, "the tensor count") || take_u64(&c, &n_kv, "the metadata count"))
		return -1;
	g->n_tensors = n_t;
	g->n_kv = n_kv;
	if (take_metadata(g, &c) || take_tensor_infos(g, &c) || place_data(g, &c)) {
		gg_close(g);
		return -1;
	}
	return 0;
}

int gg_open(struct gg_file *g, const char *path, char *why, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	void *map;
	int rc;

	memset(g, 0, sizeof *g);
	if (fd < 0)
		return snprintf(why, len, "cannot open '%s': %s", path, strerror(errno)), -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return snprintf(why, len, "cannot read '%s': not a regular file", path), -1;
	}
	if (st.st_size == 0) {
		close(fd);
		return snprintf(why, len, "bad GGUF file '%s': it is empty", path), -1;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return snprintf(why, len, "cannot map '%s': %s", path, strerror(errno)), -1;
	rc = gg_parse(g, map, (size_t)st.st_size, path, why, len);
	if (rc) {
		munmap(map, (size_t)st.st_size);
		return -1;
	}
	g->mapped = 1;
	return 0;
}

void gg_close(struct gg_file *g)
{
	for (uint64_t i = 0; g->kv && i < g->n_kv; i++)
		if (g->kv[i].type == GG_ARRAY)
			free(g->kv[i].v.arr.strs);
	free(g->kv);
	free(g->t);
	if (g->mapped)
		munmap((void *)g->map, g->size);
	memset(g, 0, sizeof *g);
}

uint64_t gg_row_bytes(uint32_t type, int64_t n, const char **why)
{
	static char buf[96];
	int t = tensor_type_find(type);

	if (t < 0) {
		snprintf(buf, sizeof buf, "ggml type %u, which sabench does not read", type);
		*why = buf;
		return 0;
	}
	if (n % tensor_type_of((enum tensor_type)t)->block) {
		snprintf(buf, sizeof buf, "a row of %lld values is not whole %s blocks of %d", (long long)n,
			 tensor_type_of((enum tensor_type)t)->name, tensor_type_of((enum tensor_type)t)->block);
		*why = buf;
		return 0;
	}
	if ((uint64_t)n / (uint64_t)tensor_type_of((enum tensor_type)t)->block >
	    UINT64_MAX / (uint64_t)tensor_type_of((enum tensor_type)t)->block_bytes) {
		snprintf(buf, sizeof buf, "a row of %lld values overflows a size", (long long)n);
		*why = buf;
		return 0;
	}
	return tensor_row_bytes((enum tensor_type)t, n);
}

const struct gg_kv *gg_get(const struct gg_file *g, const char *key)
{
	size_t n = strlen(key);

	for (uint64_t i = 0; i < g->n_kv; i++)
		if (g->kv[i].key.len == n && !memcmp(g->kv[i].key.s, key, n))
			return &g->kv[i];
	return NULL;
}

int gg_get_int(const struct gg_file *g, const char *key, int64_t *out)
{
	const struct gg_kv *kv = gg_get(g, key);

	if (!kv)
		return -1;
	switch (kv->type) {
	case GG_U8: case GG_U16: case GG_U32: case GG_BOOL:
		*out = (int64_t)kv->v.u;
		return 0;
	case GG_U64:
		if (kv->v.u > (uint64_t)INT64_MAX)
			return -1;
		*out = (int64_t)kv->v.u;
		return 0;
	case GG_I8: case GG_I16: case GG_I32: case GG_I64:
		*out = kv->v.i;
		return 0;
	default:
		return -1;
	}
}

int gg_get_float(const struct gg_file *g, const char *key, double *out)
{
	const struct gg_kv *kv = gg_get(g, key);

	if (!kv || (kv->type != GG_F32 && kv->type != GG_F64))
		return -1;
	*out = kv->v.f;
	return 0;
}

int gg_get_string(const struct gg_file *g, const char *key, char *buf, size_t len)
{
	const struct gg_kv *kv = gg_get(g, key);

	if (!kv || kv->type != GG_STRING || kv->v.str.len >= len || memchr(kv->v.str.s, 0, kv->v.str.len))
		return -1;
	memcpy(buf, kv->v.str.s, kv->v.str.len);
	buf[kv->v.str.len] = 0;
	return 0;
}

const struct gg_tensor *gg_find_tensor(const struct gg_file *g, const char *name)
{
	size_t n = strlen(name);

	for (uint64_t i = 0; i < g->n_tensors; i++)
		if (g->t[i].name.len == n && !memcmp(g->t[i].name.s, name, n))
			return &g->t[i];
	return NULL;
}

double gg_arr_num(const struct gg_kv *kv, uint64_t i)
{
	const uint8_t *p = kv->v.arr.data + i * (uint64_t)vtype_size[kv->v.arr.type];
	uint64_t u = 0;

	for (int b = vtype_size[kv->v.arr.type] - 1; b >= 0; b--)
		u = u << 8 | p[b];
	switch (kv->v.arr.type) {
	case GG_I8: return (double)(int8_t)u;
	case GG_I16: return (double)(int16_t)u;
	case GG_I32: return (double)(int32_t)u;
	case GG_I64: return (double)(int64_t)u;
	case GG_F32: {
		float f;
		uint32_t w = (uint32_t)u;
		memcpy(&f, &w, sizeof f);
		return f;
	}
	case GG_F64: {
		double f;
		memcpy(&f, &u, sizeof f);
		return f;
	}
	default:
		return (double)u;
	}
}
