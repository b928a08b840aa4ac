/*
 * pdfx.h: the finishing step that makes cairo's PDF print-shop ready.
 *
 * cairo writes every colour as DeviceRGB ("0 0 0 rg") and gives every page an RGB
 * transparency group; a print shop converting that to CMYK turns black text, barcode bars and
 * QR modules into a four-colour black (~295% ink) and greys into a CMY tint. pdfx_finish()
 * rewrites a PDF that cairo wrote in memory so that:
 *
 *   - every colour is DeviceGray: rg/RG become g/G (gray = 0.30 R + 0.59 G + 0.11 B, ISO 32000
 *     10.3.2; neutral colours keep their exact value), k/K become g/G, RGB images become gray
 *     images, image masks stay; any other colour space, shading or inline image is refused
 *     (KG_ERENDER) rather than passed on in colour;
 *   - no page or form carries an RGB transparency group: a page group is dropped when nothing on
 *     the page uses transparency, any other group blends in DeviceGray;
 *   - every page has a TrimBox equal to its MediaBox (no bleed: nothing is printed to the edge);
 *   - the file has an /ID computed from its content (the same input gives the same bytes);
 *   - objects go into object streams with a cross-reference stream (PDF 1.5; PDF/X-4 allows
 *     them, PDF/X-1a would not);
 *   - a page's small image masks (up to 1 KB of bits: the QR codes, the customer barcode) are
 *     drawn as inline images (BI /IM true ... EI, the bits in ASCIIHex) instead of XObjects: the
 *     same stencil, nearest-neighbour, ~150 bytes less each; so are the stencils that cairo
 *     drew as placeholders (struct pdfx_mask), whose bits come from the caller.
 *
 * With PDFX_X4 the file also claims PDF/X-4 (ISO 15930-7): PDF 1.6, a Gray output intent
 * (GTS_PDFX, an ICC gray profile made with Little CMS: D50, gamma 2.2), /Trapped /False, and an
 * XMP packet with the title, dates, creator, producer, document and instance IDs and
 * pdfxid:GTS_PDFXVersion "PDF/X-4", each taken from the Info dictionary cairo wrote.
 *
 * qpdf's library does the parsing and writing; the colour operators are rewritten by a qpdf
 * pipeline of this module while the file is written, which cuts the content into the few kinds
 * of tokens it needs (white space, comments, strings, names, delimiters, numbers, operators)
 * itself: qpdf's own token filters made an object of every token, a tenth of the render stage.
 * qpdf's API is C++, so this one module is a C++ translation unit behind this C header; no
 * exception crosses it.
 *
 * Errors: KG_ERENDER for a PDF qpdf cannot read or a colour it cannot make gray, KG_EIO when
 * writing to out fails. Nothing is guaranteed about out after a failure (write to a temporary).
 */
#ifndef PDFX_H
#define PDFX_H

#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "kg.h" /* inside: kg.h is C, and pdfx.cc calls kg_fail() */

enum pdfx_level {
	PDFX_NONE, /* pure K, TrimBox, /ID, object streams */
	PDFX_X4,   /* and the PDF/X-4 identification with a Gray output intent */
};

/* Parses a setting's value: "none" (or empty) or "x4". KG_EINPUT for anything else. */
enum kg_err pdfx_level_parse(const char *value, enum pdfx_level *out) KG_WUR;

/*
 * A stencil that cairo drew as a placeholder (stencil.h, struct stencil_sink): a 1 x 1 image mask
 * XObject, painted with the stencil's matrix. Each "Do" of a page's 1 x 1 image mask becomes the
 * page's next mask as an inline image with that matrix; a page with more or fewer placeholders
 * than masks is refused (so a genuine 1 x 1 image mask has no place on a page that has masks).
 * bits: height rows of (width + 7) / 8 bytes, the first column in the high bit, 1 paints.
 *
 * A placeholder can also stand for a form XObject (form > 0: the caller's number for it, with no
 * bits): a per-resident text that came back, which cairo analyses again on every page it paints
 * the text's recording on (4% of the render stage's instructions, callgrind). On the first page
 * that paints it (first), the placeholder follows the form's own "Do" and goes; on a later page
 * it becomes "Q q /kgfN Do" (N = form), which undoes the placeholder's matrix and draws that form,
 * in the placeholder's place in the content, so the page's drawing order stays as it was.
 */
struct pdfx_mask {
	int width, height;
	const unsigned char *bits;
	long form;
	bool first;
};

/*
 * A page's static layers (layout.h): cairo replays a painted recording on every page it is
 * painted on, which cost ~18% of the render stage for layers that are the same page after page.
 * So only the first page of a file with a given set of layers paints them (they are its first
 * `layers` form XObjects drawn, cairo's coordinate set-up before them); a later page with the same
 * set paints none and names that page in same_as (-1: none), and pdfx_finish() draws the same
 * forms at the start of its content, with the same set-up, in a q/Q pair.
 */
struct pdfx_page {
	int layers;
	int same_as;
	const struct pdfx_mask *masks; /* what the page's placeholders stand for, in drawing order */
	size_t n_masks;
};

/* Finishes the PDF pdf[0..len) and writes it to out. what names it in messages. pages: one
 * entry per page of the PDF, or NULL when every page paints its own layers and has no masks. */
enum kg_err pdfx_finish(const void *pdf, size_t len, enum pdfx_level level, const struct pdfx_page *pages,
                        size_t n_pages, FILE *out, const char *what) KG_WUR;

#ifdef __cplusplus
}
#endif

#endif
