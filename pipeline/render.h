/*
 * render.h: print-ready PDFs (and PNG proofs) of a batch's mail sets.
 *
 * A struct render holds the pinned fonts and the six templates of settings->templates_dir
 * (notice-card.yaml, notice-cert.yaml, application.yaml, form.yaml, envelope-inner.yaml,
 * envelope-outer.yaml),
 * their static content recorded once. Documents:
 *   RENDER_SHEETS  A4, per resident: the 有効期限通知書, then the 個人番号カード交付申請書 (card
 *                  renewals) or the 照会書兼回答書 (certificate renewals); a re-inquiry set is the
 *                  form alone, marked 再照会 (mailset.h says which set gets what).
 *   RENDER_INNER   長形4号 照会書兼回答書封入用封筒, one per set with a form.
 *   RENDER_OUTER   長形3号 mailing envelope, one per set.
 * Every page carries the batch and sequence number ("B0001-000123") and its matching code, a QR
 * of "B0001-000123-2/4" (the {piece} placeholder): the piece's place in its set, counting the
 * set's sheets, its sealing envelope, then its mailing envelope, of mailset_pieces(). Every PDF
 * is finished by pdfx_finish() (pure K, TrimBox, /ID, object streams; PDF/X-4 with the setting
 * output.pdfx: x4) before it is renamed into place. Nothing printed comes from
 * anywhere but struct mailset and the settings: never a My Number, a PIN or a 居所.
 *
 * Output is deterministic: fonts pinned, PDF metadata (creator "kigen", dates) from the batch
 * date, so the same sets give the same bytes. Files are written atomically (a temporary name in
 * the same directory, fsync, rename): a final name never holds a half file.
 *
 * Errors: KG_EINPUT for bad templates or settings, KG_ERENDER when a page cannot be drawn (a
 * character no font covers, a text that does not fit its box: the message names the sequence
 * number and the field), KG_EIO for the disk. The render borrows nothing from s after
 * render_new(). Not thread safe; a forked child may use its parent's render.
 */
#ifndef RENDER_H
#define RENDER_H

#include <stddef.h>

#include "fonts.h"
#include "kg.h"
#include "layout.h"
#include "mailset.h"
#include "sbuf.h"
#include "settings.h"

struct render;

enum kg_err render_new(const struct settings *s, struct render **out) KG_WUR;
void render_free(struct render *r);

/* The render's fonts (borrowed), e.g. for fonts_missing(). */
struct fonts *render_fonts(struct render *r);

enum render_doc { RENDER_SHEETS, RENDER_INNER, RENDER_OUTER };

/* What a set consists of: bits of the pieces it gets. */
#define RENDER_PIECE_NOTICE 1      /* 有効期限通知書 (A4) */
#define RENDER_PIECE_FORM 2        /* 照会書兼回答書 (A4) and its sealing envelope */
#define RENDER_PIECE_APPLICATION 4 /* 個人番号カード交付申請書 (A4), after the notice */
unsigned char render_pieces(enum mailset_kind kind, enum mailset_target target);
/* The names of what a set of this kind encloses: mailset.h's printed pieces but the mailing
 * envelope, then the settings' inserts of its group (settings->inserts[mailset_group()]); at most
 * max into names (borrowed); returns how many. The notice's 同封物 list and the manifest's come
 * from here. */
size_t render_enclosures(enum mailset_kind kind, enum mailset_target target, char *const *inserts, size_t n_inserts,
                         const char **names, size_t max);
/* Pages a set with these pieces adds to a document. */
int render_pages(enum render_doc doc, unsigned char pieces);

/* For tools that draw the same pages another way (the benchmark's yardsticks): the template
 * files (in settings templates_dir) of doc's pages for m in page order, returning how many
 * (0..RENDER_MAX_PAGES), and the per-resident values printed on page (0..) of those (borrowed
 * from m and r until the next call; {piece} is that page's matching code). */
#define RENDER_MAX_PAGES 3
int render_page_templates(enum render_doc doc, const struct mailset *m, const char *files[RENDER_MAX_PAGES]);
enum kg_err render_values(struct render *r, enum render_doc doc, const struct mailset *m, int page,
                          struct layout_values *v) KG_WUR;

/*
 * Whether every page of m can be printed, without drawing: KG_OK, or KG_ERENDER with the reason
 * (which template, line and field; a text that fits its box at no size down to its minimum even
 * wrapped, a character no pinned font draws, or no address to mail to: a postal code NNN-NNNN
 * and a 町域 that is not blank). The very rules render_file() applies to the registry's free
 * text (name, kana, address; layout_check()), so a set that passes is drawn unless a template is
 * wrong for every set alike. Selection asks it before giving a sequence number, the render stage
 * after a failure.
 */
enum kg_err render_check(struct render *r, const struct mailset *m) KG_WUR;

/* Writes one PDF of doc for sets[0..n) at path (atomically), pages in the order of the sets.
 * KG_EINPUT when the document would have no page. */
enum kg_err render_file(struct render *r, enum render_doc doc, const char *path, const struct mailset *sets,
                        size_t n) KG_WUR;

/* Appends the lines the text labelled label (a template's "field:", e.g. 住所 or 氏名) breaks
 * into on m's first page of doc, each ended by '\n' (layout_text_lines()). For tests. */
enum kg_err render_text_lines(struct render *r, enum render_doc doc, const struct mailset *m, const char *label,
                              struct sbuf *lines) KG_WUR;

/* Writes PNG proofs (100 dpi) of every page of sets into the existing directory dir, named
 * B0001-000001-1-notice.png, -2-form.png, -3-inner.png, -4-outer.png. */
enum kg_err render_proofs(struct render *r, const char *dir, const struct mailset *sets, size_t n) KG_WUR;

/*
 * The render stage of a batch. The batch's sets are numbered seq 1..n_sets in mailing order.
 * load(ctx, from, to, &sets, &n) must give exactly the sets seq from..to (inclusive) in order;
 * release(ctx, sets, n) frees them. Both are called IN A FORKED WORKER (never in the caller's
 * process, unless workers is 0), so the caller's memory stays flat however large the batch:
 * ctx must be usable after fork (e.g. open a new database connection inside load).
 * pieces[seq-1] is render_pieces() of each set, so files are planned without loading.
 */
struct render_source {
	int n_sets;
	const unsigned char *pieces;
	enum kg_err (*load)(void *ctx, int seq_from, int seq_to, struct mailset **sets, size_t *n);
	void (*release)(void *ctx, struct mailset *sets, size_t n);
	void *ctx;
	/* Optional, called in the caller's process as each job (a file, or the proofs) is done or
	 * found done: for a progress bar. */
	void (*progress)(void *ctx, int done, int total);
	/* Optional, for several machines rendering one batch into a shared folder: called in the
	 * caller's process before a missing file (or "proofs") is made. KG_OK: make it; KG_ELOCKED:
	 * another machine is making it, so render_batch comes back to it (once a second) until the
	 * file is there or the claim is granted; any other error stops the batch. */
	enum kg_err (*claim)(void *ctx, const char *name);
};

struct render_file_info {
	char name[64]; /* e.g. "sheets-001.pdf" (relative to dir) */
	enum render_doc doc;
	int pages;
	int seq_from, seq_to; /* residents in the file */
};

/*
 * Plans the files in dir: sheets-NNN.pdf of at most settings max_sheets_per_file sheets, split at
 * resident boundaries; inner-envelopes-NNN.pdf and outer-envelopes-NNN.pdf over the same
 * residents as sheets-NNN.pdf (an inner file is left out when those residents have no form).
 * Each NNN is one job, run by up to workers forked processes, each forked once and running job
 * after job (so src->load may be called several times in one worker); a file that already
 * exists under its final name is not rewritten (a rerun after a crash does only what is left).
 * Proofs of the first settings proofs residents go to dir/proofs/ (written whole or not at all).
 * *files (caller frees) lists every planned file, existing or new, in order.
 * A worker's failure stops new jobs and is returned with the worker's message.
 */
enum kg_err render_batch(struct render *r, const char *dir, const struct render_source *src, int workers,
                         struct render_file_info **files, size_t *n_files) KG_WUR;

#endif
