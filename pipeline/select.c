/*
 * select.c: the selection stage. Candidates come from the expiry indexes (a date range, no
 * scan of all residents); the exact rule (rules_is_due) and the exclusions are applied here.
 */
#include "select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "banned.h"

const char *select_reason_name(enum select_reason r)
{
	static const char *const names[SELECT_N_REASONS] = {
		[SELECT_DECEASED] = "deceased",
		[SELECT_MOVED_OUT] = "moved_out",
		[SELECT_CARD_SUSPENDED] = "card_suspended",
		[SELECT_CARD_REVOKED] = "card_revoked",
		[SELECT_PERIOD_OF_STAY] = "period_of_stay",
		[SELECT_KYOSHO] = "kyosho",
		[SELECT_HELD] = "held",
		[SELECT_RETURNED] = "returned_mail",
	};
	return (size_t)r < SELECT_N_REASONS ? names[r] : "?";
}

struct item {
	int64_t resident, parent;
	int64_t released; /* a released notice put into the batch; 0: a new notice */
	enum mailset_kind kind;
	enum mailset_target target;
	int certs, expiry, valid_until;
	bool remail; /* parent is a returned notice, not a re-inquired one */
	char postal[16];
	char *printed[4];
	char *hold; /* why it cannot be printed; NULL: printable */
};

struct run {
	struct store *st;
	const struct settings *set;
	const struct select_vetter *vetter;
	int date;
	struct select_result *res;
	struct item *items;
	size_t n, alloc;
};

static void add_item(struct run *r, const struct item *it)
{
	KG_GROW(r->items, r->n + 1, r->alloc);
	r->items[r->n++] = *it;
}

/* The next thing to expire after the run date, and what it is. */
static bool next_expiry(const struct store_candidate *c, int run, int *expiry, enum mailset_target *target, int *certs)
{
	int e = c->card_expires > run ? c->card_expires : RULES_NO_DATE;
	int a = c->auth_status == STORE_CERT_VALID && c->auth_expires > run ? c->auth_expires : RULES_NO_DATE;
	int g = c->sign_status == STORE_CERT_VALID && c->sign_expires > run ? c->sign_expires : RULES_NO_DATE;
	int best = e;
	if (a != RULES_NO_DATE && (best == RULES_NO_DATE || a < best))
		best = a;
	if (g != RULES_NO_DATE && (best == RULES_NO_DATE || g < best))
		best = g;
	if (best == RULES_NO_DATE)
		return false;
	*expiry = best;
	/* The card first or on the same day as the certificates: renewing the card renews them too. */
	if (best == e) {
		*target = MAILSET_CARD;
		*certs = 0;
	} else {
		*target = MAILSET_CERT;
		*certs = (a == best ? MAILSET_AUTH : 0) | (g == best ? MAILSET_SIGN : 0);
	}
	return true;
}

/* Why the registry rules a candidate out of a notice for expiry (an enum select_reason), or -1.
 * Shared by the selection and the forecast, so both apply the same rules. */
static int excluded_by(const struct store_candidate *c, int expiry)
{
	if (c->status == STORE_DECEASED)
		return SELECT_DECEASED;
	if (c->status == STORE_MOVED_OUT)
		return SELECT_MOVED_OUT;
	if (c->card_status == STORE_CARD_SUSPENDED)
		return SELECT_CARD_SUSPENDED;
	if (c->card_status == STORE_CARD_REVOKED)
		return SELECT_CARD_REVOKED;
	if (c->foreign && c->stay_until != RULES_NO_DATE && expiry == c->stay_until)
		return SELECT_PERIOD_OF_STAY;
	if (c->kyosho)
		return SELECT_KYOSHO;
	return -1;
}

/* Asks the vetter about the set m would print, then adds the item: printable (counted by what
 * it is) or held (counted as SELECT_HELD). */
static enum kg_err vet_and_add(struct run *r, struct item *it, const struct mailset *m)
{
	if (r->vetter && r->vetter->vet) {
		enum kg_err err = r->vetter->vet(r->vetter->ctx, m, it->printed, &it->hold);
		if (err) {
			for (int i = 0; i < 4; i++)
				free(it->printed[i]);
			free(it->hold);
			return err;
		}
	}
	snprintf(it->postal, sizeof it->postal, "%s", m->postal_code);
	add_item(r, it);
	if (it->hold) {
		r->res->excluded[SELECT_HELD]++;
		r->res->held++;
	} else if (it->released) {
		r->res->released++;
	} else if (it->target == MAILSET_CARD) {
		r->res->card++;
	} else {
		r->res->cert++;
	}
	return KG_OK;
}

static enum kg_err consider(void *ctx, const struct store_candidate *c)
{
	struct run *r = ctx;
	struct item it = {.resident = c->resident, .kind = MAILSET_NOTICE};
	if (!next_expiry(c, r->date, &it.expiry, &it.target, &it.certs) ||
	    !rules_is_due(&r->set->policy, r->date, it.expiry))
		return KG_OK;

	/* A certificate notice's expiry is that of each certificate in it.certs. */
	if (it.target == MAILSET_CARD ? c->noticed_card : (it.certs & MAILSET_AUTH ? c->noticed_auth : c->noticed_sign))
		return KG_OK;

	int reason = excluded_by(c, it.expiry);
	if (reason < 0 && c->returned)
		reason = SELECT_RETURNED;
	if (reason >= 0) {
		r->res->excluded[reason]++;
		return KG_OK;
	}
	it.valid_until = it.expiry;
	struct mailset m = {
		.batch_day = r->date,
		.name = c->printed[0],
		.kana = c->kana,
		.postal_code = c->postal_code,
		.addr_town = c->printed[1],
		.addr_block = c->printed[2],
		.addr_building = c->printed[3],
		.kind = it.kind,
		.target = it.target,
		.certs = it.certs,
		.expiry = it.valid_until,
		.birth = c->birth,
		.foreign = c->foreign,
		.has_sign_cert = c->sign_status == STORE_CERT_VALID,
	};
	return vet_and_add(r, &it, &m);
}

/* A notice staff released: printed now with the registry's name and address, if the resident
 * can still be written to (else it stays released and is counted like a new notice would be). */
static enum kg_err consider_released(void *ctx, const struct store_released *q)
{
	struct run *r = ctx;
	int reason = q->status == STORE_DECEASED    ? SELECT_DECEASED
	             : q->status == STORE_MOVED_OUT ? SELECT_MOVED_OUT
	             : q->kyosho                    ? SELECT_KYOSHO
	                                            : -1;
	if (reason >= 0) {
		r->res->excluded[reason]++;
		return KG_OK;
	}
	struct item it = {
		.resident = q->resident,
		.released = q->notice,
		.kind = q->kind,
		.target = q->target,
		.certs = q->certs,
		.expiry = q->expiry,
		.valid_until = q->valid_until,
	};
	struct mailset m = {
		.batch_day = r->date,
		.name = q->registered[0],
		.kana = q->kana,
		.postal_code = q->postal_code,
		.addr_town = q->registered[1],
		.addr_block = q->registered[2],
		.addr_building = q->registered[3],
		.kind = q->kind,
		.target = q->target,
		.certs = q->certs,
		.expiry = q->valid_until,
		.birth = q->birth,
		.foreign = q->foreign,
		.has_sign_cert = q->has_sign_cert,
	};
	return vet_and_add(r, &it, &m);
}

static enum kg_err consider_reinquiry(void *ctx, const struct store_reinquiry *q)
{
	struct run *r = ctx;
	if (q->status != STORE_ACTIVE)
		return KG_OK; /* moved out or died since: nobody to write to */
	bool returned;
	enum kg_err err = store_returned_at_address(r->st, q->resident, &returned);
	if (err || returned)
		return err; /* waits, as the counter left it, until the registry shows a new address */
	struct item it = {
		.resident = q->resident,
		.parent = q->notice,
		.kind = MAILSET_REINQUIRY,
		.target = MAILSET_CERT,
		.certs = q->certs ? q->certs : MAILSET_AUTH | MAILSET_SIGN,
		.expiry = q->expiry,
		/* The form is valid until the certificate expires; once that has passed, for as long
		 * as a new issuance's inquiry stays open at the counter. */
		.valid_until = q->expiry > r->date ? q->expiry : r->date + r->set->reinquiry_valid_days,
	};
	snprintf(it.postal, sizeof it.postal, "%s", q->postal_code);
	add_item(r, &it);
	r->res->reinquiries++;
	return KG_OK;
}

static enum kg_err consider_remail(void *ctx, const struct store_remail *q)
{
	struct run *r = ctx;
	struct item it = {
		.resident = q->resident,
		.parent = q->notice,
		.remail = true,
		.kind = q->kind,
		.target = q->target,
		.certs = q->certs,
		.expiry = q->expiry,
		.valid_until = q->valid_until,
	};
	snprintf(it.postal, sizeof it.postal, "%s", q->postal_code);
	add_item(r, &it);
	r->res->remailed++;
	return KG_OK;
}

/* Mailing order: postal code, then the order the registry gave the residents. */
static int by_mailing_order(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->postal, y->postal);
	if (c)
		return c;
	if (x->resident != y->resident)
		return x->resident < y->resident ? -1 : 1;
	if (x->kind != y->kind)
		return (x->kind > y->kind) - (x->kind < y->kind);
	/* A released notice beside a new one of the same resident: by expiry, so the order never
	 * depends on the order the database gave them. */
	return (x->expiry > y->expiry) - (x->expiry < y->expiry);
}

/* Writes the items: printable ones into a new batch with seq 1..n in mailing order (no batch
 * when there is none), held ones as HELD notices in no batch, each with its reason. */
static enum kg_err write_batch(struct run *r)
{
	long added = 0;
	for (size_t i = 0; i < r->n; i++)
		added += !r->items[i].released;
	enum kg_err err = store_notices_expect(r->st, added);
	int seq = 0;
	if (!err && (size_t)r->res->held < r->n)
		err = store_batch_create(r->st, r->date, &r->res->batch);
	for (size_t i = 0; !err && i < r->n; i++) {
		const struct item *it = &r->items[i];
		const char *const printed[4] = {it->printed[0], it->printed[1], it->printed[2], it->printed[3]};
		if (it->released && it->hold) {
			/* Still unprintable: held again, with today's reason. */
			struct store_notice_ref ref = {.id = it->released, .state = STORE_RELEASED};
			bool moved;
			if (!(err = store_notice_move(r->st, &ref, STORE_HELD, "hold", "kigen", it->hold, &moved)) &&
			    !moved)
				err = kg_fail(KG_ESTATE, "notice %lld is no longer released", (long long)it->released);
			continue;
		}
		if (it->released) {
			err = store_notice_requeue(r->st, it->released, r->res->batch, ++seq, printed);
			continue;
		}
		struct store_new_notice nn = {
			.resident = it->resident,
			.kind = it->kind,
			.target = it->target,
			.certs = it->certs,
			.expiry = it->expiry,
			.valid_until = it->valid_until,
			.parent = it->parent,
			.seq = it->hold ? 0 : ++seq,
			.printed = {it->printed[0], it->printed[1], it->printed[2], it->printed[3]},
			.hold_reason = it->hold,
		};
		char app_id[24];
		err = store_notice_add(r->st, r->res->batch, r->set->lgcode, &nn, app_id);
		if (!err && it->remail)
			err = store_returned_remailed(r->st, it->parent, app_id);
		else if (!err && it->parent)
			err = store_notice_mark_reinquired(r->st, it->parent);
	}
	for (int k = 0; !err && r->res->batch && k < SELECT_N_REASONS; k++)
		if (r->res->excluded[k])
			err = store_batch_add_exclusion(r->st, r->res->batch, select_reason_name(k),
			                                r->res->excluded[k]);
	return err;
}

enum kg_err select_run(struct store *st, const struct settings *set, int run_date, bool dry_run,
                       const struct select_vetter *vetter, struct select_result *res)
{
	struct run r = {.st = st, .set = set, .vetter = vetter, .date = run_date, .res = res};
	memset(res, 0, sizeof *res);

	/* Read and write in one write transaction, so what is counted is what is written. */
	res->stale_before = RULES_NO_DATE;
	enum kg_err err = store_begin(st);
	if (err)
		return err;
	long long last;
	if ((err = store_meta_get(st, "last_selection", RULES_NO_DATE, &last)))
		goto out;
	if (last != RULES_NO_DATE && run_date < last) {
		res->stale_before = (int)last;
		goto out;
	}
	if (!dry_run && (err = store_meta_set(st, "last_selection", run_date)))
		goto out;
	/* A notice is due from notice_from(E) = window opens - lead days, and the window opens at
	 * most three months + a day before E: no due expiry lies beyond this bound. */
	int upto = run_date + set->policy.lead_days + 93;
	if ((err = store_each_candidate(st, run_date, upto, consider, &r)) ||
	    (err = store_each_reinquiry_due(st, consider_reinquiry, &r)) ||
	    (err = store_each_released(st, consider_released, &r)) ||
	    (err = store_each_remail_due(st, run_date, consider_remail, &r)))
		goto out;
	res->notices = (long)r.n - res->held;
	if (dry_run)
		goto out;
	if (r.n) /* qsort(NULL, 0, ...) is undefined; UBSan stops the asan build there */
		qsort(r.items, r.n, sizeof *r.items, by_mailing_order);
	if ((r.n && (err = write_batch(&r))) || (err = store_commit(st)))
		goto out;
out:
	store_rollback(st); /* a no-op after a commit */
	for (size_t i = 0; i < r.n; i++) {
		for (int k = 0; k < 4; k++)
			free(r.items[i].printed[k]);
		free(r.items[i].hold);
	}
	free(r.items);
	if (err)
		res->batch = 0;
	return err;
}

/* --- the forecast (for the run report) ---------------------------------------------------- */

struct forecast {
	const struct settings *set;
	int from, end; /* nights [from, end) */
	long *counts;  /* per week */
};

/* Walks a candidate's expiries in order as the nightly selection would meet them: the notice
 * for an expiry comes on its first due night, but not before the previous expiry has passed,
 * since selection only looks at the next thing to expire. */
static enum kg_err forecast_one(void *ctx, const struct store_candidate *c)
{
	struct forecast *f = ctx;
	int run = f->from, expiry, certs;
	enum mailset_target target;
	bool first = true;
	while (next_expiry(c, run, &expiry, &target, &certs)) {
		int night = rules_notice_from(&f->set->policy, expiry);
		if (!first && night < run)
			night = run;
		if (night >= f->end)
			break;
		if (night >= f->from && excluded_by(c, expiry) < 0)
			f->counts[(night - f->from) / 7]++;
		first = false;
		run = expiry;
	}
	return KG_OK;
}

enum kg_err select_forecast(struct store *st, const struct settings *set, int from_date, int weeks, long *counts)
{
	if (weeks <= 0 || weeks > 520)
		return kg_fail(KG_EINPUT, "forecast: %d weeks (1..520)", weeks);
	struct forecast f = {.set = set, .from = from_date, .end = from_date + 7 * weeks, .counts = counts};
	memset(counts, 0, (size_t)weeks * sizeof *counts);
	/* A notice night lies at most lead days + three months and a day before its expiry (as in
	 * select_run), so no expiry past this bound has a night inside the forecast. */
	return store_each_candidate(st, from_date, f.end + set->policy.lead_days + 93, forecast_one, &f);
}
