/* dump.c - --dump DIR: the files of a group (q, k, v, its G-set in CSR
 * with every layout, each cell's output) and DIR/index.csv, one row a
 * cell. A marker file names the results folder whose run owns the dump,
 * so that two runs never mix their files in one folder. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../patterns/gset.h"
#include "../npy.h"
#include "csvline.h"
#include "dump.h"

#define MARKER ".sabench-dump"
#define INDEX_HEADER "cell,q,k,v,indptr,indices,out,layouts,layout_of\n"

/* Every layout of g as CSR, the shape the csr pattern reads: indptr
 * [layouts][n_q + 1] of offsets into one indices array (layout l's row r
 * is indices[indptr[l][r] : indptr[l][r + 1]]). Both malloc'ed, owned by
 * the caller; 0, or -1 when out of memory. */
static int dump_csr(const struct gset *g, int64_t **indptr, int32_t **indices)
{
	size_t rows = (size_t)g->n_q + 1;
	int64_t *ptr = malloc((size_t)g->n_layouts * rows * sizeof *ptr), base = 0;
	int32_t *all = malloc(((size_t)g->st.nnz_layouts + 1) * sizeof *all);

	if (!ptr || !all)
		goto fail;
	for (int l = 0; l < g->n_layouts; l++) {
		int64_t *lp;
		int32_t *li;
		if (gset_csr(g, l, &lp, &li))
			goto fail;
		for (size_t r = 0; r < rows; r++)
			ptr[(size_t)l * rows + r] = base + lp[r];
		memcpy(all + base, li, (size_t)lp[g->n_q] * sizeof *li);
		base += lp[g->n_q];
		free(lp);
		free(li);
	}
	*indptr = ptr;
	*indices = all;
	return 0;
fail:
	free(ptr);
	free(all);
	return -1;
}

/* How the dump's G layouts map to (sequence b, head h), for index.csv. */
static const char *dump_layout_rule(const struct gset *g)
{
	if (g->layout_group > 1)
		return "b*kv_heads+h/group";
	return g->n_layouts == 1 ? "all" : g->layout_heads ? "b*heads+h" : "h";
}

int dump_write(const char *dir, const struct problem *p, const struct gset *g,
	       const float *q, const float *k, const float *v, size_t group,
	       const struct dump_cell *cells, int n, struct err *e)
{
	size_t qs[4] = { (size_t)p->batch, (size_t)p->heads, (size_t)p->n_q, (size_t)p->d };
	size_t ks[4] = { (size_t)p->batch, (size_t)p->kv_heads, (size_t)p->n_kv, (size_t)p->d };
	size_t vs[4] = { (size_t)p->batch, (size_t)p->kv_heads, (size_t)p->n_kv, (size_t)kern_dv(p) };
	size_t os[4] = { (size_t)p->batch, (size_t)p->heads, (size_t)p->n_q, (size_t)kern_dv(p) };
	char path[4300], name[64];
	int64_t *indptr;
	int32_t *indices;
	FILE *idx;
	size_t nnz_sh[1], ptr_sh[2];
	int layouts = g->n_layouts, rc = 0;

	snprintf(name, sizeof name, "g%05zu", group);
	snprintf(path, sizeof path, "%s/%s_q.npy", dir, name);
	rc |= npy_write(path, "<f4", qs, 4, q, 4, e);
	snprintf(path, sizeof path, "%s/%s_k.npy", dir, name);
	rc |= npy_write(path, "<f4", ks, 4, k, 4, e);
	snprintf(path, sizeof path, "%s/%s_v.npy", dir, name);
	rc |= npy_write(path, "<f4", vs, 4, v, 4, e);
	if (dump_csr(g, &indptr, &indices))
		return err_set(e, "out of memory dumping the G-set");
	/* one layout: [n_q + 1]; more: [layouts, n_q + 1] */
	ptr_sh[0] = (size_t)layouts;
	ptr_sh[1] = (size_t)g->n_q + 1;
	nnz_sh[0] = (size_t)indptr[(size_t)layouts * ptr_sh[1] - 1];
	snprintf(path, sizeof path, "%s/%s_indptr.npy", dir, name);
	rc |= npy_write(path, "<i8", layouts > 1 ? ptr_sh : ptr_sh + 1, layouts > 1 ? 2 : 1,
			indptr, 8, e);
	snprintf(path, sizeof path, "%s/%s_indices.npy", dir, name);
	rc |= npy_write(path, "<i4", nnz_sh, 1, indices, 4, e);
	free(indptr);
	free(indices);
	snprintf(path, sizeof path, "%s/index.csv", dir);
	idx = fopen(path, "a");
	if (!idx)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	if (ftell(idx) == 0)
		fputs(INDEX_HEADER, idx);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/c%05zu_out.npy", dir, cells[i].index);
		rc |= npy_write(path, "<f4", os, 4, cells[i].out, 4, e);
		fprintf(idx, "%s,%s_q.npy,%s_k.npy,%s_v.npy,%s_indptr.npy,%s_indices.npy,c%05zu_out.npy,%d,%s\n",
			cells[i].key, name, name, name, name, name, cells[i].index, layouts,
			dump_layout_rule(g));
	}
	if (fflush(idx) | ferror(idx) | fclose(idx))
		rc = err_set(e, "cannot write '%s/index.csv': %s", dir, strerror(errno));
	return rc ? -1 : 0;
}

/* 1 when dir holds any entry but "." and "..". */
static int has_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int any = 0;

	while (d && !any && (de = readdir(d)))
		any = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	return any;
}

/* The owner named by dir's marker, into buf; 0, or -1 when there is none. */
static int read_owner(const char *dir, char *buf, size_t len)
{
	char path[4300];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, MARKER);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, (int)len, f))
		buf[0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	fclose(f);
	return 0;
}

/* index.csv with the rows of cells in done only (whole, one a cell), or
 * just its header when done is NULL. */
static int keep_index_rows(const char *dir, const struct keyset *done, struct err *e)
{
	char path[4300], tmp[4400], *line, *field[16];
	FILE *in, *out;
	struct keyset seen = { 0 };
	int rc = 0;

	snprintf(path, sizeof path, "%s/index.csv", dir);
	snprintf(tmp, sizeof tmp, "%s/index.csv.tmp", dir);
	in = fopen(path, "r");
	if (!in)
		return 0;
	out = fopen(tmp, "w");
	if (!out) {
		fclose(in);
		return err_set(e, "cannot write '%s': %s", tmp, strerror(errno));
	}
	fputs(INDEX_HEADER, out);
	free(csv_read_line(in));        /* the header */
	while (done && !rc && (line = csv_read_line(in))) {
		char *copy = strdup(line);
		if (!copy)
			rc = err_set(e, "out of memory repairing '%s'", path);
		else if (csv_whole(line) && csv_split(copy, field, 16) == 9 &&
			 keyset_has(done, field[0]) && !keyset_has(&seen, field[0])) {
			fputs(line, out);
			rc = keyset_add(&seen, field[0]) ? err_set(e, "out of memory repairing '%s'", path) : 0;
		}
		free(copy);
		free(line);
	}
	fclose(in);
	keyset_free(&seen);
	if ((fflush(out) | ferror(out) | fclose(out)) && !rc)
		rc = err_set(e, "cannot write '%s': %s", tmp, strerror(errno));
	if (!rc && rename(tmp, path))
		rc = err_set(e, "cannot rewrite '%s': %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

int dump_keep(const char *dir, enum res_mode mode, const struct keyset *done, struct err *e)
{
	return keep_index_rows(dir, mode == RES_RESUME ? done : NULL, e);
}

int dump_open(const char *dir, const char *out_dir, struct err *e)
{
	char owner[PATH_MAX], had[PATH_MAX + 2], path[4300];
	FILE *f;

	if (res_make_dirs(dir, e))
		return -1;
	if (!realpath(out_dir, owner))
		return err_set(e, "cannot resolve '%s': %s", out_dir, strerror(errno));
	if (read_owner(dir, had, sizeof had) == 0) {
		if (strcmp(had, owner))
			return err_set(e, "dump folder '%s' holds the dump of another run (results in '%s'); give an empty or new folder",
				       dir, had);
		return 0;
	}
	if (has_entries(dir))
		return err_set(e, "dump folder '%s' is not empty and holds no sabench dump; give an empty or new folder",
			       dir);
	snprintf(path, sizeof path, "%s/%s", dir, MARKER);
	f = fopen(path, "w");
	if (!f)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	fprintf(f, "%s\n", owner);
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	/* index.csv from the start: a dump whose cells were all left out is
	 * still one a reader can open */
	snprintf(path, sizeof path, "%s/index.csv", dir);
	f = fopen(path, "w");
	if (!f)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	fputs(INDEX_HEADER, f);
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}
