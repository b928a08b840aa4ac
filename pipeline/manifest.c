/*
 * manifest.c: the print shop's hand-off (manifest.h): the one pass over the sets.
 *
 * The pass goes range by range through the sets, works out where each piece is printed (file
 * and page), builds the set's 発送リスト row and hands it to the workbook (manifest_xlsx.h) and
 * the CSV (manifest_csv.h) at once, and keeps only counters (manifest_facts.h). The counts then
 * go to the workbook's summary sheets and to job.json (jobticket.h), and SHA256SUMS
 * (manifest_sums.h) seals the folder. The print files are hashed before the pass, since
 * バッチ情報 and job.json list them with their SHA-256.
 */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "jobticket.h"
#include "manifest_csv.h"
#include "manifest_facts.h"
#include "manifest_xlsx.h"
#include "rules.h"
#include "banned.h"

#define CHUNK 1024 /* sets per load(): memory is bounded by this, not by the batch */

static const char *const piece_label[N_PIECES] = {"有効期限通知書", "個人番号カード交付申請書", "照会書兼回答書",
                                                  "封入用封筒", "長形3号封筒"};
static const char *const kind_prefix[N_KINDS] = {"sheets-", "inner-envelopes-", "outer-envelopes-"};

const struct manifest_col_head manifest_cols[N_COLS] = {
	[COL_SEQ] = {"連番", 7},
	[COL_APPID] = {"通知番号", 26},
	[COL_JLIS] = {"J-LIS申請書ID", 26},
	[COL_POSTAL] = {"郵便番号", 10},
	[COL_ADDRESS] = {"住所", 56},
	[COL_NAME] = {"氏名", 18},
	[COL_WHAT] = {"有効期限が到来するもの", 24},
	[COL_EXPIRY] = {"有効期限", 12},
	[COL_PIECES] = {"同封物", 56},
	[COL_NOTICE_FILE] = {"有効期限通知書 ファイル", 24},
	[COL_NOTICE_PAGE] = {"有効期限通知書 頁", 9},
	[COL_APPL_FILE] = {"交付申請書 ファイル", 24},
	[COL_APPL_PAGE] = {"交付申請書 頁", 9},
	[COL_FORM_FILE] = {"照会書兼回答書 ファイル", 24},
	[COL_FORM_PAGE] = {"照会書兼回答書 頁", 9},
	[COL_INNER_FILE] = {"封入用封筒 ファイル", 24},
	[COL_INNER_PAGE] = {"封入用封筒 頁", 9},
	[COL_OUTER_FILE] = {"長形3号封筒 ファイル", 24},
	[COL_OUTER_PAGE] = {"長形3号封筒 頁", 9},
	[COL_BARCODE] = {"カスタマバーコード", 40},
	[COL_SHEETS] = {"A4枚数", 8},
	[COL_CODES] = {"照合コード（封入順）", 72},
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

/* --- the pass over the sets ----------------------------------------------------------------- */

/* The files of one kind in seq order, and where the next page goes. */
struct track {
	const struct manifest_file **files;
	size_t n, cur;
	int page; /* pages used so far in files[cur] */
};

struct writer {
	const char *dir;
	const struct manifest_batch *b;
	const struct settings *s;
	struct track tracks[N_KINDS];
	struct manifest_sum *sums;
	struct manifest_totals t;

	FILE *csv;
	struct manifest_xlsx *xlsx;
	int next_seq;
	char last_postal[16];
};

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
static enum kg_err track_take(struct track *t, const char *dir, enum manifest_kind k, int seq, int need,
                              const char **file, int *page)
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

static const char *what_expires(const struct mailset *m)
{
	if (m->kind == MAILSET_REINQUIRY)
		return "電子証明書（再照会）";
	return m->target == MAILSET_CARD ? "マイナンバーカード" : "電子証明書";
}

static enum kg_err one_set(struct writer *w, const struct mailset *m)
{
	struct manifest_totals *t = &w->t;
	enum kg_err err;
	if (m->seq != w->next_seq)
		return kg_fail(KG_ESTATE, "set %d where set %d was expected (seq must run 1..%d)", m->seq, w->next_seq,
		               t->sets);
	w->next_seq++;
	const char *postal = m->postal_code ? m->postal_code : "";
	if (strcmp(postal, w->last_postal) < 0)
		return kg_fail(KG_ESTATE, "set %d (%s) after %s: the sets are not in mailing order", m->seq, postal,
		               w->last_postal);
	snprintf(w->last_postal, sizeof w->last_postal, "%s", postal);

	/* Where each piece is printed. */
	bool has[N_PIECES] = {
		[PIECE_NOTICE] = m->kind == MAILSET_NOTICE,
		[PIECE_APPL] = mailset_has_application(m),
		[PIECE_FORM] = mailset_has_form(m),
		[PIECE_INNER] = mailset_has_form(m),
		[PIECE_OUTER] = true,
	};
	const char *file[N_PIECES];
	int page[N_PIECES];
	if ((err = track_take(&w->tracks[KIND_SHEETS], w->dir, KIND_SHEETS, m->seq, mailset_sheets(m),
	                      &file[PIECE_NOTICE], &page[PIECE_NOTICE])) ||
	    (err = track_take(&w->tracks[KIND_INNER], w->dir, KIND_INNER, m->seq, has[PIECE_INNER], &file[PIECE_INNER],
	                      &page[PIECE_INNER])) ||
	    (err = track_take(&w->tracks[KIND_OUTER], w->dir, KIND_OUTER, m->seq, 1, &file[PIECE_OUTER],
	                      &page[PIECE_OUTER])))
		return err;
	/* On the sheets: the notice, then the 交付申請書 or the form; a re-inquiry is the form alone. */
	file[PIECE_APPL] = has[PIECE_APPL] ? file[PIECE_NOTICE] : "";
	page[PIECE_APPL] = has[PIECE_APPL] ? page[PIECE_NOTICE] + 1 : 0;
	file[PIECE_FORM] = has[PIECE_FORM] ? file[PIECE_NOTICE] : "";
	page[PIECE_FORM] = !has[PIECE_FORM] ? 0 : has[PIECE_NOTICE] ? page[PIECE_NOTICE] + 1 : page[PIECE_NOTICE];
	if (!has[PIECE_NOTICE]) {
		file[PIECE_NOTICE] = "";
		page[PIECE_NOTICE] = 0;
	}

	/* Counters. */
	if (m->kind == MAILSET_REINQUIRY)
		t->reinquiries++;
	else if (m->target == MAILSET_CARD)
		t->card++;
	else
		t->cert++;
	bool barcoded = m->barcode && *m->barcode;
	t->barcoded += barcoded;
	t->no_jlis += mailset_lacks_jlis_id(m);
	struct sbuf pieces = SBUF_INIT, addr = SBUF_INIT, code = SBUF_INIT, codes = SBUF_INIT;
	int no = 0;
	for (int p = 0; p < N_PIECES; p++) {
		if (!has[p])
			continue;
		t->pieces[p]++;
		sbuf_addf(&pieces, "%s%s", pieces.len ? "・" : "", piece_label[p]);
		/* The matching code printed on the piece (render.c): pieces in this order. */
		sbuf_addf(&codes, "%sB%04d-%06d-%d/%d", codes.len ? " " : "", m->batch, m->seq, ++no,
		          mailset_pieces(m));
	}
	if (no != mailset_pieces(m))
		err = kg_fail(KG_ESTATE, "set %d: %d pieces listed, mailset_pieces() says %d", m->seq, no,
		              mailset_pieces(m));
	/* The pre-printed inserts of the set's kind (settings "inserts:"), after the printed pieces. */
	enum mailset_group g = mailset_group(m->kind, m->target);
	t->inserts[g]++;
	for (size_t i = 0; w->s && i < w->s->n_inserts[g]; i++)
		sbuf_addf(&pieces, "・%s", w->s->inserts[g][i]);

	/* The row, for the workbook and the CSV in the same pass. */
	sbuf_addf(&addr, "%s%s", m->addr_town ? m->addr_town : "", m->addr_block ? m->addr_block : "");
	if (m->addr_building && *m->addr_building)
		sbuf_addf(&addr, "　%s", m->addr_building);
	if (barcoded) /* the symbol characters and check, which a person can compare with kigen barcode */
		sbuf_adds(&code, m->barcode_code ? m->barcode_code : m->barcode);
	else if (m->no_barcode_reason && *m->no_barcode_reason)
		sbuf_addf(&code, "なし（%s）", m->no_barcode_reason);
	char expiry[RULES_DATE_LEN], nums[N_COLS][16];
	rules_format_date(m->expiry, expiry);
	struct manifest_row r = {
		.seq = m->seq,
		.postal = postal,
		.barcoded = barcoded,
		.text =
			{
				[COL_APPID] = m->app_id,
				[COL_JLIS] = m->jlis_app_id,
				[COL_POSTAL] = postal,
				[COL_ADDRESS] = addr.buf,
				[COL_NAME] = m->name ? m->name : "",
				[COL_WHAT] = what_expires(m),
				[COL_EXPIRY] = expiry,
				[COL_PIECES] = pieces.buf,
				[COL_NOTICE_FILE] = file[PIECE_NOTICE],
				[COL_APPL_FILE] = file[PIECE_APPL],
				[COL_FORM_FILE] = file[PIECE_FORM],
				[COL_INNER_FILE] = file[PIECE_INNER],
				[COL_OUTER_FILE] = file[PIECE_OUTER],
				[COL_BARCODE] = code.buf,
				[COL_CODES] = codes.buf,
			},
		.num =
			{
				[COL_SEQ] = m->seq,
				[COL_NOTICE_PAGE] = page[PIECE_NOTICE],
				[COL_APPL_PAGE] = page[PIECE_APPL],
				[COL_FORM_PAGE] = page[PIECE_FORM],
				[COL_INNER_PAGE] = page[PIECE_INNER],
				[COL_OUTER_PAGE] = page[PIECE_OUTER],
				[COL_SHEETS] = mailset_sheets(m),
			},
	};
	/* The numeric columns (those given no text above) as text too; 0 is an empty cell. */
	for (int c = 0; c < N_COLS; c++) {
		if (r.text[c])
			continue;
		nums[c][0] = 0;
		if (r.num[c])
			snprintf(nums[c], sizeof nums[c], "%d", r.num[c]);
		r.text[c] = nums[c];
	}
	manifest_xlsx_row(w->xlsx, &r);
	manifest_csv_row(w->csv, &r);
	if (!err)
		err = sbuf_check(&pieces);
	if (!err)
		err = sbuf_check(&addr);
	if (!err)
		err = sbuf_check(&code);
	if (!err)
		err = sbuf_check(&codes);
	sbuf_release(&codes);
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
	w->sums = kg_calloc(b->n_files + 1, sizeof *w->sums);
	w->t.sums = w->sums;
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
		if (f->seq_from < 1 || f->seq_to < f->seq_from || f->seq_to > w->t.sets || f->pages < 0)
			return kg_fail(KG_EINPUT, "manifest: %s: seq %d..%d, %d pages: outside the batch's %d sets",
			               f->name, f->seq_from, f->seq_to, f->pages, w->t.sets);
		w->tracks[k].files[w->tracks[k].n++] = f;
		w->sums[i].kind = (enum manifest_kind)k;
		struct sbuf p = SBUF_INIT;
		sbuf_addf(&p, "%s/%s", w->dir, f->name);
		if (!(err = sbuf_check(&p)))
			err = manifest_hash_file(p.buf, w->sums[i].hex, &w->sums[i].bytes);
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

/* The counts that follow from the pass, once it is over. */
static void finish_totals(struct writer *w)
{
	struct manifest_totals *t = &w->t;
	const struct settings *s = w->s;
	t->sorted = t->sets >= t->sorted_min;
	t->barcode = t->barcoded >= t->barcode_min;
	if (!s || !s->postage_class || !*s->postage_class)
		snprintf(t->postage, sizeof t->postage, "なし");
	else
		snprintf(t->postage, sizeof t->postage, "%s郵便（%s）", s->postage_class, s->postage_office);
}

enum kg_err manifest_write(const char *dir, const struct settings *s, const struct manifest_batch *b,
                           const struct manifest_source *src)
{
	struct writer w = {.dir = dir, .b = b, .s = s, .t = {.sets = src->n_sets}, .next_seq = 1};
	struct afile *csv = NULL, *xlsx = NULL;
	enum kg_err err;
	const struct conf_node *root = conf_root(s->conf);
	if ((err = conf_get_int(root, "postal_discounts.sorted_min", 2000, &w.t.sorted_min)) ||
	    (err = conf_get_int(root, "postal_discounts.barcode_min", 1000, &w.t.barcode_min)))
		goto out;
	if (src->n_sets < 0 || w.t.sorted_min < 0 || w.t.barcode_min < 0) {
		err = kg_fail(KG_EINPUT, "manifest: negative set count or discount threshold");
		goto out;
	}
	/* From here until the seal the folder is incomplete, and says so by having no SHA256SUMS. */
	if ((err = afile_remove(dir, "SHA256SUMS")) || (err = prepare_files(&w)) ||
	    (err = afile_open(dir, "manifest.csv", &csv)) || (err = afile_open(dir, "manifest.xlsx", &xlsx)) ||
	    (err = manifest_xlsx_new(xlsx, dir, b->run_date, &w.xlsx)))
		goto out;
	w.csv = afile_stream(csv);
	manifest_csv_head(w.csv);

	for (int from = 1; from <= src->n_sets; from += CHUNK) {
		int to = from + CHUNK - 1 < src->n_sets ? from + CHUNK - 1 : src->n_sets;
		struct mailset *sets = NULL;
		size_t n = 0;
		if ((err = src->load(src->ctx, from, to, &sets, &n)))
			goto out;
		for (size_t i = 0; !err && i < n; i++)
			err = one_set(&w, &sets[i]);
		src->release(src->ctx, sets, n);
		if (err || (err = manifest_xlsx_status(w.xlsx)))
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
	finish_totals(&w);
	/* The workbook is read back before either file takes its final name (manifest_xlsx.h). */
	if ((err = manifest_xlsx_close(w.xlsx, b, &w.t)))
		goto out;
	err = afile_commit(csv);
	csv = NULL;
	if (err)
		goto out;
	err = afile_commit(xlsx);
	xlsx = NULL;
	if (err || (err = jobticket_write(dir, s, b, &w.t)))
		goto out;
	err = manifest_seal(dir);
out:
	manifest_xlsx_free(w.xlsx);
	afile_abort(csv);
	afile_abort(xlsx);
	for (int k = 0; k < N_KINDS; k++)
		free(w.tracks[k].files);
	free(w.sums);
	return err;
}
