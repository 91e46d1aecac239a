/* npy.h - NumPy .npy (format 1.0) writer, so a cell's inputs, outputs and
 * G-set can be checked or reused with numpy.load. */
#ifndef SABENCH_NPY_H
#define SABENCH_NPY_H

#include <stddef.h>

#include "err.h"

/* descr: "<f4", "<i4" or "<i8"; shape of ndim dimensions; data in C order. */
int npy_write(const char *path, const char *descr, const size_t *shape,
	      int ndim, const void *data, size_t elem_size, struct err *e);

#endif
