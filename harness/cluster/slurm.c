/* slurm.c - job scripts for SLURM. The array runs one shard per task on an
 * exclusive node (benchmarks on shared nodes lie), threads pinned, with
 * --resume so a requeued task goes on where it stopped. The merge job runs
 * afterok the whole array with --kill-on-invalid-dep=yes: one failed shard
 * cancels it, and `sabench merge` by hand names what is missing. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../report/results.h"
#include "slurm.h"

static void self_path(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		snprintf(buf, len, "sabench");
	else
		buf[n] = 0;
}

/* s as one shell word in single quotes (' written as '\''), into buf. */
static const char *sh_quote(const char *s, char *buf, size_t len)
{
	size_t at = 0;

	if (len < 3)
		return "''";
	buf[at++] = '\'';
	for (; *s && at + 6 < len; s++) {
		if (*s == '\'') {
			memcpy(buf + at, "'\\''", 4);
			at += 4;
		} else {
			buf[at++] = *s;
		}
	}
	buf[at++] = '\'';
	buf[at] = 0;
	return buf;
}

/* A job name SLURM and the script's comments take as is: s with each
 * character other than letters, digits, '_', '-' and '.' made '_'. */
static void job_name(const char *s, char *buf, size_t len)
{
	size_t at = 0;

	for (; *s && at + 1 < len; s++)
		buf[at++] = (isalnum((unsigned char)*s) || strchr("_-.", *s)) ? *s : '_';
	buf[at] = 0;
}

/* 1 when s is n digits (n >= 1), advancing *s past them. */
static int digits(const char **s)
{
	const char *p = *s;

	while (isdigit((unsigned char)**s))
		(*s)++;
	return *s > p;
}

int slurm_check_time(const char *t)
{
	const char *s = t;
	int colons = 0;

	if (!strcmp(t, "UNLIMITED") || !strcmp(t, "INFINITE"))
		return 0;
	if (!digits(&s))
		return -1;
	if (*s == '-') {                /* days-hours[:minutes[:seconds]] */
		s++;
		if (!digits(&s))
			return -1;
		while (*s == ':' && colons < 2) {
			s++;
			colons++;
			if (!digits(&s))
				return -1;
		}
		return *s ? -1 : 0;
	}
	while (*s == ':' && colons < 2) {       /* minutes, m:s, h:m:s */
		s++;
		colons++;
		if (!digits(&s))
			return -1;
	}
	return *s ? -1 : 0;
}

int slurm_check_partition(const char *p)
{
	int len = 0;

	for (; *p; p++) {
		if (*p == ',' && len) {
			len = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && !strchr("_-.", *p))
			return -1;
		len++;
	}
	return len ? 0 : -1;
}

static int write_script(const char *path, const char *text, struct err *e)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	fputs(text, f);
	if (ferror(f) | fclose(f))
		return err_set(e, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

int slurm_write(const struct slurm_opts *o, struct err *e)
{
	char bin[PATH_MAX], exp[PATH_MAX], run[PATH_MAX], dir[PATH_MAX + 16];
	char path[PATH_MAX + 64], part[256] = "", text[32768], name[256];
	char qbin[4 * PATH_MAX], qexp[4 * PATH_MAX], qrun[4 * PATH_MAX];

	if (slurm_check_time(o->time))
		return err_set(e, "--time '%s' is not a SLURM time (minutes, m:s, h:m:s, d-h, d-h:m, d-h:m:s or UNLIMITED)",
			       o->time);
	if (o->partition && (strlen(o->partition) > 200 || slurm_check_partition(o->partition)))
		return err_set(e, "--partition '%s' is not a SLURM partition list (names of letters, digits, '_', '-' and '.', separated by commas)",
			       o->partition);
	self_path(bin, sizeof bin);
	if (!realpath(o->experiment, exp))
		return err_set(e, "cannot find '%s': %s", o->experiment, strerror(errno));
	snprintf(dir, sizeof dir, "%s/slurm", o->run_dir);
	if (res_make_dirs(dir, e) || !realpath(o->run_dir, run))
		return err_set(e, "cannot create '%s'", dir);
	/* #SBATCH lines take a double-quoted path, but not every character in it */
	if (strpbrk(run, "\"\n\\%"))
		return err_set(e, "results folder '%s' has a '\"', '\\', '%%' or newline in its path; SLURM's --output cannot take it",
			       run);
	if (o->partition)
		snprintf(part, sizeof part, "#SBATCH --partition=%s\n", o->partition);
	job_name(o->name, name, sizeof name);
	sh_quote(bin, qbin, sizeof qbin);
	sh_quote(exp, qexp, sizeof qexp);
	sh_quote(run, qrun, sizeof qrun);
	snprintf(text, sizeof text,
		 "#!/bin/bash\n"
		 "# sabench: experiment %s as %d shards, one per array task\n"
		 "#SBATCH --job-name=sabench-%s\n"
		 "#SBATCH --array=1-%d\n"
		 "#SBATCH --nodes=1\n"
		 "#SBATCH --ntasks=1\n"
		 "%s"
		 "#SBATCH --time=%s\n"
		 "%s"
		 "#SBATCH --output=\"%s/slurm/shard-%%a.out\"\n"
		 "set -eu\n"
		 "export OMP_PROC_BIND=close OMP_PLACES=cores\n"
		 "exec %s run %s --shard ${SLURM_ARRAY_TASK_ID}/%d -o %s/shards/${SLURM_ARRAY_TASK_ID}-of-%d --resume\n",
		 name, o->shards, name, o->shards,
		 o->exclusive ? "#SBATCH --exclusive\n" : "", o->time, part, run, qbin, qexp,
		 o->shards, qrun, o->shards);
	snprintf(path, sizeof path, "%s/shards.sbatch", dir);
	if (write_script(path, text, e))
		return -1;
	snprintf(text, sizeof text,
		 "#!/bin/bash\n"
		 "# sabench: merge the shards of %s, then draw and report\n"
		 "#SBATCH --job-name=sabench-%s-merge\n"
		 "#SBATCH --nodes=1\n"
		 "#SBATCH --ntasks=1\n"
		 "#SBATCH --time=00:30:00\n"
		 "%s"
		 "#SBATCH --output=\"%s/slurm/merge.out\"\n"
		 "set -eu\n"
		 "%s merge %s/shards -o %s --force\n"
		 "%s plot %s || echo 'sabench: plots left out (see above)' >&2\n"
		 "%s report %s\n",
		 name, name, part, run, qbin, qrun, qrun, qbin, qrun, qbin, qrun);
	snprintf(path, sizeof path, "%s/merge.sbatch", dir);
	return write_script(path, text, e);
}

/* Runs sbatch --parsable args and reads the job id. */
static int sbatch(const char *args, char *id, size_t len, struct err *e)
{
	char cmd[PATH_MAX * 2 + 256];
	FILE *p;

	snprintf(cmd, sizeof cmd, "sbatch --parsable %s", args);
	p = popen(cmd, "r");
	if (!p)
		return err_set(e, "cannot run sbatch: %s", strerror(errno));
	if (!fgets(id, (int)len, p))
		id[0] = 0;
	if (pclose(p) != 0 || !id[0])
		return err_set(e, "sbatch failed: %s", cmd);
	id[strcspn(id, ";\n")] = 0;
	return 0;
}

int slurm_submit(const struct slurm_opts *o, char *array_id, char *merge_id,
		 size_t len, struct err *e)
{
	char run[PATH_MAX], script[PATH_MAX + 32], q[4 * PATH_MAX + 128], args[4 * PATH_MAX + 256];

	if (!realpath(o->run_dir, run))
		return err_set(e, "cannot find '%s'", o->run_dir);
	snprintf(script, sizeof script, "%s/slurm/shards.sbatch", run);
	snprintf(args, sizeof args, "%s", sh_quote(script, q, sizeof q));
	if (sbatch(args, array_id, len, e))
		return -1;
	/* the id goes into a command line: digits (and an array's _) only */
	if (strspn(array_id, "0123456789_") != strlen(array_id))
		return err_set(e, "sbatch answered '%s', not a job id", array_id);
	snprintf(script, sizeof script, "%s/slurm/merge.sbatch", run);
	snprintf(args, sizeof args, "--dependency=afterok:%s --kill-on-invalid-dep=yes %s",
		 array_id, sh_quote(script, q, sizeof q));
	return sbatch(args, merge_id, len, e);
}
