/* csvline.h - reading the CSV files sabench writes, a line at a time:
 * whole lines (a partial last line is a torn write) split into fields
 * with CSV quoting. */
#ifndef SABENCH_CSVLINE_H
#define SABENCH_CSVLINE_H

#include <stdio.h>

/* One line with its newline, malloc'ed; NULL at the end. */
char *csv_read_line(FILE *f);

/* Splits a CSV line in place into at most max fields (quotes handled);
 * returns how many it found, max + 1 when there are more. */
int csv_split(char *line, char **field, int max);

/* 1 when line ends with its newline (a whole row). */
int csv_whole(const char *line);

#endif
