/*
 * test_pdfx.c: the finishing step on PDFs that cairo draws here in colour, read back with qpdf's
 * C API (not the C++ code under test): colours become gray by the PDF's own formula, RGB images
 * become gray, page groups go or blend in gray, every page gets a TrimBox, the file an /ID,
 * the same input gives the same bytes, and what cannot be made gray is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <qpdf/qpdf-c.h>

#include "pdfx.h"
#include "stencil.h"

#include "banned.h"

struct mem {
	char *buf;
	size_t len;
};

static cairo_status_t to_mem(void *closure, const unsigned char *data, unsigned int len)
{
	FILE *fp = closure;
	return fwrite(data, 1, len, fp) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* A two-page PDF in colour: page 1 a red fill, a mid-gray stroke and a red 4x4 RGB image;
 * page 2 a blue fill painted through a half-transparent group. With gradient, page 1 also
 * gets a linear gradient (a shading, which has no gray equivalent here). */
static struct mem colour_pdf(int gradient)
{
	struct mem m = {NULL, 0};
	FILE *fp = open_memstream(&m.buf, &m.len);
	cairo_surface_t *pdf = cairo_pdf_surface_create_for_stream(to_mem, fp, 200, 300);
	cairo_t *cr = cairo_create(pdf);
	cairo_set_source_rgb(cr, 1, 0, 0);
	cairo_rectangle(cr, 10, 10, 50, 50);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
	cairo_move_to(cr, 10, 100);
	cairo_line_to(cr, 100, 100);
	cairo_stroke(cr);
	cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 4, 4);
	cairo_t *ic = cairo_create(img);
	cairo_set_source_rgb(ic, 1, 0, 0);
	cairo_paint(ic);
	cairo_destroy(ic);
	cairo_set_source_surface(cr, img, 100, 150);
	cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
	cairo_paint(cr);
	cairo_surface_destroy(img);
	if (gradient) {
		cairo_pattern_t *g = cairo_pattern_create_linear(0, 0, 100, 0);
		cairo_pattern_add_color_stop_rgb(g, 0, 1, 0, 0);
		cairo_pattern_add_color_stop_rgb(g, 1, 0, 0, 1);
		cairo_set_source(cr, g);
		cairo_rectangle(cr, 0, 200, 100, 50);
		cairo_fill(cr);
		cairo_pattern_destroy(g);
	}
	cairo_show_page(cr);
	cairo_push_group(cr);
	cairo_set_source_rgb(cr, 0, 0, 1);
	cairo_rectangle(cr, 20, 20, 80, 80);
	cairo_fill(cr);
	cairo_pop_group_to_source(cr);
	cairo_paint_with_alpha(cr, 0.5);
	cairo_show_page(cr);
	cairo_destroy(cr);
	cairo_surface_destroy(pdf);
	fclose(fp);
	return m;
}

static struct mem finish(struct mem in, enum kg_err *err)
{
	struct mem out = {NULL, 0};
	FILE *fp = open_memstream(&out.buf, &out.len);
	*err = pdfx_finish(in.buf, in.len, PDFX_NONE, NULL, 0, fp, "test.pdf");
	fclose(fp);
	return out;
}

/* The decoded content of page i of q as a NUL-terminated string (caller frees). */
static char *page_content(qpdf_data q, int i)
{
	unsigned char *data = NULL;
	size_t len = 0;
	assert_int_equal(qpdf_oh_get_page_content_data(q, qpdf_get_page_n(q, (size_t)i), &data, &len), 0);
	char *s = malloc(len + 1);
	memcpy(s, data, len);
	s[len] = '\0';
	free(data);
	return s;
}

static void test_colours_images_groups_trimbox_and_id_become_print_ready(void **state)
{
	(void)state;
	struct mem in = colour_pdf(0);
	enum kg_err err;
	struct mem out = finish(in, &err);
	assert_int_equal(err, KG_OK);

	qpdf_data q = qpdf_init();
	assert_int_equal(qpdf_read_memory(q, "out.pdf", out.buf, (unsigned long long)out.len, NULL), 0);
	assert_int_equal(qpdf_get_num_pages(q), 2);

	char *c1 = page_content(q, 0), *c2 = page_content(q, 1);
	/* Red is 0.30 gray (0.30 R + 0.59 G + 0.11 B), the neutral 0.5 stays 0.5, nothing in RGB. */
	assert_non_null(strstr(c1, "0.3 g"));
	assert_non_null(strstr(c1, "0.5 G"));
	assert_null(strstr(c1, " rg"));
	assert_null(strstr(c1, " RG"));
	assert_null(strstr(c2, " rg"));
	free(c1);
	free(c2);

	for (int i = 0; i < 2; i++) {
		qpdf_oh page = qpdf_get_page_n(q, (size_t)i);
		assert_true(qpdf_oh_has_key(q, page, "/TrimBox"));
		assert_string_equal(qpdf_oh_unparse(q, qpdf_oh_get_key(q, page, "/TrimBox")),
		                    qpdf_oh_unparse(q, qpdf_oh_get_key(q, page, "/MediaBox")));
	}
	/* Page 1 uses no transparency: its group is gone. Page 2's group blends in gray. */
	assert_false(qpdf_oh_has_key(q, qpdf_get_page_n(q, 0), "/Group"));
	qpdf_oh group = qpdf_oh_get_key(q, qpdf_get_page_n(q, 1), "/Group");
	assert_true(qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, group, "/CS"), "/DeviceGray"));

	/* The red image is gray now, each pixel (30*255 + 50) / 100 = 77. */
	qpdf_oh xo = qpdf_oh_get_key(q, qpdf_oh_get_key(q, qpdf_get_page_n(q, 0), "/Resources"), "/XObject");
	int images = 0;
	qpdf_oh_begin_dict_key_iter(q, xo);
	while (qpdf_oh_dict_more_keys(q)) {
		qpdf_oh x = qpdf_oh_get_key(q, xo, qpdf_oh_dict_next_key(q));
		qpdf_oh d = qpdf_oh_get_dict(q, x);
		if (!qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, d, "/Subtype"), "/Image"))
			continue;
		images++;
		assert_true(qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, d, "/ColorSpace"), "/DeviceGray"));
		unsigned char *px = NULL;
		size_t n = 0;
		assert_int_equal(qpdf_oh_get_stream_data(q, x, qpdf_dl_all, NULL, &px, &n), 0);
		assert_int_equal(n, 16);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(px[k], 77);
		free(px);
	}
	assert_int_equal(images, 1);

	assert_true(qpdf_oh_is_array(q, qpdf_oh_get_key(q, qpdf_get_trailer(q), "/ID")));
	qpdf_cleanup(&q);

	/* The same input, the same bytes (the /ID is computed, not random). */
	struct mem again = finish(in, &err);
	assert_int_equal(err, KG_OK);
	assert_int_equal(again.len, out.len);
	assert_memory_equal(again.buf, out.buf, out.len);
	free(again.buf);
	free(out.buf);
	free(in.buf);
}

/* A one-page PDF written by hand around content (cairo writes no strings of its own choice). */
static struct mem hand_pdf(const char *content)
{
	struct mem m = {NULL, 0};
	FILE *fp = open_memstream(&m.buf, &m.len);
	long off[5];
	fprintf(fp, "%%PDF-1.4\n");
	off[1] = ftell(fp);
	fprintf(fp, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
	off[2] = ftell(fp);
	fprintf(fp, "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
	off[3] = ftell(fp);
	fprintf(fp, "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 300] /Contents 4 0 R "
	            "/Resources << >> >>\nendobj\n");
	off[4] = ftell(fp);
	fprintf(fp, "4 0 obj\n<< /Length %zu >>\nstream\n%s\nendstream\nendobj\n", strlen(content), content);
	long xref = ftell(fp);
	fprintf(fp, "xref\n0 5\n0000000000 65535 f \n");
	for (int i = 1; i < 5; i++)
		fprintf(fp, "%010ld 00000 n \n", off[i]);
	fprintf(fp, "trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%ld\n%%%%EOF\n", xref);
	fclose(fp);
	return m;
}

/* The gray filter cuts the content into tokens itself (pdfx.h): the words of a colour operator
 * inside a string (with nested and escaped parentheses), a hex string or a comment are text and
 * stay byte for byte; only the operators become gray. An inline image is refused. */
static void test_colour_words_in_strings_and_comments_are_not_operators(void **state)
{
	(void)state;
	static const char text[] = "BT (a (nested\\) 1 0 0 rg) \\(0 0 1 rg) Tj <31203020302072 67> Tj ET\n"
				   "% 0 1 0 rg in a comment\n"
				   "[2 1] 0 d /DeviceGray cs 0.5 0.5 0.5 rg";
	char content[256], want[256];
	snprintf(content, sizeof content, "1 0 0 rg 0 0 1 RG\n%s", text);
	/* the last operator is neutral: its value stays */
	snprintf(want, sizeof want, "0.3 g 0.11 G\n%.*s0.5 g", (int)(strlen(text) - strlen("0.5 0.5 0.5 rg")), text);
	struct mem in = hand_pdf(content);
	enum kg_err err;
	struct mem out = finish(in, &err);
	assert_int_equal(err, KG_OK);
	qpdf_data q = qpdf_init();
	assert_int_equal(qpdf_read_memory(q, "out.pdf", out.buf, (unsigned long long)out.len, NULL), 0);
	char *got = page_content(q, 0);
	assert_string_equal(got, want);
	free(got);
	qpdf_cleanup(&q);
	free(out.buf);
	free(in.buf);

	in = hand_pdf("q BI /W 8 /H 1 /BPC 1 /IM true ID \x80 EI Q");
	out = finish(in, &err);
	assert_int_equal(err, KG_ERENDER);
	assert_non_null(strstr(kg_last_message(), "an inline image"));
	free(out.buf);
	free(in.buf);
}

static void test_a_gradient_is_refused_not_passed_on_in_colour(void **state)
{
	(void)state;
	struct mem in = colour_pdf(1);
	enum kg_err err;
	struct mem out = finish(in, &err);
	assert_int_equal(err, KG_ERENDER);
	assert_non_null(strstr(kg_last_message(), "not gray"));
	free(out.buf);
	free(in.buf);
}

/* A recording of a page (200 x 300) with a gray box on it, into *rec; a context drawing on it. */
static cairo_t *gray_box_recording(cairo_surface_t **rec, double gray, double x, double y, double w, double h)
{
	cairo_rectangle_t ext = {0, 0, 200, 300};
	*rec = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, &ext);
	cairo_t *rc = cairo_create(*rec);
	cairo_set_source_rgb(rc, gray, gray, gray);
	cairo_rectangle(rc, x, y, w, h);
	cairo_fill(rc);
	return rc;
}

/* Two pages of one template: page 1 paints the static layer (a recording: a gray box and a
 * line), page 2 only its own red box, leaving the layer to pdfx_finish (struct pdfx_page). */
static struct mem layered_pdf(void)
{
	struct mem m = {NULL, 0};
	FILE *fp = open_memstream(&m.buf, &m.len);
	cairo_surface_t *rec;
	cairo_t *rc = gray_box_recording(&rec, 0.9, 10, 10, 100, 20);
	cairo_set_source_rgb(rc, 0, 0, 0);
	cairo_move_to(rc, 10, 50);
	cairo_line_to(rc, 190, 50);
	cairo_stroke(rc);
	cairo_destroy(rc);
	cairo_surface_t *pdf = cairo_pdf_surface_create_for_stream(to_mem, fp, 200, 300);
	cairo_t *cr = cairo_create(pdf);
	for (int page = 0; page < 2; page++) {
		if (page == 0) {
			cairo_set_source_surface(cr, rec, 0, 0);
			cairo_paint(cr);
		}
		cairo_set_source_rgb(cr, 1, 0, 0);
		cairo_rectangle(cr, 20, 100 + 50 * page, 30, 30);
		cairo_fill(cr);
		cairo_show_page(cr);
	}
	cairo_destroy(cr);
	cairo_surface_destroy(pdf);
	cairo_surface_destroy(rec);
	fclose(fp);
	return m;
}

static struct mem finish_planned(struct mem in, const struct pdfx_page *plan, size_t n, enum kg_err *err)
{
	struct mem out = {NULL, 0};
	FILE *fp = open_memstream(&out.buf, &out.len);
	*err = pdfx_finish(in.buf, in.len, PDFX_NONE, plan, n, fp, "test.pdf");
	fclose(fp);
	return out;
}

/* The two pages of in finished by plan (into *out), read back by qpdf; the one XObject page 1
 * names, into *xo1 (its /XObject dictionary) and name. */
static qpdf_data read_planned(struct mem in, const struct pdfx_page *plan, struct mem *out, qpdf_oh *xo1, char name[64])
{
	enum kg_err err;
	*out = finish_planned(in, plan, 2, &err);
	assert_int_equal(err, KG_OK);
	qpdf_data q = qpdf_init();
	assert_int_equal(qpdf_read_memory(q, "out.pdf", out->buf, (unsigned long long)out->len, NULL), 0);
	*xo1 = qpdf_oh_get_key(q, qpdf_oh_get_key(q, qpdf_get_page_n(q, 0), "/Resources"), "/XObject");
	qpdf_oh_begin_dict_key_iter(q, *xo1);
	assert_true(qpdf_oh_dict_more_keys(q));
	snprintf(name, 64, "%s", qpdf_oh_dict_next_key(q));
	assert_false(qpdf_oh_dict_more_keys(q));
	return q;
}

static void test_a_page_draws_the_static_layers_of_an_earlier_page_by_reference(void **state)
{
	(void)state;
	struct mem in = layered_pdf();
	static const struct pdfx_page plan[] = {{.layers = 1, .same_as = -1}, {.layers = 0, .same_as = 0}};
	enum kg_err err;
	struct mem out;
	qpdf_oh xo1;
	char name[64];
	qpdf_data q = read_planned(in, plan, &out, &xo1, name);
	/* Page 1 draws its layer as its one form XObject; page 2 draws the very same object, under
	 * the name /kg + its name, in a q/Q pair in front of its own content, and stays gray. */
	char kg[70];
	snprintf(kg, sizeof kg, "/kg%s", name + 1);
	qpdf_oh xo2 = qpdf_oh_get_key(q, qpdf_oh_get_key(q, qpdf_get_page_n(q, 1), "/Resources"), "/XObject");
	assert_true(qpdf_oh_has_key(q, xo2, kg));
	assert_true(qpdf_oh_get_object_id(q, qpdf_oh_get_key(q, xo1, name)) > 0);
	assert_int_equal(qpdf_oh_get_object_id(q, qpdf_oh_get_key(q, xo2, kg)),
	                 qpdf_oh_get_object_id(q, qpdf_oh_get_key(q, xo1, name)));
	char *c2 = page_content(q, 1);
	assert_int_equal(strncmp(c2, "q\n", 2), 0);
	char use[80];
	snprintf(use, sizeof use, "%s Do", kg);
	assert_non_null(strstr(c2, use));
	assert_non_null(strstr(c2, "\nQ\n"));
	assert_true(strstr(c2, "\nQ\n") > strstr(c2, use));
	assert_null(strstr(c2, " rg"));
	free(c2);
	qpdf_cleanup(&q);
	free(out.buf);

	/* A page cannot reuse a later page's layers, and the plan must cover every page. */
	static const struct pdfx_page later[] = {{.layers = 0, .same_as = 1}, {.layers = 1, .same_as = -1}};
	out = finish_planned(in, later, 2, &err);
	assert_int_equal(err, KG_ERENDER);
	free(out.buf);
	out = finish_planned(in, plan, 1, &err);
	assert_int_equal(err, KG_ERENDER);
	free(out.buf);
	/* A page said to paint a layer it does not paint is refused, not finished without it. */
	static const struct pdfx_page missing[] = {{.layers = 2, .same_as = -1}, {.layers = 0, .same_as = 0}};
	out = finish_planned(in, missing, 2, &err);
	assert_int_equal(err, KG_ERENDER);
	free(out.buf);
	free(in.buf);
}

/* The stencils a sink took (stencil.h), as pdfx_finish takes them. */
struct taken {
	unsigned char bits[3][16];
	struct pdfx_mask mask[3];
	int n, page_first;
};

static int take(void *ctx, const unsigned char *bits, int width, int height)
{
	struct taken *t = ctx;
	size_t size = (size_t)(width + 7) / 8 * (size_t)height;
	assert_true(t->n < 3 && size <= sizeof t->bits[0]);
	memcpy(t->bits[t->n], bits, size);
	t->mask[t->n] = (struct pdfx_mask){.width = width, .height = height, .bits = t->bits[t->n]};
	return t->n++ - t->page_first;
}

static int take_form(void *ctx, long form, bool first)
{
	struct taken *t = ctx;
	assert_true(t->n < 3);
	t->mask[t->n] = (struct pdfx_mask){.form = form, .first = first};
	return t->n++ - t->page_first;
}

/* A page that paints a recording (a gray box) as cairo's form XObject and marks it as a form (the
 * surface's first: 1), then a page that paints only that form's placeholder. */
static void test_a_form_placeholder_draws_the_form_of_an_earlier_page_in_its_place(void **state)
{
	(void)state;
	struct taken t = {.n = 0};
	struct mem in = {NULL, 0};
	FILE *fp = open_memstream(&in.buf, &in.len);
	cairo_surface_t *pdf = cairo_pdf_surface_create_for_stream(to_mem, fp, 200, 300);
	struct stencil_sink sink = {.take = take, .take_form = take_form, .ctx = &t};
	assert_int_equal(stencil_set_sink(pdf, &sink), KG_OK);
	cairo_surface_t *rec;
	cairo_t *rc = gray_box_recording(&rec, 0.5, 20, 30, 40, 50);
	cairo_destroy(rc);
	cairo_t *cr = cairo_create(pdf);
	cairo_set_source_surface(cr, rec, 0, 0);
	cairo_paint(cr);
	long form = 0;
	assert_true(stencil_form(cr, &form));
	assert_int_equal(form, 1);
	cairo_show_page(cr);
	t.page_first = t.n;
	assert_true(stencil_form(cr, &form));
	assert_int_equal(form, 1);
	cairo_show_page(cr);
	cairo_destroy(cr);
	cairo_surface_destroy(pdf);
	cairo_surface_destroy(rec);
	fclose(fp);
	assert_int_equal(t.n, 2);

	struct pdfx_page plan[] = {{.layers = 0, .same_as = -1, .masks = t.mask, .n_masks = 1},
	                           {.layers = 0, .same_as = -1, .masks = t.mask + 1, .n_masks = 1}};
	enum kg_err err;
	struct mem out;
	qpdf_oh xo1;
	char name[64];
	qpdf_data q = read_planned(in, plan, &out, &xo1, name);
	/* Page 1 keeps its form and loses the placeholder; page 2 draws the same form object where
	 * the placeholder was, with the placeholder's matrix undone first. */
	qpdf_oh xo2 = qpdf_oh_get_key(q, qpdf_oh_get_key(q, qpdf_get_page_n(q, 1), "/Resources"), "/XObject");
	qpdf_oh form_oh = qpdf_oh_get_key(q, xo1, name);
	assert_true(
		qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, qpdf_oh_get_dict(q, form_oh), "/Subtype"), "/Form"));
	assert_int_equal(qpdf_oh_get_object_id(q, qpdf_oh_get_key(q, xo2, "/kgf1")), qpdf_oh_get_object_id(q, form_oh));
	char *c1 = page_content(q, 0), *c2 = page_content(q, 1);
	assert_non_null(strstr(c1, name));
	assert_null(strstr(c1, "/kgf1"));
	assert_non_null(strstr(c2, "Q q /kgf1 Do"));
	free(c1);
	free(c2);
	qpdf_cleanup(&q);
	free(out.buf);

	/* A placeholder for a form no earlier page showed is refused, not left out. */
	t.mask[0].first = false;
	out = finish_planned(in, plan, 2, &err);
	assert_int_equal(err, KG_ERENDER);
	assert_non_null(strstr(kg_last_message(), "a form's placeholder before its form"));
	free(out.buf);
	free(in.buf);
}

/* Page 1: a 3 x 2 grid and a 9 x 1 grid (a row longer than a byte); page 2: the 3 x 2 grid again
 * elsewhere. With t, the stencils go to a sink (placeholders in the PDF), else cairo draws them
 * as image masks. */
static struct mem stencil_pdf(struct taken *t)
{
	static const unsigned char a[] = {1, 0, 1, 0, 1, 1}, b[] = {1, 1, 0, 0, 0, 0, 0, 1, 1};
	struct mem m = {NULL, 0};
	FILE *fp = open_memstream(&m.buf, &m.len);
	cairo_surface_t *pdf = cairo_pdf_surface_create_for_stream(to_mem, fp, 200, 300);
	struct stencil_sink sink = {.take = take, .ctx = t};
	if (t)
		assert_int_equal(stencil_set_sink(pdf, &sink), KG_OK);
	cairo_t *cr = cairo_create(pdf);
	assert_int_equal(stencil_draw(cr, a, 3, 2, 10, 20, 2.5, 2.5), KG_OK);
	assert_int_equal(stencil_draw(cr, b, 9, 1, 10.25, 50, 1.7, 12), KG_OK);
	cairo_show_page(cr);
	if (t)
		t->page_first = t->n;
	assert_int_equal(stencil_draw(cr, a, 3, 2, 100, 120, 2.5, 2.5), KG_OK);
	cairo_show_page(cr);
	cairo_destroy(cr);
	cairo_surface_destroy(pdf);
	fclose(fp);
	return m;
}

static void test_stencils_handed_over_are_drawn_inline_as_cairo_would_draw_them(void **state)
{
	(void)state;
	struct taken t = {.n = 0};
	struct mem in = stencil_pdf(&t), plain = stencil_pdf(NULL);
	assert_int_equal(t.n, 3);
	/* Rows of whole bytes, the first cell in the high bit. */
	assert_int_equal(t.bits[0][0], 0xa0);
	assert_int_equal(t.bits[0][1], 0x60);
	assert_int_equal(t.bits[1][0], 0xc1);
	assert_int_equal(t.bits[1][1], 0x80);
	struct pdfx_page plan[] = {{.layers = 0, .same_as = -1, .masks = t.mask, .n_masks = 2},
	                           {.layers = 0, .same_as = -1, .masks = t.mask + 2, .n_masks = 1}};
	enum kg_err err;
	struct mem out = finish_planned(in, plan, 2, &err);
	assert_int_equal(err, KG_OK);
	struct mem want = finish(plain, &err);
	assert_int_equal(err, KG_OK);

	/* The same page content as the stencils drawn as images by cairo and inlined (the matrix,
	 * the bits), and no XObject left on the pages. */
	qpdf_data q = qpdf_init(), w = qpdf_init();
	assert_int_equal(qpdf_read_memory(q, "out.pdf", out.buf, (unsigned long long)out.len, NULL), 0);
	assert_int_equal(qpdf_read_memory(w, "want.pdf", want.buf, (unsigned long long)want.len, NULL), 0);
	for (int i = 0; i < 2; i++) {
		char *c = page_content(q, i), *cw = page_content(w, i);
		assert_string_equal(c, cw);
		assert_non_null(strstr(c, i ? "BI /IM true /W 3 /H 2" : "BI /IM true /W 9 /H 1"));
		qpdf_oh res = qpdf_oh_get_key(q, qpdf_get_page_n(q, (size_t)i), "/Resources");
		qpdf_oh xo = qpdf_oh_get_key(q, res, "/XObject");
		qpdf_oh_begin_dict_key_iter(q, xo);
		assert_false(qpdf_oh_dict_more_keys(q));
		free(c);
		free(cw);
	}
	qpdf_cleanup(&q);
	qpdf_cleanup(&w);
	free(out.buf);
	free(want.buf);

	/* More or fewer stencils than a page's placeholders are refused, not drawn as squares. */
	plan[0].n_masks = 1;
	out = finish_planned(in, plan, 2, &err);
	assert_int_equal(err, KG_ERENDER);
	assert_non_null(strstr(kg_last_message(), "more placeholders than stencils"));
	free(out.buf);
	plan[0].n_masks = 3;
	out = finish_planned(in, plan, 2, &err);
	assert_int_equal(err, KG_ERENDER);
	assert_non_null(strstr(kg_last_message(), "fewer placeholders than stencils"));
	free(out.buf);
	free(in.buf);
	free(plain.buf);
}

static void test_pdfx_setting_accepts_none_and_x4_only(void **state)
{
	(void)state;
	enum pdfx_level l;
	assert_int_equal(pdfx_level_parse("x4", &l), KG_OK);
	assert_int_equal(l, PDFX_X4);
	assert_int_equal(pdfx_level_parse("none", &l), KG_OK);
	assert_int_equal(l, PDFX_NONE);
	assert_int_equal(pdfx_level_parse("x1a", &l), KG_EINPUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_colours_images_groups_trimbox_and_id_become_print_ready),
		cmocka_unit_test(test_a_gradient_is_refused_not_passed_on_in_colour),
		cmocka_unit_test(test_colour_words_in_strings_and_comments_are_not_operators),
		cmocka_unit_test(test_a_page_draws_the_static_layers_of_an_earlier_page_by_reference),
		cmocka_unit_test(test_stencils_handed_over_are_drawn_inline_as_cairo_would_draw_them),
		cmocka_unit_test(test_a_form_placeholder_draws_the_form_of_an_earlier_page_in_its_place),
		cmocka_unit_test(test_pdfx_setting_accepts_none_and_x4_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
