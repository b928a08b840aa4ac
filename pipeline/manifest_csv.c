/*
 * manifest_csv.c: manifest.csv, one quoted line per set (libcsv does the quoting).
 */
#include "manifest_csv.h"

#include <csv.h>
#include <string.h>

#include "sbuf.h"
#include "banned.h"

/* One cell, quoted. Numbers and dates never start with a formula character, so only text can
 * need the apostrophe. */
static void cell(FILE *csv, const char *text)
{
	if (strchr("=+-@\t\r", text[0]) && text[0]) {
		struct sbuf b = SBUF_INIT;
		sbuf_addf(&b, "'%s", text);
		csv_fwrite(csv, b.buf, b.len);
		sbuf_release(&b);
		return;
	}
	csv_fwrite(csv, text, strlen(text));
}

void manifest_csv_head(FILE *csv)
{
	fputs("\xEF\xBB\xBF", csv);
	for (int c = 0; c < N_COLS; c++) {
		if (c)
			fputc(',', csv);
		csv_fwrite(csv, manifest_cols[c].head, strlen(manifest_cols[c].head));
	}
	fputs("\r\n", csv);
}

void manifest_csv_row(FILE *csv, const struct manifest_row *r)
{
	for (int c = 0; c < N_COLS; c++) {
		if (c)
			fputc(',', csv);
		cell(csv, r->text[c]);
	}
	fputs("\r\n", csv);
}
