/* cli/pattern.c - pattern: one pattern compiled at n, its statistics, rows,
 * mask, block layout and heatmap. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../patterns/gset.h"
#include "../config/experiment.h"
#include "../inputs/inputs.h"
#include "../report/plot.h"
#include "cli.h"

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
	if (cli_png_writable(png, dir, &e) || plot_scratch_open(scratch, sizeof scratch, &e))
		return cli_fail(1, &e);
	rc = plot_masks(specs, labels, 1, n, p->causal, input, scratch, dir, name, &e);
	plot_scratch_close(scratch);
	if (rc)
		return cli_fail(1, &e);
	printf("wrote %s\n", png);
	return 0;
}

/* G of content-selected pattern p over the given inputs (gaussian when
 * none), head 0 of one sequence: 0, 2 for a malformed input spec (a usage
 * error) or 1 when the selection fails. */
/* 1 when in can fill the one head of head_dim d over n tokens that
 * pattern selects over; else 0 and why says what to change. */
static int inputs_fit(const struct exp_input *in, long n, int d, char *why, size_t len)
{
	if (in->shape.n && (in->shape.heads != 1 || in->shape.kv_heads != 1))
		snprintf(why, len, "inputs '%s' hold %ld heads (%ld K/V); pattern selects over one: give files of one head",
			 in->label, in->shape.heads, in->shape.kv_heads);
	else if (in->shape.n && in->shape.head_dim != d)
		snprintf(why, len, "--head-dim %d is not the head_dim %ld of inputs '%s'", d,
			 in->shape.head_dim, in->label);
	else if (in->shape.n && n > in->shape.n)
		snprintf(why, len, "--n %ld is longer than the %ld tokens of inputs '%s'", n, in->shape.n,
			 in->label);
	else if (d < in->kind->min_head_dim)
		snprintf(why, len, "--head-dim %d is below the %d that inputs '%s' need", d,
			 in->kind->min_head_dim, in->label);
	else
		return 1;
	return 0;
}

static int pattern_select(const struct pattern *p, long n, long steps, const char *input,
			  int head_dim, struct gset *g)
{
	struct exp_input in;
	struct err e;
	char why[256];
	int rc;

	if (exp_parse_input(input ? input : "gaussian: {}", &in, &e))
		return cli_fail(2, &e);
	if (!inputs_fit(&in, n, head_dim, why, sizeof why)) {
		inp_free(&in);
		return cli_usage(cli_find("pattern")->usage, "%s", why);
	}
	rc = inp_select_g(&in, p, n, steps, 1, head_dim, g, why, sizeof why);
	inp_free(&in);
	if (rc)
		fprintf(stderr, "sabench: pattern '%s': %s\n", p->label, why);
	return rc ? 1 : 0;
}

/* The most rows `sabench pattern` compiles: about 7 s and 1 GiB. */
#define PATTERN_MAX_ROWS (1L << 26)

int cmd_pattern(int argc, char **argv)
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
	const char *use = cli_find("pattern")->usage, *png = NULL, *input = NULL;
	long n = -1, query = -1, layout = 0, head_dim = 64, steps = 0;
	int causal = 1, show = 0, c, rc = 0;
	struct pattern p;
	struct gset g;
	struct err e;
	char why[256];

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n' && cli_parse_long(optarg, 1, &n))
			return cli_usage(use, "--n must be a positive integer, not '%s'", optarg);
		if (c == 'q' && cli_parse_long(optarg, 0, &query))
			return cli_usage(use, "--query must be a position >= 0, not '%s'", optarg);
		if (c == 'l' && cli_parse_long(optarg, 1, &layout))
			return cli_usage(use, "--layout must be a positive block size, not '%s'", optarg);
		if (c == 'b')
			causal = 0;
		if (c == 's')
			show = 1;
		if (c == 'p')
			png = optarg;
		if (c == 'i')
			input = optarg;
		if (c == 'd' && cli_parse_long(optarg, 1, &head_dim))
			return cli_usage(use, "--head-dim must be a positive integer, not '%s'", optarg);
		if (c == 't' && cli_parse_long(optarg, 1, &steps))
			return cli_usage(use, "--steps must be a positive integer, not '%s'", optarg);
		if (c == '?')
			return cli_usage(use, "%s", "bad option");
	}
	if (optind != argc - 1)
		return cli_usage(use, "%s", "pattern takes one pattern spec");
	if (n < 0)
		return cli_usage(use, "%s", "pattern needs --n N");
	if (n > INT32_MAX - 1)
		return cli_usage(use, "%s", "--n must be below 2^31 - 1");
	if (n > PATTERN_MAX_ROWS) {
		char big[300];
		snprintf(big, sizeof big, "--n %ld is more rows than pattern compiles: at most %ld (G is built row by row, 16 bytes a row or more: %.1f GiB and minutes at --n %ld)",
			 n, PATTERN_MAX_ROWS, 16.0 * (double)n / 1073741824.0, n);
		return cli_usage(use, "%s", big);
	}
	if (query >= n)
		return cli_usage(use, "%s", "--query must be below --n");
	if (layout && (n + layout - 1) / layout > 256)
		return cli_usage(use, "%s", "--layout draws at most 256 blocks a row; use a larger block");
	if (exp_parse_spec(argv[optind], causal, &p, &e))
		return cli_fail(2, &e);
	if (pat_check_n(&p, n, why, sizeof why)) {
		fprintf(stderr, "sabench: pattern '%s': %s\n", p.label, why);
		pat_free(&p);
		return 2;
	}
	if (steps >= n) {
		pat_free(&p);
		return cli_usage(use, "%s", "--steps must be below --n");
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
