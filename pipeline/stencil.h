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
#include <stdbool.h>

#include "kg.h"

/*
 * A PDF page's stencils handed to the finishing step (pdfx.h, struct pdfx_mask) instead of drawn
 * as images. Each image cairo writes costs a deflate stream set up and torn down (some 270 KB of
 * zlib state, cleared) and its own object, which the finishing step parsed, inflated and drew
 * inline again: a fifth of the render stage's CPU (measured without the stencils). With a sink
 * on the target surface, stencil_draw() gives the sink the bits and paints, in the stencil's
 * place, a 1 x 1 image mask, the k-th of STENCIL_MARKS for the page's k-th stencil (cairo writes
 * each once a file; one mark twice on a page, cairo would name it twice in the page's resources):
 * the finishing step draws each of a page's marks as the next of its stencils, inline.
 * take gets height rows of (width + 7) / 8 bytes, the first cell in the high bit, 1 black; it
 * copies them and returns k, or -1 when the page has STENCIL_MARKS stencils already (the
 * stencil is then painted as an image, as without a sink).
 */
#define STENCIL_MARKS 8

struct stencil_sink {
	int (*take)(void *ctx, const unsigned char *bits, int width, int height);
	/* The same for a form XObject's placeholder (stencil_form()); NULL: none taken. */
	int (*take_form)(void *ctx, long form, bool first);
	void *ctx;
};

/* Sends the stencils drawn on surface to sink (which must outlive the surface's use) instead of
 * painting them. KG_ENOMEM when cairo cannot keep it. */
enum kg_err stencil_set_sink(cairo_surface_t *surface, const struct stencil_sink *sink) KG_WUR;

/* Paints cells[r * cols + c] & 1 (1: black) of a cols x rows grid with its top-left corner at
 * x, y, each cell cell_w x cell_h in user units. KG_ERENDER when cairo fails. */
enum kg_err stencil_draw(cairo_t *cr, const unsigned char *cells, int cols, int rows, double x, double y, double cell_w,
                         double cell_h) KG_WUR;

/* Paints a placeholder that the finishing step replaces with the form XObject cairo made of a
 * recording (pdfx.h, struct pdfx_mask: form). *form 0: the page has just painted the recording
 * itself, its form's first page: *form becomes the form's number, counted from 1 in each surface,
 * so that a file's bytes depend on its own pages alone; else the number given before, in place of
 * painting the recording. false when the surface has no sink or the page has STENCIL_MARKS
 * placeholders already (*form unchanged): the caller then paints the recording. */
bool stencil_form(cairo_t *cr, long *form);

#endif
