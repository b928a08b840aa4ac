/*
 * store.c: the backend-neutral half of store.h. It picks the backend by the database's name,
 * hands each call to it, and keeps the logic both backends must share (application IDs, the
 * time format, freeing what the store handed out), so the same inputs give the same batch on
 * either.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules.h"
#include "store_backend.h"
#include "banned.h"

bool store_is_server(const char *name)
{
	if (!strncmp(name, "postgresql://", 13) || !strncmp(name, "postgres://", 11))
		return true;
	/* A libpq keyword string: "service=kigen", "host=/run/postgresql dbname=kigen". */
	size_t k = strspn(name, "abcdefghijklmnopqrstuvwxyz_");
	return k > 0 && name[k] == '=';
}

enum kg_err store_open(const char *name, struct store **out)
{
	return store_is_server(name) ? store_pg_open(name, out) : store_sqlite_open(name, out);
}

/* The first member of every backend's struct store (see store_backend.h). */
static const struct store_ops *ops(struct store *s)
{
	return *(const struct store_ops *const *)s;
}

const char *store_backend(struct store *s)
{
	return ops(s)->name;
}

void store_close(struct store *s)
{
	if (s)
		ops(s)->close(s);
}

int store_version(struct store *s)
{
	return ops(s)->version(s);
}

enum kg_err store_begin(struct store *s)
{
	return ops(s)->begin(s);
}

enum kg_err store_commit(struct store *s)
{
	return ops(s)->commit(s);
}

void store_rollback(struct store *s)
{
	ops(s)->rollback(s);
}

enum kg_err store_run_lock(struct store *s, const char *what, bool shared)
{
	return ops(s)->run_lock(s, what, shared);
}

enum kg_err store_meta_get(struct store *s, const char *key, long long def, long long *value)
{
	return ops(s)->meta_get(s, key, def, value);
}

enum kg_err store_meta_set(struct store *s, const char *key, long long value)
{
	return ops(s)->meta_set(s, key, value);
}

enum kg_err store_put_resident(struct store *s, const struct store_resident *r)
{
	return ops(s)->put_resident(s, r);
}

enum kg_err store_count_residents(struct store *s, long *n)
{
	return ops(s)->count_residents(s, n);
}

enum kg_err store_each_candidate(struct store *s, int after, int upto,
                                 enum kg_err (*fn)(void *ctx, const struct store_candidate *c), void *ctx)
{
	return ops(s)->each_candidate(s, after, upto, fn, ctx);
}

enum kg_err store_each_reinquiry_due(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_reinquiry *r),
                                     void *ctx)
{
	return ops(s)->each_reinquiry_due(s, fn, ctx);
}

const char *store_batch_state_name(enum store_batch_state st)
{
	static const char *const names[] = {"selected", "rendered", "exported", "done", "failed"};
	return (size_t)st < KG_ARRAY_SIZE(names) ? names[st] : "?";
}

enum kg_err store_batch_create(struct store *s, int run_date, int64_t *batch)
{
	return ops(s)->batch_create(s, run_date, batch);
}

enum kg_err store_batch_set_state(struct store *s, int64_t batch, enum store_batch_state st)
{
	return ops(s)->batch_set_state(s, batch, st);
}

enum kg_err store_batch_add_exclusion(struct store *s, int64_t batch, const char *reason, long count)
{
	return ops(s)->batch_add_exclusion(s, batch, reason, count);
}

/* The application ID: municipality code (6) + kind (1) + row id (15) + Damm check (1). */
void store_make_app_id(const char *lgcode, const struct store_new_notice *n, int64_t id, char out[24])
{
	int kind_digit = n->kind == MAILSET_REINQUIRY ? 3 : n->target == MAILSET_CARD ? 1 : 2;
	snprintf(out, 24, "%.6s%d%015lld", lgcode, kind_digit % 10, (long long)id);
	out[22] = rules_damm_digit(out, 22);
	out[23] = '\0';
}

void store_now_text(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

enum kg_err store_notices_expect(struct store *s, long n)
{
	return ops(s)->notices_expect ? ops(s)->notices_expect(s, n) : KG_OK;
}

enum kg_err store_notice_add(struct store *s, int64_t batch, const char *lgcode, const struct store_new_notice *n,
                             char app_id[24])
{
	return ops(s)->notice_add(s, batch, lgcode, n, app_id);
}

enum kg_err store_notice_mark_reinquired(struct store *s, int64_t notice)
{
	return ops(s)->notice_mark_reinquired(s, notice);
}

enum kg_err store_batches(struct store *s, struct store_batch **out, size_t *n)
{
	return ops(s)->batches(s, out, n);
}

enum kg_err store_batch_get(struct store *s, int64_t batch, struct store_batch *out)
{
	return ops(s)->batch_get(s, batch, out);
}

enum kg_err store_batch_set_error(struct store *s, int64_t batch, const char *error)
{
	return ops(s)->batch_set_error(s, batch, error);
}

enum kg_err store_batch_mark_printed(struct store *s, int64_t batch)
{
	return ops(s)->batch_mark_printed(s, batch);
}

enum kg_err store_batch_plan(struct store *s, int64_t batch, unsigned char **kinds, int *n)
{
	return ops(s)->batch_plan(s, batch, kinds, n);
}

enum kg_err store_batch_count_no_jlis(struct store *s, int64_t batch, long *n)
{
	return ops(s)->batch_count_no_jlis(s, batch, n);
}

enum kg_err store_batch_file_add(struct store *s, int64_t batch, const struct store_file *f)
{
	return ops(s)->batch_file_add(s, batch, f);
}

enum kg_err store_batch_files(struct store *s, int64_t batch, struct store_file **out, size_t *n)
{
	return ops(s)->batch_files(s, batch, out, n);
}

enum kg_err store_render_claim(struct store *s, int64_t batch, const char *name, const char *holder, int lease)
{
	return ops(s)->render_claim(s, batch, name, holder, lease);
}

enum kg_err store_batch_exclusions(struct store *s, int64_t batch,
                                   enum kg_err (*fn)(void *ctx, const char *reason, long count), void *ctx)
{
	return ops(s)->batch_exclusions(s, batch, fn, ctx);
}

enum kg_err store_batch_sets(struct store *s, int64_t batch, int from, int to, struct mailset **out, size_t *n)
{
	return ops(s)->batch_sets(s, batch, from, to, out, n);
}

void store_sets_free(struct mailset *sets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)sets[i].resident_id);
		free((char *)sets[i].name);
		free((char *)sets[i].kana);
		free((char *)sets[i].postal_code);
		free((char *)sets[i].addr_town);
		free((char *)sets[i].addr_block);
		free((char *)sets[i].addr_building);
		free((char *)sets[i].barcode);
		free((char *)sets[i].barcode_code);
		free((char *)sets[i].no_barcode_reason);
	}
	free(sets);
}

enum kg_err store_notice_by_app_id(struct store *s, const char *app_id, struct store_notice *out)
{
	return ops(s)->notice_by_app_id(s, app_id, out);
}

void store_notice_release(struct store_notice *n)
{
	free(n->name);
	free(n->auth_serial);
	n->name = n->auth_serial = NULL;
}

enum kg_err store_notice_transition(struct store *s, int64_t notice, enum store_notice_state from,
                                    enum store_notice_state to, bool *moved)
{
	return ops(s)->notice_transition(s, notice, from, to, moved);
}

enum kg_err store_audit(struct store *s, int64_t notice, const char *app_id, const char *terminal, const char *staff,
                        const char *outcome, const char *detail)
{
	return ops(s)->audit(s, notice, app_id, terminal, staff, outcome, detail);
}

/* --- holds ---------------------------------------------------------------------------------- */

const char *store_notice_state_name(enum store_notice_state st)
{
	static const char *const names[] = {"queued",     "printed", "redeemed", "reinquire",
	                                    "reinquired", "void",    "held",     "released"};
	return (size_t)st < KG_ARRAY_SIZE(names) ? names[st] : "?";
}

enum kg_err store_notice_ref(struct store *s, const char *app_id, struct store_notice_ref *out)
{
	return ops(s)->notice_ref(s, app_id, out);
}

enum kg_err store_notice_move(struct store *s, const struct store_notice_ref *n, enum store_notice_state to,
                              const char *action, const char *by, const char *reason, bool *moved)
{
	return ops(s)->notice_move(s, n, to, action, by, reason, moved);
}

enum kg_err store_batch_renumber(struct store *s, int64_t batch)
{
	return ops(s)->batch_renumber(s, batch);
}

enum kg_err store_batch_set_stale(struct store *s, int64_t batch, bool stale)
{
	return ops(s)->batch_set_stale(s, batch, stale);
}

enum kg_err store_each_held(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_held *h), void *ctx)
{
	return ops(s)->each_held(s, fn, ctx);
}

enum kg_err store_count_held(struct store *s, long *held, long *released)
{
	return ops(s)->count_held(s, held, released);
}

enum kg_err store_batch_holds(struct store *s, int64_t batch,
                              enum kg_err (*fn)(void *ctx, const char *app_id, const char *by, const char *reason),
                              void *ctx)
{
	return ops(s)->batch_holds(s, batch, fn, ctx);
}

enum kg_err store_each_released(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_released *r),
                                void *ctx)
{
	return ops(s)->each_released(s, fn, ctx);
}

enum kg_err store_notice_requeue(struct store *s, int64_t notice, int64_t batch, int seq, const char *const printed[4])
{
	return ops(s)->notice_requeue(s, notice, batch, seq, printed);
}

/* --- returned mail (返戻) and the desk's day ------------------------------------------------ */

enum kg_err store_mailed_by_app_id(struct store *s, const char *app_id, struct store_mailed *out)
{
	return ops(s)->mailed_by_app_id(s, app_id, out);
}

enum kg_err store_mailed_by_seq(struct store *s, int batch, int seq, struct store_mailed *out)
{
	return ops(s)->mailed_by_seq(s, batch, seq, out);
}

enum kg_err store_returned_add(struct store *s, int64_t notice, const char *reason, const char *terminal,
                               const char *staff, bool *added)
{
	return ops(s)->returned_add(s, notice, reason, terminal, staff, added);
}

enum kg_err store_returned_each(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_returned *r),
                                void *ctx)
{
	return ops(s)->returned_each(s, fn, ctx);
}

enum kg_err store_returned_count(struct store *s, long *waiting, long *remailed)
{
	return ops(s)->returned_count(s, waiting, remailed);
}

enum kg_err store_returned_at_address(struct store *s, int64_t resident, bool *yes)
{
	return ops(s)->returned_at_address(s, resident, yes);
}

enum kg_err store_each_remail_due(struct store *s, int run_date,
                                  enum kg_err (*fn)(void *ctx, const struct store_remail *r), void *ctx)
{
	return ops(s)->each_remail_due(s, run_date, fn, ctx);
}

enum kg_err store_returned_remailed(struct store *s, int64_t notice, const char *new_app_id)
{
	return ops(s)->returned_remailed(s, notice, new_app_id);
}

enum kg_err store_audit_since(struct store *s, const char *terminal, const char *since,
                              enum kg_err (*fn)(void *ctx, const struct store_audit_row *r), void *ctx)
{
	return ops(s)->audit_since(s, terminal, since, fn, ctx);
}
