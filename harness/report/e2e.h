/* e2e.h - what a run's e2e.csv says (run/e2e.c writes it): read back and
 * checked, each context's front of KV bytes per token against KL (no
 * other design both keeps less and moves the model less), report.md's
 * section and the points plots/e2e.gp draws. */
#ifndef SABENCH_REPORT_E2E_H
#define SABENCH_REPORT_E2E_H

#include <stdio.h>

#include "../err.h"
#include "results.h"

/* e2e.csv's header: its column names, comma-separated. */
extern const char e2e_header[];

/* 1 when t's columns are e2e_header's, in order. */
int e2e_header_matches(const struct res_table *t);

/* dir/e2e.csv into t, checked: its header is run/e2e.c's, every row
 * whole, numbers finite and not negative where given, status ok, failed
 * or skipped. 0; 1 when the folder has no e2e.csv; -1 with e set. */
int e2e_read(const char *dir, struct res_table *t, struct err *e);

/* Column col of row i of t as a number; NAN when empty. */
double e2e_num(const struct res_table *t, size_t i, const char *col);

/* 1 when row i of t ran (status ok). */
int e2e_ok(const struct res_table *t, size_t i);

/* The distinct contexts of t's rows (ran: of those that ran only), in
 * file order (shortest first, as the run writes them), into ctx[room]:
 * how many. */
size_t e2e_contexts(const struct res_table *t, int ran, long *ctx, size_t room);

/* 1 when row i of t (read by e2e_read) is on the front of its context:
 * ran ok and no other ok row of that context keeps fewer or as many
 * bytes per token with a smaller KL (ties: the fewer bytes). */
int e2e_on_front(const struct res_table *t, size_t i);

/* report.md's section: per context a table of every design, the front
 * marked, and the picture; nothing when the run has no e2e.csv. */
void e2e_write_md(FILE *f, const char *dir);

/* dir/e2e_front.csv, the points plots/e2e.gp draws: 0, 1 when there is
 * no e2e.csv, -1 with e set. */
int e2e_write_points(const char *dir, struct err *e);

#endif
