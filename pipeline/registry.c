/*
 * registry.c: reads the extract one physical line at a time (LF, CRLF or CR ends a line, so every
 * record knows the line it starts on), converts CP932 to UTF-8 with iconv, splits records with
 * libcsv, validates each field and writes residents through the store inside one transaction
 * that is rolled back on any error.
 *
 * Fail closed: a row is bad when any check counted an error (row_bad), never because of the
 * length of the text that explains it. Every buffer that held a line (and so maybe a My Number)
 * is overwritten before it is freed or reused.
 */
#include "registry.h"

#include <csv.h>
#include <errno.h>
#include <iconv.h>
#include <malloc.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistr.h>

#include "rules.h"
#include "banned.h"

/* The columns of the extract; README.md documents each. A new column is one enum entry and one
 * row of the table below (its checks go in build_resident). */
enum col {
	C_ID,
	C_NAME,
	C_KANA,
	C_BIRTH,
	C_SEX,
	C_POSTAL,
	C_TOWN,
	C_BLOCK,
	C_BUILDING,
	C_NATIONALITY,
	C_STAY,
	C_KYOSHO,
	C_STATUS,
	C_MYNUMBER,
	C_CARD_ISSUED,
	C_CARD_RECEIVED,
	C_CARD_STATUS,
	C_CARD_EXPIRES,
	C_FACE_AUTH,
	C_AUTH_ISSUED,
	C_AUTH_STATUS,
	C_AUTH_SERIAL,
	C_AUTH_EXPIRES,
	C_SIGN_ISSUED,
	C_SIGN_STATUS,
	C_SIGN_SERIAL,
	C_SIGN_EXPIRES,
	C_JLIS_ID,
	C_COUNT
};

/* What a date column may hold (README "The registry extract"): a birth from 1900 to today; an
 * issue or application day from 2015-10-05 (the first My Number card applications) to today; an
 * end (expiry, period of stay) up to 2099-12-31. */
enum span { TEXT, BIRTH, ISSUED, ENDS };

static const struct {
	const char *name;
	bool required;
	int max_chars; /* the longest value accepted, in characters (README lists them) */
	enum span span;
} columns[C_COUNT] = {
	[C_ID] = {"resident_id", true, 32, TEXT},
	[C_NAME] = {"name", true, 100, TEXT},
	[C_KANA] = {"kana", true, 100, TEXT},
	[C_BIRTH] = {"birth_date", true, 10, BIRTH},
	[C_SEX] = {"sex", true, 1, TEXT},
	[C_POSTAL] = {"postal_code", true, 8, TEXT},
	[C_TOWN] = {"address_town", true, 100, TEXT},
	[C_BLOCK] = {"address_block", false, 100, TEXT},
	[C_BUILDING] = {"address_building", false, 100, TEXT},
	[C_NATIONALITY] = {"nationality", false, 40, TEXT},
	[C_STAY] = {"stay_until", false, 10, ENDS},
	[C_KYOSHO] = {"kyosho", false, 1, TEXT},
	[C_STATUS] = {"status", true, 9, TEXT},
	[C_MYNUMBER] = {"my_number", false, 12, TEXT},
	[C_CARD_ISSUED] = {"card_issued_on", false, 10, ISSUED},
	[C_CARD_RECEIVED] = {"card_received_on", false, 10, ISSUED},
	[C_CARD_STATUS] = {"card_status", false, 9, TEXT},
	[C_CARD_EXPIRES] = {"card_expires_on", false, 10, ENDS},
	[C_FACE_AUTH] = {"face_auth", false, 1, TEXT},
	[C_AUTH_ISSUED] = {"auth_issued_on", false, 10, ISSUED},
	[C_AUTH_STATUS] = {"auth_status", false, 7, TEXT},
	[C_AUTH_SERIAL] = {"auth_serial", false, 64, TEXT},
	[C_AUTH_EXPIRES] = {"auth_expires_on", false, 10, ENDS},
	[C_SIGN_ISSUED] = {"sign_issued_on", false, 10, ISSUED},
	[C_SIGN_STATUS] = {"sign_status", false, 7, TEXT},
	[C_SIGN_SERIAL] = {"sign_serial", false, 64, TEXT},
	[C_SIGN_EXPIRES] = {"sign_expires_on", false, 10, ENDS},
	[C_JLIS_ID] = {"jlis_application_id", false, 23, TEXT},
};

#define MAX_FIELDS 64 /* fields kept per record; more are counted, not stored */
/* The stored fields of a record, each ended by a NUL, in one buffer: a record holds at most
 * REGISTRY_MAX_LINE bytes (longer ones are dropped before parsing). One buffer instead of an
 * allocation per field: 28 million malloc/free pairs were a tenth of a million-row import's CPU. */
#define FIELDS_SIZE (REGISTRY_MAX_LINE + MAX_FIELDS)
#define SHOWN_CHARS 40 /* input quoted in a message is cut to this many characters */

struct seen_id { /* a resident_id met in this file, for duplicates */
	char *id;
	long line;
};

struct importer {
	struct store *st;
	const struct settings *set;
	const char *path;
	struct registry_report *rep;
	enum kg_err fatal; /* a failure of the database: stop at once */
	int map[C_COUNT];  /* column -> field index, -1 when absent */
	size_t n_header;
	bool have_header;
	int today;
	long line;        /* the physical line being fed */
	long record_line; /* the line the current record started on; 0 between records */
	size_t record_bytes;
	const char *field[MAX_FIELDS]; /* into fields */
	char *fields;                  /* FIELDS_SIZE bytes, wiped after each record */
	size_t fields_used;
	size_t n_fields;        /* stored */
	size_t n_seen;          /* met, stored or not */
	int row_bad;            /* errors counted for the current record: this decides, not the text */
	struct sbuf row_errors; /* their reasons, "; " separated, capped */
	void *ids;              /* tsearch tree of struct seen_id */
};

void registry_report_init(struct registry_report *r)
{
	memset(r, 0, sizeof *r);
	sbuf_init(&r->errors, 0);
	sbuf_init(&r->notes, 0);
}

void registry_report_release(struct registry_report *r)
{
	sbuf_release(&r->errors);
	sbuf_release(&r->notes);
}

enum kg_err registry_parse_encoding(const char *name, enum registry_encoding *out)
{
	if (!strcasecmp(name, "utf-8") || !strcasecmp(name, "utf8")) {
		*out = REGISTRY_UTF8;
		return KG_OK;
	}
	if (!strcasecmp(name, "cp932") || !strcasecmp(name, "shift_jis") || !strcasecmp(name, "sjis") ||
	    !strcasecmp(name, "windows-31j")) {
		*out = REGISTRY_CP932;
		return KG_OK;
	}
	return kg_fail(KG_EUSAGE, "unknown encoding '%s' (utf-8 or cp932)", name);
}

/* The length of a control or invisible character at s (C0, DEL, C1, a byte-order mark, the
 * bidirectional overrides and isolates), 0 when s starts with anything else. Such characters
 * never belong in a registry field and could steer a terminal or hide text. */
static inline size_t control_at(const unsigned char *s, size_t n)
{
	if (*s >= 0x20 && *s != 0x7f && *s != 0xc2 && *s != 0xe2 && *s != 0xef)
		return 0; /* the common case, first: none of them starts with this byte */
	if (*s < 0x20 || *s == 0x7f)
		return 1;
	if (n >= 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f)
		return 2;
	if (n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		return 3;
	if (n >= 3 && s[0] == 0xe2 &&
	    ((s[1] == 0x80 && s[2] >= 0xaa && s[2] <= 0xae) || (s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9)))
		return 3;
	return 0;
}

/* Quotes input for a message: at most SHOWN_CHARS characters, every control character as
 * \xNN, a backslash or quote escaped, so a message never carries what a file smuggled in. */
static const char *shown(const char *s, char *buf, size_t size)
{
	struct sbuf b;
	sbuf_init(&b, size - 1);
	sbuf_addc(&b, '\'');
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	int chars = 0;
	while (n && chars < SHOWN_CHARS) {
		size_t c = control_at(u, n);
		int len = c ? (int)c : u8_mblen(u, n);
		if (len <= 0)
			len = 1;
		if (c || (len == 1 && *u >= 0x80)) {
			for (int i = 0; i < len; i++)
				sbuf_addf(&b, "\\x%02x", u[i]);
		} else {
			if (*u == '\\' || *u == '\'')
				sbuf_addc(&b, '\\');
			sbuf_add(&b, u, (size_t)len);
		}
		u += len;
		n -= (size_t)len;
		chars++;
	}
	sbuf_adds(&b, n ? "'..." : "'");
	snprintf(buf, size, "%s", b.overflow ? "(value not shown)" : b.buf);
	sbuf_release(&b);
	return buf;
}
#define SHOWN_SIZE (SHOWN_CHARS * 4 * 4 + 8)
#define SHOW(s) shown((s), (char[SHOWN_SIZE]){0}, SHOWN_SIZE)

static void row_error(struct importer *im, const char *fmt, ...) KG_PRINTF(2, 3);
static void row_error(struct importer *im, const char *fmt, ...)
{
	va_list ap;
	im->row_bad++;
	if (im->row_errors.len)
		sbuf_adds(&im->row_errors, "; ");
	va_start(ap, fmt);
	sbuf_vaddf(&im->row_errors, fmt, ap);
	va_end(ap);
}

static void report_line(struct registry_report *rep, struct sbuf *list, long *count, const char *path, long line,
                        const char *text)
{
	if (++*count <= REGISTRY_MAX_LISTED)
		sbuf_addf(list, "%s:%ld: %s\n", path, line, text);
}

static const char *field(const struct importer *im, enum col c)
{
	int i = im->map[c];
	return i >= 0 && (size_t)i < im->n_fields ? im->field[i] : "";
}

static int today_in_japan(void)
{
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm); /* main sets TZ to Japan */
	return rules_from_ymd(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* A date column: empty gives RULES_NO_DATE unless required; outside its span it is refused. */
static int date_field(struct importer *im, enum col c, bool required)
{
	const char *s = field(im, c);
	int day;
	if (!*s) {
		if (required)
			row_error(im, "%s is empty", columns[c].name);
		return RULES_NO_DATE;
	}
	if (rules_parse_date(s, &day)) {
		row_error(im, "%s: %s", columns[c].name, kg_last_message());
		return RULES_NO_DATE;
	}
	int lo = columns[c].span == ISSUED ? rules_from_ymd(2015, 10, 5) : rules_from_ymd(1900, 1, 1);
	int hi = columns[c].span == ENDS ? rules_from_ymd(2099, 12, 31) : im->today;
	if (day < lo || day > hi) {
		char l[RULES_DATE_LEN], h[RULES_DATE_LEN];
		rules_format_date(lo, l);
		rules_format_date(hi, h);
		row_error(im, "%s %s is outside %s..%s", columns[c].name, s, l, h);
		return RULES_NO_DATE;
	}
	return day;
}

/* Looks s up in a NULL-terminated list of accepted spellings; -1 when absent. */
static int code_field(struct importer *im, enum col c, const char *const *names, const int *values, int def)
{
	const char *s = field(im, c);
	if (!*s)
		return def;
	for (size_t i = 0; names[i]; i++)
		if (!strcmp(s, names[i]))
			return values[i];
	row_error(im, "%s: unknown code %s", columns[c].name, SHOW(s));
	return def;
}

static bool postal_ok(const char *s)
{
	if (strlen(s) != 8 || s[3] != '-')
		return false;
	for (int i = 0; i < 8; i++)
		if (i != 3 && (s[i] < '0' || s[i] > '9'))
			return false;
	return true;
}

static void note_recorded(struct importer *im, const char *what, int recorded, int computed)
{
	char r[RULES_DATE_LEN], c[RULES_DATE_LEN], text[200];
	rules_format_date(recorded, r);
	rules_format_date(computed, c);
	snprintf(text, sizeof text, "resident %s: recorded %s expiry %s differs from the rules' %s (recorded kept)",
	         field(im, C_ID), what, r, c);
	report_line(im->rep, &im->rep->notes, &im->rep->n_notes, im->path, im->record_line, text);
}

/* Recorded wins over computed; RULES_NO_DATE recorded means "not recorded". */
static int settle(struct importer *im, const char *what, int recorded, int computed)
{
	if (recorded == RULES_NO_DATE || computed == RULES_NO_DATE)
		return recorded == RULES_NO_DATE ? computed : recorded;
	if (recorded != computed)
		note_recorded(im, what, recorded, computed);
	return recorded;
}

static enum store_cert_status cert_status(struct importer *im, enum col status, int issued)
{
	static const char *const names[] = {"valid", "revoked", "none", "", NULL};
	static const int values[] = {STORE_CERT_VALID, STORE_CERT_REVOKED, STORE_CERT_NONE, STORE_CERT_NONE};
	int st = code_field(im, status, names, values, issued == RULES_NO_DATE ? STORE_CERT_NONE : STORE_CERT_VALID);
	if (st != STORE_CERT_NONE && issued == RULES_NO_DATE) {
		row_error(im, "%s is %s but the certificate has no issue date", columns[status].name,
		          SHOW(field(im, status)));
		st = STORE_CERT_NONE;
	}
	return st;
}

static void build_resident(struct importer *im, struct store_resident *r)
{
	static const char *const sexes[] = {"1", "2", "9", "男", "女", NULL};
	static const int sex_values[] = {1, 2, 9, 1, 2};
	static const char *const statuses[] = {"active", "moved_out", "deceased", NULL};
	static const int status_values[] = {STORE_ACTIVE, STORE_MOVED_OUT, STORE_DECEASED};
	static const char *const card_statuses[] = {"valid", "suspended", "revoked", NULL};
	static const int card_values[] = {STORE_CARD_VALID, STORE_CARD_SUSPENDED, STORE_CARD_REVOKED};
	static const char *const flags[] = {"0", "1", "", NULL};
	static const int flag_values[] = {0, 1, 0};

	memset(r, 0, sizeof *r);
	r->registry_id = field(im, C_ID);
	r->name = field(im, C_NAME);
	r->kana = field(im, C_KANA);
	if (!*r->registry_id)
		row_error(im, "resident_id is empty");
	if (!*r->name)
		row_error(im, "name is empty");
	r->birth = date_field(im, C_BIRTH, true);
	r->sex = code_field(im, C_SEX, sexes, sex_values, 0);
	if (!*field(im, C_SEX))
		row_error(im, "sex is empty");
	r->postal_code = field(im, C_POSTAL);
	if (!postal_ok(r->postal_code))
		row_error(im, "postal_code %s is not NNN-NNNN", SHOW(r->postal_code));
	r->addr_town = field(im, C_TOWN);
	r->addr_block = field(im, C_BLOCK);
	r->addr_building = field(im, C_BUILDING);
	if (!*r->addr_town)
		row_error(im, "address_town is empty");
	r->nationality = field(im, C_NATIONALITY);
	r->stay_until = date_field(im, C_STAY, false);
	r->kyosho = code_field(im, C_KYOSHO, flags, flag_values, 0);
	r->status = code_field(im, C_STATUS, statuses, status_values, STORE_ACTIVE);
	if (!*field(im, C_STATUS))
		row_error(im, "status is empty");

	/* J-LIS's 申請書ID, as printed on its 交付申請書: 23 digits. Its check digit is not published,
	 * so only the form is checked. */
	r->jlis_app_id = field(im, C_JLIS_ID);
	if (*r->jlis_app_id && (strlen(r->jlis_app_id) != 23 || strspn(r->jlis_app_id, "0123456789") != 23))
		row_error(im, "jlis_application_id %s is not 23 digits", SHOW(r->jlis_app_id));

	const char *mn = field(im, C_MYNUMBER);
	if (*mn && !rules_mynumber_valid(mn))
		row_error(im, "my_number: check digit does not match"); /* never echo the number */

	r->card_issued = date_field(im, C_CARD_ISSUED, false);
	r->has_card = r->card_issued != RULES_NO_DATE;
	r->card_received = date_field(im, C_CARD_RECEIVED, false);
	r->card_status = code_field(im, C_CARD_STATUS, card_statuses, card_values, STORE_CARD_VALID);
	r->face_auth = code_field(im, C_FACE_AUTH, flags, flag_values, 0);
	int card_recorded = date_field(im, C_CARD_EXPIRES, false);

	r->auth.issued_on = date_field(im, C_AUTH_ISSUED, false);
	r->auth.status = cert_status(im, C_AUTH_STATUS, r->auth.issued_on);
	r->auth.serial = field(im, C_AUTH_SERIAL);
	int auth_recorded = date_field(im, C_AUTH_EXPIRES, false);
	r->sign.issued_on = date_field(im, C_SIGN_ISSUED, false);
	r->sign.status = cert_status(im, C_SIGN_STATUS, r->sign.issued_on);
	r->sign.serial = field(im, C_SIGN_SERIAL);
	int sign_recorded = date_field(im, C_SIGN_EXPIRES, false);

	if (!r->has_card) {
		if (r->auth.status != STORE_CERT_NONE || r->sign.status != STORE_CERT_NONE)
			row_error(im, "certificates without a card (card_issued_on is empty)");
		return;
	}
	if (im->row_bad || r->birth == RULES_NO_DATE)
		return;

	/* Compute what the rules say; the recorded dates, where given, win. */
	struct rules_facts f = {r->birth,         r->card_issued, r->auth.issued_on,
	                        r->card_received, r->stay_until,  RULES_NO_DATE};
	struct rules_expiry e;
	if (rules_expiry(&im->set->policy, &f, &e)) {
		row_error(im, "%s", kg_last_message());
		return;
	}
	r->card_expires = settle(im, "card", card_recorded, e.card);
	r->auth.expires_on = settle(im, "user-auth certificate", auth_recorded, e.auth_cert);
	if (r->sign.status != STORE_CERT_NONE) {
		f.cert_issued = r->sign.issued_on;
		struct rules_expiry es;
		if (rules_expiry(&im->set->policy, &f, &es)) {
			row_error(im, "%s", kg_last_message());
			return;
		}
		if (es.sign_cert == RULES_NO_DATE && sign_recorded == RULES_NO_DATE) {
			row_error(im, "a signature certificate for a holder under %d at its issue",
			          im->set->policy.no_sign_under);
			return;
		}
		int computed = es.sign_cert == RULES_NO_DATE       ? RULES_NO_DATE
		               : es.sign_cert < r->auth.expires_on ? es.sign_cert
		                                                   : r->auth.expires_on;
		r->sign.expires_on = settle(im, "signature certificate", sign_recorded, computed);
	}
}

static void map_header(struct importer *im)
{
	for (int c = 0; c < C_COUNT; c++)
		im->map[c] = -1;
	for (size_t i = 0; i < im->n_fields; i++) {
		const char *h = im->field[i];
		int found = -1;
		for (int c = 0; c < C_COUNT; c++)
			if (!strcmp(h, columns[c].name))
				found = c;
		if (found < 0)
			row_error(im, "unknown column %s", SHOW(h));
		else if (im->map[found] >= 0)
			row_error(im, "column '%s' appears twice", h);
		else
			im->map[found] = (int)i;
	}
	for (int c = 0; c < C_COUNT; c++)
		if (columns[c].required && im->map[c] < 0)
			row_error(im, "the header has no '%s' column", columns[c].name);
	im->n_header = im->n_fields;
	im->have_header = true;
}

static int seen_cmp(const void *a, const void *b)
{
	return strcmp(((const struct seen_id *)a)->id, ((const struct seen_id *)b)->id);
}

static void seen_free(void *p)
{
	struct seen_id *s = p;
	free(s->id);
	free(s);
}

/* One resident per resident_id in a file: a second row would silently overwrite the first. */
static void check_unique(struct importer *im)
{
	const char *id = field(im, C_ID);
	if (!*id)
		return;
	struct seen_id *s = kg_malloc(sizeof *s);
	s->id = kg_strdup(id);
	s->line = im->record_line;
	struct seen_id **found = tsearch(s, &im->ids, seen_cmp);
	if (!found)
		abort(); /* out of memory */
	if (*found != s) {
		row_error(im, "resident_id %s is also on line %ld", SHOW(id), (*found)->line);
		seen_free(s);
	}
}

/* Length limits, in characters, before any other check reads the value. */
static void check_lengths(struct importer *im)
{
	for (int c = 0; c < C_COUNT; c++) {
		const char *s = field(im, c);
		size_t n = strlen(s);
		if (n > (size_t)columns[c].max_chars) /* else no count of characters can be */
			n = u8_mbsnlen((const uint8_t *)s, n);
		if (n > (size_t)columns[c].max_chars)
			row_error(im, "%s is longer than %d characters (%zu)", columns[c].name, columns[c].max_chars,
			          n);
	}
}

static void wipe_fields(struct importer *im)
{
	explicit_bzero(im->fields, im->fields_used);
	im->fields_used = 0;
	im->n_fields = 0;
	im->n_seen = 0;
	im->row_bad = 0;
	sbuf_reset(&im->row_errors);
}

static void report_row(struct importer *im)
{
	if (!im->row_bad)
		return;
	if (im->row_errors.overflow || !im->row_errors.len)
		sbuf_adds(&im->row_errors, im->row_errors.len ? "; ..." : "bad row");
	report_line(im->rep, &im->rep->errors, &im->rep->n_errors, im->path, im->record_line, im->row_errors.buf);
}

static void end_record(int term, void *data)
{
	struct importer *im = data;
	(void)term;
	if (im->fatal)
		goto out;
	if (!im->have_header) {
		map_header(im);
	} else if (im->n_seen == 1 && !*im->field[0] && !im->row_bad) {
		goto out; /* a blank line */
	} else {
		im->rep->rows++;
		if (im->n_seen != im->n_header) {
			row_error(im, "%zu columns where the header has %zu", im->n_seen, im->n_header);
		} else {
			struct store_resident r;
			check_lengths(im);
			check_unique(im);
			build_resident(im, &r);
			if (!im->row_bad && !im->rep->n_errors)
				im->fatal = store_put_resident(im->st, &r);
		}
	}
	report_row(im);
out:
	wipe_fields(im);
	im->record_line = 0;
	im->record_bytes = 0;
}

static void end_field(void *s, size_t len, void *data)
{
	struct importer *im = data;
	const unsigned char *u = s ? s : (const unsigned char *)"";
	len = s ? len : 0;
	size_t at = im->n_seen++;
	if (at >= MAX_FIELDS)
		return;
	/* The file's own byte-order mark may open the header; anywhere else it is refused below. */
	if (!im->have_header && at == 0 && len >= 3 && !memcmp(u, "\xEF\xBB\xBF", 3)) {
		u += 3;
		len -= 3;
	}
	for (size_t i = 0; i < len; i++) {
		size_t c = control_at(u + i, len - i);
		if (c) {
			const char *col = "header";
			for (int k = 0; im->have_header && k < C_COUNT; k++)
				if (im->map[k] == (int)at)
					col = columns[k].name;
			row_error(im, "%s (column %zu) has a control or invisible character (byte 0x%02x at %zu)", col,
			          at + 1, u[i], i + 1);
			break;
		}
	}
	while (len && u[len - 1] == ' ') /* blanks around the value */
		len--;
	while (len && *u == ' ') {
		u++;
		len--;
	}
	if (im->fields_used + len + 1 > FIELDS_SIZE) { /* not reached: see FIELDS_SIZE */
		row_error(im, "record longer than %d bytes", REGISTRY_MAX_LINE);
		im->field[im->n_fields++] = "";
		return;
	}
	char *f = im->fields + im->fields_used;
	memcpy(f, u, len);
	f[len] = '\0';
	im->fields_used += len + 1;
	im->field[im->n_fields++] = f;
}

/* Converts one CP932 line to UTF-8 into out (room for 3 bytes per input byte: the most any
 * CP932 character takes in UTF-8); false when the bytes are not CP932. */
static bool cp932_to_utf8(iconv_t cd, const char *in, size_t n, char *out, size_t *out_len)
{
	char *src = (char *)in, *dst = out;
	size_t room = 3 * n;
	iconv(cd, NULL, NULL, NULL, NULL);
	size_t rc = iconv(cd, &src, &n, &dst, &room);
	*out_len = (size_t)(dst - out);
	return rc != (size_t)-1;
}

/* libcsv's field buffer holds a copy of every field (My Numbers too): it is wiped whenever it
 * grows or is freed. */
static void *wiping_realloc(void *old, size_t n)
{
	void *p = kg_malloc(n);
	if (old) {
		size_t was = malloc_usable_size(old);
		memcpy(p, old, was < n ? was : n);
		explicit_bzero(old, was);
		free(old);
	}
	return p;
}

static void wiping_free(void *p)
{
	if (p)
		explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static void parser_init(struct csv_parser *p)
{
	/* csv_init only fails to allocate, which the wiping allocator never does; it has not been
	 * given it yet, so its first block comes from malloc and is wiped by wiping_free. */
	if (csv_init(p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0)
		abort();
	csv_set_realloc_func(p, wiping_realloc);
	csv_set_free_func(p, wiping_free);
}

/* Reads one physical line, terminator included: LF, CRLF or a lone CR (old Mac files) ends it.
 * Returns its length, 0 at end of file, or REGISTRY_MAX_LINE + 1 when it is longer than that
 * (the rest of the line is read and dropped). */
static size_t read_line(FILE *f, char *buf)
{
	size_t n = 0;
	int c;
	while ((c = getc_unlocked(f)) != EOF) {
		if (n < REGISTRY_MAX_LINE)
			buf[n] = (char)c;
		n++;
		if (c == '\n')
			break;
		if (c == '\r') {
			if ((c = getc_unlocked(f)) == '\n') {
				if (n < REGISTRY_MAX_LINE)
					buf[n] = '\n';
				n++;
			} else if (c != EOF) {
				ungetc(c, f);
			}
			break;
		}
	}
	return n > REGISTRY_MAX_LINE ? REGISTRY_MAX_LINE + 1 : n;
}

/* Drops the record being read after a line that cannot be parsed: its fields must not stick to
 * the next record, and the parser starts afresh on the next line. */
static void drop_record(struct importer *im, struct csv_parser *p, const char *why)
{
	long at = im->record_line ? im->record_line : im->line;
	char text[256];
	if (at != im->line)
		snprintf(text, sizeof text, "%s (on line %ld)", why, im->line);
	else
		snprintf(text, sizeof text, "%s", why);
	im->rep->rows++;
	report_line(im->rep, &im->rep->errors, &im->rep->n_errors, im->path, at, text);
	wipe_fields(im);
	im->record_line = 0;
	im->record_bytes = 0;
	csv_free(p);
	parser_init(p);
}

enum kg_err registry_import_stream(struct store *st, const struct settings *set, FILE *f, const char *name,
                                   enum registry_encoding enc, struct registry_report *rep)
{
	struct importer im = {.st = st,
	                      .set = set,
	                      .path = name,
	                      .rep = rep,
	                      .today = today_in_japan(),
	                      .fields = kg_malloc(FIELDS_SIZE)};
	sbuf_init(&im.row_errors, 4096);
	struct csv_parser p;
	iconv_t cd = (iconv_t)-1;
	char *line = kg_malloc(REGISTRY_MAX_LINE);
	/* CP932 text grows up to 3 times in UTF-8 (half-width kana): sized to the longest line
	 * converted, not to the longest possible one (a UTF-8 import never needs it). */
	char *conv = NULL;
	size_t conv_size = 0;
	enum kg_err err = KG_OK;
	bool in_tx = false;
	size_t line_used = 0; /* the most of the line buffer ever written, to wipe */

	parser_init(&p);
	if (enc == REGISTRY_CP932 && (cd = iconv_open("UTF-8", "CP932")) == (iconv_t)-1) {
		err = kg_fail(KG_EIO, "this system's iconv has no CP932");
		goto out;
	}
	if ((err = store_begin(st)))
		goto out;
	in_tx = true;

	size_t n, len = 0;
	const char *text;
	while ((n = read_line(f, line)) > 0) {
		im.line++;
		line_used = n > line_used ? (n < REGISTRY_MAX_LINE ? n : REGISTRY_MAX_LINE) : line_used;
		if (!im.record_line)
			im.record_line = im.line;
		if (n > REGISTRY_MAX_LINE) {
			drop_record(&im, &p, "line longer than 65536 bytes");
			goto next;
		}
		text = line;
		len = n;
		if (enc == REGISTRY_CP932) {
			if (conv_size < 3 * n)
				conv = wiping_realloc(conv, conv_size = 3 * n);
			bool ok = cp932_to_utf8(cd, line, n, conv, &len);
			if (!ok) {
				drop_record(&im, &p, "not valid CP932 text");
				goto next;
			}
			text = conv;
		} else if (u8_check((const uint8_t *)line, n)) {
			drop_record(&im, &p, "not valid UTF-8 (use --encoding cp932 for Shift_JIS files)");
			goto next;
		}
		if ((im.record_bytes += len) > REGISTRY_MAX_LINE) {
			drop_record(&im, &p, "record longer than 65536 bytes (a quote never closed?)");
			goto next;
		}
		if (csv_parse(&p, text, len, end_field, end_record, &im) != len) {
			drop_record(&im, &p, csv_strerror(csv_error(&p)));
			goto next;
		}
		if (im.fatal) {
			err = im.fatal;
			goto out;
		}
		if (!im.n_seen && !im.row_bad && p.pstate == 0 /* libcsv: no row begun */)
			im.record_line = 0; /* a blank line; the next record starts afresh */
	next:
		explicit_bzero(line, n < REGISTRY_MAX_LINE ? n : REGISTRY_MAX_LINE);
		if (conv)
			explicit_bzero(conv, len);
	}
	if (ferror(f)) {
		err = kg_fail(KG_EIO, "%s: %s", name, strerror(errno));
		goto out;
	}
	if (csv_fini(&p, end_field, end_record, &im) != 0)
		drop_record(&im, &p, "a quoted field is not closed at the end of the file");
	if (im.fatal) {
		err = im.fatal;
		goto out;
	}
	if (!im.have_header)
		report_line(rep, &rep->errors, &rep->n_errors, name, 1, "empty file: no header row");
	if (rep->n_errors) {
		err = kg_fail(KG_EINPUT, "%s: %ld bad row(s); nothing was imported", name, rep->n_errors);
		goto out;
	}
	if ((err = store_commit(st)))
		goto out;
	in_tx = false;
	rep->imported = rep->rows;
out:
	if (in_tx)
		store_rollback(st);
	wipe_fields(&im);
	csv_free(&p);
	if (cd != (iconv_t)-1)
		iconv_close(cd);
	tdestroy(im.ids, seen_free);
	sbuf_release(&im.row_errors);
	free(im.fields); /* wiped by wipe_fields */
	explicit_bzero(line, line_used);
	free(line);
	wiping_free(conv);
	return err;
}

enum kg_err registry_import(struct store *st, const struct settings *set, const char *path, enum registry_encoding enc,
                            struct registry_report *rep)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
	/* stdio's own buffer holds raw lines too: ours, so it can be wiped after the close. */
	enum { IOBUF = 1 << 18 }; /* a read per 256 KiB, not per BUFSIZ (8 KiB) */
	char *iobuf = kg_malloc(IOBUF);
	setvbuf(f, iobuf, _IOFBF, IOBUF);
	enum kg_err err = registry_import_stream(st, set, f, path, enc, rep);
	fclose(f);
	explicit_bzero(iobuf, IOBUF);
	free(iobuf);
	return err;
}
