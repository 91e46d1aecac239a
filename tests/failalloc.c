/* failalloc.c - allocation-failure injection for a test build of sabench
 * (linked with -Wl,--wrap=malloc and friends, so only sabench's own calls
 * are counted, never those inside libyaml, PAPI or libc): the n-th call,
 * n from $SABENCH_FAIL_ALLOC, returns NULL as if memory ran out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
int __wrap_posix_memalign(void **p, size_t a, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static long count;

/* Writes the number of allocations to $SABENCH_ALLOC_COUNT_FILE. */
static void report_count(void)
{
	const char *path = getenv("SABENCH_ALLOC_COUNT_FILE");
	FILE *f = path ? fopen(path, "w") : NULL;

	if (f) {
		fprintf(f, "%ld\n", count);
		fclose(f);
	}
}

/* 1 when this call is the one that fails. */
static int fail_now(void)
{
	static long target = -1;

	if (target < 0) {
		const char *t = getenv("SABENCH_FAIL_ALLOC");
		target = t ? atol(t) : 0;
		atexit(report_count);
	}
	return ++count == target;
}

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	return fail_now() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	return fail_now() ? NULL : __real_aligned_alloc(a, n);
}

int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
	return fail_now() ? 12 /* ENOMEM */ : __real_posix_memalign(p, a, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail_now() ? NULL : __real_strndup(s, n);
}
