/*
 * stencil.c: a grid of cells painted through a 1-bit image mask (stencil.h).
 */
#include "stencil.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "banned.h"

/* Sets pixel x of a row of a CAIRO_FORMAT_A1 image: 32-bit words, bits in the platform's order. */
static void a1_set(unsigned char *row, int x)
{
	uint32_t *w = (uint32_t *)row + (x >> 5);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	*w |= 0x80000000u >> (x & 31);
#else
	*w |= 1u << (x & 31);
#endif
}

/* A surface's sink and the placeholder it paints (one surface, so cairo writes one image). */
struct hold {
	struct stencil_sink sink;
	cairo_surface_t *mark[STENCIL_MARKS];
	long forms; /* numbers given by stencil_form() */
};

static const cairo_user_data_key_t sink_key;

static void hold_free(void *p)
{
	struct hold *h = p;
	for (int i = 0; i < STENCIL_MARKS; i++)
		cairo_surface_destroy(h->mark[i]);
	free(h);
}

enum kg_err stencil_set_sink(cairo_surface_t *surface, const struct stencil_sink *sink)
{
	struct hold *h = kg_calloc(1, sizeof *h);
	h->sink = *sink;
	bool ok = true;
	for (int i = 0; i < STENCIL_MARKS; i++) {
		h->mark[i] = cairo_image_surface_create(CAIRO_FORMAT_A1, 1, 1);
		cairo_surface_flush(h->mark[i]);
		unsigned char *bits = cairo_image_surface_get_data(h->mark[i]);
		if (bits)
			a1_set(bits, 0);
		ok = ok && bits;
		cairo_surface_mark_dirty(h->mark[i]);
	}
	if (!ok || cairo_surface_set_user_data(surface, &sink_key, h, hold_free)) {
		hold_free(h);
		return kg_fail(KG_ENOMEM, "stencil: cannot attach the sink");
	}
	return KG_OK;
}

/* Hands the cells to the sink, as rows of bytes with the first cell in the high bit; the
 * stencil's number on the page, -1 when the sink took none. */
static int give(const struct stencil_sink *sink, const unsigned char *cells, int cols, int rows)
{
	size_t row = (size_t)(cols + 7) / 8;
	unsigned char *bits = kg_calloc((size_t)rows, row);
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < cols; c++)
			if (cells[r * cols + c] & 1)
				bits[(size_t)r * row + (size_t)c / 8] |= (unsigned char)(0x80u >> (c & 7));
	int k = sink->take(sink->ctx, bits, cols, rows);
	free(bits);
	return k;
}

/* Paints the image mask img (w x h pixels) in the grid's place: each pixel a cell. */
static void paint(cairo_t *cr, cairo_surface_t *img, double x, double y, double cell_w, double cell_h)
{
	cairo_new_path(cr);
	cairo_save(cr);
	cairo_translate(cr, x, y);
	cairo_scale(cr, cell_w, cell_h);
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_pattern_t *mask = cairo_pattern_create_for_surface(img);
	cairo_pattern_set_filter(mask, CAIRO_FILTER_NEAREST);
	cairo_mask(cr, mask);
	cairo_pattern_destroy(mask);
	cairo_restore(cr);
}

bool stencil_form(cairo_t *cr, long *form)
{
	struct hold *h = cairo_surface_get_user_data(cairo_get_target(cr), &sink_key);
	if (!h || !h->sink.take_form)
		return false;
	bool first = *form == 0;
	int k = h->sink.take_form(h->sink.ctx, first ? h->forms + 1 : *form, first);
	if (k < 0 || k >= STENCIL_MARKS)
		return false;
	if (first)
		*form = ++h->forms;
	paint(cr, h->mark[k], 0, 0, 1, 1);
	return cairo_status(cr) == CAIRO_STATUS_SUCCESS;
}

enum kg_err stencil_draw(cairo_t *cr, const unsigned char *cells, int cols, int rows, double x, double y, double cell_w,
                         double cell_h)
{
	const struct hold *h = cairo_surface_get_user_data(cairo_get_target(cr), &sink_key);
	int k = h ? give(&h->sink, cells, cols, rows) : -1;
	if (k >= 0 && k < STENCIL_MARKS) {
		/* The whole grid as one pixel: the same matrix cairo writes for the cols x rows image. */
		paint(cr, h->mark[k], x, y, cell_w * cols, cell_h * rows);
		return cairo_status(cr) ? kg_fail(KG_ERENDER, "stencil: %s", cairo_status_to_string(cairo_status(cr)))
		                        : KG_OK;
	}
	cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_A1, cols, rows);
	unsigned char *bits = cairo_image_surface_get_data(img);
	int stride = cairo_image_surface_get_stride(img);
	cairo_surface_flush(img);
	for (int r = 0; bits && r < rows; r++)
		for (int c = 0; c < cols; c++)
			if (cells[r * cols + c] & 1)
				a1_set(bits + r * stride, c);
	cairo_surface_mark_dirty(img);
	paint(cr, img, x, y, cell_w, cell_h);
	cairo_surface_destroy(img);
	if (cairo_status(cr))
		return kg_fail(KG_ERENDER, "stencil: %s", cairo_status_to_string(cairo_status(cr)));
	return KG_OK;
}
