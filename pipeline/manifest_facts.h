/*
 * manifest_facts.h: what manifest.c (the contract of manifest.h) hands to the writers of the
 * batch's hand-off files: one row of the 発送リスト per set, for manifest_xlsx.h and
 * manifest_csv.h alike, and the batch's totals once the pass is over, for manifest_xlsx.h and
 * jobticket.h. Only manifest.c and those writers include it; everything else speaks to manifest.h.
 *
 * Every count and every rule (which pieces a set has, where they are printed, whether a discount
 * applies, how the postage mark reads) is decided once, in manifest.c; the writers only lay the
 * facts out in their own format.
 */
#ifndef MANIFEST_FACTS_H
#define MANIFEST_FACTS_H

#include <stdbool.h>

#include "mailset.h"

/* The pieces of a set, in enclosing order (mailset.h says which set has which). */
enum manifest_piece { PIECE_NOTICE, PIECE_APPL, PIECE_FORM, PIECE_INNER, PIECE_OUTER, N_PIECES };

/* The render stage's print files, by the prefix of their names (manifest.h). */
enum manifest_kind { KIND_SHEETS, KIND_INNER, KIND_OUTER, N_KINDS };

/* The 発送リスト columns, in their order in the XLSX and the CSV. */
enum manifest_col {
	COL_SEQ,
	COL_APPID,
	COL_JLIS,
	COL_POSTAL,
	COL_ADDRESS,
	COL_NAME,
	COL_WHAT,
	COL_EXPIRY,
	COL_PIECES,
	COL_NOTICE_FILE,
	COL_NOTICE_PAGE,
	COL_APPL_FILE,
	COL_APPL_PAGE,
	COL_FORM_FILE,
	COL_FORM_PAGE,
	COL_INNER_FILE,
	COL_INNER_PAGE,
	COL_OUTER_FILE,
	COL_OUTER_PAGE,
	COL_BARCODE,
	COL_SHEETS,
	COL_CODES,
	N_COLS
};

/* Each column's heading (both files) and width in the workbook (characters). */
extern const struct manifest_col_head {
	const char *head;
	double width;
} manifest_cols[N_COLS];

/* One set's row, valid only during the call it is passed to. text[c] is every cell as text, ""
 * for an empty one; num[c] is non-zero only in the numeric columns (連番, pages, A4枚数), which
 * the workbook stores as numbers. A piece the set does not have is an empty cell, not page 0. */
struct manifest_row {
	int seq;
	const char *postal; /* NNN-NNNN, "" when unknown; its first 3 characters are the 郵便区 */
	bool barcoded;      /* the envelope carries a customer barcode */
	const char *text[N_COLS];
	int num[N_COLS];
};

/* One print file of manifest_batch.files (same index): its kind and checksum. */
struct manifest_sum {
	enum manifest_kind kind;
	char hex[65];
	long long bytes;
};

/* The batch, counted over its sets. */
struct manifest_totals {
	int sets;
	long card, cert, reinquiries;   /* sets by what expires */
	long no_jlis;                   /* card renewals without J-LIS's 申請書ID: no online application */
	long barcoded;                  /* sets with a customer barcode */
	long pieces[N_PIECES];          /* sets with each piece */
	long inserts[MAILSET_N_GROUPS]; /* sets per group, each getting that group's inserts */
	long sorted_min, barcode_min;   /* the discounts' thresholds (settings, manifest.h) */
	bool sorted, barcode;           /* whether the 区分 and バーコード付 discounts apply */
	char postage[256];              /* the postage mark as printed on the envelopes, "なし" without one */
	const struct manifest_sum *sums;
};

#endif
