/*
 * mailset.h: one resident's mail in a batch, as the renderer and the manifest see it.
 *
 * Plain data, filled by store_batch_sets() from the database (or by hand in tests). The
 * strings are owned by whoever filled the array (store_sets_free() for the store's). It holds
 * only what may be printed: never a My Number, a PIN, or anything about a 居所.
 */
#ifndef MAILSET_H
#define MAILSET_H

#include <stdbool.h>

enum mailset_target {
	MAILSET_CARD, /* マイナンバーカードの更新手続 */
	MAILSET_CERT, /* 電子証明書の更新手続 */
};

enum mailset_kind {
	MAILSET_NOTICE,    /* 有効期限通知書 (+ form and sealing envelope for a certificate) */
	MAILSET_REINQUIRY, /* 文書照会: a new 照会書兼回答書 after a failed or expired form */
};

/* Which certificates expire (for MAILSET_CERT); both bits for the usual case. */
#define MAILSET_SIGN 1
#define MAILSET_AUTH 2

struct mailset {
	int seq;         /* sequence number in the batch, 1.., in mailing order */
	int batch;       /* batch number */
	int batch_day;   /* the batch's run date (days since 1970-01-01, rules.h) */
	char app_id[24]; /* 23-digit application ID */
	const char *resident_id;
	const char *name; /* as registered: may hold characters outside JIS X 0208 and IVS */
	const char *kana;
	const char *postal_code;   /* NNN-NNNN */
	const char *addr_town;     /* up to the 町域 */
	const char *addr_block;    /* 番地・号 */
	const char *addr_building; /* 方書 */
	enum mailset_kind kind;
	enum mailset_target target;
	int certs;  /* MAILSET_SIGN | MAILSET_AUTH for the certificates that expire */
	int expiry; /* the expiry being noticed; also the form's validity */
	int birth;
	bool foreign;                  /* birth dates of foreign residents print in 西暦 */
	bool has_sign_cert;            /* the form gets a 署名用 PIN box only then */
	const char *barcode;           /* Japan Post customer barcode, 67 letters F/A/D/T, or NULL */
	const char *barcode_code;      /* the same as its 20 symbol characters and check, e.g. "1 0 ... CC4 / 9" */
	const char *no_barcode_reason; /* why there is none, or NULL */
};

/* What a set holds: the one place this rule lives. A notice gets the 有効期限通知書, and a
 * certificate renewal also the 照会書兼回答書 with its sealing envelope; a re-inquiry is the form
 * (and its envelope) alone. Every set gets a mailing envelope. */
static inline bool mailset_kind_has_notice(enum mailset_kind kind)
{
	return kind == MAILSET_NOTICE;
}

static inline bool mailset_kind_has_form(enum mailset_kind kind, enum mailset_target target)
{
	return kind == MAILSET_REINQUIRY || target == MAILSET_CERT;
}

static inline bool mailset_has_form(const struct mailset *m)
{
	return mailset_kind_has_form(m->kind, m->target);
}

/* A4 sheets of one set. */
static inline int mailset_sheets(const struct mailset *m)
{
	return mailset_kind_has_notice(m->kind) + mailset_has_form(m);
}

/* Printed pieces of one set, each carrying its matching code B{batch}-{seq}-{p}/{n}: the A4
 * sheets in order, the sealing envelope (with a form), the mailing envelope last. */
static inline int mailset_pieces(const struct mailset *m)
{
	return mailset_sheets(m) + mailset_has_form(m) + 1;
}

#endif
