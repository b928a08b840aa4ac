/*
 * store_copy.c: moving an office over: a SQLite database copied into an empty PostgreSQL one
 * (store_copy in store.h). Part of the store, so it alone besides the backends speaks to both
 * client libraries.
 *
 * Both ends are opened with store_open first, so both have every migration (the same schema
 * version) and the target's name passes the password rule. Then, in one transaction on the
 * target, every SQLite table is streamed with COPY, column by column as SQLite names them, in
 * an order that satisfies the foreign keys; the counters PostgreSQL keeps beside the rows
 * (notice ids, file order, audit ids) are set as SQLite had them. After the commit each table
 * is read back from both ends and compared: the row count and a digest of the rows (the sum
 * of the SHA-256 of each row's text, so the order rows come in does not matter).
 */
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"
#include "store_backend.h"
#include "banned.h"

/* Parents before children; a table a later migration adds and this list does not name is
 * copied after these. */
static const char *const table_order[] = {"residents",        "cards",   "certificates",  "batches",     "batch_files",
                                          "batch_exclusions", "notices", "notice_events", "redemptions", "meta"};

struct digest {
	long long rows;
	uint64_t sum[4];
};

static void digest_row(struct digest *d, const struct sbuf *row)
{
	unsigned char h[32];
	unsigned int len = 0;
	EVP_Digest(row->buf, row->len, h, &len, EVP_sha256(), NULL);
	for (int i = 0; i < 4; i++) {
		uint64_t w = 0;
		for (int j = 0; j < 8; j++)
			w = w << 8 | h[i * 8 + j];
		d->sum[i] += w;
	}
	d->rows++;
}

struct copy {
	sqlite3 *lite;
	PGconn *pg;
	const char *from, *to;
	char **tables;
	size_t n_tables;
};

static enum kg_err lite_fail(struct copy *c, const char *what)
{
	return kg_fail(KG_EDB, "%s: %s: %s", c->from, what, sqlite3_errmsg(c->lite));
}

static enum kg_err pg_fail(struct copy *c, const char *what, PGresult *r)
{
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	return kg_fail(KG_EDB, "%s: %s: %s", c->to, what, msg ? msg : PQerrorMessage(c->pg));
}

static enum kg_err pg_exec(struct copy *c, const char *sql, const char *what)
{
	PGresult *r = PQexec(c->pg, sql);
	ExecStatusType st = PQresultStatus(r);
	enum kg_err err = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? KG_OK : pg_fail(c, what, r);
	PQclear(r);
	return err;
}

/* The SQLite tables in copy order: those table_order names first, in its order, then the rest. */
static enum kg_err list_tables(struct copy *c)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(c->lite,
	                       "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	                       " ORDER BY name",
	                       -1, &q, NULL))
		return lite_fail(c, "tables");
	char *names[256];
	size_t n = 0, alloc = 0;
	while (n < KG_ARRAY_SIZE(names) && sqlite3_step(q) == SQLITE_ROW)
		names[n++] = kg_strdup((const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	for (size_t k = 0; k < KG_ARRAY_SIZE(table_order); k++)
		for (size_t i = 0; i < n; i++)
			if (names[i] && !strcmp(names[i], table_order[k])) {
				KG_GROW(c->tables, c->n_tables + 1, alloc);
				c->tables[c->n_tables++] = names[i];
				names[i] = NULL;
			}
	for (size_t i = 0; i < n; i++)
		if (names[i]) {
			KG_GROW(c->tables, c->n_tables + 1, alloc);
			c->tables[c->n_tables++] = names[i];
		}
	return KG_OK;
}

/* "a, b, c" of a table's columns as SQLite has them; batch_files' order is its rowid. */
static enum kg_err columns(struct copy *c, const char *table, struct sbuf *cols, struct sbuf *select)
{
	sqlite3_stmt *q;
	struct sbuf sql = SBUF_INIT;
	sbuf_adds(&sql, "SELECT name FROM pragma_table_info(?1)");
	int rc = sqlite3_prepare_v2(c->lite, sql.buf, -1, &q, NULL);
	sbuf_release(&sql);
	if (rc)
		return lite_fail(c, table);
	sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
	for (int i = 0; sqlite3_step(q) == SQLITE_ROW; i++) {
		const char *name = (const char *)sqlite3_column_text(q, 0);
		sbuf_addf(cols, "%s\"%s\"", i ? ", " : "", name);
		sbuf_addf(select, "%s\"%s\"", i ? ", " : "", name);
	}
	sqlite3_finalize(q);
	if (!strcmp(table, "batch_files")) {
		sbuf_adds(cols, ", added");
		sbuf_adds(select, ", rowid");
	}
	return sbuf_check(cols);
}

/* Streams one table into the target and digests what was sent. */
static enum kg_err copy_table(struct copy *c, const char *table, struct digest *sent)
{
	struct sbuf cols = SBUF_INIT, select = SBUF_INIT, sql = SBUF_INIT, row = SBUF_INIT;
	sqlite3_stmt *q = NULL;
	enum kg_err err = columns(c, table, &cols, &select);
	if (err)
		goto out;
	sbuf_addf(&sql, "SELECT %s FROM \"%s\"", select.buf, table);
	if (sqlite3_prepare_v2(c->lite, sql.buf, -1, &q, NULL)) {
		err = lite_fail(c, table);
		goto out;
	}
	sbuf_reset(&sql);
	sbuf_addf(&sql, "COPY \"%s\" (%s) FROM STDIN", table, cols.buf);
	PGresult *r = PQexec(c->pg, sql.buf);
	err = PQresultStatus(r) == PGRES_COPY_IN ? KG_OK : pg_fail(c, table, r);
	PQclear(r);
	if (err)
		goto out;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		sbuf_reset(&row);
		for (int i = 0; i < sqlite3_column_count(q); i++) {
			if (i)
				sbuf_addc(&row, '\t');
			store_copy_value(&row, (const char *)sqlite3_column_text(q, i));
		}
		digest_row(sent, &row);
		sbuf_addc(&row, '\n');
		if (PQputCopyData(c->pg, row.buf, (int)row.len) != 1)
			break;
	}
	const char *fail = rc == SQLITE_DONE ? NULL : "reading the source failed";
	if (PQputCopyEnd(c->pg, fail) != 1)
		err = pg_fail(c, table, NULL);
	for (PGresult *res; (res = PQgetResult(c->pg));) {
		if (!err && PQresultStatus(res) != PGRES_COMMAND_OK)
			err = rc == SQLITE_DONE ? pg_fail(c, table, res) : lite_fail(c, table);
		PQclear(res);
	}
out:
	sqlite3_finalize(q);
	sbuf_release(&cols);
	sbuf_release(&select);
	sbuf_release(&sql);
	sbuf_release(&row);
	return err;
}

/* Digests what the target holds, the values as PostgreSQL gives them back as text. */
static enum kg_err digest_target(struct copy *c, const char *table, struct digest *got)
{
	struct sbuf cols = SBUF_INIT, select = SBUF_INIT, sql = SBUF_INIT, row = SBUF_INIT;
	enum kg_err err = columns(c, table, &cols, &select);
	if (!err) {
		sbuf_addf(&sql, "SELECT %s FROM \"%s\"", cols.buf, table);
		PGresult *r = PQexec(c->pg, sql.buf);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			err = pg_fail(c, table, r);
		for (int i = 0; !err && i < PQntuples(r); i++) {
			sbuf_reset(&row);
			for (int j = 0; j < PQnfields(r); j++) {
				if (j)
					sbuf_addc(&row, '\t');
				store_copy_value(&row, PQgetisnull(r, i, j) ? NULL : PQgetvalue(r, i, j));
			}
			digest_row(got, &row);
		}
		PQclear(r);
	}
	sbuf_release(&cols);
	sbuf_release(&select);
	sbuf_release(&sql);
	sbuf_release(&row);
	return err;
}

/* Refuses a target that holds anything of kigen's. */
static enum kg_err empty_target(struct copy *c)
{
	for (size_t i = 0; i < c->n_tables; i++) {
		struct sbuf sql = SBUF_INIT;
		sbuf_addf(&sql, "SELECT EXISTS (SELECT 1 FROM \"%s\")", c->tables[i]);
		PGresult *r = PQexec(c->pg, sql.buf);
		sbuf_release(&sql);
		enum kg_err err = PQresultStatus(r) == PGRES_TUPLES_OK ? KG_OK : pg_fail(c, c->tables[i], r);
		if (!err && !strcmp(PQgetvalue(r, 0, 0), "t"))
			err = kg_fail(KG_ESTATE,
			              "%s is not empty (table %s has rows): kigen db copy only fills a new database",
			              c->to, c->tables[i]);
		PQclear(r);
		if (err)
			return err;
	}
	return KG_OK;
}

/* The counters PostgreSQL keeps beside the rows, as SQLite had them. */
static const char counters_sql[] =
	"UPDATE notice_ids SET last = greatest(last, (SELECT coalesce(max(id), 0) FROM notices), $1::bigint);"
	"SELECT setval('batch_files_order', greatest((SELECT coalesce(max(added), 0) FROM batch_files), 1));"
	"SELECT setval(pg_get_serial_sequence('redemptions', 'id'),"
	"  greatest((SELECT coalesce(max(id), 0) FROM redemptions), 1));"
	"SELECT setval(pg_get_serial_sequence('notice_events', 'id'),"
	"  greatest((SELECT coalesce(max(id), 0) FROM notice_events), 1));";

static enum kg_err set_counters(struct copy *c)
{
	/* AUTOINCREMENT's high-water mark: ids of deleted notices are never given again. */
	long long seq = 0;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(c->lite, "SELECT seq FROM sqlite_sequence WHERE name = 'notices'", -1, &q, NULL) ==
	            SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		seq = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	char num[24];
	snprintf(num, sizeof num, "%lld", seq);
	const char *v[] = {num};
	/* Three statements with a parameter: the first alone takes it. */
	const char *first_end = strchr(counters_sql, ';');
	char first[256];
	snprintf(first, sizeof first, "%.*s", (int)(first_end - counters_sql), counters_sql);
	PGresult *r = PQexecParams(c->pg, first, 1, NULL, v, NULL, NULL, 0);
	enum kg_err err = PQresultStatus(r) == PGRES_COMMAND_OK ? KG_OK : pg_fail(c, "counters", r);
	PQclear(r);
	return err ? err : pg_exec(c, first_end + 1, "counters");
}

enum kg_err store_copy(const char *from, const char *to, store_copy_table_fn fn, void *ctx)
{
	if (store_is_server(from) || !store_is_server(to))
		return kg_fail(KG_EUSAGE, "db copy copies a SQLite file (--db) into a PostgreSQL database (--to)");
	struct store *a = NULL, *b = NULL;
	enum kg_err err;
	/* Both at the newest schema, the same version; the target's name passes the password rule. */
	if ((err = store_open(from, &a)) || (err = store_open(to, &b)))
		goto done;
	if (store_version(a) != store_version(b)) {
		err = kg_fail(KG_EDB, "schema versions differ: %s %d, %s %d", from, store_version(a), to,
		              store_version(b));
		goto done;
	}
done:
	store_close(a);
	store_close(b);
	if (err)
		return err;

	struct copy c = {.from = from, .to = to};
	static const char *const keys[] = {"dbname", "fallback_application_name", "client_encoding", NULL};
	const char *values[] = {to, "kigen", "UTF8", NULL};
	if (sqlite3_open_v2(from, &c.lite, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		err = lite_fail(&c, "open");
		goto out;
	}
	sqlite3_busy_timeout(c.lite, 10000);
	c.pg = PQconnectdbParams(keys, values, 1);
	if (PQstatus(c.pg) != CONNECTION_OK) {
		err = pg_fail(&c, "connect", NULL);
		goto out;
	}
	/* A snapshot of the source; the target's writer lock (store_pg.c's key) for the copy. */
	if ((err = list_tables(&c)) ||
	    (sqlite3_exec(c.lite, "BEGIN", NULL, NULL, NULL) && (err = lite_fail(&c, "begin"))) ||
	    (err = pg_exec(&c, "BEGIN; SELECT pg_advisory_xact_lock(x'6b6967656e01'::bigint)", "begin")) ||
	    (err = empty_target(&c)))
		goto out;
	struct digest *sent = kg_calloc(c.n_tables + 1, sizeof *sent);
	for (size_t i = 0; !err && i < c.n_tables; i++)
		err = copy_table(&c, c.tables[i], &sent[i]);
	if (!err && !(err = set_counters(&c)))
		err = pg_exec(&c, "COMMIT", "commit");
	/* Read back after the commit: what the target now holds, table by table. */
	for (size_t i = 0; !err && i < c.n_tables; i++) {
		struct digest got = {0};
		if ((err = digest_target(&c, c.tables[i], &got)))
			break;
		bool same = got.rows == sent[i].rows && !memcmp(got.sum, sent[i].sum, sizeof got.sum);
		char hex[72];
		snprintf(hex, sizeof hex, "%016llx%016llx%016llx%016llx", (unsigned long long)sent[i].sum[0],
		         (unsigned long long)sent[i].sum[1], (unsigned long long)sent[i].sum[2],
		         (unsigned long long)sent[i].sum[3]);
		if (fn)
			fn(ctx, c.tables[i], sent[i].rows, got.rows, hex, same);
		if (!same)
			err = kg_fail(KG_EDB, "%s: table %s differs after the copy (%lld rows sent, %lld there)", to,
			              c.tables[i], sent[i].rows, got.rows);
	}
	free(sent);
out:
	if (c.pg && PQtransactionStatus(c.pg) != PQTRANS_IDLE)
		PQclear(PQexec(c.pg, "ROLLBACK"));
	PQfinish(c.pg);
	sqlite3_close(c.lite);
	for (size_t i = 0; i < c.n_tables; i++)
		free(c.tables[i]);
	free(c.tables);
	return err;
}
