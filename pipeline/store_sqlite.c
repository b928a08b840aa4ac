/*
 * store_sqlite.c: SQLite behind store.h (through store_backend.h). Statements live in one table, prepared on first use and
 * kept for the life of the handle; every value goes through a bound parameter.
 */
#include "store_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rules.h"
#include "banned.h"

/* Numbered migrations: migration[i] takes the schema from version i to i + 1. Never edit one
 * that has shipped; add the next. */
static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE residents ("
	"  id INTEGER PRIMARY KEY,"
	"  registry_id TEXT NOT NULL UNIQUE,"
	"  name TEXT NOT NULL, kana TEXT NOT NULL,"
	"  birth INTEGER NOT NULL,"
	"  sex INTEGER NOT NULL CHECK (sex IN (1, 2, 9)),"
	"  postal_code TEXT NOT NULL,"
	"  addr_town TEXT NOT NULL, addr_block TEXT NOT NULL, addr_building TEXT NOT NULL,"
	"  nationality TEXT NOT NULL DEFAULT '',"
	"  stay_until INTEGER,"
	"  kyosho INTEGER NOT NULL DEFAULT 0,"
	"  status INTEGER NOT NULL CHECK (status IN (0, 1, 2)),"
	"  updated_at TEXT NOT NULL);"
	"CREATE TABLE cards ("
	"  id INTEGER PRIMARY KEY,"
	"  resident INTEGER NOT NULL UNIQUE REFERENCES residents(id) ON DELETE CASCADE,"
	"  issued_on INTEGER NOT NULL, received_on INTEGER, expires_on INTEGER NOT NULL,"
	"  status INTEGER NOT NULL CHECK (status IN (0, 1, 2)),"
	"  face_auth INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX cards_expiry ON cards(expires_on);"
	"CREATE TABLE certificates ("
	"  id INTEGER PRIMARY KEY,"
	"  card INTEGER NOT NULL REFERENCES cards(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('sign', 'auth')),"
	"  issued_on INTEGER NOT NULL, expires_on INTEGER NOT NULL,"
	"  status INTEGER NOT NULL CHECK (status IN (1, 2)),"
	"  serial TEXT NOT NULL DEFAULT '',"
	"  UNIQUE (card, kind));"
	"CREATE INDEX certificates_expiry ON certificates(expires_on);"
	"CREATE TABLE batches ("
	"  id INTEGER PRIMARY KEY,"
	"  run_date INTEGER NOT NULL,"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 4),"
	"  notices INTEGER NOT NULL DEFAULT 0,"
	"  created_at TEXT NOT NULL,"
	"  error TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE batch_files ("
	"  batch INTEGER NOT NULL REFERENCES batches(id),"
	"  name TEXT NOT NULL, doc INTEGER NOT NULL, pages INTEGER NOT NULL,"
	"  seq_from INTEGER NOT NULL, seq_to INTEGER NOT NULL,"
	"  PRIMARY KEY (batch, name));"
	"CREATE TABLE batch_exclusions ("
	"  batch INTEGER NOT NULL REFERENCES batches(id),"
	"  reason TEXT NOT NULL, count INTEGER NOT NULL,"
	"  PRIMARY KEY (batch, reason));"
	/* AUTOINCREMENT: a row id, and so an application ID, is never reused even after a delete. */
	"CREATE TABLE notices ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  app_id TEXT UNIQUE,"
	"  resident INTEGER NOT NULL REFERENCES residents(id),"
	"  kind INTEGER NOT NULL CHECK (kind IN (0, 1)),"
	"  target INTEGER NOT NULL CHECK (target IN (0, 1)),"
	"  certs INTEGER NOT NULL,"
	"  expiry INTEGER NOT NULL, valid_until INTEGER NOT NULL,"
	"  batch INTEGER NOT NULL REFERENCES batches(id),"
	"  seq INTEGER NOT NULL,"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 5),"
	"  parent INTEGER REFERENCES notices(id),"
	"  name TEXT NOT NULL, kana TEXT NOT NULL, postal_code TEXT NOT NULL,"
	"  addr_town TEXT NOT NULL, addr_block TEXT NOT NULL, addr_building TEXT NOT NULL,"
	"  birth INTEGER NOT NULL, foreign_resident INTEGER NOT NULL, has_sign_cert INTEGER NOT NULL,"
	"  created_at TEXT NOT NULL,"
	"  UNIQUE (batch, seq));"
	"CREATE UNIQUE INDEX notices_once ON notices(resident, target, expiry) WHERE kind = 0;"
	"CREATE INDEX notices_state ON notices(state) WHERE state = 3;"
	"CREATE TABLE redemptions ("
	"  id INTEGER PRIMARY KEY,"
	"  notice INTEGER REFERENCES notices(id),"
	"  app_id TEXT NOT NULL,"
	"  at TEXT NOT NULL, terminal TEXT NOT NULL, staff TEXT NOT NULL,"
	"  outcome TEXT NOT NULL, detail TEXT NOT NULL);"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TRIGGER redemptions_no_update BEFORE UPDATE ON redemptions"
	"  BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END;"
	"CREATE TRIGGER redemptions_no_delete BEFORE DELETE ON redemptions"
	"  BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END;",

	/* 2: holds. A held or released notice is in no batch (batch and seq NULL), so printed
	 * sets stay numbered 1..n; states 6 held, 7 released. SQLite cannot alter a CHECK or a NOT
	 * NULL, so the table is rebuilt (its AUTOINCREMENT counter carried over: IDs are never
	 * reused); migrate() runs this with foreign keys off and checks them before committing.
	 * notice_events is the append-only trail of holds, releases and voids. */
	"CREATE TABLE notices_v2 ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  app_id TEXT UNIQUE,"
	"  resident INTEGER NOT NULL REFERENCES residents(id),"
	"  kind INTEGER NOT NULL CHECK (kind IN (0, 1)),"
	"  target INTEGER NOT NULL CHECK (target IN (0, 1)),"
	"  certs INTEGER NOT NULL,"
	"  expiry INTEGER NOT NULL, valid_until INTEGER NOT NULL,"
	"  batch INTEGER REFERENCES batches(id),"
	"  seq INTEGER,"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 7),"
	"  parent INTEGER REFERENCES notices(id),"
	"  name TEXT NOT NULL, kana TEXT NOT NULL, postal_code TEXT NOT NULL,"
	"  addr_town TEXT NOT NULL, addr_block TEXT NOT NULL, addr_building TEXT NOT NULL,"
	"  birth INTEGER NOT NULL, foreign_resident INTEGER NOT NULL, has_sign_cert INTEGER NOT NULL,"
	"  created_at TEXT NOT NULL,"
	"  UNIQUE (batch, seq),"
	"  CHECK ((batch IS NULL) = (seq IS NULL)),"
	"  CHECK (state NOT IN (6, 7) OR batch IS NULL));"
	"INSERT INTO notices_v2 SELECT * FROM notices;"
	"DELETE FROM sqlite_sequence WHERE name = 'notices_v2';"
	"INSERT INTO sqlite_sequence (name, seq) SELECT 'notices_v2', seq FROM sqlite_sequence WHERE name = 'notices';"
	"DROP TABLE notices;"
	"ALTER TABLE notices_v2 RENAME TO notices;"
	"CREATE UNIQUE INDEX notices_once ON notices(resident, target, expiry) WHERE kind = 0;"
	"CREATE INDEX notices_state ON notices(state) WHERE state = 3;"
	"CREATE INDEX notices_waiting ON notices(state) WHERE state IN (6, 7);"
	"CREATE TABLE notice_events ("
	"  id INTEGER PRIMARY KEY,"
	"  notice INTEGER NOT NULL REFERENCES notices(id),"
	"  app_id TEXT NOT NULL,"
	"  at TEXT NOT NULL,"
	"  action TEXT NOT NULL CHECK (action IN ('hold', 'release', 'void', 'requeue')),"
	"  batch INTEGER,"
	"  by TEXT NOT NULL, reason TEXT NOT NULL);"
	"ALTER TABLE batches ADD COLUMN stale_files INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX notice_events_notice ON notice_events(notice);"
	"CREATE INDEX notice_events_batch ON notice_events(batch) WHERE batch IS NOT NULL;"
	"CREATE TRIGGER notice_events_no_update BEFORE UPDATE ON notice_events"
	"  BEGIN SELECT RAISE(ABORT, 'the notice events are append-only'); END;"
	"CREATE TRIGGER notice_events_no_delete BEFORE DELETE ON notice_events"
	"  BEGIN SELECT RAISE(ABORT, 'the notice events are append-only'); END;",
	/* 3: J-LIS's 申請書ID of a resident's next card (the registry's jlis_application_id), and on
	 * each notice, as printed, that ID and whether its signature certificate was revoked (so
	 * the form does not say it was never issued). */
	"ALTER TABLE residents ADD COLUMN jlis_app_id TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE notices ADD COLUMN jlis_app_id TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE notices ADD COLUMN sign_revoked INTEGER NOT NULL DEFAULT 0;",
	/* 4: returned mail (返戻): one row per notice whose mailing came back; remailed is the notice
	 * sent once the registry showed a new address. A re-mail of a notice is a kind-0 notice
	 * with a parent, so the once-per-expiry rule counts only first notices. */
	"CREATE TABLE returned_mail ("
	"  notice INTEGER PRIMARY KEY REFERENCES notices(id),"
	"  reason TEXT NOT NULL, at TEXT NOT NULL, terminal TEXT NOT NULL, staff TEXT NOT NULL,"
	"  remailed INTEGER REFERENCES notices(id));"
	"DROP INDEX notices_once;"
	"CREATE UNIQUE INDEX notices_once ON notices(resident, target, expiry) WHERE kind = 0 AND parent IS NULL;",
	/* 5: the expiry indexes hold the card each entry belongs to (store_pg.c's migration 5), so the
	 * selection reads its window from the index alone. cards(expires_on) had its rowid, the card's
	 * id, already; a certificate's card had to be read from the table. */
	"DROP INDEX cards_expiry;"
	"CREATE INDEX cards_expiry ON cards(expires_on, id);"
	"DROP INDEX certificates_expiry;"
	"CREATE INDEX certificates_expiry ON certificates(expires_on, card);",
};

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_RESIDENT_PUT,
	ST_CARD_PUT,
	ST_CARD_DEL,
	ST_CERT_PUT,
	ST_CERT_DEL,
	ST_RESIDENT_COUNT,
	ST_CANDIDATES,
	ST_REINQUIRY_DUE,
	ST_BATCH_NEW,
	ST_BATCH_STATE,
	ST_BATCH_EXCL,
	ST_BATCH_COUNT,
	ST_NOTICE_ADD,
	ST_NOTICE_APPID,
	ST_NOTICE_REINQUIRED,
	ST_BATCHES,
	ST_BATCH_GET,
	ST_BATCH_EXCLUSIONS,
	ST_SETS,
	ST_NOTICE_BY_APPID,
	ST_NOTICE_MOVE,
	ST_AUDIT,
	ST_META_GET,
	ST_META_SET,
	ST_BATCH_ERROR,
	ST_BATCH_PRINTED,
	ST_BATCH_PLAN,
	ST_BATCH_NO_JLIS,
	ST_FILE_PUT,
	ST_FILES,
	ST_NOTICE_REF,
	ST_NOTICE_MOVE_OUT,
	ST_NOTICE_EVENT,
	ST_RENUMBER_OUT,
	ST_RENUMBER_IN,
	ST_BATCH_RECOUNT,
	ST_FILES_CLEAR,
	ST_BATCH_STALE,
	ST_HELD,
	ST_HELD_COUNT,
	ST_BATCH_HOLDS,
	ST_RELEASED,
	ST_REQUEUE,
	ST_COUNT
};

/* The address a notice was mailed to against the registry's now: the snapshot in notices
 * (postal code, 町域, 番地・号, 方書) equal to the resident's. */
#define SAME_ADDRESS                                                                                   \
	"(r.postal_code = n.postal_code AND r.addr_town = n.addr_town AND r.addr_block = n.addr_block" \
	" AND r.addr_building = n.addr_building)"

/* Of candidate r with card c and certificates a, g: is there a first notice for each expiry (a
 * re-mail has a parent with the same expiry, so the once-per-expiry index answers it), and did
 * mail come back from the address r has now (store_returned_at_address)? */
#define NOTICED(target, expiry)                                                                        \
	"(EXISTS (SELECT 1 FROM notices n WHERE n.resident = r.id AND n.kind = 0 AND n.parent IS NULL" \
	" AND n.target = " target " AND n.expiry = " expiry ")), "
#define RETURNED_HERE                                                                        \
	"(r.id IN (SELECT n.resident FROM returned_mail m JOIN notices n ON n.id = m.notice" \
	" JOIN residents r ON r.id = n.resident WHERE m.remailed IS NULL AND " SAME_ADDRESS "))"
#define CANDIDATE_FLAGS \
	NOTICED("0", "c.expires_on") NOTICED("1", "a.expires_on") NOTICED("1", "g.expires_on") RETURNED_HERE

static const char *const sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_RESIDENT_PUT] =
		"INSERT INTO residents (registry_id, name, kana, birth, sex, postal_code, addr_town, addr_block,"
		" addr_building, nationality, stay_until, kyosho, status, updated_at, jlis_app_id)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
		" ON CONFLICT (registry_id) DO UPDATE SET name = ?2, kana = ?3, birth = ?4, sex = ?5,"
		" postal_code = ?6, addr_town = ?7, addr_block = ?8, addr_building = ?9, nationality = ?10,"
		" stay_until = ?11, kyosho = ?12, status = ?13, jlis_app_id = ?15,"
		/* updated_at: when kigen last saw the row change, as on PostgreSQL (store_pg.c) */
		" updated_at = CASE WHEN (name, kana, birth, sex, postal_code, addr_town, addr_block, addr_building,"
		" nationality, stay_until, kyosho, status, jlis_app_id)"
		" IS NOT (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?15) THEN ?14 ELSE updated_at END"
		" RETURNING id",
	[ST_CARD_PUT] = "INSERT INTO cards (resident, issued_on, received_on, expires_on, status, face_auth)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
			" ON CONFLICT (resident) DO UPDATE SET issued_on = ?2, received_on = ?3, expires_on = ?4,"
			" status = ?5, face_auth = ?6 RETURNING id",
	[ST_CARD_DEL] = "DELETE FROM cards WHERE resident = ?1",
	[ST_CERT_PUT] =
		"INSERT INTO certificates (card, kind, issued_on, expires_on, status, serial)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
		" ON CONFLICT (card, kind) DO UPDATE SET issued_on = ?3, expires_on = ?4, status = ?5, serial = ?6",
	[ST_CERT_DEL] = "DELETE FROM certificates WHERE card = ?1 AND kind = ?2",
	[ST_RESIDENT_COUNT] = "SELECT count(*) FROM residents",
	[ST_CANDIDATES] =
		"SELECT r.id, r.postal_code, r.name, r.status, r.kyosho, r.nationality <> '', r.stay_until,"
		" c.status, c.expires_on, a.status, a.expires_on, g.status, g.expires_on,"
		" r.addr_town, r.addr_block, r.addr_building, r.kana, r.birth, " CANDIDATE_FLAGS
		" FROM (SELECT id FROM cards WHERE expires_on > ?1 AND expires_on <= ?2"
		"       UNION SELECT card FROM certificates WHERE expires_on > ?1 AND expires_on <= ?2) AS hit"
		" JOIN cards c ON c.id = hit.id"
		" JOIN residents r ON r.id = c.resident"
		" LEFT JOIN certificates a ON a.card = c.id AND a.kind = 'auth'"
		" LEFT JOIN certificates g ON g.card = c.id AND g.kind = 'sign'",
	[ST_REINQUIRY_DUE] = "SELECT n.id, n.resident, n.expiry, n.certs, r.postal_code, r.status"
			     " FROM notices n JOIN residents r ON r.id = n.resident WHERE n.state = 3 ORDER BY n.id",
	[ST_BATCH_NEW] = "INSERT INTO batches (run_date, state, created_at) VALUES (?1, 0, ?2)",
	[ST_BATCH_STATE] = "UPDATE batches SET state = ?2 WHERE id = ?1",
	[ST_BATCH_EXCL] = "INSERT INTO batch_exclusions (batch, reason, count) VALUES (?1, ?2, ?3)"
			  " ON CONFLICT (batch, reason) DO UPDATE SET count = count + ?3",
	[ST_BATCH_COUNT] = "UPDATE batches SET notices = notices + 1 WHERE id = ?1",
	[ST_NOTICE_ADD] =
		"INSERT INTO notices (resident, kind, target, certs, expiry, valid_until, batch, seq, state, parent,"
		" name, kana, postal_code, addr_town, addr_block, addr_building, birth, foreign_resident,"
		" has_sign_cert, created_at, jlis_app_id, sign_revoked)"
		" SELECT r.id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?15, ?9, coalesce(?10, r.name), r.kana, r.postal_code,"
		" coalesce(?12, r.addr_town), coalesce(?13, r.addr_block), coalesce(?14, r.addr_building),"
		" r.birth, r.nationality <> '',"
		" EXISTS (SELECT 1 FROM cards c JOIN certificates g ON g.card = c.id AND g.kind = 'sign'"
		"         WHERE c.resident = r.id AND g.status = 1), ?11,"
		" CASE WHEN ?3 = 0 THEN r.jlis_app_id ELSE '' END,"
		" EXISTS (SELECT 1 FROM cards c JOIN certificates g ON g.card = c.id AND g.kind = 'sign'"
		"         WHERE c.resident = r.id AND g.status = 2)"
		" FROM residents r WHERE r.id = ?1",
	[ST_NOTICE_APPID] = "UPDATE notices SET app_id = ?2 WHERE id = ?1",
	[ST_NOTICE_REINQUIRED] = "UPDATE notices SET state = 4 WHERE id = ?1 AND state = 3",
	[ST_BATCHES] =
		"SELECT id, run_date, state, notices, created_at, error, stale_files FROM batches ORDER BY id DESC",
	[ST_BATCH_GET] =
		"SELECT id, run_date, state, notices, created_at, error, stale_files FROM batches WHERE id = ?1",
	[ST_BATCH_EXCLUSIONS] = "SELECT reason, count FROM batch_exclusions WHERE batch = ?1 ORDER BY reason",
	[ST_SETS] = "SELECT n.seq, n.batch, b.run_date, n.app_id, r.registry_id, n.name, n.kana, n.postal_code,"
		    " n.addr_town, n.addr_block, n.addr_building, n.kind, n.target, n.certs, n.valid_until, n.birth,"
		    " n.foreign_resident, n.has_sign_cert, n.jlis_app_id, n.sign_revoked"
		    " FROM notices n JOIN batches b ON b.id = n.batch JOIN residents r ON r.id = n.resident"
		    " WHERE n.batch = ?1 AND n.seq BETWEEN ?2 AND ?3 ORDER BY n.seq",
	[ST_NOTICE_BY_APPID] =
		"SELECT n.id, n.resident, n.app_id, n.kind, n.target, n.certs, n.expiry, n.valid_until, n.state,"
		" n.name, coalesce(a.serial, ''), coalesce(a.expires_on, -1000000), n.has_sign_cert"
		" FROM notices n LEFT JOIN cards c ON c.resident = n.resident"
		" LEFT JOIN certificates a ON a.card = c.id AND a.kind = 'auth'"
		" WHERE n.app_id = ?1",
	[ST_NOTICE_MOVE] = "UPDATE notices SET state = ?3 WHERE id = ?1 AND state = ?2",
	[ST_BATCH_ERROR] = "UPDATE batches SET error = ?2 WHERE id = ?1",
	[ST_BATCH_PRINTED] = "UPDATE notices SET state = 1 WHERE batch = ?1 AND state = 0",
	[ST_BATCH_PLAN] = "SELECT seq, kind, target FROM notices WHERE batch = ?1 ORDER BY seq",
	[ST_BATCH_NO_JLIS] =
		"SELECT count(*) FROM notices WHERE batch = ?1 AND kind = 0 AND target = 0 AND jlis_app_id = ''",
	[ST_FILE_PUT] = "INSERT OR REPLACE INTO batch_files (batch, name, doc, pages, seq_from, seq_to)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_FILES] = "SELECT name, doc, pages, seq_from, seq_to FROM batch_files WHERE batch = ?1 ORDER BY rowid",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
	[ST_AUDIT] = "INSERT INTO redemptions (notice, app_id, at, terminal, staff, outcome, detail)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/* holds */
	[ST_NOTICE_REF] = "SELECT n.id, n.app_id, n.state, coalesce(n.batch, 0), coalesce(b.state, -1)"
			  " FROM notices n LEFT JOIN batches b ON b.id = n.batch WHERE n.app_id = ?1",
	/* A notice leaving QUEUED (not yet handed to the print shop) leaves its batch too. */
	[ST_NOTICE_MOVE_OUT] = "UPDATE notices SET state = ?3,"
			       " batch = CASE WHEN ?2 = 0 THEN NULL ELSE batch END,"
			       " seq = CASE WHEN ?2 = 0 THEN NULL ELSE seq END"
			       " WHERE id = ?1 AND state = ?2",
	[ST_NOTICE_EVENT] = "INSERT INTO notice_events (notice, app_id, at, action, batch, by, reason)"
			    " VALUES (?1, (SELECT app_id FROM notices WHERE id = ?1), ?2, ?3, ?4, ?5, ?6)",
	/* Renumbering in two steps, so no two rows ever share a (batch, seq) on the way. */
	[ST_RENUMBER_OUT] = "UPDATE notices SET seq = -seq WHERE batch = ?1",
	[ST_RENUMBER_IN] = "UPDATE notices SET seq = o.rn FROM (SELECT id, row_number() OVER (ORDER BY seq DESC) AS rn"
			   " FROM notices WHERE batch = ?1) AS o WHERE notices.id = o.id",
	[ST_BATCH_RECOUNT] =
		"UPDATE batches SET notices = (SELECT count(*) FROM notices WHERE batch = ?1) WHERE id = ?1",
	[ST_FILES_CLEAR] = "DELETE FROM batch_files WHERE batch = ?1",
	[ST_BATCH_STALE] = "UPDATE batches SET stale_files = ?2 WHERE id = ?1",
	[ST_HELD] = "SELECT n.id, n.app_id, n.state, r.registry_id, n.name, e.at, e.by, e.reason, coalesce(e.batch, 0)"
		    " FROM notices n JOIN residents r ON r.id = n.resident"
		    " LEFT JOIN notice_events e ON e.id = (SELECT max(id) FROM notice_events WHERE notice = n.id)"
		    " WHERE n.state IN (6, 7) ORDER BY n.id",
	[ST_HELD_COUNT] = "SELECT count(*) FILTER (WHERE state = 6), count(*) FILTER (WHERE state = 7)"
			  " FROM notices WHERE state IN (6, 7)",
	[ST_BATCH_HOLDS] =
		"SELECT app_id, by, reason FROM notice_events WHERE batch = ?1 AND action IN ('hold', 'void')"
		" ORDER BY id",
	[ST_RELEASED] = "SELECT n.id, n.resident, n.app_id, n.kind, n.target, n.certs, n.expiry, n.valid_until,"
			" r.status, r.kyosho, r.nationality <> '', r.birth, r.postal_code, r.kana,"
			" r.name, r.addr_town, r.addr_block, r.addr_building,"
			" EXISTS (SELECT 1 FROM cards c JOIN certificates g ON g.card = c.id AND g.kind = 'sign'"
			"         WHERE c.resident = r.id AND g.status = 1)"
			" FROM notices n JOIN residents r ON r.id = n.resident WHERE n.state = 7 ORDER BY n.id",
	/* The snapshot as ST_NOTICE_ADD takes it, from the registry as it is now. */
	[ST_REQUEUE] = "UPDATE notices SET batch = ?2, seq = ?3, state = 0,"
		       " name = coalesce(?4, r.name), kana = r.kana, postal_code = r.postal_code,"
		       " addr_town = coalesce(?5, r.addr_town), addr_block = coalesce(?6, r.addr_block),"
		       " addr_building = coalesce(?7, r.addr_building), birth = r.birth,"
		       " foreign_resident = r.nationality <> '',"
		       " has_sign_cert = EXISTS (SELECT 1 FROM cards c JOIN certificates g ON g.card = c.id"
		       "   AND g.kind = 'sign' WHERE c.resident = r.id AND g.status = 1),"
		       " jlis_app_id = CASE WHEN notices.target = 0 THEN r.jlis_app_id ELSE '' END,"
		       " sign_revoked = EXISTS (SELECT 1 FROM cards c JOIN certificates g ON g.card = c.id"
		       "   AND g.kind = 'sign' WHERE c.resident = r.id AND g.status = 2)"
		       " FROM residents r WHERE r.id = notices.resident AND notices.id = ?1 AND notices.state = 7",
};

static const struct store_ops sqlite_ops;

struct store {
	const struct store_ops *ops; /* first: store.c reads it */
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_COUNT];
};

static void sq_close(struct store *s);
static int sq_version(struct store *s);

static enum kg_err db_fail(struct store *s, const char *what)
{
	return kg_fail(KG_EDB, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* The prepared statement id, reset and unbound, ready for new parameters. */
static sqlite3_stmt *stmt(struct store *s, enum stmt_id id)
{
	if (!s->st[id] && sqlite3_prepare_v3(s->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL))
		return NULL;
	sqlite3_reset(s->st[id]);
	sqlite3_clear_bindings(s->st[id]);
	return s->st[id];
}

static void bind_date(sqlite3_stmt *q, int i, int day)
{
	if (day == RULES_NO_DATE)
		sqlite3_bind_null(q, i);
	else
		sqlite3_bind_int(q, i, day);
}

static int column_date(sqlite3_stmt *q, int i)
{
	return sqlite3_column_type(q, i) == SQLITE_NULL ? RULES_NO_DATE : sqlite3_column_int(q, i);
}

static void bind_text(sqlite3_stmt *q, int i, const char *t)
{
	if (t)
		sqlite3_bind_text(q, i, t, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, i);
}

static const char *column_text(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);
	return t ? (const char *)t : "";
}

/* Runs a statement that returns no rows (or whose rows are ignored). */
static enum kg_err step_done(struct store *s, sqlite3_stmt *q, const char *what)
{
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		;
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? KG_OK : db_fail(s, what);
}

/* Ends a statement that finds one row, stepped once with rc (its row read): KG_ENOTFOUND, "no
 * <noun> <key>", when there was none. */
static enum kg_err row_end(struct store *s, sqlite3_stmt *q, int rc, const char *noun, const char *key)
{
	sqlite3_reset(q);
	if (rc == SQLITE_DONE)
		return kg_fail(KG_ENOTFOUND, "no %s %s", noun, key);
	return rc == SQLITE_ROW ? KG_OK : db_fail(s, noun);
}

static enum kg_err exec(struct store *s, const char *text)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, text, NULL, NULL, &msg) == SQLITE_OK)
		return KG_OK;
	enum kg_err err = kg_fail(KG_EDB, "%s: %s", s->path, msg ? msg : "failed");
	sqlite3_free(msg);
	return err;
}

/* Fails if a row breaks a foreign key (migrations run with the checks off). */
static enum kg_err foreign_keys_ok(struct store *s)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(s->db, "PRAGMA foreign_key_check", -1, &q, NULL) != SQLITE_OK)
		return db_fail(s, "foreign key check");
	int rc = sqlite3_step(q);
	char table[64] = "";
	if (rc == SQLITE_ROW)
		snprintf(table, sizeof table, "%s", column_text(q, 0));
	sqlite3_finalize(q);
	if (rc == SQLITE_ROW)
		return kg_fail(KG_EDB, "%s: migration breaks a foreign key of %s", s->path, table);
	return rc == SQLITE_DONE ? KG_OK : db_fail(s, "foreign key check");
}

/* Runs outside a transaction with foreign keys off: a migration that rebuilds a table (SQLite's
 * way to change a constraint) must drop the old one, which other tables reference. Each
 * migration checks every foreign key before it commits. */
static enum kg_err migrate(struct store *s)
{
	int version = sq_version(s);
	if (version > (int)KG_ARRAY_SIZE(migrations))
		return kg_fail(KG_EDB, "%s: schema version %d is newer than this kigen (%zu)", s->path, version,
		               KG_ARRAY_SIZE(migrations));
	for (int v = version; v < (int)KG_ARRAY_SIZE(migrations); v++) {
		char pragma[64];
		/* A PRAGMA takes no bound parameters; the value is our own loop counter, never input. */
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
		enum kg_err err;
		if ((err = exec(s, "BEGIN IMMEDIATE")))
			return err;
		if ((err = exec(s, migrations[v])) || (err = foreign_keys_ok(s)) || (err = exec(s, pragma)) ||
		    (err = exec(s, "COMMIT"))) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return err;
		}
	}
	return KG_OK;
}

enum kg_err store_sqlite_open(const char *path, struct store **out)
{
	/* Create the file owner-only before SQLite opens it; WAL and journal files inherit the mode. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
	close(fd);

	struct store *s = kg_calloc(1, sizeof *s);
	s->ops = &sqlite_ops;
	s->path = kg_strdup(path);
	enum kg_err err = KG_OK;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		err = db_fail(s, "open");
		goto out;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if ((err = exec(s, "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = OFF; PRAGMA synchronous = NORMAL;")) ||
	    (err = migrate(s)) || (err = exec(s, "PRAGMA foreign_keys = ON;")))
		goto out;
out:
	if (err) {
		sq_close(s);
		return err;
	}
	*out = s;
	return KG_OK;
}

static void sq_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

static int sq_version(struct store *s)
{
	sqlite3_stmt *q;
	int v = 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return v;
}

static enum kg_err sq_begin(struct store *s)
{
	sqlite3_stmt *q = stmt(s, ST_BEGIN);
	if (!q)
		return db_fail(s, "begin");
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc == SQLITE_BUSY)
		return kg_fail(KG_ELOCKED, "%s: the database is busy with another run", s->path);
	return rc == SQLITE_DONE ? KG_OK : db_fail(s, "begin");
}

static enum kg_err sq_commit(struct store *s)
{
	sqlite3_stmt *q = stmt(s, ST_COMMIT);
	return q ? step_done(s, q, "commit") : db_fail(s, "commit");
}

static void sq_rollback(struct store *s)
{
	if (sqlite3_get_autocommit(s->db))
		return;
	sqlite3_stmt *q = stmt(s, ST_ROLLBACK);
	if (q)
		(void)step_done(s, q, "rollback");
}

/* --- residents ---------------------------------------------------------------------------- */

static enum kg_err put_cert(struct store *s, int64_t card, const char *kind, const struct store_cert *c)
{
	sqlite3_stmt *q;
	if (c->status == STORE_CERT_NONE) {
		if (!(q = stmt(s, ST_CERT_DEL)))
			return db_fail(s, "certificate");
		sqlite3_bind_int64(q, 1, card);
		sqlite3_bind_text(q, 2, kind, -1, SQLITE_STATIC);
		return step_done(s, q, "certificate");
	}
	if (!(q = stmt(s, ST_CERT_PUT)))
		return db_fail(s, "certificate");
	sqlite3_bind_int64(q, 1, card);
	sqlite3_bind_text(q, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, c->issued_on);
	sqlite3_bind_int(q, 4, c->expires_on);
	sqlite3_bind_int(q, 5, c->status);
	bind_text(q, 6, c->serial ? c->serial : "");
	return step_done(s, q, "certificate");
}

static enum kg_err sq_put_resident(struct store *s, const struct store_resident *r)
{
	char now[32];
	store_now_text(now);
	sqlite3_stmt *q = stmt(s, ST_RESIDENT_PUT);
	if (!q)
		return db_fail(s, "resident");
	bind_text(q, 1, r->registry_id);
	bind_text(q, 2, r->name);
	bind_text(q, 3, r->kana);
	sqlite3_bind_int(q, 4, r->birth);
	sqlite3_bind_int(q, 5, r->sex);
	bind_text(q, 6, r->postal_code);
	bind_text(q, 7, r->addr_town);
	bind_text(q, 8, r->addr_block);
	bind_text(q, 9, r->addr_building);
	bind_text(q, 10, r->nationality ? r->nationality : "");
	bind_date(q, 11, r->stay_until);
	sqlite3_bind_int(q, 12, r->kyosho);
	sqlite3_bind_int(q, 13, r->status);
	bind_text(q, 14, now);
	bind_text(q, 15, r->jlis_app_id ? r->jlis_app_id : "");
	if (sqlite3_step(q) != SQLITE_ROW)
		return db_fail(s, "resident");
	int64_t id = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);

	if (!r->has_card) {
		if (!(q = stmt(s, ST_CARD_DEL)))
			return db_fail(s, "card");
		sqlite3_bind_int64(q, 1, id);
		return step_done(s, q, "card");
	}
	if (!(q = stmt(s, ST_CARD_PUT)))
		return db_fail(s, "card");
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int(q, 2, r->card_issued);
	bind_date(q, 3, r->card_received);
	sqlite3_bind_int(q, 4, r->card_expires);
	sqlite3_bind_int(q, 5, r->card_status);
	sqlite3_bind_int(q, 6, r->face_auth);
	if (sqlite3_step(q) != SQLITE_ROW)
		return db_fail(s, "card");
	int64_t card = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);

	enum kg_err err = put_cert(s, card, "auth", &r->auth);
	return err ? err : put_cert(s, card, "sign", &r->sign);
}

static enum kg_err sq_count_residents(struct store *s, long *n)
{
	sqlite3_stmt *q = stmt(s, ST_RESIDENT_COUNT);
	if (!q || sqlite3_step(q) != SQLITE_ROW)
		return db_fail(s, "count");
	*n = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return KG_OK;
}

/* --- selection ---------------------------------------------------------------------------- */

static int cert_status_at(sqlite3_stmt *q, int i)
{
	return sqlite3_column_type(q, i) == SQLITE_NULL ? STORE_CERT_NONE : sqlite3_column_int(q, i);
}

static enum kg_err sq_each_candidate(struct store *s, int after, int upto,
                                     enum kg_err (*fn)(void *ctx, const struct store_candidate *c), void *ctx)
{
	sqlite3_stmt *q = stmt(s, ST_CANDIDATES);
	if (!q)
		return db_fail(s, "candidates");
	sqlite3_bind_int(q, 1, after);
	sqlite3_bind_int(q, 2, upto);
	int rc;
	enum kg_err err = KG_OK;
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_candidate c = {
			.resident = sqlite3_column_int64(q, 0),
			.postal_code = column_text(q, 1),
			.printed = {column_text(q, 2), column_text(q, 13), column_text(q, 14), column_text(q, 15)},
			.status = sqlite3_column_int(q, 3),
			.kyosho = sqlite3_column_int(q, 4),
			.foreign = sqlite3_column_int(q, 5),
			.stay_until = column_date(q, 6),
			.card_status = sqlite3_column_int(q, 7),
			.card_expires = sqlite3_column_int(q, 8),
			.auth_status = cert_status_at(q, 9),
			.auth_expires = column_date(q, 10),
			.sign_status = cert_status_at(q, 11),
			.sign_expires = column_date(q, 12),
			.kana = column_text(q, 16),
			.birth = sqlite3_column_int(q, 17),
			.noticed_card = sqlite3_column_int(q, 18),
			.noticed_auth = sqlite3_column_int(q, 19),
			.noticed_sign = sqlite3_column_int(q, 20),
			.returned = sqlite3_column_int(q, 21),
		};
		err = fn(ctx, &c);
	}
	if (!err && rc != SQLITE_DONE)
		err = db_fail(s, "candidates");
	sqlite3_reset(q);
	return err;
}

static enum kg_err sq_each_reinquiry_due(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_reinquiry *r),
                                         void *ctx)
{
	sqlite3_stmt *q = stmt(s, ST_REINQUIRY_DUE);
	if (!q)
		return db_fail(s, "re-inquiries");
	/* Collect first: fn inserts notices, which must not run while this cursor is open on the same table. */
	struct store_reinquiry *list = NULL;
	size_t n = 0, alloc = 0;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		KG_GROW(list, n + 1, alloc);
		struct store_reinquiry *r = &list[n++];
		*r = (struct store_reinquiry){sqlite3_column_int64(q, 0),
		                              sqlite3_column_int64(q, 1),
		                              sqlite3_column_int(q, 2),
		                              sqlite3_column_int(q, 3),
		                              "",
		                              sqlite3_column_int(q, 5)};
		snprintf(r->postal_code, sizeof r->postal_code, "%s", column_text(q, 4));
	}
	sqlite3_reset(q);
	enum kg_err err = rc == SQLITE_DONE ? KG_OK : db_fail(s, "re-inquiries");
	for (size_t i = 0; !err && i < n; i++)
		err = fn(ctx, &list[i]);
	free(list);
	return err;
}

/* --- batches and notices ------------------------------------------------------------------- */

static enum kg_err sq_batch_create(struct store *s, int run_date, int64_t *batch)
{
	char now[32];
	store_now_text(now);
	sqlite3_stmt *q = stmt(s, ST_BATCH_NEW);
	if (!q)
		return db_fail(s, "batch");
	sqlite3_bind_int(q, 1, run_date);
	bind_text(q, 2, now);
	enum kg_err err = step_done(s, q, "batch");
	if (!err)
		*batch = sqlite3_last_insert_rowid(s->db);
	return err;
}

static enum kg_err sq_batch_set_state(struct store *s, int64_t batch, enum store_batch_state st)
{
	sqlite3_stmt *q = stmt(s, ST_BATCH_STATE);
	if (!q)
		return db_fail(s, "batch state");
	sqlite3_bind_int64(q, 1, batch);
	sqlite3_bind_int(q, 2, st);
	return step_done(s, q, "batch state");
}

static enum kg_err sq_batch_add_exclusion(struct store *s, int64_t batch, const char *reason, long count)
{
	sqlite3_stmt *q = stmt(s, ST_BATCH_EXCL);
	if (!q)
		return db_fail(s, "exclusions");
	sqlite3_bind_int64(q, 1, batch);
	bind_text(q, 2, reason);
	sqlite3_bind_int64(q, 3, count);
	return step_done(s, q, "exclusions");
}

static enum kg_err add_event(struct store *s, int64_t notice, const char *action, int64_t batch, const char *by,
                             const char *reason);

static enum kg_err sq_notice_add(struct store *s, int64_t batch, const char *lgcode, const struct store_new_notice *n,
                                 char app_id[24])
{
	char now[32];
	store_now_text(now);
	sqlite3_stmt *q = stmt(s, ST_NOTICE_ADD);
	if (!q)
		return db_fail(s, "notice");
	sqlite3_bind_int64(q, 1, n->resident);
	sqlite3_bind_int(q, 2, n->kind);
	sqlite3_bind_int(q, 3, n->target);
	sqlite3_bind_int(q, 4, n->certs);
	sqlite3_bind_int(q, 5, n->expiry);
	sqlite3_bind_int(q, 6, n->valid_until);
	if (!n->hold_reason) {
		sqlite3_bind_int64(q, 7, batch);
		sqlite3_bind_int(q, 8, n->seq);
	}
	sqlite3_bind_int(q, 15, n->hold_reason ? STORE_HELD : STORE_QUEUED);
	if (n->parent)
		sqlite3_bind_int64(q, 9, n->parent);
	bind_text(q, 10, n->printed[0]);
	bind_text(q, 11, now);
	for (int i = 1; i < 4; i++)
		bind_text(q, 11 + i, n->printed[i]);
	enum kg_err err = step_done(s, q, "notice");
	if (err)
		return err;
	if (sqlite3_changes(s->db) != 1)
		return kg_fail(KG_ENOTFOUND, "resident %lld is not in the registry", (long long)n->resident);
	int64_t id = sqlite3_last_insert_rowid(s->db);
	store_make_app_id(lgcode, n, id, app_id);

	if (!(q = stmt(s, ST_NOTICE_APPID)))
		return db_fail(s, "notice");
	sqlite3_bind_int64(q, 1, id);
	bind_text(q, 2, app_id);
	if ((err = step_done(s, q, "notice")))
		return err;
	if (n->hold_reason)
		return add_event(s, id, "hold", batch, "kigen", n->hold_reason);
	if (!(q = stmt(s, ST_BATCH_COUNT)))
		return db_fail(s, "batch");
	sqlite3_bind_int64(q, 1, batch);
	return step_done(s, q, "batch");
}

static enum kg_err sq_notice_mark_reinquired(struct store *s, int64_t notice)
{
	sqlite3_stmt *q = stmt(s, ST_NOTICE_REINQUIRED);
	if (!q)
		return db_fail(s, "notice");
	sqlite3_bind_int64(q, 1, notice);
	return step_done(s, q, "notice");
}

static void read_batch(sqlite3_stmt *q, struct store_batch *b)
{
	b->id = sqlite3_column_int64(q, 0);
	b->run_date = sqlite3_column_int(q, 1);
	b->state = sqlite3_column_int(q, 2);
	b->notices = sqlite3_column_int64(q, 3);
	snprintf(b->created_at, sizeof b->created_at, "%s", column_text(q, 4));
	snprintf(b->error, sizeof b->error, "%s", column_text(q, 5));
	b->stale_files = sqlite3_column_int(q, 6);
}

static enum kg_err sq_batches(struct store *s, struct store_batch **out, size_t *n)
{
	sqlite3_stmt *q = stmt(s, ST_BATCHES);
	if (!q)
		return db_fail(s, "batches");
	struct store_batch *list = NULL;
	size_t len = 0, alloc = 0;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		KG_GROW(list, len + 1, alloc);
		read_batch(q, &list[len++]);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		free(list);
		return db_fail(s, "batches");
	}
	*out = list;
	*n = len;
	return KG_OK;
}

static enum kg_err sq_batch_get(struct store *s, int64_t batch, struct store_batch *out)
{
	sqlite3_stmt *q = stmt(s, ST_BATCH_GET);
	if (!q)
		return db_fail(s, "batch");
	sqlite3_bind_int64(q, 1, batch);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		read_batch(q, out);
	char key[24];
	snprintf(key, sizeof key, "%lld", (long long)batch);
	return row_end(s, q, rc, "batch", key);
}

static enum kg_err sq_batch_exclusions(struct store *s, int64_t batch,
                                       enum kg_err (*fn)(void *ctx, const char *reason, long count), void *ctx)
{
	sqlite3_stmt *q = stmt(s, ST_BATCH_EXCLUSIONS);
	if (!q)
		return db_fail(s, "exclusions");
	sqlite3_bind_int64(q, 1, batch);
	int rc;
	enum kg_err err = KG_OK;
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW)
		err = fn(ctx, column_text(q, 0), (long)sqlite3_column_int64(q, 1));
	if (!err && rc != SQLITE_DONE)
		err = db_fail(s, "exclusions");
	sqlite3_reset(q);
	return err;
}

static enum kg_err sq_batch_sets(struct store *s, int64_t batch, int from, int to, struct mailset **out, size_t *n)
{
	sqlite3_stmt *q = stmt(s, ST_SETS);
	if (!q)
		return db_fail(s, "sets");
	sqlite3_bind_int64(q, 1, batch);
	sqlite3_bind_int(q, 2, from);
	sqlite3_bind_int(q, 3, to);
	struct mailset *sets = NULL;
	size_t len = 0, alloc = 0;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		KG_GROW(sets, len + 1, alloc);
		struct mailset *m = &sets[len++];
		*m = (struct mailset){
			.seq = sqlite3_column_int(q, 0),
			.batch = sqlite3_column_int(q, 1),
			.batch_day = sqlite3_column_int(q, 2),
			.resident_id = kg_strdup(column_text(q, 4)),
			.name = kg_strdup(column_text(q, 5)),
			.kana = kg_strdup(column_text(q, 6)),
			.postal_code = kg_strdup(column_text(q, 7)),
			.addr_town = kg_strdup(column_text(q, 8)),
			.addr_block = kg_strdup(column_text(q, 9)),
			.addr_building = kg_strdup(column_text(q, 10)),
			.kind = sqlite3_column_int(q, 11),
			.target = sqlite3_column_int(q, 12),
			.certs = sqlite3_column_int(q, 13),
			.expiry = sqlite3_column_int(q, 14),
			.birth = sqlite3_column_int(q, 15),
			.foreign = sqlite3_column_int(q, 16),
			.has_sign_cert = sqlite3_column_int(q, 17),
			.sign_revoked = sqlite3_column_int(q, 19),
		};
		snprintf(m->app_id, sizeof m->app_id, "%s", column_text(q, 3));
		snprintf(m->jlis_app_id, sizeof m->jlis_app_id, "%s", column_text(q, 18));
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		store_sets_free(sets, len);
		return db_fail(s, "sets");
	}
	*out = sets;
	*n = len;
	return KG_OK;
}

/* --- the counter ----------------------------------------------------------------------------- */

static enum kg_err sq_notice_by_app_id(struct store *s, const char *app_id, struct store_notice *out)
{
	sqlite3_stmt *q = stmt(s, ST_NOTICE_BY_APPID);
	if (!q)
		return db_fail(s, "notice");
	bind_text(q, 1, app_id);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*out = (struct store_notice){
			.id = sqlite3_column_int64(q, 0),
			.resident = sqlite3_column_int64(q, 1),
			.kind = sqlite3_column_int(q, 3),
			.target = sqlite3_column_int(q, 4),
			.certs = sqlite3_column_int(q, 5),
			.expiry = sqlite3_column_int(q, 6),
			.valid_until = sqlite3_column_int(q, 7),
			.state = sqlite3_column_int(q, 8),
			.name = kg_strdup(column_text(q, 9)),
			.auth_serial = kg_strdup(column_text(q, 10)),
			.auth_expires = sqlite3_column_int(q, 11),
			.has_sign_cert = sqlite3_column_int(q, 12),
		};
		snprintf(out->app_id, sizeof out->app_id, "%s", column_text(q, 2));
	}
	return row_end(s, q, rc, "notice with application ID", app_id);
}

static enum kg_err sq_notice_transition(struct store *s, int64_t notice, enum store_notice_state from,
                                        enum store_notice_state to, bool *moved)
{
	sqlite3_stmt *q = stmt(s, ST_NOTICE_MOVE);
	if (!q)
		return db_fail(s, "notice");
	sqlite3_bind_int64(q, 1, notice);
	sqlite3_bind_int(q, 2, from);
	sqlite3_bind_int(q, 3, to);
	enum kg_err err = step_done(s, q, "notice");
	if (!err)
		*moved = sqlite3_changes(s->db) == 1;
	return err;
}

static enum kg_err sq_audit(struct store *s, int64_t notice, const char *app_id, const char *terminal,
                            const char *staff, const char *outcome, const char *detail)
{
	char now[32];
	store_now_text(now);
	sqlite3_stmt *q = stmt(s, ST_AUDIT);
	if (!q)
		return db_fail(s, "audit");
	if (notice)
		sqlite3_bind_int64(q, 1, notice);
	bind_text(q, 2, app_id);
	bind_text(q, 3, now);
	bind_text(q, 4, terminal);
	bind_text(q, 5, staff);
	bind_text(q, 6, outcome);
	bind_text(q, 7, detail ? detail : "");
	return step_done(s, q, "audit");
}

static enum kg_err sq_meta_get(struct store *s, const char *key, long long def, long long *value)
{
	sqlite3_stmt *q = stmt(s, ST_META_GET);
	if (!q)
		return db_fail(s, "meta");
	bind_text(q, 1, key);
	int rc = sqlite3_step(q);
	*value = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : def;
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? KG_OK : db_fail(s, "meta");
}

static enum kg_err sq_meta_set(struct store *s, const char *key, long long value)
{
	sqlite3_stmt *q = stmt(s, ST_META_SET);
	if (!q)
		return db_fail(s, "meta");
	bind_text(q, 1, key);
	sqlite3_bind_int64(q, 2, value);
	return step_done(s, q, "meta");
}

static enum kg_err sq_batch_set_error(struct store *s, int64_t batch, const char *error)
{
	sqlite3_stmt *q = stmt(s, ST_BATCH_ERROR);
	if (!q)
		return db_fail(s, "batch");
	sqlite3_bind_int64(q, 1, batch);
	bind_text(q, 2, error ? error : "");
	return step_done(s, q, "batch");
}

static enum kg_err sq_batch_mark_printed(struct store *s, int64_t batch)
{
	sqlite3_stmt *q = stmt(s, ST_BATCH_PRINTED);
	if (!q)
		return db_fail(s, "batch");
	sqlite3_bind_int64(q, 1, batch);
	return step_done(s, q, "batch");
}

static enum kg_err sq_batch_count_no_jlis(struct store *s, int64_t batch, long *n)
{
	sqlite3_stmt *q = stmt(s, ST_BATCH_NO_JLIS);
	if (!q)
		return db_fail(s, "count");
	sqlite3_bind_int64(q, 1, batch);
	if (sqlite3_step(q) != SQLITE_ROW)
		return db_fail(s, "count");
	*n = (long)sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return KG_OK;
}

static enum kg_err sq_batch_plan(struct store *s, int64_t batch, unsigned char **kinds, int *n)
{
	sqlite3_stmt *q = stmt(s, ST_BATCH_PLAN);
	if (!q)
		return db_fail(s, "plan");
	sqlite3_bind_int64(q, 1, batch);
	unsigned char *list = NULL;
	int len = 0, rc;
	size_t alloc = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (sqlite3_column_int(q, 0) != len + 1) {
			sqlite3_reset(q);
			free(list);
			return kg_fail(KG_EDB, "batch %lld: sequence numbers are not 1..n", (long long)batch);
		}
		KG_GROW(list, (size_t)len + 1, alloc);
		list[len++] = (unsigned char)(sqlite3_column_int(q, 1) << 1 | sqlite3_column_int(q, 2));
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		free(list);
		return db_fail(s, "plan");
	}
	*kinds = list;
	*n = len;
	return KG_OK;
}

static enum kg_err sq_batch_file_add(struct store *s, int64_t batch, const struct store_file *f)
{
	sqlite3_stmt *q = stmt(s, ST_FILE_PUT);
	if (!q)
		return db_fail(s, "files");
	sqlite3_bind_int64(q, 1, batch);
	bind_text(q, 2, f->name);
	sqlite3_bind_int(q, 3, f->doc);
	sqlite3_bind_int(q, 4, f->pages);
	sqlite3_bind_int(q, 5, f->seq_from);
	sqlite3_bind_int(q, 6, f->seq_to);
	return step_done(s, q, "files");
}

static enum kg_err sq_batch_files(struct store *s, int64_t batch, struct store_file **out, size_t *n)
{
	sqlite3_stmt *q = stmt(s, ST_FILES);
	if (!q)
		return db_fail(s, "files");
	sqlite3_bind_int64(q, 1, batch);
	struct store_file *list = NULL;
	size_t len = 0, alloc = 0;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		KG_GROW(list, len + 1, alloc);
		struct store_file *f = &list[len++];
		snprintf(f->name, sizeof f->name, "%s", column_text(q, 0));
		f->doc = sqlite3_column_int(q, 1);
		f->pages = sqlite3_column_int(q, 2);
		f->seq_from = sqlite3_column_int(q, 3);
		f->seq_to = sqlite3_column_int(q, 4);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		free(list);
		return db_fail(s, "files");
	}
	*out = list;
	*n = len;
	return KG_OK;
}

/* --- holds ---------------------------------------------------------------------------------- */

static enum kg_err add_event(struct store *s, int64_t notice, const char *action, int64_t batch, const char *by,
                             const char *reason)
{
	char now[32];
	store_now_text(now);
	sqlite3_stmt *q = stmt(s, ST_NOTICE_EVENT);
	if (!q)
		return db_fail(s, "notice event");
	sqlite3_bind_int64(q, 1, notice);
	bind_text(q, 2, now);
	bind_text(q, 3, action);
	if (batch)
		sqlite3_bind_int64(q, 4, batch);
	bind_text(q, 5, by && *by ? by : "unknown");
	bind_text(q, 6, reason ? reason : "");
	return step_done(s, q, "notice event");
}

static enum kg_err sq_notice_ref(struct store *s, const char *app_id, struct store_notice_ref *out)
{
	sqlite3_stmt *q = stmt(s, ST_NOTICE_REF);
	if (!q)
		return db_fail(s, "notice");
	bind_text(q, 1, app_id);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(q, 0);
		snprintf(out->app_id, sizeof out->app_id, "%s", column_text(q, 1));
		out->state = sqlite3_column_int(q, 2);
		out->batch = sqlite3_column_int64(q, 3);
		out->batch_state = sqlite3_column_int(q, 4);
	}
	return row_end(s, q, rc, "notice with application ID", app_id);
}

static enum kg_err sq_notice_move(struct store *s, const struct store_notice_ref *n, enum store_notice_state to,
                                  const char *action, const char *by, const char *reason, bool *moved)
{
	sqlite3_stmt *q = stmt(s, ST_NOTICE_MOVE_OUT);
	if (!q)
		return db_fail(s, "notice");
	sqlite3_bind_int64(q, 1, n->id);
	sqlite3_bind_int(q, 2, n->state);
	sqlite3_bind_int(q, 3, to);
	enum kg_err err = step_done(s, q, "notice");
	if (err)
		return err;
	*moved = sqlite3_changes(s->db) == 1;
	return *moved ? add_event(s, n->id, action, n->batch, by, reason) : KG_OK;
}

static enum kg_err batch_step(struct store *s, enum stmt_id id, int64_t batch, const char *what)
{
	sqlite3_stmt *q = stmt(s, id);
	if (!q)
		return db_fail(s, what);
	sqlite3_bind_int64(q, 1, batch);
	return step_done(s, q, what);
}

static enum kg_err sq_batch_renumber(struct store *s, int64_t batch)
{
	enum kg_err err;
	if ((err = batch_step(s, ST_RENUMBER_OUT, batch, "renumber")) ||
	    (err = batch_step(s, ST_RENUMBER_IN, batch, "renumber")))
		return err;
	return batch_step(s, ST_BATCH_RECOUNT, batch, "renumber");
}

static enum kg_err sq_batch_set_stale(struct store *s, int64_t batch, bool stale)
{
	sqlite3_stmt *q = stmt(s, ST_BATCH_STALE);
	if (!q)
		return db_fail(s, "batch");
	sqlite3_bind_int64(q, 1, batch);
	sqlite3_bind_int(q, 2, stale);
	enum kg_err err = step_done(s, q, "batch");
	return err || !stale ? err : batch_step(s, ST_FILES_CLEAR, batch, "files");
}

static enum kg_err sq_each_held(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_held *h), void *ctx)
{
	sqlite3_stmt *q = stmt(s, ST_HELD);
	if (!q)
		return db_fail(s, "held notices");
	int rc;
	enum kg_err err = KG_OK;
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_held h = {
			.id = sqlite3_column_int64(q, 0),
			.app_id = column_text(q, 1),
			.state = sqlite3_column_int(q, 2),
			.registry_id = column_text(q, 3),
			.name = column_text(q, 4),
			.at = column_text(q, 5),
			.by = column_text(q, 6),
			.reason = column_text(q, 7),
			.from_batch = sqlite3_column_int64(q, 8),
		};
		err = fn(ctx, &h);
	}
	if (!err && rc != SQLITE_DONE)
		err = db_fail(s, "held notices");
	sqlite3_reset(q);
	return err;
}

static enum kg_err sq_count_held(struct store *s, long *held, long *released)
{
	sqlite3_stmt *q = stmt(s, ST_HELD_COUNT);
	if (!q || sqlite3_step(q) != SQLITE_ROW)
		return db_fail(s, "held notices");
	*held = (long)sqlite3_column_int64(q, 0);
	*released = (long)sqlite3_column_int64(q, 1);
	sqlite3_reset(q);
	return KG_OK;
}

static enum kg_err sq_batch_holds(struct store *s, int64_t batch,
                                  enum kg_err (*fn)(void *ctx, const char *app_id, const char *by, const char *reason),
                                  void *ctx)
{
	sqlite3_stmt *q = stmt(s, ST_BATCH_HOLDS);
	if (!q)
		return db_fail(s, "holds");
	sqlite3_bind_int64(q, 1, batch);
	int rc;
	enum kg_err err = KG_OK;
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW)
		err = fn(ctx, column_text(q, 0), column_text(q, 1), column_text(q, 2));
	if (!err && rc != SQLITE_DONE)
		err = db_fail(s, "holds");
	sqlite3_reset(q);
	return err;
}

static void released_free(struct store_released *r)
{
	free((char *)r->postal_code);
	free((char *)r->kana);
	for (int i = 0; i < 4; i++)
		free((char *)r->registered[i]);
}

static enum kg_err sq_each_released(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_released *r),
                                    void *ctx)
{
	sqlite3_stmt *q = stmt(s, ST_RELEASED);
	if (!q)
		return db_fail(s, "released notices");
	struct store_released *list = NULL;
	size_t n = 0, alloc = 0;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		KG_GROW(list, n + 1, alloc);
		struct store_released *r = &list[n++];
		*r = (struct store_released){
			.notice = sqlite3_column_int64(q, 0),
			.resident = sqlite3_column_int64(q, 1),
			.kind = sqlite3_column_int(q, 3),
			.target = sqlite3_column_int(q, 4),
			.certs = sqlite3_column_int(q, 5),
			.expiry = sqlite3_column_int(q, 6),
			.valid_until = sqlite3_column_int(q, 7),
			.status = sqlite3_column_int(q, 8),
			.kyosho = sqlite3_column_int(q, 9),
			.foreign = sqlite3_column_int(q, 10),
			.birth = sqlite3_column_int(q, 11),
			.postal_code = kg_strdup(column_text(q, 12)),
			.kana = kg_strdup(column_text(q, 13)),
			.has_sign_cert = sqlite3_column_int(q, 18),
		};
		snprintf(r->app_id, sizeof r->app_id, "%s", column_text(q, 2));
		for (int i = 0; i < 4; i++)
			r->registered[i] = kg_strdup(column_text(q, 14 + i));
	}
	sqlite3_reset(q);
	enum kg_err err = rc == SQLITE_DONE ? KG_OK : db_fail(s, "released notices");
	for (size_t i = 0; !err && i < n; i++)
		err = fn(ctx, &list[i]);
	for (size_t i = 0; i < n; i++)
		released_free(&list[i]);
	free(list);
	return err;
}

static enum kg_err sq_notice_requeue(struct store *s, int64_t notice, int64_t batch, int seq,
                                     const char *const printed[4])
{
	sqlite3_stmt *q = stmt(s, ST_REQUEUE);
	if (!q)
		return db_fail(s, "requeue");
	sqlite3_bind_int64(q, 1, notice);
	sqlite3_bind_int64(q, 2, batch);
	sqlite3_bind_int(q, 3, seq);
	for (int i = 0; i < 4; i++)
		bind_text(q, 4 + i, printed[i]);
	enum kg_err err = step_done(s, q, "requeue");
	if (err)
		return err;
	if (sqlite3_changes(s->db) != 1)
		return kg_fail(KG_ESTATE, "notice %lld is no longer released", (long long)notice);
	if ((err = add_event(s, notice, "requeue", batch, "kigen", "")))
		return err;
	return batch_step(s, ST_BATCH_COUNT, batch, "batch");
}

/* --- returned mail (返戻) and the desk's day ------------------------------------------------
 * Self-contained: each function prepares its own statement, so this section moves as one piece. */

static sqlite3_stmt *prep(struct store *s, const char *text)
{
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(s->db, text, -1, &q, NULL) != SQLITE_OK) {
		sqlite3_finalize(q);
		return NULL;
	}
	return q;
}

#define MAILED_COLUMNS                                                                                           \
	"SELECT n.id, n.app_id, n.batch, n.seq, n.name, n.postal_code, n.addr_town || n.addr_block ||"           \
	" CASE WHEN n.addr_building <> '' THEN '　' || n.addr_building ELSE '' END, n.state, n.kind, n.target," \
	" b.run_date, coalesce(m.reason, ''), coalesce(m.at, '')"                                                \
	" FROM notices n JOIN batches b ON b.id = n.batch LEFT JOIN returned_mail m ON m.notice = n.id "

static enum kg_err mailed_row(struct store *s, sqlite3_stmt *q, struct store_mailed *out, const char *what)
{
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof *out);
		out->notice = sqlite3_column_int64(q, 0);
		snprintf(out->app_id, sizeof out->app_id, "%s", column_text(q, 1));
		out->batch = sqlite3_column_int(q, 2);
		out->seq = sqlite3_column_int(q, 3);
		snprintf(out->name, sizeof out->name, "%s", column_text(q, 4));
		snprintf(out->postal_code, sizeof out->postal_code, "%s", column_text(q, 5));
		snprintf(out->address, sizeof out->address, "%s", column_text(q, 6));
		out->state = sqlite3_column_int(q, 7);
		out->kind = sqlite3_column_int(q, 8);
		out->target = sqlite3_column_int(q, 9);
		out->mailed_on = sqlite3_column_int(q, 10);
		snprintf(out->returned_reason, sizeof out->returned_reason, "%s", column_text(q, 11));
		snprintf(out->returned_at, sizeof out->returned_at, "%s", column_text(q, 12));
	}
	enum kg_err err = row_end(s, q, rc, "notice", what);
	sqlite3_finalize(q);
	return err;
}

static enum kg_err sq_mailed_by_app_id(struct store *s, const char *app_id, struct store_mailed *out)
{
	sqlite3_stmt *q = prep(s, MAILED_COLUMNS "WHERE n.app_id = ?1");
	if (!q)
		return db_fail(s, "mailed notice");
	bind_text(q, 1, app_id);
	return mailed_row(s, q, out, "with that application ID");
}

static enum kg_err sq_mailed_by_seq(struct store *s, int batch, int seq, struct store_mailed *out)
{
	sqlite3_stmt *q = prep(s, MAILED_COLUMNS "WHERE n.batch = ?1 AND n.seq = ?2");
	if (!q)
		return db_fail(s, "mailed notice");
	sqlite3_bind_int(q, 1, batch);
	sqlite3_bind_int(q, 2, seq);
	return mailed_row(s, q, out, "with that batch and sequence number");
}

static enum kg_err sq_returned_add(struct store *s, int64_t notice, const char *reason, const char *terminal,
                                   const char *staff, bool *added)
{
	char now[32];
	store_now_text(now);
	sqlite3_stmt *q = prep(s, "INSERT INTO returned_mail (notice, reason, at, terminal, staff)"
	                          " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (notice) DO NOTHING");
	if (!q)
		return db_fail(s, "returned mail");
	sqlite3_bind_int64(q, 1, notice);
	bind_text(q, 2, reason);
	bind_text(q, 3, now);
	bind_text(q, 4, terminal);
	bind_text(q, 5, staff);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return db_fail(s, "returned mail");
	*added = sqlite3_changes(s->db) == 1;
	return KG_OK;
}

static enum kg_err sq_returned_each(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_returned *r),
                                    void *ctx)
{
	sqlite3_stmt *q = prep(s, "SELECT n.app_id, r.registry_id, n.name, n.postal_code,"
	                          " n.addr_town || n.addr_block || CASE WHEN n.addr_building <> '' THEN '　' ||"
	                          " n.addr_building ELSE '' END, m.reason, m.at, m.staff, coalesce(x.app_id, ''),"
	                          " r.postal_code = n.postal_code AND r.addr_town = n.addr_town AND"
	                          " r.addr_block = n.addr_block AND r.addr_building = n.addr_building"
	                          " FROM returned_mail m JOIN notices n ON n.id = m.notice"
	                          " JOIN residents r ON r.id = n.resident LEFT JOIN notices x ON x.id = m.remailed"
	                          " ORDER BY m.at, n.id");
	if (!q)
		return db_fail(s, "returned mail");
	int rc;
	enum kg_err err = KG_OK;
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_returned r = {
			column_text(q, 0), column_text(q, 1),
			column_text(q, 2), column_text(q, 3),
			column_text(q, 4), column_text(q, 5),
			column_text(q, 6), column_text(q, 7),
			column_text(q, 8), sqlite3_column_int(q, 9) != 0,
		};
		err = fn(ctx, &r);
	}
	if (!err && rc != SQLITE_DONE)
		err = db_fail(s, "returned mail");
	sqlite3_finalize(q);
	return err;
}

static enum kg_err sq_returned_count(struct store *s, long *waiting, long *remailed)
{
	sqlite3_stmt *q = prep(s, "SELECT count(*) - count(remailed), count(remailed) FROM returned_mail");
	if (!q)
		return db_fail(s, "returned mail");
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*waiting = sqlite3_column_int64(q, 0);
		*remailed = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? KG_OK : db_fail(s, "returned mail");
}

static enum kg_err sq_returned_at_address(struct store *s, int64_t resident, bool *yes)
{
	sqlite3_stmt *q = prep(s, "SELECT 1 FROM returned_mail m JOIN notices n ON n.id = m.notice"
	                          " JOIN residents r ON r.id = n.resident"
	                          " WHERE n.resident = ?1 AND m.remailed IS NULL AND " SAME_ADDRESS " LIMIT 1");
	if (!q)
		return db_fail(s, "returned mail");
	sqlite3_bind_int64(q, 1, resident);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(s, "returned mail");
	*yes = rc == SQLITE_ROW;
	return KG_OK;
}

static enum kg_err sq_each_remail_due(struct store *s, int run_date,
                                      enum kg_err (*fn)(void *ctx, const struct store_remail *r), void *ctx)
{
	sqlite3_stmt *q = prep(s, "SELECT n.id, n.resident, n.kind, n.target, n.certs, n.expiry, n.valid_until,"
	                          " r.postal_code FROM returned_mail m JOIN notices n ON n.id = m.notice"
	                          " JOIN residents r ON r.id = n.resident"
	                          " WHERE m.remailed IS NULL AND r.status = 0 AND n.expiry >= ?1 AND NOT " SAME_ADDRESS
	                          " ORDER BY n.id");
	if (!q)
		return db_fail(s, "returned mail");
	sqlite3_bind_int(q, 1, run_date);
	/* Collected first: fn adds notices, which must not happen under an open cursor on notices. */
	struct store_remail *list = NULL;
	size_t n = 0, alloc = 0;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		KG_GROW(list, n + 1, alloc);
		struct store_remail *r = &list[n++];
		*r = (struct store_remail){sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
		                           sqlite3_column_int(q, 2),   sqlite3_column_int(q, 3),
		                           sqlite3_column_int(q, 4),   sqlite3_column_int(q, 5),
		                           sqlite3_column_int(q, 6),   ""};
		snprintf(r->postal_code, sizeof r->postal_code, "%s", column_text(q, 7));
	}
	sqlite3_finalize(q);
	enum kg_err err = rc == SQLITE_DONE ? KG_OK : db_fail(s, "returned mail");
	for (size_t i = 0; !err && i < n; i++)
		err = fn(ctx, &list[i]);
	free(list);
	return err;
}

static enum kg_err sq_returned_remailed(struct store *s, int64_t notice, const char *new_app_id)
{
	sqlite3_stmt *q = prep(s, "UPDATE returned_mail SET remailed = (SELECT id FROM notices WHERE app_id = ?2)"
	                          " WHERE notice = ?1 AND remailed IS NULL");
	if (!q)
		return db_fail(s, "returned mail");
	sqlite3_bind_int64(q, 1, notice);
	bind_text(q, 2, new_app_id);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return db_fail(s, "returned mail");
	/* The form that came back is replaced by the one re-mailed: it can no longer be redeemed. */
	if (!(q = prep(s, "UPDATE notices SET state = 5 WHERE id = ?1 AND state IN (0, 1)")))
		return db_fail(s, "returned mail");
	sqlite3_bind_int64(q, 1, notice);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? KG_OK : db_fail(s, "returned mail");
}

static enum kg_err sq_audit_since(struct store *s, const char *terminal, const char *since,
                                  enum kg_err (*fn)(void *ctx, const struct store_audit_row *r), void *ctx)
{
	sqlite3_stmt *q = prep(s, "SELECT a.at, a.app_id, coalesce(n.name, ''), a.staff, a.outcome"
	                          " FROM redemptions a LEFT JOIN notices n ON n.id = a.notice"
	                          " WHERE a.terminal = ?1 AND a.at >= ?2 ORDER BY a.id DESC");
	if (!q)
		return db_fail(s, "audit");
	bind_text(q, 1, terminal);
	bind_text(q, 2, since);
	int rc;
	enum kg_err err = KG_OK;
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_audit_row r = {column_text(q, 0), column_text(q, 1), column_text(q, 2), column_text(q, 3),
		                            column_text(q, 4)};
		err = fn(ctx, &r);
	}
	if (!err && rc != SQLITE_DONE)
		err = db_fail(s, "audit");
	sqlite3_finalize(q);
	return err;
}

/* The file lock next to the database (nightly.h) keeps runs apart on one machine. */
static enum kg_err sq_run_lock(struct store *s, const char *what, bool shared)
{
	(void)s;
	(void)what;
	(void)shared;
	return KG_OK;
}

static enum kg_err sq_render_claim(struct store *s, int64_t batch, const char *name, const char *holder, int lease)
{
	(void)s;
	(void)batch;
	(void)name;
	(void)holder;
	(void)lease;
	return KG_OK;
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.version = sq_version,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.run_lock = sq_run_lock,
	.meta_get = sq_meta_get,
	.meta_set = sq_meta_set,
	.put_resident = sq_put_resident,
	.count_residents = sq_count_residents,
	.each_candidate = sq_each_candidate,
	.each_reinquiry_due = sq_each_reinquiry_due,
	.batch_create = sq_batch_create,
	.batch_set_state = sq_batch_set_state,
	.batch_add_exclusion = sq_batch_add_exclusion,
	.notice_add = sq_notice_add,
	.notice_mark_reinquired = sq_notice_mark_reinquired,
	.batches = sq_batches,
	.batch_get = sq_batch_get,
	.batch_set_error = sq_batch_set_error,
	.batch_mark_printed = sq_batch_mark_printed,
	.batch_plan = sq_batch_plan,
	.batch_count_no_jlis = sq_batch_count_no_jlis,
	.batch_file_add = sq_batch_file_add,
	.batch_files = sq_batch_files,
	.render_claim = sq_render_claim,
	.notice_ref = sq_notice_ref,
	.notice_move = sq_notice_move,
	.batch_renumber = sq_batch_renumber,
	.batch_set_stale = sq_batch_set_stale,
	.each_held = sq_each_held,
	.count_held = sq_count_held,
	.batch_holds = sq_batch_holds,
	.each_released = sq_each_released,
	.notice_requeue = sq_notice_requeue,
	.batch_exclusions = sq_batch_exclusions,
	.batch_sets = sq_batch_sets,
	.notice_by_app_id = sq_notice_by_app_id,
	.notice_transition = sq_notice_transition,
	.audit = sq_audit,
	.mailed_by_app_id = sq_mailed_by_app_id,
	.mailed_by_seq = sq_mailed_by_seq,
	.returned_add = sq_returned_add,
	.returned_each = sq_returned_each,
	.returned_count = sq_returned_count,
	.returned_at_address = sq_returned_at_address,
	.each_remail_due = sq_each_remail_due,
	.returned_remailed = sq_returned_remailed,
	.audit_since = sq_audit_since,
};
