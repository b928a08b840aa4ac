/*
 * store.h: the database. Everything else speaks to this header, never to SQLite or libpq, and
 * does not know which of the two backends it talks to (store.c picks one by the name).
 *
 * - A path names a SQLite file (store_sqlite.c): WAL mode, foreign keys on, created owner-only
 *   (0600). One machine; the run lock is a file next to it (nightly.h).
 * - A libpq URI (postgresql://...) or keyword string (service=kigen, host=... dbname=...) names a
 *   PostgreSQL database (store_pg.c) that several machines share. A password in the name is
 *   refused, as is PGPASSWORD: passwords live in libpq's password file or service file.
 *   sslmode and the rest are libpq's, as given.
 *
 * Both: the schema lives in numbered migrations applied by store_open(), the same numbers on
 * both; every value goes through a bound parameter; one writer at a time (store_begin takes
 * the write lock at once), so the same inputs give the same row ids, application IDs and
 * sequence numbers, and so the same batch byte for byte. No table holds a My Number or a PIN.
 * A failure inside a transaction (a lost connection too) leaves nothing of it behind.
 *
 * Dates are day numbers (rules.h); RULES_NO_DATE is stored as NULL.
 * Strings handed to the store are copied; strings handed out are owned by the structure
 * they arrive in and freed by its *_release / *_free function.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kg.h"
#include "mailset.h"

struct store;

/* Is this name a database server (PostgreSQL) rather than a file? */
bool store_is_server(const char *name);
enum kg_err store_open(const char *name, struct store **out) KG_WUR;
void store_close(struct store *s);
/* "sqlite" or "postgresql". */
const char *store_backend(struct store *s);
/* The schema version after migrations. */
int store_version(struct store *s);

/* Transactions: begin takes the write lock at once (SQLite: BEGIN IMMEDIATE; PostgreSQL: a
 * transaction-scoped advisory lock). KG_ELOCKED when another writer keeps it for 10 seconds. */
enum kg_err store_begin(struct store *s) KG_WUR;
enum kg_err store_commit(struct store *s) KG_WUR;
void store_rollback(struct store *s);

/* The run lock shared by every machine on a server database: held until store_close (or the
 * process's end), so two machines can never run the night at once. what names the run
 * ("nightly"); the holder's host, pid and start time are kept in the database, and a caller
 * who cannot have it fails with KG_ELOCKED naming them. shared: several holders at once (the
 * renderers of one batch), none while an exclusive holder has it and the other way round.
 * A no-op on a SQLite file (nightly.h locks a file). */
enum kg_err store_run_lock(struct store *s, const char *what, bool shared) KG_WUR;

/* Small named integers the program keeps between runs (e.g. the last selection date). */
enum kg_err store_meta_get(struct store *s, const char *key, long long def, long long *value) KG_WUR;
enum kg_err store_meta_set(struct store *s, const char *key, long long value) KG_WUR;

/* Moving an office over: copies every table of the SQLite database from into the empty
 * PostgreSQL database to (both are first brought to the newest schema), in one transaction;
 * KG_ESTATE when to holds any row. Then reads each table back from both and calls fn with its
 * rows sent and found and a digest of the rows (hex); a difference fails the copy. */
typedef void (*store_copy_table_fn)(void *ctx, const char *table, long long sent, long long there, const char *digest,
                                    bool same);
enum kg_err store_copy(const char *from, const char *to, store_copy_table_fn fn, void *ctx) KG_WUR;

/* --- residents, cards, certificates (registry import) --------------------------------- */

enum store_status { STORE_ACTIVE, STORE_MOVED_OUT, STORE_DECEASED };
enum store_card_status { STORE_CARD_VALID, STORE_CARD_SUSPENDED, STORE_CARD_REVOKED };
enum store_cert_status { STORE_CERT_NONE, STORE_CERT_VALID, STORE_CERT_REVOKED };

struct store_cert {
	enum store_cert_status status; /* STORE_CERT_NONE: not issued (nothing stored) */
	int issued_on;
	int expires_on;
	const char *serial;
};

struct store_resident {
	const char *registry_id;
	const char *name, *kana;
	int birth;
	int sex; /* 1 male, 2 female (住民票の続柄コード順), 9 not stated */
	const char *postal_code;
	const char *addr_town, *addr_block, *addr_building;
	const char *jlis_app_id; /* J-LIS's 申請書ID for the next card (23 digits), "" when none */
	const char *nationality; /* "" for Japanese nationals */
	int stay_until;          /* RULES_NO_DATE when none */
	bool kyosho;             /* a 居所 is registered (never printed) */
	enum store_status status;
	bool has_card;
	int card_issued, card_received, card_expires;
	enum store_card_status card_status;
	bool face_auth;
	struct store_cert auth, sign;
};

/* Inserts or updates one resident with the card and certificates (by registry_id). */
enum kg_err store_put_resident(struct store *s, const struct store_resident *r) KG_WUR;
/* Counts residents (for reports and tests). */
enum kg_err store_count_residents(struct store *s, long *n) KG_WUR;

/* --- selection -------------------------------------------------------------------------- */

/* A resident whose card or a certificate expires in a date range, as selection sees it. */
struct store_candidate {
	int64_t resident;
	const char *postal_code; /* strings borrowed until the next candidate */
	const char *printed[4];  /* name, addr_town, addr_block, addr_building */
	int status;              /* enum store_status */
	bool kyosho;
	bool foreign;
	int stay_until;
	int card_status; /* enum store_card_status */
	int card_expires;
	int auth_status, auth_expires; /* enum store_cert_status; RULES_NO_DATE when none */
	int sign_status, sign_expires;
	const char *kana;
	int birth;
	/* Is there a notice (not a re-inquiry) for the card's expiry (target card), the user-auth
	 * certificate's, the signature certificate's (target cert)? As the transaction saw it when
	 * the candidates were read: selection writes its notices after reading them all. */
	bool noticed_card, noticed_auth, noticed_sign;
	bool returned; /* store_returned_at_address() */
};

/* Calls fn for each resident with a card or certificate expiring in (after, upto]; stops at
 * fn's first error. One query over the expiry indexes (no full scan), whatever the number of
 * candidates: on a server a round trip per candidate made a night over 1,000,000 residents
 * take minutes. The rows come as the database finds them: fn must not use s, and c's strings
 * last only for the call. */
enum kg_err store_each_candidate(struct store *s, int after, int upto,
                                 enum kg_err (*fn)(void *ctx, const struct store_candidate *c), void *ctx) KG_WUR;

/* A notice the counter sent down the 文書照会 route, waiting for its re-inquiry form. */
struct store_reinquiry {
	int64_t notice, resident;
	int expiry;
	int certs;
	char postal_code[16];
	int status; /* the resident's enum store_status now */
};
enum kg_err store_each_reinquiry_due(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_reinquiry *r),
                                     void *ctx) KG_WUR;

/* Batches. */
enum store_batch_state { STORE_SELECTED, STORE_RENDERED, STORE_EXPORTED, STORE_DONE, STORE_FAILED };
const char *store_batch_state_name(enum store_batch_state st);

enum kg_err store_batch_create(struct store *s, int run_date, int64_t *batch) KG_WUR;
enum kg_err store_batch_set_state(struct store *s, int64_t batch, enum store_batch_state st) KG_WUR;
enum kg_err store_batch_add_exclusion(struct store *s, int64_t batch, const char *reason, long count) KG_WUR;

/* A new notice; seq is its place in mailing order. Its application ID is derived from its
 * never-reused row id (see README) and written into app_id (24 bytes). */
struct store_new_notice {
	int64_t resident;
	enum mailset_kind kind;
	enum mailset_target target;
	int certs;
	int expiry;
	int valid_until; /* the form's validity */
	int64_t parent;  /* for a re-inquiry: the notice it replaces; else 0 */
	int seq;
	/* The printable snapshot: what was mailed stays as it was, whatever the registry says later.
	 * name, addr_town, addr_block, addr_building as printed; NULL: as registered. */
	const char *printed[4];
	/* Non-NULL: the notice cannot be printed; it is added HELD, in no batch and without a
	 * sequence number (seq and batch are ignored), and the hold is recorded with this reason. */
	const char *hold_reason;
};
/* Says that this transaction is about to add n new notices: a backend may prepare to write them
 * as a load (PostgreSQL, a new office's first selection: README). Nothing else changes. */
enum kg_err store_notices_expect(struct store *s, long n) KG_WUR;
enum kg_err store_notice_add(struct store *s, int64_t batch, const char *lgcode, const struct store_new_notice *n,
                             char app_id[24]) KG_WUR;
/* Marks a re-inquired notice as replaced. */
enum kg_err store_notice_mark_reinquired(struct store *s, int64_t notice) KG_WUR;

struct store_batch {
	int64_t id;
	int run_date;
	enum store_batch_state state;
	long notices;
	char created_at[32];
	char error[256];  /* why the last run of this batch stopped, "" when it did not */
	bool stale_files; /* a hold changed its numbering: files already written must go (holds) */
};
/* All batches, newest first; caller frees *out. */
enum kg_err store_batches(struct store *s, struct store_batch **out, size_t *n) KG_WUR;
enum kg_err store_batch_get(struct store *s, int64_t batch, struct store_batch *out) KG_WUR;
/* Records why a run stopped on this batch ("" clears it). */
enum kg_err store_batch_set_error(struct store *s, int64_t batch, const char *error) KG_WUR;
/* Marks the batch's queued notices as printed (handed to the print shop). */
enum kg_err store_batch_mark_printed(struct store *s, int64_t batch) KG_WUR;
/* Per seq 1..n, (kind << 1 | target) of each notice, so stages can plan without loading sets;
 * caller frees *kinds. Fails if the sequence numbers are not exactly 1..n. */
enum kg_err store_batch_plan(struct store *s, int64_t batch, unsigned char **kinds, int *n) KG_WUR;
/* Card-renewal notices of a batch without J-LIS's 申請書ID (no online application). */
enum kg_err store_batch_count_no_jlis(struct store *s, int64_t batch, long *n) KG_WUR;
/* The files the render stage made for a batch. */
struct store_file {
	char name[64];
	int doc; /* enum render_doc */
	int pages;
	int seq_from, seq_to;
};
enum kg_err store_batch_file_add(struct store *s, int64_t batch, const struct store_file *f) KG_WUR;
/* In the order they were added; caller frees *out. */
enum kg_err store_batch_files(struct store *s, int64_t batch, struct store_file **out, size_t *n) KG_WUR;
/* Several machines rendering one batch into a shared folder: holder claims the file name of batch
 * for lease seconds before making it. KG_OK: holder may make it now (it was free, the last claim
 * ran out, or it is holder's own); KG_ELOCKED: another holder's claim is still running. Decided
 * by one statement, so of two racing claims one wins. Times are the server's clock. On a SQLite
 * file (one machine, one run: the file lock) every claim is granted. */
enum kg_err store_render_claim(struct store *s, int64_t batch, const char *name, const char *holder, int lease) KG_WUR;
/* Exclusion counts of a batch: calls fn per reason. */
enum kg_err store_batch_exclusions(struct store *s, int64_t batch,
                                   enum kg_err (*fn)(void *ctx, const char *reason, long count), void *ctx) KG_WUR;

/* The printable sets of a batch with seq in [from, to], in seq order. Free with store_sets_free. */
enum kg_err store_batch_sets(struct store *s, int64_t batch, int from, int to, struct mailset **out, size_t *n) KG_WUR;
void store_sets_free(struct mailset *sets, size_t n);

/* --- the counter -------------------------------------------------------------------------- */

/* HELD: kept back (unprintable, or by staff) and in no batch; RELEASED: in no batch, the next
 * selection puts it into its batch. See "holds" below. */
enum store_notice_state {
	STORE_QUEUED,
	STORE_PRINTED,
	STORE_REDEEMED,
	STORE_REINQUIRE,
	STORE_REINQUIRED,
	STORE_VOID,
	STORE_HELD,
	STORE_RELEASED
};
const char *store_notice_state_name(enum store_notice_state st);

struct store_notice {
	int64_t id, resident;
	char app_id[24];
	enum mailset_kind kind;
	enum mailset_target target;
	int certs;
	int expiry, valid_until;
	enum store_notice_state state;
	char *name;        /* as printed */
	char *auth_serial; /* the holder's user-auth certificate as registered ("" if none) */
	int auth_expires;
	bool has_sign_cert;
};
enum kg_err store_notice_by_app_id(struct store *s, const char *app_id, struct store_notice *out) KG_WUR;
void store_notice_release(struct store_notice *n);
/* Moves a notice from one state to another atomically; *moved is false when another counter
 * moved it first (so exactly one of two racing redemptions wins). */
enum kg_err store_notice_transition(struct store *s, int64_t notice, enum store_notice_state from,
                                    enum store_notice_state to, bool *moved) KG_WUR;
/* Appends one outcome to the audit table (append-only: the schema refuses updates and deletes). */
enum kg_err store_audit(struct store *s, int64_t notice, const char *app_id, const char *terminal, const char *staff,
                        const char *outcome, const char *detail) KG_WUR;

/* --- holds ------------------------------------------------------------------------------
 *
 * A notice that cannot be printed is HELD with its reason, by the program (by = "kigen") or by
 * staff, and leaves its batch: a held notice has no batch and no sequence number, so the printed
 * sets of every batch stay numbered 1..n. Staff RELEASE it (the next selection puts it into its
 * batch, its name and address refreshed from the registry) or VOID it (final). Every change is
 * appended to notice_events (action, batch, who, when, why), which the schema keeps append-only
 * like the counter's audit.
 */

/* A notice as the notice command and the stages address it. */
struct store_notice_ref {
	int64_t id;
	char app_id[24];
	enum store_notice_state state;
	int64_t batch;   /* 0: in no batch */
	int batch_state; /* enum store_batch_state of that batch; -1 when in none */
};
enum kg_err store_notice_ref(struct store *s, const char *app_id, struct store_notice_ref *out) KG_WUR;

/* Moves notice n from n->state to `to` and appends the event (action "hold", "release", "void";
 * by; reason). A notice leaving QUEUED leaves its batch: call store_batch_renumber() for that
 * batch in the same transaction. *moved is false when the notice was no longer in n->state. */
enum kg_err store_notice_move(struct store *s, const struct store_notice_ref *n, enum store_notice_state to,
                              const char *action, const char *by, const char *reason, bool *moved) KG_WUR;

/* Numbers the batch's notices 1..n again in their order and sets its notice count. */
enum kg_err store_batch_renumber(struct store *s, int64_t batch) KG_WUR;
/* Marks the batch's files as stale (a hold changed its numbering): its recorded files are
 * forgotten and the render stage removes whatever its folder holds before rendering again.
 * The render clears the mark once the folder is empty. */
enum kg_err store_batch_set_stale(struct store *s, int64_t batch, bool stale) KG_WUR;

/* A held or released notice with its latest hold (or release) event. Strings borrowed during fn. */
struct store_held {
	int64_t id;
	const char *app_id;
	enum store_notice_state state;
	const char *registry_id, *name; /* name as it would be printed (the notice's snapshot) */
	const char *at, *by, *reason;   /* of the latest event */
	int64_t from_batch;             /* the batch of that event, 0 if none */
};
/* Held and released notices in order of their ID. */
enum kg_err store_each_held(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_held *h),
                            void *ctx) KG_WUR;
enum kg_err store_count_held(struct store *s, long *held, long *released) KG_WUR;
/* The program's and staff's holds recorded against a batch (action "hold", "void" of a queued notice). */
enum kg_err store_batch_holds(struct store *s, int64_t batch,
                              enum kg_err (*fn)(void *ctx, const char *app_id, const char *by, const char *reason),
                              void *ctx) KG_WUR;

/* A released notice waiting for the next selection, with its resident as registered now. */
struct store_released {
	int64_t notice, resident;
	char app_id[24];
	enum mailset_kind kind;
	enum mailset_target target;
	int certs, expiry, valid_until;
	int status; /* enum store_status now */
	bool kyosho, foreign, has_sign_cert;
	int birth;
	const char *postal_code, *kana;
	const char *registered[4]; /* name, addr_town, addr_block, addr_building */
};
/* Calls fn for each released notice in order of ID (collected first: fn may write). */
enum kg_err store_each_released(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_released *r),
                                void *ctx) KG_WUR;
/* Puts a released notice into batch at seq, QUEUED, its printable snapshot taken afresh from the
 * registry (printed[i] NULL: as registered), and records the event "requeue". */
enum kg_err store_notice_requeue(struct store *s, int64_t notice, int64_t batch, int seq,
                                 const char *const printed[4]) KG_WUR;

/* --- returned mail (返戻) --------------------------------------------------------------------- */

/* A mailed notice as the back office sees the returned envelope. */
struct store_mailed {
	int64_t notice;
	char app_id[24];
	int batch, seq; /* printed on the mailing envelope as B0001-000001 */
	char name[256];
	char postal_code[16];
	char address[512];        /* as mailed */
	int state;                /* enum store_notice_state */
	int kind, target;         /* enum mailset_kind, enum mailset_target */
	int mailed_on;            /* the batch's run date */
	char returned_reason[32]; /* "" when not returned */
	char returned_at[32];
};
/* KG_ENOTFOUND when there is no such notice. */
enum kg_err store_mailed_by_app_id(struct store *s, const char *app_id, struct store_mailed *out) KG_WUR;
enum kg_err store_mailed_by_seq(struct store *s, int batch, int seq, struct store_mailed *out) KG_WUR;

/* Records a returned mailing; *added is false when it was recorded before (nothing changes). */
enum kg_err store_returned_add(struct store *s, int64_t notice, const char *reason, const char *terminal,
                               const char *staff, bool *added) KG_WUR;

/* One returned mailing for the follow-up list; strings borrowed for the call. */
struct store_returned {
	const char *app_id, *registry_id, *name, *postal_code, *address; /* address as mailed */
	const char *reason, *at, *staff;
	const char *remailed_app_id; /* "" while waiting for a new address */
	bool same_address;           /* the registry still shows the address it came back from */
};
enum kg_err store_returned_each(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_returned *r),
                                void *ctx) KG_WUR;
/* Returned mailings still waiting for a new address, and those re-mailed. */
enum kg_err store_returned_count(struct store *s, long *waiting, long *remailed) KG_WUR;

/* Did mail to this resident come back from the address the registry shows now (not re-mailed)?
 * Then nothing is mailed there automatically. */
enum kg_err store_returned_at_address(struct store *s, int64_t resident, bool *yes) KG_WUR;

/* A returned notice whose holder is active and now registered at another address, and whose
 * expiry is not past on run_date: mailed again, once, by the next selection. */
struct store_remail {
	int64_t notice, resident;
	int kind, target, certs, expiry, valid_until;
	char postal_code[16];
};
enum kg_err store_each_remail_due(struct store *s, int run_date,
                                  enum kg_err (*fn)(void *ctx, const struct store_remail *r), void *ctx) KG_WUR;
/* Links the returned notice to its re-mail (by the new application ID) and voids the old form. */
enum kg_err store_returned_remailed(struct store *s, int64_t notice, const char *new_app_id) KG_WUR;

/* --- the desk's day -------------------------------------------------------------------------- */

/* One audit row; strings borrowed for the call. */
struct store_audit_row {
	const char *at, *app_id, *name, *staff, *outcome;
};
/* The audit rows of a terminal recorded at or after since (an "at" text such as "2026-12-01"),
 * newest first. */
enum kg_err store_audit_since(struct store *s, const char *terminal, const char *since,
                              enum kg_err (*fn)(void *ctx, const struct store_audit_row *r), void *ctx) KG_WUR;

#endif
