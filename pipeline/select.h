/*
 * select.h: nightly stage 1. Finds the notices due on a run date (README "Who gets a notice") and the
 * re-inquiry forms the counter asked for, and puts them into one new batch with sequence
 * numbers in mailing order (postal code order) and new application IDs, in one transaction.
 *
 * Selection never goes back in time: a run date before the last selection's creates nothing
 * (res->stale_before says which date), since the expiries between the two have passed.
 *
 * Released notices (store.h, holds) join the batch with their name and address as the registry
 * has them now, checked again like a new notice; one that still cannot be printed is held again.
 *
 * Returned mail (返戻): nothing is mailed automatically to an address mail came back from
 * (SELECT_RETURNED); once the registry shows the holder at another address, the returned
 * notice is mailed again there, once, unless its expiry has passed (a copy with a new
 * application ID; the old form is void).
 *
 * Idempotent: a notice exists at most once per (resident, target, expiry), so running again
 * for the same or an earlier date creates nothing twice, and a later date catches up every
 * notice whose night was missed. Nothing due means no batch.
 */
#ifndef SELECT_H
#define SELECT_H

#include <stdbool.h>
#include <stdint.h>

#include "kg.h"
#include "settings.h"
#include "store.h"

/* Why a due resident got no notice. */
enum select_reason {
	SELECT_DECEASED,
	SELECT_MOVED_OUT,
	SELECT_CARD_SUSPENDED,
	SELECT_CARD_REVOKED,
	SELECT_PERIOD_OF_STAY, /* a foreign resident whose expiry is the end of the period of stay */
	SELECT_KYOSHO,         /* a 居所 is registered: mail to the address could expose them */
	SELECT_HELD,           /* cannot be printed: the notice is made HELD (store.h), no sequence number */
	SELECT_RETURNED,       /* mail came back from the address the registry still shows (返戻) */
	SELECT_N_REASONS
};
const char *select_reason_name(enum select_reason r);

/* Decides whether and how a record is printed, before it gets a sequence number. m is the set
 * as it would be printed from the registry (seq, batch and app_id are 0 / "": the vetter puts
 * placeholders of their printed width). print[i] gets a replacement of name, 町域, 番地・号 or
 * 方書 (代替文字; caller frees) or stays NULL to print field i as registered; *hold gets the
 * reason (caller frees) when the record cannot be printed: the notice is then made HELD.
 * NULL hook: everything as registered. */
struct select_vetter {
	enum kg_err (*vet)(void *ctx, const struct mailset *m, char *print[4], char **hold);
	void *ctx;
};

struct select_result {
	int64_t batch; /* 0 when nothing printable was due */
	long notices;  /* notices in the batch, re-inquiries and released notices included */
	long card, cert, reinquiries;
	long remailed; /* returned notices mailed again, to the new address the registry shows */
	long released; /* released notices put into the batch */
	long held;     /* notices made (or kept) HELD by this selection: excluded[SELECT_HELD] */
	long excluded[SELECT_N_REASONS];
	int stale_before; /* set when the run date is before the last selection's; else RULES_NO_DATE */
};

enum kg_err select_run(struct store *st, const struct settings *set, int run_date, bool dry_run,
                       const struct select_vetter *vetter, struct select_result *res) KG_WUR;

/* The run report's forecast: counts[w] gets the notices that become due in week w, the nights
 * from_date + 7w .. from_date + 7w + 6, for w in 0..weeks-1 (counts holds weeks longs). It
 * applies the same next-expiry rule and exclusions as select_run (the name vetter aside, which
 * holds names for review rather than for good) and writes nothing. A notice created early by a
 * catch-up run is still counted in its own week: the forecast is of the waves of renewals. */
enum kg_err select_forecast(struct store *st, const struct settings *set, int from_date, int weeks,
                            long *counts) KG_WUR;

#endif
