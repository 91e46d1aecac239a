/* counters.c - PAPI's library side: starting PAPI, sabench's software
 * events (the kernels' per-thread tallies, summed by callbacks registered
 * with PAPI's SDE library), checking event names, probing what this
 * machine can count, the default set and `sabench counters`. The per-thread
 * event sets of a run are in ctr_team.c. */
#include <assert.h>
#include <papi.h>
#include <pthread.h>
#include <sde_lib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "counters.h"

const char *const ctr_sde_names[] = {
	"pairs",                /* query-key pairs scored */
	"flops_exec",           /* FLOPs executed, 4 d per pair */
	"kv_bytes",             /* K and V bytes read */
	"tiles_skipped",        /* tiles with no pair of G */
	"tiles_full",           /* tiles computed without a mask */
	"tiles_partial",        /* tiles computed with a mask */
};
const int ctr_sde_count = (int)(sizeof ctr_sde_names / sizeof *ctr_sde_names);

/* Field of struct kern_tally behind each SDE event, same order. */
static const size_t sde_field[] = {
	offsetof(struct kern_tally, pairs),
	offsetof(struct kern_tally, flops),
	offsetof(struct kern_tally, kv_bytes),
	offsetof(struct kern_tally, tiles_skipped),
	offsetof(struct kern_tally, tiles_full),
	offsetof(struct kern_tally, tiles_partial),
};
static_assert(sizeof sde_field / sizeof *sde_field == sizeof ctr_sde_names / sizeof *ctr_sde_names,
	      "sde_field: one field per event of ctr_sde_names");

static struct {
	int state;              /* 0 not tried, 1 ready, -1 failed */
	char version[32];       /* "7.0.0.0" */
	char why[192];          /* when failed */
	struct kern_tally *tally; /* published tallies */
	int threads;            /* slots in tally */
} lib;

/* SDE callback: the sum over threads of one tally field. */
static long long sde_read(void *param)
{
	size_t off = *(const size_t *)param;
	long long sum = 0;

	for (int t = 0; lib.tally && t < lib.threads; t++)
		sum += *(const long long *)((const char *)&lib.tally[t] + off);
	return sum;
}

static int papi_start_library(void)
{
	int v;

	if (lib.state)
		return lib.state > 0 ? 0 : -1;
	/* GPU components: nothing sabench counts, and rocm_smi prints to
	 * stderr when it finds no GPU (its library comes with slurm-wlm) */
	PAPI_disable_component_by_name("rocm_smi");
	PAPI_disable_component_by_name("rocm");
	PAPI_disable_component_by_name("cuda");
	v = PAPI_library_init(PAPI_VER_CURRENT);
	if (v != PAPI_VER_CURRENT) {
		snprintf(lib.why, sizeof lib.why, "PAPI_library_init failed: %s",
			 v > 0 ? "version mismatch" : PAPI_strerror(v));
		lib.state = -1;
		return -1;
	}
	if (PAPI_thread_init((unsigned long (*)(void))pthread_self) != PAPI_OK) {
		snprintf(lib.why, sizeof lib.why, "PAPI_thread_init failed");
		lib.state = -1;
		return -1;
	}
	snprintf(lib.version, sizeof lib.version, "%d.%d.%d.%d",
		 PAPI_VERSION_MAJOR(v), PAPI_VERSION_MINOR(v),
		 PAPI_VERSION_REVISION(v), PAPI_VERSION_INCREMENT(v));
	lib.state = 1;
	return 0;
}

int ctr_library_init(struct kern_tally *tallies, int threads, struct err *e)
{
	static int registered;
	papi_handle_t h;

	lib.tally = tallies;
	lib.threads = threads;
	if (registered)
		return 0;
	/* the SDE events exist before PAPI looks for them */
	h = papi_sde_init("sabench");
	for (int i = 0; i < ctr_sde_count; i++)
		papi_sde_register_counter_cb(h, ctr_sde_names[i],
					     PAPI_SDE_RO | PAPI_SDE_DELTA,
					     PAPI_SDE_long_long, sde_read,
					     (void *)&sde_field[i]);
	registered = 1;
	if (papi_start_library())
		return err_set(e, "cannot start PAPI: %s", lib.why);
	return 0;
}

const char *ctr_papi_version(void)
{
	if (papi_start_library())
		return lib.why;
	return lib.version;
}

static int probe_hw(struct ctr_event *ev);

int ctr_sde_index(const char *name)
{
	if (strncmp(name, "sabench::", 9) != 0)
		return -1;
	for (int i = 0; i < ctr_sde_count; i++)
		if (strcmp(name + 9, ctr_sde_names[i]) == 0)
			return i;
	return -2;
}

int ctr_check_name(const char *name, char *why, size_t len)
{
	int code, k = ctr_sde_index(name);

	if (k >= 0)
		return 0;
	if (k == -2 || strlen(name) >= sizeof ((struct ctr_event *)0)->name) {
		snprintf(why, len, "unknown counter '%s'", name);
		return -1;
	}
	if (papi_start_library()) {
		snprintf(why, len, "cannot check counter '%s': %s", name, lib.why);
		return -1;
	}
	if (PAPI_event_name_to_code((char *)name, &code) != PAPI_OK) {
		snprintf(why, len, "unknown counter '%s'", name);
		return -1;
	}
	return 0;
}

const char *ctr_hw_unavailable(void)
{
	static char why[192];
	int paranoid = -9;
	FILE *f;

	if (access("/sys/bus/event_source/devices/cpu", F_OK) == 0 ||
	    access("/sys/bus/event_source/devices/cpu_core", F_OK) == 0)
		return NULL;
	f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	if (f) {
		if (fscanf(f, "%d", &paranoid) != 1)
			paranoid = -9;
		fclose(f);
	}
	snprintf(why, sizeof why,
		 "no CPU PMU in /sys/bus/event_source/devices (a VM without a virtual PMU); perf_event_paranoid %d",
		 paranoid);
	return why;
}

/* FP-operation events, best first: Intel's scaled SP count, the generic
 * preset, and AMD's native retired-FLOPs event (Zen 4/5 have no preset in
 * Debian's PAPI 7.0). */
static const char *const fp_events[] = {
	"PAPI_SP_OPS", "PAPI_FP_OPS", "RETIRED_SSE_AVX_FLOPS:ANY",
};

/* Last-level-cache miss events, best first. */
static const char *const llc_events[] = { "PAPI_L3_TCM", "PAPI_LLC_MISSES" };

int ctr_available(const char *name)
{
	struct ctr_event ev = { 0 };

	if (papi_start_library())
		return 0;
	snprintf(ev.name, sizeof ev.name, "%s", name);
	return probe_hw(&ev) == 0;
}

int ctr_default_names(const char **names, int max)
{
	int n = 0;
	static char sde[8][40];

	for (int i = 0; i < ctr_sde_count && n < max && i < 8; i++) {
		snprintf(sde[i], sizeof sde[i], "sabench::%s", ctr_sde_names[i]);
		names[n++] = sde[i];
	}
	if (n < max)
		names[n++] = "PAPI_TOT_CYC";
	if (n < max)
		names[n++] = "PAPI_TOT_INS";
	for (size_t i = 0; i < sizeof fp_events / sizeof *fp_events && n < max; i++)
		if (ctr_available(fp_events[i])) {
			names[n++] = fp_events[i];
			break;
		}
	for (size_t i = 0; i < sizeof llc_events / sizeof *llc_events && n < max; i++)
		if (ctr_available(llc_events[i])) {
			names[n++] = llc_events[i];
			break;
		}
	return n;
}

static int listed(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, list[i]) || (!strncmp(list[i], name, strlen(name)) &&
					       list[i][strlen(name)] == ':'))
			return 1;
	return 0;
}

void ctr_roles_of(char *const *names, int n, struct ctr_roles *r)
{
	r->cycles = r->instructions = r->fp = r->llc_miss = -1;
	for (int i = 0; i < n; i++) {
		if (!strcmp(names[i], "PAPI_TOT_CYC"))
			r->cycles = i;
		else if (!strcmp(names[i], "PAPI_TOT_INS"))
			r->instructions = i;
		else if (r->fp < 0 && listed(names[i], fp_events, sizeof fp_events / sizeof *fp_events))
			r->fp = i;
		else if (r->llc_miss < 0 && listed(names[i], llc_events, sizeof llc_events / sizeof *llc_events))
			r->llc_miss = i;
	}
}

/* Tries ev alone on this thread: 0 when it can be counted. */
static int probe_hw(struct ctr_event *ev)
{
	int es = PAPI_NULL, rc;
	long long v;
	const char *pmu = ctr_hw_unavailable();

	if (PAPI_create_eventset(&es) != PAPI_OK) {
		snprintf(ev->why, sizeof ev->why, "cannot create a PAPI event set");
		return -1;
	}
	rc = PAPI_add_named_event(es, ev->name);
	if (rc == PAPI_OK) {
		rc = PAPI_start(es);
		if (rc == PAPI_OK)
			PAPI_stop(es, &v);
	}
	if (rc != PAPI_OK)
		snprintf(ev->why, sizeof ev->why, "not countable here: %s%s%s",
			 PAPI_strerror(rc), pmu ? "; " : "", pmu ? pmu : "");
	PAPI_cleanup_eventset(es);
	PAPI_destroy_eventset(&es);
	return rc == PAPI_OK ? 0 : -1;
}

void ctr_describe(void (*line)(const char *text))
{
	char buf[512];
	const char *pmu = ctr_hw_unavailable();
	int ncomp;

	snprintf(buf, sizeof buf, "PAPI version: %s", ctr_papi_version());
	line(buf);
	if (lib.state < 0)
		return;
	line("components:");
	ncomp = PAPI_num_components();
	for (int c = 0; c < ncomp; c++) {
		const PAPI_component_info_t *ci = PAPI_get_component_info(c);
		if (!ci)
			continue;
		snprintf(buf, sizeof buf, "  %-18s %s%s%s", ci->name,
			 ci->disabled ? "disabled: " : "enabled",
			 ci->disabled ? ci->disabled_reason : "",
			 !ci->disabled && !strcmp(ci->name, "perf_event") && pmu
				 ? " (but no events can start)" : "");
		line(buf);
	}
	snprintf(buf, sizeof buf, "hardware events: %s",
		 pmu ? pmu : "a CPU PMU is present");
	line(buf);
	line("presets available here:");
	{
		int code = PAPI_PRESET_MASK, shown = 0;
		PAPI_event_info_t info;
		if (PAPI_enum_event(&code, PAPI_ENUM_FIRST) == PAPI_OK) {
			do {
				if (PAPI_get_event_info(code, &info) == PAPI_OK &&
				    info.count > 0) {
					snprintf(buf, sizeof buf, "  %-14s %s",
						 info.symbol, info.short_descr);
					line(buf);
					shown++;
				}
			} while (PAPI_enum_event(&code, PAPI_PRESET_ENUM_AVAIL) == PAPI_OK);
		}
		if (!shown)
			line("  (none)");
	}
	line("sabench software events (PAPI SDE, always available):");
	for (int i = 0; i < ctr_sde_count; i++) {
		snprintf(buf, sizeof buf, "  sabench::%s", ctr_sde_names[i]);
		line(buf);
	}
	line("AMD Zen 4/5 (no presets in PAPI 7.0): use native names, e.g.");
	line("  RETIRED_SSE_AVX_FLOPS:ANY, CYCLES_NOT_IN_HALT, RETIRED_INSTRUCTIONS,");
	line("  LS_DMND_FILLS_FROM_SYS:DRAM_IO_NEAR");
}

int ctr_probe(struct ctr_event *ev)
{
	return probe_hw(ev);
}

const char *ctr_library_problem(void)
{
	return papi_start_library() ? lib.why : NULL;
}
