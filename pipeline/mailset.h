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
	char app_id[24]; /* kigen's 通知番号 (23 digits): the counter's and the print shop's key */
	/* J-LIS's 申請書ID of the resident's 個人番号カード交付申請書 (23 digits), for a card renewal;
	 * "" when the registry has none: the notice then has no online-application QR. */
	char jlis_app_id[24];
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
	bool sign_revoked;             /* the signature certificate was revoked (a move), not never issued */
	const char *barcode;           /* Japan Post customer barcode, 67 letters F/A/D/T, or NULL */
	const char *barcode_code;      /* the same as its 20 symbol characters and check, e.g. "1 0 ... CC4 / 9" */
	const char *no_barcode_reason; /* why there is none, or NULL */
};

/*
 * What a set holds: the one place this rule lives. In mailing (enclosing) order:
 *   the 有効期限通知書            every notice (not a re-inquiry);
 *   the 個人番号カード交付申請書  every card-renewal notice (seed: "有効期限通知書に同封されて
 *                                 いる申請書"), A4, after the notice;
 *   the 照会書兼回答書            every certificate renewal, and a re-inquiry (the form alone),
 *                                 with its 封入用封筒;
 *   the settings' pre-printed inserts of the set's group (mailset_group());
 *   the mailing envelope          every set.
 */
static inline bool mailset_kind_has_notice(enum mailset_kind kind)
{
	return kind == MAILSET_NOTICE;
}

static inline bool mailset_kind_has_application(enum mailset_kind kind, enum mailset_target target)
{
	return kind == MAILSET_NOTICE && target == MAILSET_CARD;
}

static inline bool mailset_kind_has_form(enum mailset_kind kind, enum mailset_target target)
{
	return kind == MAILSET_REINQUIRY || target == MAILSET_CERT;
}

static inline bool mailset_has_application(const struct mailset *m)
{
	return mailset_kind_has_application(m->kind, m->target);
}

static inline bool mailset_has_form(const struct mailset *m)
{
	return mailset_kind_has_form(m->kind, m->target);
}

/* A card renewal without J-LIS's 申請書ID: no online application; counted in the manifest and
 * the run report. */
static inline bool mailset_lacks_jlis_id(const struct mailset *m)
{
	return mailset_has_application(m) && !m->jlis_app_id[0];
}

/* A4 sheets of one set. */
static inline int mailset_kind_sheets(enum mailset_kind kind, enum mailset_target target)
{
	return mailset_kind_has_notice(kind) + mailset_kind_has_application(kind, target) +
	       mailset_kind_has_form(kind, target);
}

static inline int mailset_sheets(const struct mailset *m)
{
	return mailset_kind_sheets(m->kind, m->target);
}

/* The printed pieces, in enclosing order, and their names on the 同封物 list and the manifest. */
enum mailset_piece {
	MAILSET_PIECE_NOTICE,
	MAILSET_PIECE_APPLICATION,
	MAILSET_PIECE_FORM,
	MAILSET_PIECE_INNER,
	MAILSET_PIECE_OUTER,
	MAILSET_N_PIECES
};

static inline const char *mailset_piece_name(enum mailset_piece p)
{
	static const char *const names[MAILSET_N_PIECES] = {
		"有効期限通知書", "個人番号カード交付申請書", "照会書兼回答書", "照会書兼回答書封入用封筒",
		"長形3号封筒",
	};
	return names[p];
}

static inline bool mailset_kind_has_piece(enum mailset_kind kind, enum mailset_target target, enum mailset_piece p)
{
	switch (p) {
	case MAILSET_PIECE_NOTICE: return mailset_kind_has_notice(kind);
	case MAILSET_PIECE_APPLICATION: return mailset_kind_has_application(kind, target);
	case MAILSET_PIECE_FORM:
	case MAILSET_PIECE_INNER: return mailset_kind_has_form(kind, target);
	case MAILSET_PIECE_OUTER:
	case MAILSET_N_PIECES: break;
	}
	return p == MAILSET_PIECE_OUTER;
}

/* The kinds of set that get their own list of pre-printed inserts (settings "inserts:"). */
enum mailset_group { MAILSET_GROUP_CARD, MAILSET_GROUP_CERT, MAILSET_GROUP_REINQUIRY, MAILSET_N_GROUPS };

static inline enum mailset_group mailset_group(enum mailset_kind kind, enum mailset_target target)
{
	return kind == MAILSET_REINQUIRY ? MAILSET_GROUP_REINQUIRY
	       : target == MAILSET_CARD  ? MAILSET_GROUP_CARD
	                                 : MAILSET_GROUP_CERT;
}

#endif
