/*
 * store_backend.h: what store.c (the contract of store.h) asks of a database backend. Only
 * store.c and the backends include it; everything else speaks to store.h.
 *
 * Each backend defines struct store for itself with a pointer to its operations as the first
 * member, as SQLite's unixFile starts with its sqlite3_io_methods: store.c reads only that
 * pointer (a pointer to a structure is a pointer to its first member) and never looks further.
 * An operation has the meaning of the store.h function of the same name.
 */
#ifndef STORE_BACKEND_H
#define STORE_BACKEND_H

#include "store.h"

struct store_ops {
	const char *name; /* "sqlite" or "postgresql" */
	void (*close)(struct store *s);
	int (*version)(struct store *s);
	enum kg_err (*begin)(struct store *s);
	enum kg_err (*commit)(struct store *s);
	void (*rollback)(struct store *s);
	enum kg_err (*run_lock)(struct store *s, const char *what, bool shared);
	enum kg_err (*meta_get)(struct store *s, const char *key, long long def, long long *value);
	enum kg_err (*meta_set)(struct store *s, const char *key, long long value);
	enum kg_err (*put_resident)(struct store *s, const struct store_resident *r);
	enum kg_err (*count_residents)(struct store *s, long *n);
	enum kg_err (*each_candidate)(struct store *s, int after, int upto,
	                              enum kg_err (*fn)(void *ctx, const struct store_candidate *c), void *ctx);
	enum kg_err (*each_reinquiry_due)(struct store *s,
	                                  enum kg_err (*fn)(void *ctx, const struct store_reinquiry *r), void *ctx);
	enum kg_err (*batch_create)(struct store *s, int run_date, int64_t *batch);
	enum kg_err (*batch_set_state)(struct store *s, int64_t batch, enum store_batch_state st);
	enum kg_err (*batch_add_exclusion)(struct store *s, int64_t batch, const char *reason, long count);
	enum kg_err (*notices_expect)(struct store *s, long n); /* NULL: nothing to prepare */
	enum kg_err (*notice_add)(struct store *s, int64_t batch, const char *lgcode, const struct store_new_notice *n,
	                          char app_id[24]);
	enum kg_err (*notice_mark_reinquired)(struct store *s, int64_t notice);
	enum kg_err (*batches)(struct store *s, struct store_batch **out, size_t *n);
	enum kg_err (*batch_get)(struct store *s, int64_t batch, struct store_batch *out);
	enum kg_err (*batch_set_error)(struct store *s, int64_t batch, const char *error);
	enum kg_err (*batch_mark_printed)(struct store *s, int64_t batch);
	enum kg_err (*batch_plan)(struct store *s, int64_t batch, unsigned char **kinds, int *n);
	enum kg_err (*batch_count_no_jlis)(struct store *s, int64_t batch, long *n);
	enum kg_err (*batch_file_add)(struct store *s, int64_t batch, const struct store_file *f);
	enum kg_err (*batch_files)(struct store *s, int64_t batch, struct store_file **out, size_t *n);
	enum kg_err (*render_claim)(struct store *s, int64_t batch, const char *name, const char *holder, int lease);
	enum kg_err (*notice_ref)(struct store *s, const char *app_id, struct store_notice_ref *out);
	enum kg_err (*notice_move)(struct store *s, const struct store_notice_ref *n, enum store_notice_state to,
	                           const char *action, const char *by, const char *reason, bool *moved);
	enum kg_err (*batch_renumber)(struct store *s, int64_t batch);
	enum kg_err (*batch_set_stale)(struct store *s, int64_t batch, bool stale);
	enum kg_err (*each_held)(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_held *h), void *ctx);
	enum kg_err (*count_held)(struct store *s, long *held, long *released);
	enum kg_err (*batch_holds)(struct store *s, int64_t batch,
	                           enum kg_err (*fn)(void *ctx, const char *app_id, const char *by, const char *reason),
	                           void *ctx);
	enum kg_err (*each_released)(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_released *r),
	                             void *ctx);
	enum kg_err (*notice_requeue)(struct store *s, int64_t notice, int64_t batch, int seq,
	                              const char *const printed[4]);
	enum kg_err (*batch_exclusions)(struct store *s, int64_t batch,
	                                enum kg_err (*fn)(void *ctx, const char *reason, long count), void *ctx);
	enum kg_err (*batch_sets)(struct store *s, int64_t batch, int from, int to, struct mailset **out, size_t *n);
	enum kg_err (*notice_by_app_id)(struct store *s, const char *app_id, struct store_notice *out);
	enum kg_err (*notice_transition)(struct store *s, int64_t notice, enum store_notice_state from,
	                                 enum store_notice_state to, bool *moved);
	enum kg_err (*audit)(struct store *s, int64_t notice, const char *app_id, const char *terminal,
	                     const char *staff, const char *outcome, const char *detail);
	enum kg_err (*mailed_by_app_id)(struct store *s, const char *app_id, struct store_mailed *out);
	enum kg_err (*mailed_by_seq)(struct store *s, int batch, int seq, struct store_mailed *out);
	enum kg_err (*returned_add)(struct store *s, int64_t notice, const char *reason, const char *terminal,
	                            const char *staff, bool *added);
	enum kg_err (*returned_each)(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_returned *r),
	                             void *ctx);
	enum kg_err (*returned_count)(struct store *s, long *waiting, long *remailed);
	enum kg_err (*returned_at_address)(struct store *s, int64_t resident, bool *yes);
	enum kg_err (*each_remail_due)(struct store *s, int run_date,
	                               enum kg_err (*fn)(void *ctx, const struct store_remail *r), void *ctx);
	enum kg_err (*returned_remailed)(struct store *s, int64_t notice, const char *new_app_id);
	enum kg_err (*audit_since)(struct store *s, const char *terminal, const char *since,
	                           enum kg_err (*fn)(void *ctx, const struct store_audit_row *r), void *ctx);
};

enum kg_err store_sqlite_open(const char *path, struct store **out) KG_WUR;
enum kg_err store_pg_open(const char *conninfo, struct store **out) KG_WUR;

/* Shared by the backends, so both derive the same values from the same rows. */

/* The application ID of a new notice from its never-reused row id (see README). */
void store_make_app_id(const char *lgcode, const struct store_new_notice *n, int64_t id, char out[24]);
/* The local time as stored in created_at, updated_at and the audit: 2026-11-21T02:00:00+0900. */
void store_now_text(char out[32]);
/* v (NULL: SQL NULL) in COPY's text format: \N, or backslash, tab, CR and LF escaped. The import's
 * COPY and `kigen db copy` write it; the copy's digest of a table is taken over rows in this form. */
struct sbuf;
void store_copy_value(struct sbuf *b, const char *v);

#endif
