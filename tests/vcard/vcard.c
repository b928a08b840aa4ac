/*
 * vcard.c: a virtual My Number card for the tests, speaking vsmartcard's vpcd protocol.
 *
 * The real pcscd with the vpcd reader driver forwards every APDU over TCP to this program, so
 * the card layer is exercised through the real libpcsclite (card.md "Virtual card for tests").
 * Protocol: each message is a 2-byte big-endian length then the payload; one-byte payloads are
 * controls (00 power off, 01 power on, 02 reset, 04 get ATR: answered with the ATR), longer ones
 * are APDUs answered with data + SW1 SW2. Closing the socket means the card was removed.
 *
 * What is modelled is what matters for safety: the JPKI and 住基 applications, the token label,
 * the user-auth certificate (a real DER certificate made at startup with the serial and notAfter
 * the test asks for), and per-PIN retry counters that go down on a wrong VERIFY, answer 63Cx,
 * lock at 0, reset on success and answer 9000 to a retry query once verified in the same power
 * session. Counters persist across reconnects of one process. A switch drops the connection in
 * the middle of the Nth VERIFY; another re-inserts the card after a pause. Give the pause more
 * than vpcd's 400 ms presence poll (as a hand would): re-inserted within one poll, pcscd never
 * sees the removal and keeps the reader in a state where SCardConnect answers "no card".
 * PINs come from a file or an fd, never from argv.
 *
 * For the tests to observe the card: --log FILE gets one line per APDU (VERIFY data is never
 * written: "VERIFY <ef>" only), --state FILE is rewritten (temp + rename) after every message
 * with the counters ("sign=5" lines).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "banned.h"

enum app { APP_NONE, APP_JPKI, APP_JUKI_0401, APP_JUKI_0100 };

static const struct {
	const char *name;
	unsigned char aid[10];
} aids[] = {
	[APP_JPKI] = {"JPKI", {0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01}},
	[APP_JUKI_0401] = {"JUKI-0401", {0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01}},
	[APP_JUKI_0100] = {"JUKI-0100", {0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x01, 0x00}},
};
static const unsigned char atr[] = {0x3B, 0xDA, 0x13, 0xFF, 0x81, 0x31, 0xFB, 0x46, 0x80, 0x12,
                                    0x39, 0x2F, 0x31, 0xC1, 0x73, 0xC6, 0x01, 0xC0, 0x3B};

/* The elementary files; a PIN file has pin >= 0. */
struct ef {
	enum app app;
	unsigned id;
	int pin; /* index into pins[], or -1 for a binary file */
	unsigned char *data;
	size_t len;
	int needs; /* the PIN that must be verified to READ it; -1 none; -2 never (a key) */
};

struct pin {
	const char *name;
	int max, tries;
	bool verified;
	char value[32];
};

/* juki2 is the 住基 PIN's second counter on a card that has one in both candidate applications. */
#define NPINS 4
static struct pin pins[NPINS] = {
	{"sign", 5, 5, false, ""}, {"auth", 3, 3, false, ""}, {"juki", 3, 3, false, ""}, {"juki2", 3, 3, false, ""}};

static unsigned char token[160]; /* CK_TOKEN_INFO: label[32], manufacturerID[32], model[16], ... */
static const unsigned char presence[3] = {0x8F, 0x8F, 0x00};
static const unsigned char key_ef[] = {0x00}; /* private keys: present, never readable */
enum { EF_SIGN_CERT, EF_SIGN_CA, EF_AUTH_CERT, EF_AUTH_CA };
static struct ef certs[4];
/* needs: the PIN (index into pins[]) that must be verified before a READ, or -1. */
static struct ef efs[] = {
	{APP_JPKI, 0x0006, -1, token, sizeof token, -1},
	{APP_JPKI, 0x0008, -1, (unsigned char *)presence, sizeof presence, -1},
	{APP_JPKI, 0x0001, -1, NULL, 0, 0}, /* 署名用電子証明書: read with the 署名用 PIN verified */
	{APP_JPKI, 0x0002, -1, NULL, 0, -1},
	{APP_JPKI, 0x000A, -1, NULL, 0, -1},
	{APP_JPKI, 0x000B, -1, NULL, 0, -1},
	{APP_JPKI, 0x0017, -1, (unsigned char *)key_ef, 0, -2},
	{APP_JPKI, 0x001A, -1, (unsigned char *)key_ef, 0, -2},
	{APP_JPKI, 0x001B, 0, NULL, 0, -1},
	{APP_JPKI, 0x0018, 1, NULL, 0, -1},
	{APP_JUKI_0401, 0x001C, 2, NULL, 0, -1},
	{APP_JUKI_0100, 0x001C, 3, NULL, 0, -1},
};

static struct {
	const char *host;
	int port;
	bool jpki;
	int drop_on_verify;    /* the Nth VERIFY (with data) drops the connection; 0: never */
	bool drop_applies;     /* the dropped VERIFY counts on the card */
	int reinsert_ms;       /* after a drop, reconnect after this long; -1: stay removed (exit) */
	unsigned locked_sw;    /* answer to a retry query (and a VERIFY) of a locked PIN */
	bool verified_9000;    /* answer 9000 to a retry query of a verified PIN (else 63Cx with x = max) */
	int juki_in;           /* which 住基 application holds the PIN: 1 = ...0401, 2 = ...0100, 3 = both */
	int verified_at_start; /* this PIN is verified in the first power session that sends an APDU; -1 */
	bool log_atr;          /* log vpcd's presence polls too (every 400 ms; for debugging the rig) */
	FILE *log;
	const char *state;
	/* the power session */
	enum app app;
	struct ef *ef;
	int verifies;
} v = {"127.0.0.1", 35963, true, 0, false, -1, 0x63C0, true, 1, -1, false, NULL, NULL, APP_NONE, NULL, 0};

static void die(const char *what)
{
	fprintf(stderr, "vcard: %s\n", what);
	exit(2);
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	if (!v.log)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(v.log, fmt, ap);
	va_end(ap);
	fputc('\n', v.log);
	fflush(v.log);
}

static void write_state(void)
{
	if (!v.state)
		return;
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", v.state);
	FILE *f = fopen(tmp, "w");
	if (!f)
		die("cannot write the state file");
	for (int i = 0; i < NPINS; i++)
		fprintf(f, "%s=%d\n%s_verified=%d\n", pins[i].name, pins[i].tries, pins[i].name, pins[i].verified);
	fprintf(f, "verifies=%d\n", v.verifies);
	if (fclose(f) != 0 || rename(tmp, v.state) != 0)
		die("cannot write the state file");
}

/* A power-off, power-on, reset or a new connection: the security state is gone. */
static void power_cycle(void)
{
	v.app = APP_NONE;
	v.ef = NULL;
	for (int i = 0; i < NPINS; i++)
		pins[i].verified = false;
}

/* --- the certificate ------------------------------------------------------------------ */

/* A certificate for subject, issued by issuer (both CNs) and signed with key: the certificates
 * and CA certificates of the card share one key, which is enough for a reader that parses them. */
static void make_cert(struct ef *ef, const char *subject, const char *issuer, const char *serial_hex,
                      const char *not_after, EVP_PKEY *key, size_t pad_to)
{
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *nb = ASN1_TIME_new(), *na = ASN1_TIME_new();
	X509_NAME *sn = X509_NAME_new(), *in = X509_NAME_new();
	unsigned char *der = NULL;
	if (!x || !nb || !na || !sn || !in)
		die("openssl: out of memory");
	if (!BN_hex2bn(&bn, serial_hex) || !(serial = BN_to_ASN1_INTEGER(bn, NULL)))
		die("--serial must be hexadecimal");
	if (!ASN1_TIME_set_string_X509(nb, "20200101000000Z") || !ASN1_TIME_set_string_X509(na, not_after))
		die("bad notAfter");
	if (!X509_set_version(x, 2) || !X509_set_serialNumber(x, serial) ||
	    !X509_NAME_add_entry_by_txt(sn, "CN", MBSTRING_UTF8, (const unsigned char *)subject, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(in, "CN", MBSTRING_UTF8, (const unsigned char *)issuer, -1, -1, 0) ||
	    !X509_set_subject_name(x, sn) || !X509_set_issuer_name(x, in) || !X509_set1_notBefore(x, nb) ||
	    !X509_set1_notAfter(x, na) || !X509_set_pubkey(x, key) || !X509_sign(x, key, EVP_sha256()))
		die("cannot make the certificate");
	int n = i2d_X509(x, &der);
	if (n <= 0)
		die("cannot encode the certificate");
	/* The EF is larger than the certificate, as on the card: the reader must use the DER length. */
	size_t len = (size_t)n > pad_to ? (size_t)n : pad_to;
	unsigned char *data = calloc(1, len);
	if (!data)
		die("out of memory");
	memcpy(data, der, (size_t)n);
	ef->data = data;
	ef->len = len;
	OPENSSL_free(der);
	X509_NAME_free(sn);
	X509_NAME_free(in);
	ASN1_TIME_free(nb);
	ASN1_TIME_free(na);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_free(x);
}

/* The four certificate EFs: the holder's two and the two CAs'. */
static void make_certs(const char *serial_hex, const char *not_after, bool rsa)
{
	EVP_PKEY *key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	if (!key)
		die("openssl: cannot make a key");
	make_cert(&certs[EF_AUTH_CA], "JPKI auth CA", "JPKI auth CA", "01", "20400101000000Z", key, 2048);
	make_cert(&certs[EF_SIGN_CA], "JPKI sign CA", "JPKI sign CA", "02", "20400101000000Z", key, 2048);
	make_cert(&certs[EF_AUTH_CERT], "kigen virtual card", "JPKI auth CA", serial_hex, not_after, key, 2048);
	make_cert(&certs[EF_SIGN_CERT], "kigen virtual card", "JPKI sign CA", "5EC0", not_after, key, 2048);
	static const unsigned ids[4] = {
		[EF_SIGN_CERT] = 0x0001, [EF_SIGN_CA] = 0x0002, [EF_AUTH_CERT] = 0x000A, [EF_AUTH_CA] = 0x000B};
	for (size_t i = 0; i < sizeof efs / sizeof efs[0]; i++)
		for (int c = 0; c < 4; c++)
			if (efs[i].app == APP_JPKI && efs[i].id == ids[c]) {
				efs[i].data = certs[c].data;
				efs[i].len = certs[c].len;
			}
	EVP_PKEY_free(key);
}

/* EF 0006 as a card carries it: a 160-byte CK_TOKEN_INFO whose first 32 bytes are the label. */
static void make_token(const char *label)
{
	static const unsigned words[] = {0x040D, 1, 0, 1, 0, 16, 4, ~0u, ~0u, ~0u, ~0u}; /* flags .. free private */
	memset(token, ' ', sizeof token);
	memcpy(token, label, strlen(label));
	memcpy(token + 32, "kigen", 5);
	memcpy(token + 64, "vcard", 5);
	memcpy(token + 80, "0000000000000001", 16);
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		for (int b = 0; b < 4; b++)
			token[96 + 4 * i + (size_t)b] = (unsigned char)(words[i] >> (24 - 8 * b));
	memcpy(token + 140, "0101", 4);
}

/* --- APDUs ----------------------------------------------------------------------------- */

static size_t sw(unsigned char *out, size_t n, unsigned s)
{
	out[n] = (unsigned char)(s >> 8);
	out[n + 1] = (unsigned char)s;
	return n + 2;
}

/* Whether app is on this card: JPKI unless --no-jpki, ...0401 and ...0100 always (the second
 * holds other files on a real card; it has the 住基 PIN only where --juki-pin puts it). */
static bool app_present(enum app app)
{
	return app == APP_JPKI ? v.jpki : app != APP_NONE && v.jpki;
}

static bool ef_present(const struct ef *e)
{
	if (e->app != v.app || !app_present(e->app))
		return false;
	if (e->pin == 2)
		return v.juki_in & 1; /* "juki" is in ...0401 unless only ...0100 holds it */
	if (e->pin == 3)
		return v.juki_in & 2;
	return true;
}

static size_t do_select(const unsigned char *a, const unsigned char *data, size_t lc, unsigned char *out)
{
	if (a[2] == 0x04) {
		enum app app = APP_NONE;
		for (int i = APP_JPKI; i <= APP_JUKI_0100; i++)
			if (lc == sizeof aids[i].aid && !memcmp(data, aids[i].aid, lc))
				app = (enum app)i;
		if (!app_present(app))
			app = APP_NONE;
		logf_("SELECT AP %s -> %s", app ? aids[app].name : "unknown", app ? "9000" : "6A82");
		if (!app)
			return sw(out, 0, 0x6A82);
		v.app = app;
		v.ef = NULL;
		return sw(out, 0, 0x9000);
	}
	if (a[2] != 0x02 || lc != 2)
		return sw(out, 0, 0x6A86);
	unsigned id = (unsigned)data[0] << 8 | data[1];
	for (size_t i = 0; i < sizeof efs / sizeof efs[0]; i++) {
		if (efs[i].id == id && ef_present(&efs[i])) {
			v.ef = &efs[i];
			logf_("SELECT EF %04X -> 9000", id);
			return sw(out, 0, 0x9000);
		}
	}
	logf_("SELECT EF %04X -> 6A82", id);
	return sw(out, 0, 0x6A82);
}

static size_t do_read(const unsigned char *a, size_t le, unsigned char *out)
{
	if (!v.ef)
		return sw(out, 0, 0x6986);
	if (v.ef->pin >= 0 || v.ef->needs == -2)
		return sw(out, 0, 0x6981);
	if (v.ef->needs >= 0 && !pins[v.ef->needs].verified) {
		logf_("READ %04X -> 6982", v.ef->id);
		return sw(out, 0, 0x6982);
	}
	if (a[2] & 0x80)
		return sw(out, 0, 0x6A86);
	size_t off = (size_t)a[2] << 8 | a[3];
	logf_("READ %04X off=%zu le=%zu", v.ef->id, off, le);
	if (off >= v.ef->len)
		return sw(out, 0, 0x6B00);
	size_t n = v.ef->len - off < le ? v.ef->len - off : le;
	memcpy(out, v.ef->data + off, n);
	return sw(out, n, n < le ? 0x6282 : 0x9000);
}

/* VERIFY: with no data a retry query (uses no try), else a PIN check. */
static size_t do_verify(const unsigned char *a, const unsigned char *data, size_t lc, unsigned char *out, bool *drop)
{
	if (a[2] != 0x00 || a[3] != 0x80)
		return sw(out, 0, 0x6A86);
	if (!v.ef || v.ef->pin < 0)
		return sw(out, 0, 0x6A88);
	struct pin *p = &pins[v.ef->pin];
	if (lc == 0) {
		unsigned s = p->verified && v.verified_9000 ? 0x9000
		             : p->tries == 0                ? v.locked_sw
		                                            : 0x63C0u | (unsigned)p->tries;
		logf_("RETRIES %04X %s -> %04X", v.ef->id, aids[v.app].name, s);
		return sw(out, 0, s);
	}
	int at = p->tries;
	v.verifies++;
	bool dropping = v.verifies == v.drop_on_verify;
	unsigned s;
	if (dropping && !v.drop_applies) {
		s = 0;
	} else if (p->tries == 0) {
		s = v.locked_sw == 0x6983 ? 0x6983 : 0x6984;
	} else if (lc == strlen(p->value) && !memcmp(data, p->value, lc)) {
		p->tries = p->max;
		p->verified = true;
		s = 0x9000;
	} else {
		p->tries--;
		p->verified = false;
		s = 0x63C0u | (unsigned)p->tries;
	}
	if (dropping) {
		logf_("VERIFY %04X %s at=%d/%d -> connection dropped (%s) %s=%d", v.ef->id, aids[v.app].name, at,
		      p->max, v.drop_applies ? "applied" : "not applied", p->name, p->tries);
		*drop = true;
		return 0;
	}
	logf_("VERIFY %04X %s at=%d/%d -> %04X %s=%d", v.ef->id, aids[v.app].name, at, p->max, s, p->name, p->tries);
	return sw(out, 0, s);
}

/* Answers one APDU into out (at least 258 bytes); returns the answer's length. */
static size_t do_apdu(const unsigned char *a, size_t n, unsigned char *out, bool *drop)
{
	size_t lc = 0, le = 0;
	const unsigned char *data = NULL;
	if (n < 4)
		return sw(out, 0, 0x6700);
	if (n == 5) {
		le = a[4] ? a[4] : 256;
	} else if (n > 5) {
		lc = a[4];
		data = a + 5;
		if (lc == 0 || (n != 5 + lc && n != 6 + lc))
			return sw(out, 0, 0x6700);
		if (n == 6 + lc)
			le = a[5 + lc] ? a[5 + lc] : 256;
	}
	if (a[0] != 0x00)
		return sw(out, 0, 0x6E00);
	switch (a[1]) {
	case 0xA4: return do_select(a, data, lc, out);
	case 0xB0: return do_read(a, le, out);
	case 0x20: return do_verify(a, data, lc, out, drop);
	default: logf_("INS %02X -> 6D00", a[1]); return sw(out, 0, 0x6D00);
	}
}

/* --- the vpcd connection ----------------------------------------------------------------- */

static bool recv_all(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		/* Without QUICKACK each APDU waits ~40 ms for a delayed ACK; it is reset by the kernel. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
		ssize_t r = recv(fd, buf + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static bool send_msg(int fd, const unsigned char *data, size_t n)
{
	unsigned char buf[2 + 512];
	buf[0] = (unsigned char)(n >> 8);
	buf[1] = (unsigned char)n;
	memcpy(buf + 2, data, n);
	return send(fd, buf, n + 2, MSG_NOSIGNAL) == (ssize_t)(n + 2);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Connects to vpcd, retrying while pcscd starts (up to 10 s). */
static int connect_vpcd(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)v.port)};
	if (inet_pton(AF_INET, v.host, &sa.sin_addr) != 1)
		die("--host must be an IPv4 address");
	for (int i = 0; i < 200; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket failed");
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			logf_("CONNECTED");
			return fd;
		}
		close(fd);
		sleep_ms(50);
	}
	die("cannot connect to vpcd");
	return -1;
}

/* Serves one connection; returns true when the card should be re-inserted. */
static bool serve(int fd)
{
	unsigned char in[2 + 65536], out[258 + 2];
	for (;;) {
		if (!recv_all(fd, in, 2))
			return false;
		size_t n = (size_t)in[0] << 8 | in[1];
		if (!recv_all(fd, in, n))
			return false;
		bool drop = false;
		if (n == 1) {
			switch (in[0]) {
			case 0x00:
			case 0x01:
			case 0x02:
				logf_("%s", in[0] == 0 ? "POWER OFF" : in[0] == 1 ? "POWER ON" : "RESET");
				power_cycle();
				break;
			case 0x04:
				if (v.log_atr)
					logf_("ATR");
				if (!send_msg(fd, atr, sizeof atr))
					return false;
				break;
			default: logf_("CONTROL %02X ignored", in[0]);
			}
			write_state();
			continue;
		}
		/* As if another program had verified it just before and pcscd had not powered the card down
		 * yet (pcscd does so soon after the last program leaves: a test cannot time that). */
		if (v.verified_at_start >= 0) {
			pins[v.verified_at_start].verified = true;
			v.verified_at_start = -1;
		}
		size_t m = do_apdu(in, n, out, &drop);
		explicit_bzero(in, n);
		write_state();
		if (drop) {
			close(fd);
			return v.reinsert_ms >= 0;
		}
		if (!send_msg(fd, out, m))
			return false;
	}
}

/* --- options ----------------------------------------------------------------------------- */

/* Reads "sign=...", "auth=...", "juki=..." lines from fd. */
static void read_pins(int fd)
{
	FILE *f = fdopen(fd, "r");
	char line[128];
	if (!f)
		die("cannot read the PIN file");
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = 0;
		char *eq = strchr(line, '=');
		bool known = false;
		for (int i = 0; eq && i < NPINS; i++) {
			if ((size_t)(eq - line) == strlen(pins[i].name) &&
			    !strncmp(line, pins[i].name, (size_t)(eq - line))) {
				if (strlen(eq + 1) >= sizeof pins[i].value)
					die("a PIN is too long");
				memcpy(pins[i].value, eq + 1, strlen(eq + 1) + 1);
				known = true;
			}
		}
		explicit_bzero(line, sizeof line);
		if (!known)
			die("PIN file: expected sign=, auth=, juki= (or juki2=) lines");
	}
	fclose(f);
}

static int int_arg(const char *s, int lo, int hi, const char *what)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (!*s || *end || n < lo || n > hi)
		die(what);
	return (int)n;
}

static void usage(void)
{
	fputs("usage: vcard [--host IP] [--port N] [--serial HEX] [--not-after YYYY-MM-DD | --not-after-utc "
	      "YYYYMMDDHHMMSSZ]\n"
	      "             [--key rsa|ec] [--token LABEL | --no-jpki] [--pins FILE | --pins-fd N]\n"
	      "             [--tries SIGN,AUTH,JUKI[,JUKI2]] [--locked-answer 63C0|6983|6984]\n"
	      "             [--verified-answer 9000|63Cx] [--juki-pin 0401|0100|both]\n"
	      "             [--verified-at-start sign|auth|juki]\n"
	      "             [--drop-on-verify N [--drop-applies]] [--reinsert-after MS] [--log FILE [--log-atr]]\n"
	      "             [--state FILE]\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"serial", required_argument, NULL, 's'},
		{"not-after", required_argument, NULL, 'a'},
		{"not-after-utc", required_argument, NULL, 'u'},
		{"key", required_argument, NULL, 'k'},
		{"token", required_argument, NULL, 't'},
		{"no-jpki", no_argument, NULL, 'n'},
		{"pins", required_argument, NULL, 'P'},
		{"pins-fd", required_argument, NULL, 'F'},
		{"tries", required_argument, NULL, 'T'},
		{"locked-answer", required_argument, NULL, 'L'},
		{"verified-answer", required_argument, NULL, 'V'},
		{"juki-pin", required_argument, NULL, 'J'},
		{"verified-at-start", required_argument, NULL, 'W'},
		{"drop-on-verify", required_argument, NULL, 'd'},
		{"drop-applies", no_argument, NULL, 'D'},
		{"reinsert-after", required_argument, NULL, 'r'},
		{"log", required_argument, NULL, 'l'},
		{"state", required_argument, NULL, 'S'},
		{"log-atr", no_argument, NULL, 'A'},
		{0},
	};
	const char *serial = "1234ABCD", *label = "JPKIAPICCTOKEN2";
	char not_after[32] = "20351231145959Z";
	bool rsa = true;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'h': v.host = optarg; break;
		case 'p': v.port = int_arg(optarg, 1, 65535, "--port: 1..65535"); break;
		case 's': serial = optarg; break;
		case 'a': {
			int y, m, d;
			char tail;
			if (sscanf(optarg, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
				die("--not-after: YYYY-MM-DD");
			/* The last second of that day in Japan, as J-LIS certificates state it. */
			snprintf(not_after, sizeof not_after, "%04d%02d%02d145959Z", y, m, d);
			break;
		}
		case 'u': snprintf(not_after, sizeof not_after, "%s", optarg); break;
		case 'k': rsa = strcmp(optarg, "ec") != 0; break;
		case 't': label = optarg; break;
		case 'n': v.jpki = false; break;
		case 'P': {
			FILE *f = fopen(optarg, "r");
			if (!f)
				die("cannot open the PIN file");
			read_pins(dup(fileno(f)));
			fclose(f);
			break;
		}
		case 'F': read_pins(int_arg(optarg, 0, 1024, "--pins-fd: a file descriptor")); break;
		case 'T': {
			int t[NPINS] = {5, 3, 3, 3}, k = sscanf(optarg, "%d,%d,%d,%d", &t[0], &t[1], &t[2], &t[3]);
			if (k < 3)
				die("--tries: SIGN,AUTH,JUKI[,JUKI2]");
			if (k == 3)
				t[3] = t[2];
			for (int i = 0; i < NPINS; i++) {
				if (t[i] < 0 || t[i] > pins[i].max)
					die("--tries: each from 0 to its maximum (5,3,3)");
				pins[i].tries = t[i];
			}
			break;
		}
		case 'L':
			if (strcmp(optarg, "63C0") && strcmp(optarg, "6983") && strcmp(optarg, "6984"))
				die("--locked-answer: 63C0, 6983 or 6984");
			v.locked_sw = (unsigned)strtoul(optarg, NULL, 16);
			break;
		case 'V':
			if (strcmp(optarg, "9000") && strcmp(optarg, "63Cx"))
				die("--verified-answer: 9000 or 63Cx");
			v.verified_9000 = !strcmp(optarg, "9000");
			break;
		case 'W':
			for (int i = 0; i < 3; i++)
				if (!strcmp(optarg, pins[i].name))
					v.verified_at_start = i;
			if (v.verified_at_start < 0)
				die("--verified-at-start: sign, auth or juki");
			break;
		case 'J':
			v.juki_in = !strcmp(optarg, "0401")   ? 1
			            : !strcmp(optarg, "0100") ? 2
			            : !strcmp(optarg, "both") ? 3
			                                      : 0;
			if (!v.juki_in)
				die("--juki-pin: 0401, 0100 or both");
			break;
		case 'd': v.drop_on_verify = int_arg(optarg, 1, 1000000, "--drop-on-verify: N >= 1"); break;
		case 'D': v.drop_applies = true; break;
		case 'r': v.reinsert_ms = int_arg(optarg, 0, 600000, "--reinsert-after: milliseconds"); break;
		case 'l':
			if (!(v.log = fopen(optarg, "a")))
				die("cannot open the log");
			break;
		case 'S': v.state = optarg; break;
		case 'A': v.log_atr = true; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (strlen(label) > 32)
		die("--token: at most 32 characters");
	if (!pins[3].value[0])
		memcpy(pins[3].value, pins[2].value, sizeof pins[3].value); /* the same PIN, its own counter */
	make_token(label);
	make_certs(serial, not_after, rsa);
	write_state();
	for (;;) {
		int fd = connect_vpcd();
		power_cycle();
		if (!serve(fd))
			break;
		logf_("REMOVED; re-inserting in %d ms", v.reinsert_ms);
		sleep_ms(v.reinsert_ms);
	}
	logf_("REMOVED");
	for (int i = 0; i < NPINS; i++)
		explicit_bzero(pins[i].value, sizeof pins[i].value);
	for (int c = 0; c < 4; c++)
		free(certs[c].data);
	return 0;
}
