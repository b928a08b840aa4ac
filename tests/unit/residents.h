/*
 * residents.h: the registry rows the unit tests put into a store, for every test file that needs
 * residents (include after cmocka.h).
 */
#ifndef TEST_RESIDENTS_H
#define TEST_RESIDENTS_H

#include "rules.h"
#include "store.h"

/* An active resident at 東京都新宿区新宿1-2-3 whose card (none when RULES_NO_DATE) expires on
 * card_expires, with a valid user-auth certificate and no signature certificate. */
static inline struct store_resident resident(const char *id, const char *name, int card_expires)
{
	return (struct store_resident){
		.registry_id = id,
		.name = name,
		.kana = "カナ",
		.birth = rules_from_ymd(1980, 1, 20),
		.sex = 1,
		.postal_code = "160-0022",
		.addr_town = "東京都新宿区新宿",
		.addr_block = "1-2-3",
		.addr_building = "",
		.nationality = "",
		.stay_until = RULES_NO_DATE,
		.status = STORE_ACTIVE,
		.has_card = card_expires != RULES_NO_DATE,
		.card_issued = rules_from_ymd(2017, 1, 25),
		.card_received = RULES_NO_DATE,
		.card_expires = card_expires,
		.card_status = STORE_CARD_VALID,
		.auth = {STORE_CERT_VALID, rules_from_ymd(2022, 1, 25), rules_from_ymd(2027, 1, 20), "0A1B"},
		.sign = {STORE_CERT_NONE, 0, 0, NULL},
	};
}

/* Imports (or updates) a resident at block (番地) whose card, issued on issued, and user-auth
 * certificate expire on expiry. */
static inline void put_at(struct store *s, const char *id, const char *block, int issued, int expiry)
{
	struct store_resident r = resident(id, "返戻　一郎", expiry);
	r.addr_block = block;
	r.card_issued = r.auth.issued_on = issued;
	r.auth.expires_on = expiry;
	assert_int_equal(store_begin(s), KG_OK);
	assert_int_equal(store_put_resident(s, &r), KG_OK);
	assert_int_equal(store_commit(s), KG_OK);
}

#endif
