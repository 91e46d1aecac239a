/* npy.c - writes .npy version 1.0: magic, header length, a Python dict
 * literal padded with spaces so the data starts on a 64-byte boundary,
 * then the little-endian data. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
