/* checks.c - what a group's timed kernels are held to after timing,
 * outside the timed runs: verification against the oracle, the quality
 * pass (what its G keeps of dense, memoised across thread counts) and its
 * --dump files. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"

/* The element type a kernel's output is limited by: bf16 for the bf16
 * paths (P in bf16), else f32 (a decoder is checked against the oracle
 * on what its cache holds, so its cache type adds no error). */
static enum dtype verify_dtype(const struct slot *s, const struct problem *p)
{
	return p->dtype == DT_BF16 && !s->kd->decode ? DT_BF16 : DT_F32;
}

/* Limits for a kernel's output: those of the dtype that bounds it. */
static double verify_abs(const struct slot *s, const struct problem *p)
{
	return dtype_of(verify_dtype(s, p))->max_abs;
}

static double verify_nmse(const struct slot *s, const struct problem *p)
{
	return dtype_of(verify_dtype(s, p))->max_nmse;
}

/* 1 when some prepared slot of the group reads a cache (0) or the
 * problem's own K/V (1) and so needs that reference. */
static int needs_ref(const struct group *gr, int own)
{
	for (int i = 0; i < gr->n; i++)
		if (gr->s[i].prepared && gr->s[i].nt && (!gr->s[i].kd->decode) == own)
			return 1;
	return 0;
}

void run_verify_slots(struct run_state *st, struct group *gr)
{
	struct verify_ref ref[2] = { { 0 }, { 0 } };    /* a cache's values, K/V's own */
	unsigned long long seed = st->x->run.seed ^ gr->first;
	int rows = st->x->run.verify_rows;

	if (!st->x->run.verify)
		return;
	if ((needs_ref(gr, 0) && verify_prepare_cache(&ref[0], &gr->p, rows, seed)) ||
	    (needs_ref(gr, 1) && verify_prepare(&ref[1], &gr->p, rows, seed))) {
		for (int i = 0; i < gr->n; i++)
			if (gr->s[i].prepared)
				snprintf(gr->s[i].status, sizeof gr->s[i].status,
					 "failed: out of memory for the oracle");
		verify_free(&ref[0]);
		verify_free(&ref[1]);
		return;
	}
	for (int i = 0; i < gr->n; i++) {
		struct slot *s = &gr->s[i];
		if (!s->prepared || !s->nt)
			continue;
		verify_check(&ref[!s->kd->decode], &gr->p, s->o, verify_abs(s, &gr->p),
			     verify_nmse(s, &gr->p), &s->vr);
		s->verified = s->vr.ok;
		if (!s->vr.ok)
			snprintf(s->status, sizeof s->status, "failed: %s", s->vr.why);
	}
	verify_free(&ref[0]);
	verify_free(&ref[1]);
}

/* The memo key of a group: inputs, pattern and every shape field but
 * the thread count. */
static void memo_key(const struct group *gr, char *buf, size_t len)
{
	const long long *v = gr->sh.v;
	size_t off = (size_t)snprintf(buf, len, "%s|%s", gr->in->label, gr->pat.label);

	for (int f = 0; f < EXP_FIELD_COUNT && off < len; f++)
		if (f != EXP_THREADS)
			off += (size_t)snprintf(buf + off, len - off, "|%lld", v[f]);
}


/* The quality pass of a group; a decode group with a cache type other
 * than f32 also measures what that type loses (against its view). */
static int quality_with_cache(struct run_state *st, struct group *gr)
{
	unsigned long long seed = st->x->run.seed ^ gr->first ^ 0x51ULL;
	struct kv_view view;
	int rc;

	if (!exp_mode_of(gr->sh.v[EXP_MODE])->cached || gr->p.kv_dtype == DT_F32)
		return quality_measure(&gr->p, NULL, st->x->quality.rows, seed, &gr->qual);
	if (kv_view_build(&view, &gr->p, gr->p.kv_group, gr->p.kv_residual))
		return -1;
	rc = quality_measure(&gr->p, &view, st->x->quality.rows, seed, &gr->qual);
	kv_view_free(&view);
	return rc;
}

/* Measures the group's G against dense (or takes the measure of a group
 * that differs only in threads), outside the timed runs. */
int run_measure_quality(struct run_state *st, struct group *gr, struct err *e)
{
	struct quality_memo *m;
	char key[400];
	double t0, dt;

	if (!st->x->quality.enabled)
		return 0;
	memo_key(gr, key, sizeof key);
	for (size_t i = 0; i < st->n_memo; i++)
		if (!strcmp(st->memo[i].key, key)) {
			gr->qual = st->memo[i].q;
			gr->has_quality = 1;
			return 0;
		}
	t0 = run_now_s();
	if (quality_with_cache(st, gr))
		return 0;               /* out of memory: the columns stay empty */
	gr->has_quality = 1;
	dt = run_now_s() - t0;
	st->sum->quality_s += dt;
	if (dt >= 1.0 && st->o->progress) {
		char line[600];
		snprintf(line, sizeof line, "quality of %s on %s at n = %ld: %ld rows in %.1f s",
			 gr->pat.label, gr->in->label, gr->p.n_kv, gr->qual.all.rows, dt);
		st->o->progress(line);
	}
	m = realloc(st->memo, (st->n_memo + 1) * sizeof *m);
	if (m) {
		st->memo = m;
		snprintf(m[st->n_memo].key, sizeof m[st->n_memo].key, "%s", key);
		m[st->n_memo++].q = gr->qual;
	} else {
		gr->has_quality = 0;
		quality_free(&gr->qual);
		return 0;
	}
	return run_write_quality(st, gr, e);
}

/* Tells the user that --dump leaves out gr's cells, and why. */
void run_dump_left_out(const struct run_state *st, const struct group *gr, const char *fmt, ...)
{
	char why[300], line[800];
	va_list ap;

	if (!st->o->warn || !gr->n)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	snprintf(line, sizeof line, "--dump leaves out %d cell(s) of '%s': %s", gr->n,
		 gr->s[0].c->key, why);
	st->o->warn(line);
}

/* Writes dump files of the group and its cells when small enough
 * (report/dump.c). */
int run_dump_group(struct run_state *st, struct group *gr, const char *dir,
		      struct err *e)
{
	struct dump_cell *cells = calloc((size_t)gr->n, sizeof *cells);
	int n = 0, rc;

	double bytes = run_group_input_bytes(&gr->p) + 8.0 * (double)gr->g.st.nnz_layouts;

	if (bytes > st->x->run.dump_limit_mb * 1048576.0) {
		free(cells);
		run_dump_left_out(st, gr, "its inputs and G take %.0f MB, over run: dump_limit_mb %.0f",
			      bytes / 1048576.0, (double)st->x->run.dump_limit_mb);
		return 0;
	}
	if (!cells)
		return err_set(e, "out of memory dumping the group");
	for (int i = 0; i < gr->n; i++)
		if (gr->s[i].prepared)
			cells[n++] = (struct dump_cell){ gr->s[i].c->key, gr->s[i].c->index, gr->s[i].o };
	rc = dump_write(dir, &gr->p, &gr->g, gr->q, gr->k, gr->v, gr->s[0].c->group, cells, n, e);
	free(cells);
	return rc;
}
