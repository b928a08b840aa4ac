/*
 * test_returns.c: returned mail (返戻) against a real SQLite database and the selection stage,
 * and the desk's request rules that need no server: which addresses it may listen on, and how
 * a form body is read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "returns.h"
#include "rules.h"
#include "select.h"
#include "settings.h"
#include "store.h"
#include "web.h"

#include "residents.h"

static int day(const char *s)
{
	int d;
	assert_int_equal(rules_parse_date(s, &d), KG_OK);
	return d;
}

static void the_desk_listens_on_loopback_only(void **state)
{
	(void)state;
	static const char *const ok[] = {"127.0.0.1:8470", "127.3.2.1:1", "localhost:65535", "[::1]:8470"};
	static const char *const refused[] = {
		"0.0.0.0:8470", "192.168.1.10:8470", "[::]:8470",       "[::ffff:127.0.0.1]:8470", "example.com:8470",
		"127.0.0.1",    "127.0.0.1:0",       "127.0.0.1:65536", "127.0.0.1:84x70",         ":8470",
		"[::1:8470"};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		assert_int_equal(web_check_listen(ok[i]), KG_OK);
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		if (web_check_listen(refused[i]) != KG_EUSAGE)
			fail_msg("%s was accepted", refused[i]);
	}
}

static void a_form_value_is_decoded_and_bounded(void **state)
{
	(void)state;
	char v[8];
	assert_true(web_form_value("id=12&pin=AB%43d+e", "pin", v, sizeof v));
	assert_string_equal(v, "ABCd e");
	assert_true(web_form_value("id=12&pin=", "pin", v, sizeof v));
	assert_string_equal(v, "");
	assert_false(web_form_value("xpin=1", "pin", v, sizeof v));       /* a key is matched whole */
	assert_false(web_form_value("pin=12345678", "pin", v, sizeof v)); /* 8 bytes + NUL do not fit */
	assert_string_equal(v, "");
	assert_false(web_form_value("pin=1%0A2", "pin", v, sizeof v)); /* a control character */
	assert_false(web_form_value("pin=1%2", "pin", v, sizeof v));   /* a broken escape */
	assert_false(web_form_value("pin=%00", "pin", v, sizeof v));
}

static void a_return_names_its_reason(void **state)
{
	(void)state;
	assert_string_equal(returns_reason_label(returns_reason_parse("moved_unknown")), "転居先不明");
	assert_int_equal(returns_reason_parse("lost"), -1);
	for (int r = 0; r < RETURNS_N_REASONS; r++)
		assert_int_equal(returns_reason_parse(returns_reason_name(r)), r);
}

static void nothing_is_mailed_again_to_an_address_mail_came_back_from(void **state)
{
	(void)state;
	char path[] = "/tmp/kigen-returns-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	struct store *st;
	struct settings set;
	assert_int_equal(store_open(path, &st), KG_OK);
	assert_int_equal(settings_load(NULL, &set), KG_OK);

	/* Two residents alike but for their address; both get a notice for the card expiring. */
	put_at(st, "A1", "1-1-1", day("2016-12-20"), day("2026-12-25"));
	put_at(st, "B1", "2-2-2", day("2016-12-20"), day("2026-12-25"));
	struct select_result res;
	assert_int_equal(select_run(st, &set, day("2026-11-21"), false, NULL, &res), KG_OK);
	assert_int_equal(res.card, 2);

	/* A1's envelope comes back: a code that is neither form is refused, the real one recorded once. */
	struct store_mailed m;
	bool added;
	assert_int_equal(returns_mark(st, "B0001-0000x1", RETURNS_MOVED_UNKNOWN, "T", "S", &m, &added), KG_EINPUT);
	assert_int_equal(returns_mark(st, "B0009-000001", RETURNS_MOVED_UNKNOWN, "T", "S", &m, &added), KG_ENOTFOUND);
	assert_int_equal(returns_mark(st, "B0001-000001", RETURNS_MOVED_UNKNOWN, "T", "S", &m, &added), KG_OK);
	assert_true(added);
	assert_string_equal(m.address, "東京都新宿区新宿1-1-1");
	assert_int_equal(returns_mark(st, m.app_id, RETURNS_REFUSED, "T", "S", &m, &added), KG_OK);
	assert_false(added); /* by the application ID: the same notice, recorded before */
	assert_string_equal(m.returned_reason, "moved_unknown");
	long waiting, remailed;
	assert_int_equal(store_returned_count(st, &waiting, &remailed), KG_OK);
	assert_int_equal(waiting, 1);

	/* Years later both renewed their cards at the same addresses: the next notice falls due.
	 * B1 gets it; A1's goes nowhere, since the last mail came back from that address. */
	put_at(st, "A1", "1-1-1", day("2026-12-01"), day("2031-12-25"));
	put_at(st, "B1", "2-2-2", day("2026-12-01"), day("2031-12-25"));
	assert_int_equal(select_run(st, &set, day("2031-09-20"), false, NULL, &res), KG_OK);
	assert_int_equal(res.card + res.cert, 1);
	assert_int_equal(res.excluded[SELECT_RETURNED], 1);
	assert_int_equal(res.remailed, 0);

	/* A1 moves: the new notice goes to the new address; the returned one, long expired, is not sent. */
	put_at(st, "A1", "3-3-3", day("2026-12-01"), day("2031-12-25"));
	assert_int_equal(select_run(st, &set, day("2031-09-21"), false, NULL, &res), KG_OK);
	assert_int_equal(res.card + res.cert, 1);
	assert_int_equal(res.excluded[SELECT_RETURNED], 0);
	assert_int_equal(res.remailed, 0);

	settings_release(&set);
	store_close(st);
	char side[64];
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_desk_listens_on_loopback_only),
		cmocka_unit_test(a_form_value_is_decoded_and_bounded),
		cmocka_unit_test(a_return_names_its_reason),
		cmocka_unit_test(nothing_is_mailed_again_to_an_address_mail_came_back_from),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
