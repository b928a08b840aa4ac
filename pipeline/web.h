/*
 * web.h: the desk's embedded HTTP server (libmicrohttpd) and the security rules every request
 * passes before a handler sees it. The pages and their actions are webdesk.h's.
 *
 * The server listens on a loopback address only: PINs never cross a network. One thread
 * (MHD's internal polling thread) runs every handler, so handlers never race each other on the
 * database or the card reader.
 *
 * Every request:
 *   - its Host header must name the address the desk listens on (127.0.0.1:PORT, localhost:PORT,
 *     [::1]:PORT): a page on another site that resolves its own name to 127.0.0.1 (DNS rebinding)
 *     is refused with 421;
 *   - only GET (pages and their static files) and POST (everything that reads personal data or
 *     changes something) exist; anything else is 405; a URL with a query string is 400;
 *   - every answer carries Content-Security-Policy (nothing but the desk's own files, no inline
 *     script, no framing), X-Frame-Options DENY, nosniff, no referrer, Cache-Control no-store.
 * Every POST additionally:
 *   - must come from the desk's own page: an Origin header equal to the desk's origin (403);
 *   - must carry the session cookie of a live session (401; idle sessions expire) and that
 *     session's CSRF token in the X-CSRF-Token header (403);
 *   - has an application/x-www-form-urlencoded body of at most WEB_BODY_MAX bytes (415, 413).
 * A refused request reaches no handler, so it changes nothing.
 *
 * Secrets: the body of a POST (which may hold PINs) is copied out of libmicrohttpd's read
 * buffer, and that region of the read buffer is zeroed at once; the copy is zeroed after the
 * handler returns. Nothing logs a body or a query; the log has method, path and status only.
 */
#ifndef WEB_H
#define WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "kg.h"
#include "sbuf.h"

#define WEB_BODY_MAX 4096
#define WEB_DEFAULT_LISTEN "127.0.0.1:8470"
#define WEB_DEFAULT_IDLE 900 /* seconds without a request before a session ends */

/* A browser session: a random id in an HttpOnly, SameSite=Strict cookie, and a CSRF token. */
struct web_session;
const char *web_session_csrf(const struct web_session *s);
/* The staff member signed in on this session; "" before sign-in. */
const char *web_session_staff(const struct web_session *s);
void web_session_set_staff(struct web_session *s, const char *staff);

struct web_request {
	bool post;
	const char *path;
	char *body; /* POST: the form body, NUL-terminated (zeroed after the handler); GET: "" */
	size_t body_len;
	struct web_session *session; /* never NULL */
};

struct web_reply {
	int status;       /* 200 unless the handler says otherwise */
	const char *type; /* Content-Type; NULL: application/json */
	struct sbuf body;
};

typedef void (*web_handler)(void *ctx, const struct web_request *req, struct web_reply *rep);

struct web_config {
	const char *listen; /* ADDR:PORT; NULL: WEB_DEFAULT_LISTEN */
	int idle_seconds;   /* 0: WEB_DEFAULT_IDLE */
	web_handler handle;
	void *ctx;
	/* Called once the socket is bound and before serving (e.g. to print the URL); may be NULL. */
	void (*ready)(void *ctx, const char *url);
	/* The desk runs as an ordinary user; web_run refuses root (KG_EUSAGE) unless this is set,
	 * which only the tests do (they run as root in CI). */
	bool allow_root;
};

/*
 * Checks an ADDR:PORT for the desk: an IPv4 loopback address (127.0.0.0/8), localhost, or
 * [::1], and a port 1..65535. Anything else is KG_EUSAGE (exit 2) with the reason.
 */
enum kg_err web_check_listen(const char *listen) KG_WUR;

/* Serves until SIGINT or SIGTERM. KG_EIO when the address cannot be bound. */
enum kg_err web_run(const struct web_config *cfg) KG_WUR;

/*
 * The value of key in an application/x-www-form-urlencoded body, decoded (+ and %XX) into out
 * (size bytes, NUL-terminated). false when the key is absent, the value does not fit, or it
 * holds a NUL or a control character. The body is not changed.
 */
bool web_form_value(const char *body, const char *key, char *out, size_t size);

#endif
