/* report.h - report.md: the design-review summary of a results folder,
 * readable on any Markdown viewer, pictures linked relatively. */
#ifndef SABENCH_REPORT_H
#define SABENCH_REPORT_H

#include "../err.h"

/* Writes dir/report.md from dir/results.csv and dir/manifest.yaml. */
int report_write(const char *dir, struct err *e);

#endif
