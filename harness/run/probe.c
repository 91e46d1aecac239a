/* probe.c - the read probe of a decode group: a buffer of the cache's
 * K/V bytes, read in the same timing rounds as the kernels, so that each
 * kernel's read bandwidth (kv_gbs) is judged against what the host gave
 * then (pct_bw). A ceiling must be the best a read of those bytes can do
 * here: before the rounds, each way of reading is tried (the team
 * sweeping the whole buffer, each thread rereading one cache at a time
 * as the decode kernel does, with and without software prefetch) and the
 * fastest is kept. */
#include <omp.h>
#include <stdlib.h>

#include "../../kernels/isa/peak.h"
#include "group.h"

/* The ways of reading the buffer a probe may take. */
enum probe_way {
	PROBE_TEAM,             /* the team sweeps the whole buffer */
	PROBE_TEAM_PREFETCH,    /* likewise, lines asked for ahead */
	PROBE_PER_CACHE,        /* a thread rereads one cache at a time */
	PROBE_WAY_COUNT
};

/* Tries of each way before the rounds; the best of them decides. */
#define PROBE_TRIES 3

/* Bytes of K/V the group's cache holds: what the decode kernel's layout
 * allocates (a ring holds a window, a full cache every row), else the
 * pattern's KV horizon. The probe reads as much. */
static double group_kv_bytes(const struct group *gr)
{
	double bytes = 0.0;

	for (int i = 0; i < gr->n; i++)
		if (gr->s[i].active && (gr->s[i].kd->decode || bytes == 0.0) &&
		    gr->s[i].m.kv_cache_bytes > bytes)
			bytes = gr->s[i].m.kv_cache_bytes;
	return bytes;
}

/* One run of the probe read way w; returns its seconds. */
static double read_as(const struct group *gr, enum probe_way w)
{
	long units = (long)gr->p.batch * gr->p.kv_heads;  /* caches */
	size_t per = gr->probe_floats / (size_t)units;
	float sum = 0.0f;
	double t0 = run_now_s();

	if (w == PROBE_PER_CACHE) {
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : sum)
		for (long u = 0; u < units; u++)
			for (int k = 0; k < gr->probe_sweeps; k++)
				peak_read_one(gr->probe + (size_t)u * per, per, &sum);
	} else {
#pragma omp parallel reduction(+ : sum)
		for (int k = 0; k < gr->probe_sweeps; k++)
			peak_read_as(gr->probe, gr->probe_floats, w == PROBE_TEAM_PREFETCH, &sum);
	}
	peak_sink = sum;
	return run_now_s() - t0;
}

/* The fastest way, best of PROBE_TRIES runs each. A way that gives each
 * thread a cache needs a cache per thread or more. */
static enum probe_way fastest_way(const struct group *gr)
{
	enum probe_way best = PROBE_TEAM;
	double best_t = 1e300;
	long units = (long)gr->p.batch * gr->p.kv_heads;

	for (int w = 0; w < PROBE_WAY_COUNT; w++) {
		if (w == PROBE_PER_CACHE && units < gr->threads)
			continue;
		for (int k = 0; k < PROBE_TRIES; k++) {
			double t = read_as(gr, (enum probe_way)w);
			if (t < best_t) {
				best_t = t;
				best = (enum probe_way)w;
			}
		}
	}
	return best;
}

void run_open_probe(struct group *gr)
{
	size_t floats = (size_t)(group_kv_bytes(gr) / 4.0);

	if (!exp_mode_of(gr->sh.v[EXP_MODE])->cached || !floats ||
	    (double)floats * 4.0 > 0.5 * runner_mem_available())
		return;
	gr->probe = run_alloc_floats(floats);
	if (!gr->probe)
		return;
	gr->probe_floats = floats / (size_t)(gr->p.batch * gr->p.kv_heads) *
			   (size_t)(gr->p.batch * gr->p.kv_heads);     /* whole caches */
	if (!gr->probe_floats) {
		free(gr->probe);
		gr->probe = NULL;
		return;
	}
	/* a cache the decode steps reread gets as many sweeps (each thread
	 * its own part, as the kernel splits its caches), up to 256 MiB a run:
	 * long enough to time, short enough not to double the run */
	gr->probe_sweeps = (int)((256.0 * 1048576.0) / (4.0 * (double)floats)) + 1;
	floats = gr->probe_floats;
	if (gr->probe_sweeps > gr->p.n_q)
		gr->probe_sweeps = (int)gr->p.n_q;
	omp_set_num_threads(gr->threads);
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < floats; i++)
		gr->probe[i] = 1.0f;
	gr->probe_way = (int)fastest_way(gr);
}

int run_probe(struct group *gr)
{
	if (gr->probe_n == gr->probe_cap) {
		size_t cap = gr->probe_cap ? 2 * gr->probe_cap : 16;
		double *t = realloc(gr->probe_t, cap * sizeof *t);
		if (!t)
			return -1;
		gr->probe_t = t;
		gr->probe_cap = cap;
	}
	gr->probe_t[gr->probe_n++] = read_as(gr, (enum probe_way)gr->probe_way);
	return 0;
}
