/*
 * fonts.c: a private FcConfig from templates/fonts.conf, a pango font map on it, and glyph
 * coverage through FreeType (cmap and the format 14 variation-sequence table), which is what
 * decides whether a character prints; pango's own fallback would silently print a box.
 */
#include "fonts.h"

#include <fontconfig/fontconfig.h>
#include <math.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_ADVANCES_H
#include FT_TRUETYPE_TABLES_H
#include <pango/pangocairo.h>
#include <pango/pangofc-fontmap.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

#include "banned.h"

#define MAX_FACES 8

struct fonts {
	FcConfig *config;
	PangoFontMap *map;
	FT_Library ft;
	FT_Face faces[MAX_FACES];
	int n_faces;
	double advance, line; /* fonts_bounds(), in ems */
	/* Whether a character of the BMP without a variation selector is drawable, 2 bits each
	 * (looked up, drawable), filled as characters come: every variable text of every page is
	 * checked, and asking each face's cmap again for each character was 2% of the render
	 * stage's instructions (callgrind). Allocated with f, so a const f can fill it. */
	unsigned char *bmp;
};

/* The widest advance of any glyph of face and its tallest line, in ems, into *advance and *line
 * when larger. The advances are read from the font's metrics table glyph by glyph (hhea's
 * advanceWidthMax is only what the font claims); the em counts as an advance too, the width
 * HarfBuzz gives a space character the font lacks. A line is measured by every table a renderer
 * may take it from (hhea, OS/2 typo and win, FreeType's own), line gaps included. */
static void face_bounds(FT_Face face, double *advance, double *line)
{
	double em = face->units_per_EM > 0 ? face->units_per_EM : 1;
	FT_Fixed *adv = kg_calloc((size_t)face->num_glyphs + 1, sizeof *adv);
	double widest = em;
	if (FT_Get_Advances(face, 0, (FT_UInt)face->num_glyphs, FT_LOAD_NO_SCALE, adv))
		widest = INFINITY; /* unknown: no bound */
	for (FT_Long g = 0; g < face->num_glyphs; g++)
		widest = fmax(widest, (double)adv[g]);
	free(adv);
	double tallest = fmax(face->height, face->ascender - face->descender);
	const TT_HoriHeader *hh = FT_Get_Sfnt_Table(face, FT_SFNT_HHEA);
	const TT_OS2 *os2 = FT_Get_Sfnt_Table(face, FT_SFNT_OS2);
	if (hh)
		tallest = fmax(tallest, hh->Ascender - hh->Descender + hh->Line_Gap);
	if (os2 && os2->version != 0xFFFF) {
		tallest = fmax(tallest, os2->sTypoAscender - os2->sTypoDescender + os2->sTypoLineGap);
		tallest = fmax(tallest, (double)os2->usWinAscent + os2->usWinDescent);
	}
	*advance = fmax(*advance, widest / em);
	*line = fmax(*line, tallest / em);
}

static bool is_vs(ucs4_t c)
{
	return (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0100 && c <= 0xE01EF);
}

enum kg_err fonts_new(const struct settings *s, struct fonts **out)
{
	struct sbuf path = SBUF_INIT;
	sbuf_addf(&path, "%s/fonts.conf", s->templates_dir && *s->templates_dir ? s->templates_dir : "templates");
	enum kg_err err = sbuf_check(&path);
	if (!err)
		err = fonts_new_from(path.buf, out);
	sbuf_release(&path);
	return err;
}

enum kg_err fonts_new_from(const char *conf_path, struct fonts **out)
{
	enum kg_err err = KG_OK;
	struct fonts *f = kg_calloc(1, sizeof *f);
	f->bmp = kg_calloc(0x10000 / 4, 1);
	*out = NULL;
	/* fontconfig reads a relative name from its own directory, not ours. */
	char *abs = realpath(conf_path, NULL);
	if (!abs) {
		err = kg_fail(KG_ERENDER, "%s: cannot read the font configuration", conf_path);
		goto out;
	}
	f->config = FcConfigCreate();
	bool loaded = f->config && FcConfigParseAndLoad(f->config, (const FcChar8 *)abs, FcTrue);
	free(abs);
	if (!loaded || !FcConfigBuildFonts(f->config)) {
		err = kg_fail(KG_ERENDER, "%s: not a usable fontconfig file", conf_path);
		goto out;
	}
	if (FT_Init_FreeType(&f->ft)) {
		err = kg_fail(KG_ERENDER, "FreeType does not start");
		goto out;
	}
	FcFontSet *set = FcConfigGetFonts(f->config, FcSetSystem);
	for (int i = 0; set && i < set->nfont && f->n_faces < MAX_FACES; i++) {
		FcChar8 *file = NULL;
		int index = 0;
		if (FcPatternGetString(set->fonts[i], FC_FILE, 0, &file) != FcResultMatch)
			continue;
		if (FcPatternGetInteger(set->fonts[i], FC_INDEX, 0, &index) != FcResultMatch)
			index = 0;
		if (FT_New_Face(f->ft, (const char *)file, index, &f->faces[f->n_faces])) {
			err = kg_fail(KG_ERENDER, "%s: FreeType cannot open %s", conf_path, file);
			goto out;
		}
		face_bounds(f->faces[f->n_faces], &f->advance, &f->line);
		f->n_faces++;
	}
	if (set && set->nfont > f->n_faces) /* fonts beyond MAX_FACES: their metrics are unknown */
		f->advance = f->line = INFINITY;
	if (!f->n_faces) {
		err = kg_fail(KG_ERENDER,
		              "%s: names no font that is installed (install fonts-ipaexfont "
		              "fonts-ipamj-mincho)",
		              conf_path);
		goto out;
	}
	f->map = pango_cairo_font_map_new_for_font_type(CAIRO_FONT_TYPE_FT);
	if (!f->map) {
		err = kg_fail(KG_ERENDER, "pango has no FreeType font map");
		goto out;
	}
	pango_fc_font_map_set_config(PANGO_FC_FONT_MAP(f->map), f->config);
out:
	if (err)
		fonts_free(f);
	else
		*out = f;
	return err;
}

void fonts_free(struct fonts *f)
{
	if (!f)
		return;
	if (f->map)
		g_object_unref(f->map);
	for (int i = 0; i < f->n_faces; i++)
		FT_Done_Face(f->faces[i]);
	if (f->ft)
		FT_Done_FreeType(f->ft);
	if (f->config)
		FcConfigDestroy(f->config);
	free(f->bmp);
	free(f);
}

PangoFontMap *fonts_map(const struct fonts *f)
{
	return f->map;
}

void fonts_bounds(const struct fonts *f, double *advance, double *line)
{
	*advance = f->advance;
	*line = f->line;
}

static bool drawable(const struct fonts *f, ucs4_t c, ucs4_t vs)
{
	unsigned shift = (c & 3) * 2;
	bool bmp = !vs && c < 0x10000;
	if (bmp && (f->bmp[c >> 2] >> shift & 1))
		return f->bmp[c >> 2] >> shift & 2;
	bool yes = false;
	for (int i = 0; i < f->n_faces && !yes; i++)
		yes = vs ? FT_Face_GetCharVariantIndex(f->faces[i], c, vs) != 0
		         : FT_Get_Char_Index(f->faces[i], c) != 0;
	if (bmp)
		f->bmp[c >> 2] |= (unsigned char)((yes ? 3u : 1u) << shift);
	return yes;
}

/* Reads one character of s (with its variation selector, if one follows) into c, vs; returns
 * the bytes taken, 0 at the end, -1 on invalid UTF-8. */
static int next_char(const char *s, ucs4_t *c, ucs4_t *vs)
{
	size_t n = strnlen(s, 8); /* a character and its selector take at most 8 bytes */
	if (!n)
		return 0;
	int k = u8_mbtoucr(c, (const uint8_t *)s, n);
	if (k < 0)
		return -1;
	*vs = 0;
	ucs4_t v;
	int k2 = n > (size_t)k ? u8_mbtoucr(&v, (const uint8_t *)s + k, n - k) : -1;
	if (k2 > 0 && is_vs(v)) {
		*vs = v;
		k += k2;
	}
	return k;
}

static void describe(struct sbuf *b, const char *s, int len, ucs4_t c, ucs4_t vs)
{
	if (b->len)
		sbuf_addc(b, ' ');
	if (vs)
		sbuf_addf(b, "U+%04X U+%04X(", (unsigned)c, (unsigned)vs);
	else
		sbuf_addf(b, "U+%04X(", (unsigned)c);
	sbuf_add(b, s, (size_t)len);
	sbuf_addc(b, ')');
}

size_t fonts_missing(const struct fonts *f, const char *utf8, struct sbuf *missing)
{
	size_t count = 0;
	const char *p = utf8;
	for (;;) {
		ucs4_t c, vs;
		int k = next_char(p, &c, &vs);
		if (k == 0)
			break;
		if (k < 0) {
			if (missing->len)
				sbuf_addc(missing, ' ');
			sbuf_adds(missing, "(invalid UTF-8)");
			return count + 1;
		}
		if (c != '\n' && c != '\t' && !drawable(f, c, vs)) {
			describe(missing, p, k, c, vs);
			count++;
		}
		p += k;
	}
	return count;
}

/* The table's entry for the character at s (exact sequence first, then the base alone). */
static const char *lookup(const struct settings *s, const char *p, int len, int base_len)
{
	for (int pass = 0; pass < 2; pass++) {
		int l = pass ? base_len : len;
		if (pass && base_len == len)
			break;
		for (size_t i = 0; i < s->n_substitutes; i++) {
			const char *from = s->substitutes[i].from;
			if (strlen(from) == (size_t)l && !memcmp(from, p, (size_t)l))
				return s->substitutes[i].to;
		}
	}
	return NULL;
}

enum kg_err fonts_substitute(const struct fonts *f, const struct settings *s, const char *utf8, struct sbuf *out)
{
	struct sbuf held = SBUF_INIT;
	struct sbuf tmp = SBUF_INIT;
	bool hold_all = s->unknown_glyph && !strcmp(s->unknown_glyph, "hold");
	enum kg_err err = KG_OK;
	const char *p = utf8;
	for (;;) {
		ucs4_t c, vs;
		int k = next_char(p, &c, &vs);
		if (k == 0)
			break;
		if (k < 0) {
			err = kg_fail(KG_EINPUT, "not valid UTF-8");
			goto out;
		}
		if (c == '\n' || c == '\t' || drawable(f, c, vs)) {
			sbuf_add(out, p, (size_t)k);
		} else {
			ucs4_t base;
			int base_len = u8_mbtoucr(&base, (const uint8_t *)p, strlen(p));
			const char *to = hold_all ? NULL : lookup(s, p, k, base_len);
			sbuf_reset(&tmp);
			if (to && fonts_missing(f, to, &tmp) == 0)
				sbuf_adds(out, to);
			else
				describe(&held, p, k, c, vs);
		}
		p += k;
	}
	if (held.len)
		err = kg_fail(KG_EINPUT, "no font can draw %s%s", held.buf,
		              hold_all ? " (unknown_glyph: hold)" : " and the 代替文字 table has no printable entry");
	else
		err = sbuf_check(out);
out:
	sbuf_release(&held);
	sbuf_release(&tmp);
	return err;
}
