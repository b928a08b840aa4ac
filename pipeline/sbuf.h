/*
 * sbuf.h: a growable, capped, always NUL-terminated string buffer (after git's strbuf and
 * curl's dynbuf). The cap turns a runaway input into an error instead of exhausting memory.
 *
 * Usage: struct sbuf b = SBUF_INIT; sbuf_addf(&b, ...); if (sbuf_check(&b)) fail; use b.buf;
 * sbuf_release(&b). b.buf is never NULL after SBUF_INIT ("" when empty). The buffer owns b.buf.
 * Errors are sticky (like cairo's status): an append past the cap is dropped, the buffer
 * remembers it, and sbuf_check() reports it once, so callers need not check every append.
 */
#ifndef SBUF_H
#define SBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "kg.h"

struct sbuf {
	char *buf;
	size_t len;
	size_t alloc;
	size_t cap;   /* 0: the default cap, SBUF_DEFAULT_CAP */
	int overflow; /* an append was dropped */
};

#define SBUF_DEFAULT_CAP ((size_t)64 << 20)
extern char sbuf_empty[];
#define SBUF_INIT                      \
	{                              \
		sbuf_empty, 0, 0, 0, 0 \
	}

void sbuf_init(struct sbuf *b, size_t cap);
/* Frees the memory and leaves b as after SBUF_INIT. */
void sbuf_release(struct sbuf *b);
/* Empties b, keeping its memory. */
void sbuf_reset(struct sbuf *b);
/* Hands the string to the caller (who frees it) and resets b. */
char *sbuf_detach(struct sbuf *b);

/* Appends; one that would pass the cap is dropped and marks the buffer as overflowed. */
void sbuf_add(struct sbuf *b, const void *data, size_t n);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addc(struct sbuf *b, char c);
void sbuf_addf(struct sbuf *b, const char *fmt, ...) KG_PRINTF(2, 3);
void sbuf_vaddf(struct sbuf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included. */
void sbuf_add_json(struct sbuf *b, const char *s);
/* Appends s as HTML text, safe in an element and in a quoted attribute: < > & " ' escaped. */
void sbuf_add_html(struct sbuf *b, const char *s);
/* KG_EINPUT (with a message) if an append was dropped since init or reset, else KG_OK. */
enum kg_err sbuf_check(const struct sbuf *b) KG_WUR;

/* Overwrites the buffer with zeros before freeing: for anything that held a secret. */
void sbuf_wipe(struct sbuf *b);

#endif
