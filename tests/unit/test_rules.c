/*
 * test_rules.c: the domain rules (rules.h), table-driven: their worked examples, the
 * month-end and Feb 29 edges, era boundaries, check digits and the maintenance Sunday.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "rules.h"

static int D(const char *s)
{
	int day = RULES_NO_DATE;
	assert_int_equal(rules_parse_date(s, &day), KG_OK);
	return day;
}

static void assert_date(int day, const char *expected)
{
	char got[RULES_DATE_LEN];
	if (!expected) {
		assert_int_equal(day, RULES_NO_DATE);
		return;
	}
	rules_format_date(day, got);
	assert_string_equal(got, expected);
}

static void dates_round_trip_and_reject_impossible_days(void **state)
{
	(void)state;
	int day;
	for (int d = rules_from_ymd(1873, 1, 1); d < rules_from_ymd(2100, 1, 1); d += 7) {
		char s[RULES_DATE_LEN];
		rules_format_date(d, s);
		assert_int_equal(rules_parse_date(s, &day), KG_OK);
		assert_int_equal(day, d);
	}
	static const char *const bad[] = {"2023-02-29", "2026-04-31",  "2026-13-01", "2026-00-10", "2026-1-1",
	                                  "20260101",   "2026-01-01x", "",           "abcd-ef-gh", "1900-02-29"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(rules_parse_date(bad[i], &day), KG_EINPUT);
	assert_int_equal(rules_parse_date("2024-02-29", &day), KG_OK);
	assert_int_equal(rules_parse_date("2000-02-29", &day), KG_OK);
	assert_int_equal(rules_weekday(D("2026-11-21")), 6); /* a Saturday */
}

struct expiry_case {
	const char *why;
	const char *birth, *card, *cert, *received, *stay, *previous;
	const char *want_card, *want_auth, *want_sign;
};

static const struct expiry_case expiry_cases[] = {
	{"the rules: adult card runs to the 10th birthday, certificate to the 5th", "1985-10-10", "2020-05-15", NULL,
         NULL, NULL, NULL, "2029-10-10", "2024-10-10", "2024-10-10"},
	{"the rules: age 11, a 5-year card and no signature certificate", "2010-07-01", "2022-06-01", NULL, NULL, NULL,
         NULL, "2026-07-01", "2026-07-01", NULL},
	{"the rules: received before 2022-04-01 at 19, the old adult age 20 gives 5 years", "2002-09-01", "2022-04-15",
         NULL, "2022-03-20", NULL, NULL, "2026-09-01", "2026-09-01", "2026-09-01"},
	{"issued on the birthday does not count that birthday", "1980-05-15", "2016-05-15", NULL, NULL, NULL, NULL,
         "2026-05-15", "2021-05-15", "2021-05-15"},
	{"issued the day before the birthday counts it", "1980-05-15", "2016-05-14", NULL, NULL, NULL, NULL,
         "2025-05-15", "2020-05-15", "2020-05-15"},
	{"18 on the issue day itself is adult (the new age starts on the birthday)", "2005-06-01", "2023-06-01", NULL,
         NULL, NULL, NULL, "2033-06-01", "2028-06-01", "2028-06-01"},
	{"17 the day before the 18th birthday gets 5 years", "2005-06-02", "2023-06-01", NULL, NULL, NULL, NULL,
         "2027-06-02", "2027-06-02", "2027-06-02"},
	{"received after 2022-04-01 at 19: 10 years", "2002-09-01", "2022-04-15", NULL, "2022-04-01", NULL, NULL,
         "2031-09-01", "2026-09-01", "2026-09-01"},
	{"14 at issue: a 5-year card and no signature certificate", "2009-06-10", "2024-01-09", NULL, NULL, NULL, NULL,
         "2028-06-10", "2028-06-10", NULL},
	{"15 on the issue day: a signature certificate", "2009-01-10", "2024-01-10", NULL, NULL, NULL, NULL,
         "2029-01-10", "2029-01-10", "2029-01-10"},
	{"Feb 29 birthday falls on Feb 28 in a common year", "2000-02-29", "2020-03-01", NULL, NULL, NULL, NULL,
         "2030-02-28", "2025-02-28", "2025-02-28"},
	{"Feb 29 birthday in a leap year stays Feb 29", "1996-02-29", "2018-03-01", NULL, NULL, NULL, NULL,
         "2028-02-29", "2023-02-28", "2023-02-28"},
	{"certificate renewed later is capped by the card", "1985-10-10", "2020-05-15", "2024-09-01", NULL, NULL, NULL,
         "2029-10-10", "2028-10-10", "2028-10-10"},
	{"certificate renewed inside its window runs from the old expiry", "1985-10-10", "2020-05-15", "2024-09-01",
         NULL, NULL, "2024-10-10", "2029-10-10", "2029-10-10", "2029-10-10"},
	{"certificate issued after the old expiry is a new issuance", "1985-10-10", "2020-05-15", "2024-10-11", NULL,
         NULL, "2024-10-10", "2029-10-10", "2029-10-10", "2029-10-10"},
	{"certificate issued before the window is no renewal", "1985-10-10", "2020-05-15", "2024-06-01", NULL, NULL,
         "2024-10-10", "2029-10-10", "2028-10-10", "2028-10-10"},
	{"card renewed inside its window runs from the old expiry", "1980-05-15", "2026-03-01", NULL, NULL, NULL,
         "2026-05-15", "2036-05-15", "2031-05-15", "2031-05-15"},
	{"a period of stay ends card and certificates early", "1990-04-01", "2024-04-10", NULL, NULL, "2027-03-31",
         NULL, "2027-03-31", "2027-03-31", "2027-03-31"},
	{"a period of stay beyond the card changes nothing", "1990-04-01", "2024-04-10", NULL, NULL, "2040-01-01", NULL,
         "2034-04-01", "2029-04-01", "2029-04-01"},
};

static int opt_date(const char *s)
{
	return s ? D(s) : RULES_NO_DATE;
}

static void expiry_follows_every_rule_and_example(void **state)
{
	(void)state;
	struct rules_policy p;
	rules_policy_default(&p);
	for (size_t i = 0; i < sizeof expiry_cases / sizeof *expiry_cases; i++) {
		const struct expiry_case *c = &expiry_cases[i];
		print_message("case: %s\n", c->why);
		struct rules_facts f = {D(c->birth),           D(c->card),        opt_date(c->cert),
		                        opt_date(c->received), opt_date(c->stay), opt_date(c->previous)};
		struct rules_expiry e;
		assert_int_equal(rules_expiry(&p, &f, &e), KG_OK);
		assert_date(e.card, c->want_card);
		assert_date(e.auth_cert, c->want_auth);
		assert_date(e.sign_cert, c->want_sign);
	}
}

static void feb29_policy_can_choose_march_first(void **state)
{
	(void)state;
	struct rules_policy p;
	rules_policy_default(&p);
	p.feb29 = RULES_FEB29_MAR1;
	struct rules_facts f = {D("2000-02-29"), D("2020-03-01"), RULES_NO_DATE,
	                        RULES_NO_DATE,   RULES_NO_DATE,   RULES_NO_DATE};
	struct rules_expiry e;
	assert_int_equal(rules_expiry(&p, &f, &e), KG_OK);
	assert_date(e.card, "2030-03-01");
	assert_date(e.auth_cert, "2025-03-01");
}

static void expiry_rejects_contradictory_facts(void **state)
{
	(void)state;
	struct rules_policy p;
	rules_policy_default(&p);
	struct rules_expiry e;
	struct rules_facts before_birth = {D("2000-01-01"), D("1999-12-31"), RULES_NO_DATE,
	                                   RULES_NO_DATE,   RULES_NO_DATE,   RULES_NO_DATE};
	assert_int_equal(rules_expiry(&p, &before_birth, &e), KG_EINPUT);
	struct rules_facts received_late = {D("2000-01-01"), D("2020-01-01"), RULES_NO_DATE,
	                                    D("2020-02-01"), RULES_NO_DATE,   RULES_NO_DATE};
	assert_int_equal(rules_expiry(&p, &received_late, &e), KG_EINPUT);
}

static void window_opens_the_day_after_three_months_before(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"2026-04-10", "2026-01-11"}, {"2026-06-15", "2026-03-16"}, {"2026-05-31", "2026-03-01"},
		{"2026-05-30", "2026-03-01"}, {"2026-05-29", "2026-03-01"}, {"2026-05-28", "2026-03-01"},
		{"2026-05-27", "2026-02-28"}, {"2024-05-30", "2024-03-01"}, {"2024-05-29", "2024-03-01"},
		{"2026-03-31", "2026-01-01"}, {"2026-01-15", "2025-10-16"}, {"2026-12-31", "2026-10-01"},
	};
	struct rules_policy p;
	rules_policy_default(&p);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		print_message("expiry %s\n", cases[i][0]);
		assert_date(rules_window_opens(&p, D(cases[i][0])), cases[i][1]);
	}
}

static void civil_window_opens_when_less_than_three_months_remain(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"2026-04-10", "2026-01-11"},
		{"2026-04-30", "2026-02-01"},
		{"2026-05-31", "2026-03-01"},
		{"2026-06-15", "2026-03-16"},
	};
	struct rules_policy p;
	rules_policy_default(&p);
	p.window = RULES_WINDOW_CIVIL;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		print_message("expiry %s\n", cases[i][0]);
		assert_date(rules_window_opens(&p, D(cases[i][0])), cases[i][1]);
	}
}

static void notice_is_due_from_lead_days_before_the_window_until_expiry(void **state)
{
	(void)state;
	struct rules_policy p;
	rules_policy_default(&p);
	int e = D("2026-04-10"); /* window opens 2026-01-11, lead 14 days: due from 2025-12-28 */
	assert_false(rules_is_due(&p, D("2025-12-27"), e));
	assert_true(rules_is_due(&p, D("2025-12-28"), e));
	assert_true(rules_is_due(&p, D("2026-04-09"), e));
	assert_false(rules_is_due(&p, D("2026-04-10"), e)); /* expired: a new issuance, no notice */
	p.lead_days = 0;
	assert_false(rules_is_due(&p, D("2026-01-10"), e));
	assert_true(rules_is_due(&p, D("2026-01-11"), e));
}

static void era_uses_gannen_and_boundaries(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"2019-05-01", "令和元年5月1日"},   {"2019-04-30", "平成31年4月30日"},
		{"2025-03-31", "令和7年3月31日"},   {"1989-01-08", "平成元年1月8日"},
		{"1989-01-07", "昭和64年1月7日"},   {"1926-12-25", "昭和元年12月25日"},
		{"1926-12-24", "大正15年12月24日"}, {"1912-07-30", "大正元年7月30日"},
		{"1912-07-29", "明治45年7月29日"},  {"1873-01-01", "明治6年1月1日"},
		{"2026-11-21", "令和8年11月21日"},
	};
	char out[RULES_ERA_LEN];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		assert_int_equal(rules_era(D(cases[i][0]), out), KG_OK);
		assert_string_equal(out, cases[i][1]);
	}
	assert_int_equal(rules_era(D("1872-12-31"), out), KG_EINPUT);
}

static void check_digits_match_the_published_examples(void **state)
{
	(void)state;
	assert_true(rules_mynumber_valid("123456789018"));
	assert_true(rules_mynumber_valid("621498320257"));
	assert_false(rules_mynumber_valid("123456789019"));
	assert_false(rules_mynumber_valid("12345678901"));
	assert_false(rules_mynumber_valid("12345678901a"));
	assert_true(rules_lgcode_valid("131016"));
	assert_true(rules_lgcode_valid("011002"));
	assert_true(rules_lgcode_valid("131041"));
	assert_false(rules_lgcode_valid("131042"));
	/* r = 0 differs: lgcode gives 1, My Number gives 0. 00000 sums to 0. */
	assert_true(rules_lgcode_valid("000001"));
	assert_true(rules_mynumber_valid("000000000000"));
}

static void application_id_check_digit_catches_typos(void **state)
{
	(void)state;
	char id[24] = "1310412000000000000042";
	id[22] = rules_damm_digit(id, 22);
	id[23] = '\0';
	assert_true(rules_appid_valid(id));
	for (int i = 0; i < 23; i++) { /* every single wrong digit */
		char bad[24];
		memcpy(bad, id, 24);
		bad[i] = (char)('0' + (bad[i] - '0' + 1) % 10);
		assert_false(rules_appid_valid(bad));
	}
	for (int i = 0; i < 22; i++) { /* every swap of neighbours that changes the string */
		char bad[24];
		memcpy(bad, id, 24);
		if (bad[i] == bad[i + 1])
			continue;
		char t = bad[i];
		bad[i] = bad[i + 1];
		bad[i + 1] = t;
		assert_false(rules_appid_valid(bad));
	}
	assert_false(rules_appid_valid("123"));
}

/* Seed 001: 毎月第3土曜日とそれに続く日曜日 — both days by default; the setting can narrow it. */
static void maintenance_is_the_third_saturday_and_the_sunday_after_it(void **state)
{
	static const struct {
		const char *day;
		bool both, sunday_only;
	} cases[] = {
		{"2026-11-21", true, false},  /* 3rd Saturday (Nov 1 is a Sunday) */
		{"2026-11-22", true, true},   /* the Sunday after it */
		{"2026-11-14", false, false}, /* 2nd Saturday */
		{"2026-11-15", false, false}, /* the Sunday after the 2nd Saturday */
		{"2026-11-28", false, false}, /* 4th Saturday */
		{"2026-11-20", false, false}, /* the Friday before */
		{"2026-11-23", false, false}, /* the Monday after */
		{"2026-08-15", true, false},  /* Aug 1 is a Saturday: the 3rd is the 15th (earliest) */
		{"2026-08-16", true, true},   {"2026-08-08", false, false},
		{"2026-03-21", true, false}, /* Mar 1 is a Sunday: the 3rd Saturday is the 21st (latest) */
		{"2026-03-22", true, true},   {"2026-03-14", false, false},
		{"2026-03-15", false, false}, {"2027-02-20", true, false}, /* February of a common year */
		{"2027-02-21", true, true},   {"2025-05-17", true, false},
		{"2025-05-18", true, true},   {"2024-02-17", true, false}, /* leap February */
		{"2024-02-18", true, true},
	};
	struct rules_policy p;
	rules_policy_default(&p);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int day = D(cases[i].day);
		p.maintenance = RULES_MAINT_SATURDAY_SUNDAY;
		if (rules_is_maintenance_day(&p, day) != cases[i].both)
			fail_msg("%s: default (both days) expected %d", cases[i].day, cases[i].both);
		p.maintenance = RULES_MAINT_SUNDAY;
		if (rules_is_maintenance_day(&p, day) != cases[i].sunday_only)
			fail_msg("%s: sunday only expected %d", cases[i].day, cases[i].sunday_only);
		p.maintenance = RULES_MAINT_NONE;
		assert_false(rules_is_maintenance_day(&p, day));
	}
	rules_policy_default(&p);
	assert_int_equal(p.maintenance, RULES_MAINT_SATURDAY_SUNDAY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dates_round_trip_and_reject_impossible_days),
		cmocka_unit_test(expiry_follows_every_rule_and_example),
		cmocka_unit_test(feb29_policy_can_choose_march_first),
		cmocka_unit_test(expiry_rejects_contradictory_facts),
		cmocka_unit_test(window_opens_the_day_after_three_months_before),
		cmocka_unit_test(civil_window_opens_when_less_than_three_months_remain),
		cmocka_unit_test(notice_is_due_from_lead_days_before_the_window_until_expiry),
		cmocka_unit_test(era_uses_gannen_and_boundaries),
		cmocka_unit_test(check_digits_match_the_published_examples),
		cmocka_unit_test(application_id_check_digit_catches_typos),
		cmocka_unit_test(maintenance_is_the_third_saturday_and_the_sunday_after_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
