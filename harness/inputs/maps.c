/* maps.c - dense attention maps of an input. Each head's causal softmax
 * is computed in double row by row (n is small here: a picture), binned to
 * at most 256 x 256 cells by the mean weight of the cell's pairs, and
 * written as log10(mean weight x (i + 1)): 0 is uniform attention. With
 * no folder, only the summary lines are written. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../patterns/gset.h"
#include "maps.h"

/* Dense causal weights of row i of head h into p[0, i]. */
static void softmax_row(const struct problem *pr, int h, long i, double *p)
{
	const float *q = pr->q + kern_q_off(pr, 0, h) + (size_t)i * (size_t)pr->d;
	const float *k = pr->k + kern_kv_off(pr, 0, h);
	double mx = -INFINITY, z = 0.0;

	for (long j = 0; j <= i; j++) {
		double s = 0.0;
		for (int c = 0; c < pr->d; c++)
			s += (double)q[c] * (double)k[(size_t)j * (size_t)pr->d + c];
		p[j] = s / sqrt((double)pr->d);
		mx = p[j] > mx ? p[j] : mx;
	}
	for (long j = 0; j <= i; j++)
		z += (p[j] = exp(p[j] - mx));
	for (long j = 0; j <= i; j++)
		p[j] /= z;
}

/* One head: its binned map into f, its summary line into summary. */
static int write_head(const struct exp_input *in, const struct problem *pr, int h,
		      FILE *f, FILE *names, FILE *summary)
{
	long n = pr->n_kv, cells = n < 256 ? n : 256, s = (n + cells - 1) / cells;
	double *p = malloc((size_t)n * sizeof *p), *grid, near = 0, first = 0, top = 0;
	long *cnt;
	const char *type = in->kind->head_type ? in->kind->head_type(in, h) : "";

	cells = (n + s - 1) / s;
	grid = calloc((size_t)(cells * cells), sizeof *grid);
	cnt = calloc((size_t)(cells * cells), sizeof *cnt);
	if (!p || !grid || !cnt) {
		free(p);
		free(grid);
		free(cnt);
		return -1;
	}
	for (long i = 0; i < n; i++) {
		softmax_row(pr, h, i, p);
		for (long j = 0; j <= i; j++) {
			size_t at = (size_t)(i / s) * (size_t)cells + (size_t)(j / s);
			grid[at] += p[j] * (double)(i + 1);
			cnt[at]++;
			near += i - j < 16 ? p[j] : 0.0;
			first += j < 4 ? p[j] : 0.0;
			top = i >= 16 && p[j] > top ? p[j] : top;
		}
	}
	for (long r = 0; r < cells; r++) {
		for (long c = 0; c < cells; c++) {
			size_t at = (size_t)r * (size_t)cells + (size_t)c;
			double v = cnt[at] ? log10(grid[at] / (double)cnt[at] + 1e-12) : NAN;
			fprintf(f, "%s%.3g", c ? " " : "", isnan(v) ? -9.0 : v);
		}
		fputc('\n', f);
	}
	fputs("\n\n", f);
	fprintf(names, "head %d%s%s\n", h, type[0] ? " " : "", type);
	if (summary)
		fprintf(summary, "head %d %-15s mass within 16 keys %.3f, on tokens 0-3 %.3f, largest weight past row 15 %.3g\n",
			h, type, near / (double)n, first / (double)n, top);
	free(p);
	free(grid);
	free(cnt);
	return 0;
}

int maps_write(const struct exp_input *in, const struct map_shape *s,
	       const char *dir, FILE *summary, struct err *e)
{
	size_t nq = (size_t)s->heads * (size_t)s->n * (size_t)s->d;
	size_t nkv = (size_t)s->kv_heads * (size_t)s->n * (size_t)s->d;
	float *q = malloc(nq * sizeof *q), *k = malloc(nkv * sizeof *k), *v = malloc(nkv * sizeof *v);
	struct gset g = { .causal = 1 };
	struct problem pr = { .batch = 1, .heads = s->heads, .kv_heads = s->kv_heads,
			      .n_q = s->n, .n_kv = s->n, .d = s->d, .q = q, .k = k, .v = v, .g = &g };
	char path[4200];
	FILE *f = NULL, *names = NULL;
	int rc = 0;

	if (!q || !k || !v) {
		rc = err_set(e, "out of memory filling the inputs");
		goto out;
	}
	if (in->kind->fill(in, &pr, q, k, v, s->seed)) {
		rc = err_set(e, "input '%s' cannot fill %d heads of head_dim %d at n = %ld",
			     in->label, s->heads, s->d, s->n);
		goto out;
	}
	snprintf(path, sizeof path, "%s/attention.dat", dir ? dir : ".");
	f = dir ? fopen(path, "w") : fopen("/dev/null", "w");
	snprintf(path, sizeof path, "%s/attention.labels", dir ? dir : ".");
	names = f ? (dir ? fopen(path, "w") : fopen("/dev/null", "w")) : NULL;
	if (!f || !names) {
		rc = err_set(e, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	for (int h = 0; h < s->heads && !rc; h++)
		if (write_head(in, &pr, h, f, names, summary))
			rc = err_set(e, "out of memory drawing head %d", h);
out:
	if (f && fclose(f) && !rc)
		rc = err_set(e, "cannot write '%s/attention.dat'", dir);
	if (names && fclose(names) && !rc)
		rc = err_set(e, "cannot write '%s/attention.labels'", dir);
	free(q);
	free(k);
	free(v);
	return rc;
}
