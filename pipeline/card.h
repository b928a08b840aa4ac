/*
 * card.h: the My Number card (JPKI) over PC/SC, as the counter desk needs it (card.md).
 *
 * The module speaks only the few APDUs of card.md: identify the card, read the user-auth
 * certificate (no PIN needed), ask how many tries a PIN has left (uses no try) and VERIFY a PIN
 * once. It decides nothing: whether a PIN may be sent is the caller's (counter's) rule.
 *
 * Ownership: struct card is opaque and owned by the caller from card_connect() until
 * card_disconnect(). Strings passed in are borrowed, except that card_verify_pin() wipes the PIN
 * buffer it is given. Nothing here prints or logs; the APDU data of a VERIFY is never kept
 * anywhere (not in messages, not in memory after the send).
 *
 * Errors: every fallible function returns KG_ECARD with a message (kg_last_message) saying
 * what failed: no reader, no card, card removed, card in use, transport error, or the status
 * word the card answered with. A response shorter than 2 bytes is a transport error even when
 * PC/SC reports success. After a transport error the connection is unusable until
 * card_reconnect() succeeds. KG_EINPUT is returned for a malformed PIN (nothing is sent).
 *
 * Thread safety: one struct card per thread; the module has no global state.
 */
#ifndef CARD_H
#define CARD_H

#include <stdbool.h>
#include <stddef.h>

#include "kg.h"

/* An exclusive connection (SCARD_SHARE_EXCLUSIVE, T=1) holding one open transaction. */
struct card;

/* The three PINs of the card: 署名用, 利用者証明用, 住民基本台帳用. */
enum card_pin { CARD_PIN_SIGN, CARD_PIN_AUTH, CARD_PIN_JUKI };
#define CARD_PIN_COUNT 3

enum card_verify {
	CARD_VERIFY_OK,      /* 9000: right PIN, the counter is back at its maximum */
	CARD_VERIFY_WRONG,   /* 63Cx with x > 0: wrong PIN, one try used */
	CARD_VERIFY_LOCKED,  /* 63C0 or 6984: the PIN is locked (now or already) */
	CARD_VERIFY_UNKNOWN, /* the transport failed mid-VERIFY: the try may or may not count */
};

/* What the token label EF says the card is (card_identify). */
enum card_kind {
	CARD_KIND_OTHER,     /* no JPKI application: not a My Number card */
	CARD_KIND_OLD_TOKEN, /* JPKI application but not the plastic card's label (住基カード, phone) */
	CARD_KIND_MYNUMBER,  /* JPKI application and token label JPKIAPICCTOKEN2 */
};

struct card_cert {
	char serial[80]; /* hex upper case, as OpenSSL BN_bn2hex prints the serialNumber */
	int not_after;   /* the day (rules.h day number) of notAfter in Asia/Tokyo (JST, UTC+9) */
};

/* The number of tries of a PIN when nothing went wrong: 5 (署名用), 3, 3. */
int card_max_tries(enum card_pin pin);

/* A short name for logs and JSON ("sign", "auth", "juki") and the label on the form. */
const char *card_pin_name(enum card_pin pin);
const char *card_pin_label(enum card_pin pin);

/*
 * Folds a PIN in place: full-width ASCII (U+FF01..U+FF5E) to ASCII, then lower case to upper
 * case. A 署名用 PIN is case-insensitive on the form but sent upper case; folding digits is
 * harmless for the 4-digit PINs, so every PIN is folded before it is checked or sent. The
 * bytes freed at the end of the string are zeroed.
 */
void card_pin_fold(char *pin);

/*
 * Whether pin has the format of that PIN, after folding (done on a private copy that is
 * wiped): 署名用 6-16 of [A-Z0-9], the others exactly 4 digits. No card access.
 */
bool card_pin_well_formed(enum card_pin pin, const char *pin_text);

/*
 * The names of the PC/SC readers, in PC/SC order. An empty list (*n = 0) is not an error.
 * The caller frees with card_free_readers. KG_ECARD when pcscd cannot be reached.
 */
enum kg_err card_list_readers(char ***names, size_t *n) KG_WUR;
void card_free_readers(char **names, size_t n);

/*
 * Connects to the card in reader (NULL: the first reader with a card): SCardEstablishContext,
 * SCardConnect (SHARE_EXCLUSIVE, T=1), SCardBeginTransaction. *out is the caller's.
 * KG_ECARD: no reader, no card, the card is used by another program, pcscd not running.
 */
enum kg_err card_connect(const char *reader, struct card **out) KG_WUR;

/* The reader the card is in (borrowed, valid until card_disconnect). */
const char *card_reader(const struct card *c);

/*
 * Selects the JPKI application and reads the token label EF. A card without the JPKI
 * application (any answer but 9000 to the select) is CARD_KIND_OTHER, not an error.
 */
enum kg_err card_identify(struct card *c, enum card_kind *kind) KG_WUR;
/* The token label read by the last card_identify(), printable ASCII, trailing spaces trimmed;
 * "" before. Borrowed, valid until the next call on c. */
const char *card_token_label(const struct card *c);
/* card_identify() == CARD_KIND_MYNUMBER. */
enum kg_err card_is_mynumber(struct card *c, bool *yes) KG_WUR;

/*
 * Reads the user-auth certificate (JPKI EF 00 0A; no PIN needed) and parses it with d2i_X509.
 * The DER length is read from its header (short or long form), then the body in chunks of up
 * to 256 bytes with P1P2 = offset. KG_ECARD when the EF or the certificate is unreadable.
 */
enum kg_err card_read_auth_cert(struct card *c, struct card_cert *out) KG_WUR;
/* The part of card_read_auth_cert that reads the card's bytes: the whole DER of the EF (at most
 * 32 KiB) to serial and notAfter; KG_ECARD when it is not exactly one certificate. Pure, so it
 * can be fuzzed without a card. */
enum kg_err card_parse_cert(const unsigned char *der, size_t n, struct card_cert *out) KG_WUR;

/*
 * How many tries the PIN has left, without using one (VERIFY with no data). *left is 0 when
 * locked. *verified is true when the card answered 9000: the PIN was already verified in this
 * power session (then *left is the maximum; power-cycle with card_reconnect to ask again).
 */
enum kg_err card_retries(struct card *c, enum card_pin pin, int *left, bool *verified) KG_WUR;

/*
 * Sends one VERIFY of pin_text and never retries. The PIN is folded in place, checked
 * (KG_EINPUT and nothing sent when malformed: no try used) and wiped (explicit_bzero) on every
 * path, right after the APDU is built; the APDU buffer is wiped after the send. The caller
 * decides beforehand whether a VERIFY is safe (card_retries() at the maximum, card.md). *left is the tries left
 * after this VERIFY (the maximum after CARD_VERIFY_OK, 0 when locked, -1 when unknown).
 * A transport failure during the VERIFY gives *res = CARD_VERIFY_UNKNOWN and KG_OK (why is in
 * kg_last_message()): the caller must card_reconnect() and query the counter. A failure before the VERIFY was sent (selecting
 * the PIN's file) is KG_ECARD, with *res = CARD_VERIFY_UNKNOWN too but no try used. Any other
 * status word is KG_ECARD with *res = CARD_VERIFY_UNKNOWN.
 */
enum kg_err card_verify_pin(struct card *c, enum card_pin pin, char *pin_text, enum card_verify *res, int *left) KG_WUR;

/*
 * After a transport failure or to clear the verified state: leaves the transaction,
 * disconnects powering the card down, waits up to CARD_RECONNECT_WAIT_MS for a card in the
 * same reader, connects again and opens a new transaction. On failure c stays unusable except
 * for another card_reconnect() or card_disconnect().
 */
#define CARD_RECONNECT_WAIT_MS 5000
enum kg_err card_reconnect(struct card *c) KG_WUR;

/* SCardEndTransaction, SCardDisconnect(SCARD_UNPOWER_CARD), release the context, free. NULL ok. */
void card_disconnect(struct card *c);

#endif
