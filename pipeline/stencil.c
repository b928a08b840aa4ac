/*
 * stencil.c: a grid of cells painted through a 1-bit image mask (stencil.h).
 */
#include "stencil.h"

#include <stdint.h>

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

enum kg_err stencil_draw(cairo_t *cr, const unsigned char *cells, int cols, int rows, double x, double y, double cell_w,
                         double cell_h)
{
	cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_A1, cols, rows);
	unsigned char *bits = cairo_image_surface_get_data(img);
	int stride = cairo_image_surface_get_stride(img);
	cairo_surface_flush(img);
	for (int r = 0; bits && r < rows; r++)
		for (int c = 0; c < cols; c++)
			if (cells[r * cols + c] & 1)
				a1_set(bits + r * stride, c);
	cairo_surface_mark_dirty(img);
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
	cairo_surface_destroy(img);
	if (cairo_status(cr))
		return kg_fail(KG_ERENDER, "stencil: %s", cairo_status_to_string(cairo_status(cr)));
	return KG_OK;
}
