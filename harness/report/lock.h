/* lock.h - one writer per results folder: dir/.sabench.lock, held with
 * flock(2) for the run's life (the kernel drops it when the holder dies,
 * however it dies, and it survives the run's own re-exec), and naming its
 * holder (pid, start time, boot id) for messages and for filesystems
 * without flock. */
#ifndef SABENCH_LOCK_H
#define SABENCH_LOCK_H

#include "../err.h"

struct res_lock {
	int fd;                 /* the open lock file, or -1 */
	char path[4200];        /* dir/.sabench.lock */
};

/* Takes dir's lock. A lock no live run holds is taken over and *note (of
 * room note_len) gets a line saying so; a live run's refuses. */
int lock_take(struct res_lock *l, const char *dir, char *note, size_t note_len,
	      struct err *e);

/* Removes and releases the lock, if held. */
void lock_drop(struct res_lock *l);

#endif
