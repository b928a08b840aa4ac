/*
 * manifest_xlsx.c: manifest.xlsx. The 発送リスト rows arrive one set at a time; 区分集計 gets a
 * bundle's row when the next bundle starts, and its closing rows and バッチ情報 come at the end,
 * once everything is counted. Only one bundle's counters are kept, so memory stays flat.
 */
#include "manifest_xlsx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xlsxwriter.h>
#include <zip.h>

#include "rules.h"
#include "banned.h"

/* The sets of one 郵便区 (the first 3 digits of their postal code), consecutive in mailing order. */
struct bundle {
	char prefix[4];
	long sets, barcoded;
	int first, last;
};

struct manifest_xlsx {
	struct afile *file;
	const char *dir;
	lxw_workbook *wb;
	lxw_worksheet *list, *bundles, *info;
	lxw_format *head;
	lxw_error lx; /* the first libxlsxwriter error (sticky) */
	int lx_row;   /* where it happened */

	struct bundle bundle;
	bool in_bundle;
	lxw_row_t bundle_row;
	long rows[3]; /* rows written per sheet, for the read-back check */
};

static void lx(struct manifest_xlsx *x, lxw_error e, int row)
{
	if (e && !x->lx) {
		x->lx = e;
		x->lx_row = row;
	}
}

static void put_str(struct manifest_xlsx *x, lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, const char *s,
                    lxw_format *f)
{
	lx(x, worksheet_write_string(ws, row, col, s, f), (int)row);
}

static void put_num(struct manifest_xlsx *x, lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, double v)
{
	lx(x, worksheet_write_number(ws, row, col, v, NULL), (int)row);
}

enum kg_err manifest_xlsx_status(const struct manifest_xlsx *x)
{
	if (!x->lx)
		return KG_OK;
	return kg_fail(KG_EIO, "%s/manifest.xlsx: row %d: %s", x->dir, x->lx_row + 1, lxw_strerror(x->lx));
}

enum kg_err manifest_xlsx_new(struct afile *file, const char *dir, int run_date, struct manifest_xlsx **out)
{
	struct manifest_xlsx *x = kg_calloc(1, sizeof *x);
	enum kg_err err = KG_OK;
	x->file = file;
	x->dir = dir;
	lxw_workbook_options o = {.constant_memory = LXW_TRUE, .tmpdir = (char *)dir};
	x->wb = workbook_new_opt(afile_temp_path(file), &o);
	if (!x->wb) {
		err = kg_fail(KG_ENOMEM, "%s/manifest.xlsx: cannot start a workbook", dir);
		goto out;
	}
	/* The document date is the batch date (00:00 in Japan), never the clock: same input, same bytes. */
	lxw_doc_properties p = {
		.title = "有効期限通知 発送リスト",
		.subject = "マイナンバーカード・電子証明書の有効期限通知",
		.author = "kigen",
		.created = (time_t)run_date * 86400 - 9 * 3600,
	};
	lx(x, workbook_set_properties(x->wb, &p), 0);
	x->head = workbook_add_format(x->wb);
	x->list = workbook_add_worksheet(x->wb, "発送リスト");
	x->bundles = workbook_add_worksheet(x->wb, "区分集計");
	x->info = workbook_add_worksheet(x->wb, "バッチ情報");
	if (!x->head || !x->list || !x->bundles || !x->info) {
		err = kg_fail(KG_ENOMEM, "%s/manifest.xlsx: cannot add a sheet", dir);
		goto out;
	}
	format_set_bold(x->head);
	format_set_bg_color(x->head, 0xDDEBF7);
	format_set_bottom(x->head, LXW_BORDER_THIN);

	for (int c = 0; c < N_COLS; c++) {
		lx(x, worksheet_set_column(x->list, (lxw_col_t)c, (lxw_col_t)c, manifest_cols[c].width, NULL), 0);
		put_str(x, x->list, 0, (lxw_col_t)c, manifest_cols[c].head, x->head);
	}
	worksheet_freeze_panes(x->list, 1, 0);

	static const char *const bundle_heads[] = {"郵便区番号", "通数", "うちバーコード付", "先頭連番", "末尾連番"};
	for (size_t c = 0; c < KG_ARRAY_SIZE(bundle_heads); c++) {
		lx(x, worksheet_set_column(x->bundles, (lxw_col_t)c, (lxw_col_t)c, c ? 16 : 12, NULL), 0);
		put_str(x, x->bundles, 0, (lxw_col_t)c, bundle_heads[c], x->head);
	}
	worksheet_freeze_panes(x->bundles, 1, 0);

	lx(x, worksheet_set_column(x->info, 0, 0, 34, NULL), 0);
	lx(x, worksheet_set_column(x->info, 1, 2, 16, NULL), 0);
	lx(x, worksheet_set_column(x->info, 3, 3, 70, NULL), 0);
	put_str(x, x->info, 0, 0, "項目", x->head);
	put_str(x, x->info, 0, 1, "値", x->head);
	worksheet_freeze_panes(x->info, 1, 0);
	err = manifest_xlsx_status(x);
out:
	if (err) {
		manifest_xlsx_free(x);
		x = NULL;
	}
	*out = x;
	return err;
}

static void bundle_flush(struct manifest_xlsx *x)
{
	if (!x->in_bundle)
		return;
	lxw_row_t r = ++x->bundle_row;
	put_str(x, x->bundles, r, 0, x->bundle.prefix, NULL);
	put_num(x, x->bundles, r, 1, (double)x->bundle.sets);
	put_num(x, x->bundles, r, 2, (double)x->bundle.barcoded);
	put_num(x, x->bundles, r, 3, x->bundle.first);
	put_num(x, x->bundles, r, 4, x->bundle.last);
	x->in_bundle = false;
}

void manifest_xlsx_row(struct manifest_xlsx *x, const struct manifest_row *r)
{
	char prefix[4];
	snprintf(prefix, sizeof prefix, "%s", r->postal);
	if (!x->in_bundle || strcmp(prefix, x->bundle.prefix)) {
		bundle_flush(x);
		x->bundle = (struct bundle){.first = r->seq};
		snprintf(x->bundle.prefix, sizeof x->bundle.prefix, "%s", prefix);
		x->in_bundle = true;
	}
	x->bundle.sets++;
	x->bundle.barcoded += r->barcoded;
	x->bundle.last = r->seq;

	lxw_row_t row = (lxw_row_t)r->seq;
	for (int c = 0; c < N_COLS; c++)
		if (r->num[c])
			put_num(x, x->list, row, (lxw_col_t)c, r->num[c]);
		else if (*r->text[c])
			put_str(x, x->list, row, (lxw_col_t)c, r->text[c], NULL);
}

/* 区分集計's closing rows and バッチ情報, once the pass has counted everything. */
static void finish_sheets(struct manifest_xlsx *x, const struct manifest_batch *b, const struct manifest_totals *t)
{
	bundle_flush(x);
	lxw_row_t last_bundle = x->bundle_row;
	lx(x, worksheet_autofilter(x->list, 0, 0, (lxw_row_t)t->sets, N_COLS - 1), 0);
	lx(x, worksheet_autofilter(x->bundles, 0, 0, last_bundle, 4), 0);

	lxw_row_t r = last_bundle + 2;
	put_str(x, x->bundles, r, 0, "合計", x->head);
	put_num(x, x->bundles, r, 1, t->sets);
	put_num(x, x->bundles, r, 2, (double)t->barcoded);
	char label[128];
	r += 2;
	snprintf(label, sizeof label, "区分郵便物割引（%ld通以上）", t->sorted_min);
	put_str(x, x->bundles, r, 0, label, NULL);
	put_str(x, x->bundles, r, 1, t->sorted ? "適用可" : "対象外", NULL);
	r++;
	snprintf(label, sizeof label, "バーコード付郵便物割引（バーコード付%ld通以上）", t->barcode_min);
	put_str(x, x->bundles, r, 0, label, NULL);
	put_str(x, x->bundles, r, 1, t->barcode ? "適用可" : "対象外", NULL);
	x->rows[0] = t->sets + 1;
	x->rows[1] = (long)last_bundle + 4; /* header, bundles, 合計, two discount lines */

	char date[RULES_DATE_LEN], era[RULES_ERA_LEN];
	rules_format_date(b->run_date, date);
	if (rules_era(b->run_date, era))
		era[0] = 0;
	r = 1;
	put_str(x, x->info, r, 0, "作成日", NULL);
	put_str(x, x->info, r, 1, date, NULL);
	put_str(x, x->info, r++, 2, era, NULL);
	struct {
		const char *label;
		double v;
	} rows[] = {
		{"バッチ番号", (double)b->id},
		{"通数（合計）", t->sets},
		{"マイナンバーカード", (double)t->card},
		{"電子証明書", (double)t->cert},
		{"電子証明書（再照会）", (double)t->reinquiries},
		{"うち申請書IDなし（オンライン申請不可）", (double)t->no_jlis},
		{"同封物：有効期限通知書", (double)t->pieces[PIECE_NOTICE]},
		{"同封物：個人番号カード交付申請書", (double)t->pieces[PIECE_APPL]},
		{"同封物：照会書兼回答書", (double)t->pieces[PIECE_FORM]},
		{"同封物：封入用封筒", (double)t->pieces[PIECE_INNER]},
		{"同封物：長形3号封筒", (double)t->pieces[PIECE_OUTER]},
		{"カスタマバーコード付", (double)t->barcoded},
	};
	for (size_t i = 0; i < KG_ARRAY_SIZE(rows); i++, r++) {
		put_str(x, x->info, r, 0, rows[i].label, NULL);
		put_num(x, x->info, r, 1, rows[i].v);
	}
	put_str(x, x->info, r, 0, "料金表示", NULL);
	put_str(x, x->info, r++, 1, t->postage, NULL);
	for (size_t i = 0; i < b->n_excluded; i++, r++) {
		snprintf(label, sizeof label, "除外：%s", manifest_reason_label(b->excluded_reasons[i]));
		put_str(x, x->info, r, 0, label, NULL);
		put_num(x, x->info, r, 1, (double)b->excluded_counts[i]);
	}
	r++;
	static const char *const file_heads[] = {"ファイル", "ページ数", "バイト数", "SHA-256"};
	for (size_t c = 0; c < KG_ARRAY_SIZE(file_heads); c++)
		put_str(x, x->info, r, (lxw_col_t)c, file_heads[c], x->head);
	for (size_t i = 0; i < b->n_files; i++) {
		r++;
		put_str(x, x->info, r, 0, b->files[i].name, NULL);
		put_num(x, x->info, r, 1, b->files[i].pages);
		put_num(x, x->info, r, 2, (double)t->sums[i].bytes);
		put_str(x, x->info, r, 3, t->sums[i].hex, NULL);
	}
	x->rows[2] = (long)r; /* rows 0..r but the one left empty before the file table */
}

/* --- reading the workbook back ------------------------------------------------------------------ */

/* libxlsxwriter 1.1.4 does not check its writes to the temporary files of constant-memory mode:
 * on a full disk it can lose rows and still close a "good" workbook once space comes back (seen
 * on a small tmpfs), and its own checks (lxw_error results) report nothing then. So the written
 * file is read back with libzip (which checks the archive's consistency and each part's CRC and
 * size): every part must end with its root element's closing tag, and each sheet must hold the
 * rows written. */

/* Reads one part, counting "<row " and keeping the root element name and the last bytes. */
static enum kg_err check_part(zip_t *za, zip_uint64_t index, const char *path, const char *name, long expect_rows)
{
	char buf[16384 + 8], root[64] = "", tail[80] = "";
	size_t tail_len = 0, carry = 0;
	long rows = 0;
	bool started = false;
	zip_file_t *zf = zip_fopen_index(za, index, 0);
	if (!zf)
		return kg_fail(KG_EIO, "%s: %s: %s", path, name, zip_strerror(za));
	zip_int64_t got;
	/* carry: the last bytes of the previous block, so "<row " split between blocks counts */
	while ((got = zip_fread(zf, buf + carry, sizeof buf - 8 - carry)) > 0) {
		size_t len = carry + (size_t)got;
		if (!started) {
			/* The root element: the first tag that is not <?xml ...?>. */
			const char *p = buf, *end = buf + len;
			while (p < end && (p = memchr(p, '<', (size_t)(end - p))) && p + 1 < end &&
			       (p[1] == '?' || p[1] == '!'))
				p++;
			if (p && p + 1 < end) {
				size_t k = strcspn(p + 1, " />\n");
				snprintf(root, sizeof root, "%.*s", (int)(k < 60 ? k : 60), p + 1);
				started = true;
			}
		}
		for (size_t i = 0; i + 5 <= len; i++)
			if (buf[i] == '<' && !memcmp(buf + i, "<row ", 5))
				rows++;
		/* The tail: the last bytes read so far (buf[carry..len) are the new ones). */
		const size_t tmax = sizeof tail - 1, n = (size_t)got;
		if (n >= tmax) {
			memcpy(tail, buf + len - tmax, tmax);
			tail_len = tmax;
		} else {
			size_t keep = tail_len < tmax - n ? tail_len : tmax - n;
			memmove(tail, tail + tail_len - keep, keep);
			memcpy(tail + keep, buf + carry, n);
			tail_len = keep + n;
		}
		/* The next carry: 4 bytes, one short of "<row ". */
		carry = len < 4 ? len : 4;
		memmove(buf, buf + len - carry, carry);
	}
	/* zip_fread fails on a short part or a CRC that does not match. */
	enum kg_err err = got < 0 ? kg_fail(KG_EIO, "%s: %s: %s (a write failed, is the disk full?)", path, name,
	                                    zip_error_strerror(zip_file_get_error(zf)))
	                          : KG_OK;
	zip_fclose(zf);
	if (err)
		return err;
	tail[tail_len] = 0;
	while (tail_len && (tail[tail_len - 1] == '\n' || tail[tail_len - 1] == '\r' || tail[tail_len - 1] == ' '))
		tail[--tail_len] = 0;
	char closing[72];
	snprintf(closing, sizeof closing, "</%s>", root);
	size_t cl = strlen(closing);
	if (!*root || tail_len < cl || strcmp(tail + tail_len - cl, closing))
		return kg_fail(KG_EIO, "%s: %s is incomplete (a write failed, is the disk full?)", path, name);
	if (expect_rows >= 0 && rows != expect_rows)
		return kg_fail(KG_EIO,
		               "%s: %s holds %ld rows where %ld were written (a write failed, is the disk full?)", path,
		               name, rows, expect_rows);
	return KG_OK;
}

static enum kg_err check_xlsx(const char *path, const char *final_path, const long rows[3])
{
	int zerr = 0;
	zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
	if (!za) {
		zip_error_t e;
		zip_error_init_with_code(&e, zerr);
		enum kg_err err = kg_fail(KG_EIO, "%s: not a complete zip file: %s", final_path,
		                          zip_error_strerror(&e));
		zip_error_fini(&e);
		return err;
	}
	enum kg_err err = KG_OK;
	int sheets = 0;
	zip_int64_t entries = zip_get_num_entries(za, 0);
	for (zip_int64_t i = 0; !err && i < entries; i++) {
		const char *name = zip_get_name(za, (zip_uint64_t)i, 0);
		if (!name) {
			err = kg_fail(KG_EIO, "%s: broken zip entry: %s", final_path, zip_strerror(za));
			break;
		}
		long expect = -1;
		int sheet;
		if (sscanf(name, "xl/worksheets/sheet%d.xml", &sheet) == 1 && sheet >= 1 && sheet <= 3) {
			expect = rows[sheet - 1];
			sheets++;
		}
		err = check_part(za, (zip_uint64_t)i, final_path, name, expect);
	}
	if (!err && sheets != 3)
		err = kg_fail(KG_EIO, "%s: %d of 3 sheets", final_path, sheets);
	zip_discard(za);
	return err;
}

enum kg_err manifest_xlsx_close(struct manifest_xlsx *x, const struct manifest_batch *b,
                                const struct manifest_totals *t)
{
	enum kg_err err;
	finish_sheets(x, b, t);
	if ((err = manifest_xlsx_status(x)))
		return err;
	errno = 0;
	lxw_error e = workbook_close(x->wb);
	x->wb = NULL;
	if (e)
		return kg_fail(KG_EIO, "%s: %s%s%s%s", afile_path(x->file), errno ? strerror(errno) : "",
		               errno ? " (libxlsxwriter: " : "libxlsxwriter: ", lxw_strerror(e), errno ? ")" : "");
	return check_xlsx(afile_temp_path(x->file), afile_path(x->file), x->rows);
}

void manifest_xlsx_free(struct manifest_xlsx *x)
{
	if (!x)
		return;
	if (x->wb)
		lxw_workbook_free(x->wb); /* frees without writing; the temporary goes with the afile */
	free(x);
}
