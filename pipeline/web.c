/*
 * web.c: the HTTP server under the desk, on libmicrohttpd, with the rules web.h states. The
 * handler sees a request only after every check has passed.
 */
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define COOKIE "kigen_desk"
#define MAX_SESSIONS 8
#define TOKEN_HEX 64

struct web_session {
	char id[TOKEN_HEX + 1]; /* "" = free slot */
	char csrf[TOKEN_HEX + 1];
	char staff[64];
	time_t last;
};

struct server {
	const struct web_config *cfg;
	char hosts[2][80]; /* Host header values that name this desk; "" unused */
	struct web_session sessions[MAX_SESSIONS];
	int idle;
};

/* One request's state between libmicrohttpd's calls. */
struct req {
	char body[WEB_BODY_MAX + 1];
	size_t len;
	bool too_big;
};

const char *web_session_csrf(const struct web_session *s)
{
	return s->csrf;
}

const char *web_session_staff(const struct web_session *s)
{
	return s->staff;
}

void web_session_set_staff(struct web_session *s, const char *staff)
{
	snprintf(s->staff, sizeof s->staff, "%s", staff);
}

/* --- the listen address ------------------------------------------------------------------- */

struct listen_addr {
	bool v6;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	char host[64]; /* as written, without the port: "127.0.0.1", "localhost", "[::1]" */
	int port;
};

static enum kg_err parse_listen(const char *s, struct listen_addr *a)
{
	memset(a, 0, sizeof *a);
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof a->host)
		return kg_fail(KG_EUSAGE, "--listen '%s': expected ADDR:PORT, e.g. %s", s, WEB_DEFAULT_LISTEN);
	memcpy(a->host, s, (size_t)(colon - s));
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
		return kg_fail(KG_EUSAGE, "--listen '%s': the port must be 1..65535", s);
	a->port = (int)port;
	const char *ip = !strcmp(a->host, "localhost") ? "127.0.0.1" : a->host;
	if (a->host[0] == '[') {
		char six[64];
		size_t n = strlen(a->host);
		if (n < 3 || a->host[n - 1] != ']')
			return kg_fail(KG_EUSAGE, "--listen '%s': an IPv6 address is written [ADDR]:PORT", s);
		snprintf(six, sizeof six, "%.*s", (int)(n - 2), a->host + 1);
		a->v6 = true;
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, six, &a->in6.sin6_addr) != 1)
			return kg_fail(KG_EUSAGE, "--listen '%s': not an IPv6 address", s);
		if (!IN6_IS_ADDR_LOOPBACK(&a->in6.sin6_addr))
			return kg_fail(KG_EUSAGE,
			               "--listen '%s': not a loopback address (PINs never cross a network; use [::1])",
			               s);
		return KG_OK;
	}
	a->in4.sin_family = AF_INET;
	a->in4.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, ip, &a->in4.sin_addr) != 1)
		return kg_fail(KG_EUSAGE, "--listen '%s': not an IPv4 address, localhost or [::1]", s);
	if ((ntohl(a->in4.sin_addr.s_addr) >> 24) != 127)
		return kg_fail(KG_EUSAGE,
		               "--listen '%s': not a loopback address (PINs never cross a network; use 127.0.0.1)", s);
	return KG_OK;
}

enum kg_err web_check_listen(const char *listen)
{
	struct listen_addr a;
	return parse_listen(listen, &a);
}

/* --- sessions ----------------------------------------------------------------------------- */

static void random_hex(char out[TOKEN_HEX + 1])
{
	unsigned char raw[TOKEN_HEX / 2];
	size_t got = 0;
	while (got < sizeof raw) {
		ssize_t r = getrandom(raw + got, sizeof raw - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			abort(); /* no randomness: never hand out guessable tokens */
		got += (size_t)r;
	}
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof raw);
}

/* Compares without an early exit, so the time taken says nothing about the token. */
static bool same_token(const char *a, const char *b)
{
	if (!a || !b || strlen(a) != TOKEN_HEX || strlen(b) != TOKEN_HEX)
		return false;
	unsigned char d = 0;
	for (size_t i = 0; i < TOKEN_HEX; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static void end_session(struct web_session *s)
{
	explicit_bzero(s, sizeof *s);
}

/* The live session the cookie names, or NULL; sessions idle too long end here. */
static struct web_session *find_session(struct server *sv, const char *cookie)
{
	time_t now = time(NULL);
	struct web_session *found = NULL;
	for (int i = 0; i < MAX_SESSIONS; i++) {
		struct web_session *s = &sv->sessions[i];
		if (!*s->id)
			continue;
		if (now - s->last > sv->idle) {
			end_session(s);
			continue;
		}
		if (same_token(s->id, cookie))
			found = s;
	}
	return found;
}

/* A new session, in a free slot or else in place of the least recently used one (one that
 * nobody signed in to first). */
static struct web_session *new_session(struct server *sv)
{
	struct web_session *slot = NULL;
	for (int i = 0; i < MAX_SESSIONS && !slot; i++)
		if (!*sv->sessions[i].id)
			slot = &sv->sessions[i];
	for (int pass = 0; pass < 2 && !slot; pass++)
		for (int i = 0; i < MAX_SESSIONS; i++) {
			struct web_session *s = &sv->sessions[i];
			if ((pass == 0 && *s->staff) || (slot && slot->last <= s->last))
				continue;
			slot = s;
		}
	end_session(slot);
	random_hex(slot->id);
	random_hex(slot->csrf);
	slot->last = time(NULL);
	return slot;
}

/* --- form bodies -------------------------------------------------------------------------- */

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

bool web_form_value(const char *body, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	for (const char *p = body; p && *p;) {
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);
		if ((size_t)(end - p) > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			size_t n = 0;
			bool ok = true;
			for (const char *v = p + klen + 1; v < end && ok; v++) {
				int c = (unsigned char)*v;
				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					int hi = v + 2 < end ? hexval(v[1]) : -1, lo = hi >= 0 ? hexval(v[2]) : -1;
					if (hi < 0 || lo < 0) {
						ok = false;
						break;
					}
					c = hi * 16 + lo;
					v += 2;
				}
				if (c < 0x20 || c == 0x7f || n + 1 >= size)
					ok = false;
				else
					out[n++] = (char)c;
			}
			out[ok ? n : 0] = '\0';
			if (!ok)
				explicit_bzero(out, size);
			return ok;
		}
		p = amp ? amp + 1 : NULL;
	}
	if (size)
		out[0] = '\0';
	return false;
}

/* --- answering ---------------------------------------------------------------------------- */

static const char *status_text(int status)
{
	switch (status) {
	case 400: return "bad request";
	case 401: return "no session: reload the page and sign in";
	case 403: return "forbidden";
	case 404: return "not found";
	case 405: return "method not allowed";
	case 413: return "request too large";
	case 415: return "unsupported media type";
	case 421: return "this desk answers only to its own address";
	default: return "error";
	}
}

static enum MHD_Result answer(struct MHD_Connection *conn, const char *method, const char *path, int status,
                              const char *type, const char *body, size_t len, const struct web_session *new_s)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type ? type : "application/json; charset=utf-8");
	MHD_add_response_header(r, "Content-Security-Policy",
	                        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
	                        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "Pragma", "no-cache");
	if (new_s) {
		char cookie[160];
		snprintf(cookie, sizeof cookie, COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict", new_s->id);
		MHD_add_response_header(r, "Set-Cookie", cookie);
		explicit_bzero(cookie, sizeof cookie);
	}
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	/* The log: method, path (printable, capped) and status; never a body or a query. */
	char safe[81];
	size_t n = 0;
	for (const char *p = path; *p && n < sizeof safe - 1; p++)
		safe[n++] = (*p > 0x20 && *p < 0x7f) ? *p : '?';
	safe[n] = '\0';
	fprintf(stderr, "web: %s %s %d\n", method, safe, status);
	return ret;
}

static enum MHD_Result refuse(struct MHD_Connection *conn, const char *method, const char *path, int status)
{
	char body[160];
	int n = snprintf(body, sizeof body, "{\"error\": \"%s\"}", status_text(status));
	return answer(conn, method, path, status, NULL, body, (size_t)n, NULL);
}

static bool host_ok(const struct server *sv, const char *host)
{
	for (int i = 0; i < 2; i++)
		if (host && *sv->hosts[i] && !strcmp(host, sv->hosts[i]))
			return true;
	return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	struct server *sv = cls;
	bool post = !strcmp(method, "POST");
	struct req *rq = *con_cls;
	if (!rq) { /* the headers are in: everything that can be refused before the body is */
		const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
		if (!host_ok(sv, host))
			return refuse(conn, method, url, 421);
		if (!post && strcmp(method, "GET"))
			return refuse(conn, method, url, 405);
		if (MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0 || strchr(url, '?'))
			return refuse(conn, method, url, 400);
		const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (clen && strtoull(clen, NULL, 10) > WEB_BODY_MAX)
			return refuse(conn, method, url, 413);
		rq = *con_cls = kg_calloc(1, sizeof *rq);
		return MHD_YES;
	}
	if (*upload_data_size) { /* a piece of the body: copy it out, zero it in MHD's buffer */
		size_t n = *upload_data_size;
		if (rq->len + n > WEB_BODY_MAX)
			rq->too_big = true;
		else
			memcpy(rq->body + rq->len, upload_data, n);
		if (!rq->too_big)
			rq->len += n;
		explicit_bzero((void *)upload_data, n);
		*upload_data_size = 0;
		return MHD_YES;
	}

	/* The whole request is in. */
	if (rq->too_big)
		return refuse(conn, method, url, 413);
	if (!post && rq->len)
		return refuse(conn, method, url, 400);
	const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE);
	struct web_session *s = find_session(sv, cookie);
	struct web_session *created = NULL;
	if (post) {
		char origin[96];
		snprintf(origin, sizeof origin, "http://%s",
		         MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host"));
		const char *o = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
		const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
		if (!o || strcmp(o, origin))
			return refuse(conn, method, url, 403);
		if (!s)
			return refuse(conn, method, url, 401);
		if (!same_token(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token"), s->csrf))
			return refuse(conn, method, url, 403);
		if (!type || strncmp(type, "application/x-www-form-urlencoded", 33) || (type[33] && type[33] != ';'))
			return refuse(conn, method, url, 415);
		if (memchr(rq->body, '\0', rq->len))
			return refuse(conn, method, url, 400);
	} else if (!s) {
		s = created = new_session(sv);
	}
	s->last = time(NULL);
	rq->body[rq->len] = '\0';

	struct web_request req = {post, url, rq->body, rq->len, s};
	struct web_reply rep = {200, NULL, SBUF_INIT};
	sv->cfg->handle(sv->cfg->ctx, &req, &rep);
	explicit_bzero(rq->body, sizeof rq->body);
	rq->len = 0;
	enum MHD_Result ret;
	if (sbuf_check(&rep.body))
		ret = refuse(conn, method, url, 500);
	else
		ret = answer(conn, method, url, rep.status, rep.type, rep.body.buf, rep.body.len, created);
	sbuf_wipe(&rep.body);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)conn, (void)toe;
	if (*con_cls) {
		explicit_bzero(*con_cls, sizeof(struct req));
		free(*con_cls);
		*con_cls = NULL;
	}
}

enum kg_err web_run(const struct web_config *cfg)
{
	struct listen_addr a;
	enum kg_err err = parse_listen(cfg->listen ? cfg->listen : WEB_DEFAULT_LISTEN, &a);
	if (err)
		return err;
	if (geteuid() == 0 && !cfg->allow_root)
		return kg_fail(KG_EUSAGE, "the desk does not run as root: start it as the counter PC's ordinary user");
	struct server *sv = kg_calloc(1, sizeof *sv);
	sv->cfg = cfg;
	sv->idle = cfg->idle_seconds > 0 ? cfg->idle_seconds : WEB_DEFAULT_IDLE;
	snprintf(sv->hosts[0], sizeof sv->hosts[0], "%s:%d", a.host, a.port);
	if (!strcmp(a.host, "127.0.0.1") || !strcmp(a.host, "[::1]"))
		snprintf(sv->hosts[1], sizeof sv->hosts[1], "localhost:%d", a.port);
	else if (!strcmp(a.host, "localhost"))
		snprintf(sv->hosts[1], sizeof sv->hosts[1], "127.0.0.1:%d", a.port);

	/* The serving thread inherits this mask; the signals are taken here with sigwait. */
	sigset_t stop, old;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | (a.v6 ? MHD_USE_IPv6 : 0), (uint16_t)a.port, NULL,
		NULL, on_request, sv, MHD_OPTION_SOCK_ADDR,
		a.v6 ? (struct sockaddr *)&a.in6 : (struct sockaddr *)&a.in4, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
		NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)32, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768, MHD_OPTION_END);
	if (!d) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		free(sv);
		return kg_fail(KG_EIO, "cannot listen on %s:%d (in use, or not allowed)", a.host, a.port);
	}
	char url[96];
	snprintf(url, sizeof url, "http://%s/", sv->hosts[0]);
	if (cfg->ready)
		cfg->ready(cfg->ctx, url);
	int sig;
	while (sigwait(&stop, &sig) != 0)
		;
	MHD_stop_daemon(d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	explicit_bzero(sv, sizeof *sv);
	free(sv);
	return KG_OK;
}
