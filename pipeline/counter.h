/*
 * counter.h: the counter desk's redemption of a returned 照会書兼回答書 (domain.md §5, card.md).
 *
 * The order is the safety rule, and counter_redeem() is the only place that keeps it:
 *   maintenance day? -> application ID (check digit) -> the notice: unknown, void, already
 *   redeemed, not a form, or expired (today after its validity) answered at once, before any
 *   card access -> PIN formats (nothing sent for a malformed one) -> the card is a My Number
 *   card and its user-auth certificate is the holder's (else no PIN goes near it) -> the retry
 *   counter of every PIN the form uses, in every candidate application the card answers, at its
 *   maximum (else stop: one wrong try could lock it) -> VERIFY each PIN once (住基, 利用者証明用,
 *   署名用: the reverse of the queries, which saves SELECTs), in the application the card
 *   profile names, stopping at the first that fails -> record the outcome.
 * Any loss of the exclusive transaction (a power cycle to clear a verified state, a transport
 * error, a removed card) voids everything read before it: the check starts again from the
 * application select and the certificate match and reads every counter again, so a card
 * swapped in, or a try another program used, in that window is seen before any VERIFY.
 * pin_mismatch and form_expired start the 文書照会 route: the notice is marked and the next
 * selection mails a new form with a new application ID. Every outcome is appended to the
 * audit table with the terminal and staff id; never with a PIN.
 *
 * PINs: the caller owns struct counter_pins; counter_redeem() wipes every PIN in it before it
 * returns, on every path. Keep them out of argv, the environment, files and logs.
 */
#ifndef COUNTER_H
#define COUNTER_H

#include <stdbool.h>

#include "card.h"
#include "kg.h"
#include "settings.h"
#include "store.h"

enum counter_outcome {
	COUNTER_REDEEMED,
	COUNTER_PIN_MISMATCH,
	COUNTER_FORM_EXPIRED,
	COUNTER_CARD_MISMATCH,
	COUNTER_PIN_AT_RISK,
	COUNTER_NOT_MY_NUMBER_CARD,
	COUNTER_ALREADY_REDEEMED,
	COUNTER_UNKNOWN_ID,
	COUNTER_READER_ERROR,
	COUNTER_VOID,           /* the form was voided or replaced by a re-inquiry */
	COUNTER_PIN_MALFORMED,  /* a PIN as typed cannot be right: nothing was sent; type it again */
	COUNTER_VERIFY_UNKNOWN, /* the card went away during a VERIFY: the counter was re-read */
	COUNTER_MAINTENANCE,    /* the national system's maintenance day: no counter work */
	COUNTER_CARD_PROFILE,   /* the card has a PIN the form uses in no application the settings name */
	COUNTER_N_OUTCOMES
};

/* "redeemed", "pin_mismatch", ... as in the audit table and the JSON. */
const char *counter_outcome_name(enum counter_outcome o);

#define COUNTER_PIN_MAX 32
struct counter_pins {
	bool face;                                     /* いずれの暗証番号も設定しない */
	char pin[CARD_PIN_COUNT][COUNTER_PIN_MAX + 1]; /* indexed by enum card_pin; "" = not written */
};

/* Who and where, for the audit. */
struct counter_desk {
	const char *terminal;
	const char *staff;
	const char *reader; /* the bound reader (counter_bind_reader); NULL only when there is none */
	int today;          /* the civil date (a seam for tests) */
	bool date_given;    /* today was set by hand (--date): the audit says so */
};

/*
 * The reader the desk uses: bound (--reader, counter.reader; it must exist) or else the only
 * reader there is. Never a guess: with several readers and no binding, KG_EINPUT with the
 * readers listed in the message. No reader at all, or no PC/SC service: *out = NULL and KG_OK
 * (what needs no card is still answered; the card step ends as reader_error). *out is the
 * caller's to free.
 */
enum kg_err counter_bind_reader(const char *bound, char **out) KG_WUR;

/* The notice as staff see it before the card goes in. */
struct counter_view {
	char app_id[24];
	char name[256];
	enum mailset_target target;
	enum mailset_kind kind;
	int certs;
	int valid_until;
	bool has_sign_cert;
};

struct counter_result {
	enum counter_outcome outcome;
	struct counter_view notice; /* filled when the ID was found */
	bool found;
	/* Tries left per PIN as last read (-1: not read). */
	int retries[CARD_PIN_COUNT];
	enum card_pin failed_pin; /* for pin_mismatch, pin_at_risk, pin_malformed, verify_unknown */
	unsigned apps;            /* the applications that answered a retry query (bit per enum card_app) */
	int apdus;                /* APDUs sent to the card (0: the card was not touched) */
	int connections;          /* exclusive connections made (1 + each power cycle or lost transaction) */
	char detail[384];         /* English, for the audit (never a PIN) */
};

/* Japanese for staff: the verdict, and what to do next. Never NULL. */
const char *counter_verdict(enum counter_outcome o);
const char *counter_next_step(enum counter_outcome o);

/* Looks up an application ID for the desk's first screen, before any card access.
 * KG_ENOTFOUND for an unknown ID; KG_EINPUT when the check digit shows a typo. */
enum kg_err counter_lookup(struct store *st, const char *app_id, struct counter_view *out) KG_WUR;

/* One redemption. Returns KG_OK whenever an outcome was reached and recorded (a refusal is an
 * outcome, not an error); an error means the outcome could not be recorded (the database). */
enum kg_err counter_redeem(struct store *st, const struct settings *set, const struct counter_desk *desk,
                           const char *app_id, struct counter_pins *pins, struct counter_result *res) KG_WUR;

/* Wipes every PIN. */
void counter_pins_wipe(struct counter_pins *pins);

#endif
