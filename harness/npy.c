/* npy.c - .npy files. Writing: version 1.0, magic, header length, a
 * Python dict literal padded with spaces so the data starts on a 64-byte
 * boundary, then the little-endian data. Reading: the file is mapped, its
 * header parsed and checked against the file's size before any element
 * is touched. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kernels/kvcache.h"
#include "npy.h"

int npy_write(const char *path, const char *descr, const size_t *shape,
	      int ndim, const void *data, size_t elem_size, struct err *e)
{
	char dict[512];
	size_t len = 0, count = 1, total;
	unsigned char pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0 };
	FILE *f;

	len = (size_t)snprintf(dict, sizeof dict,
			       "{'descr': '%s', 'fortran_order': False, 'shape': (",
			       descr);
	for (int i = 0; i < ndim; i++) {
		len += (size_t)snprintf(dict + len, sizeof dict - len, "%zu%s",
					shape[i], ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
		count *= shape[i];
	}
	len += (size_t)snprintf(dict + len, sizeof dict - len, "), }");
	total = 10 + len + 1;
	while (total % 64)
		total++, len++;
	memset(dict + strlen(dict), ' ', len - strlen(dict));
	dict[len] = '\n';
	len++;
	pre[8] = (unsigned char)(len & 0xff);
	pre[9] = (unsigned char)(len >> 8);
	f = fopen(path, "wb");
	if (!f)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	fwrite(pre, 1, sizeof pre, f);
	fwrite(dict, 1, len, f);
	if (count)
		fwrite(data, elem_size, count, f);
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

/* ---- reading ---- */

/* The value of 'key' in the header dict: a pointer just past "'key':"
 * and its blanks, or NULL. */
static const char *dict_value(const char *dict, const char *key)
{
	char pat[32];
	const char *at;

	snprintf(pat, sizeof pat, "'%s'", key);
	at = strstr(dict, pat);
	if (!at) {
		snprintf(pat, sizeof pat, "\"%s\"", key);
		at = strstr(dict, pat);
	}
	if (!at)
		return NULL;
	at += strlen(pat);
	while (*at == ' ')
		at++;
	if (*at++ != ':')
		return NULL;
	while (*at == ' ')
		at++;
	return at;
}

/* Parses "'<f4'" into a (kind, elem, descr); -1 with e when unsupported. */
static int parse_descr(const char *v, struct npy_array *a, const char *path,
		       enum npy_want want, struct err *e)
{
	static const char *const takes[] = {
		[NPY_WANT_FLOAT] = "float32 or float16", [NPY_WANT_INT] = "int64 or int32",
		[NPY_WANT_ANY] = "float32, float16, int64 or int32",
	};
	char q = *v, d[16];
	size_t n = 0;

	if (q != '\'' && q != '"')
		return err_set(e, "bad .npy header in '%s': 'descr' is not a string", path);
	for (v++; *v && *v != q && n + 1 < sizeof d; v++)
		d[n++] = *v;
	d[n] = 0;
	snprintf(a->descr, sizeof a->descr, "%s", d);
	if ((want & NPY_WANT_FLOAT && (!strcmp(d, "<f4") || !strcmp(d, "<f2"))) ||
	    (want & NPY_WANT_INT && (!strcmp(d, "<i4") || !strcmp(d, "<i8")))) {
		a->kind = d[1];
		a->elem = d[2] - '0';
		return 0;
	}
	return err_set(e, "unsupported dtype '%s' in '%s'; use %s (little-endian)", d, path,
		       takes[want]);
}

/* Parses "(2, 3)" into the shape. */
static int parse_shape(const char *v, struct npy_array *a, const char *path,
		       struct err *e)
{
	if (*v++ != '(')
		return err_set(e, "bad .npy header in '%s': 'shape' is not a tuple", path);
	a->ndim = 0;
	a->count = 1;
	for (;;) {
		char *end;
		unsigned long long x;
		while (*v == ' ')
			v++;
		if (*v == ')')
			break;
		if (*v < '0' || *v > '9')
			return err_set(e, "bad .npy header in '%s': 'shape' holds '%c'", path, *v);
		x = strtoull(v, &end, 10);
		if (a->ndim == NPY_MAX_DIMS || x > (1ULL << 40))
			return err_set(e, "bad .npy header in '%s': shape too large", path);
		a->shape[a->ndim++] = (size_t)x;
		if (x && a->count > ((size_t)1 << 50) / x)
			return err_set(e, "bad .npy header in '%s': shape too large", path);
		a->count *= (size_t)x;
		v = end;
		while (*v == ' ')
			v++;
		if (*v == ',')
			v++;
	}
	return 0;
}

/* Times key appears as a dict key ('key' or "key") in dict. */
static int key_count(const char *dict, const char *key)
{
	char pat[2][32];
	int n = 0;

	snprintf(pat[0], sizeof pat[0], "'%s'", key);
	snprintf(pat[1], sizeof pat[1], "\"%s\"", key);
	for (int k = 0; k < 2; k++)
		for (const char *at = strstr(dict, pat[k]); at; at = strstr(at + 1, pat[k]))
			n++;
	return n;
}

static int parse_header(const char *dict, struct npy_array *a, const char *path,
			enum npy_want want, struct err *e)
{
	static const char *const keys[] = { "descr", "fortran_order", "shape" };
	const char *descr = dict_value(dict, "descr");
	const char *order = dict_value(dict, "fortran_order");
	const char *shape = dict_value(dict, "shape");

	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
		if (key_count(dict, keys[k]) > 1)
			return err_set(e, "bad .npy header in '%s': '%s' is given twice", path, keys[k]);
	if (!descr || !order || !shape)
		return err_set(e, "bad .npy header in '%s': it needs 'descr', 'fortran_order' and 'shape'",
			       path);
	if (parse_descr(descr, a, path, want, e))
		return -1;
	if (!strncmp(order, "True", 4))
		return err_set(e, "'%s' is in Fortran order; save it in C order (numpy.ascontiguousarray)",
			       path);
	if (strncmp(order, "False", 5))
		return err_set(e, "bad .npy header in '%s': 'fortran_order' is neither True nor False",
			       path);
	return parse_shape(shape, a, path, e);
}

/* Magic, version and header length; *data_at is where the data starts. */
static int parse_preamble(const unsigned char *b, size_t len, size_t *hdr_at,
			  size_t *hdr_len, const char *path, struct err *e)
{
	static const unsigned char magic[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };

	if (len < 10 || memcmp(b, magic, sizeof magic))
		return err_set(e, "not an .npy file: '%s' (no \\x93NUMPY magic)", path);
	if (b[6] == 1) {
		*hdr_at = 10;
		*hdr_len = (size_t)b[8] | (size_t)b[9] << 8;
	} else if (b[6] == 2 || b[6] == 3) {
		if (len < 12)
			return err_set(e, "truncated .npy file '%s': the header is cut short", path);
		*hdr_at = 12;
		*hdr_len = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 |
			   (size_t)b[11] << 24;
	} else {
		return err_set(e, "unsupported .npy version %d.%d in '%s'; sabench reads 1.0, 2.0 and 3.0",
			       b[6], b[7], path);
	}
	if (*hdr_at + *hdr_len > len || *hdr_len > 65536)
		return err_set(e, "truncated .npy file '%s': the header is cut short", path);
	return 0;
}

int npy_parse(const void *buf, size_t len, const char *name, struct npy_array *a,
	      enum npy_want want, struct err *e)
{
	size_t hdr_at = 0, hdr_len = 0, need;
	char *dict;

	if (parse_preamble(buf, len, &hdr_at, &hdr_len, name, e))
		return -1;
	dict = malloc(hdr_len + 1);
	if (!dict)
		return err_set(e, "out of memory reading '%s'", name);
	memcpy(dict, (const char *)buf + hdr_at, hdr_len);
	dict[hdr_len] = 0;
	if (memchr(dict, 0, hdr_len)) {
		free(dict);
		return err_set(e, "bad .npy header in '%s': it holds a NUL byte", name);
	}
	if (parse_header(dict, a, name, want, e)) {
		free(dict);
		return -1;
	}
	free(dict);
	need = a->count * (size_t)a->elem;
	if (len - hdr_at - hdr_len < need)
		return err_set(e, "truncated .npy file '%s': %zu data bytes, its shape needs %zu",
			       name, len - hdr_at - hdr_len, need);
	a->data = (const char *)buf + hdr_at + hdr_len;
	return 0;
}

int npy_map(const char *path, struct npy_array *a, enum npy_want want, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);  /* a FIFO must not block */
	struct stat st;

	memset(a, 0, sizeof *a);
	if (fd < 0)
		return err_set(e, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, "cannot read '%s': not a regular file", path);
	}
	a->map_len = (size_t)st.st_size;
	a->map = a->map_len ? mmap(NULL, a->map_len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (a->map == MAP_FAILED) {
		a->map = NULL;
		return err_set(e, "cannot map '%s': %s", path, strerror(errno));
	}
	if (npy_parse(a->map, a->map_len, path, a, want, e)) {
		npy_unmap(a);
		return -1;
	}
	return 0;
}

double npy_get(const struct npy_array *a, size_t i)
{
	const unsigned char *p = (const unsigned char *)a->data + i * (size_t)a->elem;

	if (a->kind == 'f' && a->elem == 4) {
		float f;
		memcpy(&f, p, 4);
		return f;
	}
	if (a->kind == 'f') {
		uint16_t h;
		memcpy(&h, p, 2);
		return dt_from_f16(h);
	}
	if (a->elem == 4) {
		int32_t v;
		memcpy(&v, p, 4);
		return v;
	}
	{
		int64_t v;
		memcpy(&v, p, 8);
		return (double)v;
	}
}

int npy_check_finite(const struct npy_array *a, const char *path, struct err *e)
{
	if (a->kind != 'f')
		return 0;
	for (size_t i = 0; i < a->count; i++)
		if (!isfinite(npy_get(a, i)))
			return err_set(e, "non-finite value (NaN or Inf) at element %zu of '%s'", i, path);
	return 0;
}

void npy_unmap(struct npy_array *a)
{
	if (a->map)
		munmap(a->map, a->map_len);
	memset(a, 0, sizeof *a);
}
