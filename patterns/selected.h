/* selected.h - what the content-selected kinds share in patterns/: their
 * G comes from the inputs (select/), so positions alone bound nothing. */
#ifndef SABENCH_SELECTED_H
#define SABENCH_SELECTED_H

#include "pattern.h"

/* Every key may be chosen later: a decoder keeps all n. */
long pat_selected_kv_rows(const struct pattern *p, long n);

/* Each sequence and head has its own G. */
int pat_selected_per_head(const struct pattern *p);

#endif
