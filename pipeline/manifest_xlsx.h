/*
 * manifest_xlsx.h: manifest.xlsx, through libxlsxwriter in constant-memory mode. Three sheets,
 * each written in row order as that mode requires:
 *   発送リスト  one row per set (manifest_facts.h), header frozen, autofilter;
 *   区分集計    sets per 郵便区 bundle (the first 3 digits of the postal code, sets in mailing
 *               order), then the totals and whether the postal discounts apply;
 *   バッチ情報  date, batch, counts, the postage mark, exclusions, and every print file with its
 *               pages, bytes and SHA-256.
 * The document date is the batch date and libxlsxwriter stamps zip entries 1980-01-01, so the
 * same input gives the same bytes.
 *
 * The workbook is written to the temporary of an afile.h file the caller owns and commits:
 * manifest_xlsx_close() reads it back first (libzip), since libxlsxwriter can lose rows on a full
 * disk and still report success. A libxlsxwriter error is kept (the first one, with its row) and
 * reported by manifest_xlsx_status() and manifest_xlsx_close() as KG_EIO.
 */
#ifndef MANIFEST_XLSX_H
#define MANIFEST_XLSX_H

#include "afile.h"
#include "kg.h"
#include "manifest.h"
#include "manifest_facts.h"

struct manifest_xlsx;

/* Starts the workbook in file's temporary, dated run_date (days since 1970-01-01), with each
 * sheet's heading row. Its constant-memory temporaries go into dir. */
enum kg_err manifest_xlsx_new(struct afile *file, const char *dir, int run_date, struct manifest_xlsx **out) KG_WUR;

/* Adds a set's row to 発送リスト and counts it in its bundle; rows come in seq order. */
void manifest_xlsx_row(struct manifest_xlsx *x, const struct manifest_row *r);

/* The first error so far, if any. */
enum kg_err manifest_xlsx_status(const struct manifest_xlsx *x) KG_WUR;

/* Writes 区分集計's closing rows and バッチ情報, closes the workbook and reads it back: every part
 * complete, every sheet holding the rows written. The file stays a temporary for the caller to
 * commit. */
enum kg_err manifest_xlsx_close(struct manifest_xlsx *x, const struct manifest_batch *b,
                                const struct manifest_totals *t) KG_WUR;

/* Frees x; a workbook not closed is dropped unwritten. NULL is a no-op. */
void manifest_xlsx_free(struct manifest_xlsx *x);

#endif
