/* cli/list.c - the listings: pattern kinds, kernels, counters, results.csv
 * columns and input kinds. */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../kernels/kernel.h"
#include "../../patterns/pattern.h"
#include "../report/results.h"
#include "../counters.h"
#include "cli.h"

int cmd_patterns(int argc, char **argv)
{

	(void)argv;
	if (argc != 1)
		return cli_usage("patterns", "%s", "patterns takes no arguments");
	printf("pattern kinds (positions 0-based; a window's size counts the query itself):\n");
	for (int i = 0; i < pat_kind_count; i++) {
		const struct pat_kind *k = pat_kinds[i];
		printf("\n%s - %s\n    %s\n", k->name, k->summary, k->formula);
		for (int j = 0; j < k->n_params; j++) {
			const struct pat_param *p = &k->params[j];
			printf("    %-10s %-8s ", p->name, pat_type_name(p->type));
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

int cmd_kernels(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return cli_usage("kernels", "%s", "kernels takes no arguments");
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

int cmd_counters(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return cli_usage("counters", "%s", "counters takes no arguments");
	ctr_describe(cli_line);
	return 0;
}

int cmd_columns(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return cli_usage("columns", "%s", "columns takes no arguments");
	res_describe_columns(cli_line);
	return 0;
}
