/*
 * cardcheck.h: the card in the reader against a notice's holder, before any PIN is typed (the
 * web desk's live panel). It only reads: the reader list, the card's kind, the user-auth
 * certificate (no PIN needed) and the retry counters (asking uses no try). It never sends a
 * VERIFY and decides nothing about one: counter_redeem() checks everything again, in its
 * order, when staff press the button.
 *
 * "The holder's card" is the rule counter.c applies: the certificate's serial number (as a hex
 * number: case and leading zeros aside) and its expiry equal the registry's for the holder.
 */
#ifndef CARDCHECK_H
#define CARDCHECK_H

#include <stdbool.h>

#include "card.h"
#include "kg.h"
#include "store.h"

enum cardcheck_state {
	CARDCHECK_NO_READER,    /* pcscd has no reader (or is not running) */
	CARDCHECK_NO_CARD,      /* a reader, but no card in it (or the card is busy) */
	CARDCHECK_NOT_MYNUMBER, /* a card that is not a My Number card */
	CARDCHECK_UNREADABLE,   /* a My Number card whose certificate could not be read */
	CARDCHECK_OTHER_HOLDER, /* a My Number card, not the holder's */
	CARDCHECK_HOLDER,       /* the holder's card */
};

struct cardcheck {
	enum cardcheck_state state;
	int readers;
	char reader[128];            /* the reader the card is in; "" when none */
	int retries[CARD_PIN_COUNT]; /* tries left of the PINs the form holds; -1: not read */
	bool at_risk;                /* one of them below its maximum: no PIN may be sent */
};

/* Whether a certificate read off a card is the one the registry holds for the holder. */
bool cardcheck_same_cert(const struct card_cert *cert, const char *auth_serial, int auth_expires);

/* Reads the card in reader (NULL: the first with a card) against the holder of app_id.
 * A missing reader or card is a state, not an error; KG_ENOTFOUND / KG_EDB from the lookup. */
enum kg_err cardcheck_run(struct store *st, const char *reader, const char *app_id, struct cardcheck *out) KG_WUR;

#endif
