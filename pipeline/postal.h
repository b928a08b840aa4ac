/*
 * postal.h: the Japan Post customer barcode (カスタマバーコード) printed under the addressee's
 * name: the address number extracted from the address after the 町域, the 20 symbol characters,
 * the check character, the 67 bars, and the bars drawn on a cairo context (a 1-bit stencil mask).
 * The rules are those of Japan Post's 郵便番号・バーコードマニュアル (pages 11-25); README.md
 * ("Customer barcode") says how the cases the manual leaves open are decided. In short:
 *
 * Symbol: start (F D) | postal code, 7 digits | address number, 13 characters | check | stop (D F),
 * 67 bars of four kinds (F long, A upper semi-long, D lower semi-long, T timing), 3 bars a
 * character. Values: digits 0-9, '-' 10, CC1..CC8 11..18. A letter is two characters: A-J =
 * CC1 + 0..9, K-T = CC2 + 0..9, U-Z = CC3 + 0..5. Postal code + address number make 20
 * characters: pad with CC4; cut after the 20th, and when a letter's control code falls on the
 * 20th keep the control code and drop its digit. Check = (19 - sum mod 19) mod 19 over the 20
 * values (a sum divisible by 19 gives 0). At 10 pt: bars 0.6 mm wide on a 1.2 mm pitch, long
 * 3.6 mm, semi-long 2.4 mm, timing 1.2 mm: 79.8 x 3.6 mm, 2 mm clear all round.
 *
 * Address number, from the address after the 町域 only (the part up to the 町域 decides the postal
 * code; town names such as 一番町 hold numerals that must not leak in), in order:
 *   1. fold full-width letters and digits (only those) to ASCII, letters to upper case;
 *   2. remove '&', '/', '・', '.';
 *   3. keep digits, hyphens, and single letters that stand alone;
 *   4. a kanji numeral (with 十, 百, 千, 〇: 千二百 = 1200) right before 丁目, 丁, 番地, 番, 号,
 *      地割, 線, の or ノ is converted and kept;
 *   5. a single F right after a digit (a floor, "10F") is dropped, and becomes a hyphen when
 *      something extractable follows ("2F201号室" -> "2-201");
 *   6. anything else before a kept character becomes one hyphen; runs of hyphens become one;
 *      leading and trailing hyphens go;
 *   7. hyphens next to a letter are removed ("5-B604" -> "5B604").
 * A postal code that is the municipality's representative "not listed above" code gets no barcode.
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
