/*
 * layout.c: loads a template YAML into elements, records the static ones once, and draws a
 * page: recordings first, then the per-resident elements on top (text fitted into its box,
 * QR codes, the customer barcode).
 */
#include "layout.h"

#include <errno.h>
#include <math.h>
#include <pango/pangocairo.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "postal.h"
#include "sbuf.h"

#include "banned.h"

#define MM(x) ((x)*72.0 / 25.4)
#define MAX_LAYERS 8

enum kind { E_TEXT, E_RECT, E_LINE, E_QR, E_BARCODE, E_BOXES };

struct element {
	enum kind kind;
	int line;          /* in the template, for messages */
	char *label;       /* "field:" or the placeholder, for messages */
	unsigned when;     /* all these LAYOUT_WHEN_* bits must hold */
	bool variable;     /* holds per-resident data: drawn on every page */
	bool record_text;  /* holds the registry's free text (name, kana, address): a record can
	                    * make it unprintable; every other field has a fixed form */
	double x, y, w, h; /* points; for E_LINE x, y -> w, h are the end point */
	char *text;        /* E_TEXT, E_QR: settings placeholders already filled */
	PangoFontDescription *font;
	double size, min, leading, gray;
	PangoAlignment align;
	int valign;   /* 0 top, 1 middle, 2 bottom */
	bool wrap;    /* a paragraph: wraps at its size */
	double width; /* line width (points), 0: none */
	double fill;  /* gray level of a fill, < 0: none */
	bool dash;
	int count;     /* E_BOXES */
	double bar_pt; /* E_BARCODE: size in points (10 = the standard 79.8 x 3.6 mm) */
	/* E_TEXT: its own pango layout, kept fitted for the last text drawn, so a value that
	 * repeats from page to page (the batch date, the procedure) is shaped once. */
	PangoLayout *pl;
	char *last;
	double dx, dy;
};

struct layer {
	unsigned when;
	cairo_surface_t *rec;
};

struct layout {
	char *path;
	double width, height;
	struct element *el;
	size_t n_el;
	struct layer layers[MAX_LAYERS];
	int n_layers;
	struct fonts *fonts;
	struct sbuf text;    /* scratch for placeholder expansion */
	struct sbuf missing; /* scratch for fonts_missing */
};

static const char *const field_names[LAYOUT_NFIELDS] = {
	[LAYOUT_NAME] = "name",
	[LAYOUT_KANA] = "kana",
	[LAYOUT_POSTAL] = "postal",
	[LAYOUT_ADDRESS] = "address",
	[LAYOUT_ADDR_TOWN] = "addr_town",
	[LAYOUT_ADDR_BLOCK] = "addr_block",
	[LAYOUT_ADDR_BUILDING] = "addr_building",
	[LAYOUT_EXPIRY] = "expiry",
	[LAYOUT_AS_OF] = "as_of",
	[LAYOUT_APP_ID] = "app_id",
	[LAYOUT_SEQ] = "seq",
	[LAYOUT_TARGET] = "target",
	[LAYOUT_PROCEDURE] = "procedure",
	[LAYOUT_BIRTH] = "birth",
	[LAYOUT_QR_URL] = "qr_url",
};

static const struct {
	const char *name;
	unsigned bit;
} conditions[] = {
	{"card", LAYOUT_WHEN_CARD},           {"cert", LAYOUT_WHEN_CERT},           {"notice", LAYOUT_WHEN_NOTICE},
	{"reinquiry", LAYOUT_WHEN_REINQUIRY}, {"sign", LAYOUT_WHEN_SIGN},           {"nosign", LAYOUT_WHEN_NOSIGN},
	{"barcode", LAYOUT_WHEN_BARCODE},     {"nobarcode", LAYOUT_WHEN_NOBARCODE},
};

static const struct {
	const char *alias;
	const char *family;
} families[] = {
	{"gothic", "IPAexGothic"},
	{"mincho", "IPAexMincho"},
	{"mj", "IPAmjMincho"},
};

/* kg_fail() formats into the very buffer kg_last_message() returns, so a message that quotes
 * the last one is built from a copy. */
static enum kg_err fail_in(enum kg_err err, const char *context)
{
	char last[1024];
	snprintf(last, sizeof last, "%s", kg_last_message());
	return kg_fail(err, "%s: %s", context, last);
}

/* --- placeholders ---------------------------------------------------------------------- */

static int field_of(const char *name, size_t len)
{
	for (int i = 0; i < LAYOUT_NFIELDS; i++)
		if (strlen(field_names[i]) == len && !memcmp(field_names[i], name, len))
			return i;
	return -1;
}

static const char *setting_of(const struct settings *s, const char *name, size_t len)
{
	static const struct {
		const char *name;
		size_t off;
	} keys[] = {
		{"municipality", offsetof(struct settings, name)},
		{"mayor", offsetof(struct settings, mayor)},
		{"department", offsetof(struct settings, department)},
		{"office_postal", offsetof(struct settings, postal_code)},
		{"office_address", offsetof(struct settings, address)},
		{"phone", offsetof(struct settings, phone)},
		{"hours", offsetof(struct settings, hours)},
		{"lgcode", offsetof(struct settings, lgcode)},
	};
	for (size_t i = 0; i < KG_ARRAY_SIZE(keys); i++) {
		if (strlen(keys[i].name) == len && !memcmp(keys[i].name, name, len)) {
			const char *v = *(char *const *)((const char *)s + keys[i].off);
			return v ? v : "";
		}
	}
	return NULL;
}

/*
 * Expands placeholders of in into out. With s, fills settings ones and keeps per-resident
 * ones as they are (setting *variable when there is one); with v, fills per-resident ones.
 * "{{" is a literal brace. Unknown names are an error at load time.
 */
static enum kg_err expand(const char *in, const struct settings *s, const struct layout_values *v, struct sbuf *out,
                          bool *variable, const char **first_field)
{
	for (const char *p = in; *p;) {
		if (p[0] == '{' && p[1] == '{') {
			sbuf_addc(out, '{');
			p += 2;
			continue;
		}
		const char *close = p[0] == '{' ? strchr(p, '}') : NULL;
		if (!close) {
			const char *next = strchr(p + 1, '{');
			size_t n = next ? (size_t)(next - p) : strlen(p);
			sbuf_add(out, p, n);
			p += n;
			continue;
		}
		const char *name = p + 1;
		size_t len = (size_t)(close - name);
		int f = field_of(name, len);
		if (f >= 0) {
			if (v) {
				sbuf_adds(out, v->field[f] ? v->field[f] : "");
			} else {
				sbuf_add(out, p, len + 2);
				if (variable)
					*variable = true;
				if (first_field && !*first_field)
					*first_field = field_names[f];
			}
		} else if (s && setting_of(s, name, len)) {
			sbuf_adds(out, setting_of(s, name, len));
		} else {
			return kg_fail(KG_EINPUT, "unknown placeholder {%.*s}", (int)len, name);
		}
		p = close + 1;
	}
	return sbuf_check(out);
}

/* --- loading --------------------------------------------------------------------------- */

/* An element's key, else its style's. */
static const struct conf_node *attr(const struct conf_node *el, const struct conf_node *style, const char *key)
{
	const struct conf_node *n = conf_at(el, key);
	return n ? n : conf_at(style, key);
}

static enum kg_err num(const struct conf_node *el, const struct conf_node *style, const char *key, double def,
                       double *out)
{
	const struct conf_node *n = attr(el, style, key);
	if (!n) {
		*out = def;
		return KG_OK;
	}
	const char *s = conf_str(n);
	char *end;
	errno = 0;
	double d = s ? strtod(s, &end) : 0;
	if (!s || end == s || *end || errno || !isfinite(d))
		return kg_fail(KG_EINPUT, "line %d: %s must be a number", conf_line(n), key);
	*out = d;
	return KG_OK;
}

/* Reads a sequence of exactly n numbers. */
static enum kg_err nums(const struct conf_node *n, const char *key, double *out, size_t count)
{
	if (!conf_is_seq(n) || conf_len(n) != count)
		return kg_fail(KG_EINPUT, "line %d: %s must be a list of %zu numbers", conf_line(n), key, count);
	for (size_t i = 0; i < count; i++) {
		const char *s = conf_str(conf_child(n, i));
		char *end;
		errno = 0;
		out[i] = s ? strtod(s, &end) : 0;
		if (!s || end == s || *end || errno || !isfinite(out[i]))
			return kg_fail(KG_EINPUT, "line %d: %s must be a list of %zu numbers", conf_line(n), key,
			               count);
	}
	return KG_OK;
}

static enum kg_err parse_when(const struct conf_node *n, unsigned *when)
{
	*when = 0;
	if (!n)
		return KG_OK;
	size_t count = conf_is_seq(n) ? conf_len(n) : 1;
	for (size_t i = 0; i < count; i++) {
		const char *s = conf_str(conf_is_seq(n) ? conf_child(n, i) : n);
		size_t k = 0;
		while (k < KG_ARRAY_SIZE(conditions) && (!s || strcmp(s, conditions[k].name)))
			k++;
		if (k == KG_ARRAY_SIZE(conditions))
			return kg_fail(KG_EINPUT,
			               "line %d: when: %s is not one of card, cert, notice, reinquiry, sign, "
			               "nosign, barcode, nobarcode",
			               conf_line(n), s ? s : "(list)");
		*when |= conditions[k].bit;
	}
	return KG_OK;
}

static enum kg_err parse_text_style(struct element *e, const struct conf_node *el, const struct conf_node *style)
{
	enum kg_err err;
	if ((err = num(el, style, "size", 10, &e->size)) || (err = num(el, style, "min", e->size * 0.7, &e->min)) ||
	    (err = num(el, style, "leading", 1.0, &e->leading)) || (err = num(el, style, "gray", 0, &e->gray)))
		return err;
	if (e->size < 3 || e->size > 200 || e->min < 3 || e->min > e->size)
		return kg_fail(KG_EINPUT, "line %d: size must be 3..200 and min 3..size", e->line);
	const char *fam = conf_str(attr(el, style, "font"));
	fam = fam ? fam : "gothic";
	for (size_t i = 0; i < KG_ARRAY_SIZE(families); i++)
		if (!strcmp(fam, families[i].alias))
			fam = families[i].family;
	e->font = pango_font_description_new();
	pango_font_description_set_family(e->font, fam);
	const char *align = conf_str(attr(el, style, "align"));
	if (!align || !strcmp(align, "left"))
		e->align = PANGO_ALIGN_LEFT;
	else if (!strcmp(align, "center"))
		e->align = PANGO_ALIGN_CENTER;
	else if (!strcmp(align, "right"))
		e->align = PANGO_ALIGN_RIGHT;
	else
		return kg_fail(KG_EINPUT, "line %d: align must be left, center or right", e->line);
	const char *valign = conf_str(attr(el, style, "valign"));
	if (!valign || !strcmp(valign, "top"))
		e->valign = 0;
	else if (!strcmp(valign, "middle"))
		e->valign = 1;
	else if (!strcmp(valign, "bottom"))
		e->valign = 2;
	else
		return kg_fail(KG_EINPUT, "line %d: valign must be top, middle or bottom", e->line);
	const char *wrap = conf_str(attr(el, style, "wrap"));
	e->wrap = wrap && (!strcmp(wrap, "true") || !strcmp(wrap, "yes"));
	return KG_OK;
}

static enum kg_err parse_element(struct layout *l, const struct settings *s, PangoContext *pango,
                                 const struct conf_node *styles, const struct conf_node *el, struct element *e)
{
	enum kg_err err;
	struct sbuf b = SBUF_INIT;
	double v[4];
	e->line = conf_line(el);
	e->fill = -1;
	if (!conf_is_map(el))
		return kg_fail(KG_EINPUT,
		               "line %d: an element is a mapping (text:, rect:, line:, qr:, barcode:, boxes:)",
		               e->line);
	const char *style_name = conf_get_str(el, "style", NULL);
	const struct conf_node *style = style_name ? conf_at(styles, style_name) : NULL;
	if (style_name && !style)
		return kg_fail(KG_EINPUT, "line %d: no style %s", e->line, style_name);
	if ((err = parse_when(conf_at(el, "when"), &e->when)))
		return err;
	double width_mm, fill;
	if ((err = num(el, style, "width", 0.3, &width_mm)) || (err = num(el, style, "fill", -1, &fill)))
		return err;
	e->width = MM(width_mm);
	e->fill = fill;
	e->dash = conf_get_str(el, "dash", NULL) && !strcmp(conf_get_str(el, "dash", ""), "true");
	const char *label = conf_get_str(el, "field", NULL);

	const struct conf_node *n;
	if ((n = conf_at(el, "text")) || (n = conf_at(el, "qr"))) {
		e->kind = conf_at(el, "text") ? E_TEXT : E_QR;
		if (!conf_str(n))
			return kg_fail(KG_EINPUT, "line %d: text must be a string", e->line);
		const char *first = NULL;
		if ((err = expand(conf_str(n), s, NULL, &b, &e->variable, &first))) {
			sbuf_release(&b);
			char where[32];
			snprintf(where, sizeof where, "line %d", e->line);
			return fail_in(err, where);
		}
		e->text = sbuf_detach(&b);
		e->label = kg_strdup(label ? label : first ? first : "text");
		static const char *const free_text[] = {"{name}",      "{kana}",       "{address}",
		                                        "{addr_town}", "{addr_block}", "{addr_building}"};
		for (size_t i = 0; i < KG_ARRAY_SIZE(free_text); i++)
			e->record_text |= strstr(e->text, free_text[i]) != NULL;
		const struct conf_node *box = conf_at(el, "box");
		if ((err = nums(box ? box : el, "box", v, 4)))
			return err;
		e->x = MM(v[0]), e->y = MM(v[1]), e->w = MM(v[2]), e->h = MM(v[3]);
		if (e->kind == E_TEXT && (err = parse_text_style(e, el, style)))
			return err;
		if (e->kind == E_TEXT)
			e->pl = pango_layout_new(pango);
	} else if ((n = conf_at(el, "rect")) || (n = conf_at(el, "boxes"))) {
		e->kind = conf_at(el, "rect") ? E_RECT : E_BOXES;
		if ((err = nums(n, e->kind == E_RECT ? "rect" : "boxes", v, 4)))
			return err;
		e->x = MM(v[0]), e->y = MM(v[1]), e->w = MM(v[2]), e->h = MM(v[3]);
		long count = 1;
		if (e->kind == E_BOXES && ((err = conf_get_int(el, "count", 4, &count)) || count < 1 || count > 64))
			return err ? err : kg_fail(KG_EINPUT, "line %d: count must be 1..64", e->line);
		e->count = (int)count;
	} else if ((n = conf_at(el, "line"))) {
		e->kind = E_LINE;
		if ((err = nums(n, "line", v, 4)))
			return err;
		e->x = MM(v[0]), e->y = MM(v[1]), e->w = MM(v[2]), e->h = MM(v[3]);
	} else if ((n = conf_at(el, "barcode"))) {
		e->kind = E_BARCODE;
		e->variable = true;
		if ((err = nums(n, "barcode", v, 2)) || (err = num(el, NULL, "size", 10, &e->bar_pt)))
			return err;
		e->x = MM(v[0]), e->y = MM(v[1]);
		e->w = MM(79.8 * e->bar_pt / 10), e->h = MM(3.6 * e->bar_pt / 10);
		e->label = kg_strdup("barcode");
	} else {
		return kg_fail(KG_EINPUT,
		               "line %d: an element needs one of text:, rect:, line:, qr:, barcode:, boxes:", e->line);
	}
	if (e->kind != E_LINE && (e->w <= 0 || e->h <= 0 || e->x < 0 || e->y < 0 || e->x + e->w > l->width + 0.01 ||
	                          e->y + e->h > l->height + 0.01))
		return kg_fail(KG_EINPUT, "line %d: the box is empty or leaves the page", e->line);
	return KG_OK;
}

/* --- drawing --------------------------------------------------------------------------- */

/* Sets up the layout of e for text at size; returns its logical extents in points. */
static void shape(struct element *e, const char *text, double size, bool wrap, double *w, double *h)
{
	pango_font_description_set_size(e->font, (gint)(size * PANGO_SCALE + 0.5));
	pango_layout_set_font_description(e->pl, e->font);
	pango_layout_set_width(e->pl, wrap ? (int)(e->w * PANGO_SCALE) : -1);
	pango_layout_set_wrap(e->pl, PANGO_WRAP_WORD_CHAR);
	pango_layout_set_alignment(e->pl, e->align);
	pango_layout_set_line_spacing(e->pl, (float)e->leading);
	pango_layout_set_text(e->pl, text, -1);
	PangoRectangle log;
	pango_layout_get_extents(e->pl, NULL, &log);
	*w = (double)log.width / PANGO_SCALE;
	*h = (double)log.height / PANGO_SCALE;
}

/* Fits text into e's box (shrink, then wrap), leaving e->pl ready to show: the one rule of
 * whether a text fits, for drawing and for layout_check() alike. */
static enum kg_err fit_text(struct element *e, const char *text)
{
	if (e->last && !strcmp(e->last, text))
		return KG_OK;
	free(e->last);
	e->last = NULL;
	double w = 0, h = 0;
	bool fit = false, wrap = e->wrap;
	double size = e->size;
	/* Shrink first (a name stays on one line as long as it can), then wrap at the minimum. */
	for (; size >= e->min - 1e-6; size -= 0.5) {
		shape(e, text, size, wrap, &w, &h);
		if (w <= e->w + 0.01 && h <= e->h + 0.01) {
			fit = true;
			break;
		}
	}
	if (!fit && !wrap) {
		size = e->min;
		shape(e, text, size, true, &w, &h);
		wrap = true;
		fit = h <= e->h + 0.01 && pango_layout_get_line_count(e->pl) > 0;
		if (fit) {
			PangoRectangle log;
			pango_layout_get_extents(e->pl, NULL, &log);
			fit = (double)log.width / PANGO_SCALE <= e->w + 0.01;
		}
	}
	if (!fit)
		return kg_fail(KG_ERENDER,
		               "%s (line %d): the text does not fit its %.0f x %.0f mm box even at %.1f pt "
		               "wrapped",
		               e->label, e->line, e->w * 25.4 / 72, e->h * 25.4 / 72, e->min);
	if (pango_layout_get_unknown_glyphs_count(e->pl) > 0)
		return kg_fail(KG_ERENDER, "%s (line %d): a character has no glyph in the pinned fonts", e->label,
		               e->line);
	e->dx = e->dy = 0;
	if (!wrap) {
		/* Unwrapped layouts have no width to align in: place them by hand. */
		if (e->align == PANGO_ALIGN_CENTER)
			e->dx = (e->w - w) / 2;
		else if (e->align == PANGO_ALIGN_RIGHT)
			e->dx = e->w - w;
	}
	if (e->valign == 1)
		e->dy = (e->h - h) / 2;
	else if (e->valign == 2)
		e->dy = e->h - h;
	e->last = kg_strdup(text);
	return KG_OK;
}

static enum kg_err draw_text(cairo_t *cr, struct element *e, const char *text)
{
	enum kg_err err = fit_text(e, text);
	if (err)
		return err;
	cairo_set_source_rgb(cr, e->gray, e->gray, e->gray);
	cairo_move_to(cr, e->x + e->dx, e->y + e->dy);
	pango_cairo_show_layout(cr, e->pl);
	return KG_OK;
}

enum kg_err layout_qr(cairo_t *cr, double x, double y, double size, const char *data)
{
	QRcode *q = QRcode_encodeString(data, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!q)
		return kg_fail(KG_ERENDER, "QR code: cannot encode %zu bytes", strlen(data));
	int n = q->width;
	/* Four modules of quiet zone on each side, inside the box. Modules on a quarter-point grid
	 * keep the numbers in the PDF short (and the file small and quick to write). */
	double m = floor(size / (n + 8) * 4) / 4;
	if (m < 0.25)
		m = size / (n + 8);
	double x0 = round((x + (size - m * n) / 2) * 4) / 4;
	double y0 = round((y + (size - m * n) / 2) * 4) / 4;
	/* Cover the dark modules with few rectangles: grow each right, then down. */
	unsigned char *done = kg_calloc((size_t)n * (size_t)n, 1);
#define DARK(r, c) ((q->data[(r)*n + (c)] & 1) && !done[(r)*n + (c)])
	for (int r = 0; r < n; r++) {
		for (int c = 0; c < n; c++) {
			if (!DARK(r, c))
				continue;
			int c2 = c;
			while (c2 < n && DARK(r, c2))
				c2++;
			int r2 = r + 1;
			for (; r2 < n; r2++) {
				int k = c;
				while (k < c2 && DARK(r2, k))
					k++;
				if (k < c2)
					break;
			}
			for (int i = r; i < r2; i++)
				memset(done + i * n + c, 1, (size_t)(c2 - c));
			cairo_rectangle(cr, x0 + c * m, y0 + r * m, (c2 - c) * m, (r2 - r) * m);
			c = c2 - 1;
		}
	}
#undef DARK
	free(done);
	QRcode_free(q);
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_fill(cr);
	return KG_OK;
}

static void stroke_style(cairo_t *cr, const struct element *e)
{
	static const double dash[] = {2.0, 2.0};
	cairo_set_line_width(cr, e->width);
	cairo_set_dash(cr, dash, e->dash ? 2 : 0, 0);
	cairo_set_source_rgb(cr, 0, 0, 0);
}

/* The text of e for this page, placeholders filled, checked against the fonts. */
static enum kg_err element_text(struct layout *l, struct element *e, const struct layout_values *v, const char **text)
{
	enum kg_err err;
	*text = e->text;
	if (!e->variable || !e->text)
		return KG_OK;
	sbuf_reset(&l->text);
	if ((err = expand(e->text, NULL, v, &l->text, NULL, NULL)))
		return err;
	*text = l->text.buf;
	sbuf_reset(&l->missing);
	if (e->kind == E_TEXT && fonts_missing(l->fonts, *text, &l->missing))
		return kg_fail(KG_ERENDER, "%s (line %d): no pinned font can draw %s", e->label, e->line,
		               l->missing.buf);
	return KG_OK;
}

static enum kg_err draw_element(struct layout *l, cairo_t *cr, struct element *e, const struct layout_values *v)
{
	const char *text;
	enum kg_err err = element_text(l, e, v, &text);
	if (err)
		return err;
	switch (e->kind) {
	case E_TEXT: return draw_text(cr, e, text);
	case E_QR: return layout_qr(cr, e->x, e->y, fmin(e->w, e->h), text);
	case E_BARCODE: return v && v->barcode ? postal_draw(cr, e->x, e->y, v->barcode, e->bar_pt) : KG_OK;
	case E_LINE:
		stroke_style(cr, e);
		cairo_move_to(cr, e->x, e->y);
		cairo_line_to(cr, e->w, e->h);
		cairo_stroke(cr);
		return KG_OK;
	case E_RECT:
	case E_BOXES:
		for (int i = 0; i < (e->kind == E_BOXES ? e->count : 1); i++) {
			double bw = e->kind == E_BOXES ? e->w / e->count : e->w;
			cairo_rectangle(cr, e->x + i * bw, e->y, bw, e->h);
		}
		if (e->fill >= 0) {
			cairo_set_source_rgb(cr, e->fill, e->fill, e->fill);
			if (e->width > 0)
				cairo_fill_preserve(cr);
			else
				cairo_fill(cr);
		}
		if (e->width > 0) {
			stroke_style(cr, e);
			cairo_stroke(cr);
		}
		return KG_OK;
	}
	return KG_OK;
}

static bool holds(unsigned need, unsigned have)
{
	return (need & have) == need;
}

enum kg_err layout_draw(struct layout *l, cairo_t *cr, const struct layout_values *v, bool use_recordings)
{
	enum kg_err err = KG_OK;
	if (use_recordings) {
		for (int i = 0; i < l->n_layers; i++) {
			if (!holds(l->layers[i].when, v->when))
				continue;
			cairo_set_source_surface(cr, l->layers[i].rec, 0, 0);
			cairo_paint(cr);
		}
	}
	for (size_t i = 0; i < l->n_el && !err; i++) {
		struct element *e = &l->el[i];
		if ((use_recordings && !e->variable) || !holds(e->when, v->when))
			continue;
		err = draw_element(l, cr, e, v);
	}
	if (!err && cairo_status(cr))
		err = kg_fail(KG_ERENDER, "cairo: %s", cairo_status_to_string(cairo_status(cr)));
	return err ? fail_in(err, l->path) : KG_OK;
}

enum kg_err layout_check(struct layout *l, const struct layout_values *v)
{
	enum kg_err err = KG_OK;
	for (size_t i = 0; i < l->n_el && !err; i++) {
		struct element *e = &l->el[i];
		if (e->kind != E_TEXT || !e->record_text || !holds(e->when, v->when))
			continue;
		const char *text;
		if (!(err = element_text(l, e, v, &text)))
			err = fit_text(e, text);
	}
	return err ? fail_in(err, l->path) : KG_OK;
}

/* Records every static element with condition set when into a new layer. */
static enum kg_err record_layer(struct layout *l, unsigned when)
{
	if (l->n_layers == MAX_LAYERS)
		return kg_fail(KG_EINPUT, "%s: more than %d distinct 'when' sets of static elements", l->path,
		               MAX_LAYERS);
	cairo_rectangle_t ext = {0, 0, l->width, l->height};
	cairo_surface_t *rec = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, &ext);
	cairo_t *cr = cairo_create(rec);
	enum kg_err err = KG_OK;
	for (size_t i = 0; i < l->n_el && !err; i++)
		if (!l->el[i].variable && l->el[i].when == when)
			err = draw_element(l, cr, &l->el[i], NULL);
	if (!err && cairo_status(cr))
		err = kg_fail(KG_ERENDER, "cairo: %s", cairo_status_to_string(cairo_status(cr)));
	cairo_destroy(cr);
	l->layers[l->n_layers].when = when;
	l->layers[l->n_layers++].rec = rec;
	return err;
}

enum kg_err layout_load(const char *path, const struct settings *s, struct fonts *fonts, PangoContext *pango,
                        struct layout **out)
{
	struct conf *c = NULL;
	struct layout *l = kg_calloc(1, sizeof *l);
	l->path = kg_strdup(path);
	l->fonts = fonts;
	sbuf_init(&l->text, 1 << 16);
	sbuf_init(&l->missing, 1 << 16);
	*out = NULL;
	enum kg_err err = conf_load(path, &c);
	if (err)
		goto out;
	const struct conf_node *root = conf_root(c);
	double w, h;
	if ((err = num(root, NULL, "page.width", 0, &w)) || (err = num(root, NULL, "page.height", 0, &h)))
		goto out;
	if (w < 50 || h < 50 || w > 500 || h > 500) {
		err = kg_fail(KG_EINPUT, "page: width and height must be 50..500 mm");
		goto out;
	}
	l->width = MM(w), l->height = MM(h);
	const struct conf_node *els = conf_at(root, "elements");
	if (!conf_is_seq(els) || !conf_len(els)) {
		err = kg_fail(KG_EINPUT, "elements: a list of elements is required");
		goto out;
	}
	l->n_el = conf_len(els);
	l->el = kg_calloc(l->n_el, sizeof *l->el);
	for (size_t i = 0; i < l->n_el; i++)
		if ((err = parse_element(l, s, pango, conf_at(root, "styles"), conf_child(els, i), &l->el[i])))
			goto out;
	/* One recording per distinct condition set of static elements, in first-use order. */
	for (size_t i = 0; i < l->n_el && !err; i++) {
		if (l->el[i].variable)
			continue;
		bool seen = false;
		for (int k = 0; k < l->n_layers; k++)
			seen |= l->layers[k].when == l->el[i].when;
		if (!seen)
			err = record_layer(l, l->el[i].when);
	}
out:
	conf_free(c);
	if (err) {
		err = fail_in(err, path);
		layout_free(l);
	} else {
		*out = l;
	}
	return err;
}

void layout_free(struct layout *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_el; i++) {
		free(l->el[i].text);
		free(l->el[i].label);
		if (l->el[i].font)
			pango_font_description_free(l->el[i].font);
		if (l->el[i].pl)
			g_object_unref(l->el[i].pl);
		free(l->el[i].last);
	}
	free(l->el);
	for (int i = 0; i < l->n_layers; i++)
		cairo_surface_destroy(l->layers[i].rec);
	sbuf_release(&l->text);
	sbuf_release(&l->missing);
	free(l->path);
	free(l);
}

double layout_width(const struct layout *l)
{
	return l->width;
}

double layout_height(const struct layout *l)
{
	return l->height;
}
