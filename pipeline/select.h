/*
 * select.h: nightly stage 1. Finds the notices due on a run date (README "Who gets a notice") and the
 * re-inquiry forms the counter asked for, and puts them into one new batch with sequence
 * numbers in mailing order (postal code order) and new application IDs, in one transaction.
 *
 * Selection never goes back in time: a run date before the last selection's creates nothing
 * (res->stale_before says which date), since the expiries between the two have passed.
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
	SELECT_UNPRINTABLE,    /* the name has a character no font draws and no 代替文字: held for review */
	SELECT_N_REASONS
};
const char *select_reason_name(enum select_reason r);

/* Decides how a record's name and address (fields: name, 町域, 番地・号, 方書) are printed.
 * print[i] gets a substituted copy (caller frees) or stays NULL to print field i as registered;
 * *hold = true holds the record back for review. NULL hook: everything as registered. */
struct select_vetter {
	enum kg_err (*vet)(void *ctx, const char *const fields[4], char *print[4], bool *hold);
	void *ctx;
};

struct select_result {
	int64_t batch; /* 0 when nothing was due */
	long notices;  /* new notices, re-inquiries included */
	long card, cert, reinquiries;
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
