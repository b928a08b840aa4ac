/*
 * test_card.c: the parts of the card module that need no card: PIN folding and PIN formats
 * (card.md "PIN key files"), and the tries table. Everything that talks to a card is tested
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_makes_full_width_and_lower_case_ascii_upper),
		cmocka_unit_test(test_pin_formats_follow_card_md),
		cmocka_unit_test(test_well_formed_leaves_the_callers_pin_as_it_was),
		cmocka_unit_test(test_max_tries_are_5_3_3),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
