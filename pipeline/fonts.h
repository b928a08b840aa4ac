/*
 * fonts.h: the pinned fonts of every printed document, and the question "can we print this?".
 *
 * fonts_new() builds a private fontconfig configuration from TEMPLATES/fonts.conf (IPAex Gothic,
 * IPAex Mincho, IPAmj明朝, WenQuanYi Zen Hei for the multilingual lines, and nothing else), so
 * output never depends on what else is installed,
 * and gives pango a font map that uses it. The same fonts answer fonts_missing(): which
 * characters of a text no configured font can draw, a base character followed by a variation
 * selector (an IVS, e.g. 葛 U+845B U+E0100) counting as one character that is drawable only
 * when a font maps that exact sequence.
 *
 * Selection calls fonts_substitute() on each name and address before giving a notice a
 * sequence number, so a record that cannot be printed is replaced from the 代替文字 table or
 * held; the renderer refuses (KG_ERENDER) to draw a text with a missing character anyway.
 *
 * A struct fonts is not thread safe; a forked child may go on using its parent's copy.
 */
#ifndef FONTS_H
#define FONTS_H

#include <pango/pango.h>
#include <stddef.h>

#include "kg.h"
#include "sbuf.h"
#include "settings.h"

struct fonts;

/* Loads s->templates_dir/fonts.conf. KG_ERENDER when the file is bad or names no font. */
enum kg_err fonts_new(const struct settings *s, struct fonts **out) KG_WUR;
/* The same from an explicit fontconfig file (tests). */
enum kg_err fonts_new_from(const char *conf_path, struct fonts **out) KG_WUR;
void fonts_free(struct fonts *f);

/* A pango font map over exactly the configured fonts; borrowed, lives as long as f. */
PangoFontMap *fonts_map(const struct fonts *f);

/*
 * Upper bounds over every configured font, in ems of the font size: *advance, the widest a glyph
 * (or a space HarfBuzz makes for a font without it: an em) moves the pen; *line, the tallest
 * line (ascender, descender and line gap, by whichever of the font's tables is largest).
 * INFINITY when a font could not be measured. Lets layout.c know a text fits without shaping it.
 */
void fonts_bounds(const struct fonts *f, double *advance, double *line);

/*
 * Appends to missing (space separated, "U+845B U+E01EF" style for each missing character or
 * sequence, text as given after it in brackets) every character of utf8 that no configured
 * font can draw, and returns how many there were (0: printable). Line breaks and tabs are
 * not characters to draw. KG_EINPUT-style problems (invalid UTF-8) count as missing too.
 */
size_t fonts_missing(const struct fonts *f, const char *utf8, struct sbuf *missing);

/*
 * Makes utf8 printable for the registry record it belongs to: characters every font lacks are
 * replaced by their 代替文字 from s->substitutes (matched on the exact sequence, then on the
 * base character without its variation selector). The result is appended to out.
 * Fails with KG_EINPUT, naming the characters, when the record must be held for review:
 * a missing character with no (printable) entry, or s->unknown_glyph is "hold".
 */
enum kg_err fonts_substitute(const struct fonts *f, const struct settings *s, const char *utf8,
                             struct sbuf *out) KG_WUR;

#endif
