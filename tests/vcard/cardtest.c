/*
 * cardtest.c: a test driver for the card module against a real pcscd (tests/e2e/card.sh).
 *
 * kigen itself has no command that sends a PIN outside the counter's safety rules, so the
 * tests drive card_verify_pin() through this small program linked with the same library.
 *   cardtest wait present|absent SECONDS   poll PC/SC until some reader has a card (or none has)
 *   cardtest verify sign|auth|juki         read one PIN line from stdin, VERIFY it once, then say
 *                                          what the card reports (reconnecting first when the
 *                                          outcome was unknown)
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

static int verify_cmd(enum card_pin pin)
{
	char line[128];
	struct card *c = NULL;
	enum card_verify res;
	int left, rc = 0;
	bool verified;
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
	err = card_verify_pin(c, pin, line, &res, &left);
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
	if ((err = card_retries(c, pin, &left, &verified))) {
		rc = fail(err);
		goto out;
	}
	printf("after left=%d verified=%d\n", left, verified);
out:
	explicit_bzero(line, sizeof line);
	card_disconnect(c);
	return rc;
}

static int bench_cmd(long n)
{
	struct card *c = NULL;
	int left;
	bool verified;
	enum kg_err err = card_connect(NULL, &c);
	double t0 = now_s();
	for (long i = 0; !err && i < n; i++)
		err = card_retries(c, CARD_PIN_AUTH, &left, &verified);
	double t = now_s() - t0;
	card_disconnect(c);
	if (err)
		return fail(err);
	/* A query is 3 APDUs: SELECT AP, SELECT EF, VERIFY without data. */
	printf("queries=%ld ms_per_query=%.3f ms_per_apdu=%.3f\n", n, t * 1e3 / (double)n, t * 1e3 / (double)n / 3);
	return 0;
}

int main(int argc, char **argv)
{
	enum card_pin pin;
	if (argc == 4 && !strcmp(argv[1], "wait"))
		return wait_cmd(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "verify"))
		return pin_arg(argv[2], &pin) ? 2 : verify_cmd(pin);
	if (argc == 3 && !strcmp(argv[1], "bench"))
		return bench_cmd(strtol(argv[2], NULL, 10) > 0 ? strtol(argv[2], NULL, 10) : 1);
	fputs("usage: cardtest wait present|absent SECONDS | verify sign|auth|juki < PIN | bench N\n", stderr);
	return 2;
}
