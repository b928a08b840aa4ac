/*
 * test_base.c: the base every module stands on: the capped string buffer, the YAML tree,
 * and the error detail (kg_fail may be given its own last message).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "kg.h"
#include "sbuf.h"

static void sbuf_appends_and_formats(void **state)
{
	(void)state;
	struct sbuf b = SBUF_INIT;
	assert_string_equal(b.buf, "");
	sbuf_adds(&b, "令和");
	sbuf_addf(&b, "%d年", 8);
	sbuf_addc(&b, '!');
	assert_string_equal(b.buf, "令和8年!");
	assert_int_equal(b.len, strlen("令和8年!"));
	assert_int_equal(sbuf_check(&b), KG_OK);
	char *s = sbuf_detach(&b);
	assert_string_equal(s, "令和8年!");
	assert_string_equal(b.buf, "");
	free(s);
	sbuf_release(&b);
}

static void sbuf_overflow_is_sticky_and_keeps_the_text(void **state)
{
	(void)state;
	struct sbuf b;
	sbuf_init(&b, 8);
	sbuf_adds(&b, "12345");
	sbuf_adds(&b, "6789"); /* would pass the cap: dropped */
	assert_string_equal(b.buf, "12345");
	sbuf_adds(&b, "67"); /* fits, but the overflow stays reported */
	assert_int_equal(sbuf_check(&b), KG_EINPUT);
	sbuf_reset(&b);
	assert_int_equal(sbuf_check(&b), KG_OK);
	sbuf_release(&b);
}

static void sbuf_json_escapes_quotes_backslashes_and_controls(void **state)
{
	(void)state;
	struct sbuf b = SBUF_INIT;
	sbuf_add_json(&b, "a\"b\\c\nd\x01名");
	assert_string_equal(b.buf, "\"a\\\"b\\\\c\\u000ad\\u0001名\"");
	sbuf_release(&b);
}

static void sbuf_html_escapes_the_five_markup_characters(void **state)
{
	(void)state;
	struct sbuf b = SBUF_INIT;
	sbuf_add_html(&b, "<a href=\"x\" title='y'>R&D</a> 名");
	assert_string_equal(b.buf, "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;R&amp;D&lt;/a&gt; 名");
	sbuf_release(&b);
}

static void kg_fail_may_quote_its_own_last_message(void **state)
{
	(void)state;
	assert_int_equal(kg_fail(KG_EIO, "disk full"), KG_EIO);
	assert_int_equal(kg_fail(KG_EIO, "out/x.pdf: %s", kg_last_message()), KG_EIO);
	assert_string_equal(kg_last_message(), "out/x.pdf: disk full");
	assert_int_equal(kg_exit_code(KG_EINPUT), 2);
	assert_int_equal(kg_exit_code(KG_ELOCKED), 3);
	assert_int_equal(kg_exit_code(KG_EIO), 1);
}

static void kg_grow_makes_room_and_keeps_the_elements(void **state)
{
	(void)state;
	int *v = NULL;
	size_t alloc = 0;
	for (size_t n = 0; n < 1000; n++) {
		KG_GROW(v, n + 1, alloc);
		assert_true(alloc >= n + 1);
		v[n] = (int)n;
	}
	size_t before = alloc;
	KG_GROW(v, 10, alloc); /* never shrinks */
	assert_int_equal(alloc, before);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(v[i], i);
	free(v);
}

static void conf_follows_paths_into_maps_and_sequences(void **state)
{
	(void)state;
	struct conf *c;
	assert_int_equal(conf_load_string("a:\n  b: 新宿区\n  list: [x, y]\n  n: 42\n  on: yes\n", "t", &c), KG_OK);
	const struct conf_node *r = conf_root(c);
	assert_string_equal(conf_get_str(r, "a.b", NULL), "新宿区");
	assert_string_equal(conf_get_str(r, "a.list[1]", NULL), "y");
	assert_null(conf_at(r, "a.list[2]"));
	assert_null(conf_at(r, "a.missing"));
	assert_string_equal(conf_get_str(r, "a.missing", "default"), "default");
	assert_int_equal(conf_len(conf_at(r, "a.list")), 2);
	long n;
	bool on;
	assert_int_equal(conf_get_int(r, "a.n", 0, &n), KG_OK);
	assert_int_equal(n, 42);
	assert_int_equal(conf_get_bool(r, "a.on", false, &on), KG_OK);
	assert_true(on);
	assert_int_equal(conf_line(conf_at(r, "a.n")), 4);
	conf_free(c);
}

/* 60,000 nested '[' used to recurse once per level until the stack ran out. */
static void conf_refuses_nesting_deeper_than_its_bound(void **state)
{
	(void)state;
	size_t n = 60000;
	char *text = malloc(n + 4);
	memcpy(text, "a: ", 3);
	memset(text + 3, '[', n);
	text[n + 3] = '\0';
	struct conf *c = NULL;
	assert_int_equal(conf_load_string(text, "deep.yaml", &c), KG_EINPUT);
	assert_non_null(strstr(kg_last_message(), "deep.yaml:1: nested deeper than"));
	free(text);
	/* The bound leaves room for real documents. */
	char ok[2 * CONF_MAX_DEPTH + 8];
	size_t k = 0;
	for (int i = 1; i < CONF_MAX_DEPTH; i++)
		ok[k++] = '[';
	for (int i = 1; i < CONF_MAX_DEPTH; i++)
		ok[k++] = ']';
	ok[k] = '\0';
	assert_int_equal(conf_load_string(ok, "ok.yaml", &c), KG_OK);
	conf_free(c);
}

static void conf_rejects_bad_values_naming_the_line(void **state)
{
	(void)state;
	struct conf *c;
	assert_int_equal(conf_load_string("x: 1\ny: twelve\n", "t", &c), KG_OK);
	long n;
	assert_int_equal(conf_get_int(conf_root(c), "y", 0, &n), KG_EINPUT);
	assert_non_null(strstr(kg_last_message(), "line 2"));
	conf_free(c);
	assert_int_equal(conf_load_string("a: [1, 2\n", "broken.yaml", &c), KG_EINPUT);
	assert_non_null(strstr(kg_last_message(), "broken.yaml:"));
	assert_int_equal(conf_load_string("a: &x 1\nb: *x\n", "alias.yaml", &c), KG_EINPUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sbuf_appends_and_formats),
		cmocka_unit_test(sbuf_overflow_is_sticky_and_keeps_the_text),
		cmocka_unit_test(sbuf_json_escapes_quotes_backslashes_and_controls),
		cmocka_unit_test(sbuf_html_escapes_the_five_markup_characters),
		cmocka_unit_test(kg_fail_may_quote_its_own_last_message),
		cmocka_unit_test(kg_grow_makes_room_and_keeps_the_elements),
		cmocka_unit_test(conf_follows_paths_into_maps_and_sequences),
		cmocka_unit_test(conf_rejects_bad_values_naming_the_line),
		cmocka_unit_test(conf_refuses_nesting_deeper_than_its_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
