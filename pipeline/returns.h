/*
 * returns.h: returned mail (返戻). The back office scans a mailing envelope that came back,
 * picks why Japan Post returned it, and the notice is marked returned. From then on nothing is
 * mailed automatically to that address; once the registry shows the holder at a new address the
 * next selection mails the notice again, once (select.h). Both desks (the web page) and the
 * command line (kigen notice list --returned) use this module.
 *
 * A scan names the notice by either code on the envelope: the mailing envelope's sequence code
 * B0001-000001 (batch and sequence number, printed at its foot), or the 23-digit application ID
 * from the form inside (its check digit refuses a mistyped ID before any lookup).
 */
#ifndef RETURNS_H
#define RETURNS_H

#include <stdbool.h>

#include "kg.h"
#include "store.h"

/* Why the mail came back, in the words of Japan Post's return labels. */
enum returns_reason {
	RETURNS_NO_SUCH_ADDRESSEE, /* 宛所不明（あて所に尋ねあたりません） */
	RETURNS_MOVED_UNKNOWN,     /* 転居先不明 */
	RETURNS_REFUSED,           /* 受取拒否 */
	RETURNS_INCOMPLETE,        /* あて名不完全 */
	RETURNS_UNCLAIMED,         /* 保管期間経過 */
	RETURNS_OTHER,             /* その他 */
	RETURNS_N_REASONS
};
/* "no_such_addressee", ... as stored; and the Japanese label staff pick from. */
const char *returns_reason_name(enum returns_reason r);
const char *returns_reason_label(enum returns_reason r);
/* The label for a stored name (the name itself when unknown). */
const char *returns_label_of(const char *name);
/* The reason for a stored name; -1 when it is none of them. */
int returns_reason_parse(const char *name);

/* The notice a scanned code names. KG_EINPUT: the code is neither form (or a check digit is
 * wrong); KG_ENOTFOUND: no such notice. */
enum kg_err returns_find(struct store *st, const char *code, struct store_mailed *out) KG_WUR;

/*
 * Marks the notice the code names as returned for reason. *added is false when it had been
 * recorded before (nothing changes). KG_ESTATE when the notice was not out in the mail (already
 * used at the counter, replaced, or void): a return is recorded only for mail still out.
 */
enum kg_err returns_mark(struct store *st, const char *code, enum returns_reason reason, const char *terminal,
                         const char *staff, struct store_mailed *out, bool *added) KG_WUR;

#endif
