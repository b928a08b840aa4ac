/*
 * registry.h: import of a resident-registry extract (CSV with a header row, UTF-8 or CP932).
 *
 * All or nothing: the whole file is read in one transaction; if any row is bad, nothing is
 * written and every bad row is reported as "FILE:LINE: reason". Columns are found by their
 * header name (README lists them), so their order is free. A my_number column is checked
 * (check digit) and never stored. Where a row records an expiry that differs from the one
 * the rules compute, the recorded one wins (it is what the card shows) and a note says so.
 *
 * Refused, each with its line (a line ends at LF, CRLF or a lone CR): a row with the wrong
 * number of columns (the real count is given), a quote error (the rest of that record is
 * dropped, never glued to the next), a quoted field still open at the end of the file, a
 * resident_id met twice in one file, a control or invisible character in any field (C0 and C1
 * controls, NUL, DEL, a byte-order mark anywhere but the file's start, bidirectional
 * overrides), a value longer than its column's limit (README), a date outside its column's
 * span. Messages quote input escaped and cut short; a My Number is never quoted. Buffers that
 * held a line are overwritten before they are freed.
 */
#ifndef REGISTRY_H
#define REGISTRY_H

#include <stdio.h>

#include "kg.h"
#include "sbuf.h"
#include "settings.h"
#include "store.h"

enum registry_encoding { REGISTRY_UTF8, REGISTRY_CP932 };

struct registry_report {
	long rows;          /* data rows read */
	long imported;      /* rows written (0 when any row was bad) */
	long n_errors;      /* bad rows / problems */
	long n_notes;       /* recorded expiries that differ from the rules */
	struct sbuf errors; /* one "FILE:LINE: reason" per line, the first REGISTRY_MAX_LISTED */
	struct sbuf notes;
};
#define REGISTRY_MAX_LISTED 1000
/* The longest line, and the longest record (a quoted field may span lines), in bytes. */
#define REGISTRY_MAX_LINE 65536

void registry_report_init(struct registry_report *r);
void registry_report_release(struct registry_report *r);

/* Parses an encoding name: "utf-8", "utf8", "cp932", "shift_jis", "sjis". */
enum kg_err registry_parse_encoding(const char *name, enum registry_encoding *out) KG_WUR;

/* Imports path into the store. Returns KG_EINPUT when any row is bad (report->errors lists
 * them; the database is unchanged), KG_EIO / KG_EDB for failures of the file or database. */
enum kg_err registry_import(struct store *st, const struct settings *set, const char *path, enum registry_encoding enc,
                            struct registry_report *report) KG_WUR;
/* The same from an open stream (a test or fuzz harness); name is used in "NAME:LINE" messages. */
enum kg_err registry_import_stream(struct store *st, const struct settings *set, FILE *f, const char *name,
                                   enum registry_encoding enc, struct registry_report *report) KG_WUR;

#endif
