/* attend.c - one layer's attention over its G (attend.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../patterns/gset.h"
#include "../select/select.h"
#include "attend.h"
#include "ops.h"

int att_selected(const struct model_run *r, int il)
{
	return r->pat && r->pat[il] && pat_selected(r->pat[il]);
}

/* A selected design whose kind selects at prefill only (MInference's
 * vertical-slash, block top-k) decodes over the layer's own G, as
 * MInference serves it: sparse prefill, dense decode. */
static int decodes_own(const struct model_run *r, int il, int decode)
{
	return decode && att_selected(r, il) && !(r->pat[il]->kind->selected & PAT_DECODE);
}

long att_history(const struct model_run *r, int il, long n_q, long n_kv, int decode)
{
	return att_selected(r, il) && !decodes_own(r, il, decode) ? sel_history(r->pat[il], n_q, n_kv, decode) : n_q;
}

void att_mean_add(double *mean, long *count, double x)
{
	*mean = (*mean * (double)*count + x) / (double)(*count + 1);
	(*count)++;
}

/* A static G for n_q rows over n_kv keys: the design's, or (no design,
 * or layers_own) the layer's own window or dense. */
static int static_gset(const struct model *m, int il, const struct model_run *r, int layers_own, long n_q,
		       long n_kv, struct gset *g, char *why, size_t len)
{
	const struct pattern *given = r->pat && !layers_own ? r->pat[il] : NULL;
	struct pattern own;
	int rc;

	if (given)
		return gset_build(g, given, n_q, n_kv, m->heads, why, len);
	if (m->layer[il].windowed) {
		pat_init(&own, &pat_window, 1);
		own.val[pat_param_index(&pat_window, "size")].i = m->window;
	} else {
		pat_init(&own, &pat_dense, 1);
	}
	rc = gset_build(g, &own, n_q, n_kv, m->heads, why, len);
	pat_free(&own);
	return rc;
}

/* A selected design's G, chosen from the layer's own Q and K (after
 * RoPE) as a server would; dsa_topk makes its synthetic indexer from them
 * (sabench has no trained one for this model). */
static int selected_gset(const struct pattern *pat, const struct problem *p, const float *q_hist,
			 long n_hist, int decode, struct gset *g, char *why, size_t len)
{
	struct sel_input si = { .p = p, .q_hist = q_hist, .n_hist = n_hist, .decode = decode,
				.ops = kern_simd() };

	memset(g, 0, sizeof *g);
	if (sel_unservable(pat, p, decode, why, len))
		return -1;
	if (n_hist != sel_history(pat, p->n_q, p->n_kv, decode))
		return ops_why(why, len, "design '%s' reads %ld query rows before the prompt's", pat->label,
			   sel_history(pat, p->n_q, p->n_kv, decode) - p->n_q);
	return sel_run(pat, &si, g, why, len);
}

int att_layer(const struct model *m, int il, const struct model_run *r, struct problem *p,
	      const float *q_hist, long n_hist, int decode, struct gset *sel, char *why, size_t len)
{
	const struct kern_desc *kd = r->kernel ? r->kernel : kern_find("tiled");
	const int own = decodes_own(r, il, decode), selected = att_selected(r, il) && !own;
	struct gset g;
	void *ws = NULL;

	if (selected ? selected_gset(r->pat[il], p, q_hist, n_hist, decode, &g, why, len)
		     : static_gset(m, il, r, own, p->n_q, p->n_kv, &g, why, len))
		return -1;
	p->g = &g;
	if (kd->prepare(p, kern_max_threads(), &ws)) {
		gset_free(&g);
		return ops_why(why, len, "out of memory preparing kernel '%s' for layer %d", kd->name, il);
	}
	kd->run(p, ws);
	kd->release(ws);
	p->g = NULL;
	if (selected && sel) {
		*sel = g;       /* the caller's now */
		return 0;
	}
	gset_free(&g);
	return 0;
}
