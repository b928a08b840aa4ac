/*
 * sbuf.c: the capped string buffer.
 */
#include "sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

char sbuf_empty[1];

static size_t cap_of(const struct sbuf *b)
{
	return b->cap ? b->cap : SBUF_DEFAULT_CAP;
}

void sbuf_init(struct sbuf *b, size_t cap)
{
	b->buf = sbuf_empty;
	b->len = b->alloc = 0;
	b->cap = cap;
	b->overflow = 0;
}

void sbuf_release(struct sbuf *b)
{
	if (b->alloc)
		free(b->buf);
	sbuf_init(b, b->cap);
}

void sbuf_wipe(struct sbuf *b)
{
	if (b->alloc)
		explicit_bzero(b->buf, b->alloc);
	sbuf_release(b);
}

void sbuf_reset(struct sbuf *b)
{
	b->len = 0;
	b->overflow = 0;
	if (b->alloc)
		b->buf[0] = '\0';
}

char *sbuf_detach(struct sbuf *b)
{
	char *s = b->alloc ? b->buf : kg_strdup("");
	sbuf_init(b, b->cap);
	return s;
}

enum kg_err sbuf_check(const struct sbuf *b)
{
	return b->overflow ? kg_fail(KG_EINPUT, "text longer than %zu bytes", cap_of(b)) : KG_OK;
}

/* Makes room for extra more bytes; 0 when that would pass the cap. */
static int grow(struct sbuf *b, size_t extra)
{
	if (extra > cap_of(b) || b->len > cap_of(b) - extra) {
		b->overflow = 1;
		return 0;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->alloc)
		return 1;
	size_t n = b->alloc ? b->alloc : 64;
	while (n < need)
		n *= 2;
	if (b->alloc) {
		b->buf = kg_realloc(b->buf, n);
	} else {
		b->buf = kg_malloc(n);
		b->buf[0] = '\0';
	}
	b->alloc = n;
	return 1;
}

void sbuf_add(struct sbuf *b, const void *data, size_t n)
{
	if (!grow(b, n))
		return;
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

void sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_addc(struct sbuf *b, char c)
{
	sbuf_add(b, &c, 1);
}

void sbuf_vaddf(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || !grow(b, (size_t)n))
		return;
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sbuf_vaddf(b, fmt, ap);
	va_end(ap);
}

void sbuf_add_json(struct sbuf *b, const char *s)
{
	sbuf_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			sbuf_addf(b, "\\%c", c);
		else if (c < 0x20)
			sbuf_addf(b, "\\u%04x", c);
		else
			sbuf_addc(b, (char)c);
	}
	sbuf_addc(b, '"');
}

void sbuf_add_html(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': sbuf_adds(b, "&lt;"); break;
		case '>': sbuf_adds(b, "&gt;"); break;
		case '&': sbuf_adds(b, "&amp;"); break;
		case '"': sbuf_adds(b, "&quot;"); break;
		case '\'': sbuf_adds(b, "&#39;"); break;
		default: sbuf_addc(b, *s);
		}
	}
}
