/*
 * postal.c: the Japan Post customer barcode. The address after the 町域 goes through the rules of
 * postal.h in order (one function each): fold, remove marks, keep digits,
 * hyphens and lone letters, convert kanji numerals before 丁目/番/号..., floors, hyphens. The
 * address number then becomes symbol characters (letters as control code + digit), padded or cut
 * to 20, a mod-19 check character, and bars. libunistring decodes the UTF-8.
 */
#include "postal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>

#include "stencil.h"

#include "banned.h"

/* The 19 symbol characters, indexed by their check value. */
static const struct {
	const char *name;
	const char *bars;
} symbols[] = {
	{"0", "FTT"},   {"1", "FFT"},   {"2", "FDA"},   {"3", "DFA"},   {"4", "FAD"},   {"5", "FTF"},   {"6", "DAF"},
	{"7", "AFD"},   {"8", "ADF"},   {"9", "TFF"},   {"-", "TFT"},   {"CC1", "DAT"}, {"CC2", "DTA"}, {"CC3", "ADT"},
	{"CC4", "TDA"}, {"CC5", "ATD"}, {"CC6", "TAD"}, {"CC7", "TTF"}, {"CC8", "FFF"},
};
enum { VALUE_HYPHEN = 10, VALUE_CC1 = 11, VALUE_CC4 = 14, N_VALUES = 19 };
#define START_BARS "FD"
#define STOP_BARS "DF"

/* Kanji numerals and their values (十, 百 and 千 are positional). */
static const struct {
	uint32_t c;
	int value;
} kanji_numerals[] = {
	{U'〇', 0}, {U'一', 1}, {U'二', 2}, {U'三', 3},  {U'四', 4},   {U'五', 5},    {U'六', 6},
	{U'七', 7}, {U'八', 8}, {U'九', 9}, {U'十', 10}, {U'百', 100}, {U'千', 1000},
};

/* What a kanji numeral must stand directly before to be converted (丁 covers 丁目, 番 covers 番地). */
static const uint32_t *const kanji_markers[] = {U"丁", U"番", U"号", U"地割", U"線", U"の", U"ノ"};

static bool is_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_letter(uint32_t c)
{
	return c >= 'A' && c <= 'Z';
}

/*
 * Rule 1: full-width letters and digits (U+FF10-19, U+FF21-3A, U+FF41-5A) become ASCII, then
 * lower case becomes upper. Nothing else is folded: the manual folds only these, so ① or a
 * full-width ．／＆ stay what they are and separate numbers like any other character (NFKC
 * would turn ① into 1 and 1．2 into 12).
 */
static enum kg_err fold(const char *text, size_t len, uint32_t **out, size_t *n)
{
	if (u8_check((const uint8_t *)text, len))
		return kg_fail(KG_EINPUT, "the address is not valid UTF-8");
	*out = u8_to_u32((const uint8_t *)text, len, NULL, n);
	if (!*out)
		return kg_fail(KG_EINPUT, "the address cannot be decoded");
	for (size_t i = 0; i < *n; i++) {
		uint32_t *c = &(*out)[i];
		if ((*c >= U'０' && *c <= U'９') || (*c >= U'Ａ' && *c <= U'Ｚ') || (*c >= U'ａ' && *c <= U'ｚ'))
			*c -= U'０' - '0';
		if (*c >= 'a' && *c <= 'z')
			*c -= 'a' - 'A';
	}
	return KG_OK;
}

/* Rule 2: & / ・ . are removed and the rest closes up (so "A&b" makes two adjacent letters). */
static size_t remove_marks(uint32_t *s, size_t n)
{
	size_t out = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '&' && s[i] != '/' && s[i] != U'・' && s[i] != '.')
			s[out++] = s[i];
	return out;
}

/* Rule 3: a letter is kept only when neither neighbour is a letter. */
static bool lone_letter(const uint32_t *s, size_t n, size_t i)
{
	return is_letter(s[i]) && (i == 0 || !is_letter(s[i - 1])) && (i + 1 == n || !is_letter(s[i + 1]));
}

/* Rule 4, part 1: the value of kanji numeral c, or -1. */
static int kanji_value(uint32_t c)
{
	for (size_t k = 0; k < KG_ARRAY_SIZE(kanji_numerals); k++)
		if (kanji_numerals[k].c == c)
			return kanji_numerals[k].value;
	return -1;
}

/* Rule 4, part 2: whether s[i..] starts with 丁(目), 番(地), 号, 地割, 線, の or ノ. */
static bool kanji_marker_at(const uint32_t *s, size_t n, size_t i)
{
	for (size_t k = 0; k < KG_ARRAY_SIZE(kanji_markers); k++) {
		size_t len = u32_strlen(kanji_markers[k]);
		if (i + len <= n && !u32_cmp(s + i, kanji_markers[k], len))
			return true;
	}
	return false;
}

/*
 * Rule 4, part 3: the number written by the kanji numerals run[0..n). With 十, 百 or 千 they are
 * positional (十一 = 11, 二十 = 20, 百五 = 105, 千二百 = 1200, 二千三十 = 2030); without, digit by
 * digit (三〇五 = 305).
 */
static void kanji_number(const uint32_t *run, size_t n, struct sbuf *raw)
{
	bool positional = false;
	for (size_t i = 0; i < n; i++)
		positional |= kanji_value(run[i]) >= 10;
	if (!positional) {
		for (size_t i = 0; i < n; i++)
			sbuf_addc(raw, (char)('0' + kanji_value(run[i])));
		return;
	}
	unsigned long total = 0, unit = 0;
	bool have_unit = false;
	for (size_t i = 0; i < n; i++) {
		int v = kanji_value(run[i]);
		if (v < 10) {
			if (unit < 100000) /* longer runs cannot fit in 13 characters anyway */
				unit = unit * 10 + (unsigned long)v;
			have_unit = true;
		} else {
			total += (have_unit ? unit : 1) * (unsigned long)v;
			unit = 0;
			have_unit = false;
		}
	}
	sbuf_addf(raw, "%lu", total + unit);
}

/* Rule 5: a lone F right after a digit is a floor (10F, 2F201), not a letter. */
static bool floor_mark(const uint32_t *s, size_t i)
{
	return s[i] == 'F' && i > 0 && is_digit(s[i - 1]);
}

/*
 * Rules 3-5: writes one ASCII character per kept character (digits, lone letters, converted
 * kanji numerals) to raw, and '-' for hyphens and everything else; rules 6-7 tidy up after.
 */
static void keep(const uint32_t *s, size_t n, struct sbuf *raw)
{
	for (size_t i = 0; i < n;) {
		size_t run = 0;
		while (i + run < n && kanji_value(s[i + run]) >= 0)
			run++;
		if (run) {
			if (kanji_marker_at(s, n, i + run))
				kanji_number(s + i, run, raw);
			else
				sbuf_addc(raw, '-');
			i += run;
			continue;
		}
		if (is_digit(s[i]) || (lone_letter(s, n, i) && !floor_mark(s, i)))
			sbuf_addc(raw, (char)s[i]);
		else
			sbuf_addc(raw, '-');
		i++;
	}
}

/*
 * Rules 6 and 7: a run of hyphens between two kept characters becomes one hyphen, unless one of
 * them is a letter (5-B604 -> 5B604); leading and trailing runs go.
 */
static void tidy(const struct sbuf *raw, struct sbuf *number)
{
	char prev = 0;
	for (size_t i = 0; i < raw->len; i++) {
		if (raw->buf[i] != '-') {
			sbuf_addc(number, prev = raw->buf[i]);
			continue;
		}
		size_t end = i;
		while (end < raw->len && raw->buf[end] == '-')
			end++;
		if (prev && end < raw->len && !is_letter((unsigned char)prev) &&
		    !is_letter((unsigned char)raw->buf[end]))
			sbuf_addc(number, '-');
		i = end - 1;
	}
}

enum kg_err postal_extract(const char *block, const char *building, struct sbuf *number)
{
	struct sbuf text = SBUF_INIT, raw = SBUF_INIT;
	uint32_t *s = NULL;
	size_t n = 0;
	enum kg_err err;

	/* The space keeps the last number of the block apart from the first of the building. */
	sbuf_adds(&text, block ? block : "");
	sbuf_addc(&text, ' ');
	sbuf_adds(&text, building ? building : "");
	if ((err = sbuf_check(&text)) || (err = fold(text.buf, text.len, &s, &n)))
		goto out;
	n = remove_marks(s, n);
	keep(s, n, &raw);
	if ((err = sbuf_check(&raw)))
		goto out;
	tidy(&raw, number);
	err = sbuf_check(number);
out:
	free(s);
	sbuf_release(&raw);
	sbuf_release(&text);
	return err;
}

/* Reads "NNN-NNNN" or "NNNNNNN" into 7 digits (NUL-ended); false if it is neither. */
static bool postal_digits(const char *code, char digits[8])
{
	size_t n = 0;
	for (size_t i = 0; code && code[i]; i++) {
		if (code[i] == '-' && i == 3 && n == 3)
			continue;
		if (!is_digit((unsigned char)code[i]) || n == 7)
			return false;
		digits[n++] = code[i];
	}
	digits[n] = '\0';
	return n == 7;
}

bool postal_is_representative(const struct settings *s, const char *postal_code)
{
	char want[8], have[8];
	if (!s || !postal_digits(postal_code, want))
		return false;
	for (size_t i = 0; i < s->n_representative; i++)
		if (postal_digits(s->representative_postal[i], have) && !strcmp(want, have))
			return true;
	return false;
}

/* Appends a value unless the 20 characters are full: so a letter whose control code lands on
 * the 20th keeps the control code and loses its digit, as the manual requires. */
static void add_value(int values[POSTAL_CHARS], size_t *n, int v)
{
	if (*n < POSTAL_CHARS)
		values[(*n)++] = v;
}

/* The 20 values: postal code digits, then the address number (A-J = CC1+0..9, K-T = CC2+0..9,
 * U-Z = CC3+0..5), then CC4 up to 20. */
static void symbol_values(const char digits[8], const char *number, int values[POSTAL_CHARS])
{
	size_t n = 0;
	for (size_t i = 0; i < 7; i++)
		add_value(values, &n, digits[i] - '0');
	for (const char *c = number; *c; c++) {
		if (is_digit((unsigned char)*c)) {
			add_value(values, &n, *c - '0');
		} else if (*c == '-') {
			add_value(values, &n, VALUE_HYPHEN);
		} else {
			add_value(values, &n, VALUE_CC1 + (*c - 'A') / 10);
			add_value(values, &n, (*c - 'A') % 10);
		}
	}
	while (n < POSTAL_CHARS)
		add_value(values, &n, VALUE_CC4);
}

/* The check character: the value that brings the sum to a multiple of 19 (a multiple gives 0). */
static int check_value(const int values[POSTAL_CHARS])
{
	int sum = 0;
	for (size_t i = 0; i < POSTAL_CHARS; i++)
		sum += values[i];
	return (N_VALUES - sum % N_VALUES) % N_VALUES;
}

static void spell(struct postal_code *out, const int values[POSTAL_CHARS], int check)
{
	struct sbuf bars = SBUF_INIT;
	for (size_t i = 0; i < POSTAL_CHARS; i++)
		snprintf(out->chars[i], sizeof out->chars[i], "%s", symbols[values[i]].name);
	snprintf(out->check, sizeof out->check, "%s", symbols[check].name);
	sbuf_adds(&bars, START_BARS);
	for (size_t i = 0; i < POSTAL_CHARS; i++)
		sbuf_adds(&bars, symbols[values[i]].bars);
	sbuf_adds(&bars, symbols[check].bars);
	sbuf_adds(&bars, STOP_BARS);
	snprintf(out->bars, sizeof out->bars, "%s", bars.buf);
	sbuf_release(&bars);
}

enum kg_err postal_encode(const struct settings *s, const char *postal_code, const char *block, const char *building,
                          struct postal_code *out)
{
	struct sbuf number = SBUF_INIT;
	char digits[8];
	int values[POSTAL_CHARS];
	enum kg_err err = KG_OK;

	memset(out, 0, sizeof *out);
	if (!postal_digits(postal_code, digits))
		return kg_fail(KG_EINPUT, "postal code '%s' is not NNN-NNNN", postal_code ? postal_code : "");
	if ((err = postal_extract(block, building, &number)))
		goto out;
	snprintf(out->number, sizeof out->number, "%s", number.buf);
	if (postal_is_representative(s, postal_code)) {
		out->skip = POSTAL_SKIP_REPRESENTATIVE;
		goto out;
	}
	if (!number.len) {
		out->skip = POSTAL_SKIP_NO_NUMBER;
		goto out;
	}
	symbol_values(digits, number.buf, values);
	spell(out, values, check_value(values));
out:
	sbuf_release(&number);
	return err;
}

/* Where each bar kind starts and how long it is, in mm from the symbol's top at 10 pt. */
static const struct bar {
	char kind;
	double top, height;
} bar_kinds[] = {
	{'F', 0.0, 3.6}, /* long */
	{'A', 0.0, 2.4}, /* upper semi-long */
	{'D', 1.2, 2.4}, /* lower semi-long */
	{'T', 1.2, 1.2}, /* timing */
};

static const struct bar *bar_of(char kind)
{
	for (size_t k = 0; k < KG_ARRAY_SIZE(bar_kinds); k++)
		if (bar_kinds[k].kind == kind)
			return &bar_kinds[k];
	return NULL;
}

static double clamp_pt(double pt_size)
{
	return pt_size < POSTAL_PT_MIN ? POSTAL_PT_MIN : pt_size > POSTAL_PT_MAX ? POSTAL_PT_MAX : pt_size;
}

void postal_size(double pt_size, double *width, double *height)
{
	double mm = clamp_pt(pt_size) / POSTAL_PT * 72.0 / 25.4; /* points per 10-pt millimetre */
	*width = POSTAL_WIDTH_MM * mm;
	*height = POSTAL_HEIGHT_MM * mm;
}

enum kg_err postal_draw(cairo_t *cr, double x, double y, const char *bars, double pt_size)
{
	double mm = clamp_pt(pt_size) / POSTAL_PT * 72.0 / 25.4;
	size_t n = bars ? strlen(bars) : 0;
	for (size_t i = 0; i < n; i++)
		if (!bar_of(bars[i]))
			n = 0;
	if (n != POSTAL_BARS)
		return kg_fail(KG_EINPUT, "not a customer barcode: '%s'", bars ? bars : "");
	/* Every size of the symbol is a multiple of half a pitch across (0.6 mm: a bar, a gap) and
	 * of a third of its height down (1.2 mm), so it is exactly a 133 x 3 grid of cells: drawn as
	 * a 1-bit image scaled to the symbol without smoothing, each bar keeps its exact width and
	 * height, and the PDF holds 12 bytes a row instead of 67 rectangles. */
	enum { COLS = 2 * POSTAL_BARS - 1, ROWS = 3 };
	unsigned char cells[ROWS * COLS] = {0};
	for (int i = 0; i < POSTAL_BARS; i++) {
		const struct bar *b = bar_of(bars[i]);
		for (int r = (int)(b->top / 1.2 + 0.5); r < (int)((b->top + b->height) / 1.2 + 0.5); r++)
			cells[r * COLS + 2 * i] = 1;
	}
	/* Black: the sorting machines read black bars only. */
	return stencil_draw(cr, cells, COLS, ROWS, x, y, POSTAL_BAR_MM * mm, POSTAL_HEIGHT_MM / ROWS * mm);
}
