/* npy.h - NumPy .npy files: a writer (format 1.0), so a cell's inputs,
 * outputs and G-set can be checked or reused with numpy.load, and a
 * reader that maps a file and checks its header against its size, so
 * tensors and G-sets captured elsewhere can be run. */
#ifndef SABENCH_NPY_H
#define SABENCH_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* descr: "<f4", "<i4" or "<i8"; shape of ndim dimensions; data in C order. */
int npy_write(const char *path, const char *descr, const size_t *shape,
	      int ndim, const void *data, size_t elem_size, struct err *e);

#define NPY_MAX_DIMS 8

/* A .npy file mapped read-only: its header parsed, its data in place. */
struct npy_array {
	void *map;              /* the whole file */
	size_t map_len;         /* its length */
	const void *data;       /* the first element, inside map */
	char kind;              /* 'f' float, 'i' signed integer */
	int elem;               /* bytes per element */
	int ndim;               /* dimensions */
	size_t shape[NPY_MAX_DIMS];
	size_t count;           /* elements */
	char descr[16];         /* as written, e.g. "<f4" */
};

/* The dtypes a caller takes: a refusal lists exactly these. */
enum npy_want {
	NPY_WANT_FLOAT = 1,     /* little-endian float32, float16 */
	NPY_WANT_INT = 2,       /* little-endian int64, int32 */
	NPY_WANT_ANY = 3,
};

/* Maps path (a regular file; a FIFO is refused without blocking) and
 * checks magic, version (1.0, 2.0, 3.0), header, dtype (one of want), C
 * order and that the data is all there. Returns 0, or -1 with a message
 * naming path. */
int npy_map(const char *path, struct npy_array *a, enum npy_want want, struct err *e);

/* Checks every element is finite (floats); -1 with the first bad one. */
int npy_check_finite(const struct npy_array *a, const char *path, struct err *e);

/* Element i as a double (any supported dtype). */
double npy_get(const struct npy_array *a, size_t i);

/* The header checks of npy_map on a buffer (name for messages); a->data
 * points into buf, a->map stays NULL. For the fuzzer and the tests. */
int npy_parse(const void *buf, size_t len, const char *name, struct npy_array *a,
	      enum npy_want want, struct err *e);

void npy_unmap(struct npy_array *a);

#endif
