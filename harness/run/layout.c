/* layout.c - a decode group's cache layout: the one asked for, or with
 * auto the one its pattern kind's descriptor names, full when a bounded
 * one would not be exact (a note says why). Uniform groups and each
 * sequence of a ragged batch choose here. */
#include <assert.h>
#include <stdio.h>

#include "group.h"

/* The decode cache layout of each bounded cache a pattern kind names. */
static const enum kv_layout cache_layout[] = {
	[PAT_CACHE_FULL] = KV_FULL,
	[PAT_CACHE_RING] = KV_RING,
	[PAT_CACHE_SINK_RING] = KV_SINK_RING,
};
static_assert(sizeof cache_layout / sizeof *cache_layout == PAT_CACHE_COUNT,
	      "cache_layout: one per enum pat_cache");

/* The bounded layout that fits the pattern's own shape (auto): what its
 * kind's descriptor names. */
static enum kv_layout natural_layout(const struct pattern *p)
{
	return cache_layout[p->kind->cache];
}

void run_cache_layout(struct group *gr, struct problem *p, const struct gset *g)
{
	long long asked = gr->sh.v[EXP_KV_LAYOUT];
	enum kv_layout l = asked == EXP_KV_AUTO ? natural_layout(&gr->pat) : (enum kv_layout)asked;
	long sinks = gr->pat.kind->pinned_rows ? gr->pat.kind->pinned_rows(&gr->pat) : 0;
	long ring = pat_kv_rows(&gr->pat, p->n_kv) - sinks;

	/* a chunk is appended whole before its first row reads: the ring
	 * keeps that row's window too (C - 1 more rows, whole KIVI groups) */
	if (p->chunk && ring > 0) {
		ring += p->n_q - 1;
		if (dtype_of(p->kv_dtype)->form == DT_FORM_KIVI)
			ring = (ring + p->kv_group - 1) / p->kv_group * p->kv_group;
	}
	p->kv_sinks = l == KV_SINK_RING ? (int)sinks : 0;
	p->kv_ring = ring > 0 ? ring : 1;
	if (!kvc_serves(g, l, p->kv_ring, p->kv_sinks, p->chunk)) {
		snprintf(gr->layout_note, sizeof gr->layout_note,
			 "%s cannot serve '%s' exactly; used full", kv_layout_names[l], gr->pat.label);
		l = KV_FULL;
	} else if (dtype_of(p->kv_dtype)->form == DT_FORM_KIVI && (l == KV_RING || l == KV_SINK_RING) &&
		   (p->kv_ring % p->kv_group || p->kv_sinks % p->kv_group)) {
		snprintf(gr->layout_note, sizeof gr->layout_note,
			 "%s's %ld ring rows and %ld sinks are not whole KIVI groups of %d; used full",
			 kv_layout_names[l], p->kv_ring, p->kv_sinks, p->kv_group);
		l = KV_FULL;
	}
	p->kv_layout = l;
}
