/* ctr_team.c - the per-thread PAPI event sets of a run. Hardware events:
 * one event set per thread of the OpenMP team, created, started and stopped
 * by that thread (PAPI counts only the calling thread, and an existing pool
 * inherits nothing); GOMP keeps the same threads for the kernel's team of
 * the same size. Software events: one master set reading sabench's SDE
 * events. */
#include <omp.h>
#include <papi.h>
#include <stdio.h>
#include <string.h>

#include "../counters.h"

/* Makes the calling thread's event set of the counted hw events. */
static int thread_eventset(struct ctr_set *s, int *es)
{
	int rc;

	*es = PAPI_NULL;
	PAPI_register_thread();
	if (PAPI_create_eventset(es) != PAPI_OK)
		return -1;
	if (s->multiplexed) {
		if (PAPI_assign_eventset_component(*es, 0) != PAPI_OK ||
		    PAPI_set_multiplex(*es) != PAPI_OK)
			return -1;
	}
	for (int i = 0; i < s->n; i++) {
		if (s->ev[i].sde || !s->ev[i].counted)
			continue;
		rc = PAPI_add_named_event(*es, s->ev[i].name);
		if (rc == PAPI_ECNFLCT || rc == PAPI_ECOUNT)
			return 1;       /* too many for the counters: multiplex */
		if (rc != PAPI_OK)
			return -1;
	}
	return 0;
}

static int count_hw(const struct ctr_set *s)
{
	int n = 0;

	for (int i = 0; i < s->n; i++)
		n += !s->ev[i].sde && s->ev[i].counted;
	return n;
}

/* Builds every thread's set; retries once with multiplexing. */
static int open_team(struct ctr_set *s, struct err *e)
{
	int status = 0;

	if (!count_hw(s))
		return 0;
#pragma omp parallel num_threads(s->threads) reduction(max : status)
	{
		int t = omp_get_thread_num();
		status = thread_eventset(s, &s->es_hw[t]);
	}
	if (status == 1 && !s->multiplexed && PAPI_multiplex_init() == PAPI_OK) {
		s->multiplexed = 1;
#pragma omp parallel num_threads(s->threads)
		{
			int t = omp_get_thread_num();
			PAPI_cleanup_eventset(s->es_hw[t]);
			PAPI_destroy_eventset(&s->es_hw[t]);
		}
		return open_team(s, e);
	}
	if (status)
		return err_set(e, "cannot build the per-thread PAPI event sets");
	return 0;
}

int ctr_open(struct ctr_set *s, char *const *names, size_t n, int threads,
	     struct err *e)
{
	memset(s, 0, sizeof *s);
	s->es_sde = PAPI_NULL;
	if (n > CTR_MAX)
		return err_set(e, "too many counters: %zu, at most %d", n, CTR_MAX);
	if (threads > CTR_MAX_THREADS)
		return err_set(e, "too many threads to count: %d, at most %d",
			       threads, CTR_MAX_THREADS);
	s->n = (int)n;
	s->threads = threads;
	for (int t = 0; t < threads; t++)
		s->es_hw[t] = PAPI_NULL;
	if (n && ctr_library_problem())
		return err_set(e, "cannot start PAPI: %s", ctr_library_problem());
	if (n && PAPI_create_eventset(&s->es_sde) != PAPI_OK)
		return err_set(e, "cannot create a PAPI event set");
	for (int i = 0; i < s->n; i++) {
		struct ctr_event *ev = &s->ev[i];
		snprintf(ev->name, sizeof ev->name, "%s", names[i]);
		ev->sde = ctr_sde_index(ev->name) >= 0;
		if (ev->sde) {
			char full[128];
			snprintf(full, sizeof full, "sde:::%s", ev->name);
			ev->counted = PAPI_add_named_event(s->es_sde, full) == PAPI_OK;
			if (!ev->counted)
				snprintf(ev->why, sizeof ev->why,
					 "PAPI's SDE component refused '%s'", full);
		} else {
			ev->counted = ctr_probe(ev) == 0;
		}
	}
	return open_team(s, e);
}

int ctr_start(struct ctr_set *s)
{
	int bad = 0;

	if (!s->n)
		return 0;
	if (count_hw(s)) {
#pragma omp parallel num_threads(s->threads) reduction(+ : bad)
		bad += PAPI_start(s->es_hw[omp_get_thread_num()]) != PAPI_OK;
	}
	bad += PAPI_start(s->es_sde) != PAPI_OK;
	return bad ? -1 : 0;
}

int ctr_stop(struct ctr_set *s)
{
	long long sde[CTR_MAX];
	int bad = 0, n_hw = count_hw(s);

	if (!s->n)
		return 0;
	bad += PAPI_stop(s->es_sde, sde) != PAPI_OK;
	if (n_hw) {
#pragma omp parallel num_threads(s->threads) reduction(+ : bad)
		{
			int t = omp_get_thread_num();
			bad += PAPI_stop(s->es_hw[t], s->hw[t]) != PAPI_OK;
		}
	}
	for (int i = 0, k_hw = 0, k_sde = 0; i < s->n; i++) {
		s->total[i] = 0;
		if (!s->ev[i].counted)
			continue;
		if (s->ev[i].sde) {
			s->total[i] = sde[k_sde++];
			continue;
		}
		for (int t = 0; t < s->threads; t++)
			s->total[i] += s->hw[t][k_hw];
		k_hw++;
	}
	return bad ? -1 : 0;
}

void ctr_close(struct ctr_set *s)
{
	if (count_hw(s)) {
#pragma omp parallel num_threads(s->threads)
		{
			int t = omp_get_thread_num();
			PAPI_cleanup_eventset(s->es_hw[t]);
			PAPI_destroy_eventset(&s->es_hw[t]);
			PAPI_unregister_thread();
		}
	}
	if (s->es_sde != PAPI_NULL) {
		PAPI_cleanup_eventset(s->es_sde);
		PAPI_destroy_eventset(&s->es_sde);
	}
	s->n = 0;
}

