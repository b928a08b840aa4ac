/*
 * test_render.c: the pinned fonts' coverage (IVS included), the 代替文字 table, and the
 * renderer's refusals: a character no font draws, a text that cannot fit, an empty document.
 * Runs from the repository root (tests/run.sh), where templates/ is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fonts.h"
#include "mailset.h"
#include "render.h"
#include "rules.h"
#include "sbuf.h"
#include "settings.h"

#include "banned.h"

static struct fonts *fonts;

static int setup(void **state)
{
	return fonts_new_from("templates/fonts.conf", &fonts) == KG_OK ? 0 : -1;
}

static int teardown(void **state)
{
	fonts_free(fonts);
	return 0;
}

static const struct {
	const char *text;
	size_t missing;
	const char *report; /* part of what fonts_missing() says, or NULL */
} coverage[] = {
	{"山田　太郎 Yamada 0120-95-0178", 0, NULL},
	{"𠮷田", 0, NULL},           /* outside JIS X 0208, in IPAmj */
	{"渡邊\U000E010A", 0, NULL}, /* an IVS IPAmj maps */
	{"葛\U000E0100", 0, NULL},
	{"葛\U000E01EF", 1, "U+845B U+E01EF"}, /* a variation selector no font maps */
	{"\U0003134A太郎", 1, "U+3134A"},      /* CJK extension G: no pinned font */
	{"\U0001F600", 1, "U+1F600"},
	{"a\xff", 1, "invalid UTF-8"},
};

static void test_fonts_missing_reports_each_character_no_font_draws(void **state)
{
	for (size_t i = 0; i < KG_ARRAY_SIZE(coverage); i++) {
		struct sbuf m = SBUF_INIT;
		size_t n = fonts_missing(fonts, coverage[i].text, &m);
		if (n != coverage[i].missing)
			fail_msg("%s: %zu missing, expected %zu (%s)", coverage[i].text, n, coverage[i].missing, m.buf);
		if (coverage[i].report)
			assert_non_null(strstr(m.buf, coverage[i].report));
		sbuf_release(&m);
	}
}

static void table(struct settings *s, const char *mode)
{
	memset(s, 0, sizeof *s);
	static struct settings_substitute subs[] = {
		{"\U0003134A", "鬱"},
		{"葛", "葛"},                 /* the base character stands for its unknown variants */
		{"\U0001F600", "\U0001F601"}, /* a substitute that is itself unprintable */
	};
	s->substitutes = subs;
	s->n_substitutes = KG_ARRAY_SIZE(subs);
	s->unknown_glyph = (char *)mode;
}

static void test_fonts_substitute_replaces_from_the_table(void **state)
{
	struct settings s;
	table(&s, "substitute");
	struct sbuf out = SBUF_INIT;
	assert_int_equal(fonts_substitute(fonts, &s, "\U0003134A田　太郎", &out), KG_OK);
	assert_string_equal(out.buf, "鬱田　太郎");
	sbuf_reset(&out);
	assert_int_equal(fonts_substitute(fonts, &s, "葛\U000E01EF西", &out), KG_OK);
	assert_string_equal(out.buf, "葛西");
	sbuf_reset(&out);
	/* Printable text, IVS included, passes unchanged. */
	assert_int_equal(fonts_substitute(fonts, &s, "渡邊\U000E010A　花子", &out), KG_OK);
	assert_string_equal(out.buf, "渡邊\U000E010A　花子");
	sbuf_release(&out);
}

static void test_fonts_substitute_holds_what_the_table_cannot_fix(void **state)
{
	struct settings s;
	table(&s, "substitute");
	struct sbuf out = SBUF_INIT;
	assert_int_equal(fonts_substitute(fonts, &s, "\U0002FFFF\U00030000", &out), KG_EINPUT); /* no entry */
	assert_non_null(strstr(kg_last_message(), "U+30000"));
	sbuf_reset(&out);
	assert_int_equal(fonts_substitute(fonts, &s, "\U0001F600", &out), KG_EINPUT); /* unprintable entry */
	sbuf_reset(&out);
	table(&s, "hold");
	assert_int_equal(fonts_substitute(fonts, &s, "\U0003134A田", &out), KG_EINPUT); /* hold: never substitute */
	assert_non_null(strstr(kg_last_message(), "hold"));
	sbuf_release(&out);
}

/* One card-renewal set for rendering. */
static void one_set(struct mailset *m, const char *name)
{
	memset(m, 0, sizeof *m);
	m->seq = 1;
	m->batch = 7;
	m->batch_day = rules_from_ymd(2025, 3, 31);
	memcpy(m->app_id, "12345678901234567890120", 24);
	m->name = name;
	m->kana = "";
	m->postal_code = "160-0023";
	m->addr_town = "東京都新宿区西新宿二丁目";
	m->addr_block = "8番1号";
	m->addr_building = "";
	m->kind = MAILSET_NOTICE;
	m->target = MAILSET_CARD;
	m->certs = MAILSET_SIGN | MAILSET_AUTH;
	m->expiry = rules_from_ymd(2025, 7, 9);
	m->birth = rules_from_ymd(1980, 1, 2);
	m->has_sign_cert = true;
}

static struct render *new_render(struct settings *s)
{
	struct render *r = NULL;
	assert_int_equal(settings_load(NULL, s), KG_OK);
	if (render_new(s, &r))
		fail_msg("render_new: %s", kg_last_message());
	return r;
}

static void test_render_refuses_a_name_no_font_can_draw(void **state)
{
	struct settings s;
	struct render *r = new_render(&s);
	struct mailset m;
	one_set(&m, "\U0003134A田　太郎");
	char path[] = "/tmp/kigen-test-render-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	for (int doc = RENDER_SHEETS; doc <= RENDER_OUTER; doc += 2) {
		assert_int_equal(render_file(r, (enum render_doc)doc, path, &m, 1), KG_ERENDER);
		assert_non_null(strstr(kg_last_message(), "U+3134A"));
		assert_non_null(strstr(kg_last_message(), "B0007-000001"));
		assert_int_equal(access(path, F_OK), -1); /* nothing under the final name */
	}
	/* The same name through the table prints. */
	one_set(&m, "鬱田　太郎");
	assert_int_equal(render_file(r, RENDER_SHEETS, path, &m, 1), KG_OK);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	render_free(r);
	settings_release(&s);
}

static void test_render_names_the_field_that_cannot_fit(void **state)
{
	struct settings s;
	struct render *r = new_render(&s);
	struct sbuf name = SBUF_INIT;
	for (int i = 0; i < 60; i++)
		sbuf_adds(&name, "長谷川");
	struct mailset m;
	one_set(&m, name.buf);
	assert_int_equal(render_file(r, RENDER_SHEETS, "/tmp/kigen-test-never.pdf", &m, 1), KG_ERENDER);
	if (!strstr(kg_last_message(), "氏名") || !strstr(kg_last_message(), "does not fit"))
		fail_msg("message: %s", kg_last_message());
	assert_int_equal(access("/tmp/kigen-test-never.pdf", F_OK), -1);
	sbuf_release(&name);
	render_free(r);
	settings_release(&s);
}

/* Reads a whole file (caller frees); *len its length. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct sbuf b = SBUF_INIT;
	char chunk[65536];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		sbuf_add(&b, chunk, got);
	fclose(f);
	*len = b.len;
	return b.buf;
}

/* A render worker writes file after file with one render: the second file of the same sets
 * must be the very bytes of the first (texts the process drew before are not painted from a
 * recording made for an earlier file), or a batch's bytes would depend on which worker drew
 * which file, and on whether workers were forked at all. */
static void test_render_a_files_bytes_do_not_depend_on_files_drawn_before(void **state)
{
	struct settings s;
	struct render *r = new_render(&s);
	struct mailset m;
	one_set(&m, "山田　太郎");
	char d1[] = "/tmp/kigen-test-render-XXXXXX", d2[] = "/tmp/kigen-test-render-XXXXXX";
	assert_non_null(mkdtemp(d1));
	assert_non_null(mkdtemp(d2));
	char p1[64], p2[64];
	snprintf(p1, sizeof p1, "%s/sheets-001.pdf", d1);
	snprintf(p2, sizeof p2, "%s/sheets-001.pdf", d2);
	assert_int_equal(render_file(r, RENDER_SHEETS, p1, &m, 1), KG_OK);
	assert_int_equal(render_file(r, RENDER_SHEETS, p2, &m, 1), KG_OK);
	size_t n1, n2;
	char *b1 = slurp(p1, &n1), *b2 = slurp(p2, &n2);
	if (n1 != n2 || memcmp(b1, b2, n1))
		fail_msg("the same set drawn twice: %zu bytes, then %zu", n1, n2);
	free(b1);
	free(b2);
	unlink(p1);
	unlink(p2);
	rmdir(d1);
	rmdir(d2);
	render_free(r);
	settings_release(&s);
}

static void test_render_refuses_a_document_without_pages(void **state)
{
	struct settings s;
	struct render *r = new_render(&s);
	struct mailset m;
	one_set(&m, "山田　太郎"); /* a card renewal has no sealing envelope */
	assert_int_equal(render_file(r, RENDER_INNER, "/tmp/kigen-test-never.pdf", &m, 1), KG_EINPUT);
	assert_int_equal(render_pages(RENDER_INNER, render_pieces(MAILSET_NOTICE, MAILSET_CARD)), 0);
	assert_int_equal(render_pages(RENDER_SHEETS, render_pieces(MAILSET_NOTICE, MAILSET_CERT)), 2);
	assert_int_equal(render_pages(RENDER_SHEETS, render_pieces(MAILSET_REINQUIRY, MAILSET_CERT)), 1);
	assert_int_equal(render_pages(RENDER_INNER, render_pieces(MAILSET_REINQUIRY, MAILSET_CERT)), 1);
	render_free(r);
	settings_release(&s);
}

/* Whether part (when not empty) stands whole on one of lines ("a\nb\n"). */
static bool whole_on_a_line(const char *lines, const char *part)
{
	if (!part || !*part)
		return true;
	for (const char *l = lines; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char *line = strndup(l, len);
		bool found = strstr(line, part) != NULL;
		free(line);
		if (found)
			return true;
		l += len + (nl != NULL);
	}
	return false;
}

/* The 住所 lines of m's mailing envelope, checked part by part; fails with the lines. */
static void expect_parts_whole(struct render *r, const struct mailset *m, const char *label, const char *const parts[],
                               size_t n)
{
	struct sbuf lines = SBUF_INIT;
	if (render_text_lines(r, RENDER_OUTER, m, label, &lines))
		fail_msg("%s: %s", m->resident_id, kg_last_message());
	for (size_t i = 0; i < n; i++)
		if (!whole_on_a_line(lines.buf, parts[i]))
			fail_msg("%s: %s 「%s」 is broken across lines:\n%s", m->resident_id, label, parts[i],
			         lines.buf);
	sbuf_release(&lines);
}

/*
 * The rule of the mailing envelope over the generator's whole address range: for each of
 * 10,000 residents of scripts/gen-registry, the 町域, the 番地・号 and the 方書 each stand whole
 * on one line of the 住所 as the layout breaks it, and so does the name.
 */
static void test_render_envelope_address_parts_never_break_over_a_generated_registry(void **state)
{
	struct settings s;
	struct render *r = new_render(&s);
	FILE *in = popen("scripts/gen-registry --count 10000 --seed 9 | python3 -c '"
	                 "import csv, sys\n"
	                 "for row in csv.DictReader(sys.stdin):\n"
	                 "    print(\"\\t\".join(row[k] for k in (\"resident_id\", \"name\", \"address_town\","
	                 " \"address_block\", \"address_building\")))'",
	                 "r");
	assert_non_null(in);
	char buf[4096];
	int n = 0;
	while (fgets(buf, sizeof buf, in)) {
		buf[strcspn(buf, "\r\n")] = '\0';
		char *f[5] = {buf};
		for (int i = 1; i < 5; i++) {
			f[i] = f[i - 1] ? strchr(f[i - 1], '\t') : NULL;
			if (f[i])
				*f[i]++ = '\0';
		}
		if (!f[4])
			fail_msg("bad line from the generator: %s", buf);
		struct mailset m;
		one_set(&m, f[1]);
		m.resident_id = f[0];
		m.addr_town = f[2];
		m.addr_block = f[3];
		m.addr_building = f[4];
		const char *const address[] = {f[2], f[3], f[4]}, *const name[] = {f[1]};
		expect_parts_whole(r, &m, "住所", address, 3);
		expect_parts_whole(r, &m, "氏名", name, 1);
		n++;
	}
	assert_int_equal(pclose(in), 0);
	assert_int_equal(n, 10000);
	render_free(r);
	settings_release(&s);
}

/* Breaks at the envelope's minimum size, for parts no line can hold: the town's own parts
 * (prefecture, city, Kyoto street names) and 丁目/番地/号 are where a line may end; a number,
 * a town name such as 恵比須町 and a building's name never break. */
static void test_render_a_part_longer_than_a_line_breaks_where_a_reader_accepts(void **state)
{
	static const struct {
		const char *town, *block, *building;
		const char *whole[4]; /* each must stand on one line */
	} t[] = {
		{"京都府京都市下京区烏丸通七条下る東塩小路町西洞院通四条上る恵比須町",
	         "204番地1",
	         "",
	         {"恵比須町", "東塩小路町", "204番地", NULL}},
		{"東京都新宿区西新宿",
	         "12345678901234567890123番地45678901234号",
	         "",
	         {"12345678901234567890123", "45678901234", NULL}},
		{"北海道札幌市中央区北一条西",
	         "十九丁目21番3号",
	         "サンライズマンション東館南側棟エントランスホール奥1101号室",
	         {"サンライズマンション東館南側棟", "1101", NULL}},
	};
	struct settings s;
	struct render *r = new_render(&s);
	for (size_t i = 0; i < KG_ARRAY_SIZE(t); i++) {
		struct mailset m;
		one_set(&m, "山田　太郎");
		m.resident_id = t[i].town;
		m.addr_town = t[i].town;
		m.addr_block = t[i].block;
		m.addr_building = t[i].building;
		size_t n = 0;
		while (t[i].whole[n])
			n++;
		expect_parts_whole(r, &m, "住所", t[i].whole, n);
	}
	render_free(r);
	settings_release(&s);
}

/* render_check() says in advance exactly what render_file() will do: the sets it passes are
 * drawn, the sets it refuses are refused by the renderer, for the same reason. */
static void test_render_check_agrees_with_the_renderer(void **state)
{
	struct settings s;
	struct render *r = new_render(&s);
	struct sbuf long80 = SBUF_INIT, long66 = SBUF_INIT, long200 = SBUF_INIT;
	for (int i = 0; i < 200; i++)
		sbuf_adds(&long200, "ア");
	for (int i = 0; i < 80; i++)
		sbuf_adds(&long80, "ア");
	for (int i = 0; i < 66; i++)
		sbuf_adds(&long66, "ア");
	static const char *const no_reason = NULL;
	const struct {
		const char *name, *postal, *town;
		enum mailset_target target;
		const char *reason; /* part of the message, or NULL: printable */
	} cases[] = {
		{"山田　太郎", "160-0023", "東京都新宿区西新宿二丁目", MAILSET_CARD, no_reason},
		{"山田　太郎", "160-0023", "東京都新宿区西新宿二丁目", MAILSET_CERT, no_reason},
		{long66.buf, "160-0023", "東京都新宿区西新宿二丁目", MAILSET_CERT, no_reason},
		{long80.buf, "160-0023", "東京都新宿区西新宿二丁目", MAILSET_CERT, "does not fit"},
		/* a card renewal has no form and no sealing envelope: larger name boxes only */
		{long80.buf, "160-0023", "東京都新宿区西新宿二丁目", MAILSET_CARD, no_reason},
		{long200.buf, "160-0023", "東京都新宿区西新宿二丁目", MAILSET_CARD, "does not fit"},
		{"\U0003134A田　太郎", "160-0023", "東京都新宿区西新宿二丁目", MAILSET_CARD, "U+3134A"},
		{"山田　太郎", "160-0023", "　 　", MAILSET_CARD, "住所"},
		{"山田　太郎", "1600023", "東京都新宿区西新宿二丁目", MAILSET_CARD, "郵便番号"},
		{"山田　太郎", "", "東京都新宿区西新宿二丁目", MAILSET_CARD, "郵便番号"},
	};
	char path[] = "/tmp/kigen-test-check-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mailset m;
		one_set(&m, cases[i].name);
		m.postal_code = cases[i].postal;
		m.addr_town = cases[i].town;
		m.target = cases[i].target;
		enum kg_err checked = render_check(r, &m);
		if (cases[i].reason ? checked != KG_ERENDER || !strstr(kg_last_message(), cases[i].reason) : checked)
			fail_msg("case %zu: render_check gave %d: %s", i, checked, kg_last_message());
		enum kg_err drawn = KG_OK;
		for (int doc = RENDER_SHEETS; doc <= RENDER_OUTER && !drawn; doc++) {
			if (!render_pages((enum render_doc)doc, render_pieces(m.kind, m.target)))
				continue;
			drawn = render_file(r, (enum render_doc)doc, path, &m, 1);
			unlink(path);
		}
		if (drawn != checked)
			fail_msg("case %zu: render_check %d but render_file %d: %s", i, checked, drawn,
			         kg_last_message());
	}
	sbuf_release(&long80);
	sbuf_release(&long66);
	sbuf_release(&long200);
	render_free(r);
	settings_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fonts_missing_reports_each_character_no_font_draws),
		cmocka_unit_test(test_fonts_substitute_replaces_from_the_table),
		cmocka_unit_test(test_fonts_substitute_holds_what_the_table_cannot_fix),
		cmocka_unit_test(test_render_refuses_a_name_no_font_can_draw),
		cmocka_unit_test(test_render_names_the_field_that_cannot_fit),
		cmocka_unit_test(test_render_refuses_a_document_without_pages),
		cmocka_unit_test(test_render_a_files_bytes_do_not_depend_on_files_drawn_before),
		cmocka_unit_test(test_render_envelope_address_parts_never_break_over_a_generated_registry),
		cmocka_unit_test(test_render_a_part_longer_than_a_line_breaks_where_a_reader_accepts),
		cmocka_unit_test(test_render_check_agrees_with_the_renderer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
