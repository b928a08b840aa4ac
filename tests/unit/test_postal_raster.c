/*
 * test_postal_raster.c: proves the printed symbol, not just the string. postal_draw() puts the
 * barcode on a 長形3号 envelope page (120 x 235 mm) of a cairo PDF, poppler's pdftoppm rasterises
 * it at 600 dpi, and this reader finds the bars in the pixels knowing nothing of postal.c: each
 * bar's kind comes from where it starts and ends against the symbol's full height. The bars read
 * back must equal the encoder's string, and the measured sizes the manual's (p12).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <cmocka.h>
#include <spawn.h>
#include <sys/wait.h>

#include "postal.h"

#include "banned.h"

#define DPI 600.0
#define PX_PER_MM (DPI / 25.4)
#define PT_PER_MM (72.0 / 25.4)
#define PAGE_W_MM 120.0 /* 長形3号 */
#define PAGE_H_MM 235.0
#define AT_X_MM 14.0 /* where the layout would put it: >= 10 mm from the edges at every size */
#define AT_Y_MM 100.0

extern char **environ;

struct reading {
	char bars[POSTAL_BARS + 8];
	int n_bars;
	double left_mm, top_mm, width_mm, height_mm, bar_mm, pitch_mm;
};

static char tmpdir[64];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof tmpdir, "%s", "/tmp/kigen-postal-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];
	snprintf(path, sizeof path, "%s/sym.pdf", tmpdir);
	unlink(path);
	snprintf(path, sizeof path, "%s/sym.png", tmpdir);
	unlink(path);
	return rmdir(tmpdir);
}

/* One envelope page with the symbol, as the render step will place it. */
static void write_pdf(const char *path, const char *bars, double pt)
{
	cairo_surface_t *s = cairo_pdf_surface_create(path, PAGE_W_MM * PT_PER_MM, PAGE_H_MM * PT_PER_MM);
	cairo_t *cr = cairo_create(s);
	cairo_set_source_rgb(cr, 1, 1, 1); /* postal_draw must draw black whatever the source */
	assert_int_equal(postal_draw(cr, AT_X_MM * PT_PER_MM, AT_Y_MM * PT_PER_MM, bars, pt), KG_OK);
	cairo_show_page(cr);
	cairo_destroy(cr);
	cairo_surface_finish(s);
	assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
	cairo_surface_destroy(s);
}

static void rasterise(const char *pdf, const char *prefix)
{
	char *argv[] = {"pdftoppm", "-r", "600", "-png", "-gray", "-singlefile", (char *)pdf, (char *)prefix, NULL};
	pid_t pid;
	int status;
	assert_int_equal(posix_spawnp(&pid, "pdftoppm", NULL, NULL, argv, environ), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

struct image {
	const unsigned char *data;
	int w, h, stride;
};

static int dark(const struct image *im, int x, int y)
{
	uint32_t p = *(const uint32_t *)(im->data + (size_t)y * (size_t)im->stride + (size_t)x * 4);
	int r = (p >> 16) & 0xff, g = (p >> 8) & 0xff, b = p & 0xff;
	return r + g + b < 3 * 128;
}

/* Reads the bars back from the page image. */
static void read_png(const char *png, struct reading *rd)
{
	cairo_surface_t *s = cairo_image_surface_create_from_png(png);
	assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
	cairo_surface_flush(s);
	struct image im = {cairo_image_surface_get_data(s), cairo_image_surface_get_width(s),
	                   cairo_image_surface_get_height(s), cairo_image_surface_get_stride(s)};
	assert_int_equal(cairo_image_surface_get_format(s), CAIRO_FORMAT_RGB24);

	/* The symbol's box: every dark pixel on the page. */
	int left = im.w, right = -1, top = im.h, bottom = -1;
	for (int y = 0; y < im.h; y++)
		for (int x = 0; x < im.w; x++)
			if (dark(&im, x, y)) {
				left = x < left ? x : left, right = x > right ? x : right;
				top = y < top ? y : top, bottom = y > bottom ? y : bottom;
			}
	assert_true(right >= 0);
	int height = bottom - top + 1, tol = height / 6;

	/* Every bar crosses the middle row; its ends against the box give its kind. */
	int mid = (top + bottom) / 2, first_start = -1, last_start = -1, widths = 0;
	rd->n_bars = 0;
	for (int x = left; x <= right; x++) {
		if (!dark(&im, x, mid) || (x > left && dark(&im, x - 1, mid)))
			continue;
		int end = x;
		while (end + 1 <= right && dark(&im, end + 1, mid))
			end++;
		int cx = (x + end) / 2, y0 = top, y1 = bottom;
		while (y0 < bottom && !dark(&im, cx, y0))
			y0++;
		while (y1 > top && !dark(&im, cx, y1))
			y1--;
		int from_top = y0 - top < tol, to_bottom = bottom - y1 < tol;
		if (rd->n_bars < (int)sizeof rd->bars - 1)
			rd->bars[rd->n_bars] = from_top && to_bottom ? 'F' : from_top ? 'A' : to_bottom ? 'D' : 'T';
		rd->n_bars++;
		widths += end - x + 1;
		first_start = first_start < 0 ? x : first_start;
		last_start = x;
	}
	rd->bars[rd->n_bars < (int)sizeof rd->bars ? rd->n_bars : (int)sizeof rd->bars - 1] = '\0';
	rd->left_mm = left / PX_PER_MM;
	rd->top_mm = top / PX_PER_MM;
	rd->width_mm = (right - left + 1) / PX_PER_MM;
	rd->height_mm = height / PX_PER_MM;
	rd->bar_mm = rd->n_bars ? (double)widths / rd->n_bars / PX_PER_MM : 0;
	rd->pitch_mm = rd->n_bars > 1 ? (last_start - first_start) / (double)(rd->n_bars - 1) / PX_PER_MM : 0;
	cairo_surface_destroy(s);
}

static void roundtrip(const char *postal, const char *address, double pt, struct reading *rd, char *want)
{
	struct postal_code pc;
	char pdf[128], prefix[128], png[140];
	assert_int_equal(postal_encode(NULL, postal, address, NULL, &pc), KG_OK);
	assert_null(pc.skip);
	snprintf(want, POSTAL_BARS + 1, "%s", pc.bars);
	snprintf(pdf, sizeof pdf, "%s/sym.pdf", tmpdir);
	snprintf(prefix, sizeof prefix, "%s/sym", tmpdir);
	snprintf(png, sizeof png, "%s.png", prefix);
	write_pdf(pdf, pc.bars, pt);
	rasterise(pdf, prefix);
	read_png(png, rd);
	printf("# %s %s at %.1f pt: %d bars, bar %.3f mm, pitch %.3f mm, symbol %.2f x %.2f mm at (%.2f, %.2f) mm\n",
	       postal, address, pt, rd->n_bars, rd->bar_mm, rd->pitch_mm, rd->width_mm, rd->height_mm, rd->left_mm,
	       rd->top_mm);
}

static const struct {
	const char *postal, *address;
} cases[] = {
	{"100-0013", "1丁目3番2号　郵便プラザ503室"},
	{"350-1106", "22-1郵政団地A棟308号室"},
	{"910-0067", "3丁目80-25　J1ビル2-B"}, /* every bar kind, a letter cut at the 20th */
};

static void test_printed_bars_read_back_as_the_encoded_bars(void **state)
{
	for (size_t i = 0; i < KG_ARRAY_SIZE(cases); i++) {
		struct reading rd;
		char want[POSTAL_BARS + 1];
		roundtrip(cases[i].postal, cases[i].address, POSTAL_PT, &rd, want);
		assert_int_equal(rd.n_bars, POSTAL_BARS);
		assert_string_equal(rd.bars, want);
	}
}

/* Manual p12: bar 0.6, pitch 1.2, long bar 3.6 mm at 10 pt, scaled by pt / 10 (8 to 11.5). */
static void test_printed_size_matches_the_manual_at_8_10_and_11_5_pt(void **state)
{
	static const double sizes[] = {POSTAL_PT_MIN, POSTAL_PT, POSTAL_PT_MAX};
	double px = 1.0 / PX_PER_MM; /* one pixel, in mm */
	for (size_t i = 0; i < KG_ARRAY_SIZE(sizes); i++) {
		struct reading rd;
		char want[POSTAL_BARS + 1];
		double k = sizes[i] / 10.0;
		roundtrip(cases[2].postal, cases[2].address, sizes[i], &rd, want);
		assert_string_equal(rd.bars, want);
		assert_float_equal(rd.bar_mm, 0.6 * k, 1.5 * px);
		assert_float_equal(rd.pitch_mm, 1.2 * k, 0.1 * px);
		assert_float_equal(rd.height_mm, 3.6 * k, 1.5 * px);
		assert_float_equal(rd.width_mm, 79.8 * k, 1.5 * px);
		/* Where it was put, and inside the envelope's 10 mm margin. */
		assert_float_equal(rd.left_mm, AT_X_MM, 1.5 * px);
		assert_float_equal(rd.top_mm, AT_Y_MM, 1.5 * px);
		assert_true(rd.left_mm >= POSTAL_EDGE_MM && rd.left_mm + rd.width_mm <= PAGE_W_MM - POSTAL_EDGE_MM);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_printed_bars_read_back_as_the_encoded_bars),
		cmocka_unit_test(test_printed_size_matches_the_manual_at_8_10_and_11_5_pt),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
