/* err.c - formatting of struct err messages, with or without a file
 * position. Only harness/main.c prints them. */
#include <stdarg.h>
#include <stdio.h>

#include "err.h"

int err_set(struct err *e, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	e->usage = 0;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int err_at(struct err *e, const char *file, int line, int col,
	   const char *fmt, ...)
{
	va_list ap;
	int off;

	if (!e)
		return -1;
	e->usage = 0;
	off = snprintf(e->msg, sizeof e->msg, "%s:%d:%d: ", file, line, col);
	if (off < 0 || (size_t)off >= sizeof e->msg)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->msg + off, sizeof e->msg - (size_t)off, fmt, ap);
	va_end(ap);
	return -1;
}
