/* main.c - the sabench command line: a table of subcommands, argument
 * parsing and the only place that prints. Exit status: 0 success, 1 a run
 * failed (a cell failed, interrupted, I/O), 2 usage or input error. */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kernels/kernel.h"
#include "../patterns/gset.h"
#include "cluster/merge.h"
#include "cluster/slurm.h"
#include "config/experiment.h"
#include "config/plan.h"
#include "inputs/maps.h"
#include "out/compare.h"
#include "out/plot.h"
#include "out/report.h"
#include "out/results.h"
#include "run/counters.h"
#include "run/machine.h"
#include "run/runner.h"

#ifndef SABENCH_VERSION
#define SABENCH_VERSION "0.1.0"
#endif

struct command {
	const char *name;                       /* subcommand */
	int (*fn)(int argc, char **argv);       /* argv[0] is the name */
	const char *usage;                      /* synopsis */
	const char *help;                       /* what it does, options */
};

static const struct command commands[];

static void print_line(const char *text)
{
	printf("%s\n", text);
}

static void print_progress(const char *text)
{
	fprintf(stderr, "%s\n", text);
}

static void print_warning(const char *text)
{
	fprintf(stderr, "sabench: warning: %s\n", text);
}

static int fail(int status, const struct err *e)
{
	fprintf(stderr, "sabench: %s\n", e->msg);
	return status;
}

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "sabench: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: sabench %s\n", cmd);
	return 2;
}

static const struct command *find_command(const char *name)
{
	for (const struct command *c = commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void print_help(const struct command *c)
{
	printf("usage: sabench %s\n\n%s", c->usage, c->help);
}

/* 1 when argv holds -h or --help (then help was printed). */
static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			print_help(find_command(argv[0]));
			return 1;
		}
	}
	return 0;
}

/* Parses a whole decimal number into *out; 0 on success. */
static int parse_long(const char *s, long min, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return end == s || *end || errno || *out < min ? -1 : 0;
}

/* ---- run ---- */

/* OpenMP reads its environment when the library loads: pinning must be in
 * the environment before that, so run re-executes itself once with it. */
static void pin_threads(char **argv)
{
	if (getenv("OMP_PROC_BIND") || getenv("SABENCH_NO_PIN"))
		return;
	setenv("OMP_PROC_BIND", "close", 1);
	if (!getenv("OMP_PLACES"))
		setenv("OMP_PLACES", "cores", 1);
	execv("/proc/self/exe", argv);
	/* if exec fails we run unpinned; the manifest shows the settings */
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "resume", no_argument, NULL, 'r' },
		{ "dump", required_argument, NULL, 'd' },
		{ "shard", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = find_command("run")->usage;
	struct run_opts o = { .mode = RES_NEW, .progress = print_progress,
			      .warn = print_warning };
	struct experiment x;
	struct run_summary s;
	struct err e;
	char dir[4096];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if ((c == 'o' || c == 'd') && !*optarg)
			return usage_error(use, "%s", c == 'o' ? "-o needs a folder name, not ''"
							     : "--dump needs a folder name, not ''");
		if (c == 'o')
			o.out_dir = optarg;
		else if (c == 'f' || c == 'r') {
			if (o.mode != RES_NEW)
				return usage_error(use, "%s", "--force and --resume exclude each other");
			o.mode = c == 'f' ? RES_FORCE : RES_RESUME;
		} else if (c == 'd')
			o.dump_dir = optarg;
		else if (c == 's') {
			if (sscanf(optarg, "%d/%d", &o.shard_k, &o.shard_n) != 2 || o.shard_n < 1 ||
			    o.shard_k < 1 || o.shard_k > o.shard_n)
				return usage_error(use, "--shard must be K/N with 1 <= K <= N, not '%s'", optarg);
		} else
			return usage_error(use, "%s", "bad option");
	}
	if (optind != argc - 1)
		return usage_error(use, "%s", "run takes one experiment file");
	if (exp_load(argv[optind], &x, &e))
		return fail(2, &e);
	if (!o.out_dir && o.shard_n)
		snprintf(dir, sizeof dir, "results/%s/shards/%d-of-%d", x.name, o.shard_k, o.shard_n);
	else if (!o.out_dir)
		snprintf(dir, sizeof dir, "results/%s", x.name);
	if (!o.out_dir)
		o.out_dir = dir;
	fprintf(stderr, "sabench: running '%s' into '%s'\n", x.path, o.out_dir);
	rc = runner_run(&x, &o, &s, &e);
	if (rc) {
		exp_free(&x);
		return fail(e.usage ? 2 : 1, &e);
	}
	fprintf(stderr, "sabench: %zu cells: %zu ok, %zu skipped, %zu failed, %zu from an earlier run; %.1f s (inputs %.1f s, quality %.1f s)\n",
		s.cells, s.ok, s.skipped, s.failed, s.resumed, s.wall_s, s.inputs_s, s.quality_s);
	if (s.interrupted)
		fprintf(stderr, "sabench: interrupted; finished rows are in '%s/results.csv'; continue with: sabench run %s -o %s --resume\n",
			o.out_dir, x.path, o.out_dir);
	exp_free(&x);
	return s.failed || s.interrupted ? 1 : 0;
}

/* ---- validate ---- */

static int cmd_validate(int argc, char **argv)
{
	struct experiment x;
	struct plan pl;
	struct err e;

	if (argc != 2)
		return usage_error(find_command("validate")->usage, "%s",
				   "validate takes one experiment file");
	if (exp_load(argv[1], &x, &e))
		return fail(2, &e);
	if (plan_build(&x, &pl, &e)) {
		exp_free(&x);
		return fail(1, &e);
	}
	printf("%s: ok: %zu pattern variants x %zu kernels x %zu shapes = %zu cells\n",
	       x.path, x.n_pat, x.n_kern, pl.n / (x.n_pat * x.n_kern), pl.n);
	for (size_t i = 0; i < x.n_pat; i++)
		printf("  pattern %s\n", x.pat[i].label);
	plan_free(&pl);
	exp_free(&x);
	return 0;
}

/* ---- patterns, kernels, counters, columns ---- */

static int cmd_patterns(int argc, char **argv)
{
	static const char *type_names[] = {
		[PAT_INT] = "int", [PAT_FLOAT] = "real", [PAT_BOOL] = "bool",
		[PAT_INT_LIST] = "int list", [PAT_ROWS] = "rows", [PAT_FILE] = "file",
		[PAT_CHOICE] = "word",
	};
	static_assert(sizeof type_names / sizeof *type_names == PAT_TYPE_COUNT,
		      "type_names: one per enum pat_type");

	(void)argv;
	if (argc != 1)
		return usage_error("patterns", "%s", "patterns takes no arguments");
	printf("pattern kinds (positions 0-based; a window's size counts the query itself):\n");
	for (int i = 0; i < pat_kind_count; i++) {
		const struct pat_kind *k = pat_kinds[i];
		printf("\n%s - %s\n    %s\n", k->name, k->summary, k->formula);
		for (int j = 0; j < k->n_params; j++) {
			const struct pat_param *p = &k->params[j];
			printf("    %-10s %-8s ", p->name, type_names[p->type]);
			if (p->required)
				printf("required  ");
			else if (p->type == PAT_CHOICE)
				printf("default %s", p->choices[(int)p->def]);
			else
				printf("default %-3g", p->def);
			printf(" %s\n", p->doc);
		}
	}
	return 0;
}

static int cmd_kernels(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage_error("kernels", "%s", "kernels takes no arguments");
	for (int i = 0; i < kern_count; i++) {
		const struct kern_desc *k = kern_table[i];
		const char *why = k->unavailable ? k->unavailable() : NULL;
		const char *no16 = !why && k->no_bf16 ? k->no_bf16() : NULL;
		printf("%-8s %s", k->name, k->summary);
		if (why)
			printf("  [unavailable: %s]", why);
		else if (no16)
			printf("  [no bf16: %s]", no16);
		printf("\n");
	}
	printf("\ninstruction sets here: fp32 %s; bf16 in tiled and ranges %s%s (SABENCH_ISA forces one)\n",
	       kern_isa_name(kern_isa_of(0)), kern_isa_name(kern_isa_of(1)),
	       kern_bf16() ? "" : ", widened to fp32");
	return 0;
}

static int cmd_counters(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage_error("counters", "%s", "counters takes no arguments");
	ctr_describe(print_line);
	return 0;
}

static int cmd_columns(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage_error("columns", "%s", "columns takes no arguments");
	res_describe_columns(print_line);
	return 0;
}

/* ---- pattern ---- */

static void print_row_keys(const struct gset *g, long r)
{
	int64_t n;
	const struct pat_range *rg = gset_row(g, 0, r, &n);
	long long count = 0;
	const long long show = 64;

	printf("G_%ld = {", r);
	for (int64_t i = 0; i < n; i++)
		for (long j = rg[i].lo; j < rg[i].hi; j++, count++) {
			if (count < show)
				printf("%s%ld", count ? ", " : "", j);
			else if (count == show)
				printf(", ...");
		}
	printf("}\n|G_%ld| = %lld\n", r, gset_row_keys(rg, n));
}

/* Draws the mask, one character per pair: '#' kept, '.' skipped. */
static void print_mask(const struct gset *g)
{
	for (long r = 0; r < g->n_q; r++) {
		int64_t n, i = 0;
		const struct pat_range *rg = gset_row(g, 0, r, &n);
		for (long j = 0; j < g->n_kv; j++) {
			while (i < n && rg[i].hi <= j)
				i++;
			putchar(i < n && rg[i].lo <= j ? '#' : '.');
		}
		putchar('\n');
	}
}

/* Draws the block layout: '#' full, '+' partial (masked), '.' empty. */
static int print_layout(const struct gset *g, long b)
{
	struct gset_blocks bv;

	if (gset_block_view(g, 0, b, b, &bv))
		return -1;
	for (long R = 0; R < bv.n_brow; R++) {
		int64_t k = bv.row_ptr[R];
		for (long C = 0; C < bv.n_bcol; C++) {
			int here = k < bv.row_ptr[R + 1] && bv.col[k] == C;
			putchar(here ? (bv.full[k] ? '#' : '+') : '.');
			k += here;
		}
		putchar('\n');
	}
	printf("blocks %ldx%ld: %lld full, %lld partial, %lld empty\n", b, b,
	       (long long)bv.n_full, (long long)bv.n_partial,
	       (long long)bv.n_brow * bv.n_bcol - bv.n_full - bv.n_partial);
	gset_blocks_free(&bv);
	return 0;
}

/* 0 when a picture can be written at png (in folder dir), else -1 with e
 * naming png, the user's path. */
static int png_writable(const char *png, const char *dir, struct err *e)
{
	struct stat st;

	if (stat(dir, &st))
		return err_set(e, "cannot write '%s': %s", png, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(e, "cannot write '%s': '%s' is not a folder", png, dir);
	if (access(dir, W_OK))
		return err_set(e, "cannot write '%s': %s", png, strerror(errno));
	if (stat(png, &st) == 0 && !S_ISREG(st.st_mode))
		return err_set(e, "cannot write '%s': not a regular file", png);
	return 0;
}

/* Renders the mask as a heatmap with gnuplot into png (and its .svg). */
static int render_png(const struct pattern *p, long n, const char *input, const char *png)
{
	char dir[4096], name[256], spec[8192], label[300], scratch[4200];
	int rc;
	char *specs[1] = { spec }, *labels[1] = { label };
	const char *slash = strrchr(png, '/'), *base = slash ? slash + 1 : png;
	size_t len = strlen(base);
	struct err e;

	if (len < 5 || strcmp(base + len - 4, ".png")) {
		fprintf(stderr, "sabench: --png needs a file name ending in .png, not '%s'\n", png);
		return 2;
	}
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - png) : 1, slash ? png : ".");
	snprintf(name, sizeof name, "%.*s", (int)len - 4, base);
	snprintf(label, sizeof label, "%s", p->label);
	if (pat_to_spec(p, spec, sizeof spec)) {
		fprintf(stderr, "sabench: pattern '%s' is too large to draw\n", p->label);
		return 1;
	}
	if (png_writable(png, dir, &e) || plot_scratch_open(scratch, sizeof scratch, &e))
		return fail(1, &e);
	rc = plot_masks(specs, labels, 1, n, p->causal, input, scratch, dir, name, &e);
	plot_scratch_close(scratch);
	if (rc)
		return fail(1, &e);
	printf("wrote %s\n", png);
	return 0;
}

/* A content-selected pattern's G over the inputs given (gaussian when
 * none): head 0 of one sequence. 0, or -1 said on stderr. */
/* G of selected pattern p over the given inputs: 0, 2 for a malformed
 * input spec (a usage error) or 1 when the selection fails. */
static int pattern_select(const struct pattern *p, long n, long steps, const char *input,
			  int head_dim, struct gset *g)
{
	struct exp_input in;
	struct err e;
	char why[256];
	int rc;

	if (exp_parse_input(input ? input : "gaussian: {}", &in, &e))
		return fail(2, &e);
	rc = inp_select_g(&in, p, n, steps, 1, head_dim, g, why, sizeof why);
	inp_free(&in);
	if (rc)
		fprintf(stderr, "sabench: pattern '%s': %s\n", p->label, why);
	return rc ? 1 : 0;
}

static int cmd_pattern(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "n", required_argument, NULL, 'n' },
		{ "query", required_argument, NULL, 'q' },
		{ "bidirectional", no_argument, NULL, 'b' },
		{ "show", no_argument, NULL, 's' },
		{ "layout", required_argument, NULL, 'l' },
		{ "png", required_argument, NULL, 'p' },
		{ "inputs", required_argument, NULL, 'i' },
		{ "head-dim", required_argument, NULL, 'd' },
		{ "steps", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = find_command("pattern")->usage, *png = NULL, *input = NULL;
	long n = -1, query = -1, layout = 0, head_dim = 64, steps = 0;
	int causal = 1, show = 0, c, rc = 0;
	struct pattern p;
	struct gset g;
	struct err e;
	char why[256];

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n' && parse_long(optarg, 1, &n))
			return usage_error(use, "--n must be a positive integer, not '%s'", optarg);
		if (c == 'q' && parse_long(optarg, 0, &query))
			return usage_error(use, "--query must be a position >= 0, not '%s'", optarg);
		if (c == 'l' && parse_long(optarg, 1, &layout))
			return usage_error(use, "--layout must be a positive block size, not '%s'", optarg);
		if (c == 'b')
			causal = 0;
		if (c == 's')
			show = 1;
		if (c == 'p')
			png = optarg;
		if (c == 'i')
			input = optarg;
		if (c == 'd' && parse_long(optarg, 1, &head_dim))
			return usage_error(use, "--head-dim must be a positive integer, not '%s'", optarg);
		if (c == 't' && parse_long(optarg, 1, &steps))
			return usage_error(use, "--steps must be a positive integer, not '%s'", optarg);
		if (c == '?')
			return usage_error(use, "%s", "bad option");
	}
	if (optind != argc - 1)
		return usage_error(use, "%s", "pattern takes one pattern spec");
	if (n < 0)
		return usage_error(use, "%s", "pattern needs --n N");
	if (n > INT32_MAX - 1)
		return usage_error(use, "%s", "--n must be below 2^31 - 1");
	if (query >= n)
		return usage_error(use, "%s", "--query must be below --n");
	if (layout && (n + layout - 1) / layout > 256)
		return usage_error(use, "%s", "--layout draws at most 256 blocks a row; use a larger block");
	if (exp_parse_spec(argv[optind], causal, &p, &e))
		return fail(2, &e);
	if (pat_check_n(&p, n, why, sizeof why)) {
		fprintf(stderr, "sabench: pattern '%s': %s\n", p.label, why);
		pat_free(&p);
		return 2;
	}
	if (steps >= n) {
		pat_free(&p);
		return usage_error(use, "%s", "--steps must be below --n");
	}
	if (pat_selected(&p))
		rc = pattern_select(&p, n, steps, input, (int)head_dim, &g);
	else if (gset_build(&g, &p, n, n, 1, why, sizeof why)) {
		fprintf(stderr, "sabench: %s\n", why);
		rc = 1;
	}
	if (rc) {
		pat_free(&p);
		return rc;
	}
	printf("pattern %s (%s) at n = %ld", p.label, causal ? "causal" : "bidirectional", n);
	if (pat_selected(&p))
		printf(", selected over '%s' (head 0, head_dim %ld%s)", input ? input : "gaussian: {}",
		       head_dim, steps ? ", decode" : "");
	printf("\n");
	if (query >= 0)
		print_row_keys(&g, query);
	printf("nnz = %lld\ndensity = %.6g\nrow_min = %lld\nrow_max = %lld\nrow_mean = %.6g\nempty_rows = %lld\n",
	       g.st.nnz, g.st.density, g.st.row_min, g.st.row_max, g.st.row_mean,
	       g.st.empty_rows);
	printf("kv_cache_rows = %ld\npattern_bytes = %lld\n", pat_kv_rows(&p, n),
	       g.st.storage_bytes);
	if (show && n <= 128)
		print_mask(&g);
	else if (show)
		layout = layout ? layout : (n + 127) / 128;
	if (layout && print_layout(&g, layout))
		rc = 1;
	if (!rc && png)
		rc = render_png(&p, n, input, png);
	gset_free(&g);
	pat_free(&p);
	return rc;
}

/* ---- inputs ---- */

static int cmd_inputs(int argc, char **argv)
{
	static const char *type_names[] = {
		[INP_INT] = "int", [INP_FLOAT] = "real", [INP_WORDS] = "names", [INP_PATH] = "file",
	};
	static_assert(sizeof type_names / sizeof *type_names == INP_TYPE_COUNT,
		      "type_names: one per enum inp_type");

	(void)argv;
	if (argc != 1)
		return usage_error(find_command("inputs")->usage, "%s", "inputs takes no arguments");
	for (int i = 0; i < inp_kind_count; i++) {
		const struct inp_kind *k = inp_kinds[i];
		printf("%s\n  %s\n", k->name, k->summary);
		for (int j = 0; j < k->n_params; j++) {
			const struct inp_param *d = &k->params[j];
			printf("  %-15s %-6s %s", d->name, type_names[d->type], d->doc);
			if (d->required)
				fputs(" (required)", stdout);
			else if (d->type == INP_INT || d->type == INP_FLOAT)
				printf(" (default %g)", d->def);
			if (d->type == INP_WORDS) {
				fputs("; one of:", stdout);
				for (int w = 0; d->words[w]; w++)
					printf(" %s", d->words[w]);
			}
			putchar('\n');
		}
		putchar('\n');
	}
	return 0;
}

static int cmd_attention(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "n", required_argument, NULL, 'n' },
		{ "heads", required_argument, NULL, 'h' },
		{ "kv-heads", required_argument, NULL, 'k' },
		{ "head-dim", required_argument, NULL, 'd' },
		{ "png", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = find_command("attention")->usage, *png = NULL;
	long n = 256, heads = 0, kvh = 0, d = 64;
	struct map_shape ms;
	char scratch[4200];
	struct exp_input in;
	struct err e;
	char dir[4096], name[256];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n' && (parse_long(optarg, 1, &n) || n > 4096))
			return usage_error(use, "--n must be an integer in [1, 4096], not '%s'", optarg);
		if (c == 'h' && (parse_long(optarg, 1, &heads) || heads > 64))
			return usage_error(use, "--heads must be an integer in [1, 64], not '%s'", optarg);
		if (c == 'k' && (parse_long(optarg, 1, &kvh) || kvh > 64))
			return usage_error(use, "--kv-heads must be an integer in [1, 64], not '%s'", optarg);
		if (c == 'd' && (parse_long(optarg, 1, &d) || d > 1024))
			return usage_error(use, "--head-dim must be an integer in [1, 1024], not '%s'", optarg);
		if (c == 'p')
			png = optarg;
		if (c == '?')
			return usage_error(use, "%s", "bad option");
	}
	if (optind != argc - 1)
		return usage_error(use, "%s", "attention takes one input spec");
	if (png && (strlen(png) < 5 || strcmp(png + strlen(png) - 4, ".png")))
		return usage_error(use, "--png needs a file name ending in .png, not '%s'", png);
	if (png && strchr(png, '\''))
		return usage_error(use, "--png cannot take a quote in '%s'", png);
	if (exp_parse_input(argv[optind], &in, &e))
		return fail(2, &e);
	if (in.shape.n) {               /* files fix the shape */
		heads = in.shape.heads;
		kvh = in.shape.kv_heads;
		d = in.shape.head_dim;
		n = n < in.shape.n ? n : in.shape.n;
	}
	if (!heads)
		heads = in.kind->n_params && inp_param_index(in.kind, "heads") >= 0
			? (long)in.val[inp_param_index(in.kind, "heads")].words.n : 4;
	if (!kvh)
		kvh = heads;
	if (heads % kvh || d < in.kind->min_head_dim) {
		inp_free(&in);
		return usage_error(use, "%s", heads % kvh ? "--kv-heads must divide --heads"
							  : "--head-dim is below what this input needs (16 for synthetic)");
	}
	ms = (struct map_shape){ .n = n, .heads = (int)heads, .kv_heads = (int)kvh, .d = (int)d, .seed = 42 };
	snprintf(dir, sizeof dir, "%.*s", png && strrchr(png, '/') ? (int)(strrchr(png, '/') - png) : 1,
		 png && strrchr(png, '/') ? png : ".");
	printf("input %s: %ld heads (%ld K/V), head_dim %ld, n = %ld, dense causal attention\n",
	       in.label, heads, kvh, d, n);
	scratch[0] = 0;
	rc = png ? png_writable(png, dir, &e) || plot_scratch_open(scratch, sizeof scratch, &e) : 0;
	if (!rc)
		rc = maps_write(&in, &ms, png ? scratch : NULL, stdout, &e);
	if (!rc && png) {
		const char *base = strrchr(png, '/') ? strrchr(png, '/') + 1 : png;
		snprintf(name, sizeof name, "%.*s", (int)strlen(base) - 4, base);
		rc = plot_attention(scratch, dir, name, n, &e);
		if (!rc)
			printf("wrote %s\n", png);
	}
	if (scratch[0])
		plot_scratch_close(scratch);
	inp_free(&in);
	return rc ? fail(1, &e) : 0;
}

/* ---- plot ---- */

static int cmd_plot(int argc, char **argv)
{
	struct err e;
	int rc;

	if (argc != 2)
		return usage_error(find_command("plot")->usage, "%s",
				   "plot takes one results folder");
	rc = plot_results(argv[1], print_progress, &e);
	if (rc == PLOT_NO_GNUPLOT || rc == PLOT_BAD_INPUT)
		return fail(rc == PLOT_NO_GNUPLOT ? 1 : 2, &e);
	if (rc)
		return fail(1, &e);
	return 0;
}

/* ---- machine ---- */

static int cmd_machine(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "threads", required_argument, NULL, 't' },
		{ "quick", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = find_command("machine")->usage, *out = "results/machine.yaml";
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	struct machine_peaks *mp = malloc(sizeof *mp);
	struct err e;
	int c, rc, quick = 0;

	if (!mp)
		return fprintf(stderr, "sabench: out of memory\n"), 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'q')
			quick = 1;
		else if (c == 't' && (parse_long(optarg, 1, &threads) || threads > 1024)) {
			free(mp);
			return usage_error(use, "--threads must be an integer in [1, 1024], not '%s'", optarg);
		} else if (c == 't')
			;
		else {
			free(mp);
			return usage_error(use, "%s", "bad option");
		}
	}
	if (optind != argc) {
		free(mp);
		return usage_error(use, "%s", "machine takes no operands");
	}
	if (!strncmp(out, "results/", 8) && res_make_dirs("results", &e)) {
		free(mp);
		return fail(1, &e);
	}
	rc = machine_measure(mp, (int)threads, quick, print_progress, &e);
	if (!rc)
		rc = machine_write(out, mp, &e);
	free(mp);
	if (rc)
		return fail(1, &e);
	printf("wrote %s\n", out);
	return 0;
}

/* ---- compare ---- */

/* "5%" or "0.05" as a fraction; -1 when neither. */
static double parse_threshold(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -1;
	if (*end == '%' && !end[1])
		return v / 100.0;
	return *end ? -1 : v;
}

static void print_compare(const struct compare_result *r, double threshold)
{
	size_t slower = 0, faster = 0;

	printf("%-58s %12s %12s %8s %9s  %s\n", "cell", "median A (s)", "median B (s)",
	       "B/A", "p", "verdict");
	for (size_t i = 0; i < r->n; i++) {
		const struct compare_row *x = &r->row[i];
		printf("%-58s %12.6g %12.6g %8.3f %9.3g  %s%s\n", x->cell, x->median_a,
		       x->median_b, x->ratio, x->p,
		       x->verdict > 0 ? "slower" : x->verdict < 0 ? "faster" : "same",
		       x->reps_a < COMPARE_MIN_REPS || x->reps_b < COMPARE_MIN_REPS ? " (few reps)" : "");
		slower += x->verdict > 0;
		faster += x->verdict < 0;
	}
	for (size_t i = 0; i < r->n_only_a; i++)
		printf("only in A: %s\n", r->only_a[i]);
	for (size_t i = 0; i < r->n_only_b; i++)
		printf("only in B: %s\n", r->only_b[i]);
	if (r->n)
		printf("geometric mean of B/A over %zu cells: %.4f; significantly slower by more than %.3g%%: %zu, faster: %zu\n",
		       r->n, r->geomean, threshold * 100, slower, faster);
	if (r->few_reps)
		fprintf(stderr, "sabench: warning: some cells have fewer than %d repetitions; the U test means little there (raise run: repeats)\n",
			COMPARE_MIN_REPS);
}

static int cmd_compare(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threshold", required_argument, NULL, 't' },
		{ "fail", no_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = find_command("compare")->usage, *out = NULL;
	double threshold = 0.05;
	int c, fail_on_slow = 0, slow = 0, status = 0, drawn;
	struct compare_result r;
	char dir[4200];
	struct err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 't' && (threshold = parse_threshold(optarg)) < 0)
			return usage_error(use, "--threshold must be like 5%% or 0.05, not '%s'", optarg);
		if (c == 'f')
			fail_on_slow = 1;
		if (c == 'o')
			out = optarg;
		if (c == '?')
			return usage_error(use, "%s", "bad option");
	}
	if (optind != argc - 2)
		return usage_error(use, "%s", "compare takes two results folders");
	if (compare_runs(argv[optind], argv[optind + 1], threshold, &r, &e))
		return fail(2, &e);
	print_compare(&r, threshold);
	if (!out) {
		snprintf(dir, sizeof dir, "%s/compare", argv[optind + 1]);
		out = dir;
	}
	if (compare_write_csv(&r, out, &e)) {
		status = fail(1, &e);   /* a guard whose output is lost must not pass */
	} else if (!r.n) {
		printf("wrote %s/compare.csv\n", out);
	} else if ((drawn = plot_compare(out, &e)) == PLOT_OK) {
		printf("wrote %s/compare.csv and compare.png\n", out);
	} else {
		printf("wrote %s/compare.csv\n", out);
		status = fail(drawn == PLOT_NO_GNUPLOT ? 0 : 1, &e);
	}
	for (size_t i = 0; i < r.n; i++)
		slow |= r.row[i].verdict > 0;
	if (!r.n) {
		snprintf(e.msg, sizeof e.msg, "no timed cell is in both '%s' and '%s': nothing was compared",
			 argv[optind], argv[optind + 1]);
		status = fail(2, &e);
	}
	compare_free(&r);
	return status ? status : fail_on_slow && slow ? 1 : 0;
}

/* ---- merge and slurm ---- */

static int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = find_command("merge")->usage, *out = NULL;
	struct merge_summary s;
	int c, force = 0;
	struct err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'f')
			force = 1;
		else
			return usage_error(use, "%s", "bad option");
	}
	if (optind >= argc || !out)
		return usage_error(use, "%s", "merge takes shard folders and -o DIR");
	if (merge_runs(argv + optind, argc - optind, out, force, &s, &e))
		return fail(1, &e);
	printf("merged %d shards, %zu cells, from %d machine%s into %s\n", s.shards, s.cells,
	       s.machines, s.machines == 1 ? "" : "s", out);
	return 0;
}

static int cmd_slurm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "shards", required_argument, NULL, 'n' },
		{ "partition", required_argument, NULL, 'p' },
		{ "time", required_argument, NULL, 't' },
		{ "submit", no_argument, NULL, 's' },
		{ "shared", no_argument, NULL, 'S' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = find_command("slurm")->usage;
	struct slurm_opts so = { .shards = 4, .time = "01:00:00", .exclusive = 1 };
	struct experiment x;
	char dir[4200], array_id[64], merge_id[64], path[4300];
	long shards;
	int c, submit = 0, rc;
	struct err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'n' && (parse_long(optarg, 1, &shards) || shards > 10000))
			return usage_error(use, "--shards must be 1 to 10000, not '%s'", optarg);
		if (c == 'n')
			so.shards = (int)shards;
		else if (c == 'p')
			so.partition = optarg;
		else if (c == 't')
			so.time = optarg;
		else if (c == 's')
			submit = 1;
		else if (c == 'S')
			so.exclusive = 0;
		else if (c == 'o')
			so.run_dir = optarg;
		else
			return usage_error(use, "%s", "bad option");
	}
	if (optind != argc - 1)
		return usage_error(use, "%s", "slurm takes one experiment file");
	if (slurm_check_time(so.time))
		return usage_error(use, "--time must be a SLURM time (minutes, m:s, h:m:s, d-h, d-h:m, d-h:m:s or UNLIMITED), not '%s'",
				   so.time);
	if (so.partition && (strlen(so.partition) > 200 || slurm_check_partition(so.partition)))
		return usage_error(use, "--partition must be SLURM partition names (letters, digits, '_', '-', '.'; commas between), not '%s'",
				   so.partition);
	if (exp_load(argv[optind], &x, &e))
		return fail(2, &e);
	so.experiment = argv[optind];
	so.name = x.name;
	if (!so.run_dir) {
		snprintf(dir, sizeof dir, "results/%s", x.name);
		so.run_dir = dir;
	}
	rc = slurm_write(&so, &e);
	if (!rc && submit)
		rc = slurm_submit(&so, array_id, merge_id, sizeof array_id, &e);
	if (rc) {
		exp_free(&x);
		return fail(1, &e);
	}
	for (int k = 0; k < 2; k++) {
		char line[8192];
		FILE *f;
		snprintf(path, sizeof path, "%s/slurm/%s.sbatch", so.run_dir, k ? "merge" : "shards");
		f = fopen(path, "r");
		printf("==> %s <==\n", path);
		while (f && fgets(line, sizeof line, f))
			fputs(line, stdout);
		if (f)
			fclose(f);
	}
	if (submit)
		printf("submitted: array job %s (%d shards), merge job %s (afterok)\n", array_id,
		       so.shards, merge_id);
	exp_free(&x);
	return 0;
}

/* ---- report ---- */

static int cmd_report(int argc, char **argv)
{
	struct err e;

	if (argc != 2)
		return usage_error(find_command("report")->usage, "%s",
				   "report takes one results folder");
	e.usage = 0;
	if (report_write(argv[1], &e))
		return fail(e.usage ? 2 : 1, &e);
	printf("wrote %s/report.md\n", argv[1]);
	return 0;
}

/* ---- table and dispatch ---- */

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "run", cmd_run, "run EXPERIMENT.yaml [-o DIR] [--force | --resume] [--dump DIR] [--shard K/N]",
	  "Runs every cell of the experiment (pattern variant x kernel x shape),\n"
	  "verifies each against the oracle and writes results.csv, samples.csv\n"
	  "and manifest.yaml into DIR (default results/<name>).\n\n"
	  "  -o, --output DIR  results folder\n"
	  "  --force           start an existing results folder over\n"
	  "  --resume          run only the cells the folder does not hold yet\n"
	  "  --dump DIR        write inputs, outputs and G-sets as .npy files\n"
	  "  --shard K/N       run only shard K of N (whole cell groups, dealt by\n"
	  "                    estimated cost); default DIR results/<name>/shards/K-of-N\n\n"
	  "Ctrl-C finishes the cell group in progress and stops; a second one\n"
	  "stops at once. Threads are pinned (OMP_PROC_BIND=close,\n"
	  "OMP_PLACES=cores) unless OMP_PROC_BIND is set.\n" },
	{ "validate", cmd_validate, "validate EXPERIMENT.yaml",
	  "Checks an experiment file and prints its grid; runs nothing.\n" },
	{ "patterns", cmd_patterns, "patterns",
	  "Lists the pattern kinds with their parameters and G_i formulas.\n" },
	{ "kernels", cmd_kernels, "kernels",
	  "Lists the kernel variants and whether each is available here.\n" },
	{ "pattern", cmd_pattern,
	  "pattern SPEC --n N [--query I] [--bidirectional] [--show] [--layout B] [--png FILE]\n"
	  "        [--inputs INPUT] [--head-dim D] [--steps S]",
	  "Compiles one pattern at n and prints its statistics (nnz, density, row\n"
	  "sizes, empty rows, KV rows to keep, storage).\n\n"
	  "  --query I        list G_I and |G_I|\n"
	  "  --show           draw the mask: a character per pair up to n = 128\n"
	  "                   ('#' kept, '.' skipped), per block beyond\n"
	  "  --layout B       draw the B x B block layout: '#' full, '+' partial\n"
	  "                   (needs a mask), '.' empty (FlexAttention's BlockMask)\n"
	  "  --png FILE       render a heatmap with gnuplot (and FILE's .svg twin)\n"
	  "  --bidirectional  no causal clipping\n"
	  "  --inputs INPUT   content-selected kinds (vertical_slash, block_topk,\n"
	  "                   quest, snapkv, nsa_select): the inputs they select\n"
	  "                   over, inline, e.g. 'synthetic: {heads: [retrieval]}'\n"
	  "                   (default 'gaussian: {}'); head 0 is shown\n"
	  "  --head-dim D     their head_dim (default 64)\n"
	  "  --steps S        select for S decode steps after a prompt of n - S\n\n"
	  "SPEC is YAML, as in an experiment: 'sink_window: {sinks: 1, size: 3}'.\n" },
	{ "inputs", cmd_inputs, "inputs",
	  "Lists the input kinds (where Q, K and V come from) with their parameters.\n" },
	{ "attention", cmd_attention,
	  "attention SPEC [--n N] [--heads H] [--kv-heads K] [--head-dim D] [--png FILE]",
	  "Fills an input at n tokens (default 256, at most 4096) and prints, per\n"
	  "head, what its dense causal attention keeps near the diagonal and on\n"
	  "the first tokens; --png draws every head's map (and FILE's .svg twin).\n"
	  "Files of an npy input fix heads and head_dim.\n\n"
	  "SPEC is YAML, as in an experiment's inputs: 'synthetic: {temperature: 2}'.\n" },
	{ "plot", cmd_plot, "plot RESULTS_DIR",
	  "Draws the latency, FLOP and memory curves of RESULTS_DIR/results.csv\n"
	  "into RESULTS_DIR/plots/ as PNG and SVG (needs gnuplot).\n" },
	{ "compare", cmd_compare, "compare RUN_A RUN_B [--threshold 5%] [--fail] [-o DIR]",
	  "Matches the cells of two results folders by their key and prints, per\n"
	  "cell, median A and B, the ratio B/A and a two-sided Mann-Whitney U test\n"
	  "on the repetition samples (p < 0.05 and beyond the threshold: slower or\n"
	  "faster), then the geometric mean of the ratios; cells in one run only are\n"
	  "listed. Writes DIR/compare.csv and compare.png (default RUN_B/compare).\n\n"
	  "  --threshold T  smallest change that counts, 5% by default\n"
	  "  --fail         exit 1 when a cell is significantly slower (for CI)\n" },
	{ "merge", cmd_merge, "merge SHARD_DIR... -o DIR [--force]",
	  "Joins the shard folders of one experiment (or one folder holding them)\n"
	  "into DIR: refuses shards of other experiments or builds, missing or\n"
	  "repeated shards, and names cells that have no row or two; the manifest\n"
	  "lists every shard's machine.\n" },
	{ "slurm", cmd_slurm,
	  "slurm EXPERIMENT.yaml [--shards N] [--partition P] [--time T] [--submit] [--shared] [-o DIR]",
	  "Writes DIR/slurm/shards.sbatch (an array of N tasks, one shard each, on\n"
	  "exclusive nodes with threads pinned) and merge.sbatch (merge, plot and\n"
	  "report, afterok the whole array, cancelled if a shard fails), prints\n"
	  "them, and with --submit submits both with sbatch and prints the job ids.\n"
	  "Nodes are exclusive unless --shared: benchmarks on shared nodes lie.\n" },
	{ "report", cmd_report, "report RESULTS_DIR",
	  "Writes RESULTS_DIR/report.md for a design review: the experiment, machine\n"
	  "and build, a table per seq_len (median time, GFLOP/s, speed-up and\n"
	  "KV-cache saving over dense, verification), the best kernel per pattern,\n"
	  "noisy and skipped cells, and the pictures of `sabench plot`.\n" },
	{ "machine", cmd_machine, "machine [-o FILE] [--threads N] [--quick]",
	  "Measures this machine's ceilings the way likwid-bench and ERT do: fp32\n"
	  "FMA GFLOP/s per ISA (independent accumulators), the bf16 dot products'\n"
	  "where the CPU has them (AMX tiles, AVX512-BF16), and STREAM triad and\n"
	  "read GB/s for 1..N threads, into FILE (default results/machine.yaml).\n"
	  "Runs then fill pct_peak from it (or from $SABENCH_MACHINE), each cell\n"
	  "against the ceiling of the path it ran (its isa and dtype). About 10 s;\n"
	  "--quick takes a few seconds (fewer, shorter tries: a lower bound, marked\n"
	  "quick in the file), as `make run` does when there is no machine.yaml.\n" },
	{ "counters", cmd_counters, "counters",
	  "Shows PAPI's version, components, the hardware events available here\n"
	  "and sabench's own software-defined events.\n" },
	{ "columns", cmd_columns, "columns",
	  "Lists the columns of results.csv with their units.\n" },
	{ "help", cmd_help, "help [COMMAND]", "Shows help for a command.\n" },
	{ NULL, NULL, NULL, NULL },
};

static void print_overview(FILE *f)
{
	fprintf(f, "usage: sabench COMMAND [ARGS]   (sabench COMMAND --help for more)\n\n"
		   "sabench benchmarks sparse-attention kernels over G-set patterns.\n\n"
		   "commands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(f, "  %s\n", c->usage);
	fprintf(f, "\n  --version, --help\n");
}

static int cmd_help(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		print_overview(stdout);
		return 0;
	}
	c = find_command(argv[1]);
	if (!c)
		return usage_error("help [COMMAND]", "unknown command '%s'", argv[1]);
	print_help(c);
	return 0;
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		print_overview(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("sabench %s\n", SABENCH_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		print_overview(stdout);
		return 0;
	}
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "sabench: unknown command '%s'; see 'sabench --help'\n", argv[1]);
		return 2;
	}
	if (wants_help(argc - 1, argv + 1))
		return 0;
	if (c->fn == cmd_run)
		pin_threads(argv);
	/* a file-size limit is a write error to report, not a reason to die */
	signal(SIGXFSZ, SIG_IGN);
	return c->fn(argc - 1, argv + 1);
}
