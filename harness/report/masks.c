/* masks.c - pattern pictures. A row's ranges are spread over the cells
 * they cross, so the grid costs O(rows x cells crossed), never n x n. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/experiment.h"
#include "../inputs/inputs.h"
#include "masks.h"

int mask_grid(const struct gset *g, int l, long cells, float **grid,
	      long *dim)
{
	long n = g->n_kv > g->n_q ? g->n_kv : g->n_q;
	long d = n < cells ? n : cells, s = (n + d - 1) / d;
	float *m;

	d = (n + s - 1) / s;
	m = calloc((size_t)d * (size_t)d, sizeof *m);
	if (!m)
		return -1;
	for (long r = 0; r < g->n_q; r++) {
		int64_t nr;
		const struct pat_range *rg = gset_row(g, l, r, &nr);
		float *row = m + (size_t)(r / s) * (size_t)d;
		for (int64_t t = 0; t < nr; t++)
			for (long c = rg[t].lo / s; c * s < rg[t].hi; c++) {
				long lo = rg[t].lo > c * s ? rg[t].lo : c * s;
				long hi = rg[t].hi < (c + 1) * s ? rg[t].hi : (c + 1) * s;
				row[c] += (float)(hi - lo);
			}
	}
	for (size_t i = 0; i < (size_t)d * (size_t)d; i++)
		m[i] /= (float)s * (float)s;
	*grid = m;
	*dim = d;
	return 0;
}

/* A selected pattern's G over the input (a blank grid when the pattern
 * cannot serve a prefill picture, as SnapKV's decode-only G). */
static int select_for_picture(const struct pattern *p, long n, const char *input,
			      struct gset *g, struct err *e)
{
	struct exp_input in;
	char why[256];
	int rc;

	if (exp_parse_input(input ? input : "gaussian: {}", &in, e))
		return -1;
	rc = inp_select_g(&in, p, n, 0, 1, 64, g, why, sizeof why);
	inp_free(&in);
	if (rc && !g->row_ptr) {
		int64_t *ptr = calloc((size_t)n + 1, sizeof *ptr);
		struct pat_ranges none = { 0 };
		if (!ptr)
			return err_set(e, "out of memory drawing '%s'", p->label);
		rc = gset_assemble(g, n, n, p->causal, 1, 0, 0, &none, &ptr);
		free(ptr);
	}
	return rc ? err_set(e, "out of memory drawing '%s'", p->label) : 0;
}

static int write_one(FILE *f, const char *spec, long n, int causal,
		     const char *input, struct err *e)
{
	struct pattern p;
	struct gset g;
	char why[256];
	float *grid;
	long dim;

	if (exp_parse_spec(spec, causal, &p, e))
		return -1;
	if (pat_selected(&p) ? select_for_picture(&p, n, input, &g, e)
			     : gset_build(&g, &p, n, n, 1, why, sizeof why) ? err_set(e, "%s", why) : 0) {
		pat_free(&p);
		return -1;
	}
	if (mask_grid(&g, 0, 256, &grid, &dim)) {
		gset_free(&g);
		pat_free(&p);
		return err_set(e, "out of memory drawing '%s'", spec);
	}
	for (long i = 0; i < dim; i++) {
		for (long j = 0; j < dim; j++)
			fprintf(f, "%s%.4g", j ? " " : "", grid[i * dim + j]);
		fputc('\n', f);
	}
	fputs("\n\n", f);
	free(grid);
	gset_free(&g);
	pat_free(&p);
	return 0;
}

int masks_write(const char *dir, char *const *specs, char *const *labels,
		size_t n_pat, long n, int causal, const char *input, struct err *e)
{
	char path[4200];
	FILE *data, *names;
	int rc = 0;

	snprintf(path, sizeof path, "%s/masks.dat", dir);
	data = fopen(path, "w");
	if (!data)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	snprintf(path, sizeof path, "%s/masks.labels", dir);
	names = fopen(path, "w");
	if (!names) {
		fclose(data);
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	}
	for (size_t i = 0; i < n_pat && !rc; i++) {
		rc = write_one(data, specs[i], n, causal, input, e);
		fprintf(names, "%s\n", labels[i]);
	}
	if ((fclose(data) | fclose(names)) && !rc)
		rc = err_set(e, "cannot write the masks into '%s'", dir);
	return rc;
}
