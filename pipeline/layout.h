/*
 * layout.h: one printed document's template (a YAML file in templates/) and drawing it onto a cairo page.
 *
 * A template gives the page size and a list of elements in millimetres: text in a box, lines,
 * rectangles, rows of PIN boxes, QR codes and the customer barcode. Text may hold placeholders:
 * settings ones ({municipality}, {mayor}, {department}, {office_postal}, {office_address},
 * {phone}, {hours}, {application_center}, {jlis_delegation}, {postage_class}, {postage_office}) are
 * filled once at load; per-resident ones (enum layout_field, e.g. {name}) on every page. An element
 * may be drawn only "when" conditions hold (card, cert, notice, reinquiry, sign, nosign, barcode,
 * nobarcode, jlis, nojlis, revoked, minor; postage is decided at load).
 *
 * Speed: every element without per-resident data is drawn once at load into a cairo recording
 * surface (one per distinct condition set), and each page paints those as sources, so a PDF
 * holds the static content once as a shared form XObject instead of once per page. A text with
 * per-resident data that prints the same on several pages (the batch date, the enclosures list)
 * is recorded the second time and shared the same way.
 *
 * Text fitting: a text that does not fit its box at its size shrinks by 0.5 pt steps down to
 * its minimum, then wraps; if it still does not fit, that is an error naming the field. A text
 * holding a character no pinned font can draw is an error too (never a box or a blank).
 * A text without "wrap: true" wraps at its minimum between per-resident values first (each
 * address part, a name, stands whole on one line), then inside a value only where a Japanese
 * reader accepts a break (after 丁目, 番地, 号, the city, a hyphen...), never inside a number
 * (layout.c, "Line breaks").
 *
 * Ownership: the layout borrows the PangoContext and the fonts given to layout_load(), which
 * must outlive it. Errors: KG_EINPUT for a bad template (FILE:LINE), KG_ERENDER while drawing.
 */
#ifndef LAYOUT_H
#define LAYOUT_H

#include <cairo.h>
#include <pango/pango.h>
#include <stdbool.h>

#include "fonts.h"
#include "kg.h"
#include "sbuf.h"
#include "settings.h"

enum layout_field {
	LAYOUT_NAME,          /* {name} */
	LAYOUT_KANA,          /* {kana} */
	LAYOUT_POSTAL,        /* {postal}: NNN-NNNN */
	LAYOUT_ADDRESS,       /* {address}: town, block and building on one line */
	LAYOUT_ADDR_TOWN,     /* {addr_town} */
	LAYOUT_ADDR_BLOCK,    /* {addr_block}: 番地・号 */
	LAYOUT_ADDR_BUILDING, /* {addr_building}: 方書 */
	LAYOUT_EXPIRY,        /* {expiry}: 和暦 */
	LAYOUT_AS_OF,         /* {as_of}: the batch date, 和暦 */
	LAYOUT_APP_ID,        /* {app_id}: kigen's 通知番号, 23 digits */
	LAYOUT_SEQ,           /* {seq}: "B0001-000123" */
	LAYOUT_TARGET,        /* {target}: 有効期限が到来するもの */
	LAYOUT_PROCEDURE,     /* {procedure}: 更新手続 */
	LAYOUT_BIRTH,         /* {birth}: 和暦, 西暦 for foreign residents */
	LAYOUT_QR_URL,        /* {qr_url}: the 交付申請用 URL with J-LIS's 申請書ID ("" without one) */
	LAYOUT_JLIS_ID,       /* {jlis_id}: J-LIS's 申請書ID of a card renewal, 23 digits, or "" */
	LAYOUT_PERIOD, /* {period}: 更新手続ができる期間, "令和8年4月10日から令和8年7月9日まで" */
	LAYOUT_ENCLOSURES, /* {enclosures}: "次の4点が封筒に封入されています。" and the pieces */
	LAYOUT_PIECE,      /* {piece}: the matching code "B0001-000123-2/4" (piece 2 of the set's 4) */
	LAYOUT_NFIELDS
};

/* A field's placeholder name without braces ("name" for LAYOUT_NAME). */
const char *layout_field_name(enum layout_field f);

/* For tools that fill the templates themselves (the benchmark's yardsticks): the i-th settings
 * placeholder's name without braces (NULL past the last), and one's value as printed (NULL for
 * an unknown name). */
const char *layout_setting_name(size_t i);
const char *layout_setting(const struct settings *s, const char *name);

/* Conditions of "when:". */
#define LAYOUT_WHEN_CARD 0x01
#define LAYOUT_WHEN_CERT 0x02
#define LAYOUT_WHEN_NOTICE 0x04
#define LAYOUT_WHEN_REINQUIRY 0x08
#define LAYOUT_WHEN_SIGN 0x10
#define LAYOUT_WHEN_NOSIGN 0x20 /* no signature certificate was ever issued (under 15) */
#define LAYOUT_WHEN_BARCODE 0x40
#define LAYOUT_WHEN_NOBARCODE 0x80
#define LAYOUT_WHEN_JLIS 0x100    /* a card renewal with J-LIS's 申請書ID */
#define LAYOUT_WHEN_NOJLIS 0x200  /* a card renewal without one */
#define LAYOUT_WHEN_REVOKED 0x400 /* the signature certificate was revoked (not never issued) */
#define LAYOUT_WHEN_MINOR 0x800   /* the holder is under 15: a 法定代理人 applies */
/* Decided once at load from the settings, not per page: the settings have a postage mark
 * (postage.mark); an element with it is dropped when they have none. */
#define LAYOUT_WHEN_POSTAGE 0x1000

struct layout_values {
	const char *field[LAYOUT_NFIELDS]; /* NULL prints as "" */
	unsigned when;                     /* the LAYOUT_WHEN_* bits that hold for this page */
	const char *barcode;               /* 67 letters F/A/D/T, or NULL */
};

struct layout;

enum kg_err layout_load(const char *path, const struct settings *s, struct fonts *fonts, PangoContext *pango,
                        struct layout **out) KG_WUR;
void layout_free(struct layout *l);

/* Page size in points. */
double layout_width(const struct layout *l);
double layout_height(const struct layout *l);

/* Starts a new PDF: forgets the per-resident texts that came back in earlier ones (painted from
 * a recording once they repeat), so a file's bytes depend on its own pages alone, not on what
 * the same process drew before (a render worker writes file after file). */
void layout_new_file(struct layout *l);

/* How layout_draw() draws a page's static content. */
enum layout_mode {
	LAYOUT_FRESH,      /* drawn afresh (raster proofs, where a recording would be resampled) */
	LAYOUT_RECORDINGS, /* painted from the recordings, static layers first (PDF) */
	LAYOUT_NO_LAYERS,  /* as LAYOUT_RECORDINGS without the static layers: the caller has them
	                    * added to the page by reference afterwards (pdfx.h, struct pdfx_page) */
};
/* Draws one page onto cr (user units = points, origin top-left). The caller shows the page. */
enum kg_err layout_draw(struct layout *l, cairo_t *cr, const struct layout_values *v, enum layout_mode mode) KG_WUR;
/* The static layers a page with values v paints with LAYOUT_RECORDINGS, as a set of bits (each a
 * layer of this template, in the order they are painted, as the page's first form XObjects). Two
 * pages of one template with the same set look the same under their variable content. */
unsigned layout_layers(const struct layout *l, const struct layout_values *v);

/*
 * Appends the lines, each ended by '\n', that the text element labelled label (its "field:",
 * else its first placeholder's name) breaks into on a page with values v: the very fitting
 * layout_draw() uses. Lets tests check line breaks without reading pixels.
 * Errors: KG_ENOTFOUND when no such text is drawn on that page; those of layout_draw().
 */
enum kg_err layout_text_lines(struct layout *l, const char *label, const struct layout_values *v,
                              struct sbuf *lines) KG_WUR;

/* Whether the page's texts that hold the registry's free text ({name}, {kana}, {address},
 * {addr_*}) can be drawn, without drawing: every one fits its box (by the same shrink-then-wrap
 * rule as layout_draw) and every character has a glyph. KG_ERENDER naming the template, line
 * and field when not. Texts of fixed form (dates, IDs, the sequence number) are left out: one
 * that does not fit is the template's fault, not a record's, and layout_draw stops the run. */
enum kg_err layout_check(struct layout *l, const struct layout_values *v) KG_WUR;
/* For the tests of the bound layout_check() uses to skip shaping a text that surely fits
 * (layout.c, "The fit bound"): layout_check() with every text shaped; and whether the bound alone
 * passes every such text of the page (true: each fits at its full size; false says nothing). */
enum kg_err layout_check_shaped(struct layout *l, const struct layout_values *v) KG_WUR;
bool layout_fits_unshaped(struct layout *l, const struct layout_values *v);

/* Draws a QR code of data, quiet zone included, in the square x, y, size (points): a 1-bit
 * stencil mask, one pixel a module, scaled without smoothing. */
enum kg_err layout_qr(cairo_t *cr, double x, double y, double size, const char *data) KG_WUR;

#endif
