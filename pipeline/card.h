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

/*
 * The applications of the card table (card.c). The 住民基本台帳用 PIN (EF 001C) is in the 住基
 * application, whose AID public readers disagree on: ... 01 01 04 01 (libjeid's list, soltia48's
 * table) or ... 01 01 01 00 (TRET). Both are candidates; which one a VERIFY goes to is the
 * caller's setting (counter.juki_application), and every candidate the card answers is queried.
 */
enum card_app { CARD_APP_JPKI, CARD_APP_JUKI_0401, CARD_APP_JUKI_0100 };
#define CARD_APP_COUNT 3

enum card_verify {
	CARD_VERIFY_OK,      /* 9000: right PIN, the counter is back at its maximum */
	CARD_VERIFY_WRONG,   /* 63Cx with x > 0: wrong PIN, one try used */
	CARD_VERIFY_LOCKED,  /* 63C0, 6983 or 6984: the PIN is locked (now or already) */
	CARD_VERIFY_UNKNOWN, /* the transport failed mid-VERIFY: the try may or may not count */
};

/* What a retry query (VERIFY without data; uses no try) says about one PIN in one application. */
enum card_counter {
	CARD_COUNTER_TRIES,    /* 63Cx, x > 0: x tries left */
	CARD_COUNTER_LOCKED,   /* 63C0, 6983, 6984: no try left */
	CARD_COUNTER_VERIFIED, /* 9000: verified earlier in this power session; the counter is not said */
	CARD_COUNTER_ABSENT,   /* the application or the PIN's EF is not on this card (6A82) */
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

/* Whether the card table puts pin's counter in app (sign, auth: JPKI; juki: both 住基 candidates). */
bool card_pin_in_app(enum card_pin pin, enum card_app app);
/* "jpki", "juki-0401", "juki-0100" (logs, JSON, the audit). */
const char *card_app_name(enum card_app app);
/* The application whose AID is hex (20 hex digits, any case). KG_EINPUT for one not in the table. */
enum kg_err card_app_by_aid(const char *hex, enum card_app *app) KG_WUR;

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
 * The card's answers as pure functions (no I/O; a fuzz harness may call them with any bytes).
 * card_counter_of_sw: what the status word of a retry query says; *left is the tries left for
 * CARD_COUNTER_TRIES, 0 when locked, -1 otherwise. KG_ECARD for a status word that is none of them.
 * card_kind_of_token: the kind from the token label EF's first bytes (n may be short); label gets
 * the label as printable ASCII, trailing spaces and NULs trimmed (at least 33 bytes).
 * card_der_length: the whole length of the DER element that starts buf (tag and length bytes
 * included), from its first n bytes (short or long form, at most 3 length bytes). KG_ECARD when
 * buf does not start a SEQUENCE or n is too short to say.
 * card_cert_parse: the serial and notAfter of a DER certificate (d2i_X509; the whole of der, at
 * most 32 KiB); KG_ECARD when it is not exactly one certificate.
 */
enum kg_err card_counter_of_sw(unsigned sw, enum card_counter *state, int *left) KG_WUR;
enum card_kind card_kind_of_token(const unsigned char *buf, size_t n, char *label);
enum kg_err card_der_length(const unsigned char *buf, size_t n, size_t *total) KG_WUR;
enum kg_err card_cert_parse(const unsigned char *der, size_t n, struct card_cert *out) KG_WUR;

/*
 * The names of the PC/SC readers, in PC/SC order. An empty list (*n = 0) is not an error.
 * The caller frees with card_free_readers. KG_ECARD when pcscd cannot be reached.
 */
enum kg_err card_list_readers(char ***names, size_t *n) KG_WUR;
void card_free_readers(char **names, size_t n);

/*
 * Connects to the card in reader (NULL: the first reader with a card; the counter never passes
 * NULL): SCardEstablishContext, SCardConnect (SHARE_EXCLUSIVE, T=1), SCardBeginTransaction.
 * *out is the caller's. KG_ECARD: no reader, no card, the card is used by another program, pcscd
 * not running.
 */
enum kg_err card_connect(const char *reader, struct card **out) KG_WUR;

/* The reader the card is in (borrowed, valid until card_disconnect). */
const char *card_reader(const struct card *c);

/* The APDUs sent on c since card_connect (every one, including retry queries and VERIFYs). */
int card_apdu_count(const struct card *c);

/*
 * The power session: a number that changes whenever the exclusive connection was lost and made
 * again (card_reconnect). Anything read from the card under an older session says nothing about
 * the card now: the caller compares sessions rather than trusting what it read before.
 */
unsigned card_session(const struct card *c);

/* Whether the connection was lost (a transport error, a removed card): nothing more can be sent
 * until card_reconnect(), and what was read before says nothing about the card now. */
bool card_lost(const struct card *c);

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
 * The first READ BINARY takes 256 bytes, header included, and the DER length read from it says
 * how many more chunks of up to 256 follow (P1P2 = offset). KG_ECARD when the EF or the
 * certificate is unreadable.
 */
enum kg_err card_read_auth_cert(struct card *c, struct card_cert *out) KG_WUR;

/*
 * Asks the counter of pin in app without using a try (VERIFY with no data). An application or
 * EF the card does not have is CARD_COUNTER_ABSENT, not an error. *left: see card_counter_of_sw.
 * A file already selected on this connection is not selected again.
 */
enum kg_err card_retries(struct card *c, enum card_pin pin, enum card_app app, enum card_counter *state,
                         int *left) KG_WUR;

/*
 * Sends one VERIFY of pin_text to pin's EF in app and never retries. The PIN is folded in
 * place, checked (KG_EINPUT and nothing sent when malformed: no try used) and wiped
 * (explicit_bzero) on every path, right after the APDU is built; the APDU buffer is wiped after
 * the send. The caller decides beforehand whether a VERIFY is safe (card.md). *left is the
 * tries left after this VERIFY (the maximum after CARD_VERIFY_OK, 0 when locked, -1 when
 * unknown). A transport failure during the VERIFY gives *res = CARD_VERIFY_UNKNOWN and KG_OK
 * (why is in kg_last_message()): the caller must card_reconnect() and start again. A failure
 * before the VERIFY was sent (selecting the PIN's file) is KG_ECARD, with *res =
 * CARD_VERIFY_UNKNOWN too but no try used. Any other status word is KG_ECARD with *res =
 * CARD_VERIFY_UNKNOWN.
 */
enum kg_err card_verify_pin(struct card *c, enum card_pin pin, enum card_app app, char *pin_text, enum card_verify *res,
                            int *left) KG_WUR;

/*
 * Power-cycles the card to clear its verified state, or comes back after a transport error.
 * First SCardReconnect(SCARD_UNPOWER_CARD) on the exclusive handle, which no other program can
 * enter; when the card went away (removed, reset, the handle is dead) the handle is dropped and
 * a new exclusive connection is made to a card in the same reader, waiting up to
 * CARD_RECONNECT_WAIT_MS. Either way the power session changes and nothing is selected: the
 * card may be another one, so the caller identifies it again. On failure c stays unusable except
 * for another card_reconnect() or card_disconnect().
 */
#define CARD_RECONNECT_WAIT_MS 5000
enum kg_err card_reconnect(struct card *c) KG_WUR;

/* SCardEndTransaction, SCardDisconnect(SCARD_UNPOWER_CARD), release the context, free. NULL ok. */
void card_disconnect(struct card *c);

#endif
