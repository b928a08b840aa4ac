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
#include "stencil.h"
#include "sbuf.h"

#include "banned.h"

#define MM(x) ((x)*72.0 / 25.4)
#define MAX_LAYERS 8
#define MAX_TEXT_GROUPS 32

enum kind { E_TEXT, E_RECT, E_LINE, E_QR, E_BARCODE, E_BOXES };

/*
 * A text with per-resident data can print the same on page after page: the paragraph with the
 * batch date, the enclosures list, the target and the procedure. Each text element remembers
 * the last N_REPEAT texts it printed in a PDF; one that comes back is recorded and from then on
 * painted from the recording, which cairo writes once per file as a form XObject, like the
 * static layers: neither fitted nor written again (3747 -> 3301 bytes a set over 300 sets).
 */
#define N_REPEAT 4

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
	struct repeat {
		char *text;           /* a text this element printed in a PDF */
		cairo_surface_t *rec; /* its recording, once it came back */
		long form;            /* its number as a form for stencil_form(), 0: none yet */
	} seen[N_REPEAT];
	int next_seen;
};

/*
 * Texts are shaped at REF_PT and drawn scaled to their size: without hinting (render.c turns it
 * off) pango's and cairo's metrics scale linearly, so one shaping serves every size. Shaped texts
 * are kept in a small cache shared by every layout made with the same PangoContext (it lives as
 * long as the context): a name printed at four sizes on three documents, an address printed
 * three times on a form, the batch date on every page are shaped once, and shrinking a text to
 * fit its box is arithmetic instead of shaping it again at each step.
 * 128 entries hold some nine sets' texts: with 32, the wording that comes back on every set
 * (the enclosures list, the target, the procedure) was pushed out by the names and addresses
 * between and shaped again (1670 shapings for 100 sets against 1429; each set has ~14 texts of
 * its own that no cache saves).
 */
#define REF_PT 10.0
#define N_SHAPES 128

struct shape {
	PangoLayout *pl;
	PangoFontDescription *font; /* at REF_PT */
	char *text;
	char *breaks; /* where the per-resident values lie and the break level; NULL: pango's breaks */
	int width;    /* Pango units at REF_PT, -1: not wrapped */
	PangoAlignment align;
	float leading;
};

struct shapes {
	struct shape s[N_SHAPES];
	int next; /* the entry replaced next, round robin */
};

/* The bytes [start, end) of an expanded text that one per-resident value fills: a part that
 * must not break (an address part, a name) unless it cannot stand on one line. */
struct span {
	size_t start, end;
};

struct spans {
	struct span *at;
	size_t n, alloc;
};

/* The break opportunities of one level (see "Line breaks") for one text, and their cache key. */
struct text_breaks {
	PangoAttrList *attrs;
	const char *key;
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
	struct shapes *shapes;      /* borrowed from the PangoContext */
	struct text_groups *gather; /* while a static layer is recorded: where its text goes */
	struct sbuf text;           /* scratch for placeholder expansion */
	struct sbuf missing;        /* scratch for fonts_missing */
	struct spans spans;         /* scratch: where each per-resident value lies in text */
	double advance, line;       /* fonts_bounds() in user units a point of text size */
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
	[LAYOUT_JLIS_ID] = "jlis_id",
	[LAYOUT_PERIOD] = "period",
	[LAYOUT_ENCLOSURES] = "enclosures",
	[LAYOUT_PIECE] = "piece",
};

const char *layout_field_name(enum layout_field f)
{
	return f >= 0 && f < LAYOUT_NFIELDS ? field_names[f] : "";
}

static const struct {
	const char *name;
	unsigned bit;
} conditions[] = {
	{"card", LAYOUT_WHEN_CARD},           {"cert", LAYOUT_WHEN_CERT},           {"notice", LAYOUT_WHEN_NOTICE},
	{"reinquiry", LAYOUT_WHEN_REINQUIRY}, {"sign", LAYOUT_WHEN_SIGN},           {"nosign", LAYOUT_WHEN_NOSIGN},
	{"barcode", LAYOUT_WHEN_BARCODE},     {"nobarcode", LAYOUT_WHEN_NOBARCODE}, {"jlis", LAYOUT_WHEN_JLIS},
	{"nojlis", LAYOUT_WHEN_NOJLIS},       {"revoked", LAYOUT_WHEN_REVOKED},     {"minor", LAYOUT_WHEN_MINOR},
	{"postage", LAYOUT_WHEN_POSTAGE},
};

static const struct {
	const char *alias;
	const char *family;
} families[] = {
	{"gothic", "IPAexGothic"},
	{"mincho", "IPAexMincho"},
	{"mj", "IPAmjMincho"},
	{"multi", "WenQuanYi Zen Hei"}, /* the multilingual lines: Simplified Chinese and Hangul */
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

static const struct {
	const char *name;
	size_t off;
} setting_keys[] = {
	{"municipality", offsetof(struct settings, name)},
	{"mayor", offsetof(struct settings, mayor)},
	{"department", offsetof(struct settings, department)},
	{"office_postal", offsetof(struct settings, postal_code)},
	{"office_address", offsetof(struct settings, address)},
	{"phone", offsetof(struct settings, phone)},
	{"hours", offsetof(struct settings, hours)},
	{"lgcode", offsetof(struct settings, lgcode)},
	{"application_center", offsetof(struct settings, application_center)},
	{"postage_class", offsetof(struct settings, postage_class)},
	{"postage_office", offsetof(struct settings, postage_office)},
};

static const char *setting_of(const struct settings *s, const char *name, size_t len)
{
	/* J-LIS's delegation sentence: printed only when J-LIS mails for the municipality. */
	static const char delegation[] =
		"本件は、地方公共団体情報システム機構（J-LIS）が全国の市区町村長から委任を受けて実施しています。";
	if (strlen("jlis_delegation") == len && !memcmp("jlis_delegation", name, len))
		return s->jlis_delegation ? delegation : "";
	for (size_t i = 0; i < KG_ARRAY_SIZE(setting_keys); i++) {
		if (strlen(setting_keys[i].name) == len && !memcmp(setting_keys[i].name, name, len)) {
			const char *v = *(char *const *)((const char *)s + setting_keys[i].off);
			return v ? v : "";
		}
	}
	return NULL;
}

const char *layout_setting_name(size_t i)
{
	return i < KG_ARRAY_SIZE(setting_keys)    ? setting_keys[i].name
	       : i == KG_ARRAY_SIZE(setting_keys) ? "jlis_delegation"
	                                          : NULL;
}

const char *layout_setting(const struct settings *s, const char *name)
{
	return setting_of(s, name, strlen(name));
}

/*
 * Expands placeholders of in into out. With s, fills settings ones and keeps per-resident
 * ones as they are (setting *variable when there is one); with v, fills per-resident ones.
 * "{{" is a literal brace. Unknown names are an error at load time.
 */
static enum kg_err expand(const char *in, const struct settings *s, const struct layout_values *v, struct sbuf *out,
                          bool *variable, const char **first_field, struct spans *spans)
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
				size_t start = out->len;
				sbuf_adds(out, v->field[f] ? v->field[f] : "");
				if (spans && out->len > start) {
					KG_GROW(spans->at, spans->n + 1, spans->alloc);
					spans->at[spans->n++] = (struct span){start, out->len};
				}
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
			               "nosign, barcode, nobarcode, jlis, nojlis, revoked, minor, postage",
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
	pango_font_description_set_size(e->font, (gint)(REF_PT * PANGO_SCALE));
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

static enum kg_err parse_element(struct layout *l, const struct settings *s, const struct conf_node *styles,
                                 const struct conf_node *el, struct element *e)
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
		if ((err = expand(conf_str(n), s, NULL, &b, &e->variable, &first, NULL))) {
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

static void shapes_free(gpointer p)
{
	struct shapes *c = p;
	for (int i = 0; i < N_SHAPES; i++) {
		g_object_unref(c->s[i].pl);
		if (c->s[i].font)
			pango_font_description_free(c->s[i].font);
		free(c->s[i].text);
		free(c->s[i].breaks);
	}
	free(c);
}

/* The cache of shaped texts of pango, made with it on first use. */
static struct shapes *shapes_of(PangoContext *pango)
{
	static const char key[] = "kigen-layout-shapes";
	struct shapes *c = g_object_get_data(G_OBJECT(pango), key);
	if (c)
		return c;
	c = kg_calloc(1, sizeof *c);
	for (int i = 0; i < N_SHAPES; i++) {
		c->s[i].pl = pango_layout_new(pango);
		pango_layout_set_wrap(c->s[i].pl, PANGO_WRAP_WORD_CHAR);
	}
	g_object_set_data_full(G_OBJECT(pango), key, c, shapes_free);
	return c;
}

/* text in e's font at REF_PT, wrapped at width (Pango units at REF_PT, -1: not wrapped) with only
 * the breaks of brk (NULL: pango's own), with its logical extents in points at REF_PT: from the
 * cache, else shaped now. Valid until the next call. */
static PangoLayout *shaped(struct shapes *c, const struct element *e, const char *text, int width,
                           const struct text_breaks *brk, double *w, double *h)
{
	struct shape *s = NULL;
	for (int i = 0; i < N_SHAPES && !s; i++) {
		struct shape *t = &c->s[i];
		if (t->text && t->width == width && t->align == e->align && t->leading == (float)e->leading &&
		    !strcmp(t->text, text) && !t->breaks == !brk && (!brk || !strcmp(t->breaks, brk->key)) &&
		    pango_font_description_equal(t->font, e->font))
			s = t;
	}
	if (!s) {
		s = &c->s[c->next];
		c->next = (c->next + 1) % N_SHAPES;
		free(s->text);
		free(s->breaks);
		if (s->font)
			pango_font_description_free(s->font);
		s->text = kg_strdup(text);
		s->breaks = brk ? kg_strdup(brk->key) : NULL;
		s->font = pango_font_description_copy(e->font);
		s->width = width;
		s->align = e->align;
		s->leading = (float)e->leading;
		pango_layout_set_font_description(s->pl, s->font);
		pango_layout_set_width(s->pl, width);
		pango_layout_set_alignment(s->pl, s->align);
		pango_layout_set_line_spacing(s->pl, s->leading);
		pango_layout_set_attributes(s->pl, brk ? brk->attrs : NULL);
		pango_layout_set_text(s->pl, text, -1);
	}
	PangoRectangle log;
	pango_layout_get_extents(s->pl, NULL, &log);
	*w = (double)log.width / PANGO_SCALE;
	*h = (double)log.height / PANGO_SCALE;
	return s->pl;
}

/* Whether a text of extents w x h at REF_PT fits e's box at size. */
static bool fits(const struct element *e, double size, double w, double h)
{
	return w * size / REF_PT <= e->w + 0.01 && h * size / REF_PT <= e->h + 0.01;
}

/* The wrap width at REF_PT of e's box for a text at size. */
static int wrap_width(const struct element *e, double size)
{
	return (int)(e->w * REF_PT / size * PANGO_SCALE);
}

/*
 * The text of a static layer, gathered while it is recorded: one group per font, scale and gray,
 * glyphs at their place on the page (in the group's scaled space) with their text and clusters.
 * cairo analyses every operation of a recorded layer again on each page the layer is painted on,
 * so a layer's text is recorded as one cairo_show_text_glyphs per group instead of one per pango
 * run: 6% fewer instructions for a batch (callgrind, 200 sets). The text (utf8 and clusters) is
 * kept so that the PDF maps each glyph back to the character it was drawn for.
 */
struct text_group {
	cairo_scaled_font_t *font;
	double k, gray;
	cairo_glyph_t *glyphs;
	size_t n_glyphs, glyphs_alloc;
	char *utf8;
	size_t len, utf8_alloc;
	cairo_text_cluster_t *clusters;
	size_t n_clusters, clusters_alloc;
};

struct text_groups {
	struct text_group g[MAX_TEXT_GROUPS];
	int n;
};

/* Adds pl's glyphs, its top-left corner at x0, y0 and scaled by k, to gg. False when gg is full. */
static bool gather(struct text_groups *gg, PangoLayout *pl, double x0, double y0, double k, double gray)
{
	/* Room for every new group first, so that a text is gathered whole or not at all. */
	int more = 0;
	for (GSList *line = pango_layout_get_lines_readonly(pl); line; line = line->next)
		for (GSList *r = ((PangoLayoutLine *)line->data)->runs; r; r = r->next) {
			PangoFont *f = ((PangoGlyphItem *)r->data)->item->analysis.font;
			cairo_scaled_font_t *font = pango_cairo_font_get_scaled_font(PANGO_CAIRO_FONT(f));
			bool known = false;
			for (int i = 0; i < gg->n && !known; i++)
				known = gg->g[i].font == font && gg->g[i].k == k && gg->g[i].gray == gray;
			more += !known;
		}
	if (gg->n + more > MAX_TEXT_GROUPS)
		return false;
	PangoLayoutIter *it = pango_layout_get_iter(pl);
	do {
		PangoLayoutRun *run = pango_layout_iter_get_run_readonly(it);
		if (!run)
			continue;
		PangoRectangle logical;
		pango_layout_iter_get_run_extents(it, NULL, &logical);
		int base = pango_layout_iter_get_baseline(it);
		cairo_scaled_font_t *font = pango_cairo_font_get_scaled_font(
			PANGO_CAIRO_FONT(run->item->analysis.font));
		struct text_group *g = NULL;
		for (int i = 0; i < gg->n && !g; i++)
			if (gg->g[i].font == font && gg->g[i].k == k && gg->g[i].gray == gray)
				g = &gg->g[i];
		if (!g) {
			g = &gg->g[gg->n++];
			memset(g, 0, sizeof *g);
			g->font = font, g->k = k, g->gray = gray;
		}
		/* Left-to-right text only (the templates are Japanese and English): glyphs in text order,
		 * log_clusters rising. A cluster runs from its first byte to the next cluster's. */
		const char *text = pango_layout_get_text(pl) + run->item->offset;
		int len = run->item->length, n = run->glyphs->num_glyphs;
		const int *lc = run->glyphs->log_clusters;
		KG_GROW(g->utf8, g->len + (size_t)len, g->utf8_alloc);
		memcpy(g->utf8 + g->len, text, (size_t)len);
		g->len += (size_t)len;
		double x = logical.x;
		for (int i = 0; i < n; i++) {
			const PangoGlyphInfo *gi = &run->glyphs->glyphs[i];
			if (i == 0 || lc[i] != lc[i - 1]) {
				int end = len;
				for (int j = i + 1; j < n && end == len; j++)
					if (lc[j] != lc[i])
						end = lc[j];
				KG_GROW(g->clusters, g->n_clusters + 1, g->clusters_alloc);
				g->clusters[g->n_clusters].num_bytes = end - (i == 0 ? 0 : lc[i]);
				g->clusters[g->n_clusters++].num_glyphs = 0;
			}
			if (gi->glyph != PANGO_GLYPH_EMPTY) {
				KG_GROW(g->glyphs, g->n_glyphs + 1, g->glyphs_alloc);
				cairo_glyph_t *cg = &g->glyphs[g->n_glyphs++];
				cg->index = gi->glyph;
				cg->x = x0 / k + (x + gi->geometry.x_offset) / PANGO_SCALE;
				cg->y = y0 / k + (double)(base + gi->geometry.y_offset) / PANGO_SCALE;
				g->clusters[g->n_clusters - 1].num_glyphs++;
			}
			x += gi->geometry.width;
		}
	} while (pango_layout_iter_next_run(it));
	pango_layout_iter_free(it);
	return true;
}

/* Draws gg's groups onto cr and empties it. */
static void show_groups(cairo_t *cr, struct text_groups *gg)
{
	for (int i = 0; i < gg->n; i++) {
		struct text_group *g = &gg->g[i];
		cairo_save(cr);
		cairo_set_source_rgb(cr, g->gray, g->gray, g->gray);
		cairo_scale(cr, g->k, g->k);
		cairo_set_scaled_font(cr, g->font);
		cairo_show_text_glyphs(cr, g->utf8, (int)g->len, g->glyphs, (int)g->n_glyphs, g->clusters,
		                       (int)g->n_clusters, 0);
		cairo_restore(cr);
		free(g->glyphs);
		free(g->utf8);
		free(g->clusters);
	}
	gg->n = 0;
}

/*
 * Line breaks. A text without wrap: first shrinks on the template's own lines; only at its
 * minimum size does it wrap, each time with more break opportunities, and the first that fits
 * is kept:
 *   BREAK_PARTS     between per-resident values only (an address's 町域 / 番地・号 / 方書, a
 *                   name): every value stands whole on one line;
 *   BREAK_ACCEPTED  also inside a value, but only where a Japanese reader accepts a break:
 *                   after the prefecture, the city (市, 区, 郡 and its 町/村), 通 or 上る/下る/
 *                   入る of a Kyoto street name, after 丁目, 番地, 番, 号, 地割 or a hyphen, at a
 *                   space, before the room number that follows a building name;
 *   BREAK_WORDS     anywhere but inside a number or a run of Latin letters and digits.
 * Pango's own rules (no break before 。 or a small kana, ...) and the breaks it makes anyway
 * (pango_breaks()) hold at every level; the levels only take opportunities away
 * (PangoAttrAllowBreaks).
 */
enum breaks { BREAK_PARTS, BREAK_ACCEPTED, BREAK_WORDS };

static bool is_digit_cp(gunichar c)
{
	return (c >= '0' && c <= '9') || (c >= 0xFF10 && c <= 0xFF19);
}

static bool is_alnum_cp(gunichar c)
{
	return is_digit_cp(c) || (c < 0x80 && g_ascii_isalpha((int)c)) || (c >= 0xFF21 && c <= 0xFF3A) ||
	       (c >= 0xFF41 && c <= 0xFF5A);
}

static bool starts(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(end - p) >= n && !memcmp(p, word, n);
}

/* The byte length of the prefecture at the start of town (東京都, 北海道, 京都府, 神奈川県...), or 0. */
static size_t prefecture_len(const char *p, const char *end)
{
	static const char *const three[] = {"東京都", "北海道", "京都府", "大阪府"};
	for (size_t i = 0; i < KG_ARRAY_SIZE(three); i++)
		if (starts(p, end, three[i]))
			return strlen(three[i]);
	const char *q = p;
	for (int chars = 1; chars <= 4 && q < end; chars++) {
		const char *next = g_utf8_next_char(q);
		if (chars >= 3 && starts(q, end, "県"))
			return (size_t)(next - p);
		q = next;
	}
	return 0;
}

/* Whether a break is accepted right after the word ending at p (BREAK_ACCEPTED, outside the
 * town's prefecture and city, which town_breaks() finds). */
static bool accepted_after(const char *from, const char *p)
{
	static const char *const words[] = {"丁目", "番地", "番", "号", "地割", "通", "上る", "下る",
	                                    "入る", "-",    "－", "‐",  "−",    " ",  "　"};
	for (size_t i = 0; i < KG_ARRAY_SIZE(words); i++) {
		size_t n = strlen(words[i]);
		if ((size_t)(p - from) >= n && !memcmp(p - n, words[i], n))
			return true;
	}
	return false;
}

/* Allows a break before p (a byte offset) in the opportunities bitmap. */
static void allow(bool *ok, const char *text, const char *p)
{
	ok[p - text] = true;
}

/* Marks the accepted breaks inside text[start, end): the town's prefecture and city ends (the
 * first value of a text is where an address starts), then the words of accepted_after() and
 * the start of a room number after a name. */
static void accepted_breaks(const char *text, const struct span *sp, bool first, bool *ok)
{
	const char *from = text + sp->start, *end = text + sp->end;
	if (first) {
		size_t pref = prefecture_len(from, end);
		const char *q = from + pref;
		if (pref)
			allow(ok, text, q);
		/* The city: the first 市, 区 or 郡 after at least one character; a ward or a town may follow. */
		for (const char *c = q; c < end; c = g_utf8_next_char(c)) {
			if (c == q || !(starts(c, end, "市") || starts(c, end, "区") || starts(c, end, "郡")))
				continue;
			const char *after = g_utf8_next_char(c);
			allow(ok, text, after);
			for (const char *w = after; w < end && w - after < 18; w = g_utf8_next_char(w))
				if (w != after &&
				    (starts(w, end, "区") || starts(w, end, "町") || starts(w, end, "村"))) {
					allow(ok, text, g_utf8_next_char(w));
					break;
				}
			break;
		}
	}
	for (const char *p = g_utf8_next_char(from); p < end; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p), prev = g_utf8_get_char(g_utf8_prev_char(p));
		if (accepted_after(from, p) || (is_digit_cp(c) && !is_alnum_cp(prev) && prev != '-' && prev != 0xFF0D))
			allow(ok, text, p);
	}
}

/* Marks every break that does not split a run of Latin letters and digits. */
static void word_breaks(const char *text, const struct span *sp, bool *ok)
{
	const char *from = text + sp->start, *end = text + sp->end;
	for (const char *p = g_utf8_next_char(from); p < end; p = g_utf8_next_char(p))
		if (!is_alnum_cp(g_utf8_get_char(p)) || !is_alnum_cp(g_utf8_get_char(g_utf8_prev_char(p))))
			allow(ok, text, p);
}

/*
 * Marks the breaks after a character of Unicode line break class BA (a hyphen, an en dash, a soft
 * hyphen, a Tibetan tsheg...) or ZW (a zero width space). Pango 1.50 (Debian 12) breaks after
 * them even inside a run whose breaks an attribute forbids, and when such a character is followed
 * by a space or another of them it aborts the whole process on an assertion in process_line():
 * one resident's address ("...地‐ 정") would stop a night. With the break allowed there, pango
 * makes the break it would have made anyway and does not abort (tests/unit/test_render.c).
 */
static void pango_breaks(const char *text, const struct span *sp, bool *ok)
{
	const char *from = text + sp->start, *end = text + sp->end;
	for (const char *p = from; p < end; p = g_utf8_next_char(p)) {
		GUnicodeBreakType t = g_unichar_break_type(g_utf8_get_char(p));
		if (t == G_UNICODE_BREAK_AFTER || t == G_UNICODE_BREAK_ZERO_WIDTH_SPACE)
			allow(ok, text, g_utf8_next_char(p));
	}
}

/* Attributes that forbid every break inside each span except those level allows. */
static PangoAttrList *break_attrs(const char *text, const struct spans *spans, enum breaks level)
{
	PangoAttrList *list = pango_attr_list_new();
	size_t len = strlen(text);
	bool *ok = kg_calloc(len + 1, 1);
	for (size_t i = 0; i < spans->n; i++) {
		const struct span *sp = &spans->at[i];
		pango_breaks(text, sp, ok);
		if (level == BREAK_ACCEPTED)
			accepted_breaks(text, sp, i == 0, ok);
		else if (level == BREAK_WORDS)
			word_breaks(text, sp, ok);
		/* One "no break" run per stretch between allowed breaks. */
		size_t run = sp->start;
		for (size_t b = sp->start + 1; b <= sp->end; b++) {
			if (b < sp->end && !ok[b])
				continue;
			PangoAttribute *a = pango_attr_allow_breaks_new(FALSE);
			a->start_index = (guint)run;
			a->end_index = (guint)b;
			pango_attr_list_insert(list, a);
			run = b;
		}
	}
	free(ok);
	return list;
}

/* A text fitted into its box: its layout (at REF_PT), the scale and the offset in the box. */
struct fitted {
	PangoLayout *pl;
	double k, dx, dy;
};

/* The cache key of a text's breaks: where its values lie and the level (the same text may come
 * from other values, e.g. a town one character longer and a block one shorter). */
static void breaks_key(const struct spans *spans, enum breaks level, struct sbuf *key)
{
	sbuf_addf(key, "%d", (int)level);
	for (size_t i = 0; i < spans->n; i++)
		sbuf_addf(key, ";%zu,%zu", spans->at[i].start, spans->at[i].end);
}

/* Fits text into e's box (see "Line breaks" above): the one rule of whether a text fits, for
 * drawing and for layout_check() alike. */
static enum kg_err fit_text(struct layout *l, struct element *e, const char *text, const struct spans *spans,
                            struct fitted *f)
{
	PangoLayout *pl = NULL;
	double w = 0, h = 0, size = e->size;
	bool fit = false, wrap = e->wrap;
	/* Shrink first (a name stays on one line as long as it can), then wrap at the minimum. */
	if (!wrap)
		pl = shaped(l->shapes, e, text, -1, NULL, &w, &h);
	for (; size >= e->min - 1e-6 && !fit; size -= 0.5) {
		if (wrap)
			pl = shaped(l->shapes, e, text, wrap_width(e, size), NULL, &w, &h);
		fit = fits(e, size, w, h);
	}
	size += 0.5; /* the size the loop tried last */
	for (int level = BREAK_PARTS; !fit && !wrap && level <= BREAK_WORDS; level++) {
		struct sbuf key = SBUF_INIT;
		breaks_key(spans, (enum breaks)level, &key);
		enum kg_err err = sbuf_check(&key);
		if (err) {
			sbuf_release(&key);
			return err;
		}
		struct text_breaks brk = {break_attrs(text, spans, (enum breaks)level), key.buf};
		size = e->min;
		pl = shaped(l->shapes, e, text, wrap_width(e, size), &brk, &w, &h);
		pango_attr_list_unref(brk.attrs);
		sbuf_release(&key);
		fit = fits(e, size, w, h) && pango_layout_get_line_count(pl) > 0;
		wrap = fit;
	}
	if (!fit)
		return kg_fail(KG_ERENDER,
		               "%s (line %d): the text does not fit its %.0f x %.0f mm box even at %.1f pt "
		               "wrapped",
		               e->label, e->line, e->w * 25.4 / 72, e->h * 25.4 / 72, e->min);
	if (pango_layout_get_unknown_glyphs_count(pl) > 0)
		return kg_fail(KG_ERENDER, "%s (line %d): a character has no glyph in the pinned fonts", e->label,
		               e->line);
	double k = size / REF_PT, dx = 0, dy = 0;
	if (!wrap) {
		/* Unwrapped layouts have no width to align in: place them by hand. */
		if (e->align == PANGO_ALIGN_CENTER)
			dx = (e->w - w * k) / 2;
		else if (e->align == PANGO_ALIGN_RIGHT)
			dx = e->w - w * k;
	}
	if (e->valign == 1)
		dy = (e->h - h * k) / 2;
	else if (e->valign == 2)
		dy = e->h - h * k;
	*f = (struct fitted){pl, k, dx, dy};
	return KG_OK;
}

static enum kg_err draw_text(struct layout *l, cairo_t *cr, struct element *e, const char *text)
{
	struct fitted f;
	enum kg_err err = fit_text(l, e, text, &l->spans, &f);
	if (err)
		return err;
	if (l->gather && gather(l->gather, f.pl, e->x + f.dx, e->y + f.dy, f.k, e->gray))
		return KG_OK;
	cairo_set_source_rgb(cr, e->gray, e->gray, e->gray);
	cairo_save(cr);
	cairo_translate(cr, e->x + f.dx, e->y + f.dy);
	cairo_scale(cr, f.k, f.k);
	cairo_move_to(cr, 0, 0);
	pango_cairo_show_layout(cr, f.pl);
	cairo_restore(cr);
	return KG_OK;
}

enum kg_err layout_qr(cairo_t *cr, double x, double y, double size, const char *data)
{
	QRcode *q = QRcode_encodeString(data, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!q)
		return kg_fail(KG_ERENDER, "QR code: cannot encode %zu bytes", strlen(data));
	int n = q->width;
	/* Four modules of quiet zone on each side, inside the box. Modules on a quarter-point grid
	 * keep the numbers in the PDF short. */
	double m = floor(size / (n + 8) * 4) / 4;
	if (m < 0.25)
		m = size / (n + 8);
	double x0 = round((x + (size - m * n) / 2) * 4) / 4;
	double y0 = round((y + (size - m * n) / 2) * 4) / 4;
	/* One bit a module (stencil.h): ~n * n / 8 bytes in the PDF, every module's edge sharp. */
	enum kg_err err = stencil_draw(cr, q->data, n, n, x0, y0, m, m);
	QRcode_free(q);
	return err;
}

static void stroke_style(cairo_t *cr, const struct element *e)
{
	static const double dash[] = {2.0, 2.0};
	cairo_set_line_width(cr, e->width);
	cairo_set_dash(cr, dash, e->dash ? 2 : 0, 0);
	cairo_set_source_rgb(cr, 0, 0, 0);
}

/* Whether every character of e's text has a glyph in the pinned fonts. */
static enum kg_err check_glyphs(struct layout *l, const struct element *e, const char *text)
{
	sbuf_reset(&l->missing);
	if (e->kind == E_TEXT && fonts_missing(l->fonts, text, &l->missing))
		return kg_fail(KG_ERENDER, "%s (line %d): no pinned font can draw %s", e->label, e->line,
		               l->missing.buf);
	return KG_OK;
}

/* The text of e for this page, placeholders filled, not yet checked against the fonts. */
static enum kg_err unchecked_text(struct layout *l, struct element *e, const struct layout_values *v, const char **text)
{
	*text = e->text;
	l->spans.n = 0;
	if (!e->variable || !e->text)
		return KG_OK;
	sbuf_reset(&l->text);
	enum kg_err err = expand(e->text, NULL, v, &l->text, NULL, NULL, &l->spans);
	*text = l->text.buf;
	return err;
}

/* The text of e for this page, placeholders filled, checked against the fonts. */
static enum kg_err element_text(struct layout *l, struct element *e, const struct layout_values *v, const char **text)
{
	enum kg_err err = unchecked_text(l, e, v, text);
	return err || !e->variable || !e->text ? err : check_glyphs(l, e, *text);
}

static enum kg_err draw_element(struct layout *l, cairo_t *cr, struct element *e, const struct layout_values *v)
{
	const char *text;
	enum kg_err err = element_text(l, e, v, &text);
	if (err)
		return err;
	switch (e->kind) {
	case E_TEXT: return draw_text(l, cr, e, text);
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

/* A per-resident text on a PDF page: drawn, or painted from its recording when it came back
 * (N_REPEAT above). */
static enum kg_err draw_repeated(struct layout *l, cairo_t *cr, struct element *e, const struct layout_values *v)
{
	const char *text;
	enum kg_err err = unchecked_text(l, e, v, &text);
	if (err)
		return err;
	struct repeat *r = NULL;
	for (int i = 0; i < N_REPEAT && !r; i++)
		if (e->seen[i].text && !strcmp(e->seen[i].text, text))
			r = &e->seen[i];
	/* A text that came back passed the check when it came first. */
	if (!r && (err = check_glyphs(l, e, text)))
		return err;
	if (!r) {
		r = &e->seen[e->next_seen];
		e->next_seen = (e->next_seen + 1) % N_REPEAT;
		free(r->text);
		if (r->rec)
			cairo_surface_destroy(r->rec);
		*r = (struct repeat){kg_strdup(text), NULL, 0};
		return draw_text(l, cr, e, text);
	}
	if (!r->rec) {
		cairo_rectangle_t ext = {0, 0, l->width, l->height};
		cairo_surface_t *rec = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, &ext);
		cairo_t *rc = cairo_create(rec);
		err = draw_text(l, rc, e, text);
		if (!err && cairo_status(rc))
			err = kg_fail(KG_ERENDER, "cairo: %s", cairo_status_to_string(cairo_status(rc)));
		cairo_destroy(rc);
		if (err) {
			cairo_surface_destroy(rec);
			return err;
		}
		r->rec = rec;
	}
	/* Once the file has the recording's form, a placeholder stands for it: cairo analyses a
	 * painted recording again each time (stencil.h, stencil_form()). */
	if (r->form && stencil_form(cr, &r->form))
		return KG_OK;
	cairo_set_source_surface(cr, r->rec, 0, 0);
	cairo_paint(cr);
	if (!r->form)
		stencil_form(cr, &r->form);
	return KG_OK;
}

static bool holds(unsigned need, unsigned have)
{
	return (need & have) == need;
}

enum kg_err layout_text_lines(struct layout *l, const char *label, const struct layout_values *v, struct sbuf *lines)
{
	for (size_t i = 0; i < l->n_el; i++) {
		struct element *e = &l->el[i];
		if (e->kind != E_TEXT || !e->label || strcmp(e->label, label) || !holds(e->when, v->when))
			continue;
		const char *fitted;
		struct fitted f;
		enum kg_err err = element_text(l, e, v, &fitted);
		if (err || (err = fit_text(l, e, fitted, &l->spans, &f)))
			return fail_in(err, l->path);
		const char *text = pango_layout_get_text(f.pl);
		for (GSList *ln = pango_layout_get_lines_readonly(f.pl); ln; ln = ln->next) {
			const PangoLayoutLine *line = ln->data;
			sbuf_add(lines, text + line->start_index, (size_t)line->length);
			sbuf_addc(lines, '\n');
		}
		return sbuf_check(lines);
	}
	return kg_fail(KG_ENOTFOUND, "%s: no text '%s' on this page", l->path, label);
}

unsigned layout_layers(const struct layout *l, const struct layout_values *v)
{
	unsigned set = 0;
	for (int i = 0; i < l->n_layers; i++)
		if (holds(l->layers[i].when, v->when))
			set |= 1u << i;
	return set;
}

enum kg_err layout_draw(struct layout *l, cairo_t *cr, const struct layout_values *v, enum layout_mode mode)
{
	enum kg_err err = KG_OK;
	bool use_recordings = mode != LAYOUT_FRESH;
	if (mode == LAYOUT_RECORDINGS) {
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
		err = use_recordings && e->kind == E_TEXT ? draw_repeated(l, cr, e, v) : draw_element(l, cr, e, v);
	}
	if (!err && cairo_status(cr))
		err = kg_fail(KG_ERENDER, "cairo: %s", cairo_status_to_string(cairo_status(cr)));
	return err ? fail_in(err, l->path) : KG_OK;
}

/*
 * The fit bound. layout_check() holds a record whose name or address would not fit its box, and
 * shaping every name and address of a night to know that was half of the selection's CPU, when
 * nearly all of them fit by far. That is provable without shaping. Pango breaks an unwrapped text
 * into lines only at its newlines, and lays out each character as at most one glyph (HarfBuzz
 * maps a character to the glyph of a font that covers it, a ligature makes fewer); a glyph moves
 * the pen by its advance in the font's metrics, or by at most an em for a space the font lacks
 * (HarfBuzz makes one); no feature the pinned fonts apply by default widens a glyph. So a line
 * of n characters is at most n times the widest advance of any configured font, and a line is at
 * most the tallest line of any of them, leading included (fonts_bounds()). A text whose longest
 * line by that measure fits the box at the smallest size fit_text() tries before it wraps, and
 * its lines fit the height, is found to fit by fit_text() at that size or a larger one, unwrapped
 * (widths and heights scale with the size). Anything else is shaped as before:
 * wrapped paragraphs, and texts with a character outside that reasoning (controls, format
 * characters, combining marks, separators other than a newline; a variation selector counts as
 * a character of its own). tests/unit/test_render.c compares the bound's verdict with the shaped
 * fit over generated names and addresses, wide Latin, half-width kana and rare kanji included.
 */
static bool fits_unshaped(const struct layout *l, const struct element *e, const char *text)
{
	if (e->wrap)
		return false;
	size_t lines = 1, chars = 0, longest = 0;
	for (const char *p = text; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char_validated(p, -1);
		if (c == (gunichar)-1 || c == (gunichar)-2)
			return false;
		if (c == '\n') {
			lines++;
			chars = 0;
			continue;
		}
		bool vs = (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0100 && c <= 0xE01EF);
		switch (g_unichar_type(c)) {
		case G_UNICODE_CONTROL:
		case G_UNICODE_FORMAT:
		case G_UNICODE_UNASSIGNED:
		case G_UNICODE_SURROGATE:
		case G_UNICODE_LINE_SEPARATOR:
		case G_UNICODE_PARAGRAPH_SEPARATOR:
		case G_UNICODE_SPACING_MARK:
		case G_UNICODE_ENCLOSING_MARK:
		case G_UNICODE_NON_SPACING_MARK:
			if (!vs)
				return false;
			break;
		default: break;
		}
		if (++chars > longest)
			longest = chars;
	}
	/* The smallest size fit_text() tries before it wraps: a text that fits there unwrapped is
	 * found to fit at that size or a larger one. */
	double size = e->size - 0.5 * floor((e->size - e->min + 1e-6) / 0.5);
	return (double)longest * l->advance * size <= e->w &&
	       (double)lines * l->line * fmax(e->leading, 1) * size <= e->h;
}

/* The check of one text: by the bound when it settles it (bound true), else shaped. */
static enum kg_err check_text(struct layout *l, struct element *e, const struct layout_values *v, bool bound)
{
	const char *text;
	struct fitted f;
	enum kg_err err = element_text(l, e, v, &text);
	if (err || (bound && fits_unshaped(l, e, text)))
		return err;
	return fit_text(l, e, text, &l->spans, &f);
}

static enum kg_err check(struct layout *l, const struct layout_values *v, bool bound)
{
	enum kg_err err = KG_OK;
	for (size_t i = 0; i < l->n_el && !err; i++) {
		struct element *e = &l->el[i];
		if (e->kind == E_TEXT && e->record_text && holds(e->when, v->when))
			err = check_text(l, e, v, bound);
	}
	return err ? fail_in(err, l->path) : KG_OK;
}

enum kg_err layout_check(struct layout *l, const struct layout_values *v)
{
	return check(l, v, true);
}

enum kg_err layout_check_shaped(struct layout *l, const struct layout_values *v)
{
	return check(l, v, false);
}

bool layout_fits_unshaped(struct layout *l, const struct layout_values *v)
{
	bool all = true;
	for (size_t i = 0; i < l->n_el && all; i++) {
		struct element *e = &l->el[i];
		const char *text;
		if (e->kind == E_TEXT && e->record_text && holds(e->when, v->when))
			all = !element_text(l, e, v, &text) && fits_unshaped(l, e, text);
	}
	return all;
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
	if (!when) {
		/* The paper, as the first thing on the page. cairo analyses a recorded layer again on
		 * every page it is painted on, unioning each operation's extents into a region: after
		 * a first operation that covers the page each union is a containment test instead of
		 * a merge with every box before it (a quarter of the CPU of a set, callgrind). */
		cairo_set_source_rgb(cr, 1, 1, 1);
		cairo_paint(cr);
	}
	/* Lines and boxes are recorded as they come, the text gathered and recorded after them, on
	 * top (a static fill is a background). */
	struct text_groups gg = {.n = 0};
	l->gather = &gg;
	for (size_t i = 0; i < l->n_el && !err; i++)
		if (!l->el[i].variable && l->el[i].when == when)
			err = draw_element(l, cr, &l->el[i], NULL);
	l->gather = NULL;
	show_groups(cr, &gg);
	if (!err && cairo_status(cr))
		err = kg_fail(KG_ERENDER, "cairo: %s", cairo_status_to_string(cairo_status(cr)));
	cairo_destroy(cr);
	l->layers[l->n_layers].when = when;
	l->layers[l->n_layers++].rec = rec;
	return err;
}

/* Forgets the texts e printed (N_REPEAT above). */
static void forget_seen(struct element *e)
{
	for (int i = 0; i < N_REPEAT; i++) {
		free(e->seen[i].text);
		if (e->seen[i].rec)
			cairo_surface_destroy(e->seen[i].rec);
		e->seen[i] = (struct repeat){NULL, NULL, 0};
	}
	e->next_seen = 0;
}

void layout_new_file(struct layout *l)
{
	for (size_t i = 0; i < l->n_el; i++)
		forget_seen(&l->el[i]);
}

static void element_release(struct element *e)
{
	forget_seen(e);
	free(e->text);
	free(e->label);
	if (e->font)
		pango_font_description_free(e->font);
	memset(e, 0, sizeof *e);
}

enum kg_err layout_load(const char *path, const struct settings *s, struct fonts *fonts, PangoContext *pango,
                        struct layout **out)
{
	struct conf *c = NULL;
	struct layout *l = kg_calloc(1, sizeof *l);
	l->path = kg_strdup(path);
	l->fonts = fonts;
	l->shapes = shapes_of(pango);
	fonts_bounds(fonts, &l->advance, &l->line);
	/* A point of text size is resolution / 72 user units (pango's default is 96 dpi). */
	double dpi = pango_cairo_context_get_resolution(pango);
	l->advance *= (dpi > 0 ? dpi : 96) / 72;
	l->line *= (dpi > 0 ? dpi : 96) / 72;
	if (pango_context_get_round_glyph_positions(pango)) /* each glyph may gain up to a unit */
		l->advance = INFINITY;
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
	l->el = kg_calloc(conf_len(els), sizeof *l->el);
	for (size_t i = 0; i < conf_len(els); i++) {
		struct element *e = &l->el[l->n_el];
		err = parse_element(l, s, conf_at(root, "styles"), conf_child(els, i), e);
		l->n_el++;
		if (err)
			goto out;
		/* "when: postage" holds for every page or for none: keep the element without it, or
		 * drop it now. */
		if (e->when & LAYOUT_WHEN_POSTAGE) {
			e->when &= ~(unsigned)LAYOUT_WHEN_POSTAGE;
			if (!s || !s->postage_class || !*s->postage_class)
				element_release(&l->el[--l->n_el]);
		}
	}
	/* One recording per distinct condition set of static elements: the unconditional one first
	 * (it carries the paper), then in first-use order. */
	for (size_t i = 0; i < l->n_el && !err; i++)
		if (!l->el[i].variable && !l->el[i].when) {
			err = record_layer(l, 0);
			break;
		}
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
	for (size_t i = 0; i < l->n_el; i++)
		element_release(&l->el[i]);
	free(l->el);
	for (int i = 0; i < l->n_layers; i++)
		cairo_surface_destroy(l->layers[i].rec);
	sbuf_release(&l->text);
	sbuf_release(&l->missing);
	free(l->spans.at);
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
