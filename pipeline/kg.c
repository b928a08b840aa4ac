/*
 * kg.c: error classes, the per-thread failure detail, and allocation helpers.
 */
#include "kg.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "banned.h"

static _Thread_local char last_message[1024];

const char *kg_strerror(enum kg_err err)
{
	static const char *const names[] = {
		[KG_OK] = "success",
		[KG_EINPUT] = "bad input",
		[KG_EUSAGE] = "bad usage",
		[KG_ENOMEM] = "out of memory",
		[KG_EIO] = "input/output error",
		[KG_EDB] = "database error",
		[KG_ELOCKED] = "locked by another run",
		[KG_ENOTFOUND] = "not found",
		[KG_ERENDER] = "rendering error",
		[KG_ECARD] = "card reader error",
		[KG_ESTATE] = "wrong state",
	};
	if ((size_t)err < KG_ARRAY_SIZE(names) && names[err])
		return names[err];
	return "unknown error";
}

enum kg_err kg_fail(enum kg_err err, const char *fmt, ...)
{
	/* Format aside first: callers may pass kg_last_message() itself as an argument. */
	char msg[sizeof last_message];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	memcpy(last_message, msg, sizeof msg);
	return err;
}

const char *kg_last_message(void)
{
	return last_message;
}

int kg_exit_code(enum kg_err err)
{
	switch (err) {
	case KG_OK: return 0;
	case KG_EINPUT:
	case KG_EUSAGE: return 2;
	case KG_ELOCKED: return 3;
	default: return 1;
	}
}

_Noreturn static void oom(size_t n)
{
	fprintf(stderr, "kigen: out of memory (%zu bytes)\n", n);
	abort();
}

void *kg_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *kg_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *kg_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

void *kg_grow(void *p, size_t need, size_t *alloc, size_t size)
{
	if (need <= *alloc)
		return p;
	size_t n = *alloc ? *alloc : 16;
	while (n < need)
		n *= 2;
	if (n > SIZE_MAX / size)
		oom(SIZE_MAX);
	*alloc = n;
	return kg_realloc(p, n * size);
}

char *kg_strdup(const char *s)
{
	return kg_strndup(s, strlen(s));
}

char *kg_strndup(const char *s, size_t n)
{
	char *p = kg_malloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void kg_keep_heap(void)
{
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

void kg_huge_heap(void)
{
	/* Just below M_MMAP_THRESHOLD, so it comes from the heap's top, and stays there when freed
	 * (M_TRIM_THRESHOLD); later allocations are carved from the same range. */
	size_t bytes = (32 << 20) - (1 << 20);
	char *p = malloc(bytes);
	if (!p)
		return;
	uintptr_t from = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, to = ((uintptr_t)p + bytes) & ~(uintptr_t)4095;
	(void)madvise((void *)from, to - from, MADV_HUGEPAGE); /* a hint: without THP, nothing changes */
	free(p);
}
