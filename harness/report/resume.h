/* resume.h - repairing a results folder before --resume appends to it,
 * and the set of cell keys it already holds. */
#ifndef SABENCH_RESUME_H
#define SABENCH_RESUME_H

#include <stddef.h>

#include "../err.h"

/* A set of strings for membership tests (cells done, quality lines
 * written, rows seen while a file is repaired), hashed: a test takes O(1),
 * so that repairing a file of n rows takes time about linear in n. */
struct keyset {
	char **key;             /* malloc'ed strings, in insertion order */
	size_t n, cap;
	size_t *slot;           /* open addressing: index + 1 into key, 0 empty */
	size_t nslot;           /* a power of two, at least 2 (n + 1); 0: none yet */
};

int keyset_add(struct keyset *s, const char *key);
int keyset_has(const struct keyset *s, const char *key);
/* The index of key in s->key (its insertion order), or -1. */
long keyset_find(const struct keyset *s, const char *key);
void keyset_free(struct keyset *s);

/* What the repair did, for the user: counts of what was dropped. */
struct repair_report {
	size_t torn;            /* partial or misshapen lines dropped */
	size_t duplicates;      /* rows whose key an earlier row had */
	size_t incomplete;      /* cells whose samples were not all there: they run again */
	size_t unmeasured;      /* cells whose quality lines were not all there: likewise */
};

/* Which quality lines a cell needs: complete(ctx, cell, lines) is 1 when
 * every line the cell's group measures has its key (quality_key) in
 * lines. */
struct quality_check {
	int (*complete)(void *ctx, const char *cell, const struct keyset *lines);
	void *ctx;
};

/* Repairs dir's results.csv, samples.csv and quality.csv (each against
 * its header as this run writes it) so that each holds whole rows, one
 * per key, and a cell stays in results.csv only while samples.csv holds
 * every repetition it counts and, where its row measured quality and
 * check is given, quality.csv every line of its group. Fills done with
 * the cells that stay and quality with the keys of the quality lines that
 * stay. Returns 0, or -1 with e set (a header that is not this run's). */
int res_repair(const char *dir, const char *csv_header, const char *samples_header,
	       const char *quality_header, const struct quality_check *check,
	       struct keyset *done, struct keyset *quality, struct repair_report *rep,
	       struct err *e);

/* The key of a quality.csv line (its group and head): fields of the line
 * as split under header. Writes at most len bytes into buf. */
void quality_key(const char *header, char *const *field, char *buf, size_t len);

/* The key of the line of group's head (as quality_key makes it). */
void quality_line_key(const char *group, const char *head, char *buf, size_t len);

#endif
