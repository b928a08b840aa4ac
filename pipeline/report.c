/*
 * report.c: the run report: a text summary, report.html and the forecast chart (forecast.png).
 *
 * The chart is drawn on a cairo image surface with pango for the Japanese labels and streamed
 * into an afile, so a full disk is an error and never a half PNG. The HTML carries no clock
 * time, only the run date, so the same run gives the same report.
 */
#include "report.h"

#include <cairo.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "afile.h"
#include "manifest.h"
#include "rules.h"
#include "banned.h"

#define CHART_W 1000
#define CHART_H 520
#define CHART_FONT "IPAexGothic"

/* One file of the batch folder and its size. */
struct entry {
	char *name;
	long long bytes;
};

static enum kg_err folder(const char *dir, struct entry **out, size_t *n)
{
	char **names = NULL;
	size_t len = 0;
	enum kg_err err = manifest_list_files(dir, &names, &len);
	if (err)
		return err;
	struct entry *e = kg_calloc(len + 1, sizeof *e);
	for (size_t i = 0; i < len; i++) {
		struct sbuf p = SBUF_INIT;
		struct stat st;
		sbuf_addf(&p, "%s/%s", dir, names[i]);
		e[i].name = names[i];
		e[i].bytes = !sbuf_check(&p) && !stat(p.buf, &st) ? (long long)st.st_size : -1;
		sbuf_release(&p);
	}
	free(names);
	*out = e;
	*n = len;
	return KG_OK;
}

static void folder_free(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

/* 1234567 -> "1,234,567" */
static void grouped(long long v, char out[32])
{
	char digits[32];
	int n = snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v), k = 0;
	if (v < 0)
		out[k++] = '-';
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			out[k++] = ',';
		out[k++] = digits[i];
	}
	out[k] = 0;
}

static long total_of(const struct report_input *in)
{
	return in->card + in->cert + in->reinquiries;
}

enum kg_err report_summary(const char *dir, const struct report_input *in, struct sbuf *out)
{
	struct entry *files = NULL;
	size_t n = 0;
	enum kg_err err = folder(dir, &files, &n);
	if (err)
		return err;
	char date[RULES_DATE_LEN], num[32];
	rules_format_date(in->run_date, date);
	sbuf_addf(out, "バッチ %lld（%s）: 通知 %ld 通\n", (long long)in->batch, date, total_of(in));
	sbuf_addf(out, "  マイナンバーカード %ld / 電子証明書 %ld / 電子証明書（再照会） %ld\n", in->card, in->cert,
	          in->reinquiries);
	if (in->card_without_jlis_id)
		sbuf_addf(out, "  うち申請書IDなし（窓口・郵送のみ） %ld\n", in->card_without_jlis_id);
	long excluded = 0;
	for (size_t i = 0; i < in->n_excluded; i++)
		excluded += in->excluded_counts[i];
	sbuf_addf(out, "除外 %ld 件\n", excluded);
	for (size_t i = 0; i < in->n_excluded; i++)
		sbuf_addf(out, "  %s %ld\n", manifest_reason_label(in->excluded_reasons[i]), in->excluded_counts[i]);
	sbuf_addf(out, "返戻 %ld 件（新しい住所待ち %ld / 再送済み %ld）\n",
	          in->returned_waiting + in->returned_remailed, in->returned_waiting, in->returned_remailed);
	if (in->n_holds)
		sbuf_addf(out, "保留 %zu 件（印刷していません: kigen notice list --held）\n", in->n_holds);
	for (size_t i = 0; i < in->n_holds; i++)
		sbuf_addf(out, "  %s %s（%s）\n", in->holds[i].app_id, in->holds[i].reason, in->holds[i].by);
	sbuf_addf(out, "ファイル %zu 件\n", n);
	for (size_t i = 0; i < n; i++) {
		grouped(files[i].bytes, num);
		sbuf_addf(out, "  %-32s %14s バイト\n", files[i].name, num);
	}
	if (in->n_stages)
		sbuf_adds(out, "処理時間\n");
	for (size_t i = 0; i < in->n_stages; i++)
		sbuf_addf(out, "  %-10s %8.1f 秒\n", in->stages[i].name, in->stages[i].seconds);
	folder_free(files, n);
	return sbuf_check(out);
}

/* --- forecast.png ------------------------------------------------------------------------------ */

static void text_at(cairo_t *cr, PangoLayout *l, const char *s, double x, double y, double align)
{
	int w, h;
	pango_layout_set_text(l, s, -1);
	pango_layout_get_pixel_size(l, &w, &h);
	cairo_move_to(cr, x - align * w, y);
	pango_cairo_show_layout(cr, l);
}

static cairo_status_t to_stream(void *closure, const unsigned char *data, unsigned int len)
{
	return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* A round step (1, 2, 5 times a power of ten) for at most five gridlines. */
static long grid_step(long max)
{
	for (long p = 1;; p *= 10)
		for (int i = 0; i < 3; i++) {
			long step = p * (long[]){1, 2, 5}[i];
			if (max / step <= 5)
				return step;
		}
}

static enum kg_err draw_chart(const struct report_input *in, FILE *fp)
{
	enum kg_err err = KG_OK;
	cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, CHART_W, CHART_H);
	cairo_t *cr = cairo_create(surf);
	PangoLayout *l = pango_cairo_create_layout(cr);
	PangoFontDescription *font = pango_font_description_from_string(CHART_FONT " 11");
	PangoFontDescription *title = pango_font_description_from_string(CHART_FONT " Bold 15");
	/* Hinting off: the same glyph positions whatever the display settings. */
	cairo_font_options_t *fo = cairo_font_options_create();
	cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
	cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
	pango_cairo_context_set_font_options(pango_layout_get_context(l), fo);
	pango_layout_context_changed(l);

	const double left = 70, right = 20, top = 60, bottom = 70;
	const double pw = CHART_W - left - right, ph = CHART_H - top - bottom;
	int weeks = in->forecast_weeks;
	long max = 0;
	for (int w = 0; w < weeks; w++)
		if (in->forecast[w] > max)
			max = in->forecast[w];
	long step = grid_step(max ? max : 1);
	long top_v = (max / step + 1) * step;
	char buf[96], from[RULES_DATE_LEN];

	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	pango_layout_set_font_description(l, title);
	rules_format_date(in->forecast_from, from);
	snprintf(buf, sizeof buf, "今後%d週間の有効期限通知の予定数（週ごと、%s から）", weeks, from);
	text_at(cr, l, buf, CHART_W / 2.0, 16, 0.5);
	pango_layout_set_font_description(l, font);

	/* Gridlines and the count axis. */
	cairo_set_line_width(cr, 1);
	for (long v = 0; v <= top_v; v += step) {
		double y = top + ph - ph * (double)v / (double)top_v;
		cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
		cairo_move_to(cr, left, y + 0.5);
		cairo_line_to(cr, left + pw, y + 0.5);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		snprintf(buf, sizeof buf, "%ld", v);
		text_at(cr, l, buf, left - 8, y - 8, 1);
	}
	text_at(cr, l, "通数", left - 8, top - 34, 1);

	/* Bars, the count above each, the week's first day below every other one. */
	double slot = pw / weeks;
	for (int w = 0; w < weeks; w++) {
		double h = ph * (double)in->forecast[w] / (double)top_v;
		double x = left + slot * w + slot * 0.15;
		cairo_set_source_rgb(cr, 0.22, 0.45, 0.70);
		cairo_rectangle(cr, x, top + ph - h, slot * 0.7, h);
		cairo_fill(cr);
		cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
		snprintf(buf, sizeof buf, "%ld", in->forecast[w]);
		text_at(cr, l, buf, x + slot * 0.35, top + ph - h - 18, 0.5);
		if (w % 2 == 0) {
			int y, m, d;
			rules_to_ymd(in->forecast_from + 7 * w, &y, &m, &d);
			snprintf(buf, sizeof buf, "%d/%d", m, d);
			text_at(cr, l, buf, x + slot * 0.35, top + ph + 6, 0.5);
		}
	}
	text_at(cr, l, "週の初日（月/日）", left + pw / 2, CHART_H - 30, 0.5);

	cairo_surface_flush(surf);
	if (cairo_status(cr) || cairo_surface_status(surf))
		err = kg_fail(KG_ERENDER, "forecast.png: %s", cairo_status_to_string(cairo_status(cr)));
	else if (cairo_surface_write_to_png_stream(surf, to_stream, fp))
		err = kg_fail(KG_EIO, "forecast.png: the PNG could not be written");
	cairo_font_options_destroy(fo);
	pango_font_description_free(font);
	pango_font_description_free(title);
	g_object_unref(l);
	cairo_destroy(cr);
	cairo_surface_destroy(surf);
	return err;
}

/* --- report.html ------------------------------------------------------------------------------- */

static void html_row(struct sbuf *b, const char *label, const char *value)
{
	sbuf_adds(b, "<tr><th>");
	sbuf_add_html(b, label);
	sbuf_adds(b, "</th><td class=\"n\">");
	sbuf_add_html(b, value);
	sbuf_adds(b, "</td></tr>\n");
}

static void html_report(const struct report_input *in, const struct entry *files, size_t n, struct sbuf *b)
{
	char date[RULES_DATE_LEN], era[RULES_ERA_LEN], num[32], title[96];
	rules_format_date(in->run_date, date);
	if (rules_era(in->run_date, era))
		era[0] = 0;
	snprintf(title, sizeof title, "実行報告 バッチ %lld（%s）", (long long)in->batch, date);
	sbuf_adds(b, "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
	sbuf_add_html(b, title);
	sbuf_adds(b, "</title>\n<style>\nbody { font-family: \"IPAexGothic\", sans-serif; margin: 2em; }\n"
	             "table { border-collapse: collapse; margin-bottom: 1.5em; }\n"
	             "th, td { border: 1px solid #999; padding: 0.2em 0.8em; text-align: left; }\n"
	             "td.n { text-align: right; }\n</style>\n</head>\n<body>\n<h1>");
	sbuf_add_html(b, title);
	sbuf_adds(b, "</h1>\n<p>作成日: ");
	sbuf_add_html(b, era);
	sbuf_adds(b, "</p>\n<h2>通知の件数</h2>\n<table>\n");
	struct {
		const char *label;
		long v;
	} counts[] = {{"マイナンバーカード", in->card},
	              {"電子証明書", in->cert},
	              {"うち申請書IDなし（オンライン申請不可）", in->card_without_jlis_id},
	              {"電子証明書（再照会）", in->reinquiries},
	              {"合計", total_of(in)}};
	for (size_t i = 0; i < KG_ARRAY_SIZE(counts); i++) {
		grouped(counts[i].v, num);
		html_row(b, counts[i].label, num);
	}
	sbuf_adds(b, "</table>\n<h2>除外した件数（理由別）</h2>\n<table>\n");
	if (!in->n_excluded)
		sbuf_adds(b, "<tr><td>なし</td></tr>\n");
	for (size_t i = 0; i < in->n_excluded; i++) {
		grouped(in->excluded_counts[i], num);
		html_row(b, manifest_reason_label(in->excluded_reasons[i]), num);
	}
	sbuf_adds(b, "</table>\n");
	if (in->n_holds) {
		sbuf_adds(b, "<h2>保留した通知（印刷していません）</h2>\n<p>kigen notice list --held で確認し、"
		             "名簿を直して kigen notice release、または kigen notice void。</p>\n<table>\n"
		             "<tr><th>通知番号</th><th>担当</th><th>理由</th></tr>\n");
		for (size_t i = 0; i < in->n_holds; i++) {
			sbuf_adds(b, "<tr><td>");
			sbuf_add_html(b, in->holds[i].app_id);
			sbuf_adds(b, "</td><td>");
			sbuf_add_html(b, in->holds[i].by);
			sbuf_adds(b, "</td><td>");
			sbuf_add_html(b, in->holds[i].reason);
			sbuf_adds(b, "</td></tr>\n");
		}
		sbuf_adds(b, "</table>\n");
	}
	sbuf_adds(b, "<h2>返戻（これまでの累計）</h2>\n<table>\n");
	grouped(in->returned_waiting, num);
	html_row(b, "新しい住所待ち（同じ住所へは送りません）", num);
	grouped(in->returned_remailed, num);
	html_row(b, "新しい住所へ再送済み", num);
	sbuf_adds(b, "</table>\n<h2>ファイル</h2>\n<table>\n<tr><th>ファイル名</th><th>バイト数</th></tr>\n");
	for (size_t i = 0; i < n; i++) {
		grouped(files[i].bytes, num);
		html_row(b, files[i].name, num);
	}
	sbuf_adds(b, "</table>\n<h2>処理時間</h2>\n<table>\n");
	for (size_t i = 0; i < in->n_stages; i++) {
		snprintf(num, sizeof num, "%.1f 秒", in->stages[i].seconds);
		html_row(b, in->stages[i].name, num);
	}
	sbuf_adds(b, "</table>\n");
	if (in->forecast) {
		sbuf_adds(b, "<h2>今後の通知予定（週ごと）</h2>\n"
		             "<p><img src=\"forecast.png\" alt=\"週ごとの通知予定数のグラフ\" width=\"1000\" "
		             "height=\"520\"></p>\n"
		             "<table>\n<tr><th>週の初日</th><th>通数</th></tr>\n");
		for (int w = 0; w < in->forecast_weeks; w++) {
			rules_format_date(in->forecast_from + 7 * w, date);
			grouped(in->forecast[w], num);
			html_row(b, date, num);
		}
		sbuf_adds(b, "</table>\n");
	}
	sbuf_adds(b, "</body>\n</html>\n");
}

enum kg_err report_write(const char *dir, const struct report_input *in)
{
	struct entry *files = NULL;
	size_t n = 0;
	struct sbuf html = SBUF_INIT;
	struct afile *f = NULL;
	enum kg_err err = KG_OK;
	if (in->forecast && in->forecast_weeks <= 0)
		return kg_fail(KG_EINPUT, "report: %d forecast weeks", in->forecast_weeks);
	if (in->forecast) {
		if ((err = afile_open(dir, "forecast.png", &f)) || (err = draw_chart(in, afile_stream(f))))
			goto out;
		err = afile_commit(f);
		f = NULL;
		if (err)
			goto out;
	}
	/* Listed after the chart is written, so the report names forecast.png with its size. */
	if ((err = folder(dir, &files, &n)))
		goto out;
	html_report(in, files, n, &html);
	if ((err = sbuf_check(&html)) || (err = afile_open(dir, "report.html", &f)))
		goto out;
	fwrite(html.buf, 1, html.len, afile_stream(f));
	err = afile_commit(f);
	f = NULL;
out:
	afile_abort(f);
	folder_free(files, n);
	sbuf_release(&html);
	return err;
}
