/* textfile.h - a UTF-8 text read whole (the texts a real model reads:
 * inputs `model`, the e2e block, `sabench model`), with the messages of
 * each way it can fail. */
#ifndef SABENCH_TEXTFILE_H
#define SABENCH_TEXTFILE_H

#include <stddef.h>

#include "err.h"

/* The file at path, NUL-terminated (malloc'ed) into *text, its bytes in
 * *n. 0, or -1 with e: "cannot read <what> '<path>': no such file<hint>",
 * ": not a regular file", "<what> '<path>' is not UTF-8 (at byte B)", or
 * out of memory. hint: appended when the file is not there ("" none). */
int text_read(const char *path, const char *what, const char *hint, char **text, size_t *n, struct err *e);

#endif
