/*
 * manifest.c: the print shop's hand-off (manifest.xlsx, manifest.csv, job.json, SHA256SUMS).
 *
 * One streaming pass over the sets, range by range, writes the 発送リスト row to the XLSX and
 * the CSV at once and keeps only counters (pieces, bundles, barcodes); the other two sheets are
 * written alongside, each in its own row order as constant-memory mode requires. The print
 * files are hashed before the pass, since バッチ情報 lists them with their SHA-256.
 */
#include "manifest.h"

#include <csv.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xlsxwriter.h>
#include <zlib.h>

#include "afile.h"
#include "rules.h"
#include "banned.h"

#define CHUNK 1024 /* sets per load(): memory is bounded by this, not by the batch */

enum piece { P_NOTICE, P_APPL, P_FORM, P_INNER, P_OUTER, N_PIECES };
static const char *const piece_label[N_PIECES] = {"有効期限通知書", "個人番号カード交付申請書", "照会書兼回答書",
                                                  "封入用封筒", "長形3号封筒"};
static const char *const piece_key[N_PIECES] = {"notice", "application", "form", "inner_envelope", "outer_envelope"};
static const char *const group_key[MAILSET_N_GROUPS] = {"card", "cert", "reinquiry"};

enum file_kind { F_SHEETS, F_INNER, F_OUTER, N_KINDS };
static const char *const kind_prefix[N_KINDS] = {"sheets-", "inner-envelopes-", "outer-envelopes-"};
static const char *const kind_key[N_KINDS] = {"sheets", "inner_envelopes", "outer_envelopes"};

/* The 発送リスト columns (XLSX and CSV alike). */
enum col {
	C_SEQ,
	C_APPID,
	C_JLIS,
	C_POSTAL,
	C_ADDRESS,
	C_NAME,
	C_WHAT,
	C_EXPIRY,
	C_PIECES,
	C_NOTICE_FILE,
	C_NOTICE_PAGE,
	C_APPL_FILE,
	C_APPL_PAGE,
	C_FORM_FILE,
	C_FORM_PAGE,
	C_INNER_FILE,
	C_INNER_PAGE,
	C_OUTER_FILE,
	C_OUTER_PAGE,
	C_BARCODE,
	N_COLS
};
static const struct {
	const char *head;
	double width;
} list_cols[N_COLS] = {
	[C_SEQ] = {"連番", 7},
	[C_APPID] = {"通知番号", 26},
	[C_JLIS] = {"J-LIS申請書ID", 26},
	[C_POSTAL] = {"郵便番号", 10},
	[C_ADDRESS] = {"住所", 56},
	[C_NAME] = {"氏名", 18},
	[C_WHAT] = {"有効期限が到来するもの", 24},
	[C_EXPIRY] = {"有効期限", 12},
	[C_PIECES] = {"同封物", 56},
	[C_NOTICE_FILE] = {"有効期限通知書 ファイル", 24},
	[C_NOTICE_PAGE] = {"有効期限通知書 頁", 9},
	[C_APPL_FILE] = {"交付申請書 ファイル", 24},
	[C_APPL_PAGE] = {"交付申請書 頁", 9},
	[C_FORM_FILE] = {"照会書兼回答書 ファイル", 24},
	[C_FORM_PAGE] = {"照会書兼回答書 頁", 9},
	[C_INNER_FILE] = {"封入用封筒 ファイル", 24},
	[C_INNER_PAGE] = {"封入用封筒 頁", 9},
	[C_OUTER_FILE] = {"長形3号封筒 ファイル", 24},
	[C_OUTER_PAGE] = {"長形3号封筒 頁", 9},
	[C_BARCODE] = {"カスタマバーコード", 40},
};

const char *manifest_reason_label(const char *reason)
{
	static const char *const labels[][2] = {
		{"deceased", "死亡"},
		{"moved_out", "転出"},
		{"card_suspended", "カード一時停止"},
		{"card_revoked", "カード廃止"},
		{"period_of_stay", "在留期間の満了"},
		{"kyosho", "居所の登録あり"},
		{"unprintable_name", "氏名の文字確認待ち"},
		{"returned_mail", "返戻（同じ住所のまま）"},
		{"held", "保留（印刷できない・職員による保留）"},
	};
	for (size_t i = 0; i < KG_ARRAY_SIZE(labels); i++)
		if (!strcmp(labels[i][0], reason))
			return labels[i][1];
	return reason;
}

/* --- hashing --------------------------------------------------------------------------------- */

enum kg_err manifest_hash_file(const char *path, char hex[65], long long *bytes)
{
	enum kg_err err = KG_OK;
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	long long total = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = kg_fail(errno == ENOENT ? KG_ENOTFOUND : KG_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		err = kg_fail(KG_ENOMEM, "%s: SHA-256 unavailable", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		total += n;
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
			err = kg_fail(KG_EIO, "%s: SHA-256 failed", path);
			goto out;
		}
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32) {
		err = kg_fail(KG_EIO, "%s: SHA-256 failed", path);
		goto out;
	}
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	*bytes = total;
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return err;
}

/* --- the pass over the sets ----------------------------------------------------------------- */

/* The files of one kind in seq order, and where the next page goes. */
struct track {
	const struct manifest_file **files;
	size_t n, cur;
	int page; /* pages used so far in files[cur] */
};

struct bundle {
	char prefix[4];
	long sets, barcoded;
	int first, last;
};

struct writer {
	const char *dir;
	const struct manifest_batch *b;
	const struct settings *s;
	int n_sets;
	long sorted_min, barcode_min;
	char (*hex)[65];
	long long *bytes;
	struct track tracks[N_KINDS];

	struct afile *csv, *xlsx;
	lxw_workbook *wb;
	lxw_worksheet *list, *bundles, *info;
	lxw_format *head;
	lxw_error lx; /* the first libxlsxwriter error (sticky) */
	int lx_row;   /* where it happened */

	int next_seq;
	char last_postal[16];
	struct bundle bundle;
	bool in_bundle;
	lxw_row_t bundle_row;
	long card, cert, reinquiries, barcoded, pieces[N_PIECES];
	long no_jlis;                   /* card renewals without J-LIS's 申請書ID: no online application */
	long inserts[MAILSET_N_GROUPS]; /* sets per group, each getting that group's inserts */
	long rows[3];                   /* rows written per sheet, for the read-back check */
};

static void lx(struct writer *w, lxw_error e, int row)
{
	if (e && !w->lx) {
		w->lx = e;
		w->lx_row = row;
	}
}

static void put_str(struct writer *w, lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, const char *s, lxw_format *f)
{
	lx(w, worksheet_write_string(ws, row, col, s, f), (int)row);
}

static void put_num(struct writer *w, lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, double v)
{
	lx(w, worksheet_write_number(ws, row, col, v, NULL), (int)row);
}

static enum kg_err lx_check(struct writer *w)
{
	if (!w->lx)
		return KG_OK;
	return kg_fail(KG_EIO, "%s/manifest.xlsx: row %d: %s", w->dir, w->lx_row + 1, lxw_strerror(w->lx));
}

static enum kg_err track_close(struct track *t, const char *dir)
{
	const struct manifest_file *f = t->files[t->cur];
	if (t->page != f->pages)
		return kg_fail(KG_ESTATE, "%s/%s: %d pages, but sets %d..%d need %d", dir, f->name, f->pages,
		               f->seq_from, f->seq_to, t->page);
	t->cur++;
	t->page = 0;
	return KG_OK;
}

/* Places need pages of set seq in this kind's files: *file and *page of the first of them. */
static enum kg_err track_take(struct track *t, const char *dir, enum file_kind k, int seq, int need, const char **file,
                              int *page)
{
	enum kg_err err;
	while (t->cur < t->n && t->files[t->cur]->seq_to < seq)
		if ((err = track_close(t, dir)))
			return err;
	*file = "";
	*page = 0;
	if (!need)
		return KG_OK;
	if (t->cur == t->n || t->files[t->cur]->seq_from > seq)
		return kg_fail(KG_ESTATE, "no %s*.pdf file holds set %d", kind_prefix[k], seq);
	*file = t->files[t->cur]->name;
	*page = t->page + 1;
	t->page += need;
	return KG_OK;
}

static void bundle_flush(struct writer *w)
{
	if (!w->in_bundle)
		return;
	lxw_row_t r = ++w->bundle_row;
	put_str(w, w->bundles, r, 0, w->bundle.prefix, NULL);
	put_num(w, w->bundles, r, 1, (double)w->bundle.sets);
	put_num(w, w->bundles, r, 2, (double)w->bundle.barcoded);
	put_num(w, w->bundles, r, 3, w->bundle.first);
	put_num(w, w->bundles, r, 4, w->bundle.last);
	w->in_bundle = false;
}

static const char *what_expires(const struct mailset *m)
{
	if (m->kind == MAILSET_REINQUIRY)
		return "電子証明書（再照会）";
	return m->target == MAILSET_CARD ? "マイナンバーカード" : "電子証明書";
}

/* One CSV cell, quoted (libcsv). A text that a spreadsheet would run as a formula (=, +, -, @,
 * or a tab or return first) gets a leading apostrophe: registry text is data, never code, when
 * the print shop opens the file in Excel. Numbers and dates never start so. */
static void csv_cell(FILE *csv, const char *text)
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

static enum kg_err one_set(struct writer *w, const struct mailset *m)
{
	enum kg_err err;
	if (m->seq != w->next_seq)
		return kg_fail(KG_ESTATE, "set %d where set %d was expected (seq must run 1..%d)", m->seq, w->next_seq,
		               w->n_sets);
	w->next_seq++;
	const char *postal = m->postal_code ? m->postal_code : "";
	if (strcmp(postal, w->last_postal) < 0)
		return kg_fail(KG_ESTATE, "set %d (%s) after %s: the sets are not in mailing order", m->seq, postal,
		               w->last_postal);
	snprintf(w->last_postal, sizeof w->last_postal, "%s", postal);

	/* Where each piece is printed. */
	bool has[N_PIECES] = {
		[P_NOTICE] = m->kind == MAILSET_NOTICE,
		[P_APPL] = mailset_has_application(m),
		[P_FORM] = mailset_has_form(m),
		[P_INNER] = mailset_has_form(m),
		[P_OUTER] = true,
	};
	const char *file[N_PIECES];
	int page[N_PIECES];
	if ((err = track_take(&w->tracks[F_SHEETS], w->dir, F_SHEETS, m->seq, mailset_sheets(m), &file[P_NOTICE],
	                      &page[P_NOTICE])) ||
	    (err = track_take(&w->tracks[F_INNER], w->dir, F_INNER, m->seq, has[P_INNER], &file[P_INNER],
	                      &page[P_INNER])) ||
	    (err = track_take(&w->tracks[F_OUTER], w->dir, F_OUTER, m->seq, 1, &file[P_OUTER], &page[P_OUTER])))
		return err;
	/* On the sheets: the notice, then the 交付申請書 or the form; a re-inquiry is the form alone. */
	file[P_APPL] = has[P_APPL] ? file[P_NOTICE] : "";
	page[P_APPL] = has[P_APPL] ? page[P_NOTICE] + 1 : 0;
	file[P_FORM] = has[P_FORM] ? file[P_NOTICE] : "";
	page[P_FORM] = !has[P_FORM] ? 0 : has[P_NOTICE] ? page[P_NOTICE] + 1 : page[P_NOTICE];
	if (!has[P_NOTICE]) {
		file[P_NOTICE] = "";
		page[P_NOTICE] = 0;
	}

	/* Counters. */
	if (m->kind == MAILSET_REINQUIRY)
		w->reinquiries++;
	else if (m->target == MAILSET_CARD)
		w->card++;
	else
		w->cert++;
	bool barcoded = m->barcode && *m->barcode;
	w->barcoded += barcoded;
	w->no_jlis += mailset_lacks_jlis_id(m);
	struct sbuf pieces = SBUF_INIT, addr = SBUF_INIT, code = SBUF_INIT;
	for (int p = 0; p < N_PIECES; p++) {
		if (!has[p])
			continue;
		w->pieces[p]++;
		sbuf_addf(&pieces, "%s%s", pieces.len ? "・" : "", piece_label[p]);
	}
	/* The pre-printed inserts of the set's kind (settings "inserts:"), after the printed pieces. */
	enum mailset_group g = mailset_group(m->kind, m->target);
	w->inserts[g]++;
	for (size_t i = 0; w->s && i < w->s->n_inserts[g]; i++)
		sbuf_addf(&pieces, "・%s", w->s->inserts[g][i]);
	char prefix[4];
	snprintf(prefix, sizeof prefix, "%s", postal);
	if (!w->in_bundle || strcmp(prefix, w->bundle.prefix)) {
		bundle_flush(w);
		w->bundle = (struct bundle){.first = m->seq};
		snprintf(w->bundle.prefix, sizeof w->bundle.prefix, "%s", prefix);
		w->in_bundle = true;
	}
	w->bundle.sets++;
	w->bundle.barcoded += barcoded;
	w->bundle.last = m->seq;

	/* The row. */
	sbuf_addf(&addr, "%s%s", m->addr_town ? m->addr_town : "", m->addr_block ? m->addr_block : "");
	if (m->addr_building && *m->addr_building)
		sbuf_addf(&addr, "　%s", m->addr_building);
	if (barcoded) /* the symbol characters and check, which a person can compare with kigen barcode */
		sbuf_adds(&code, m->barcode_code ? m->barcode_code : m->barcode);
	else if (m->no_barcode_reason && *m->no_barcode_reason)
		sbuf_addf(&code, "なし（%s）", m->no_barcode_reason);
	char expiry[RULES_DATE_LEN], nums[N_COLS][16];
	rules_format_date(m->expiry, expiry);
	const char *text[N_COLS] = {
		[C_APPID] = m->app_id,          [C_POSTAL] = postal,
		[C_JLIS] = m->jlis_app_id,      [C_APPL_FILE] = file[P_APPL],
		[C_ADDRESS] = addr.buf,         [C_NAME] = m->name ? m->name : "",
		[C_WHAT] = what_expires(m),     [C_EXPIRY] = expiry,
		[C_PIECES] = pieces.buf,        [C_NOTICE_FILE] = file[P_NOTICE],
		[C_FORM_FILE] = file[P_FORM],   [C_INNER_FILE] = file[P_INNER],
		[C_OUTER_FILE] = file[P_OUTER], [C_BARCODE] = code.buf,
	};
	int num[N_COLS] = {[C_SEQ] = m->seq,
	                   [C_NOTICE_PAGE] = page[P_NOTICE],
	                   [C_APPL_PAGE] = page[P_APPL],
	                   [C_FORM_PAGE] = page[P_FORM],
	                   [C_INNER_PAGE] = page[P_INNER],
	                   [C_OUTER_PAGE] = page[P_OUTER]};
	bool numeric[N_COLS] = {[C_SEQ] = true,       [C_NOTICE_PAGE] = true, [C_APPL_PAGE] = true,
	                        [C_FORM_PAGE] = true, [C_INNER_PAGE] = true,  [C_OUTER_PAGE] = true};
	FILE *csv = afile_stream(w->csv);
	lxw_row_t row = (lxw_row_t)m->seq;
	for (int c = 0; c < N_COLS; c++) {
		if (numeric[c]) {
			/* A piece the set does not have is an empty cell, not page 0. */
			nums[c][0] = 0;
			if (num[c])
				snprintf(nums[c], sizeof nums[c], "%d", num[c]);
			text[c] = nums[c];
			if (num[c])
				put_num(w, w->list, row, (lxw_col_t)c, num[c]);
		} else if (*text[c]) {
			put_str(w, w->list, row, (lxw_col_t)c, text[c], NULL);
		}
		if (c)
			fputc(',', csv);
		csv_cell(csv, text[c]);
	}
	fputs("\r\n", csv);
	err = sbuf_check(&pieces);
	if (!err)
		err = sbuf_check(&addr);
	if (!err)
		err = sbuf_check(&code);
	sbuf_release(&pieces);
	sbuf_release(&addr);
	sbuf_release(&code);
	return err;
}

static int by_seq_from(const void *a, const void *b)
{
	const struct manifest_file *x = *(const struct manifest_file *const *)a;
	const struct manifest_file *y = *(const struct manifest_file *const *)b;
	return (x->seq_from > y->seq_from) - (x->seq_from < y->seq_from);
}

/* Checks the file list, sorts each kind by seq and hashes every file. */
static enum kg_err prepare_files(struct writer *w)
{
	const struct manifest_batch *b = w->b;
	enum kg_err err = KG_OK;
	for (int k = 0; k < N_KINDS; k++)
		w->tracks[k].files = kg_calloc(b->n_files + 1, sizeof *w->tracks[k].files);
	w->hex = kg_calloc(b->n_files + 1, sizeof *w->hex);
	w->bytes = kg_calloc(b->n_files + 1, sizeof *w->bytes);
	for (size_t i = 0; i < b->n_files; i++) {
		const struct manifest_file *f = &b->files[i];
		if (!memchr(f->name, 0, sizeof f->name) || !*f->name || f->name[0] == '.' || strchr(f->name, '/'))
			return kg_fail(KG_EINPUT, "manifest: bad file name in the file list");
		int k = 0;
		while (k < N_KINDS && strncmp(f->name, kind_prefix[k], strlen(kind_prefix[k])))
			k++;
		if (k == N_KINDS)
			return kg_fail(KG_EINPUT,
			               "manifest: %s: not a print file (sheets-, inner-envelopes-, outer-envelopes-)",
			               f->name);
		if (f->seq_from < 1 || f->seq_to < f->seq_from || f->seq_to > w->n_sets || f->pages < 0)
			return kg_fail(KG_EINPUT, "manifest: %s: seq %d..%d, %d pages: outside the batch's %d sets",
			               f->name, f->seq_from, f->seq_to, f->pages, w->n_sets);
		w->tracks[k].files[w->tracks[k].n++] = f;
		struct sbuf p = SBUF_INIT;
		sbuf_addf(&p, "%s/%s", w->dir, f->name);
		if (!(err = sbuf_check(&p)))
			err = manifest_hash_file(p.buf, w->hex[i], &w->bytes[i]);
		sbuf_release(&p);
		if (err)
			return err;
	}
	for (int k = 0; k < N_KINDS; k++) {
		struct track *t = &w->tracks[k];
		qsort(t->files, t->n, sizeof *t->files, by_seq_from);
		for (size_t i = 1; i < t->n; i++)
			if (t->files[i]->seq_from <= t->files[i - 1]->seq_to)
				return kg_fail(KG_EINPUT, "manifest: %s and %s hold the same sets",
				               t->files[i - 1]->name, t->files[i]->name);
	}
	return KG_OK;
}

static enum kg_err open_workbook(struct writer *w)
{
	lxw_workbook_options o = {.constant_memory = LXW_TRUE, .tmpdir = (char *)w->dir};
	w->wb = workbook_new_opt(afile_temp_path(w->xlsx), &o);
	if (!w->wb)
		return kg_fail(KG_ENOMEM, "%s/manifest.xlsx: cannot start a workbook", w->dir);
	/* The document date is the batch date (00:00 in Japan), never the clock: same input, same bytes. */
	lxw_doc_properties p = {
		.title = "有効期限通知 発送リスト",
		.subject = "マイナンバーカード・電子証明書の有効期限通知",
		.author = "kigen",
		.created = (time_t)w->b->run_date * 86400 - 9 * 3600,
	};
	lx(w, workbook_set_properties(w->wb, &p), 0);
	w->head = workbook_add_format(w->wb);
	w->list = workbook_add_worksheet(w->wb, "発送リスト");
	w->bundles = workbook_add_worksheet(w->wb, "区分集計");
	w->info = workbook_add_worksheet(w->wb, "バッチ情報");
	if (!w->head || !w->list || !w->bundles || !w->info)
		return kg_fail(KG_ENOMEM, "%s/manifest.xlsx: cannot add a sheet", w->dir);
	format_set_bold(w->head);
	format_set_bg_color(w->head, 0xDDEBF7);
	format_set_bottom(w->head, LXW_BORDER_THIN);

	for (int c = 0; c < N_COLS; c++) {
		lx(w, worksheet_set_column(w->list, (lxw_col_t)c, (lxw_col_t)c, list_cols[c].width, NULL), 0);
		put_str(w, w->list, 0, (lxw_col_t)c, list_cols[c].head, w->head);
	}
	worksheet_freeze_panes(w->list, 1, 0);

	static const char *const bundle_heads[] = {"郵便区番号", "通数", "うちバーコード付", "先頭連番", "末尾連番"};
	for (size_t c = 0; c < KG_ARRAY_SIZE(bundle_heads); c++) {
		lx(w, worksheet_set_column(w->bundles, (lxw_col_t)c, (lxw_col_t)c, c ? 16 : 12, NULL), 0);
		put_str(w, w->bundles, 0, (lxw_col_t)c, bundle_heads[c], w->head);
	}
	worksheet_freeze_panes(w->bundles, 1, 0);

	lx(w, worksheet_set_column(w->info, 0, 0, 34, NULL), 0);
	lx(w, worksheet_set_column(w->info, 1, 2, 16, NULL), 0);
	lx(w, worksheet_set_column(w->info, 3, 3, 70, NULL), 0);
	put_str(w, w->info, 0, 0, "項目", w->head);
	put_str(w, w->info, 0, 1, "値", w->head);
	worksheet_freeze_panes(w->info, 1, 0);
	return lx_check(w);
}

/* 区分集計's closing rows and バッチ情報, once the pass has counted everything. */
static void finish_sheets(struct writer *w)
{
	bundle_flush(w);
	lxw_row_t last_bundle = w->bundle_row;
	lx(w, worksheet_autofilter(w->list, 0, 0, (lxw_row_t)w->n_sets, N_COLS - 1), 0);
	lx(w, worksheet_autofilter(w->bundles, 0, 0, last_bundle, 4), 0);

	lxw_row_t r = last_bundle + 2;
	put_str(w, w->bundles, r, 0, "合計", w->head);
	put_num(w, w->bundles, r, 1, w->n_sets);
	put_num(w, w->bundles, r, 2, (double)w->barcoded);
	char label[128];
	r += 2;
	snprintf(label, sizeof label, "区分郵便物割引（%ld通以上）", w->sorted_min);
	put_str(w, w->bundles, r, 0, label, NULL);
	put_str(w, w->bundles, r, 1, w->n_sets >= w->sorted_min ? "適用可" : "対象外", NULL);
	r++;
	snprintf(label, sizeof label, "バーコード付郵便物割引（バーコード付%ld通以上）", w->barcode_min);
	put_str(w, w->bundles, r, 0, label, NULL);
	put_str(w, w->bundles, r, 1, w->barcoded >= w->barcode_min ? "適用可" : "対象外", NULL);
	w->rows[0] = w->n_sets + 1;
	w->rows[1] = (long)last_bundle + 4; /* header, bundles, 合計, two discount lines */

	const struct manifest_batch *b = w->b;
	char date[RULES_DATE_LEN], era[RULES_ERA_LEN];
	rules_format_date(b->run_date, date);
	if (rules_era(b->run_date, era))
		era[0] = 0;
	r = 1;
	put_str(w, w->info, r, 0, "作成日", NULL);
	put_str(w, w->info, r, 1, date, NULL);
	put_str(w, w->info, r++, 2, era, NULL);
	struct {
		const char *label;
		double v;
	} rows[] = {
		{"バッチ番号", (double)b->id},
		{"通数（合計）", w->n_sets},
		{"マイナンバーカード", (double)w->card},
		{"電子証明書", (double)w->cert},
		{"電子証明書（再照会）", (double)w->reinquiries},
		{"うち申請書IDなし（オンライン申請不可）", (double)w->no_jlis},
		{"同封物：有効期限通知書", (double)w->pieces[P_NOTICE]},
		{"同封物：個人番号カード交付申請書", (double)w->pieces[P_APPL]},
		{"同封物：照会書兼回答書", (double)w->pieces[P_FORM]},
		{"同封物：封入用封筒", (double)w->pieces[P_INNER]},
		{"同封物：長形3号封筒", (double)w->pieces[P_OUTER]},
		{"カスタマバーコード付", (double)w->barcoded},
	};
	for (size_t i = 0; i < KG_ARRAY_SIZE(rows); i++, r++) {
		put_str(w, w->info, r, 0, rows[i].label, NULL);
		put_num(w, w->info, r, 1, rows[i].v);
	}
	for (size_t i = 0; i < b->n_excluded; i++, r++) {
		snprintf(label, sizeof label, "除外：%s", manifest_reason_label(b->excluded_reasons[i]));
		put_str(w, w->info, r, 0, label, NULL);
		put_num(w, w->info, r, 1, (double)b->excluded_counts[i]);
	}
	r++;
	static const char *const file_heads[] = {"ファイル", "ページ数", "バイト数", "SHA-256"};
	for (size_t c = 0; c < KG_ARRAY_SIZE(file_heads); c++)
		put_str(w, w->info, r, (lxw_col_t)c, file_heads[c], w->head);
	for (size_t i = 0; i < b->n_files; i++) {
		r++;
		put_str(w, w->info, r, 0, b->files[i].name, NULL);
		put_num(w, w->info, r, 1, b->files[i].pages);
		put_num(w, w->info, r, 2, (double)w->bytes[i]);
		put_str(w, w->info, r, 3, w->hex[i], NULL);
	}
	w->rows[2] = (long)r; /* rows 0..r but the one left empty before the file table */
}

static void job_json(struct writer *w, struct sbuf *j)
{
	const struct manifest_batch *b = w->b;
	char date[RULES_DATE_LEN];
	rules_format_date(b->run_date, date);
	sbuf_addf(j, "{\n  \"batch\": %lld,\n  \"run_date\": \"%s\",\n  \"sets\": %d,\n", (long long)b->id, date,
	          w->n_sets);
	sbuf_addf(j,
	          "  \"counts\": {\"card\": %ld, \"cert\": %ld, \"reinquiry\": %ld, \"card_without_jlis_id\": %ld},\n",
	          w->card, w->cert, w->reinquiries, w->no_jlis);
	sbuf_adds(j, "  \"pieces\": {");
	for (int p = 0; p < N_PIECES; p++)
		sbuf_addf(j, "%s\"%s\": %ld", p ? ", " : "", piece_key[p], w->pieces[p]);
	/* The pre-printed inserts each kind of set gets, and how many of each the print shop needs. */
	sbuf_adds(j, "},\n  \"inserts\": {");
	for (int g = 0; g < MAILSET_N_GROUPS; g++) {
		sbuf_addf(j, "%s\"%s\": {\"sets\": %ld, \"names\": [", g ? ", " : "", group_key[g], w->inserts[g]);
		for (size_t i = 0; w->s && i < w->s->n_inserts[g]; i++) {
			sbuf_adds(j, i ? ", " : "");
			sbuf_add_json(j, w->s->inserts[g][i]);
		}
		sbuf_adds(j, "]}");
	}
	sbuf_adds(j, "},\n  \"excluded\": {");
	for (size_t i = 0; i < b->n_excluded; i++) {
		sbuf_adds(j, i ? ", " : "");
		sbuf_add_json(j, b->excluded_reasons[i]);
		sbuf_addf(j, ": %ld", b->excluded_counts[i]);
	}
	sbuf_addf(j, "},\n  \"barcoded\": %ld,\n", w->barcoded);
	sbuf_addf(j, "  \"discounts\": {\"sorted\": %s, \"sorted_min\": %ld, \"barcode\": %s, \"barcode_min\": %ld},\n",
	          w->n_sets >= w->sorted_min ? "true" : "false", w->sorted_min,
	          w->barcoded >= w->barcode_min ? "true" : "false", w->barcode_min);
	sbuf_adds(j, "  \"files\": [");
	for (size_t i = 0; i < b->n_files; i++) {
		const struct manifest_file *f = &b->files[i];
		int k = 0;
		while (k < N_KINDS - 1 && strncmp(f->name, kind_prefix[k], strlen(kind_prefix[k])))
			k++;
		sbuf_adds(j, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
		sbuf_add_json(j, f->name);
		sbuf_addf(j,
		          ", \"kind\": \"%s\", \"seq_from\": %d, \"seq_to\": %d, \"pages\": %d, \"bytes\": %lld, "
		          "\"sha256\": \"%s\"}",
		          kind_key[k], f->seq_from, f->seq_to, f->pages, w->bytes[i], w->hex[i]);
	}
	sbuf_adds(j, b->n_files ? "\n  ],\n" : "],\n");
	sbuf_adds(j, "  \"manifests\": [\"manifest.xlsx\", \"manifest.csv\"]\n}\n");
}

static enum kg_err write_text(const char *dir, const char *name, const struct sbuf *text)
{
	struct afile *f;
	enum kg_err err = sbuf_check(text);
	if (err || (err = afile_open(dir, name, &f)))
		return err;
	fwrite(text->buf, 1, text->len, afile_stream(f));
	return afile_commit(f);
}

/* --- reading the workbook back ------------------------------------------------------------------ */

/* libxlsxwriter 1.1.4 does not check its writes to the temporary files of constant-memory mode:
 * on a full disk it can lose rows and still close a "good" workbook once space comes back (seen
 * on a small tmpfs). So the written file is read back: every part must inflate to its recorded
 * size and end with its root element's closing tag, and each sheet must hold the rows written. */

static uint32_t le16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
	return le16(p) | le16(p + 2) << 16;
}

static bool read_at(int fd, void *buf, size_t n, off_t at)
{
	return pread(fd, buf, n, at) == (ssize_t)n;
}

/* Inflates one part, counting "<row " and keeping the root element name and the last bytes. */
static enum kg_err check_part(int fd, const char *path, const char *name, off_t data, uint32_t csize, uint32_t usize,
                              int method, long expect_rows)
{
	unsigned char in[16384], out[16384 + 8];
	char root[64] = "", tail[80] = "";
	size_t tail_len = 0, carry = 0;
	unsigned long total = 0;
	long rows = 0;
	bool started = false;
	z_stream z = {0};
	int zrc = Z_OK;
	if (method != 0 && method != 8)
		return kg_fail(KG_EIO, "%s: %s: unknown zip method %d", path, name, method);
	if (method == 8 && inflateInit2(&z, -MAX_WBITS) != Z_OK)
		return kg_fail(KG_ENOMEM, "%s: zlib", path);
	enum kg_err err = KG_OK;
	uint32_t left = csize;
	while (!err && (left || (method == 8 && zrc != Z_STREAM_END && z.avail_in))) {
		size_t n = left < sizeof in ? left : sizeof in;
		if (n && !read_at(fd, in, n, data + (off_t)(csize - left))) {
			err = kg_fail(KG_EIO, "%s: %s: short read", path, name);
			break;
		}
		left -= (uint32_t)n;
		z.next_in = in;
		z.avail_in = (uInt)n;
		do {
			size_t got;
			/* carry: the last bytes of the previous block, so "<row " split between blocks counts */
			if (method == 0) {
				memcpy(out + carry, in, n);
				got = n;
				z.avail_in = 0;
			} else {
				z.next_out = out + carry;
				z.avail_out = sizeof out - 8 - carry;
				zrc = inflate(&z, Z_NO_FLUSH);
				if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
					err = kg_fail(KG_EIO, "%s: %s: broken deflate data", path, name);
					break;
				}
				got = sizeof out - 8 - carry - z.avail_out;
			}
			total += got;
			size_t len = carry + got;
			if (!started && len) {
				/* The root element: the first tag that is not <?xml ...?>. */
				const char *p = (const char *)out;
				const char *end = p + len;
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
				if (out[i] == '<' && !memcmp(out + i, "<row ", 5))
					rows++;
			/* The tail: the last bytes inflated so far (out[carry..len) are the new ones). */
			const size_t tmax = sizeof tail - 1;
			if (got >= tmax) {
				memcpy(tail, out + len - tmax, tmax);
				tail_len = tmax;
			} else {
				size_t keep = tail_len < tmax - got ? tail_len : tmax - got;
				memmove(tail, tail + tail_len - keep, keep);
				memcpy(tail + keep, out + carry, got);
				tail_len = keep + got;
			}
			/* The next carry: 4 bytes, one short of "<row ". */
			carry = len < 4 ? len : 4;
			memmove(out, out + len - carry, carry);
		} while (!err && method == 8 && zrc != Z_STREAM_END && (z.avail_in || z.avail_out == 0));
		if (method == 8 && zrc == Z_STREAM_END)
			break;
	}
	if (method == 8)
		inflateEnd(&z);
	if (err)
		return err;
	tail[tail_len] = 0;
	while (tail_len && (tail[tail_len - 1] == '\n' || tail[tail_len - 1] == '\r' || tail[tail_len - 1] == ' '))
		tail[--tail_len] = 0;
	char closing[72];
	snprintf(closing, sizeof closing, "</%s>", root);
	size_t cl = strlen(closing);
	if ((method == 8 && zrc != Z_STREAM_END) || total != usize || !*root || tail_len < cl ||
	    strcmp(tail + tail_len - cl, closing))
		return kg_fail(KG_EIO, "%s: %s is incomplete (a write failed, is the disk full?)", path, name);
	if (expect_rows >= 0 && rows != expect_rows)
		return kg_fail(KG_EIO,
		               "%s: %s holds %ld rows where %ld were written (a write failed, is the disk full?)", path,
		               name, rows, expect_rows);
	return KG_OK;
}

static enum kg_err check_xlsx(const char *path, const char *final_path, const long rows[3])
{
	unsigned char eocd[22], cd[46];
	char name[256];
	struct stat st;
	enum kg_err err = KG_OK;
	int sheets = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kg_fail(KG_EIO, "%s: %s", final_path, strerror(errno));
	/* libxlsxwriter writes no zip comment: the end record is the last 22 bytes. */
	if (fstat(fd, &st) || st.st_size < 22 || !read_at(fd, eocd, 22, st.st_size - 22) || le32(eocd) != 0x06054b50) {
		err = kg_fail(KG_EIO, "%s: not a complete zip file", final_path);
		goto out;
	}
	uint32_t entries = le16(eocd + 10);
	off_t at = le32(eocd + 16);
	for (uint32_t i = 0; !err && i < entries; i++) {
		if (!read_at(fd, cd, sizeof cd, at) || le32(cd) != 0x02014b50) {
			err = kg_fail(KG_EIO, "%s: broken zip directory", final_path);
			break;
		}
		uint32_t nlen = le16(cd + 28), xlen = le16(cd + 30), clen = le16(cd + 32);
		uint32_t local = le32(cd + 42);
		unsigned char lh[30];
		if (nlen >= sizeof name || !read_at(fd, name, nlen, at + 46) || !read_at(fd, lh, 30, local) ||
		    le32(lh) != 0x04034b50) {
			err = kg_fail(KG_EIO, "%s: broken zip entry", final_path);
			break;
		}
		name[nlen] = 0;
		long expect = -1;
		int sheet;
		if (sscanf(name, "xl/worksheets/sheet%d.xml", &sheet) == 1 && sheet >= 1 && sheet <= 3) {
			expect = rows[sheet - 1];
			sheets++;
		}
		err = check_part(fd, final_path, name, (off_t)local + 30 + le16(lh + 26) + le16(lh + 28), le32(cd + 20),
		                 le32(cd + 24), (int)le16(cd + 10), expect);
		at += 46 + nlen + xlen + clen;
	}
	if (!err && sheets != 3)
		err = kg_fail(KG_EIO, "%s: %d of 3 sheets", final_path, sheets);
out:
	close(fd);
	return err;
}

enum kg_err manifest_write(const char *dir, const struct settings *s, const struct manifest_batch *b,
                           const struct manifest_source *src)
{
	struct writer w = {.dir = dir, .b = b, .s = s, .n_sets = src->n_sets, .next_seq = 1};
	struct sbuf json = SBUF_INIT;
	enum kg_err err;
	const struct conf_node *root = conf_root(s->conf);
	if ((err = conf_get_int(root, "postal_discounts.sorted_min", 2000, &w.sorted_min)) ||
	    (err = conf_get_int(root, "postal_discounts.barcode_min", 1000, &w.barcode_min)))
		goto out;
	if (src->n_sets < 0 || w.sorted_min < 0 || w.barcode_min < 0) {
		err = kg_fail(KG_EINPUT, "manifest: negative set count or discount threshold");
		goto out;
	}
	/* From here until the seal the folder is incomplete, and says so by having no SHA256SUMS. */
	if ((err = afile_remove(dir, "SHA256SUMS")) || (err = prepare_files(&w)) ||
	    (err = afile_open(dir, "manifest.csv", &w.csv)) || (err = afile_open(dir, "manifest.xlsx", &w.xlsx)) ||
	    (err = open_workbook(&w)))
		goto out;

	FILE *csv = afile_stream(w.csv);
	fputs("\xEF\xBB\xBF", csv);
	for (int c = 0; c < N_COLS; c++) {
		if (c)
			fputc(',', csv);
		csv_fwrite(csv, list_cols[c].head, strlen(list_cols[c].head));
	}
	fputs("\r\n", csv);

	for (int from = 1; from <= src->n_sets; from += CHUNK) {
		int to = from + CHUNK - 1 < src->n_sets ? from + CHUNK - 1 : src->n_sets;
		struct mailset *sets = NULL;
		size_t n = 0;
		if ((err = src->load(src->ctx, from, to, &sets, &n)))
			goto out;
		for (size_t i = 0; !err && i < n; i++)
			err = one_set(&w, &sets[i]);
		src->release(src->ctx, sets, n);
		if (err || (err = lx_check(&w)))
			goto out;
		if (w.next_seq != to + 1) {
			err = kg_fail(KG_ESTATE, "manifest: set %d is missing", w.next_seq);
			goto out;
		}
	}
	for (int k = 0; k < N_KINDS; k++)
		while (w.tracks[k].cur < w.tracks[k].n)
			if ((err = track_close(&w.tracks[k], dir)))
				goto out;
	finish_sheets(&w);
	if ((err = lx_check(&w)))
		goto out;
	errno = 0;
	lxw_error e = workbook_close(w.wb);
	w.wb = NULL;
	if (e) {
		err = kg_fail(KG_EIO, "%s: %s%s%s%s", afile_path(w.xlsx), errno ? strerror(errno) : "",
		              errno ? " (libxlsxwriter: " : "libxlsxwriter: ", lxw_strerror(e), errno ? ")" : "");
		goto out;
	}
	if ((err = check_xlsx(afile_temp_path(w.xlsx), afile_path(w.xlsx), w.rows)))
		goto out;
	err = afile_commit(w.csv);
	w.csv = NULL;
	if (err)
		goto out;
	err = afile_commit(w.xlsx);
	w.xlsx = NULL;
	if (err)
		goto out;
	job_json(&w, &json);
	if ((err = write_text(dir, "job.json", &json)))
		goto out;
	err = manifest_seal(dir);
out:
	if (w.wb)
		lxw_workbook_free(w.wb); /* frees without writing; the temporary goes with the afile */
	afile_abort(w.csv);
	afile_abort(w.xlsx);
	for (int k = 0; k < N_KINDS; k++)
		free(w.tracks[k].files);
	free(w.hex);
	free(w.bytes);
	sbuf_release(&json);
	return err;
}

/* --- SHA256SUMS -------------------------------------------------------------------------------- */

struct names {
	char **v;
	size_t n, alloc;
};

static void names_add(struct names *l, char *s)
{
	KG_GROW(l->v, l->n + 1, l->alloc);
	l->v[l->n++] = s;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct names){0};
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file under dir/rel, as paths relative to dir; dot names and SHA256SUMS skipped. */
static enum kg_err list_files(const char *dir, const char *rel, struct names *out)
{
	struct sbuf p = SBUF_INIT;
	sbuf_addf(&p, "%s%s%s", dir, *rel ? "/" : "", rel);
	enum kg_err err = sbuf_check(&p);
	DIR *d = err ? NULL : opendir(p.buf);
	if (!err && !d)
		err = kg_fail(KG_EIO, "%s: %s", p.buf, strerror(errno));
	struct dirent *e;
	while (!err && (errno = 0, e = readdir(d))) {
		if (e->d_name[0] == '.' || (!*rel && !strcmp(e->d_name, "SHA256SUMS")))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			err = kg_fail(KG_EIO, "%s/%s: %s", p.buf, e->d_name, strerror(errno));
			break;
		}
		struct sbuf r = SBUF_INIT;
		sbuf_addf(&r, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		if ((err = sbuf_check(&r))) {
			sbuf_release(&r);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			err = list_files(dir, r.buf, out);
			sbuf_release(&r);
		} else if (S_ISREG(st.st_mode)) {
			names_add(out, sbuf_detach(&r));
		} else {
			sbuf_release(&r);
		}
	}
	if (!err && d && errno)
		err = kg_fail(KG_EIO, "%s: %s", p.buf, strerror(errno));
	if (d)
		closedir(d);
	sbuf_release(&p);
	return err;
}

enum kg_err manifest_list_files(const char *dir, char ***names, size_t *n)
{
	struct names l = {0};
	enum kg_err err = list_files(dir, "", &l);
	if (err) {
		names_free(&l);
		return err;
	}
	qsort(l.v, l.n, sizeof *l.v, by_name);
	*names = l.v;
	*n = l.n;
	return KG_OK;
}

enum kg_err manifest_seal(const char *dir)
{
	struct names files = {0};
	struct sbuf sums = SBUF_INIT, path = SBUF_INIT;
	enum kg_err err = list_files(dir, "", &files);
	if (err)
		goto out;
	qsort(files.v, files.n, sizeof *files.v, by_name);
	for (size_t i = 0; !err && i < files.n; i++) {
		char hex[65];
		long long bytes;
		sbuf_reset(&path);
		sbuf_addf(&path, "%s/%s", dir, files.v[i]);
		if (!(err = sbuf_check(&path)) && !(err = manifest_hash_file(path.buf, hex, &bytes)))
			sbuf_addf(&sums, "%s  %s\n", hex, files.v[i]);
	}
	if (!err)
		err = write_text(dir, "SHA256SUMS", &sums);
out:
	names_free(&files);
	sbuf_release(&sums);
	sbuf_release(&path);
	return err;
}

/* A listed path must stay inside the batch folder. */
static bool safe_path(const char *p)
{
	if (!*p || *p == '/')
		return false;
	for (const char *s = p; s; s = strchr(s, '/')) {
		if (*s == '/')
			s++;
		if (!strncmp(s, "..", 2) && (s[2] == '/' || !s[2]))
			return false;
	}
	return true;
}

enum kg_err manifest_verify(const char *dir, struct sbuf *report, bool *ok)
{
	struct names listed = {0}, present = {0};
	struct sbuf path = SBUF_INIT;
	char *line = NULL;
	size_t cap = 0;
	long good = 0, bad = 0;
	enum kg_err err = KG_OK;
	*ok = false;
	sbuf_addf(&path, "%s/SHA256SUMS", dir);
	FILE *f = (err = sbuf_check(&path)) ? NULL : fopen(path.buf, "r");
	if (!err && !f) {
		if (errno != ENOENT)
			err = kg_fail(KG_EIO, "%s: %s", path.buf, strerror(errno));
		else
			sbuf_adds(report, "SHA256SUMS がありません: このバッチは未完成です\n");
		goto out;
	}
	for (int lineno = 1; !err && getline(&line, &cap, f) > 0; lineno++) {
		line[strcspn(line, "\n")] = 0;
		char *name = line + 66;
		if (strlen(line) < 67 || strspn(line, "0123456789abcdef") != 64 || line[64] != ' ' ||
		    (line[65] != ' ' && line[65] != '*') || !safe_path(name)) {
			sbuf_addf(report, "SHA256SUMS %d 行目: 読めない行です\n", lineno);
			bad++;
			continue;
		}
		line[64] = 0;
		char hex[65];
		long long bytes;
		sbuf_reset(&path);
		sbuf_addf(&path, "%s/%s", dir, name);
		if ((err = sbuf_check(&path)))
			break;
		names_add(&listed, kg_strdup(name));
		enum kg_err e = manifest_hash_file(path.buf, hex, &bytes);
		if (e == KG_ENOTFOUND) {
			sbuf_addf(report, "%s: ファイルがありません\n", name);
			bad++;
		} else if (e) {
			err = e;
		} else if (strcmp(hex, line)) {
			sbuf_addf(report, "%s: SHA-256 が一致しません\n", name);
			bad++;
		} else {
			good++;
		}
	}
	if (!err && ferror(f))
		err = kg_fail(KG_EIO, "%s/SHA256SUMS: %s", dir, strerror(errno));
	if (err || (err = list_files(dir, "", &present)))
		goto out;
	qsort(listed.v, listed.n, sizeof *listed.v, by_name);
	for (size_t i = 0; i < present.n; i++)
		if (!bsearch(&present.v[i], listed.v, listed.n, sizeof *listed.v, by_name)) {
			sbuf_addf(report, "%s: SHA256SUMS に載っていません\n", present.v[i]);
			bad++;
		}
	sbuf_addf(report, "%ld 件一致、%ld 件の問題\n", good, bad);
	*ok = bad == 0;
out:
	if (f)
		fclose(f);
	free(line);
	names_free(&listed);
	names_free(&present);
	sbuf_release(&path);
	if (!err)
		err = sbuf_check(report);
	return err;
}
