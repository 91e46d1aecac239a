/* selected.h - what the content-selected kinds share in patterns/: their
 * G comes from the inputs (select/), so positions alone bound nothing. */
#ifndef SABENCH_SELECTED_H
#define SABENCH_SELECTED_H

#include "pattern.h"

/* share: which query heads one selection serves (a kind that can share
 * has this parameter, PAT_SHARE_PARAM, in its table). */
enum { PAT_SHARE_HEAD, PAT_SHARE_KV_GROUP, PAT_SHARE_COUNT };
extern const char *const pat_share_choices[];
#define PAT_SHARE_PARAM { "share", PAT_CHOICE, 0, PAT_SHARE_HEAD, 0, 1, \
	"head: each query head selects its own G; kv_group: the heads sharing a K/V head " \
	"combine their scores and share one G (NSA's group selection)", pat_share_choices }

/* Every key may be chosen later: a decoder keeps all n. */
long pat_selected_kv_rows(const struct pattern *p, long n);

/* Each sequence and head has its own G. */
int pat_selected_per_head(const struct pattern *p);

#endif
