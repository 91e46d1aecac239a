/* cli/common.c - what every subcommand shares: printing lines, progress,
 * warnings and errors (the CLI is the only part of sabench that prints),
 * finding a command in the table and parsing numbers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

void cli_line(const char *text)
{
	printf("%s\n", text);
}

void cli_progress(const char *text)
{
	fprintf(stderr, "%s\n", text);
}

void cli_warning(const char *text)
{
	fprintf(stderr, "sabench: warning: %s\n", text);
}

int cli_fail(int status, const struct err *e)
{
	fprintf(stderr, "sabench: %s\n", e->msg);
	return status;
}

int cli_usage(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "sabench: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: sabench %s\n", cmd);
	return 2;
}

const struct command *cli_find(const char *name)
{
	for (const struct command *c = cli_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* Parses a whole decimal number into *out; 0 on success. */
int cli_parse_long(const char *s, long min, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return end == s || *end || errno || *out < min ? -1 : 0;
}

/* 0 when a picture can be written at png (in folder dir), else -1 with e
 * naming png, the user's path. */
/* Opens png for writing as gnuplot will (root passes access() in /proc
 * and on read-only mounts: only an open tells), leaving no new file. */
static int try_create(const char *png, struct err *e)
{
	int made = access(png, F_OK) != 0;
	int fd = open(png, O_WRONLY | O_CLOEXEC | (made ? O_CREAT | O_EXCL : 0), 0644);

	if (fd < 0)
		return err_set(e, "cannot write '%s': %s", png, strerror(errno));
	close(fd);
	if (made)
		unlink(png);
	return 0;
}

int cli_png_writable(const char *png, const char *dir, struct err *e)
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
	return try_create(png, e);
}
