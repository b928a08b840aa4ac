/*
 * render.c: turns mail sets into pages (choosing the template, filling the per-resident values),
 * writes PDFs and PNG proofs atomically, and runs a batch's files in forked workers.
 */
#include "render.h"

#include <cairo-pdf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pango/pangocairo.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "afile.h"
#include "layout.h"
#include "pdfx.h"
#include "rules.h"
#include "sbuf.h"
#include "stencil.h"

#include "banned.h"

enum tpl { T_NOTICE_CARD, T_NOTICE_CERT, T_APPLICATION, T_FORM, T_INNER, T_OUTER, T_N };

static const char *const tpl_files[T_N] = {
	"notice-card.yaml", "notice-cert.yaml",    "application.yaml",
	"form.yaml",        "envelope-inner.yaml", "envelope-outer.yaml",
};
static const char *const tpl_names[T_N] = {"notice", "notice", "application", "form", "inner", "outer"};
#define MAX_SHEETS_PER_SET RENDER_MAX_PAGES
static const char *const doc_names[] = {"sheets", "inner-envelopes", "outer-envelopes"};

struct render {
	struct fonts *fonts;
	PangoContext *pango;
	struct layout *tpl[T_N];
	char *qr_url;
	int max_sheets;
	int proofs;
	enum pdfx_level pdfx;
	struct rules_policy policy;
	/* The settings' pre-printed inserts per group, for the 同封物 list (borrowed copies). */
	char **inserts[MAILSET_N_GROUPS];
	size_t n_inserts[MAILSET_N_GROUPS];
	/* Scratch for one set's values. */
	char seq[32], piece[48], expiry[RULES_ERA_LEN], as_of[RULES_ERA_LEN], birth[RULES_ERA_LEN];
	char opens[RULES_ERA_LEN];
	struct sbuf address, rest, url, period, enclosures;
};

/* kg_fail() formats into the very buffer kg_last_message() returns, so a message that quotes
 * the last one is built from a copy. */
static enum kg_err fail_in(enum kg_err err, const char *context)
{
	char last[1024];
	snprintf(last, sizeof last, "%s", kg_last_message());
	return kg_fail(err, "%s: %s", context, last);
}

unsigned char render_pieces(enum mailset_kind kind, enum mailset_target target)
{
	return (mailset_kind_has_notice(kind) ? RENDER_PIECE_NOTICE : 0) |
	       (mailset_kind_has_application(kind, target) ? RENDER_PIECE_APPLICATION : 0) |
	       (mailset_kind_has_form(kind, target) ? RENDER_PIECE_FORM : 0);
}

int render_pages(enum render_doc doc, unsigned char pieces)
{
	switch (doc) {
	case RENDER_SHEETS:
		return !!(pieces & RENDER_PIECE_NOTICE) + !!(pieces & RENDER_PIECE_APPLICATION) +
		       !!(pieces & RENDER_PIECE_FORM);
	case RENDER_INNER: return !!(pieces & RENDER_PIECE_FORM);
	case RENDER_OUTER: return 1;
	}
	return 0;
}

static unsigned char pieces_of(const struct mailset *m)
{
	return render_pieces(m->kind, m->target);
}

enum kg_err render_new(const struct settings *s, struct render **out)
{
	struct render *r = kg_calloc(1, sizeof *r);
	struct sbuf path = SBUF_INIT;
	*out = NULL;
	/* cairo allocates and frees some 300 KB per page (zlib's deflate state, the growing PDF,
	 * qpdf's buffers): given back and faulted in again on every page, that was a third of
	 * the workers' CPU (perf). render_bench and tests call render_new without kigen's main. */
	kg_keep_heap();
	/* cairo deflates every content stream it writes, and pdfx_finish() (which rewrites them all)
	 * inflated each again before deflating its own output: cairo 1.16's one switch for plain
	 * streams is this variable, read when a PDF surface is made (it leaves font and image
	 * streams compressed; cairo only asks whether it is set). Set here, before pango starts its
	 * fontconfig thread, and never replaced: a later render_new() (nightly makes two) must not
	 * write the environment while that thread may read it. */
	setenv("CAIRO_DEBUG_PDF", "1", 0);
	enum kg_err err = fonts_new(s, &r->fonts);
	if (err)
		goto out;
	r->pango = pango_font_map_create_context(fonts_map(r->fonts));
	/* Points as user units, no hinting: metrics are the same on PDF and PNG, and stable. */
	pango_cairo_context_set_resolution(r->pango, 72);
	cairo_font_options_t *fo = cairo_font_options_create();
	cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
	cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
	pango_cairo_context_set_font_options(r->pango, fo);
	cairo_font_options_destroy(fo);
	pango_context_set_language(r->pango, pango_language_from_string("ja-jp"));
	/* Glyphs at the font's own advances: rounded to whole units, each glyph would carry a
	 * position correction in the PDF's TJ arrays (a number a glyph, measured ~15% of a set). */
	pango_context_set_round_glyph_positions(r->pango, FALSE);
	for (int t = 0; t < T_N; t++) {
		sbuf_reset(&path);
		sbuf_addf(&path, "%s/%s", s->templates_dir && *s->templates_dir ? s->templates_dir : "templates",
		          tpl_files[t]);
		if ((err = sbuf_check(&path)) || (err = layout_load(path.buf, s, r->fonts, r->pango, &r->tpl[t])))
			goto out;
	}
	r->qr_url = kg_strdup(s->qr_url ? s->qr_url : "{id}");
	r->max_sheets = s->max_sheets_per_file >= 2 ? s->max_sheets_per_file : 1000;
	r->proofs = s->proofs;
	r->pdfx = s->pdfx;
	r->policy = s->policy;
	for (int g = 0; g < MAILSET_N_GROUPS; g++) {
		r->n_inserts[g] = s->n_inserts[g];
		r->inserts[g] = kg_calloc(s->n_inserts[g] + 1, sizeof(char *));
		for (size_t i = 0; i < s->n_inserts[g]; i++)
			r->inserts[g][i] = kg_strdup(s->inserts[g][i]);
	}
	sbuf_init(&r->address, 4096);
	sbuf_init(&r->rest, 4096);
	sbuf_init(&r->url, 4096);
	sbuf_init(&r->period, 4096);
	sbuf_init(&r->enclosures, 4096);
out:
	sbuf_release(&path);
	if (err)
		render_free(r);
	else
		*out = r;
	return err;
}

void render_free(struct render *r)
{
	if (!r)
		return;
	for (int t = 0; t < T_N; t++)
		layout_free(r->tpl[t]);
	if (r->pango)
		g_object_unref(r->pango);
	fonts_free(r->fonts);
	free(r->qr_url);
	for (int g = 0; g < MAILSET_N_GROUPS; g++) {
		for (size_t i = 0; i < r->n_inserts[g]; i++)
			free(r->inserts[g][i]);
		free(r->inserts[g]);
	}
	sbuf_release(&r->address);
	sbuf_release(&r->rest);
	sbuf_release(&r->url);
	sbuf_release(&r->period);
	sbuf_release(&r->enclosures);
	free(r);
}

struct fonts *render_fonts(struct render *r)
{
	return r->fonts;
}

/* --- one set's values ------------------------------------------------------------------ */

static const char *target_text(const struct mailset *m)
{
	if (m->target == MAILSET_CARD)
		return "マイナンバーカード";
	switch (m->certs & (MAILSET_SIGN | MAILSET_AUTH)) {
	case MAILSET_SIGN: return "署名用電子証明書";
	case MAILSET_AUTH: return "利用者証明用電子証明書";
	default: return "署名用電子証明書・利用者証明用電子証明書";
	}
}

/* The matching code of piece p (1..) of m: the printed label, the piece's place, the count. */
static void piece_code(const struct mailset *m, int p, char *out, size_t size)
{
	snprintf(out, size, "B%04d-%06d-%d/%d", m->batch, m->seq, p, mailset_pieces(m));
}

/* The place in its set of the first page m adds to doc: pieces run sheets, inner, outer. */
static int first_piece(enum render_doc doc, const struct mailset *m)
{
	int p = 1;
	for (int d = 0; d < (int)doc; d++)
		p += render_pages((enum render_doc)d, pieces_of(m));
	return p;
}

size_t render_enclosures(enum mailset_kind kind, enum mailset_target target, char *const *inserts, size_t n_inserts,
                         const char **names, size_t max)
{
	size_t n = 0;
	for (int p = 0; p < MAILSET_N_PIECES; p++)
		if (p != MAILSET_PIECE_OUTER && mailset_kind_has_piece(kind, target, (enum mailset_piece)p) && n < max)
			names[n++] = mailset_piece_name((enum mailset_piece)p);
	for (size_t i = 0; i < n_inserts && n < max; i++)
		names[n++] = inserts[i];
	return n;
}

/* The 同封物 list printed on the notice, in the seed's words: "次の4点が封筒に封入されています。" */
static void enclosures(struct render *r, const struct mailset *m, struct sbuf *out)
{
	static const char *const digits[] = {"０", "１", "２", "３", "４", "５", "６", "７", "８", "９"};
	const char *names[MAILSET_N_PIECES + 16];
	enum mailset_group g = mailset_group(m->kind, m->target);
	size_t n = render_enclosures(m->kind, m->target, r->inserts[g], r->n_inserts[g], names, KG_ARRAY_SIZE(names));
	sbuf_reset(out);
	sbuf_adds(out, "次の");
	if (n < 10)
		sbuf_adds(out, digits[n]);
	else
		sbuf_addf(out, "%zu", n);
	sbuf_adds(out, "点が封筒に封入されています。");
	for (size_t i = 0; i < n; i++)
		sbuf_addf(out, "\n・%s", names[i]);
}

static enum kg_err set_values(struct render *r, const struct mailset *m, int piece, struct layout_values *v)
{
	enum kg_err err;
	memset(v, 0, sizeof *v);
	if (m->kind != MAILSET_NOTICE && m->kind != MAILSET_REINQUIRY)
		return kg_fail(KG_EINPUT, "unknown kind of set");
	if ((err = rules_era(m->expiry, r->expiry)) || (err = rules_era(m->batch_day, r->as_of)))
		return err;
	if (m->foreign || m->birth == RULES_NO_DATE || rules_era(m->birth, r->birth) != KG_OK) {
		int y, mo, d;
		r->birth[0] = '\0';
		if (m->birth != RULES_NO_DATE) {
			rules_to_ymd(m->birth, &y, &mo, &d);
			snprintf(r->birth, sizeof r->birth, "%d年%d月%d日", y, mo, d);
		}
	}
	snprintf(r->seq, sizeof r->seq, "B%04d-%06d", m->batch, m->seq);
	piece_code(m, piece, r->piece, sizeof r->piece);
	sbuf_reset(&r->rest);
	sbuf_adds(&r->rest, m->addr_block ? m->addr_block : "");
	if (m->addr_building && *m->addr_building)
		sbuf_addf(&r->rest, "　%s", m->addr_building);
	sbuf_reset(&r->address);
	sbuf_addf(&r->address, "%s%s", m->addr_town ? m->addr_town : "", r->rest.buf);
	/* The 交付申請用 URL holds J-LIS's 申請書ID: kigen's own number is unknown to J-LIS. */
	sbuf_reset(&r->url);
	for (const char *p = r->qr_url; *m->jlis_app_id && *p;) {
		if (!strncmp(p, "{id}", 4)) {
			sbuf_adds(&r->url, m->jlis_app_id);
			p += 4;
		} else {
			sbuf_addc(&r->url, *p++);
		}
	}
	/* 更新手続ができる期間: from the window's opening day (counters refuse earlier) to the expiry. */
	if ((err = rules_era(rules_window_opens(&r->policy, m->expiry), r->opens)))
		return err;
	sbuf_reset(&r->period);
	sbuf_addf(&r->period, "%sから%sまで", r->opens, r->expiry);
	enclosures(r, m, &r->enclosures);
	if ((err = sbuf_check(&r->rest)) || (err = sbuf_check(&r->address)) || (err = sbuf_check(&r->url)) ||
	    (err = sbuf_check(&r->period)) || (err = sbuf_check(&r->enclosures)))
		return err;

	v->field[LAYOUT_NAME] = m->name;
	v->field[LAYOUT_KANA] = m->kana;
	v->field[LAYOUT_POSTAL] = m->postal_code;
	v->field[LAYOUT_ADDRESS] = r->address.buf;
	v->field[LAYOUT_ADDR_TOWN] = m->addr_town;
	v->field[LAYOUT_ADDR_BLOCK] = m->addr_block;
	v->field[LAYOUT_ADDR_BUILDING] = m->addr_building;
	v->field[LAYOUT_EXPIRY] = r->expiry;
	v->field[LAYOUT_AS_OF] = r->as_of;
	v->field[LAYOUT_APP_ID] = m->app_id;
	v->field[LAYOUT_SEQ] = r->seq;
	v->field[LAYOUT_TARGET] = target_text(m);
	v->field[LAYOUT_PROCEDURE] = m->target == MAILSET_CARD ? "マイナンバーカードの更新手続"
	                                                       : "電子証明書の更新手続";
	v->field[LAYOUT_BIRTH] = r->birth;
	v->field[LAYOUT_QR_URL] = r->url.buf;
	v->field[LAYOUT_PIECE] = r->piece;
	v->field[LAYOUT_JLIS_ID] = m->jlis_app_id;
	v->field[LAYOUT_PERIOD] = r->period.buf;
	v->field[LAYOUT_ENCLOSURES] = r->enclosures.buf;
	bool minor = m->birth != RULES_NO_DATE && rules_age_on(&r->policy, m->birth, m->batch_day) < 15;
	v->when = (m->target != MAILSET_CARD ? 0
	           : m->jlis_app_id[0]       ? LAYOUT_WHEN_JLIS
	                                     : LAYOUT_WHEN_NOJLIS) |
	          (!m->has_sign_cert && m->sign_revoked ? LAYOUT_WHEN_REVOKED : 0) | (minor ? LAYOUT_WHEN_MINOR : 0) |
	          (m->target == MAILSET_CARD ? LAYOUT_WHEN_CARD : LAYOUT_WHEN_CERT) |
	          (m->kind == MAILSET_REINQUIRY ? LAYOUT_WHEN_REINQUIRY : LAYOUT_WHEN_NOTICE) |
	          (m->has_sign_cert  ? LAYOUT_WHEN_SIGN
	           : m->sign_revoked ? 0
	                             : LAYOUT_WHEN_NOSIGN) |
	          (m->barcode ? LAYOUT_WHEN_BARCODE : LAYOUT_WHEN_NOBARCODE);
	v->barcode = m->barcode;
	return KG_OK;
}

/* The templates of doc for m, in page order; returns how many. */
static int pages_of(enum render_doc doc, const struct mailset *m, enum tpl out[MAX_SHEETS_PER_SET])
{
	int n = 0;
	unsigned char p = pieces_of(m);
	if (doc == RENDER_SHEETS) {
		if (p & RENDER_PIECE_NOTICE)
			out[n++] = m->target == MAILSET_CARD ? T_NOTICE_CARD : T_NOTICE_CERT;
		if (p & RENDER_PIECE_APPLICATION)
			out[n++] = T_APPLICATION;
		if (p & RENDER_PIECE_FORM)
			out[n++] = T_FORM;
	} else if (doc == RENDER_INNER) {
		if (p & RENDER_PIECE_FORM)
			out[n++] = T_INNER;
	} else {
		out[n++] = T_OUTER;
	}
	return n;
}

int render_page_templates(enum render_doc doc, const struct mailset *m, const char *files[RENDER_MAX_PAGES])
{
	enum tpl t[MAX_SHEETS_PER_SET];
	int n = pages_of(doc, m, t);
	for (int i = 0; i < n; i++)
		files[i] = tpl_files[t[i]];
	return n;
}

enum kg_err render_values(struct render *r, enum render_doc doc, const struct mailset *m, int page,
                          struct layout_values *v)
{
	return set_values(r, m, first_piece(doc, m) + page, v);
}

/* Is there an address to mail to: a postal code NNN-NNNN and a 町域 that is not only spaces
 * (ASCII or full-width)? The block and building may be empty (a village address). */
static bool mailable(const struct mailset *m)
{
	const char *p = m->postal_code ? m->postal_code : "";
	for (int i = 0; i < 8; i++)
		if (i == 3 ? p[i] != '-' : !(p[i] >= '0' && p[i] <= '9'))
			return false;
	if (p[8])
		return false;
	for (const char *t = m->addr_town ? m->addr_town : ""; *t;) {
		if (*t == ' ' || *t == '\t')
			t++;
		else if (!strncmp(t, "　", strlen("　")))
			t += strlen("　");
		else
			return true;
	}
	return false;
}

static enum kg_err no_address(void)
{
	return kg_fail(KG_ERENDER, "宛先の住所がありません（郵便番号 NNN-NNNN と町域が必要です）");
}

/* A PDF's pages and their static layers (pdfx.h, struct pdfx_page): the first page of a
 * template with a set of layers paints them, later ones reuse that page's. */
struct layer_plan {
	struct pdfx_page *page;
	size_t n;
	struct {
		enum tpl t;
		unsigned layers;
		int page;
	} first[32];
	int n_first;
};

/* How page number plan->n, of template t with the layers set, draws them. */
static enum layout_mode plan_page(struct layer_plan *plan, enum tpl t, unsigned layers)
{
	struct pdfx_page *pg = &plan->page[plan->n];
	*pg = (struct pdfx_page){.layers = __builtin_popcount(layers), .same_as = -1};
	for (int i = 0; i < plan->n_first && layers; i++) {
		if (plan->first[i].t == t && plan->first[i].layers == layers) {
			*pg = (struct pdfx_page){.layers = 0, .same_as = plan->first[i].page};
			plan->n++;
			return LAYOUT_NO_LAYERS;
		}
	}
	if (layers && plan->n_first < (int)KG_ARRAY_SIZE(plan->first))
		plan->first[plan->n_first++] = (typeof(plan->first[0])){t, layers, (int)plan->n};
	plan->n++;
	return LAYOUT_RECORDINGS;
}

/* Draws a page: for a PDF (plan) from the recordings, else afresh (proofs). */
static enum kg_err draw_page(struct render *r, cairo_t *cr, enum tpl t, const struct mailset *m, int piece,
                             struct layer_plan *plan)
{
	struct layout_values v;
	enum kg_err err = mailable(m) ? set_values(r, m, piece, &v) : no_address();
	if (!err)
		err = layout_draw(r->tpl[t], cr, &v,
		                  plan ? plan_page(plan, t, layout_layers(r->tpl[t], &v)) : LAYOUT_FRESH);
	if (!err)
		return KG_OK;
	char where[64];
	snprintf(where, sizeof where, "B%04d-%06d (通知番号 %s)", m->batch, m->seq, m->app_id);
	return fail_in(err, where);
}

enum kg_err render_text_lines(struct render *r, enum render_doc doc, const struct mailset *m, const char *label,
                              struct sbuf *lines)
{
	enum tpl t[MAX_SHEETS_PER_SET];
	struct layout_values v;
	if (!pages_of(doc, m, t))
		return kg_fail(KG_ENOTFOUND, "the set has no page in this document");
	enum kg_err err = set_values(r, m, first_piece(doc, m), &v);
	return err ? err : layout_text_lines(r->tpl[t[0]], label, &v, lines);
}

enum kg_err render_check(struct render *r, const struct mailset *m)
{
	static const enum render_doc docs[] = {RENDER_SHEETS, RENDER_INNER, RENDER_OUTER};
	if (!mailable(m))
		return no_address();
	for (size_t d = 0; d < KG_ARRAY_SIZE(docs); d++) {
		enum tpl t[MAX_SHEETS_PER_SET];
		int k = pages_of(docs[d], m, t);
		for (int p = 0; p < k; p++) {
			struct layout_values v;
			enum kg_err err = set_values(r, m, first_piece(docs[d], m) + p, &v);
			if (err || (err = layout_check(r->tpl[t[p]], &v)))
				return err;
		}
	}
	return KG_OK;
}

/* --- atomic files ---------------------------------------------------------------------- */

/* cairo's output stream; keeps the system's reason when a write fails (a full disk), since
 * cairo itself only knows "write error" and its later calls then fail on unrelated grounds. */
struct stream {
	FILE *fp;
	int error;
};

static cairo_status_t write_cb(void *closure, const unsigned char *data, unsigned int len)
{
	struct stream *st = closure;
	if (fwrite(data, 1, len, st->fp) == len)
		return CAIRO_STATUS_SUCCESS;
	if (!st->error)
		st->error = errno ? errno : EIO;
	return CAIRO_STATUS_WRITE_ERROR;
}

/* cairo's output into memory. cairo hands its output stream every piece it formats, a number
 * or an operator at a time: through open_memstream's stdio (its lock and bookkeeping per call)
 * that was ~2% of the render stage's CPU (perf). */
struct membuf {
	unsigned char *buf;
	size_t len, alloc;
};

static cairo_status_t mem_write(void *closure, const unsigned char *data, unsigned int len)
{
	struct membuf *m = closure;
	KG_GROW(m->buf, m->len + len, m->alloc);
	memcpy(m->buf + m->len, data, len);
	m->len += len;
	return CAIRO_STATUS_SUCCESS;
}

/* The first failure of a file, the disk's reason first. */
static enum kg_err stream_error(const struct stream *st, const char *path, enum kg_err err)
{
	return st->error ? kg_fail(KG_EIO, "%s: %s", path, strerror(st->error)) : err;
}

/* Opens an atomic writer for path (split into folder and name for afile). */
static enum kg_err open_output(const char *path, struct afile **out)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return afile_open(".", path, out);
	char *dir = kg_strndup(path, (size_t)(slash - path));
	enum kg_err err = afile_open(*dir ? dir : "/", slash + 1, out);
	free(dir);
	return err;
}

/* Commits f when err is KG_OK, else throws the temporary away; returns the first error. */
static enum kg_err close_output(struct afile *f, enum kg_err err)
{
	if (err) {
		afile_abort(f);
		return err;
	}
	return afile_commit(f);
}

/* A file's stencils (stencil.h, struct stencil_sink), for pdfx_finish(): their bits one after
 * another, each one's size and where its bits start, and each page's first. */
struct held_stencil {
	int width, height;
	size_t at;
	long form; /* a form's placeholder (stencil_form()), 0: bits at */
	bool first;
};

struct stencils {
	unsigned char *bits;
	size_t len, bits_alloc;
	struct held_stencil *held;
	size_t n, held_alloc;
	size_t *first;     /* per page, and one past the last */
	size_t page_first; /* the page being drawn's first */
};

static int take_stencil(void *ctx, const unsigned char *bits, int width, int height)
{
	struct stencils *s = ctx;
	if (s->n - s->page_first >= STENCIL_MARKS)
		return -1;
	size_t size = (size_t)(width + 7) / 8 * (size_t)height;
	KG_GROW(s->bits, s->len + size, s->bits_alloc);
	memcpy(s->bits + s->len, bits, size);
	KG_GROW(s->held, s->n + 1, s->held_alloc);
	s->held[s->n++] = (struct held_stencil){width, height, s->len, 0, false};
	s->len += size;
	return (int)(s->n - 1 - s->page_first);
}

static int take_form(void *ctx, long form, bool first)
{
	struct stencils *s = ctx;
	if (s->n - s->page_first >= STENCIL_MARKS)
		return -1;
	KG_GROW(s->held, s->n + 1, s->held_alloc);
	s->held[s->n++] = (struct held_stencil){0, 0, 0, form, first};
	return (int)(s->n - 1 - s->page_first);
}

/* Points each page of plan at its stencils; the masks are in *out (free it). */
static void plan_masks(struct layer_plan *plan, const struct stencils *s, struct pdfx_mask **out)
{
	struct pdfx_mask *m = kg_calloc(s->n ? s->n : 1, sizeof *m);
	for (size_t i = 0; i < s->n; i++)
		m[i] = (struct pdfx_mask){s->held[i].width, s->held[i].height,
		                          s->held[i].form ? NULL : s->bits + s->held[i].at, s->held[i].form,
		                          s->held[i].first};
	for (size_t p = 0; p < plan->n; p++) {
		plan->page[p].masks = m + s->first[p];
		plan->page[p].n_masks = s->first[p + 1] - s->first[p];
	}
	*out = m;
}

/* cairo draws the pages into memory (a file's sets, a few MB at most); pdfx_finish() then
 * writes the print-ready PDF (pure K, TrimBox, /ID, object streams) to the atomic file. */
enum kg_err render_file(struct render *r, enum render_doc doc, const char *path, const struct mailset *sets, size_t n)
{
	struct afile *out = NULL;
	cairo_surface_t *pdf = NULL;
	cairo_t *cr = NULL;
	enum tpl t[MAX_SHEETS_PER_SET];
	int pages = 0;
	for (size_t i = 0; i < n; i++)
		pages += pages_of(doc, &sets[i], t);
	if (!pages)
		return kg_fail(KG_EINPUT, "%s: no pages", path);
	for (int i = 0; i < T_N; i++)
		layout_new_file(r->tpl[i]);

	struct membuf mem = {NULL, 0, 0};
	pdf = cairo_pdf_surface_create_for_stream(mem_write, &mem, 595.276, 841.89);
	cr = cairo_create(pdf);
	/* Metadata from the batch, not the clock: the same sets give the same bytes. */
	char day[RULES_DATE_LEN], date[40], title[128];
	rules_format_date(sets[0].batch_day, day);
	snprintf(date, sizeof date, "%sT00:00:00+09:00", day);
	const char *base = strrchr(path, '/');
	snprintf(title, sizeof title, "B%04d %s", sets[0].batch, base ? base + 1 : path);
	cairo_pdf_surface_set_metadata(pdf, CAIRO_PDF_METADATA_TITLE, title);
	cairo_pdf_surface_set_metadata(pdf, CAIRO_PDF_METADATA_CREATOR, "kigen");
	cairo_pdf_surface_set_metadata(pdf, CAIRO_PDF_METADATA_CREATE_DATE, date);
	cairo_pdf_surface_set_metadata(pdf, CAIRO_PDF_METADATA_MOD_DATE, date);
	struct layer_plan plan = {.page = kg_calloc((size_t)pages, sizeof *plan.page)};
	struct stencils sten = {.first = kg_calloc((size_t)pages + 1, sizeof *sten.first)};
	struct stencil_sink sink = {take_stencil, take_form, &sten};
	struct pdfx_mask *masks = NULL;
	enum kg_err err = stencil_set_sink(pdf, &sink);
	for (size_t i = 0; i < n && !err; i++) {
		int k = pages_of(doc, &sets[i], t);
		for (int p = 0; p < k && !err; p++) {
			cairo_pdf_surface_set_size(pdf, layout_width(r->tpl[t[p]]), layout_height(r->tpl[t[p]]));
			err = draw_page(r, cr, t[p], &sets[i], first_piece(doc, &sets[i]) + p, &plan);
			cairo_show_page(cr);
			sten.first[plan.n] = sten.page_first = sten.n;
		}
	}
	cairo_destroy(cr);
	cairo_surface_finish(pdf);
	if (!err && cairo_surface_status(pdf))
		err = kg_fail(KG_ERENDER, "%s: cairo: %s", path, cairo_status_to_string(cairo_surface_status(pdf)));
	cairo_surface_destroy(pdf);
	if (!err)
		err = open_output(path, &out);
	if (!err) {
		plan_masks(&plan, &sten, &masks);
		err = pdfx_finish(mem.buf, mem.len, r->pdfx, plan.page, plan.n, afile_stream(out), path);
		err = close_output(out, err);
	}
	free(masks);
	free(sten.bits);
	free(sten.held);
	free(sten.first);
	free(plan.page);
	free(mem.buf);
	return err;
}

/* --- proofs ---------------------------------------------------------------------------- */

#define PROOF_DPI 100.0

static enum kg_err write_png(cairo_surface_t *img, const char *path)
{
	struct afile *out = NULL;
	enum kg_err err = open_output(path, &out);
	if (err)
		return err;
	struct stream st = {afile_stream(out), 0};
	cairo_status_t cs = cairo_surface_write_to_png_stream(img, write_cb, &st);
	return close_output(
		out,
		stream_error(&st, path, cs ? kg_fail(KG_ERENDER, "%s: %s", path, cairo_status_to_string(cs)) : KG_OK));
}

enum kg_err render_proofs(struct render *r, const char *dir, const struct mailset *sets, size_t n)
{
	enum kg_err err = KG_OK;
	struct sbuf path = SBUF_INIT;
	static const enum render_doc docs[] = {RENDER_SHEETS, RENDER_INNER, RENDER_OUTER};
	for (size_t i = 0; i < n && !err; i++) {
		int no = 0;
		for (size_t d = 0; d < KG_ARRAY_SIZE(docs) && !err; d++) {
			enum tpl t[MAX_SHEETS_PER_SET];
			int k = pages_of(docs[d], &sets[i], t);
			for (int p = 0; p < k && !err; p++) {
				double k_px = PROOF_DPI / 72.0;
				int w = (int)ceil(layout_width(r->tpl[t[p]]) * k_px);
				int h = (int)ceil(layout_height(r->tpl[t[p]]) * k_px);
				cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
				cairo_t *cr = cairo_create(img);
				cairo_set_source_rgb(cr, 1, 1, 1);
				cairo_paint(cr);
				cairo_scale(cr, k_px, k_px);
				err = draw_page(r, cr, t[p], &sets[i], no + 1, NULL);
				cairo_destroy(cr);
				sbuf_reset(&path);
				sbuf_addf(&path, "%s/B%04d-%06d-%d-%s.png", dir, sets[i].batch, sets[i].seq, ++no,
				          tpl_names[t[p]]);
				if (!err)
					err = sbuf_check(&path);
				if (!err)
					err = write_png(img, path.buf);
				cairo_surface_destroy(img);
			}
		}
	}
	sbuf_release(&path);
	return err;
}

/* --- the batch ------------------------------------------------------------------------- */

struct job {
	int seq_from, seq_to;
	int file;     /* index in the file list, -1: the proofs job */
	bool started; /* done, found done, or handed to a worker */
};

static bool exists(const char *dir, const char *name)
{
	struct sbuf p = SBUF_INIT;
	sbuf_addf(&p, "%s/%s", dir, name);
	struct stat st; /* a symbolic link under a final name is not a written file (or proofs/ folder) */
	bool yes = lstat(p.buf, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
	sbuf_release(&p);
	return yes;
}

/* Runs one job in the current process: loads its sets, writes what is missing. */
static enum kg_err run_job(struct render *r, const char *dir, const struct render_source *src, const struct job *job,
                           const struct render_file_info *files)
{
	struct mailset *sets = NULL;
	size_t n = 0;
	struct sbuf path = SBUF_INIT;
	enum kg_err err = src->load(src->ctx, job->seq_from, job->seq_to, &sets, &n);
	if (err)
		return err;
	if (n != (size_t)(job->seq_to - job->seq_from + 1)) {
		err = kg_fail(KG_EINPUT, "the loader gave %zu sets for seq %d..%d", n, job->seq_from, job->seq_to);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (sets[i].seq != job->seq_from + (int)i || pieces_of(&sets[i]) != src->pieces[sets[i].seq - 1]) {
			err = kg_fail(KG_EINPUT, "the loader's set %zu is not seq %d as planned", i,
			              job->seq_from + (int)i);
			goto out;
		}
	}
	if (job->file < 0) {
		sbuf_addf(&path, "%s/.proofs.tmp-%ld", dir, (long)getpid());
		struct sbuf final = SBUF_INIT;
		sbuf_addf(&final, "%s/proofs", dir);
		if (!(err = sbuf_check(&path)) && mkdir(path.buf, 0777) != 0)
			err = kg_fail(KG_EIO, "%s: %s", path.buf, strerror(errno));
		if (!err)
			err = render_proofs(r, path.buf, sets, n);
		if (!err && rename(path.buf, final.buf) != 0)
			err = kg_fail(KG_EIO, "%s: %s", final.buf, strerror(errno));
		if (!err)
			err = afile_sync_dir(dir);
		sbuf_release(&final);
		goto out;
	}
	sbuf_addf(&path, "%s/%s", dir, files[job->file].name);
	if (!(err = sbuf_check(&path)))
		err = render_file(r, files[job->file].doc, path.buf, sets, n);
out:
	sbuf_release(&path);
	src->release(src->ctx, sets, n);
	return err;
}

/* A worker is forked once and runs job after job: every fork costs its copy-on-write faults of
 * the runner's heap, fonts and caches again (and the lazy binding of every library call), some
 * 0.1 CPU-second a fork (perf: two thirds of a 28-file batch's CPU), so a process a file cost
 * three times the CPU of the drawing itself. The runner hands a worker a job's index over a
 * socket pair and reads back one result record; a worker ends at the end of its socket. */
struct worker {
	pid_t pid;
	int fd;  /* the runner's end of the socket pair */
	int job; /* index of the job it runs, -1 when idle */
};

/* One job's result, a datagram of SOCK_SEQPACKET: read whole or not at all. */
struct result {
	int code; /* enum kg_err */
	char msg[2044];
};

/* The loop of a worker: runs the jobs it is handed until the runner closes its end. */
static void work(struct render *r, const char *dir, const struct render_source *src, const struct job *jobs,
                 const struct render_file_info *files, int fd)
{
	int k;
	ssize_t got;
	/* A worker's first file faults in some 20 MB of heap: 4 KB at a time that was 10,000
	 * page faults a worker, a tenth of a 1,000-set batch's CPU on this project's machine
	 * (perf); in huge pages, a few dozen. */
	kg_huge_heap();
	while ((got = recv(fd, &k, sizeof k, 0)) == (ssize_t)sizeof k || (got < 0 && errno == EINTR)) {
		if (got < 0)
			continue;
		struct result res = {(int)run_job(r, dir, src, &jobs[k], files), ""};
		if (res.code)
			snprintf(res.msg, sizeof res.msg, "%s", kg_last_message());
		if (send(fd, &res, sizeof res, MSG_NOSIGNAL) != (ssize_t)sizeof res)
			_exit(1);
	}
	_exit(0);
}

/* Ends worker i (its socket closed, the process waited for) and removes it from w; returns how
 * it ended: KG_OK for a clean exit, else a failure naming the signal. */
static enum kg_err end_worker(struct worker *w, int i, int *running)
{
	int status = 0;
	pid_t pid;
	close(w[i].fd);
	do
		pid = waitpid(w[i].pid, &status, 0);
	while (pid < 0 && errno == EINTR);
	w[i] = w[--*running];
	if (pid < 0)
		return kg_fail(KG_ERENDER, "waitpid: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return KG_OK;
	if (!WIFEXITED(status))
		return kg_fail(KG_ERENDER, "a render worker died (signal %d)",
		               WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return kg_fail(KG_ERENDER, "a render worker failed");
}

/* Waits for one busy worker's result and marks it idle; returns the job's result, the message
 * of a failure recorded. A worker that died is ended and its death returned. */
static enum kg_err reap(struct worker *w, int *running)
{
	struct pollfd p[64];
	int idx[64], n = 0;
	for (int i = 0; i < *running && n < 64; i++)
		if (w[i].job >= 0) {
			p[n] = (struct pollfd){.fd = w[i].fd, .events = POLLIN};
			idx[n++] = i;
		}
	if (!n)
		return kg_fail(KG_ERENDER, "no render worker is busy");
	while (poll(p, (nfds_t)n, -1) < 0)
		if (errno != EINTR)
			return kg_fail(KG_ERENDER, "poll: %s", strerror(errno));
	int j = 0;
	while (j < n - 1 && !p[j].revents)
		j++;
	int i = idx[j];
	struct result res;
	ssize_t got;
	do
		got = recv(w[i].fd, &res, sizeof res, 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof res) {
		enum kg_err err = end_worker(w, i, running);
		return err ? err : kg_fail(KG_ERENDER, "a render worker ended mid-job");
	}
	w[i].job = -1;
	if (!res.code)
		return KG_OK;
	res.msg[sizeof res.msg - 1] = '\0';
	return kg_fail(res.code > 0 && res.code <= KG_ESTATE ? (enum kg_err)res.code : KG_ERENDER, "%s",
	               res.msg[0] ? res.msg : "a render worker failed");
}

/* Starts a worker in w[*running] (on a socket pair), or returns why not. */
static enum kg_err spawn(struct render *r, const char *dir, const struct render_source *src, const struct job *jobs,
                         const struct render_file_info *files, struct worker *w, int *running)
{
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
		return kg_fail(KG_EIO, "socketpair: %s", strerror(errno));
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return kg_fail(KG_EIO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		/* A worker dies with its runner (OOM killer, kill -9): an orphan would go on
		 * writing into a batch the next run is finishing. The runner may have died before
		 * the line took effect, hence the check after it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(1);
		close(fds[0]);
		/* The other workers' sockets: held here, they would never see their end. */
		for (int i = 0; i < *running; i++)
			close(w[i].fd);
		work(r, dir, src, jobs, files, fds[1]);
	}
	close(fds[1]);
	w[*running] = (struct worker){pid, fds[0], -1};
	++*running;
	return KG_OK;
}

static void add_file(struct render_file_info **files, size_t *n, size_t *alloc, enum render_doc doc, int no, int from,
                     int to, int pages)
{
	KG_GROW(*files, *n + 1, *alloc);
	struct render_file_info *f = &(*files)[(*n)++];
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s-%03d.pdf", doc_names[doc], no);
	f->doc = doc;
	f->pages = pages;
	f->seq_from = from;
	f->seq_to = to;
}

/* Threads of this process, from /proc (Linux). */
static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Forking is safe only from a single-threaded process: a child inherits every lock another
 * thread held at that moment, and waits for it forever. pango (1.48 and later) initialises
 * fontconfig in a helper thread whenever a font map is made, so right after render_new() that
 * thread may still run. Wait for it, up to a second; false if the process stays threaded. */
static bool single_threaded(void)
{
	for (int i = 0; i < 200; i++) {
		if (thread_count() == 1)
			return true;
		usleep(5000);
	}
	return false;
}

enum kg_err render_batch(struct render *r, const char *dir, const struct render_source *src, int workers,
                         struct render_file_info **files_out, size_t *n_files)
{
	struct render_file_info *files = NULL;
	size_t n = 0, alloc = 0;
	struct job *jobs = NULL;
	size_t n_jobs = 0;
	struct worker *w = NULL;
	int running = 0;
	enum kg_err err = KG_OK;
	*files_out = NULL;
	*n_files = 0;
	if (src->n_sets < 0 || (src->n_sets > 0 && (!src->pieces || !src->load || !src->release)))
		return kg_fail(KG_EINPUT, "render_batch: an incomplete source");

	/* Plan: ranges of residents of at most max_sheets sheets, three files over each. The
	 * proofs come first, so they overlap with the files. */
	jobs = kg_calloc(3 * (size_t)src->n_sets + 1, sizeof *jobs);
	if (r->proofs > 0 && src->n_sets > 0 && !exists(dir, "proofs")) {
		jobs[n_jobs].seq_from = 1;
		jobs[n_jobs].seq_to = r->proofs < src->n_sets ? r->proofs : src->n_sets;
		jobs[n_jobs++].file = -1;
	}
	for (int seq = 1, no = 1; seq <= src->n_sets; no++) {
		int from = seq, pages[3] = {0, 0, 0};
		while (seq <= src->n_sets) {
			int s = render_pages(RENDER_SHEETS, src->pieces[seq - 1]);
			if (s < 1 || (pages[RENDER_SHEETS] + s > r->max_sheets && pages[RENDER_SHEETS] > 0))
				break;
			for (int d = 0; d < 3; d++)
				pages[d] += render_pages((enum render_doc)d, src->pieces[seq - 1]);
			seq++;
		}
		if (seq == from) {
			err = kg_fail(KG_EINPUT, "set %d has no pieces", seq);
			goto out;
		}
		for (int d = 0; d < 3; d++) {
			if (!pages[d])
				continue; /* no form among these residents: no inner envelopes */
			jobs[n_jobs].seq_from = from;
			jobs[n_jobs].seq_to = seq - 1;
			jobs[n_jobs++].file = (int)n;
			add_file(&files, &n, &alloc, (enum render_doc)d, no, from, seq - 1, pages[d]);
		}
	}

	if (workers > 0 && !single_threaded())
		workers = 0; /* render in this process: slower, never stuck */
	w = kg_calloc(workers > 0 ? (size_t)workers : 1, sizeof *w);
	int done = 0;
	size_t held; /* jobs another machine holds (src->claim) */
#define PROGRESS() (src->progress ? src->progress(src->ctx, ++done, (int)n_jobs) : (void)0)
pass:
	held = 0;
	for (size_t k = 0; k < n_jobs && !err; k++) {
		const char *name = jobs[k].file >= 0 ? files[jobs[k].file].name : "proofs";
		if (jobs[k].started)
			continue;
		if (exists(dir, name)) {
			jobs[k].started = true;
			PROGRESS(); /* written by an earlier run, or by another machine */
			continue;
		}
		if (src->claim && (err = src->claim(src->ctx, name)) == KG_ELOCKED) {
			err = KG_OK;
			held++;
			continue;
		}
		if (err)
			break;
		jobs[k].started = true;
		if (workers <= 0) {
			if (!(err = run_job(r, dir, src, &jobs[k], files)))
				PROGRESS();
			continue;
		}
		/* An idle worker, a new one while there are fewer than workers, else the next to finish. */
		int i = 0;
		while (i < running && w[i].job >= 0)
			i++;
		if (i == running && running < workers)
			err = spawn(r, dir, src, jobs, files, w, &running);
		while (!err && i == running && running >= workers) {
			if (!(err = reap(w, &running)))
				PROGRESS();
			for (i = 0; i < running && w[i].job >= 0;)
				i++;
		}
		if (err)
			break;
		int job = (int)k;
		if (send(w[i].fd, &job, sizeof job, MSG_NOSIGNAL) != (ssize_t)sizeof job) {
			err = kg_fail(KG_ERENDER, "a render worker is gone: %s", strerror(errno));
			break;
		}
		w[i].job = job;
	}
	if (held && !err) {
		sleep(1); /* another machine is making what is left, or died making it: look again */
		goto pass;
	}
	/* Wait for every busy worker, keeping the first failure's message; then end them all. */
	char *first = err ? kg_strdup(kg_last_message()) : NULL;
	for (;;) {
		int busy = 0;
		for (int i = 0; i < running; i++)
			busy += w[i].job >= 0;
		if (!busy)
			break;
		enum kg_err e = reap(w, &running);
		if (!e)
			PROGRESS();
		if (e && !err) {
			err = e;
			first = kg_strdup(kg_last_message());
		}
	}
	while (running > 0) {
		enum kg_err e = end_worker(w, running - 1, &running);
		if (e && !err) {
			err = e;
			first = kg_strdup(kg_last_message());
		}
	}
#undef PROGRESS
	if (err)
		err = kg_fail(err, "%s", first);
	free(first);
out:
	free(jobs);
	free(w);
	if (err) {
		free(files);
		return err;
	}
	*files_out = files;
	*n_files = n;
	return KG_OK;
}
