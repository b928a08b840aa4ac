/*
 * postal.h: the Japan Post customer barcode (カスタマバーコード) printed under the addressee's
 * name: the address number extracted from the address after the 町域, the 20 symbol characters,
 * the check character, the 67 bars, and the bars drawn on a cairo context (a 1-bit stencil mask).
 * The rules are those of Japan Post's 郵便番号・バーコードマニュアル (pages 11-25), as summed up in
 * spec/customer-barcode.md; README.md ("Customer barcode") says how the cases the manual leaves
 * open are decided.
 *
 * Everything but postal_draw() is a pure function of its arguments. No function here allocates
 * memory the caller must free except through the caller's own struct sbuf.
 *
 * Typical use (the render step, for one resident):
 *
 *	struct postal_code pc;
 *	if ((err = postal_encode(settings, r->postal_code, r->block, r->building, &pc)))
 *		return err;                 // bad postal code or bad UTF-8: the record is wrong
 *	if (pc.skip)
 *		manifest_note(pc.skip);     // no barcode for this piece, and why
 *	else if ((err = postal_draw(cr, x, y, pc.bars, POSTAL_PT)))
 *		return err;
 */
#ifndef POSTAL_H
#define POSTAL_H

#include <stdbool.h>

#include <cairo.h>

#include "kg.h"
#include "sbuf.h"
#include "settings.h"

#define POSTAL_CHARS 20 /* postal code (7) + address number (13), before the check character */
#define POSTAL_BARS 67  /* start (2) + 21 characters x 3 + stop (2) */

/* Size of the symbol at 10 pt, in millimetres; it scales with pt_size / 10 (8 to 11.5 allowed). */
#define POSTAL_PT 10.0
#define POSTAL_PT_MIN 8.0
#define POSTAL_PT_MAX 11.5
#define POSTAL_WIDTH_MM 79.8 /* 66 pitches of 1.2 mm + one bar of 0.6 mm */
#define POSTAL_HEIGHT_MM 3.6 /* a long bar */
#define POSTAL_BAR_MM 0.6
#define POSTAL_PITCH_MM 1.2
/* The layout must keep this clear all round the symbol, and the symbol this far from the edges. */
#define POSTAL_QUIET_MM 2.0
#define POSTAL_EDGE_MM 10.0

/* Why a piece gets no barcode (the strings the manifest shows). */
#define POSTAL_SKIP_REPRESENTATIVE "代表郵便番号"
#define POSTAL_SKIP_NO_NUMBER "住所表示番号なし"

struct postal_code {
	/* The 20 symbol characters: "0".."9", "-", "CC1".."CC8". */
	char chars[POSTAL_CHARS][4];
	/* The check character, spelled the same way. */
	char check[4];
	/* 67 letters of F (long), A (upper semi-long), D (lower semi-long), T (timing), NUL-ended. */
	char bars[POSTAL_BARS + 1];
	/* The address number as extracted ("3-20-5B604"), cut to fit; for the manifest and tests. */
	char number[64];
	/*
	 * NULL when the barcode was made. Otherwise one of the POSTAL_SKIP_* strings (static), and
	 * chars, check and bars are empty: the piece is mailed without a barcode.
	 */
	const char *skip;
};

/*
 * Encodes one address. postal_code is "NNN-NNNN" or "NNNNNNN" (ASCII digits); block (番地・号) and
 * building (方書) are the parts of the address after the 町域, UTF-8, either may be NULL. They are
 * read in that order as if separated by a space, so "3-2" and "101" never run together.
 * s (may be NULL) supplies the municipality's representative postal codes: such a code, or an
 * address with nothing to extract, gives KG_OK with out->skip set.
 * Errors: KG_EINPUT for a malformed postal code or invalid UTF-8 (with a message).
 */
enum kg_err postal_encode(const struct settings *s, const char *postal_code, const char *block, const char *building,
                          struct postal_code *out) KG_WUR;

/*
 * Appends the address number of block then building (rules 1-7 of the spec, before the
 * conversion of letters to control codes) to number, e.g. "1-3-2-503"; appends nothing when
 * there is nothing to extract. Errors: KG_EINPUT for invalid UTF-8.
 */
enum kg_err postal_extract(const char *block, const char *building, struct sbuf *number) KG_WUR;

/* Whether postal_code ("NNN-NNNN" or 7 digits) is one of s's representative codes. */
bool postal_is_representative(const struct settings *s, const char *postal_code);

/* The symbol's size in points (cairo user units) at pt_size. */
void postal_size(double pt_size, double *width, double *height);

/*
 * Draws bars (POSTAL_BARS letters of F/A/D/T, as in struct postal_code) in black, as a 1-bit
 * image of 0.6 x 1.2 mm cells (at 10 pt) scaled without smoothing (exact bar sizes, a small
 * PDF), the symbol's top-left corner at (x, y) in points (user units), at pt_size (clamped to
 * POSTAL_PT_MIN..POSTAL_PT_MAX). cr's source is restored; its current path is cleared.
 * Errors: KG_EINPUT (nothing drawn) when bars is not 67 letters of F/A/D/T; KG_ERENDER when cr
 * is in an error state afterwards.
 */
enum kg_err postal_draw(cairo_t *cr, double x, double y, const char *bars, double pt_size) KG_WUR;

#endif
