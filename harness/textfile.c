/* textfile.c - a UTF-8 text read whole (textfile.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../model/tokenizer.h"
#include "textfile.h"

int text_read(const char *path, const char *what, const char *hint, char **text, size_t *n, struct err *e)
{
	struct stat st;
	FILE *f;
	size_t bad;

	*text = NULL;
	*n = 0;
	if (stat(path, &st))
		return err_set(e, "cannot read %s '%s': %s%s", what, path, errno == ENOENT ? "no such file" : strerror(errno),
			       errno == ENOENT ? hint : "");
	if (!S_ISREG(st.st_mode))
		return err_set(e, "cannot read %s '%s': not a regular file", what, path);
	if (!(f = fopen(path, "rb")))
		return err_set(e, "cannot read %s '%s': %s", what, path, strerror(errno));
	*text = malloc((size_t)st.st_size + 1);
	*n = *text ? fread(*text, 1, (size_t)st.st_size, f) : 0;
	fclose(f);
	if (!*text)
		return err_set(e, "out of memory reading '%s'", path);
	(*text)[*n] = 0;
	if ((bad = tok_utf8_bad(*text, *n)) < *n) {
		free(*text);
		*text = NULL;
		return err_set(e, "%s '%s' is not UTF-8 (at byte %zu)", what, path, bad);
	}
	return 0;
}
