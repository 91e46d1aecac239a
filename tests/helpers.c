/* helpers.c - test fixtures shared by the test files. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness/config/experiment.h"
#include "../kernels/kvcache.h"
#include "helpers.h"

static float seeded(unsigned long long i)
{
	i = (i + 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
	i ^= i >> 31;
	i *= 0x94d049bb133111ebULL;
	i ^= i >> 29;
	return (float)((double)(i >> 11) * 0x1.0p-52 - 1.0);
}

static float *filled(size_t n, unsigned long long salt, float scale)
{
	float *x = malloc((n ? n : 1) * sizeof *x);

	cr_assert_not_null(x);
	for (size_t i = 0; i < n; i++)
		x[i] = scale * seeded(i * 7919 + salt);
	return x;
}

const char *const fx_every_kind[] = {
	"dense",
	"window: {size: 7}",
	"sink_window: {sinks: 3, size: 6}",
	"dilated: {size: 4, dilation: 3}",
	"strided: {stride: 5}",
	"fixed: {block: 6, summary: 2}",
	"chunked: {size: 9}",
	"prefix_lm: {prefix: 11}",
	"document: {lengths: [10, 17, 5]}",
	"global: {tokens: [0, 13]}",
	"random: {density: 0.2, seed: 3, per_head: true}",
	"bigbird: {block: 4, window_blocks: 3, global_blocks: 1, random_blocks: 2, seed: 1}",
	"ds_fixed: {block: 4, local_blocks: 4, global_blocks: 1, different_per_head: true}",
	"bslongformer: {block: 4, window_blocks: 3, global_block_indices: [0, 6]}",
	"union: [{window: {size: 4}}, {global: {tokens: [0, 1, 2]}}]",
	"intersection: [{window: {size: 12}}, {strided: {stride: 3}}]",
	"difference: [{chunked: {size: 16}}, {window: {size: 2}}]",
	"per_head: [{window: {size: 5}}, dense, {strided: {stride: 4}}]",
	"explicit: {rows: [[0], [], [1, 2], [0, 3]]}",
};

const size_t fx_every_kind_count = sizeof fx_every_kind / sizeof *fx_every_kind;

const struct fx_shape fx_edge[] = {
	{ "dense", 1, 1, 1, 1, 4 },                     /* n = 1 */
	{ "window: {size: 9}", 1, 77, 4, 2, 16 },       /* n off the tile, GQA */
	{ "sink_window: {sinks: 2, size: 7}", 1, 45, 2, 2, 80 },       /* head_dim 80 */
	{ "dense", 1, 70, 6, 3, 1 },                    /* head_dim 1, GQA 6 / 3 */
	{ "dense", 0, 29, 2, 1, 8 },                    /* bidirectional */
	{ "explicit: {rows: [[0], [], [0, 2], [1, 3], []]}", 1, 7, 2, 2, 8 },  /* empty rows */
	{ "random: {density: 0.3, seed: 5}", 1, 130, 2, 1, 64 },      /* scattered keys */
	{ "sink_window: {sinks: 4, size: 40}", 1, 400, 2, 1, 32 },    /* rows over two runs of blocks */
};

const size_t fx_edge_count = sizeof fx_edge / sizeof *fx_edge;

void fx_make(struct fixture *fx, const char *spec, int causal, long n,
	     int batch, int heads, int kv_heads, int d, float scale)
{
	fx_make_dv(fx, spec, causal, n, batch, heads, kv_heads, d, d, scale);
}

void fx_make_dv(struct fixture *fx, const char *spec, int causal, long n,
		int batch, int heads, int kv_heads, int d, int dv, float scale)
{
	struct err e;
	char why[256];
	size_t nq = (size_t)batch * heads * n * d, nkv = (size_t)batch * kv_heads * n * d;
	size_t nv = (size_t)batch * kv_heads * n * dv, no = (size_t)batch * heads * n * dv;

	memset(fx, 0, sizeof *fx);
	cr_assert_eq(exp_parse_spec(spec, causal, &fx->pat, &e), 0, "%s", e.msg);
	cr_assert_eq(gset_build(&fx->g, &fx->pat, n, n, heads, why, sizeof why), 0,
		     "%s", why);
	fx->q = filled(nq, 1, scale);
	fx->k = filled(nkv, 2, scale);
	fx->v = filled(nv, 3, 1.0f);
	fx->o = calloc(no ? no : 1, sizeof *fx->o);
	fx->p = (struct problem){ .batch = batch, .heads = heads, .kv_heads = kv_heads,
				  .n_q = n, .n_kv = n, .d = d, .dv = dv,
				  .q = fx->q, .k = fx->k, .v = fx->v, .o = fx->o,
				  .g = &fx->g };
}

void fx_free(struct fixture *fx)
{
	gset_free(&fx->g);
	pat_free(&fx->pat);
	free(fx->q);
	free(fx->k);
	free(fx->v);
	free(fx->o);
	free(fx->q16);
	free(fx->k16);
	free(fx->v16);
}

static uint16_t *rounded(float *x, size_t n)
{
	uint16_t *h = malloc((n ? n : 1) * sizeof *h);

	cr_assert_not_null(h);
	kern_bf16_inputs(x, h, n);
	return h;
}

void fx_bf16(struct fixture *fx)
{
	struct problem *p = &fx->p;
	size_t nq = (size_t)p->batch * p->heads * p->n_q * p->d;
	size_t nkv = (size_t)p->batch * p->kv_heads * p->n_kv * p->d;
	size_t nv = (size_t)p->batch * p->kv_heads * p->n_kv * kern_dv(p);

	fx->q16 = rounded(fx->q, nq);
	fx->k16 = rounded(fx->k, nkv);
	fx->v16 = rounded(fx->v, nv);
	p->dtype = DT_BF16;
	p->q16 = fx->q16;
	p->k16 = fx->k16;
	p->v16 = fx->v16;
}

double fx_max_err(struct fixture *fx, const struct kern_desc *k, int threads,
		  long *nonfinite)
{
	const struct problem *p = &fx->p;
	double *ref = malloc((size_t)kern_dv(p) * sizeof *ref), worst = 0;
	void *ws = NULL;

	cr_assert_not_null(ref);
	*nonfinite = 0;
	if ((k->unavailable && k->unavailable()) || (k->decode && !fx->g.causal)) {
		free(ref);
		return 0.0;     /* not built here, or decoding a bidirectional set */
	}
	omp_set_num_threads(threads);
	cr_assert_eq(k->prepare(p, threads, &ws), 0, "prepare of '%s' failed", k->name);
	k->run(p, ws);
	k->release(ws);
	*nonfinite = 0;
	for (int b = 0; b < p->batch; b++)
		for (int h = 0; h < p->heads; h++)
			for (long r = 0; r < p->n_q; r++) {
				const float *o = p->o + kern_o_off(p, b, h) + (size_t)r * kern_dv(p);
				kern_oracle_row(p, b, h, r, ref);
				for (int c = 0; c < kern_dv(p); c++) {
					if (!isfinite(o[c]))
						(*nonfinite)++;
					else if (fabs(o[c] - ref[c]) > worst)
						worst = fabs(o[c] - ref[c]);
				}
			}
	free(ref);
	return worst;
}

/* Reads all of fd into a malloc'ed string. */
static char *slurp(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t got;

	while (buf && (got = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)got;
		if (cap - len < 2) {
			char *more = realloc(buf, cap * 2);
			if (!more) {
				free(buf);
				return NULL;
			}
			buf = more;
			cap *= 2;
		}
	}
	if (buf)
		buf[len] = 0;
	return buf;
}

int run_bin(char *const argv[], char **out, char **err)
{
	const char *bin = getenv("SABENCH_BIN");
	char tmpl_out[] = "/tmp/sabench-out-XXXXXX", tmpl_err[] = "/tmp/sabench-err-XXXXXX";
	int fo = mkstemp(tmpl_out), fe = mkstemp(tmpl_err), status;
	pid_t pid;

	cr_assert_not_null(bin, "SABENCH_BIN is not set; run the tests through make test");
	cr_assert(fo >= 0 && fe >= 0);
	unlink(tmpl_out);
	unlink(tmpl_err);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(fo, 1);
		dup2(fe, 2);
		execv(bin, argv);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	lseek(fo, 0, SEEK_SET);
	lseek(fe, 0, SEEK_SET);
	if (out)
		*out = slurp(fo);
	if (err)
		*err = slurp(fe);
	close(fo);
	close(fe);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const char *root_path(const char *rel)
{
	static char buf[4096];
	const char *root = getenv("SABENCH_ROOT");

	snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", rel);
	return buf;
}

void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot write %s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

char *read_text(const char *path)
{
	int fd = open(path, O_RDONLY);
	char *s;

	if (fd < 0)
		return NULL;
	s = slurp(fd);
	close(fd);
	return s;
}

/* The tag of a test's temporary folders: a hash of its suite and name,
 * the same in the test's process and in the runner's report hook. With
 * the runner's pid beside it (the test's parent, the hook's own), two
 * suites at once (make test beside make check) keep to their folders. */
static unsigned long test_tag(const struct criterion_test *t)
{
	unsigned long h = 5381;

	for (const char *s = t->category; s && *s; s++)
		h = h * 33 + (unsigned char)*s;
	h = h * 33 + '/';
	for (const char *s = t->name; s && *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h & 0xffffffffUL;
}

const char *temp_dir(void)
{
	static char dir[64];

	snprintf(dir, sizeof dir, "/tmp/sabench-test-%ld-%08lx-XXXXXX", (long)getppid(),
		 test_tag(criterion_current_test));
	cr_assert_not_null(mkdtemp(dir));
	return dir;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

/* After each test, in the runner: the test's temporary folders go when it
 * passed, and stay, named, when it did not (to look into). */
ReportHook(POST_TEST)(struct criterion_test_stats *stats)
{
	char pattern[64];
	glob_t g;

	snprintf(pattern, sizeof pattern, "/tmp/sabench-test-%ld-%08lx-*", (long)getpid(), test_tag(stats->test));
	if (glob(pattern, 0, NULL, &g))
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		if (stats->test_status == CR_STATUS_PASSED)
			nftw(g.gl_pathv[i], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		else
			fprintf(stderr, "%s::%s failed: its folder '%s' is kept\n", stats->test->category,
				stats->test->name, g.gl_pathv[i]);
	}
	globfree(&g);
}

int count_lines(const char *text)
{
	int n = 0;

	for (; text && *text; text++)
		n += *text == '\n';
	return n;
}

/* Splits one CSV line (no trailing newline) into malloc'ed fields. */
static char **split_line(const char *line, int *n)
{
	char **f = NULL;
	int cap = 0;
	const char *s = line;

	*n = 0;
	for (;;) {
		char *buf = malloc(strlen(s) + 1), *w = buf;
		int quoted = *s == '"';
		if (quoted)
			s++;
		for (; *s; s++) {
			if (quoted && s[0] == '"' && s[1] == '"') {
				*w++ = '"';
				s++;
			} else if (quoted && *s == '"') {
				quoted = 0;
			} else if (!quoted && *s == ',') {
				break;
			} else {
				*w++ = *s;
			}
		}
		*w = 0;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			f = realloc(f, (size_t)cap * sizeof *f);
		}
		f[(*n)++] = buf;
		if (*s != ',')
			return f;
		s++;
	}
}

void csv_load(struct csv *t, const char *path)
{
	char *text = read_text(path), *line, *save = NULL;
	int n;

	cr_assert_not_null(text, "cannot read %s", path);
	memset(t, 0, sizeof *t);
	line = strtok_r(text, "\n", &save);
	cr_assert_not_null(line, "%s is empty", path);
	t->head = split_line(line, &t->ncol);
	while ((line = strtok_r(NULL, "\n", &save))) {
		t->row = realloc(t->row, (size_t)(t->nrow + 1) * sizeof *t->row);
		t->row[t->nrow] = split_line(line, &n);
		cr_assert_eq(n, t->ncol, "%s row %d has %d fields, header %d", path, t->nrow, n, t->ncol);
		t->nrow++;
	}
	free(text);
}

int csv_col(const struct csv *t, const char *name)
{
	for (int j = 0; j < t->ncol; j++)
		if (!strcmp(t->head[j], name))
			return j;
	cr_assert_fail("no column %s", name);
	return -1;
}

const char *csv_get(const struct csv *t, int i, const char *name)
{
	return t->row[i][csv_col(t, name)];
}

void csv_free(struct csv *t)
{
	for (int i = 0; i < t->nrow; i++) {
		for (int j = 0; j < t->ncol; j++)
			free(t->row[i][j]);
		free(t->row[i]);
	}
	for (int j = 0; j < t->ncol; j++)
		free(t->head[j]);
	free(t->head);
	free(t->row);
}

void run_yaml_results(const char *yaml, struct csv *t)
{
	const char *dir = temp_dir();
	char path[512], out[512], csv[600];
	char *argv[] = { "sabench", "run", path, "-o", out, NULL };

	snprintf(path, sizeof path, "%s/experiment.yaml", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	write_text(path, yaml);
	cr_assert_eq(run_bin(argv, NULL, NULL), 0, "sabench run failed on:\n%s", yaml);
	snprintf(csv, sizeof csv, "%s/results.csv", out);
	csv_load(t, csv);
}

const char *const fx_small_run =
	"name: small\n"
	"shape: {heads: 2, head_dim: 16, threads: 1}\n"
	"sweep: {seq_len: [40, 80, 120]}\n"
	"patterns: [dense, {window: {size: 8}}]\n"
	"kernels: [naive, tiled]\n"
	"run: {warmup: 0, repeats: 2, min_time_ms: 0}\n"
	"counters: [sabench::pairs]\n";

int count_words(const char *text)
{
	int n = 0;

	for (const char *c = text; *c; c++)
		n += *c != ' ' && (c == text || c[-1] == ' ');
	return n;
}

/* Runs the decode kernel over the last `tokens` of fx through a cache of
 * layout l and type t, one by one (chunk 0) or as one chunk (1); *out
 * gets a copy of the outputs (free it), *cost the kernel's cost model.
 * Returns the largest error against the oracle on the values the cache
 * holds. */
long long fx_run_tallied(struct fixture *fx, const struct kern_desc *k, long long *pairs)
{
	struct kern_tally tally[2];
	long long flops = 0;
	void *ws;

	memset(tally, 0, sizeof tally);
	fx->p.tally = tally;
	omp_set_num_threads(2);
	cr_assert_eq(k->prepare(&fx->p, 2, &ws), 0, "prepare of '%s' failed", k->name);
	k->run(&fx->p, ws);
	k->release(ws);
	fx->p.tally = NULL;
	if (pairs)
		*pairs = tally[0].pairs + tally[1].pairs;
	for (int t = 0; t < 2; t++)
		flops += tally[t].flops;
	return flops;
}

void fx_cache_every_type(struct fixture *fx, long steps, enum kv_layout l, long ring,
			 long sinks, const char *what)
{
	for (int t = 0; t < DT_COUNT; t++)
		for (int chunk = 0; chunk < 2; chunk++) {
			long r = ring ? ring + (chunk ? steps - 1 : 0) : 0;
			double e;
			if (chunk && r && dtype_of((enum dtype)t)->form == DT_FORM_KIVI)
				r = (r + 15) / 16 * 16;
			e = fx_cache_run(fx, steps, l, (enum dtype)t, r, sinks, chunk, NULL, NULL);
			cr_assert(e <= dtype_of(DT_F32)->max_abs, "%s: %s %s%s: %g", what, kv_layout_names[l],
				  dtype_names[t], chunk ? " chunked" : "", e);
		}
}

double fx_cache_run(struct fixture *fx, long tokens, enum kv_layout l, enum dtype t,
			long ring, long sinks, int chunk, float **out, struct kern_cost *cost)
{
	const struct kern_desc *k = kern_find("decode");
	struct problem p = fx->p;
	struct gset g;
	struct kv_view view;
	char why[256];
	double worst = 0, *ref = malloc((size_t)kern_dv(&p) * sizeof *ref);
	size_t n_out;
	void *ws;

	cr_assert_eq(gset_build(&g, &fx->pat, tokens, p.n_kv, p.heads, why, sizeof why), 0);
	p.g = &g;
	p.n_q = tokens;
	p.chunk = chunk;
	p.kv_layout = l;
	p.kv_dtype = t;
	p.kv_ring = ring;
	p.kv_sinks = sinks;
	p.kv_group = 16;
	p.kv_residual = 24;
	n_out = (size_t)p.batch * p.heads * (size_t)tokens * kern_dv(&p);
	cr_assert(kvc_serves(&g, l, ring, sinks, chunk), "layout %s should serve this", kv_layout_names[l]);
	cr_assert_eq(kv_view_build(&view, &p, p.kv_group, p.kv_residual), 0);
	omp_set_num_threads(2);
	cr_assert_eq(k->prepare(&p, 2, &ws), 0);
	for (int rep = 0; rep < 2; rep++) {     /* a run leaves the cache as it found it */
		k->reset(&p, ws);
		k->run(&p, ws);
	}
	for (int b = 0; b < p.batch; b++)
		for (int h = 0; h < p.heads; h++)
			for (long r = 0; r < tokens; r++) {
				const float *o = p.o + kern_o_off(&p, b, h) + (size_t)r * kern_dv(&p);
				kern_oracle_row_view(&p, &view, b, h, r, ref);
				for (int c = 0; c < kern_dv(&p); c++) {
					cr_assert(isfinite(o[c]));
					worst = fmax(worst, fabs(o[c] - ref[c]));
				}
			}
	if (cost)
		k->cost(&p, 2, cost);
	if (out) {
		*out = malloc(n_out * sizeof **out);
		memcpy(*out, p.o, n_out * sizeof **out);
	}
	k->release(ws);
	kv_view_free(&view);
	gset_free(&g);
	free(ref);
	return worst;
}
