/* err.h - error reports that travel up to main, the only place that prints.
 * Functions return 0 on success and -1 after filling a struct err; messages
 * follow git's wording: lowercase, problem first, subject in quotes. */
#ifndef SABENCH_ERR_H
#define SABENCH_ERR_H

struct err {
	char msg[1024];     /* the message, without the "sabench: " prefix */
	int usage;          /* 1: the user's request cannot be done as asked (exit 2) */
};

/* Fills e with a formatted message; always returns -1. */
int err_set(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Like err_set, prefixed with "file:line:col: " (line and col 1-based). */
int err_at(struct err *e, const char *file, int line, int col,
	   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
