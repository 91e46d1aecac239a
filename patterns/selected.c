/* selected.c - the slots every content-selected kind shares. */
#include "selected.h"

#include <assert.h>

const char *const pat_share_choices[] = { [PAT_SHARE_HEAD] = "head", [PAT_SHARE_KV_GROUP] = "kv_group", NULL };
static_assert(sizeof pat_share_choices / sizeof *pat_share_choices == PAT_SHARE_COUNT + 1,
	      "pat_share_choices: one per share, then NULL");

long pat_selected_kv_rows(const struct pattern *p, long n)
{
	(void)p;
	return n;
}

int pat_selected_per_head(const struct pattern *p)
{
	(void)p;
	return 1;
}
