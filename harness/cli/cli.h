/* cli.h - the sabench command line, one file a subcommand (git's
 * builtin/ habit): the command table (main.c), the subcommands, and what
 * they share. The CLI is the only part of sabench that prints; the other
 * stages return their errors in a struct err. Exit status: 0 success, 1 a
 * run failed (a cell failed, interrupted, I/O), 2 usage or input error. */
#ifndef SABENCH_CLI_H
#define SABENCH_CLI_H

#include "../err.h"

struct command {
	const char *name;                       /* subcommand */
	int (*fn)(int argc, char **argv);       /* argv[0] is the name */
	const char *usage;                      /* synopsis */
	const char *help;                       /* what it does, options */
	const char *docs;                       /* the page that says more */
};

/* The table, NULL-ended (main.c). */
extern const struct command cli_commands[];

/* The subcommands, one file each (argv[0] is the subcommand's name). */
int cmd_run(int argc, char **argv);             /* run.c */
int cmd_validate(int argc, char **argv);        /* run.c */
int cmd_patterns(int argc, char **argv);        /* list.c */
int cmd_kernels(int argc, char **argv);         /* list.c */
int cmd_counters(int argc, char **argv);        /* list.c */
int cmd_columns(int argc, char **argv);         /* list.c */
int cmd_pattern(int argc, char **argv);         /* pattern.c */
int cmd_inputs(int argc, char **argv);          /* inputs.c */
int cmd_attention(int argc, char **argv);       /* inputs.c */
int cmd_plot(int argc, char **argv);            /* plot.c */
int cmd_model(int argc, char **argv);           /* model.c */
int cmd_report(int argc, char **argv);          /* plot.c */
int cmd_review(int argc, char **argv);          /* review.c */
int cmd_machine(int argc, char **argv);         /* machine.c */
int cmd_compare(int argc, char **argv);         /* compare.c */
int cmd_merge(int argc, char **argv);           /* cluster.c */
int cmd_slurm(int argc, char **argv);           /* cluster.c */

/* run: re-executes with threads pinned (OpenMP reads its environment
 * when it loads) unless OMP_PROC_BIND or SABENCH_NO_PIN is set. */
void cli_pin_threads(char **argv);

/* The command called name, or NULL. */
const struct command *cli_find(const char *name);

/* Lines to stdout; progress and warnings to stderr. */
void cli_line(const char *text);
void cli_progress(const char *text);
void cli_warning(const char *text);

/* Prints "sabench: <e's message>" and returns status. */
int cli_fail(int status, const struct err *e);

/* Prints the problem (fmt with arg) and the synopsis cmd; returns 2. */
int cli_usage(const char *cmd, const char *fmt, const char *arg);

/* Parses a whole decimal number >= min into *out; 0, or -1. */
int cli_parse_long(const char *s, long min, long *out);

/* 0 when a picture can be written at png (in folder dir), else -1 with e
 * naming png, the user's path. */
int cli_png_writable(const char *png, const char *dir, struct err *e);

#endif
