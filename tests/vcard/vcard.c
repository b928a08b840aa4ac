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

enum app { APP_NONE, APP_JPKI, APP_JUKI };

static const unsigned char jpki_aid[] = {0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01};
static const unsigned char juki_aid[] = {0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01};
static const unsigned char atr[] = {0x3B, 0xDA, 0x13, 0xFF, 0x81, 0x31, 0xFB, 0x46, 0x80, 0x12,
                                    0x39, 0x2F, 0x31, 0xC1, 0x73, 0xC6, 0x01, 0xC0, 0x3B};

/* The elementary files; a PIN file has pin >= 0. */
struct ef {
	enum app app;
	unsigned id;
	int pin; /* index into pins[], or -1 for a binary file */
	unsigned char *data;
	size_t len;
};

struct pin {
	const char *name;
	int max, tries;
	bool verified;
	char value[32];
};

static struct pin pins[3] = {{"sign", 5, 5, false, ""}, {"auth", 3, 3, false, ""}, {"juki", 3, 3, false, ""}};

static unsigned char token[32];
static const unsigned char presence[3] = {0x8F, 0x8F, 0x00};
static struct ef efs[] = {
	{APP_JPKI, 0x0006, -1, token, sizeof token},
	{APP_JPKI, 0x0008, -1, (unsigned char *)presence, sizeof presence},
	{APP_JPKI, 0x000A, -1, NULL, 0},
	{APP_JPKI, 0x001B, 0, NULL, 0},
	{APP_JPKI, 0x0018, 1, NULL, 0},
	{APP_JUKI, 0x001C, 2, NULL, 0},
};

static struct {
	const char *host;
	int port;
	bool jpki;
	int drop_on_verify; /* the Nth VERIFY (with data) drops the connection; 0: never */
	bool drop_applies;  /* the dropped VERIFY counts on the card */
	int reinsert_ms;    /* after a drop, reconnect after this long; -1: stay removed (exit) */
	unsigned locked_sw; /* answer to a retry query of a locked PIN */
	bool log_atr;       /* log vpcd's presence polls too (every 400 ms; for debugging the rig) */
	FILE *log;
	const char *state;
	/* the power session */
	enum app app;
	struct ef *ef;
	int verifies;
} v = {"127.0.0.1", 35963, true, 0, false, -1, 0x63C0, false, NULL, NULL, APP_NONE, NULL, 0};

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
	for (int i = 0; i < 3; i++)
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
	for (int i = 0; i < 3; i++)
		pins[i].verified = false;
}

/* --- the certificate ------------------------------------------------------------------ */

/* A self-signed certificate with the given serial (hex) and notAfter (YYYYMMDDHHMMSSZ, UTC). */
static void make_cert(const char *serial_hex, const char *not_after, bool rsa, size_t pad_to)
{
	EVP_PKEY *key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *nb = ASN1_TIME_new(), *na = ASN1_TIME_new();
	X509_NAME *name = X509_NAME_new();
	unsigned char *der = NULL;
	if (!key || !x || !nb || !na || !name)
		die("openssl: out of memory");
	if (!BN_hex2bn(&bn, serial_hex) || !(serial = BN_to_ASN1_INTEGER(bn, NULL)))
		die("--serial must be hexadecimal");
	if (!ASN1_TIME_set_string_X509(nb, "20200101000000Z") || !ASN1_TIME_set_string_X509(na, not_after))
		die("bad notAfter");
	if (!X509_set_version(x, 2) || !X509_set_serialNumber(x, serial) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"kigen virtual card", -1, -1,
	                                0) ||
	    !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) || !X509_set1_notBefore(x, nb) ||
	    !X509_set1_notAfter(x, na) || !X509_set_pubkey(x, key) || !X509_sign(x, key, EVP_sha256()))
		die("cannot make the certificate");
	int n = i2d_X509(x, &der);
	if (n <= 0)
		die("cannot encode the certificate");
	/* The EF is larger than the certificate, as on the card: the reader must use the DER length. */
	size_t len = (size_t)n > pad_to ? (size_t)n : pad_to;
	unsigned char *ef = calloc(1, len);
	if (!ef)
		die("out of memory");
	memcpy(ef, der, (size_t)n);
	efs[2].data = ef;
	efs[2].len = len;
	OPENSSL_free(der);
	X509_NAME_free(name);
	ASN1_TIME_free(nb);
	ASN1_TIME_free(na);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* --- APDUs ----------------------------------------------------------------------------- */

static size_t sw(unsigned char *out, size_t n, unsigned s)
{
	out[n] = (unsigned char)(s >> 8);
	out[n + 1] = (unsigned char)s;
	return n + 2;
}

static size_t do_select(const unsigned char *a, const unsigned char *data, size_t lc, unsigned char *out)
{
	if (a[2] == 0x04) {
		enum app app = APP_NONE;
		if (lc == sizeof jpki_aid && !memcmp(data, jpki_aid, lc))
			app = APP_JPKI;
		else if (lc == sizeof juki_aid && !memcmp(data, juki_aid, lc))
			app = APP_JUKI;
		if (!v.jpki)
			app = APP_NONE;
		logf_("SELECT AP %s -> %s",
		      app == APP_JPKI   ? "JPKI"
		      : app == APP_JUKI ? "JUKI"
		                        : "unknown",
		      app ? "9000" : "6A82");
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
		if (efs[i].app == v.app && efs[i].id == id && v.app != APP_NONE) {
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
	if (v.ef->pin >= 0)
		return sw(out, 0, 0x6981);
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
		unsigned s = p->verified ? 0x9000 : p->tries == 0 ? v.locked_sw : 0x63C0u | (unsigned)p->tries;
		logf_("RETRIES %04X -> %04X", v.ef->id, s);
		return sw(out, 0, s);
	}
	v.verifies++;
	bool dropping = v.verifies == v.drop_on_verify;
	unsigned s;
	if (dropping && !v.drop_applies) {
		s = 0;
	} else if (p->tries == 0) {
		s = 0x6984;
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
		logf_("VERIFY %04X -> connection dropped (%s) %s=%d", v.ef->id,
		      v.drop_applies ? "applied" : "not applied", p->name, p->tries);
		*drop = true;
		return 0;
	}
	logf_("VERIFY %04X -> %04X %s=%d", v.ef->id, s, p->name, p->tries);
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
		for (int i = 0; eq && i < 3; i++) {
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
			die("PIN file: expected sign=, auth= or juki= lines");
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
	      "             [--tries SIGN,AUTH,JUKI] [--locked-answer 63C0|6984]\n"
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
			int t[3];
			if (sscanf(optarg, "%d,%d,%d", &t[0], &t[1], &t[2]) != 3)
				die("--tries: SIGN,AUTH,JUKI");
			for (int i = 0; i < 3; i++) {
				if (t[i] < 0 || t[i] > pins[i].max)
					die("--tries: each from 0 to its maximum (5,3,3)");
				pins[i].tries = t[i];
			}
			break;
		}
		case 'L': v.locked_sw = !strcmp(optarg, "6984") ? 0x6984 : 0x63C0; break;
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
	if (strlen(label) > sizeof token)
		die("--token: at most 32 characters");
	memset(token, ' ', sizeof token);
	memcpy(token, label, strlen(label));
	make_cert(serial, not_after, rsa, 2048);
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
	for (int i = 0; i < 3; i++)
		explicit_bzero(pins[i].value, sizeof pins[i].value);
	free(efs[2].data);
	return 0;
}
