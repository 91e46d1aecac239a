/* main.c - the sabench command line: the table of subcommands (one file
 * each in cli/), help, and dispatch. Exit status: 0 success, 1 a run
 * failed (a cell failed, interrupted, I/O), 2 usage or input error. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#ifndef SABENCH_VERSION
#define SABENCH_VERSION "0.1.0"
#endif

static void print_help(const struct command *c)
{
	printf("usage: sabench %s\n\n%s\nMore: %s\n", c->usage, c->help, c->docs);
}

/* 1 when argv holds -h or --help (then help was printed). */
static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			print_help(cli_find(argv[0]));
			return 1;
		}
	}
	return 0;
}

static int cmd_help(int argc, char **argv);

const struct command cli_commands[] = {
	{ "run", cmd_run, "run EXPERIMENT.yaml [-o DIR] [--force | --resume] [--dump DIR] [--shard K/N]",
	  "Runs every cell of the experiment (pattern variant x kernel x shape),\n"
	  "verifies each against the oracle and writes results.csv, samples.csv,\n"
	  "quality.csv and manifest.yaml into DIR (default results/<name>), which\n"
	  "it locks against a second run; with an e2e block, then each design inside\n"
	  "the real model at each seq_len into e2e.csv (docs/e2e.md).\n\n"
	  "  -o, --output DIR  results folder\n"
	  "  --force           start an existing results folder over\n"
	  "  --resume          run only the cells the folder does not hold yet\n"
	  "  --dump DIR        write inputs, outputs and G-sets as .npy files\n"
	  "  --shard K/N       run only shard K of N (whole cell groups, dealt by\n"
	  "                    estimated cost); default DIR results/<name>/shards/K-of-N\n\n"
	  "Ctrl-C finishes the cell group in progress and stops; a second one\n"
	  "stops at once. Threads are pinned (OMP_PROC_BIND=close,\n"
	  "OMP_PLACES=cores) unless OMP_PROC_BIND is set.\n", "docs/experiment.md" },
	{ "validate", cmd_validate, "validate EXPERIMENT.yaml",
	  "Checks an experiment file and prints its grid; runs nothing.\n", "docs/experiment.md" },
	{ "patterns", cmd_patterns, "patterns",
	  "Lists the pattern kinds with their parameters and G_i formulas.\n", "docs/patterns.md" },
	{ "kernels", cmd_kernels, "kernels",
	  "Lists the kernel variants and whether each is available here.\n", "docs/kernels.md" },
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
	  "  --inputs INPUT   content-selected kinds (`sabench patterns` says\n"
	  "                   'selected'): the inputs they select over, inline,\n"
	  "                   e.g. 'synthetic: {heads: [retrieval]}'\n"
	  "                   (default 'gaussian: {}'); head 0 is shown\n"
	  "  --head-dim D     their head_dim (default 64)\n"
	  "  --steps S        select for S decode steps after a prompt of n - S\n\n"
	  "SPEC is YAML, as in an experiment: 'sink_window: {sinks: 1, size: 3}'.\n", "docs/patterns.md" },
	{ "inputs", cmd_inputs, "inputs",
	  "Lists the input kinds (where Q, K and V come from) with their parameters.\n", "docs/inputs.md" },
	{ "attention", cmd_attention,
	  "attention SPEC [--n N] [--heads H] [--kv-heads K] [--head-dim D] [--png FILE]",
	  "Fills an input at n tokens (default 256, at most 4096) and prints, per\n"
	  "head, what its dense causal attention keeps near the diagonal and on\n"
	  "the first tokens; --png draws every head's map (and FILE's .svg twin).\n"
	  "Files of an npy input fix heads and head_dim.\n\n"
	  "SPEC is YAML, as in an experiment's inputs: 'synthetic: {temperature: 2}'.\n", "docs/inputs.md" },
	{ "plot", cmd_plot, "plot RESULTS_DIR",
	  "Draws the latency, FLOP and memory curves of RESULTS_DIR/results.csv\n"
	  "into RESULTS_DIR/plots/ as PNG and SVG (needs gnuplot).\n", "docs/results.md" },
	{ "compare", cmd_compare, "compare RUN_A RUN_B [--threshold 5%] [--fail] [-o DIR]",
	  "Matches the cells of two results folders by their key and prints, per\n"
	  "cell, median A and B, the ratio B/A and a two-sided Mann-Whitney U test\n"
	  "on the repetition samples (p < 0.05 and beyond the threshold: slower or\n"
	  "faster), then the geometric mean of the ratios; cells in one run only are\n"
	  "listed. Writes DIR/compare.csv and compare.png (default RUN_B/compare).\n\n"
	  "  --threshold T  smallest change that counts, 5% by default\n"
	  "  --fail         exit 1 when a cell is significantly slower (for CI)\n", "docs/results.md" },
	{ "merge", cmd_merge, "merge SHARD_DIR... -o DIR [--force]",
	  "Joins the shard folders of one experiment (or one folder holding them)\n"
	  "into DIR: refuses shards of other experiments or builds, missing or\n"
	  "repeated shards, and names cells that have no row or two; the manifest\n"
	  "lists every shard's machine.\n", "docs/scale-out.md" },
	{ "slurm", cmd_slurm,
	  "slurm EXPERIMENT.yaml [--shards N] [--partition P] [--time T] [--submit] [--shared] [-o DIR]",
	  "Writes DIR/slurm/shards.sbatch (an array of N tasks, one shard each, on\n"
	  "exclusive nodes with threads pinned) and merge.sbatch (merge, plot and\n"
	  "report, afterok the whole array, cancelled if a shard fails), prints\n"
	  "them, and with --submit submits both with sbatch and prints the job ids.\n"
	  "Nodes are exclusive unless --shared: benchmarks on shared nodes lie.\n", "docs/scale-out.md" },
	{ "report", cmd_report, "report RESULTS_DIR",
	  "Writes RESULTS_DIR/report.md for a design review, answers first: the\n"
	  "review's answer (when the experiment has a review block), the best\n"
	  "design of each pattern family, the pictures of `sabench plot`; then a\n"
	  "table per seq_len (median time, GFLOP/s, % of peak, speed-up and KV\n"
	  "saving over dense, verification), the best kernel per pattern, what each\n"
	  "pattern keeps, what each design does inside the real model (e2e.csv);\n"
	  "then the experiment, machine and build, and the noisy,\n"
	  "skipped and failed cells and any above 100% of a ceiling.\n", "docs/results.md" },
	{ "review", cmd_review, "review RESULTS_DIR",
	  "Answers the experiment's review block from the run's cells: each design\n"
	  "(pattern x kv_layout x kv_dtype) with its time to first token, time per\n"
	  "output token, KV per sequence, tenants that fit, recall and error over\n"
	  "the review's model, whether it meets every limit, the limit that binds\n"
	  "and by how much, and the cheapest design that meets all. Figures at a\n"
	  "context no cell measured are fitted (time ~ n^b) and marked ~. A review\n"
	  "of an experiment's e2e block (no model named) judges its real model's\n"
	  "designs from e2e.csv instead, with limits on KL, perplexity's rise and\n"
	  "the needle (docs/e2e.md). Prints the table, writes review.csv,\n"
	  "plots/review.png and report.md.\n", "docs/serving.md" },
	{ "machine", cmd_machine, "machine [-o FILE] [--threads N] [--quick]",
	  "Measures this machine's ceilings the way likwid-bench and ERT do: fp32\n"
	  "FMA GFLOP/s per ISA (independent accumulators), the bf16 dot products'\n"
	  "where the CPU has them (AMX tiles, AVX512-BF16), and STREAM triad and\n"
	  "read GB/s for 1..N threads, into FILE (default results/machine.yaml).\n"
	  "Runs then fill pct_peak from it (or from $SABENCH_MACHINE), each cell\n"
	  "against the ceiling of the path it ran (its isa and dtype). About 10 s;\n"
	  "--quick takes a few seconds (fewer, shorter tries: a lower bound, marked\n"
	  "quick in the file), as `make run` does when there is no machine.yaml.\n", "docs/benchmarks.md" },
	{ "counters", cmd_counters, "counters",
	  "Shows PAPI's version, components, the hardware events available here\n"
	  "and sabench's own software-defined events.\n", "docs/results.md" },
	{ "columns", cmd_columns, "columns",
	  "Lists the columns of results.csv with their units.\n", "results/README.md" },
	{ "model", cmd_model,
	  "model FILE.gguf [--text FILE] [--tokens N] [--kernel K]\n"
	  "        [--design SPEC [--layers global|all|L,L,...] [--needle]]",
	  "Reads a model from its GGUF file (its family, shape and tokenizer) and\n"
	  "prints them; with --text, runs the model's forward pass over the text's\n"
	  "first N tokens (default 2048, at most the model's context) through\n"
	  "sabench's kernel K (default tiled) and prints the perplexity and where\n"
	  "the pass spent its time. `make model` fetches Gemma 3 270M and a text.\n\n"
	  "  --design SPEC  run the model again with G = SPEC (a pattern, as in an\n"
	  "                 experiment) in the layers --layers names (default the\n"
	  "                 global ones) and print what it does against the model's\n"
	  "                 own: KL of the next-token distributions (mean, p99),\n"
	  "                 perplexity and its change, top-1 agreement, prefill time\n"
	  "                 and the KV a sequence keeps; a selected design (quest,\n"
	  "                 moba, ...) chooses from each layer's own Q and K, and\n"
	  "                 how much of a layer's keys the next one keeps is shown\n"
	  "  --needle       plant a passkey a tenth of the way in and ask for it at\n"
	  "                 the end: the log-probability each gives its tokens\n", "docs/inputs.md" },
	{ "help", cmd_help, "help [COMMAND]", "Shows help for a command.\n", "README.md" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static void print_overview(FILE *f)
{
	fprintf(f, "usage: sabench COMMAND [ARGS]   (sabench COMMAND --help for more)\n\n"
		   "sabench benchmarks sparse-attention kernels over G-set patterns.\n\n"
		   "commands:\n");
	for (const struct command *c = cli_commands; c->name; c++)
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
	c = cli_find(argv[1]);
	if (!c)
		return cli_usage("help [COMMAND]", "unknown command '%s'", argv[1]);
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
	c = cli_find(argv[1]);
	if (!c) {
		fprintf(stderr, "sabench: unknown command '%s'; see 'sabench --help'\n", argv[1]);
		return 2;
	}
	if (wants_help(argc - 1, argv + 1))
		return 0;
	if (c->fn == cmd_run)
		cli_pin_threads(argv);
	/* a file-size limit is a write error to report, not a reason to die */
	signal(SIGXFSZ, SIG_IGN);
	return c->fn(argc - 1, argv + 1);
}
