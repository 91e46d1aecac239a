/* manifest.c - writes manifest.yaml: experiment as resolved (axes, pattern
 * variants, kernels, run settings), machine facts from /proc and /sys,
 * build facts baked in by the Makefile, OpenMP and PAPI settings. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../../kernels/kvcache.h"
#include "../../kernels/isa/simd.h"
#include "manifest.h"

#ifndef SABENCH_GIT
#define SABENCH_GIT "unknown"
#endif
#ifndef SABENCH_CFLAGS
#define SABENCH_CFLAGS "unknown"
#endif
#ifndef SABENCH_VERSION
#define SABENCH_VERSION "0.1.0"
#endif

/* Writes s as a double-quoted YAML scalar. */
static void yq(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* First value of "key" in /proc/cpuinfo, into buf; "unknown" if none. */
static const char *cpuinfo(const char *key, char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	size_t kl = strlen(key);

	snprintf(buf, len, "unknown");
	if (!f)
		return buf;
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, key, kl) != 0 || !colon)
			continue;
		colon += 1 + (colon[1] == ' ');
		colon[strcspn(colon, "\n")] = 0;
		snprintf(buf, len, "%s", colon);
		break;
	}
	fclose(f);
	return buf;
}

const char *manifest_cpu_model(void)
{
	static char model[256];

	return cpuinfo("model name", model, sizeof model);
}

long long manifest_proc_kb(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long long kb = -1;
	size_t kl = strlen(key);

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			kb = atoll(line + kl + 1);
			break;
		}
	fclose(f);
	return kb;
}

/* Reads a one-line sysfs file into buf; 0 on success. */
static int read_small(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, (int)len, f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static void write_caches(FILE *f)
{
	int shown = 0;

	fputs("  caches:\n", f);
	for (int i = 0; i < 8; i++) {
		char path[128], level[16], type[32], size[32];
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
		if (read_small(path, level, sizeof level))
			break;
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
		if (read_small(path, type, sizeof type))
			snprintf(type, sizeof type, "unknown");
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
		if (read_small(path, size, sizeof size))
			snprintf(size, sizeof size, "unknown");
		fprintf(f, "    - {level: %s, type: %s, size: %s}\n", level, type, size);
		shown++;
	}
	if (!shown)
		fputs("    - unknown (no /sys/devices/system/cpu/cpu0/cache here)\n", f);
}

static void write_machine(FILE *f)
{
	char buf[256], host[256] = "unknown";
	struct utsname u;

	fputs("machine:\n  host: ", f);
	gethostname(host, sizeof host - 1);
	yq(f, host);
	fputs("\n  cpu: ", f);
	yq(f, manifest_cpu_model());
	fprintf(f, "\n  cores_online: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	fprintf(f, "  cpu_mhz: %s\n", cpuinfo("cpu MHz", buf, sizeof buf));
	fprintf(f, "  memory_total_bytes: %lld\n", manifest_proc_kb("/proc/meminfo", "MemTotal") * 1024);
	fprintf(f, "  memory_available_bytes: %lld\n",
		manifest_proc_kb("/proc/meminfo", "MemAvailable") * 1024);
	write_caches(f);
	if (uname(&u) == 0) {
		fputs("  kernel: ", f);
		snprintf(buf, sizeof buf, "%s %s %s", u.sysname, u.release, u.machine);
		yq(f, buf);
		fputc('\n', f);
	}
	/* what the CPU runs, from CPUID (a /proc/cpuinfo flags line is longer
	 * than any fixed buffer worth having) */
	fprintf(f, "  simd: {avx512: %s, avx2: %s}\n",
		kern_isa_unsupported(KERN_AVX512) ? "false" : "true",
		kern_isa_unsupported(KERN_AVX2) ? "false" : "true");
}

static void write_build_and_env(FILE *f)
{
	const char *bind = getenv("OMP_PROC_BIND"), *places = getenv("OMP_PLACES");

	fputs("build:\n  sabench: " SABENCH_VERSION "\n  git: ", f);
	yq(f, SABENCH_GIT);
	fputs("\n  compiler: ", f);
	yq(f, "gcc " __VERSION__);
	fputs("\n  cflags: ", f);
	yq(f, SABENCH_CFLAGS);
	fprintf(f, "\nopenmp:\n  version: %d\n  max_threads: %d\n", _OPENMP,
		omp_get_max_threads());
	fputs("  OMP_PROC_BIND: ", f);
	yq(f, bind ? bind : "");
	fputs("\n  OMP_PLACES: ", f);
	yq(f, places ? places : "");
	fputc('\n', f);
}

static void write_axes(FILE *f, const struct experiment *x)
{
	fputs("  shape:\n", f);
	for (int a = 0; a < EXP_FIELD_COUNT; a++) {
		const struct exp_axis *ax = &x->axis[a];
		fprintf(f, "    %s: [", exp_fields[a].name);
		for (size_t i = 0; i < ax->n; i++) {
			if (i)
				fputs(", ", f);
			if (a == EXP_CAUSAL)
				fputs(ax->v[i] ? "true" : "false", f);
			else if (a == EXP_SCORE)
				yq(f, x->scores[ax->v[i]].label);
			else if (a == EXP_LENGTHS)
				yq(f, ax->v[i] ? x->batches[ax->v[i] - 1].label : "uniform");
			else if (a == EXP_DTYPE)
				fputs(exp_dtype_name(ax->v[i]), f);
			else if (a == EXP_KV_LAYOUT && ax->v[i] == EXP_KV_AUTO)
				fputs("auto", f);
			else if (exp_field_values((enum exp_field)a))
				fputs(exp_field_values((enum exp_field)a)[ax->v[i]], f);
			else if (a == EXP_KV_HEADS && !ax->v[i])
				fputs("heads", f);
			else if (a == EXP_HEAD_DIM_V && !ax->v[i])
				fputs("head_dim", f);
			else
				fprintf(f, "%lld", ax->v[i]);
		}
		fputs("]\n", f);
	}
}

/* The review block, as `sabench review` reads it back (sizes in bytes,
 * limits in seconds, a limit not given as 0, a target not given as -1). */
static void write_review(FILE *f, const struct exp_review *r)
{
	if (!r->given)
		return;
	fputs("  review:\n    model: ", f);
	yq(f, r->model ? r->model : "");
	fprintf(f, "\n    prompt: %ld\n    context: %ld\n    tenants: %ld\n", r->prompt, r->context, r->tenants);
	fprintf(f, "    kv_memory_bytes: %.0f\n    memory_bytes: %.0f\n    weights_bytes: %.0f\n",
		r->kv_memory, r->serving.memory, r->serving.weights);
	fprintf(f, "    ttft_s: %.9g\n    tpot_s: %.9g\n    recall: %.9g\n    error: %.9g\n",
		r->ttft_s, r->tpot_s, r->recall, r->error);
	fputs("    inputs: ", f);
	yq(f, r->inputs ? r->inputs : "");
	fprintf(f, "\n    extrapolate: %s\n", r->extrapolate ? "true" : "false");
	fprintf(f, "    kl: %.9g\n    ppl_increase: %.9g\n    needle: %.9g\n", r->kl, r->ppl_increase, r->needle);
}

/* The e2e block: the model, the text and the designs by pattern label. */
static void write_e2e(FILE *f, const struct experiment *x)
{
	const struct exp_e2e *e = &x->e2e;

	if (!e->given)
		return;
	fputs("  e2e:\n    gguf: ", f);
	yq(f, e->gguf);
	fputs("\n    text: ", f);
	yq(f, e->text);
	fprintf(f, "\n    needle: %s\n    decode_steps: %ld\n    score_last: %ld\n    designs:\n",
		e->needle ? "true" : "false", e->decode_steps, e->score_last);
	for (size_t i = 0; i < e->n_des; i++) {
		fputs("      - {pattern: ", f);
		yq(f, x->pat[e->des[i].pat].label);
		fputs(", layers: ", f);
		yq(f, e->des[i].layers);
		fputs("}\n", f);
	}
}

static void write_experiment(FILE *f, const struct experiment *x)
{
	const struct exp_run *r = &x->run;

	fputs("experiment:\n  name: ", f);
	yq(f, x->name);
	fputs("\n  file: ", f);
	yq(f, x->path);
	fputs("\n  description: ", f);
	yq(f, x->description ? x->description : "");
	fputc('\n', f);
	write_axes(f, x);
	if (x->n_batches)
		fputs("  batches:\n", f);
	for (size_t i = 0; i < x->n_batches; i++) {
		const struct exp_batch *b = &x->batches[i];
		fputs("    - {label: ", f);
		yq(f, b->label);
		fputs(", lengths: [", f);
		for (long s = 0; s < b->n; s++)
			fprintf(f, "%s%ld", s ? ", " : "", b->len[s]);
		fputs("], new: [", f);
		for (long s = 0; s < b->n; s++)
			fprintf(f, "%s%ld", s ? ", " : "", b->new_tokens[s]);
		fputs("]}\n", f);
	}
	fputs("  patterns:\n", f);
	for (size_t i = 0; i < x->n_pat; i++) {
		char spec[8192];
		fputs("    - {label: ", f);
		yq(f, x->pat[i].label);
		fprintf(f, ", kind: %s, spec: ", x->pat[i].kind->name);
		if (pat_to_spec(&x->pat[i], spec, sizeof spec) == 0)
			yq(f, spec);
		else
			fputs("null", f);
		fputs("}\n", f);
	}
	fputs("  inputs:\n", f);
	for (size_t i = 0; i < x->n_inputs; i++) {
		const struct exp_input *in = &x->inputs[i];
		fputs("    - {label: ", f);
		yq(f, in->label);
		fprintf(f, ", kind: %s", in->kind->name);
		for (int j = 0; j < in->kind->n_params; j++) {
			const struct pat_param *d = &in->kind->params[j];
			fprintf(f, ", %s: ", d->name);
			if (d->type == PAT_INT)
				fprintf(f, "%lld", in->val[j].i);
			else if (d->type == PAT_FLOAT)
				fprintf(f, "%g", in->val[j].f);
			else if (d->type == PAT_PATH)
				yq(f, in->val[j].path);
			else
				for (size_t w = 0; w < in->val[j].words.n; w++)
					fprintf(f, "%s%s%s", w ? ", " : "[", d->choices[in->val[j].words.v[w]],
						w + 1 == in->val[j].words.n ? "]" : "");
		}
		fputs("}\n", f);
	}
	fprintf(f, "  quality: {enabled: %s, rows: %d, target: %g}\n",
		x->quality.enabled ? "true" : "false", x->quality.rows, x->quality.target);
	fputs("  kernels:\n", f);
	for (size_t i = 0; i < x->n_kern; i++) {
		const struct kern_desc *k = x->kern[i];
		const char *why = k->unavailable ? k->unavailable() : NULL;
		fprintf(f, "    - {name: %s, isa: %s", k->name,
			k->simd ? kern_isa_name(kern_desc_isa(k, 0)) : "compiler");
		if (k->simd && !why && !(k->no_bf16 && k->no_bf16()))
			fprintf(f, ", isa_bf16: %s", kern_isa_name(kern_desc_isa(k, 1)));
		if (why) {
			fputs(", unavailable: ", f);
			yq(f, why);
		} else if (k->info) {
			fputs(", info: ", f);
			yq(f, k->info());
		}
		fputs("}\n", f);
	}
	if (x->kv_budget > 0)
		fprintf(f, "  kv_budget_bytes: %.0f\n", x->kv_budget);
	if (x->n_models)
		fputs("  models:\n", f);
	for (size_t i = 0; i < x->n_models; i++) {
		const struct exp_model *m = &x->models[i];
		fputs("    - name: ", f);
		yq(f, m->name);
		fprintf(f, "\n      kv_heads: %d\n      head_dim: %d\n      head_dim_v: %d\n      kv_latent: %s\n"
			"      kv_dtype: %s\n", m->kv_heads, m->head_dim, m->head_dim_v,
			m->kv_latent ? "true" : "false", dtype_names[m->kv_dtype]);
		if (m->serving.memory > 0)
			fprintf(f, "      serving: {memory_bytes: %.0f, weights_bytes: %.0f}\n",
				m->serving.memory, m->serving.weights);
		if (m->prefill_chunk)
			fprintf(f, "      prefill_chunk: %ld\n", m->prefill_chunk);
		fputs("      layers:\n", f);
		for (size_t j = 0; j < m->n_layer; j++) {
			char spec[8192];
			fprintf(f, "        - {count: %ld, pattern: ", m->layer[j].count);
			yq(f, x->pat[m->layer[j].pat].label);
			fputs(", spec: ", f);
			yq(f, pat_to_spec(&x->pat[m->layer[j].pat], spec, sizeof spec) ? "" : spec);
			fputs("}\n", f);
		}
	}
	write_review(f, &x->review);
	write_e2e(f, x);
	fprintf(f, "  run: {warmup: %d, repeats: %d, min_time_ms: %g, verify: %s, verify_rows: %d, seed: %llu, interleave: %s}\n",
		r->warmup, r->repeats, r->min_time_ms, r->verify ? "true" : "false",
		r->verify_rows, r->seed, r->interleave == EXP_INTERLEAVE_ACROSS ? "across_groups" : "within_groups");
}

static void write_counters(FILE *f, const struct manifest *m)
{
	const char *hw = ctr_hw_unavailable();

	fputs("papi:\n  version: ", f);
	yq(f, ctr_papi_version());
	fputs("\n  hardware_counters: ", f);
	yq(f, hw ? hw : "available");
	fputs("\n  counters:\n", f);
	if (!m->ctr || !m->ctr->n) {
		fputs("    []\n", f);
		return;
	}
	fprintf(f, "    multiplexed: %s\n", m->ctr->multiplexed ? "true" : "false");
	fputs("    events:\n", f);
	for (int i = 0; i < m->ctr->n; i++) {
		const struct ctr_event *ev = &m->ctr->ev[i];
		fputs("      - {name: ", f);
		yq(f, ev->name);
		fprintf(f, ", kind: %s, counted: %s", ev->sde ? "software" : "hardware",
			ev->counted ? "true" : "false");
		if (!ev->counted) {
			fputs(", why: ", f);
			yq(f, ev->why);
		}
		fputs("}\n", f);
	}
}

static void write_time(FILE *f, const char *key, time_t t)
{
	char buf[64];

	if (!t) {
		fprintf(f, "  %s: null\n", key);
		return;
	}
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	fprintf(f, "  %s: %s\n", key, buf);
}

/* The run block's first lines have a fixed width (status and reason
 * padded with spaces), so that manifest_mark can change them in place on a
 * full disk, where a new file cannot be written. */
#define STATUS_WIDTH 11         /* "interrupted" */
#define REASON_WIDTH 400        /* bytes of the quoted reason and its padding */

/* The quoted, escaped reason cut to fit REASON_WIDTH, padded with spaces. */
static void reason_field(const char *reason, char *out)
{
	char buf[4 * REASON_WIDTH + 3];
	FILE *mem = fmemopen(buf, sizeof buf, "w");
	size_t n;

	memset(out, ' ', REASON_WIDTH);
	out[REASON_WIDTH] = 0;
	if (!mem)
		return;
	yq(mem, reason ? reason : "");
	fclose(mem);
	buf[sizeof buf - 1] = 0;
	n = strlen(buf);
	if (n > REASON_WIDTH) {                 /* cut inside the quotes, on a whole escape */
		size_t cut = 1;
		for (size_t i = 1; i < n;) {    /* yq's escapes: \xHH, or \ and one character */
			size_t step = buf[i] != '\\' ? 1 : buf[i + 1] == 'x' ? 4 : 2;
			if (i + step > REASON_WIDTH - 4)
				break;
			i += step;
			cut = i;
		}
		n = cut;
		memcpy(out, buf, n);
		memcpy(out + n, "...\"", 4);
	} else {
		memcpy(out, buf, n);
	}
}

int manifest_mark(const char *dir, const char *status, const char *reason, struct err *e)
{
	char path[4200], line[REASON_WIDTH + 64], field[REASON_WIDTH + 1];
	FILE *f;
	long at = 0;
	int done = 0;

	snprintf(path, sizeof path, "%s/manifest.yaml", dir);
	f = fopen(path, "r+");
	if (!f)
		return err_set(e, "cannot mark '%s': %s", path, strerror(errno));
	while (done < 2 && fgets(line, sizeof line, f)) {
		long next = ftell(f);
		if (!strncmp(line, "  status: ", 10) && strlen(line) == 10 + STATUS_WIDTH + 1) {
			fseek(f, at + 10, SEEK_SET);
			fprintf(f, "%-*.*s", STATUS_WIDTH, STATUS_WIDTH, status);
			done++;
		} else if (!strncmp(line, "  reason: ", 10) && strlen(line) == 10 + REASON_WIDTH + 1) {
			reason_field(reason, field);
			fseek(f, at + 10, SEEK_SET);
			fputs(field, f);
			done++;
		}
		fseek(f, next, SEEK_SET);
		at = next;
	}
	if (fflush(f) | ferror(f) | fclose(f) || done < 2)
		return err_set(e, "cannot mark '%s' %s", path, status);
	return 0;
}

int manifest_write(const char *dir, const struct manifest *m, struct err *e)
{
	char reason[REASON_WIDTH + 1];

	char path[4200], tmp[4300];
	FILE *f;

	snprintf(path, sizeof path, "%s/manifest.yaml", dir);
	snprintf(tmp, sizeof tmp, "%s/manifest.yaml.tmp", dir);
	f = fopen(tmp, "w");
	if (!f)
		return err_set(e, "cannot write '%s': %s", tmp, strerror(errno));
	reason_field(m->reason, reason);
	fprintf(f, "# sabench run manifest\nrun:\n  status: %-*s\n  reason: %s\n", STATUS_WIDTH,
		m->status, reason);
	if (m->shard_n > 0)
		fprintf(f, "  shard: {index: %d, count: %d}\n", m->shard_k, m->shard_n);
	write_time(f, "start", m->start);
	write_time(f, "end", m->end);
	fprintf(f, "  cells: %zu\n  resumed: %zu\n  ok: %zu\n  skipped: %zu\n  failed: %zu\n",
		m->cells, m->resumed, m->ok, m->skipped, m->failed);
	write_experiment(f, m->x);
	write_machine(f);
	write_build_and_env(f);
	write_counters(f, m);
	fputs("ceilings: ", f);
	yq(f, m->machine_file ? m->machine_file : "none (run 'sabench machine' for pct_peak)");
	fputc('\n', f);
	if (ferror(f) | fclose(f) || rename(tmp, path)) {
		int err_no = errno;
		unlink(tmp);
		return err_set(e, "cannot write '%s': %s", path, strerror(err_no));
	}
	return 0;
}
