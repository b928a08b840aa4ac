/*
 * naive_baseline: the yardstick "what a developer writes first" of the render benchmark
 * (scripts/bench-render.sh): kigen's mail sets from the same templates (the YAML files of templates/, read
 * with kigen's YAML reader, conf.h) and the same residents (the TSV of `render_bench values`),
 * drawn the straightforward way with cairo and pango: one PDF per document, a page per piece,
 * every element of the template drawn afresh on every page, each text through a new
 * PangoLayout (shrunk to fit its box as kigen does), QR codes (libqrencode) and the customer
 * barcode as one rectangle per module or bar, one process.
 *
 *   naive_baseline TEMPLATES_DIR VALUES.tsv OUTDIR   writes OUTDIR/{sheets,inner,outer}.pdf
 */
#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define MM(x) ((x)*72.0 / 25.4)
#define MAX_KEYS 32

struct page { /* one line of the TSV: KEY=VALUE pairs */
	char *key[MAX_KEYS], *value[MAX_KEYS];
	int n;
};

static const char *get(const struct page *p, const char *key)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->key[i], key))
			return p->value[i];
	return NULL;
}

/* Undoes the values' escapes (\\, \t, \n) in place. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++)
		*out++ = *s == '\\' && s[1] ? (++s, *s == 't' ? '\t' : *s == 'n' ? '\n' : *s) : *s;
	*out = '\0';
}

static void parse_line(char *line, struct page *p)
{
	p->n = 0;
	line[strcspn(line, "\n")] = '\0';
	for (char *f = strtok(line, "\t"); f && p->n < MAX_KEYS; f = strtok(NULL, "\t")) {
		char *eq = strchr(f, '=');
		if (!eq)
			continue;
		*eq = '\0';
		unescape(eq + 1);
		p->key[p->n] = f;
		p->value[p->n++] = eq + 1;
	}
}

/* An attribute of an element, else of its style. */
static const char *attr(const struct conf *tpl, const struct conf_node *el, const char *key, const char *def)
{
	const char *v = conf_get_str(el, key, NULL);
	const char *style = conf_get_str(el, "style", NULL);
	if (!v && style) {
		char path[128];
		snprintf(path, sizeof path, "styles.%s.%s", style, key);
		v = conf_get_str(conf_root(tpl), path, NULL);
	}
	return v ? v : def;
}

static double num(const struct conf *tpl, const struct conf_node *el, const char *key, double def)
{
	const char *v = attr(tpl, el, key, NULL);
	return v ? strtod(v, NULL) : def;
}

static void nums(const struct conf_node *n, double *out, int count)
{
	for (int i = 0; i < count; i++)
		out[i] = strtod(conf_str(conf_child(n, (size_t)i)), NULL);
}

static unsigned when_bits(const struct conf_node *n)
{
	static const char *const names[] = {"card",      "cert", "notice", "reinquiry", "sign",  "nosign", "barcode",
	                                    "nobarcode", "jlis", "nojlis", "revoked",   "minor", "postage"};
	unsigned bits = 0;
	size_t count = !n ? 0 : conf_is_seq(n) ? conf_len(n) : 1;
	for (size_t i = 0; i < count; i++) {
		const char *s = conf_str(conf_is_seq(n) ? conf_child(n, i) : n);
		for (unsigned k = 0; k < sizeof names / sizeof *names; k++)
			if (s && !strcmp(s, names[k]))
				bits |= 1u << k;
	}
	return bits;
}

/* Fills {placeholders} from the page, then from the settings line. */
static void expand(const char *in, const struct page *v, const struct page *settings, char *out, size_t size)
{
	size_t n = 0;
	while (*in && n + 1 < size) {
		const char *close = *in == '{' ? strchr(in, '}') : NULL;
		if (close) {
			char key[64];
			snprintf(key, sizeof key, "%.*s", (int)(close - in - 1), in + 1);
			const char *val = get(v, key) ? get(v, key) : get(settings, key);
			n += (size_t)snprintf(out + n, size - n, "%s", val ? val : "");
			if (n >= size)
				n = size - 1;
			in = close + 1;
		} else {
			out[n++] = *in++;
		}
	}
	out[n] = '\0';
}

static void text(cairo_t *cr, const struct conf *tpl, const struct conf_node *el, const char *s)
{
	static const struct {
		const char *alias, *family;
	} fams[] = {{"gothic", "IPAexGothic"},
	            {"mincho", "IPAexMincho"},
	            {"mj", "IPAmjMincho"},
	            {"multi", "WenQuanYi Zen Hei"}};
	double box[4];
	nums(conf_at(el, "box"), box, 4);
	double x = MM(box[0]), y = MM(box[1]), w = MM(box[2]), h = MM(box[3]);
	double size = num(tpl, el, "size", 10), min = num(tpl, el, "min", size * 0.7);
	const char *font = attr(tpl, el, "font", "gothic"), *align = attr(tpl, el, "align", "left");
	const char *valign = attr(tpl, el, "valign", "top"), *wrap = attr(tpl, el, "wrap", "false");
	const char *family = "IPAexGothic";
	for (int i = 0; i < 4; i++)
		if (!strcmp(font, fams[i].alias))
			family = fams[i].family;
	PangoLayout *l = pango_cairo_create_layout(cr);
	pango_cairo_context_set_resolution(pango_layout_get_context(l), 72); /* sizes in points */
	pango_layout_context_changed(l);
	PangoFontDescription *fd = pango_font_description_new();
	pango_font_description_set_family(fd, family);
	pango_layout_set_text(l, s, -1);
	pango_layout_set_line_spacing(l, (float)num(tpl, el, "leading", 1.0));
	pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
	if (!strcmp(wrap, "true"))
		pango_layout_set_width(l, (int)(w * PANGO_SCALE));
	PangoRectangle log;
	for (;; size -= 0.5) { /* shrink until it fits, then wrap at the minimum */
		pango_font_description_set_size(fd, (int)(size * PANGO_SCALE));
		pango_layout_set_font_description(l, fd);
		pango_layout_get_extents(l, NULL, &log);
		if ((log.width <= w * PANGO_SCALE && log.height <= h * PANGO_SCALE) || size - 0.5 < min)
			break;
	}
	if (log.width > w * PANGO_SCALE) {
		pango_layout_set_width(l, (int)(w * PANGO_SCALE));
		pango_layout_get_extents(l, NULL, &log);
	}
	double dx = 0, dy = 0;
	if (!strcmp(align, "center"))
		dx = (w - (double)log.width / PANGO_SCALE) / 2;
	else if (!strcmp(align, "right"))
		dx = w - (double)log.width / PANGO_SCALE;
	if (!strcmp(valign, "middle"))
		dy = (h - (double)log.height / PANGO_SCALE) / 2;
	else if (!strcmp(valign, "bottom"))
		dy = h - (double)log.height / PANGO_SCALE;
	double gray = num(tpl, el, "gray", 0);
	cairo_set_source_rgb(cr, gray, gray, gray);
	cairo_move_to(cr, x + dx, y + dy);
	pango_cairo_show_layout(cr, l);
	pango_font_description_free(fd);
	g_object_unref(l);
}

static void qr(cairo_t *cr, const struct conf_node *el, const char *data)
{
	double box[4];
	nums(conf_at(el, "box"), box, 4);
	QRcode *q = QRcode_encodeString(data, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!q)
		return;
	double size = MM(box[2] < box[3] ? box[2] : box[3]), m = size / (q->width + 8);
	for (int r = 0; r < q->width; r++)
		for (int c = 0; c < q->width; c++)
			if (q->data[r * q->width + c] & 1)
				cairo_rectangle(cr, MM(box[0]) + (c + 4) * m, MM(box[1]) + (r + 4) * m, m, m);
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_fill(cr);
	QRcode_free(q);
}

static void barcode(cairo_t *cr, const struct conf *tpl, const struct conf_node *el, const char *bars)
{
	double at[2];
	nums(conf_at(el, "barcode"), at, 2);
	double k = MM(num(tpl, el, "size", 10) / 10);
	for (int i = 0; bars[i]; i++) {
		double top = strchr("FA", bars[i]) ? 0 : 1.2;
		double h = bars[i] == 'F' ? 3.6 : bars[i] == 'T' ? 1.2 : 2.4;
		cairo_rectangle(cr, MM(at[0]) + i * 1.2 * k, MM(at[1]) + top * k, 0.6 * k, h * k);
	}
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_fill(cr);
}

static void shapes(cairo_t *cr, const struct conf *tpl, const struct conf_node *el)
{
	static const double dash[] = {2.0, 2.0};
	const struct conf_node *n;
	double v[4], width = MM(num(tpl, el, "width", 0.3)), fill = num(tpl, el, "fill", -1);
	const char *d = conf_get_str(el, "dash", "false");
	cairo_set_line_width(cr, width);
	cairo_set_dash(cr, dash, !strcmp(d, "true") ? 2 : 0, 0);
	if ((n = conf_at(el, "line"))) {
		nums(n, v, 4);
		cairo_move_to(cr, MM(v[0]), MM(v[1]));
		cairo_line_to(cr, MM(v[2]), MM(v[3]));
		cairo_set_source_rgb(cr, 0, 0, 0);
		cairo_stroke(cr);
		return;
	}
	n = conf_at(el, "rect") ? conf_at(el, "rect") : conf_at(el, "boxes");
	nums(n, v, 4);
	int count = conf_at(el, "boxes") ? (int)num(tpl, el, "count", 4) : 1;
	for (int i = 0; i < count; i++)
		cairo_rectangle(cr, MM(v[0]) + i * MM(v[2]) / count, MM(v[1]), MM(v[2]) / count, MM(v[3]));
	if (fill >= 0) {
		cairo_set_source_rgb(cr, fill, fill, fill);
		cairo_fill_preserve(cr);
	}
	cairo_set_source_rgb(cr, 0, 0, 0);
	if (width > 0)
		cairo_stroke(cr);
	cairo_new_path(cr);
}

static void page(cairo_t *cr, const struct conf *tpl, const struct page *v, const struct page *settings)
{
	const struct conf_node *root = conf_root(tpl), *els = conf_at(root, "elements");
	cairo_pdf_surface_set_size(cairo_get_target(cr), MM(strtod(conf_get_str(root, "page.width", "210"), NULL)),
	                           MM(strtod(conf_get_str(root, "page.height", "297"), NULL)));
	/* "postage" holds on every page or none: when the settings have a postage mark. */
	const char *postage = get(settings, "postage_class");
	unsigned when = (unsigned)strtoul(get(v, "when"), NULL, 10) | (postage && *postage ? 0x1000 : 0);
	static char buf[8192];
	for (size_t i = 0; i < conf_len(els); i++) {
		const struct conf_node *el = conf_child(els, i);
		unsigned need = when_bits(conf_at(el, "when"));
		if ((need & when) != need)
			continue;
		const char *s;
		if ((s = conf_get_str(el, "text", NULL))) {
			expand(s, v, settings, buf, sizeof buf);
			text(cr, tpl, el, buf);
		} else if ((s = conf_get_str(el, "qr", NULL))) {
			expand(s, v, settings, buf, sizeof buf);
			qr(cr, el, buf);
		} else if (conf_at(el, "barcode")) {
			if (*get(v, "barcode"))
				barcode(cr, tpl, el, get(v, "barcode"));
		} else {
			shapes(cr, tpl, el);
		}
	}
	cairo_show_page(cr);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: naive_baseline TEMPLATES_DIR VALUES.tsv OUTDIR\n");
		return 2;
	}
	static const char *const docs[] = {"sheets", "inner", "outer"};
	static const char *const tpl_files[] = {"notice-card.yaml", "notice-cert.yaml",    "application.yaml",
	                                        "form.yaml",        "envelope-inner.yaml", "envelope-outer.yaml"};
	enum { N_TPL = sizeof tpl_files / sizeof *tpl_files };
	struct conf *tpl[N_TPL];
	static char path[4096], settings_line[16384], line[16384];
	for (int t = 0; t < N_TPL; t++) {
		snprintf(path, sizeof path, "%s/%s", argv[1], tpl_files[t]);
		if (conf_load(path, &tpl[t])) {
			fprintf(stderr, "naive_baseline: %s: %s\n", path, kg_last_message());
			return 1;
		}
	}
	FILE *in = fopen(argv[2], "r");
	if (!in || !fgets(settings_line, sizeof settings_line, in)) {
		perror(argv[2]);
		return 1;
	}
	struct page settings, v;
	parse_line(settings_line, &settings);
	cairo_surface_t *pdf = NULL;
	cairo_t *cr = NULL;
	int doc = -1;
	while (fgets(line, sizeof line, in)) {
		parse_line(line, &v);
		int d = 0, t = 0;
		while (d < 3 && strcmp(docs[d], get(&v, "doc") ? get(&v, "doc") : ""))
			d++;
		while (t < N_TPL && strcmp(tpl_files[t], get(&v, "template") ? get(&v, "template") : ""))
			t++;
		if (d == 3 || t == N_TPL || !get(&v, "when") || !get(&v, "barcode")) {
			fprintf(stderr, "naive_baseline: %s: a bad line\n", argv[2]);
			return 1;
		}
		if (d != doc) { /* the next document: its own file */
			if (cr) {
				cairo_destroy(cr);
				cairo_surface_destroy(pdf);
			}
			snprintf(path, sizeof path, "%s/%s.pdf", argv[3], docs[d]);
			pdf = cairo_pdf_surface_create(path, MM(210), MM(297));
			cr = cairo_create(pdf);
			doc = d;
		}
		page(cr, tpl[t], &v, &settings);
	}
	fclose(in);
	if (cr) {
		cairo_destroy(cr);
		cairo_surface_finish(pdf);
		if (cairo_surface_status(pdf)) {
			fprintf(stderr, "naive_baseline: %s\n", cairo_status_to_string(cairo_surface_status(pdf)));
			return 1;
		}
		cairo_surface_destroy(pdf);
	}
	for (int i = 0; i < N_TPL; i++)
		conf_free(tpl[i]);
	return 0;
}
