/* slurm.c - job scripts for SLURM. The array runs one shard per task on an
 * exclusive node (benchmarks on shared nodes lie), threads pinned, with
 * --resume so a requeued task goes on where it stopped. The merge job runs
 * afterok the whole array with --kill-on-invalid-dep=yes: one failed shard
 * cancels it, and `sabench merge` by hand names what is missing. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../out/results.h"
#include "slurm.h"

static void self_path(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		snprintf(buf, len, "sabench");
	else
		buf[n] = 0;
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
	char path[PATH_MAX + 64], part[256] = "", text[8192];

	self_path(bin, sizeof bin);
	if (!realpath(o->experiment, exp))
		return err_set(e, "cannot find '%s': %s", o->experiment, strerror(errno));
	snprintf(dir, sizeof dir, "%s/slurm", o->run_dir);
	if (res_make_dirs(dir, e) || !realpath(o->run_dir, run))
		return err_set(e, "cannot create '%s'", dir);
	if (o->partition)
		snprintf(part, sizeof part, "#SBATCH --partition=%s\n", o->partition);
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
		 "#SBATCH --output=%s/slurm/shard-%%a.out\n"
		 "set -eu\n"
		 "export OMP_PROC_BIND=close OMP_PLACES=cores\n"
		 "exec %s run %s --shard ${SLURM_ARRAY_TASK_ID}/%d -o %s/shards/${SLURM_ARRAY_TASK_ID}-of-%d --resume\n",
		 o->name, o->shards, o->name, o->shards,
		 o->exclusive ? "#SBATCH --exclusive\n" : "", o->time, part, run, bin, exp,
		 o->shards, run, o->shards);
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
		 "#SBATCH --output=%s/slurm/merge.out\n"
		 "set -eu\n"
		 "%s merge %s/shards -o %s --force\n"
		 "%s plot %s || echo 'sabench: plots left out (see above)' >&2\n"
		 "%s report %s\n",
		 o->name, o->name, part, run, bin, run, run, bin, run, bin, run);
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
	char run[PATH_MAX], args[PATH_MAX * 2 + 128];

	if (!realpath(o->run_dir, run))
		return err_set(e, "cannot find '%s'", o->run_dir);
	snprintf(args, sizeof args, "'%s/slurm/shards.sbatch'", run);
	if (sbatch(args, array_id, len, e))
		return -1;
	snprintf(args, sizeof args, "--dependency=afterok:%s --kill-on-invalid-dep=yes '%s/slurm/merge.sbatch'",
		 array_id, run);
	return sbatch(args, merge_id, len, e);
}
