/*
 * test_card.c: the parts of the card module that need no card: PIN folding and PIN formats
 * (card.md "PIN key files"), the tries table, the card table's applications, and the pure parsers
 * of the card's answers (retry-query status words, the token label, the DER length). Everything that talks to a card is tested
 * through the real pcscd in tests/e2e/card.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "card.h"

#include "banned.h"

static void test_fold_makes_full_width_and_lower_case_ascii_upper(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"abc123", "ABC123"},
		{"ABC123", "ABC123"},
		{"ａｂｃ１２３", "ABC123"},       /* full-width lower case and digits */
		{"ＡＢＣＤ９８７６", "ABCD9876"}, /* full-width upper case */
		{"ａB３d", "AB3D"},               /* mixed */
		{"１２３４", "1234"},             /* a 4-digit PIN written in full width */
		{"！～", "!~"},                   /* the ends of the full-width ASCII block */
		{"", ""},
		{"あいう", "あいう"},     /* other characters are left for the format check */
		{"\xEF\xBC", "\xEF\xBC"}, /* a truncated sequence is not read past the end */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[64];
		size_t len = strlen(cases[i].in);
		memset(buf, 'x', sizeof buf);
		memcpy(buf, cases[i].in, len + 1);
		card_pin_fold(buf);
		assert_string_equal(buf, cases[i].out);
		/* The bytes freed by the shorter ASCII form are wiped, not left holding PIN parts. */
		for (size_t j = strlen(buf); j < len; j++)
			assert_int_equal(buf[j], 0);
	}
}

static void test_pin_formats_follow_card_md(void **state)
{
	static const struct {
		enum card_pin pin;
		const char *text;
		bool ok;
	} cases[] = {
		/* 署名用: 6-16 of [A-Z0-9], after folding */
		{CARD_PIN_SIGN, "ABC123", true},
		{CARD_PIN_SIGN, "abc123", true},
		{CARD_PIN_SIGN, "ａｂｃ１２３", true},
		{CARD_PIN_SIGN, "123456", true},
		{CARD_PIN_SIGN, "ABCDEF", true},
		{CARD_PIN_SIGN, "ABCDEFGHIJ123456", true},   /* 16 */
		{CARD_PIN_SIGN, "ABCDEFGHIJ1234567", false}, /* 17 */
		{CARD_PIN_SIGN, "ABC12", false},             /* 5 */
		{CARD_PIN_SIGN, "ABC-123", false},
		{CARD_PIN_SIGN, "ABC 123", false},
		{CARD_PIN_SIGN, "", false},
		{CARD_PIN_SIGN, "あいうえおか", false},
		/* 利用者証明用 and 住民基本台帳用: exactly 4 digits */
		{CARD_PIN_AUTH, "1234", true},
		{CARD_PIN_AUTH, "０９８７", true},
		{CARD_PIN_AUTH, "123", false},
		{CARD_PIN_AUTH, "12345", false},
		{CARD_PIN_AUTH, "12a4", false},
		{CARD_PIN_AUTH, "", false},
		{CARD_PIN_JUKI, "0000", true},
		{CARD_PIN_JUKI, "ABCD", false},
		{CARD_PIN_JUKI, "1 34", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (card_pin_well_formed(cases[i].pin, cases[i].text) != cases[i].ok)
			fail_msg("case %zu: %s PIN of %zu bytes should be %s", i, card_pin_name(cases[i].pin),
			         strlen(cases[i].text), cases[i].ok ? "well formed" : "refused");
	}
}

static void test_well_formed_leaves_the_callers_pin_as_it_was(void **state)
{
	char pin[] = "abc123";
	assert_true(card_pin_well_formed(CARD_PIN_SIGN, pin));
	assert_string_equal(pin, "abc123");
}

static void test_max_tries_are_5_3_3(void **state)
{
	assert_int_equal(card_max_tries(CARD_PIN_SIGN), 5);
	assert_int_equal(card_max_tries(CARD_PIN_AUTH), 3);
	assert_int_equal(card_max_tries(CARD_PIN_JUKI), 3);
}

/* Every answer a card may give to a retry query: 63Cx, the three locked answers, 9000. */
static void test_retry_query_answers_are_all_understood(void **state)
{
	static const struct {
		unsigned sw;
		enum card_counter state;
		int left;
	} cases[] = {
		{0x63C5, CARD_COUNTER_TRIES, 5},     {0x63C3, CARD_COUNTER_TRIES, 3},  {0x63C1, CARD_COUNTER_TRIES, 1},
		{0x63C0, CARD_COUNTER_LOCKED, 0},    {0x6983, CARD_COUNTER_LOCKED, 0}, {0x6984, CARD_COUNTER_LOCKED, 0},
		{0x9000, CARD_COUNTER_VERIFIED, -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum card_counter st;
		int left;
		assert_int_equal(card_counter_of_sw(cases[i].sw, &st, &left), KG_OK);
		assert_int_equal(st, cases[i].state);
		assert_int_equal(left, cases[i].left);
	}
	static const unsigned bad[] = {0x6A82, 0x6982, 0x6700, 0x0000, 0x6300, 0xFFFF};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum card_counter st;
		int left;
		assert_int_equal(card_counter_of_sw(bad[i], &st, &left), KG_ECARD);
	}
}

static void test_token_label_decides_the_kind(void **state)
{
	char label[33];
	unsigned char token[160];
	memset(token, ' ', sizeof token);
	memcpy(token, "JPKIAPICCTOKEN2", 15);
	memcpy(token + 32, "something after the label", 26);
	assert_int_equal(card_kind_of_token(token, sizeof token, label), CARD_KIND_MYNUMBER);
	assert_string_equal(label, "JPKIAPICCTOKEN2");
	assert_int_equal(card_kind_of_token(token, 32, label), CARD_KIND_MYNUMBER);
	memcpy(token, "JPKIAPICCTOKEN ", 15); /* the old 住基カード */
	assert_int_equal(card_kind_of_token(token, 32, label), CARD_KIND_OLD_TOKEN);
	assert_string_equal(label, "JPKIAPICCTOKEN");
	assert_int_equal(card_kind_of_token((const unsigned char *)"JPKIAPICC", 9, label), CARD_KIND_OLD_TOKEN);
	assert_int_equal(card_kind_of_token(token, 0, label), CARD_KIND_OLD_TOKEN);
	assert_string_equal(label, "");
	unsigned char odd[4] = {'A', 0x01, 0xFF, 'B'};
	card_kind_of_token(odd, sizeof odd, label);
	assert_string_equal(label, "A??B");
}

static void test_der_length_reads_short_and_long_forms(void **state)
{
	size_t total;
	assert_int_equal(card_der_length((const unsigned char[]){0x30, 0x7F}, 2, &total), KG_OK);
	assert_int_equal(total, 0x81);
	assert_int_equal(card_der_length((const unsigned char[]){0x30, 0x81, 0xC8}, 3, &total), KG_OK);
	assert_int_equal(total, 0xCB);
	assert_int_equal(card_der_length((const unsigned char[]){0x30, 0x82, 0x06, 0x9A}, 4, &total), KG_OK);
	assert_int_equal(total, 0x69E);
	assert_int_equal(card_der_length((const unsigned char[]){0x30, 0x82, 0x06}, 3, &total), KG_ECARD);
	assert_int_equal(card_der_length((const unsigned char[]){0x31, 0x10}, 2, &total), KG_ECARD);
	assert_int_equal(card_der_length((const unsigned char[]){0x30, 0x80}, 2, &total), KG_ECARD); /* indefinite */
	assert_int_equal(card_der_length((const unsigned char[]){0x30}, 1, &total), KG_ECARD);
	assert_int_equal(card_cert_parse((const unsigned char[]){0x30, 0x00}, 2, &(struct card_cert){0}), KG_ECARD);
}

static void test_the_juki_pin_has_two_candidate_applications(void **state)
{
	enum card_app app;
	assert_true(card_pin_in_app(CARD_PIN_JUKI, CARD_APP_JUKI_0401));
	assert_true(card_pin_in_app(CARD_PIN_JUKI, CARD_APP_JUKI_0100));
	assert_false(card_pin_in_app(CARD_PIN_JUKI, CARD_APP_JPKI));
	assert_true(card_pin_in_app(CARD_PIN_SIGN, CARD_APP_JPKI) && card_pin_in_app(CARD_PIN_AUTH, CARD_APP_JPKI));
	assert_false(card_pin_in_app(CARD_PIN_AUTH, CARD_APP_JUKI_0401));
	assert_int_equal(card_app_by_aid("d3921000310001010100", &app), KG_OK);
	assert_int_equal(app, CARD_APP_JUKI_0100);
	assert_int_equal(card_app_by_aid("D3921000310001010401", &app), KG_OK);
	assert_int_equal(app, CARD_APP_JUKI_0401);
	assert_int_equal(card_app_by_aid("D39210003100010104", &app), KG_EINPUT);
	assert_int_equal(card_app_by_aid("", &app), KG_EINPUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_makes_full_width_and_lower_case_ascii_upper),
		cmocka_unit_test(test_pin_formats_follow_card_md),
		cmocka_unit_test(test_well_formed_leaves_the_callers_pin_as_it_was),
		cmocka_unit_test(test_max_tries_are_5_3_3),
		cmocka_unit_test(test_retry_query_answers_are_all_understood),
		cmocka_unit_test(test_token_label_decides_the_kind),
		cmocka_unit_test(test_der_length_reads_short_and_long_forms),
		cmocka_unit_test(test_the_juki_pin_has_two_candidate_applications),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
