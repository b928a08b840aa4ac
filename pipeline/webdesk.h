/*
 * webdesk.h: the desk's pages and actions in the browser (served by web.h): the counter screen
 * (照会書兼回答書 against the holder's card, through counter.h) and the back office's returned
 * mail screen (returns.h). Japanese for staff; JSON with English keys between page and server.
 *
 *   GET  /                  the page (a fresh CSRF token in a meta tag), /desk.js, /desk.css
 *   POST /api/whoami        who is signed in on this session
 *   POST /api/signin        staff=ID: signs in (audited with the terminal), /api/signout
 *   POST /api/lookup        id=APPID: whose form it is, before any card access (check digit first)
 *   POST /api/card          id=APPID: the reader and the card, and whether it is the holder's (no PIN)
 *   POST /api/redeem        id, face=0|1, sign, auth, juki: counter_redeem(); the PINs are wiped
 *   POST /api/today         today's audit rows at this terminal
 *   POST /api/return/find   code=B0001-000001 or APPID: the returned envelope's notice
 *   POST /api/return/mark   code, reason: marks it returned
 * Every action but whoami and signin needs a signed-in session. The page and its script and
 * style are compiled into the program from templates/web/ (no file is read at run time, nothing
 * is fetched from elsewhere).
 */
#ifndef WEBDESK_H
#define WEBDESK_H

#include "settings.h"
#include "store.h"
#include "web.h"

struct webdesk {
	struct store *st;
	const struct settings *set;
	const char *terminal; /* for the audit */
	const char *reader;   /* NULL: the first reader with a card */
	int date;             /* RULES_NO_DATE: today's date for each request; else fixed (tests) */
};

/* The web_handler of the desk; ctx is a struct webdesk. */
void webdesk_handle(void *ctx, const struct web_request *req, struct web_reply *rep);

#endif
