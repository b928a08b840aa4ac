/*
 * registry.c: reads the extract line by line (so every record knows the line it starts on),
 * converts CP932 to UTF-8 with iconv, splits records with libcsv, validates each field and
 * writes residents through the store inside one transaction that is rolled back on any error.
 */
#include "registry.h"

#include <csv.h>
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

#include "rules.h"
#include "banned.h"

/* The columns of the extract; README.md documents each. */
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

static const struct {
	const char *name;
	bool required;
} columns[C_COUNT] = {
	[C_ID] = {"resident_id", true},
	[C_NAME] = {"name", true},
	[C_KANA] = {"kana", true},
	[C_BIRTH] = {"birth_date", true},
	[C_SEX] = {"sex", true},
	[C_POSTAL] = {"postal_code", true},
	[C_TOWN] = {"address_town", true},
	[C_BLOCK] = {"address_block", false},
	[C_BUILDING] = {"address_building", false},
	[C_NATIONALITY] = {"nationality", false},
	[C_STAY] = {"stay_until", false},
	[C_KYOSHO] = {"kyosho", false},
	[C_STATUS] = {"status", true},
	[C_MYNUMBER] = {"my_number", false},
	[C_CARD_ISSUED] = {"card_issued_on", false},
	[C_CARD_RECEIVED] = {"card_received_on", false},
	[C_CARD_STATUS] = {"card_status", false},
	[C_CARD_EXPIRES] = {"card_expires_on", false},
	[C_FACE_AUTH] = {"face_auth", false},
	[C_AUTH_ISSUED] = {"auth_issued_on", false},
	[C_AUTH_STATUS] = {"auth_status", false},
	[C_AUTH_SERIAL] = {"auth_serial", false},
	[C_AUTH_EXPIRES] = {"auth_expires_on", false},
	[C_SIGN_ISSUED] = {"sign_issued_on", false},
	[C_SIGN_STATUS] = {"sign_status", false},
	[C_SIGN_SERIAL] = {"sign_serial", false},
	[C_SIGN_EXPIRES] = {"sign_expires_on", false},
	[C_JLIS_ID] = {"jlis_application_id", false},
};

#define MAX_FIELDS 64

struct importer {
	struct store *st;
	const struct settings *set;
	const char *path;
	struct registry_report *rep;
	enum kg_err fatal; /* a failure of the database: stop at once */
	int map[C_COUNT];  /* column -> field index, -1 when absent */
	size_t n_header;
	bool have_header;
	long line;        /* the physical line being fed */
	long record_line; /* the line the current record started on */
	char *field[MAX_FIELDS];
	size_t n_fields;
	bool too_many;
	struct sbuf row_errors; /* reasons for the current record, "; " separated */
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

static void row_error(struct importer *im, const char *fmt, ...) KG_PRINTF(2, 3);
static void row_error(struct importer *im, const char *fmt, ...)
{
	va_list ap;
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

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	size_t lead = strspn(s, " \t");
	memmove(s, s + lead, n - lead + 1);
}

/* A date column: empty gives RULES_NO_DATE unless required. */
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
	row_error(im, "%s: unknown code '%s'", columns[c].name, s);
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
		          field(im, status));
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
		row_error(im, "postal_code '%s' is not NNN-NNNN", r->postal_code);
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
		row_error(im, "jlis_application_id '%s' is not 23 digits", r->jlis_app_id);

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
	if (im->row_errors.len || r->birth == RULES_NO_DATE)
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
		if (i == 0 && !strncmp(h, "\xEF\xBB\xBF", 3)) /* a UTF-8 byte-order mark */
			h += 3;
		int found = -1;
		for (int c = 0; c < C_COUNT; c++)
			if (!strcmp(h, columns[c].name))
				found = c;
		if (found < 0)
			row_error(im, "unknown column '%s'", h);
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

static void end_record(int term, void *data)
{
	struct importer *im = data;
	(void)term;
	if (im->fatal)
		goto out;
	if (!im->have_header) {
		map_header(im);
	} else if (im->n_fields == 1 && !*im->field[0]) {
		goto out; /* a blank line */
	} else {
		im->rep->rows++;
		if (im->too_many || im->n_fields != im->n_header)
			row_error(im, "%zu columns where the header has %zu", im->n_fields, im->n_header);
		else {
			struct store_resident r;
			build_resident(im, &r);
			if (!im->row_errors.len && !im->rep->n_errors)
				im->fatal = store_put_resident(im->st, &r);
		}
	}
	if (im->row_errors.len)
		report_line(im->rep, &im->rep->errors, &im->rep->n_errors, im->path, im->record_line,
		            im->row_errors.buf);
out:
	/* The my_number column must not linger in memory. */
	if (im->have_header && im->map[C_MYNUMBER] >= 0 && (size_t)im->map[C_MYNUMBER] < im->n_fields)
		explicit_bzero(im->field[im->map[C_MYNUMBER]], strlen(im->field[im->map[C_MYNUMBER]]));
	for (size_t i = 0; i < im->n_fields; i++)
		free(im->field[i]);
	im->n_fields = 0;
	im->too_many = false;
	sbuf_reset(&im->row_errors);
}

static void end_field(void *s, size_t len, void *data)
{
	struct importer *im = data;
	if (im->n_fields == 0 && !im->too_many)
		im->record_line = im->record_line ? im->record_line : im->line;
	if (im->n_fields >= MAX_FIELDS) {
		im->too_many = true;
		return;
	}
	char *f = kg_strndup(s ? s : "", s ? len : 0);
	trim(f);
	im->field[im->n_fields++] = f;
}

/* Converts one CP932 line to UTF-8 into out; false when the bytes are not CP932. */
static bool cp932_to_utf8(iconv_t cd, const char *in, size_t n, struct sbuf *out)
{
	sbuf_reset(out);
	char buf[4096];
	char *src = (char *)in;
	iconv(cd, NULL, NULL, NULL, NULL);
	while (n) {
		char *dst = buf;
		size_t room = sizeof buf;
		size_t rc = iconv(cd, &src, &n, &dst, &room);
		sbuf_add(out, buf, (size_t)(dst - buf));
		if (rc == (size_t)-1 && errno != E2BIG)
			return false;
	}
	return true;
}

enum kg_err registry_import(struct store *st, const struct settings *set, const char *path, enum registry_encoding enc,
                            struct registry_report *rep)
{
	struct importer im = {.st = st, .set = set, .path = path, .rep = rep};
	sbuf_init(&im.row_errors, 4096);
	struct csv_parser p;
	struct sbuf conv = SBUF_INIT;
	iconv_t cd = (iconv_t)-1;
	char *line = NULL;
	size_t cap = 0;
	enum kg_err err = KG_OK;
	bool in_tx = false;

	FILE *f = fopen(path, "rb");
	if (!f)
		return kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
	if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0) {
		fclose(f);
		return kg_fail(KG_ENOMEM, "csv parser");
	}
	if (enc == REGISTRY_CP932 && (cd = iconv_open("UTF-8", "CP932")) == (iconv_t)-1) {
		err = kg_fail(KG_EIO, "this system's iconv has no CP932");
		goto out;
	}
	if ((err = store_begin(st)))
		goto out;
	in_tx = true;

	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		im.line++;
		const char *text = line;
		size_t len = (size_t)n;
		if (enc == REGISTRY_CP932) {
			if (!cp932_to_utf8(cd, line, len, &conv)) {
				report_line(rep, &rep->errors, &rep->n_errors, path, im.line, "not valid CP932 text");
				continue;
			}
			text = conv.buf;
			len = conv.len;
		} else if (u8_check((const uint8_t *)line, len)) {
			report_line(rep, &rep->errors, &rep->n_errors, path, im.line,
			            "not valid UTF-8 (use --encoding cp932 for Shift_JIS files)");
			continue;
		}
		if (csv_parse(&p, text, len, end_field, end_record, &im) != len) {
			report_line(rep, &rep->errors, &rep->n_errors, path, im.line, csv_strerror(csv_error(&p)));
			csv_free(&p);
			if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0) {
				err = kg_fail(KG_ENOMEM, "csv parser");
				goto out;
			}
			im.record_line = 0;
			continue;
		}
		if (im.n_fields == 0 && !im.too_many)
			im.record_line = 0; /* the record ended on this line; the next starts afresh */
		if (im.fatal) {
			err = im.fatal;
			goto out;
		}
	}
	if (ferror(f)) {
		err = kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (csv_fini(&p, end_field, end_record, &im) != 0)
		report_line(rep, &rep->errors, &rep->n_errors, path, im.line,
		            "unterminated quoted field at end of file");
	if (im.fatal) {
		err = im.fatal;
		goto out;
	}
	if (!im.have_header)
		report_line(rep, &rep->errors, &rep->n_errors, path, 1, "empty file: no header row");
	if (rep->n_errors) {
		err = kg_fail(KG_EINPUT, "%s: %ld bad row(s); nothing was imported", path, rep->n_errors);
		goto out;
	}
	if ((err = store_commit(st)))
		goto out;
	in_tx = false;
	rep->imported = rep->rows;
out:
	if (in_tx)
		store_rollback(st);
	for (size_t i = 0; i < im.n_fields; i++)
		free(im.field[i]);
	csv_free(&p);
	if (cd != (iconv_t)-1)
		iconv_close(cd);
	sbuf_release(&conv);
	sbuf_release(&im.row_errors);
	free(line);
	fclose(f);
	return err;
}
