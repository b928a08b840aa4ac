/*
 * kg.h: the one error type of kigen, and the conventions every module follows.
 *
 * Every fallible function returns an enum kg_err (KG_OK is 0) and is marked KG_WUR.
 * The detail of the last failure (which file, which line, which value) is kept in a
 * per-thread message set by kg_fail(); only main() prints it. A function either fails
 * with a message or succeeds; it never prints.
 *
 * Ownership rule for the whole program: a pointer returned by x_new() or documented as
 * "caller frees" belongs to the caller; every other pointer is borrowed and valid only
 * until the next call on the same handle.
 */
#ifndef KG_H
#define KG_H

#include <stddef.h>

#define KG_WUR __attribute__((warn_unused_result))
#define KG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define KG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum kg_err {
	KG_OK = 0,
	KG_EINPUT,    /* bad input from a user or a file: exit 2 */
	KG_EUSAGE,    /* bad command line: exit 2 */
	KG_ENOMEM,    /* out of memory */
	KG_EIO,       /* a file or the disk failed */
	KG_EDB,       /* the database failed */
	KG_ELOCKED,   /* another run holds the lock: exit 3 */
	KG_ENOTFOUND, /* the thing asked for does not exist */
	KG_ERENDER,   /* cairo, pango or a font failed */
	KG_ECARD,     /* the reader or the card failed */
	KG_ESTATE,    /* the thing exists but is in the wrong state */
};

/* A short English name of the error class. Never NULL. */
const char *kg_strerror(enum kg_err err);

/* Records a formatted detail for err and returns err, so callers write `return kg_fail(...)`. */
enum kg_err kg_fail(enum kg_err err, const char *fmt, ...) KG_PRINTF(2, 3);

/* The detail recorded by the last kg_fail() on this thread ("" when none). */
const char *kg_last_message(void);

/* The process exit code for err, as in the command contract (0, 1, 2 or 3). */
int kg_exit_code(enum kg_err err);

/* Allocation that never returns NULL: out of memory is fatal for a batch job. */
void *kg_malloc(size_t n);
void *kg_calloc(size_t n, size_t size);
void *kg_realloc(void *p, size_t n);
char *kg_strdup(const char *s);

/* Makes room for need elements of size bytes in p (capacity in *alloc, doubling; never
 * shrinks) and returns the array, as git's ALLOC_GROW: KG_GROW(list, len + 1, alloc). */
void *kg_grow(void *p, size_t need, size_t *alloc, size_t size);
#define KG_GROW(p, need, alloc) ((p) = kg_grow((p), (need), &(alloc), sizeof *(p)))
char *kg_strndup(const char *s, size_t n);

/* The process keeps its free heap instead of handing it back to the kernel after every
 * free (up to 64 MB), and takes blocks below 32 MB from the heap, not from mmap. glibc's
 * default gives back and faults in again whatever a short-lived allocation of 128 KB or
 * more touched: SQLite's statement journal on every imported row (a brk pair per row, half
 * the import's CPU in the kernel), zlib's windows and the PDF in memory on every page. The
 * peak stays that of the largest single job. Forked workers inherit it. */
void kg_keep_heap(void);

/* Asks the kernel for transparent huge pages on the next 31 MB of the heap (after
 * kg_keep_heap()): a process that then allocates and frees a file's transient buffers over and
 * over (a render worker) takes a page fault per 2 MB instead of per 4 KB when it first touches
 * them, and fewer TLB misses after. Touches nothing itself, so the resident size grows only as
 * the memory is used (in steps of 2 MB). Without THP (enabled: never) it changes nothing. */
void kg_huge_heap(void);

#endif
