/* counters.h - PAPI as the one interface to counters: hardware events
 * counted per thread inside the kernel's OpenMP team, and sabench's own
 * software-defined events (sabench::pairs, ...) published through PAPI's
 * SDE library from the kernels' per-thread tallies. */
#ifndef SABENCH_COUNTERS_H
#define SABENCH_COUNTERS_H

#include <stddef.h>

#include "../kernels/kernel.h"
#include "err.h"

#define CTR_MAX 32              /* events per run */
#define CTR_MAX_THREADS 256     /* threads counted per event */

struct ctr_event {
	char name[96];          /* as requested, e.g. sabench::pairs */
	int sde;                /* a sabench software event */
	int counted;            /* 1: in an event set; 0: dropped */
	char why[192];          /* when dropped: the reason */
};

struct ctr_set {
	struct ctr_event ev[CTR_MAX];           /* requested events */
	int n;                                  /* number requested */
	int threads;                            /* team size counted */
	int multiplexed;                        /* hw events multiplexed */
	int es_hw[CTR_MAX_THREADS];             /* per-thread event sets */
	int es_sde;                             /* master's SDE event set */
	long long hw[CTR_MAX_THREADS][CTR_MAX]; /* last values, per thread */
	long long total[CTR_MAX];               /* last values, summed */
};

/* 0 when name can be requested; else -1 with "unknown counter '...'". */
int ctr_check_name(const char *name, char *why, size_t len);

/* The sabench software events, for listings. */
extern const char *const ctr_sde_names[];
extern const int ctr_sde_count;

/* Initialises PAPI (once) and publishes tallies (threads slots) as the
 * sabench SDE events. Returns 0, or -1 when PAPI cannot start. */
int ctr_library_init(struct kern_tally *tallies, int threads, struct err *e);

/* 1 when the hardware event name can be counted on this machine. */
int ctr_available(const char *name);

/* The default counters of a run without a counters: key: sabench's
 * software events, PAPI_TOT_CYC and PAPI_TOT_INS, and an FP-operations and
 * a last-level-cache event where the machine counts them. Fills names
 * (static strings) and returns how many. */
int ctr_default_names(const char **names, int max);

/* Which requested events feed the derived columns (-1: none). */
struct ctr_roles {
	int cycles, instructions;       /* PAPI_TOT_CYC, PAPI_TOT_INS */
	int fp;                         /* PAPI_SP_OPS, PAPI_FP_OPS or a native FP event */
	int llc_miss;                   /* PAPI_L3_TCM or PAPI_L3_TCA-style misses */
};

void ctr_roles_of(char *const *names, int n, struct ctr_roles *r);

/* Index of a sabench::X event in ctr_sde_names, -1 for other names, -2
 * for an unknown sabench:: name. */
int ctr_sde_index(const char *name);

/* Tries ev (its name set) alone on this thread: 0 when it can be counted,
 * else -1 with ev->why filled. */
int ctr_probe(struct ctr_event *ev);

/* NULL when PAPI is running (starting it once), else why not. */
const char *ctr_library_problem(void);

/* PAPI version "7.0.0.0", or why PAPI is not usable. */
const char *ctr_papi_version(void);

/* Why hardware events cannot be counted here, or NULL when they can. */
const char *ctr_hw_unavailable(void);

/* Builds the event sets of names for a team of threads; an event the
 * machine lacks is kept with counted = 0 and its reason. */
int ctr_open(struct ctr_set *s, char *const *names, size_t n, int threads,
	     struct err *e);

/* Starts counting on every thread of the team and the SDE set. */
int ctr_start(struct ctr_set *s);

/* Stops counting; fills s->hw and s->total. */
int ctr_stop(struct ctr_set *s);

void ctr_close(struct ctr_set *s);

/* Prints what this machine offers (for `sabench counters`). */
void ctr_describe(void (*line)(const char *text));

#endif
