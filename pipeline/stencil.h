/*
 * stencil.h: a grid of square-ish cells, each black or blank (QR modules, the customer barcode's
 * bar cells), painted black on a cairo page through a 1-bit image used as a stencil mask and
 * scaled without smoothing. The PDF holds one bit a cell (an image mask; pdfx.h draws small ones
 * inline) instead of a rectangle per cell or run, and every cell's edge stays exactly where the
 * grid puts it at any resolution: barcode bars keep their exact widths and heights.
 */
#ifndef STENCIL_H
#define STENCIL_H

#include <cairo.h>

#include "kg.h"

/* Paints cells[r * cols + c] & 1 (1: black) of a cols x rows grid with its top-left corner at
 * x, y, each cell cell_w x cell_h in user units. KG_ERENDER when cairo fails. */
enum kg_err stencil_draw(cairo_t *cr, const unsigned char *cells, int cols, int rows, double x, double y, double cell_w,
                         double cell_h) KG_WUR;

#endif
