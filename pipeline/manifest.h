/*
 * manifest.h: the print shop's hand-off. Writes into a batch directory, after the render stage
 * has put its PDFs there:
 *
 *   manifest.xlsx  sheets 発送リスト (one row per set in mailing order, with the file and page
 *                  of each piece, its A4 sheets and the matching code printed on each piece,
 *                  B0001-000123-1/4 .. 4/4, pieces numbered as mailset_pieces() counts them),
 *                  区分集計 (sets per 郵便区 bundle, the postal discounts) and バッチ情報 (date,
 *                  batch, counts, the postage mark (料金表示), exclusions, every print file with its pages,
 *                  bytes and SHA-256). libxlsxwriter in constant-memory mode; the document date
 *                  is the batch date and libxlsxwriter stamps zip entries 1980-01-01, so the same
 *                  input gives the same bytes.
 *   manifest.csv   the 発送リスト columns, UTF-8 with a BOM, RFC 4180 (libcsv; every field quoted,
 *                  CRLF line ends).
 *   job.json       the same facts for machines: batch, run date, counts, pieces per kind, the
 *                  postage mark, and per file its stock: paper, size_mm, sides, colour, folds
 *                  and the envelope it goes into.
 *   SHA256SUMS     sha256sum format over every file of the batch folder, written last
 *                  (manifest_sums.h: writing, listing and verifying it). A batch
 *                  folder without it is incomplete: manifest_write() removes an old one first.
 *
 * This module makes the one pass over the sets and decides every count; manifest_xlsx.h,
 * manifest_csv.h and jobticket.h lay the facts out (manifest_facts.h says what they get).
 *
 * Every file goes through afile.h (temporary name, fsync, rename); a failure (a full disk)
 * is KG_EIO naming the file, and leaves no half file and no SHA256SUMS.
 *
 * Memory stays flat as batches grow: the sets arrive through a loader in ranges of seq, one
 * range at a time, and only per-bundle counters are kept.
 *
 * Which piece is where. The render stage writes, split at resident boundaries:
 *   sheets-NNN.pdf           per set in seq order, mailset_sheets(m) pages: the 有効期限通知書,
 *                            then the 照会書兼回答書 (a re-inquiry is the form alone);
 *   inner-envelopes-NNN.pdf  one page (封入用封筒) per set with mailset_has_form(m);
 *   outer-envelopes-NNN.pdf  one page (長形3号封筒) per set.
 * struct manifest_file says which seq range each file holds; the manifest derives every set's
 * file and page from that and checks the file's page count against it (KG_ESTATE when the
 * render stage and the sets disagree). Sets must arrive in mailing (postal code) order.
 */
#ifndef MANIFEST_H
#define MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kg.h"
#include "mailset.h"
#include "manifest_sums.h"
#include "sbuf.h"
#include "settings.h"

/* The sets of the batch, seq 1..n_sets. load() fills *sets with the sets whose seq lies in
 * [seq_from, seq_to] in seq order (like store_batch_sets); release() frees what load() gave. */
struct manifest_source {
	int n_sets;
	enum kg_err (*load)(void *ctx, int seq_from, int seq_to, struct mailset **sets, size_t *n);
	void (*release)(void *ctx, struct mailset *sets, size_t n);
	void *ctx;
};

/* One output file of the render stage: its name in the batch directory (prefix sheets-,
 * inner-envelopes- or outer-envelopes-), its page count and the seq range it holds. */
struct manifest_file {
	char name[64];
	int pages;
	int seq_from, seq_to;
};

/* What the manifest states about the batch beyond its sets. The counts by what expires and by
 * piece are computed from the sets themselves. excluded_reasons are select_reason_name() keys. */
struct manifest_batch {
	int64_t id;
	int run_date;
	const char *const *excluded_reasons;
	const long *excluded_counts;
	size_t n_excluded;
	const struct manifest_file *files;
	size_t n_files;
};

/* Settings read from settings->conf (integers, defaults in brackets):
 *   postal_discounts.sorted_min   [2000]  sets for the 区分郵便物 discount
 *   postal_discounts.barcode_min  [1000]  sets with a customer barcode for the バーコード付 discount */

/* Writes manifest.xlsx, manifest.csv, job.json, then SHA256SUMS (via manifest_seal) into dir.
 * KG_EINPUT for a bad file list or setting, KG_ESTATE when the sets and files disagree (order,
 * seq gaps, page counts), KG_EIO for the disk, KG_ENOMEM... whatever load() returns is passed on. */
enum kg_err manifest_write(const char *dir, const struct settings *s, const struct manifest_batch *b,
                           const struct manifest_source *src) KG_WUR;

/* The Japanese label of an exclusion reason key (select_reason_name()); the key itself if unknown. */
const char *manifest_reason_label(const char *reason);

#endif
