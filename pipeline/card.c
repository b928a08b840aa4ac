/*
 * card.c: the My Number card (JPKI) over PC/SC-Lite; see card.h for the contract and card.md
 * for where each APDU comes from.
 *
 * The facts that may prove wrong on a real card are kept in three tables so that a
 * correction is one line: the applications (apps[]), the PINs and their files (pins[]) and the
 * meaning of the status words (sws[]). Every APDU goes through transmit(), which turns PC/SC
 * failures and short answers into transport errors and never puts APDU data in a message.
 */
#include "card.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <winscard.h>

#include "rules.h"

#include "banned.h"

/* --- the tables ---------------------------------------------------------------------------- */

/* The applications, selected by AID (P1 04), indexed by enum card_app. */
static const struct card_aid {
	const char *name, *label;
	unsigned char len;
	unsigned char aid[16];
} apps[CARD_APP_COUNT] = {
	[CARD_APP_JPKI] = {"jpki", "JPKI AP", 10, {0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01}},
	/* The least certain fact (card.md): both candidates for the 住基 application are here. */
	[CARD_APP_JUKI_0401] = {"juki-0401",
                                "JUKI AP (...0401)",
                                10,
                                {0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01}},
	[CARD_APP_JUKI_0100] = {"juki-0100",
                                "JUKI AP (...0100)",
                                10,
                                {0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x01, 0x00}},
};

/* The EFs, selected by ID under the current application (P1 02). */
#define EF_TOKEN 0x0006     /* CK_TOKEN_INFO; the first 32 bytes are the label */
#define EF_AUTH_CERT 0x000A /* user-auth certificate, readable without a PIN */

static const char token_mynumber[] = "JPKIAPICCTOKEN2";

static const struct card_pin_info {
	const char *name, *label;
	unsigned ef;
	unsigned apps; /* the applications that may hold this PIN's counter (bit per enum card_app) */
	int max_tries;
	size_t min_len, max_len;
	bool letters; /* [A-Z0-9] rather than [0-9] */
} pins[] = {
	[CARD_PIN_SIGN] = {"sign", "署名用電子証明書", 0x001B, 1u << CARD_APP_JPKI, 5, 6, 16, true},
	[CARD_PIN_AUTH] = {"auth", "利用者証明用電子証明書", 0x0018, 1u << CARD_APP_JPKI, 3, 4, 4, false},
	[CARD_PIN_JUKI] = {"juki", "住民基本台帳用", 0x001C, 1u << CARD_APP_JUKI_0401 | 1u << CARD_APP_JUKI_0100, 3, 4,
                           4, false},
};

enum sw_class { SW_OK, SW_PARTIAL, SW_TRIES, SW_LOCKED, SW_NOT_FOUND, SW_ERROR };

/* Status words: matched with mask, first match wins; 63Cx carries the tries left in x. */
static const struct sw_info {
	unsigned sw, mask;
	enum sw_class class;
	const char *text;
} sws[] = {
	{0x9000, 0xFFFF, SW_OK, "success"},
	{0x6282, 0xFFFF, SW_PARTIAL, "end of file reached before Le bytes"},
	{0x63C0, 0xFFFF, SW_LOCKED, "PIN locked (no tries left)"},
	{0x63C0, 0xFFF0, SW_TRIES, "wrong PIN (tries left in the last digit)"},
	{0x6700, 0xFFFF, SW_ERROR, "wrong length"},
	{0x6981, 0xFFFF, SW_ERROR, "command incompatible with the file"},
	{0x6982, 0xFFFF, SW_ERROR, "security status not satisfied"},
	{0x6983, 0xFFFF, SW_LOCKED, "authentication method blocked (PIN locked)"},
	{0x6984, 0xFFFF, SW_LOCKED, "reference data not usable (PIN locked)"},
	{0x6986, 0xFFFF, SW_ERROR, "command not allowed (no current file)"},
	{0x6A82, 0xFFFF, SW_NOT_FOUND, "file or application not found"},
	{0x6A86, 0xFFFF, SW_ERROR, "incorrect P1-P2"},
	{0x6A88, 0xFFFF, SW_ERROR, "referenced data not found"},
	{0x6B00, 0xFFFF, SW_ERROR, "offset outside the file"},
	{0x6D00, 0xFFFF, SW_ERROR, "instruction not supported"},
	{0x6E00, 0xFFFF, SW_ERROR, "class not supported"},
	{0x0000, 0x0000, SW_ERROR, "unexpected status word"},
};

/* PC/SC return codes worth a clear sentence; the rest fall back to pcsc_stringify_error. */
static const struct {
	LONG rv;
	const char *text;
} pcsc_texts[] = {
	{SCARD_E_NO_SERVICE, "the PC/SC service (pcscd) is not running"},
	{SCARD_E_NO_READERS_AVAILABLE, "no card reader is connected"},
	{SCARD_E_UNKNOWN_READER, "no such card reader"},
	{SCARD_E_READER_UNAVAILABLE, "the card reader was disconnected"},
	{SCARD_E_NO_SMARTCARD, "no card in the reader"},
	{SCARD_W_REMOVED_CARD, "the card was removed"},
	{SCARD_W_RESET_CARD, "the card was reset by another program"},
	{SCARD_W_UNPOWERED_CARD, "the card is not powered"},
	{SCARD_W_UNRESPONSIVE_CARD, "the card does not answer"},
	{SCARD_E_SHARING_VIOLATION, "the card is in use by another program"},
	{SCARD_E_PROTO_MISMATCH, "the card does not speak T=1"},
	{SCARD_E_NOT_TRANSACTED, "transport error"},
	{SCARD_F_COMM_ERROR, "communication error with the reader"},
	{SCARD_E_TIMEOUT, "timeout"},
};

/* --- the connection ------------------------------------------------------------------------ */

#define NOTHING (-1) /* no application or EF is known to be selected */

struct card {
	SCARDCONTEXT ctx;
	SCARDHANDLE h;
	bool has_ctx, has_h, in_tx;
	bool broken; /* a transport error happened: nothing more is sent until card_reconnect() */
	char *reader;
	char label[33]; /* the token label as read, printable ASCII, trailing spaces trimmed */
	int app;        /* the application selected on this connection (enum card_app), or NOTHING */
	long ef;        /* the EF selected in it, or NOTHING */
	int apdus;      /* APDUs sent since card_connect */
	unsigned session;
};

static const char *pcsc_text(LONG rv)
{
	for (size_t i = 0; i < KG_ARRAY_SIZE(pcsc_texts); i++)
		if (pcsc_texts[i].rv == rv)
			return pcsc_texts[i].text;
	return pcsc_stringify_error(rv);
}

static enum kg_err pcsc_fail(const char *what, LONG rv)
{
	return kg_fail(KG_ECARD, "%s: %s (0x%08lX)", what, pcsc_text(rv), (unsigned long)rv);
}

static const struct sw_info *sw_lookup(unsigned sw)
{
	const struct sw_info *s = sws;
	while ((sw & s->mask) != s->sw)
		s++;
	return s;
}

static enum kg_err sw_fail(const char *what, unsigned sw)
{
	return kg_fail(KG_ECARD, "%s: the card answered %04X (%s)", what, sw, sw_lookup(sw)->text);
}

/* After a lost connection nothing is known to be selected any more. */
static void forget_selection(struct card *c)
{
	c->app = NOTHING;
	c->ef = NOTHING;
}

/*
 * Sends one APDU and splits the answer into data (resp, *rlen bytes) and *sw. what names the
 * step in messages; the APDU's bytes never appear in one. resp holds at least 256 bytes.
 */
static enum kg_err transmit(struct card *c, const unsigned char *apdu, size_t n, const char *what, unsigned char *resp,
                            size_t *rlen, unsigned *sw)
{
	unsigned char buf[258];
	DWORD len = sizeof buf;
	if (c->broken || !c->has_h)
		return kg_fail(KG_ECARD, "%s: the connection to the card was lost (reconnect first)", what);
	c->apdus++;
	LONG rv = SCardTransmit(c->h, SCARD_PCI_T1, apdu, (DWORD)n, NULL, buf, &len);
	if (rv != SCARD_S_SUCCESS) {
		c->broken = true;
		forget_selection(c);
		return pcsc_fail(what, rv);
	}
	if (len < 2) {
		c->broken = true;
		forget_selection(c);
		return kg_fail(KG_ECARD, "%s: transport error (an answer of %lu bytes)", what, (unsigned long)len);
	}
	*sw = (unsigned)buf[len - 2] << 8 | buf[len - 1];
	*rlen = len - 2;
	if (resp)
		memcpy(resp, buf, *rlen);
	explicit_bzero(buf, sizeof buf);
	return KG_OK;
}

/* SELECT (P2 0C: no FCI) of an application by AID or an EF by ID; the status word is the
 * caller's to judge. Only a 9000 leaves something known to be selected. */
static enum kg_err select_app_raw(struct card *c, enum card_app app, unsigned *sw)
{
	const struct card_aid *a = &apps[app];
	unsigned char apdu[5 + sizeof a->aid] = {0x00, 0xA4, 0x04, 0x0C, a->len};
	char what[64];
	size_t rlen;
	memcpy(apdu + 5, a->aid, a->len);
	snprintf(what, sizeof what, "selecting the %s", a->label);
	forget_selection(c);
	enum kg_err err = transmit(c, apdu, 5u + a->len, what, NULL, &rlen, sw);
	if (!err && *sw == 0x9000)
		c->app = (int)app;
	return err;
}

static enum kg_err select_ef_raw(struct card *c, unsigned ef, unsigned *sw)
{
	unsigned char apdu[7] = {0x00, 0xA4, 0x02, 0x0C, 0x02, (unsigned char)(ef >> 8), (unsigned char)ef};
	char what[64];
	size_t rlen;
	snprintf(what, sizeof what, "selecting EF %04X", ef);
	c->ef = NOTHING;
	enum kg_err err = transmit(c, apdu, sizeof apdu, what, NULL, &rlen, sw);
	if (!err && *sw == 0x9000)
		c->ef = (long)ef;
	return err;
}

/*
 * Makes ef of app the current file, sending only the SELECTs needed: on one exclusive
 * connection nothing else can change the selection. *found is false when the card answered
 * 6A82 (no such application or file); any other answer but 9000 is an error.
 */
static enum kg_err select_file(struct card *c, enum card_app app, unsigned ef, bool *found)
{
	unsigned sw = 0x9000;
	enum kg_err err = KG_OK;
	*found = true;
	if (c->app != (int)app && !(err = select_app_raw(c, app, &sw)) && sw != 0x9000) {
		*found = false;
		return sw_lookup(sw)->class == SW_NOT_FOUND ? KG_OK : sw_fail(apps[app].label, sw);
	}
	if (!err && c->ef != (long)ef && !(err = select_ef_raw(c, ef, &sw)) && sw != 0x9000) {
		*found = false;
		if (sw_lookup(sw)->class == SW_NOT_FOUND)
			return KG_OK;
		char what[64];
		snprintf(what, sizeof what, "selecting EF %04X", ef);
		return sw_fail(what, sw);
	}
	return err;
}

/* select_file, where a missing file is an error. */
static enum kg_err select_needed(struct card *c, enum card_app app, unsigned ef)
{
	bool found;
	enum kg_err err = select_file(c, app, ef, &found);
	if (!err && !found)
		return kg_fail(KG_ECARD, "%s has no EF %04X", apps[app].label, ef);
	return err;
}

/* READ BINARY of up to 256 bytes at off (15 bits) of the current EF; *got may be less than n. */
static enum kg_err read_binary(struct card *c, size_t off, size_t n, unsigned char *dst, size_t *got)
{
	unsigned char apdu[5] = {0x00, 0xB0, (unsigned char)(off >> 8), (unsigned char)off, (unsigned char)n};
	unsigned char resp[256];
	unsigned sw;
	if (off > 0x7FFF || n == 0 || n > 256)
		return kg_fail(KG_ECARD, "reading at offset %zu: outside what READ BINARY can address", off);
	enum kg_err err = transmit(c, apdu, sizeof apdu, "reading the card", resp, got, &sw);
	if (err)
		return err;
	enum sw_class cl = sw_lookup(sw)->class;
	if (cl != SW_OK && cl != SW_PARTIAL)
		return sw_fail("reading the card", sw);
	if (*got > n)
		return kg_fail(KG_ECARD, "reading the card: %zu bytes answered to a read of %zu", *got, n);
	memcpy(dst, resp, *got);
	return KG_OK;
}

/* Reads exactly n bytes at off, in chunks of up to 256. */
static enum kg_err read_exact(struct card *c, size_t off, size_t n, unsigned char *dst)
{
	size_t done = 0;
	while (done < n) {
		size_t want = n - done > 256 ? 256 : n - done, got;
		enum kg_err err = read_binary(c, off + done, want, dst + done, &got);
		if (err)
			return err;
		if (got == 0)
			return kg_fail(KG_ECARD, "reading the card: the file ends at %zu, expected %zu bytes",
			               off + done, off + n);
		done += got;
	}
	return KG_OK;
}

/* Connects to c->reader and opens the transaction. */
static enum kg_err open_handle(struct card *c)
{
	DWORD proto;
	char what[300];
	snprintf(what, sizeof what, "reader '%s'", c->reader);
	LONG rv = SCardConnect(c->ctx, c->reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1, &c->h, &proto);
	if (rv != SCARD_S_SUCCESS)
		return pcsc_fail(what, rv);
	c->has_h = true;
	c->broken = false;
	forget_selection(c);
	if ((rv = SCardBeginTransaction(c->h)) != SCARD_S_SUCCESS)
		return pcsc_fail(what, rv);
	c->in_tx = true;
	return KG_OK;
}

static void close_handle(struct card *c)
{
	if (c->in_tx)
		(void)SCardEndTransaction(c->h, SCARD_LEAVE_CARD);
	if (c->has_h)
		(void)SCardDisconnect(c->h, SCARD_UNPOWER_CARD);
	c->in_tx = c->has_h = false;
	forget_selection(c);
}

/* The reader names of ctx as a list the caller frees with card_free_readers. */
static enum kg_err list_readers(SCARDCONTEXT ctx, char ***names, size_t *n)
{
	DWORD len = 0;
	char *multi = NULL;
	*names = NULL;
	*n = 0;
	LONG rv = SCardListReaders(ctx, NULL, NULL, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE)
		return KG_OK;
	if (rv != SCARD_S_SUCCESS)
		return pcsc_fail("listing the card readers", rv);
	multi = kg_malloc(len);
	if ((rv = SCardListReaders(ctx, NULL, multi, &len)) != SCARD_S_SUCCESS) {
		free(multi);
		return rv == SCARD_E_NO_READERS_AVAILABLE ? KG_OK : pcsc_fail("listing the card readers", rv);
	}
	for (const char *p = multi; p < multi + len && *p; p += strlen(p) + 1) {
		*names = kg_realloc(*names, (*n + 1) * sizeof **names);
		(*names)[(*n)++] = kg_strdup(p);
	}
	free(multi);
	return KG_OK;
}

enum kg_err card_list_readers(char ***names, size_t *n)
{
	SCARDCONTEXT ctx;
	*names = NULL;
	*n = 0;
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS)
		return pcsc_fail("connecting to PC/SC", rv);
	enum kg_err err = list_readers(ctx, names, n);
	SCardReleaseContext(ctx);
	return err;
}

void card_free_readers(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Sets c->reader to the first reader that holds a card. */
static enum kg_err find_reader_with_card(struct card *c)
{
	char **names;
	size_t n;
	enum kg_err err = list_readers(c->ctx, &names, &n);
	if (err)
		return err;
	if (n == 0)
		return kg_fail(KG_ECARD, "no card reader is connected");
	SCARD_READERSTATE *st = kg_calloc(n, sizeof *st);
	for (size_t i = 0; i < n; i++)
		st[i] = (SCARD_READERSTATE){.szReader = names[i], .dwCurrentState = SCARD_STATE_UNAWARE};
	LONG rv = SCardGetStatusChange(c->ctx, 0, st, (DWORD)n);
	if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
		err = pcsc_fail("reading the readers' state", rv);
		goto out;
	}
	for (size_t i = 0; i < n && !c->reader; i++)
		if (st[i].dwEventState & SCARD_STATE_PRESENT)
			c->reader = kg_strdup(names[i]);
	if (!c->reader)
		err = kg_fail(KG_ECARD, "no card in any reader (%zu reader%s)", n, n == 1 ? "" : "s");
out:
	free(st);
	card_free_readers(names, n);
	return err;
}

enum kg_err card_connect(const char *reader, struct card **out)
{
	struct card *c = kg_calloc(1, sizeof *c);
	enum kg_err err = KG_OK;
	*out = NULL;
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->ctx);
	if (rv != SCARD_S_SUCCESS) {
		err = pcsc_fail("connecting to PC/SC", rv);
		goto out;
	}
	c->has_ctx = true;
	if (reader)
		c->reader = kg_strdup(reader);
	else if ((err = find_reader_with_card(c)))
		goto out;
	if ((err = open_handle(c)))
		goto out;
	*out = c;
	c = NULL;
out:
	card_disconnect(c);
	return err;
}

const char *card_reader(const struct card *c)
{
	return c->reader;
}

int card_apdu_count(const struct card *c)
{
	return c->apdus;
}

unsigned card_session(const struct card *c)
{
	return c->session;
}

bool card_lost(const struct card *c)
{
	return c->broken || !c->has_h;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Answers from SCardConnect that mean "the card is (still) coming back": wait and try again. */
static bool card_coming_back(LONG rv)
{
	return rv == SCARD_E_NO_SMARTCARD || rv == SCARD_W_REMOVED_CARD || rv == SCARD_W_UNRESPONSIVE_CARD ||
	       rv == SCARD_W_UNPOWERED_CARD || rv == SCARD_W_RESET_CARD || rv == SCARD_E_NOT_TRANSACTED ||
	       rv == SCARD_F_COMM_ERROR;
}

/* A new exclusive connection to a card in c->reader, waiting for one to come (back). */
static enum kg_err connect_again(struct card *c)
{
	long long deadline = now_ms() + CARD_RECONNECT_WAIT_MS;
	LONG rv;
	close_handle(c);
	for (;;) {
		/* Wait for a card in the reader: after a removal pcscd needs a poll cycle to notice. */
		SCARD_READERSTATE st = {.szReader = c->reader, .dwCurrentState = SCARD_STATE_UNAWARE};
		rv = SCardGetStatusChange(c->ctx, 0, &st, 1);
		if (rv == SCARD_S_SUCCESS && !(st.dwEventState & SCARD_STATE_PRESENT)) {
			long long left = deadline - now_ms();
			st.dwCurrentState = st.dwEventState;
			rv = SCardGetStatusChange(c->ctx, (DWORD)(left > 0 ? left : 0), &st, 1);
		}
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT)
			return pcsc_fail("waiting for the card", rv);
		DWORD proto;
		rv = SCardConnect(c->ctx, c->reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1, &c->h, &proto);
		if (rv == SCARD_S_SUCCESS)
			break;
		if (!card_coming_back(rv) || now_ms() >= deadline)
			return pcsc_fail("reconnecting to the card", rv);
		struct timespec pause = {0, 100 * 1000000L};
		nanosleep(&pause, NULL);
	}
	c->has_h = true;
	return KG_OK;
}

enum kg_err card_reconnect(struct card *c)
{
	LONG rv = SCARD_E_INVALID_HANDLE;
	c->label[0] = 0;
	c->session++;
	forget_selection(c);
	if (c->in_tx)
		(void)SCardEndTransaction(c->h, SCARD_LEAVE_CARD);
	c->in_tx = false;
	/* On the exclusive handle: no other program gets the card between power-off and power-on. */
	if (c->has_h) {
		DWORD proto;
		rv = SCardReconnect(c->h, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1, SCARD_UNPOWER_CARD, &proto);
	}
	enum kg_err err = KG_OK;
	if (rv != SCARD_S_SUCCESS && (err = connect_again(c)))
		return err;
	c->broken = false;
	if ((rv = SCardBeginTransaction(c->h)) != SCARD_S_SUCCESS) {
		c->broken = true;
		return pcsc_fail("reconnecting to the card", rv);
	}
	c->in_tx = true;
	return KG_OK;
}

void card_disconnect(struct card *c)
{
	if (!c)
		return;
	close_handle(c);
	if (c->has_ctx)
		(void)SCardReleaseContext(c->ctx);
	free(c->reader);
	free(c);
}

/* --- identification and the certificate ------------------------------------------------------ */

enum card_kind card_kind_of_token(const unsigned char *buf, size_t n, char *label)
{
	size_t got = n < 32 ? n : 32;
	while (got > 0 && (buf[got - 1] == ' ' || buf[got - 1] == 0))
		got--;
	for (size_t i = 0; i < got; i++)
		label[i] = buf[i] >= 0x20 && buf[i] < 0x7F ? (char)buf[i] : '?';
	label[got] = 0;
	return strcmp(label, token_mynumber) ? CARD_KIND_OLD_TOKEN : CARD_KIND_MYNUMBER;
}

enum kg_err card_identify(struct card *c, enum card_kind *kind)
{
	unsigned char label[32];
	size_t got;
	bool found;
	enum kg_err err;
	*kind = CARD_KIND_OTHER;
	c->label[0] = 0;
	unsigned sw;
	/* Any answer but 9000 to the JPKI select (6A82, 6D00, ...) is a card without JPKI. */
	if (c->app != CARD_APP_JPKI && ((err = select_app_raw(c, CARD_APP_JPKI, &sw)) || sw != 0x9000))
		return err;
	*kind = CARD_KIND_OLD_TOKEN;
	if ((err = select_file(c, CARD_APP_JPKI, EF_TOKEN, &found)))
		return err;
	if (!found)
		return KG_OK;
	if ((err = read_binary(c, 0, sizeof label, label, &got)))
		return err;
	*kind = card_kind_of_token(label, got, c->label);
	return KG_OK;
}

enum kg_err card_is_mynumber(struct card *c, bool *yes)
{
	enum card_kind kind;
	enum kg_err err = card_identify(c, &kind);
	*yes = !err && kind == CARD_KIND_MYNUMBER;
	return err;
}

const char *card_token_label(const struct card *c)
{
	return c->label;
}

/* The JST day of an ASN1_TIME (notAfter is stated in UTC; Japan is UTC+9 all year). */
static enum kg_err jst_day(const ASN1_TIME *t, int *day)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return kg_fail(KG_ECARD, "the card's certificate has an unreadable notAfter");
	*day = rules_from_ymd(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	if (tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec + 9 * 3600 >= 24 * 3600)
		(*day)++;
	return KG_OK;
}

enum kg_err card_der_length(const unsigned char *buf, size_t n, size_t *total)
{
	/* DER: 30, then the length in short form (< 0x80) or long form (0x8n + n bytes). */
	if (n < 2 || buf[0] != 0x30 || buf[1] == 0x80 || buf[1] > 0x83)
		return kg_fail(KG_ECARD, "the certificate EF does not hold a certificate");
	if (!(buf[1] & 0x80)) {
		*total = 2u + buf[1];
		return KG_OK;
	}
	size_t len = buf[1] & 0x7F, v = 0;
	if (n < 2 + len)
		return kg_fail(KG_ECARD, "the certificate's header is cut short");
	for (size_t i = 0; i < len; i++)
		v = v << 8 | buf[2 + i];
	*total = 2 + len + v;
	return KG_OK;
}

enum kg_err card_cert_parse(const unsigned char *der, size_t n, struct card_cert *out)
{
	const unsigned char *p = der;
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	enum kg_err err;
	memset(out, 0, sizeof *out);
	if (n > 0x8000 || !(x = d2i_X509(NULL, &p, (long)n)) || p != der + n) {
		err = kg_fail(KG_ECARD, "the user-auth certificate on the card cannot be parsed");
		goto out;
	}
	if (!(bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) || !(hex = BN_bn2hex(bn)) ||
	    strlen(hex) >= sizeof out->serial) {
		err = kg_fail(KG_ECARD, "the user-auth certificate's serial number is unreadable");
		goto out;
	}
	snprintf(out->serial, sizeof out->serial, "%s", hex);
	err = jst_day(X509_get0_notAfter(x), &out->not_after);
out:
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	return err;
}

enum kg_err card_read_auth_cert(struct card *c, struct card_cert *out)
{
	unsigned char *der = NULL, first[256];
	size_t got, total;
	enum kg_err err;
	memset(out, 0, sizeof *out);
	/* One read of 256 bytes holds the header and the start of the body: no separate header read. */
	if ((err = select_needed(c, CARD_APP_JPKI, EF_AUTH_CERT)) ||
	    (err = read_binary(c, 0, sizeof first, first, &got)) || (err = card_der_length(first, got, &total)))
		return err;
	if (total > 0x8000)
		return kg_fail(KG_ECARD, "the user-auth certificate is too long (%zu bytes)", total);
	der = kg_malloc(total);
	memcpy(der, first, got < total ? got : total);
	if (got < total)
		err = read_exact(c, got, total - got, der + got);
	if (!err)
		err = card_cert_parse(der, total, out);
	free(der);
	return err;
}

/* --- PINs -------------------------------------------------------------------------------------- */

int card_max_tries(enum card_pin pin)
{
	return pins[pin].max_tries;
}

const char *card_pin_name(enum card_pin pin)
{
	return pins[pin].name;
}

const char *card_pin_label(enum card_pin pin)
{
	return pins[pin].label;
}

void card_pin_fold(char *pin)
{
	unsigned char *s = (unsigned char *)pin;
	size_t len = strlen(pin), o = 0;
	for (size_t i = 0; i < len; o++) {
		unsigned char ch = s[i];
		/* U+FF01..U+FF3F is EF BC 81..BF, U+FF40..U+FF5E is EF BD 80..9E; ASCII 21..7E. */
		if (ch == 0xEF && i + 2 < len && s[i + 1] == 0xBC && s[i + 2] >= 0x81 && s[i + 2] <= 0xBF) {
			ch = (unsigned char)(0x21 + (s[i + 2] - 0x81));
			i += 3;
		} else if (ch == 0xEF && i + 2 < len && s[i + 1] == 0xBD && s[i + 2] >= 0x80 && s[i + 2] <= 0x9E) {
			ch = (unsigned char)(0x60 + (s[i + 2] - 0x80));
			i += 3;
		} else {
			i++;
		}
		s[o] = ch >= 'a' && ch <= 'z' ? (unsigned char)(ch - 'a' + 'A') : ch;
	}
	explicit_bzero(s + o, len - o);
}

bool card_pin_well_formed(enum card_pin pin, const char *pin_text)
{
	char buf[64];
	size_t len = strlen(pin_text);
	bool ok = len < sizeof buf;
	if (ok) {
		memcpy(buf, pin_text, len + 1);
		card_pin_fold(buf);
		len = strlen(buf);
		ok = len >= pins[pin].min_len && len <= pins[pin].max_len;
		for (size_t i = 0; ok && i < len; i++)
			ok = (buf[i] >= '0' && buf[i] <= '9') || (pins[pin].letters && buf[i] >= 'A' && buf[i] <= 'Z');
	}
	explicit_bzero(buf, sizeof buf);
	return ok;
}

bool card_pin_in_app(enum card_pin pin, enum card_app app)
{
	return pins[pin].apps >> app & 1u;
}

const char *card_app_name(enum card_app app)
{
	return apps[app].name;
}

enum kg_err card_app_by_aid(const char *hex, enum card_app *app)
{
	for (int a = 0; a < CARD_APP_COUNT; a++) {
		char buf[2 * sizeof apps[a].aid + 1];
		for (size_t i = 0; i < apps[a].len; i++)
			snprintf(buf + 2 * i, 3, "%02X", apps[a].aid[i]);
		if (!strcasecmp(buf, hex)) {
			*app = (enum card_app)a;
			return KG_OK;
		}
	}
	return kg_fail(KG_EINPUT,
	               "'%s' is not an application of the card table (D3921000310001010401 or "
	               "D3921000310001010100 for the 住基 application)",
	               hex);
}

enum kg_err card_counter_of_sw(unsigned sw, enum card_counter *state, int *left)
{
	*left = -1;
	switch (sw_lookup(sw)->class) {
	case SW_OK: *state = CARD_COUNTER_VERIFIED; return KG_OK;
	case SW_TRIES:
		*state = CARD_COUNTER_TRIES;
		*left = (int)(sw & 0x0F);
		return KG_OK;
	case SW_LOCKED:
		*state = CARD_COUNTER_LOCKED;
		*left = 0;
		return KG_OK;
	default: return sw_fail("asking the tries left", sw);
	}
}

/* Selects pin's EF in app for a retry query or a VERIFY. */
static enum kg_err select_pin(struct card *c, enum card_pin pin, enum card_app app, bool *found)
{
	if (!card_pin_in_app(pin, app))
		return kg_fail(KG_ECARD, "the card table has no %s PIN in the %s", pins[pin].name, apps[app].label);
	return select_file(c, app, pins[pin].ef, found);
}

enum kg_err card_retries(struct card *c, enum card_pin pin, enum card_app app, enum card_counter *state, int *left)
{
	static const unsigned char query[4] = {0x00, 0x20, 0x00, 0x80}; /* VERIFY without data */
	char what[80];
	size_t rlen;
	unsigned sw;
	bool found;
	enum kg_err err;
	*left = -1;
	*state = CARD_COUNTER_ABSENT;
	snprintf(what, sizeof what, "asking the tries left of the %s PIN (%s)", pins[pin].name, apps[app].name);
	if ((err = select_pin(c, pin, app, &found)) || !found)
		return err;
	if ((err = transmit(c, query, sizeof query, what, NULL, &rlen, &sw)))
		return err;
	if (card_counter_of_sw(sw, state, left))
		return sw_fail(what, sw);
	return KG_OK;
}

enum kg_err card_verify_pin(struct card *c, enum card_pin pin, enum card_app app, char *pin_text, enum card_verify *res,
                            int *left)
{
	unsigned char apdu[5 + 16];
	size_t rlen, len;
	unsigned sw;
	bool found;
	enum kg_err err;
	*res = CARD_VERIFY_UNKNOWN;
	*left = -1;
	card_pin_fold(pin_text);
	len = strlen(pin_text);
	if (!card_pin_well_formed(pin, pin_text)) {
		explicit_bzero(pin_text, len);
		return kg_fail(KG_EINPUT, "the %s PIN is not in its format (nothing was sent to the card)",
		               pins[pin].name);
	}
	if ((err = select_pin(c, pin, app, &found)) ||
	    (!found && (err = kg_fail(KG_ECARD, "the %s has no %s PIN", apps[app].label, pins[pin].name)))) {
		explicit_bzero(pin_text, len);
		return err;
	}
	apdu[0] = 0x00;
	apdu[1] = 0x20;
	apdu[2] = 0x00;
	apdu[3] = 0x80;
	apdu[4] = (unsigned char)len;
	memcpy(apdu + 5, pin_text, len);
	explicit_bzero(pin_text, len);
	err = transmit(c, apdu, 5 + len, "VERIFY", NULL, &rlen, &sw);
	explicit_bzero(apdu, sizeof apdu);
	if (err)
		return KG_OK; /* the outcome is unknown; the message says why */
	switch (sw_lookup(sw)->class) {
	case SW_OK:
		*res = CARD_VERIFY_OK;
		*left = pins[pin].max_tries;
		return KG_OK;
	case SW_TRIES:
		*res = CARD_VERIFY_WRONG;
		*left = (int)(sw & 0x0F);
		return KG_OK;
	case SW_LOCKED:
		*res = CARD_VERIFY_LOCKED;
		*left = 0;
		return KG_OK;
	default: return sw_fail("VERIFY", sw);
	}
}
