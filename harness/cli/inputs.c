/* cli/inputs.c - inputs and attention: the input kinds, and an input's
 * dense attention per head with its map. */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/experiment.h"
#include "../inputs/inputs.h"
#include "../inputs/maps.h"
#include "../report/plot.h"
#include "cli.h"

int cmd_inputs(int argc, char **argv)
{

	(void)argv;
	if (argc != 1)
		return cli_usage(cli_find("inputs")->usage, "%s", "inputs takes no arguments");
	for (int i = 0; i < inp_kind_count; i++) {
		const struct inp_kind *k = inp_kinds[i];
		printf("%s\n  %s\n", k->name, k->summary);
		for (int j = 0; j < k->n_params; j++) {
			const struct pat_param *d = &k->params[j];
			printf("  %-15s %-6s %s", d->name, pat_type_name(d->type), d->doc);
			if (d->required)
				fputs(" (required)", stdout);
			else if (d->type == PAT_INT || d->type == PAT_FLOAT)
				printf(" (default %g)", d->def);
			if (d->type == PAT_WORDS) {
				fputs("; one of:", stdout);
				for (int w = 0; d->choices[w]; w++)
					printf(" %s", d->choices[w]);
			}
			putchar('\n');
		}
		putchar('\n');
	}
	return 0;
}

int cmd_attention(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "n", required_argument, NULL, 'n' },
		{ "heads", required_argument, NULL, 'h' },
		{ "kv-heads", required_argument, NULL, 'k' },
		{ "head-dim", required_argument, NULL, 'd' },
		{ "png", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *use = cli_find("attention")->usage, *png = NULL;
	long n = 256, heads = 0, kvh = 0, d = 64;
	struct map_shape ms;
	char scratch[4200];
	struct exp_input in;
	struct err e;
	char dir[4096], name[256];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n' && (cli_parse_long(optarg, 1, &n) || n > 4096))
			return cli_usage(use, "--n must be an integer in [1, 4096], not '%s'", optarg);
		if (c == 'h' && (cli_parse_long(optarg, 1, &heads) || heads > 64))
			return cli_usage(use, "--heads must be an integer in [1, 64], not '%s'", optarg);
		if (c == 'k' && (cli_parse_long(optarg, 1, &kvh) || kvh > 64))
			return cli_usage(use, "--kv-heads must be an integer in [1, 64], not '%s'", optarg);
		if (c == 'd' && (cli_parse_long(optarg, 1, &d) || d > 1024))
			return cli_usage(use, "--head-dim must be an integer in [1, 1024], not '%s'", optarg);
		if (c == 'p')
			png = optarg;
		if (c == '?')
			return cli_usage(use, "%s", "bad option");
	}
	if (optind != argc - 1)
		return cli_usage(use, "%s", "attention takes one input spec");
	if (png && (strlen(png) < 5 || strcmp(png + strlen(png) - 4, ".png")))
		return cli_usage(use, "--png needs a file name ending in .png, not '%s'", png);
	if (png && strchr(png, '\''))
		return cli_usage(use, "--png cannot take a quote in '%s'", png);
	if (exp_parse_input(argv[optind], &in, &e))
		return cli_fail(2, &e);
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
		return cli_usage(use, "%s", heads % kvh ? "--kv-heads must divide --heads"
							  : "--head-dim is below what this input needs (16 for synthetic)");
	}
	ms = (struct map_shape){ .n = n, .heads = (int)heads, .kv_heads = (int)kvh, .d = (int)d, .seed = 42 };
	snprintf(dir, sizeof dir, "%.*s", png && strrchr(png, '/') ? (int)(strrchr(png, '/') - png) : 1,
		 png && strrchr(png, '/') ? png : ".");
	printf("input %s: %ld heads (%ld K/V), head_dim %ld, n = %ld, dense causal attention\n",
	       in.label, heads, kvh, d, n);
	scratch[0] = 0;
	rc = png ? cli_png_writable(png, dir, &e) || plot_scratch_open(scratch, sizeof scratch, &e) : 0;
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
	return rc ? cli_fail(1, &e) : 0;
}
