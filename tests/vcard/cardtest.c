/*
 * cardtest.c: a test driver for the card module against a real pcscd (tests/e2e/card.sh).
 *
 * kigen itself has no command that sends a PIN outside the counter's safety rules, so the
 * tests drive card_verify_pin() through this small program linked with the same library.
 *   cardtest wait present|absent SECONDS   poll PC/SC until some reader has a card (or none has)
 *   cardtest verify sign|auth|juki [APP]   read one PIN line from stdin, VERIFY it once (in APP:
 *                                          jpki, juki-0401, juki-0100), then say what the card
 *                                          reports (reconnecting first when the outcome was unknown)
 *   cardtest other sign|auth|juki [APP]    "another program": raw PC/SC, shared mode, one VERIFY
 *                                          of the PIN on stdin, then SCardDisconnect(LEAVE_CARD) so
 *                                          a right PIN stays verified in the card's power session.
 *                                          Prints the status word, or the PC/SC error.
 *   cardtest bench N                       time N retry queries (prints ms per query)
 * Output is "key=value" lines for the shell to compare. The PIN never appears in argv or output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winscard.h>

#include "card.h"
#include "kg.h"

#include "banned.h"

static const char *const results[] = {[CARD_VERIFY_OK] = "ok",
                                      [CARD_VERIFY_WRONG] = "wrong",
                                      [CARD_VERIFY_LOCKED] = "locked",
                                      [CARD_VERIFY_UNKNOWN] = "unknown"};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether any reader shows a card; false while pcscd has no reader yet. */
static bool any_card(void)
{
	SCARDCONTEXT ctx;
	char buf[4096];
	DWORD len = sizeof buf;
	bool found = false;
	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) != SCARD_S_SUCCESS)
		return false;
	if (SCardListReaders(ctx, NULL, buf, &len) == SCARD_S_SUCCESS) {
		for (const char *p = buf; p < buf + len && *p && !found; p += strlen(p) + 1) {
			SCARD_READERSTATE st = {.szReader = p, .dwCurrentState = SCARD_STATE_UNAWARE};
			found = SCardGetStatusChange(ctx, 0, &st, 1) == SCARD_S_SUCCESS &&
			        (st.dwEventState & SCARD_STATE_PRESENT);
		}
	}
	SCardReleaseContext(ctx);
	return found;
}

static int wait_cmd(const char *what, const char *seconds)
{
	bool want = !strcmp(what, "present");
	double deadline = now_s() + strtod(seconds, NULL);
	while (any_card() != want) {
		if (now_s() > deadline) {
			fprintf(stderr, "cardtest: no reader became %s within %s s\n", what, seconds);
			return 1;
		}
		struct timespec pause = {0, 50 * 1000000L};
		nanosleep(&pause, NULL);
	}
	return 0;
}

static int pin_arg(const char *s, enum card_pin *pin)
{
	for (int p = 0; p < CARD_PIN_COUNT; p++) {
		if (!strcmp(s, card_pin_name((enum card_pin)p))) {
			*pin = (enum card_pin)p;
			return 0;
		}
	}
	fprintf(stderr, "cardtest: expected sign, auth or juki\n");
	return -1;
}

static int fail(enum kg_err err)
{
	fprintf(stderr, "cardtest: %s: %s\n", kg_strerror(err), kg_last_message());
	return kg_exit_code(err);
}

/* The application a PIN is in when none is named: the card table's first. */
static int app_arg(enum card_pin pin, const char *s, enum card_app *app)
{
	for (int a = 0; a < CARD_APP_COUNT; a++) {
		if (card_pin_in_app(pin, (enum card_app)a) && (!s || !strcmp(s, card_app_name((enum card_app)a)))) {
			*app = (enum card_app)a;
			return 0;
		}
	}
	fprintf(stderr, "cardtest: no such application for that PIN\n");
	return -1;
}

/* Another program at the reader: it shares the card and leaves it powered (and verified). */
static int other_cmd(enum card_pin pin, enum card_app app)
{
	static const unsigned char aids[CARD_APP_COUNT][10] = {
		{0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01},
		{0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01},
		{0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x01, 0x00},
	};
	static const unsigned char efs[CARD_PIN_COUNT] = {0x1B, 0x18, 0x1C};
	char line[128], readers[4096];
	unsigned char apdu[5 + 32], resp[258];
	SCARDCONTEXT ctx;
	SCARDHANDLE h;
	DWORD proto, len = sizeof readers, rlen;
	LONG rv;
	if (!fgets(line, sizeof line, stdin))
		return 2;
	line[strcspn(line, "\n")] = 0;
	size_t n = strlen(line);
	if ((rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx)) ||
	    (rv = SCardListReaders(ctx, NULL, readers, &len)) ||
	    (rv = SCardConnect(ctx, readers, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &h, &proto))) {
		printf("pcsc=%s\n", pcsc_stringify_error(rv));
		return 1;
	}
	unsigned char sel_app[15] = {0x00, 0xA4, 0x04, 0x0C, 0x0A},
		      sel_ef[7] = {0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, efs[pin]};
	memcpy(sel_app + 5, aids[app], 10);
	memcpy(apdu, (unsigned char[]){0x00, 0x20, 0x00, 0x80, (unsigned char)n}, 5);
	memcpy(apdu + 5, line, n);
	explicit_bzero(line, sizeof line);
	rlen = sizeof resp;
	rv = SCardTransmit(h, SCARD_PCI_T1, sel_app, sizeof sel_app, NULL, resp, &rlen);
	rlen = sizeof resp;
	if (!rv)
		rv = SCardTransmit(h, SCARD_PCI_T1, sel_ef, sizeof sel_ef, NULL, resp, &rlen);
	rlen = sizeof resp;
	if (!rv)
		rv = SCardTransmit(h, SCARD_PCI_T1, apdu, 5 + n, NULL, resp, &rlen);
	explicit_bzero(apdu, sizeof apdu);
	if (rv || rlen < 2)
		printf("pcsc=%s\n", pcsc_stringify_error(rv));
	else
		printf("sw=%02X%02X\n", resp[rlen - 2], resp[rlen - 1]);
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
	return rv ? 1 : 0;
}

static int verify_cmd(enum card_pin pin, enum card_app app)
{
	char line[128];
	struct card *c = NULL;
	enum card_verify res;
	enum card_counter state;
	int left, rc = 0;
	enum kg_err err;
	if (!fgets(line, sizeof line, stdin)) {
		fprintf(stderr, "cardtest: no PIN on stdin\n");
		return 2;
	}
	line[strcspn(line, "\n")] = 0;
	if ((err = card_connect(NULL, &c))) {
		rc = fail(err);
		goto out;
	}
	err = card_verify_pin(c, pin, app, line, &res, &left);
	printf("result=%s left=%d\n", results[res], left);
	if (err) {
		rc = fail(err);
		goto out;
	}
	if (res == CARD_VERIFY_UNKNOWN) {
		fprintf(stderr, "cardtest: VERIFY outcome unknown: %s\n", kg_last_message());
		if ((err = card_reconnect(c))) {
			rc = fail(err);
			goto out;
		}
		puts("reconnected=1");
	}
	/* In the same power session as the VERIFY: a right PIN shows as verified. */
	if ((err = card_retries(c, pin, app, &state, &left))) {
		rc = fail(err);
		goto out;
	}
	printf("after left=%d verified=%d\n", left, state == CARD_COUNTER_VERIFIED);
out:
	explicit_bzero(line, sizeof line);
	card_disconnect(c);
	return rc;
}

static int bench_cmd(long n)
{
	struct card *c = NULL;
	int left;
	enum card_counter state;
	enum kg_err err = card_connect(NULL, &c);
	double t0 = now_s();
	for (long i = 0; !err && i < n; i++)
		err = card_retries(c, i % 2 ? CARD_PIN_AUTH : CARD_PIN_SIGN, CARD_APP_JPKI, &state, &left);
	double t = now_s() - t0;
	card_disconnect(c);
	if (err)
		return fail(err);
	/* A query alternating between two PINs is 2 APDUs: SELECT EF, VERIFY without data. */
	printf("queries=%ld ms_per_query=%.3f ms_per_apdu=%.3f\n", n, t * 1e3 / (double)n, t * 1e3 / (double)n / 2);
	return 0;
}

int main(int argc, char **argv)
{
	enum card_pin pin;
	enum card_app app;
	if (argc == 4 && !strcmp(argv[1], "wait"))
		return wait_cmd(argv[2], argv[3]);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "verify"))
		return pin_arg(argv[2], &pin) || app_arg(pin, argc == 4 ? argv[3] : NULL, &app) ? 2
		                                                                                : verify_cmd(pin, app);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "other"))
		return pin_arg(argv[2], &pin) || app_arg(pin, argc == 4 ? argv[3] : NULL, &app) ? 2
		                                                                                : other_cmd(pin, app);
	if (argc == 3 && !strcmp(argv[1], "bench"))
		return bench_cmd(strtol(argv[2], NULL, 10) > 0 ? strtol(argv[2], NULL, 10) : 1);
	fputs("usage: cardtest wait present|absent SECONDS | verify|other sign|auth|juki [APP] < PIN | bench N\n",
	      stderr);
	return 2;
}
