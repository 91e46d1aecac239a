/* lock.c - a results folder's lock (lock.h). flock(2) decides who holds
 * it; the file names the holder by pid, start time and boot id, which
 * together name one process whatever it exec'ed since (its command name
 * does not: `sabench run` re-executes itself as "exe"). Where the
 * filesystem has no flock, that identity alone decides. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"

/* Who holds (or held) a lock: enough to tell that process from any other
 * process ever given the same pid on this machine. */
struct holder {
	long pid;                       /* 0: the file names nobody */
	unsigned long long start;       /* clock ticks after boot; 0: unknown */
	char boot[40];                  /* /proc/sys/kernel/random/boot_id, or "" */
};

/* Start time of pid in ticks after boot (field 22 of /proc/pid/stat, read
 * after the command name, which may hold spaces); 0 when unknown. */
static unsigned long long start_ticks(long pid)
{
	char path[64], buf[1024];
	unsigned long long t = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* after ") ": state is field 3, start time field 22 */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &t) != 1)
		return 0;
	return t;
}

static void boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	buf[0] = 0;
	if (f) {
		if (!fgets(buf, (int)len, f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
}

static void holder_self(struct holder *h)
{
	h->pid = (long)getpid();
	h->start = start_ticks(h->pid);
	boot_id(h->boot, sizeof h->boot);
}

/* Reads the holder a lock file names ("pid start boot", or an old lock's
 * "pid" alone). */
static void holder_read(int fd, struct holder *h)
{
	char buf[128] = "";
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);

	memset(h, 0, sizeof *h);
	buf[n > 0 ? n : 0] = 0;
	if (sscanf(buf, "%ld %llu %39s", &h->pid, &h->start, h->boot) < 1 || h->pid < 0)
		h->pid = 0;
}

/* 1 when the process h names is running now: its pid is alive with the
 * same start time, on the same boot. What cannot be told counts as alive. */
static int holder_alive(const struct holder *h)
{
	char boot[40];

	if (h->pid <= 0 || (kill((pid_t)h->pid, 0) && errno != EPERM))
		return 0;
	boot_id(boot, sizeof boot);
	if (h->boot[0] && boot[0] && strcmp(h->boot, boot))
		return 0;
	if (h->start && start_ticks(h->pid) && start_ticks(h->pid) != h->start)
		return 0;
	return 1;
}

/* 1 when fd is still the file at path (a holder dropping the lock unlinks
 * it: one who opened it before then must open the new one). */
static int still_there(int fd, const char *path)
{
	struct stat a, b;

	return !fstat(fd, &a) && !stat(path, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int refuse(const char *dir, const char *path, long pid, struct err *e)
{
	return err_set(e, "results folder '%s' is in use by another sabench run (pid %ld holds '%s')",
		       dir, pid, path);
}

static void note_takeover(const struct holder *old, const char *path, char *note, size_t len)
{
	size_t at = strlen(note);

	if (!old->pid)
		return;
	snprintf(note + at, len - at, "%stook over the stale lock '%s' (pid %ld %s)", at ? "; " : "",
		 path, old->pid, holder_alive(old) ? "does not hold it" : "is gone");
}

int lock_take(struct res_lock *l, const char *dir, char *note, size_t note_len,
	      struct err *e)
{
	struct holder old, me;
	char text[128];

	l->fd = -1;
	snprintf(l->path, sizeof l->path, "%s/.sabench.lock", dir);
	for (int tries = 0; tries < 16; tries++) {
		int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return err_set(e, "cannot lock '%s': %s", dir, strerror(errno));
		holder_read(fd, &old);
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			int no_flock = errno == ENOLCK || errno == EOPNOTSUPP || errno == EINVAL ||
				       errno == ENOSYS;
			if (errno == EWOULDBLOCK || (no_flock && holder_alive(&old))) {
				holder_read(fd, &old);
				close(fd);
				return refuse(dir, l->path, old.pid, e);
			}
			if (!no_flock) {
				close(fd);
				return err_set(e, "cannot lock '%s': %s", dir, strerror(errno));
			}
		}
		if (!still_there(fd, l->path)) {
			close(fd);
			continue;
		}
		holder_read(fd, &old);
		note_takeover(&old, l->path, note, note_len);
		holder_self(&me);
		snprintf(text, sizeof text, "%ld %llu %s\n", me.pid, me.start, me.boot[0] ? me.boot : "-");
		if (ftruncate(fd, 0) || pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text)) {
			int saved = errno;
			close(fd);
			return err_set(e, "cannot lock '%s': %s", dir, strerror(saved));
		}
		l->fd = fd;
		return 0;
	}
	return err_set(e, "cannot lock '%s': its lock file keeps changing", dir);
}

void lock_drop(struct res_lock *l)
{
	if (l->fd < 0)
		return;
	unlink(l->path);
	close(l->fd);
	l->fd = -1;
}
