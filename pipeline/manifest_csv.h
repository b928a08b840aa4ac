/*
 * manifest_csv.h: manifest.csv, the 発送リスト for programs that read no XLSX. UTF-8 with a BOM
 * (Excel then opens it as UTF-8), RFC 4180 through libcsv: every field quoted, CRLF line ends.
 *
 * The caller owns the stream (an afile.h temporary): write errors show when it is committed.
 */
#ifndef MANIFEST_CSV_H
#define MANIFEST_CSV_H

#include <stdio.h>

#include "manifest_facts.h"

/* The BOM and the heading row. */
void manifest_csv_head(FILE *csv);

/* One set's row. A text that a spreadsheet would run as a formula (first character =, +, -, @,
 * tab or return) gets a leading apostrophe: registry text is data, never code. */
void manifest_csv_row(FILE *csv, const struct manifest_row *r);

#endif
