/*
 * store_pg.c: PostgreSQL (libpq) behind store.h, for several machines sharing one database.
 *
 * The contract is the SQLite backend's, kept to the row: the same schema in the same numbered
 * migrations (PostgreSQL types), the same queries, one writer at a time (store_begin takes a
 * transaction-scoped advisory lock, as BEGIN IMMEDIATE takes SQLite's write lock), and row ids
 * chosen as SQLite chooses them (the largest plus one; notices from a counter that is never
 * lowered, as AUTOINCREMENT), inside the transaction, so a rolled-back run leaves no gap and
 * the same inputs give the same application IDs on both backends. Values travel as bound
 * text parameters of prepared statements; the registry import streams its rows with COPY.
 */
#include "store_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules.h"
#include "sbuf.h"
#include "banned.h"

/* Advisory lock keys ("kigen" and a number): one namespace of bigint keys per database. */
#define KEY_WRITER 0x6b6967656e01LL  /* held by the open write transaction */
#define KEY_MIGRATE 0x6b6967656e02LL /* held while the schema is upgraded */
#define KEY_RUN 0x6b6967656e03LL     /* the run lock (store_run_lock), held by a session */

/* Numbered migrations, the same numbers as store_sqlite.c's: migration[i] takes the schema from
 * version i to i + 1. Never edit one that has shipped; add the next. Flags are integers, as in
 * SQLite, so a database copies over row by row. */
static const char *const migrations[] = {
	/* 1: the first schema, and what PostgreSQL needs beside it: the notice id counter (SQLite's
	 * AUTOINCREMENT), the file order (SQLite's rowid) and the run lock's holder. */
	"CREATE TABLE residents ("
	"  id bigint PRIMARY KEY,"
	"  registry_id text NOT NULL UNIQUE,"
	"  name text NOT NULL, kana text NOT NULL,"
	"  birth integer NOT NULL,"
	"  sex integer NOT NULL CHECK (sex IN (1, 2, 9)),"
	"  postal_code text NOT NULL,"
	"  addr_town text NOT NULL, addr_block text NOT NULL, addr_building text NOT NULL,"
	"  nationality text NOT NULL DEFAULT '',"
	"  stay_until integer,"
	"  kyosho integer NOT NULL DEFAULT 0,"
	"  status integer NOT NULL CHECK (status IN (0, 1, 2)),"
	"  updated_at text NOT NULL);"
	"CREATE TABLE cards ("
	"  id bigint PRIMARY KEY,"
	"  resident bigint NOT NULL UNIQUE REFERENCES residents(id) ON DELETE CASCADE,"
	"  issued_on integer NOT NULL, received_on integer, expires_on integer NOT NULL,"
	"  status integer NOT NULL CHECK (status IN (0, 1, 2)),"
	"  face_auth integer NOT NULL DEFAULT 0);"
	"CREATE INDEX cards_expiry ON cards(expires_on);"
	"CREATE TABLE certificates ("
	"  id bigint PRIMARY KEY,"
	"  card bigint NOT NULL REFERENCES cards(id) ON DELETE CASCADE,"
	"  kind text NOT NULL CHECK (kind IN ('sign', 'auth')),"
	"  issued_on integer NOT NULL, expires_on integer NOT NULL,"
	"  status integer NOT NULL CHECK (status IN (1, 2)),"
	"  serial text NOT NULL DEFAULT '',"
	"  UNIQUE (card, kind));"
	"CREATE INDEX certificates_expiry ON certificates(expires_on);"
	"CREATE TABLE batches ("
	"  id bigint PRIMARY KEY,"
	"  run_date integer NOT NULL,"
	"  state integer NOT NULL CHECK (state BETWEEN 0 AND 4),"
	"  notices integer NOT NULL DEFAULT 0,"
	"  created_at text NOT NULL,"
	"  error text NOT NULL DEFAULT '');"
	"CREATE SEQUENCE batch_files_order;"
	"CREATE TABLE batch_files ("
	"  batch bigint NOT NULL REFERENCES batches(id),"
	"  name text NOT NULL, doc integer NOT NULL, pages integer NOT NULL,"
	"  seq_from integer NOT NULL, seq_to integer NOT NULL,"
	"  added bigint NOT NULL DEFAULT nextval('batch_files_order'),"
	"  PRIMARY KEY (batch, name));"
	"CREATE TABLE batch_exclusions ("
	"  batch bigint NOT NULL REFERENCES batches(id),"
	"  reason text NOT NULL, count integer NOT NULL,"
	"  PRIMARY KEY (batch, reason));"
	"CREATE TABLE notices ("
	"  id bigint PRIMARY KEY,"
	"  app_id text UNIQUE,"
	"  resident bigint NOT NULL REFERENCES residents(id),"
	"  kind integer NOT NULL CHECK (kind IN (0, 1)),"
	"  target integer NOT NULL CHECK (target IN (0, 1)),"
	"  certs integer NOT NULL,"
	"  expiry integer NOT NULL, valid_until integer NOT NULL,"
	"  batch bigint NOT NULL REFERENCES batches(id),"
	"  seq integer NOT NULL,"
	"  state integer NOT NULL CHECK (state BETWEEN 0 AND 5),"
	"  parent bigint REFERENCES notices(id),"
	"  name text NOT NULL, kana text NOT NULL, postal_code text NOT NULL,"
	"  addr_town text NOT NULL, addr_block text NOT NULL, addr_building text NOT NULL,"
	"  birth integer NOT NULL, foreign_resident integer NOT NULL, has_sign_cert integer NOT NULL,"
	"  created_at text NOT NULL,"
	"  UNIQUE (batch, seq));"
	"CREATE UNIQUE INDEX notices_once ON notices(resident, target, expiry) WHERE kind = 0;"
	"CREATE INDEX notices_state ON notices(state) WHERE state = 3;"
	/* The largest notice id ever given: raised inside the inserting transaction, never lowered. */
	"CREATE TABLE notice_ids (last bigint NOT NULL);"
	"INSERT INTO notice_ids VALUES (0);"
	"CREATE TABLE redemptions ("
	"  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  notice bigint REFERENCES notices(id),"
	"  app_id text NOT NULL,"
	"  at text NOT NULL, terminal text NOT NULL, staff text NOT NULL,"
	"  outcome text NOT NULL, detail text NOT NULL);"
	"CREATE TABLE meta (key text PRIMARY KEY, value bigint NOT NULL);"
	"CREATE FUNCTION redemptions_append_only() RETURNS trigger LANGUAGE plpgsql AS"
	"  $$BEGIN RAISE EXCEPTION 'the audit is append-only'; END$$;"
	"CREATE TRIGGER redemptions_no_change BEFORE UPDATE OR DELETE ON redemptions"
	"  FOR EACH ROW EXECUTE FUNCTION redemptions_append_only();"
	"CREATE TRIGGER redemptions_no_truncate BEFORE TRUNCATE ON redemptions"
	"  FOR EACH STATEMENT EXECUTE FUNCTION redemptions_append_only();"
	"CREATE TABLE run_lock ("
	"  id integer PRIMARY KEY CHECK (id = 1),"
	"  what text NOT NULL, host text NOT NULL, pid integer NOT NULL, since text NOT NULL);"
	/* Which renderer makes which file of a batch, until when (render.h, several machines). */
	"CREATE TABLE render_claims ("
	"  batch bigint NOT NULL REFERENCES batches(id), name text NOT NULL,"
	"  holder text NOT NULL, until timestamptz NOT NULL,"
	"  PRIMARY KEY (batch, name));",

	/* 2: holds (store_sqlite.c's migration 2): a held or released notice is in no batch; states
	 * 6 held, 7 released; notice_events is the append-only trail of holds, releases and voids. */
	"ALTER TABLE notices ALTER COLUMN batch DROP NOT NULL, ALTER COLUMN seq DROP NOT NULL,"
	"  DROP CONSTRAINT notices_state_check,"
	"  ADD CONSTRAINT notices_state_check CHECK (state BETWEEN 0 AND 7),"
	"  ADD CHECK ((batch IS NULL) = (seq IS NULL)),"
	"  ADD CHECK (state NOT IN (6, 7) OR batch IS NULL);"
	"CREATE INDEX notices_waiting ON notices(state) WHERE state IN (6, 7);"
	"CREATE TABLE notice_events ("
	"  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  notice bigint NOT NULL REFERENCES notices(id),"
	"  app_id text NOT NULL,"
	"  at text NOT NULL,"
	"  action text NOT NULL CHECK (action IN ('hold', 'release', 'void', 'requeue')),"
	"  batch bigint,"
	"  by text NOT NULL, reason text NOT NULL);"
	"ALTER TABLE batches ADD COLUMN stale_files integer NOT NULL DEFAULT 0;"
	"CREATE INDEX notice_events_notice ON notice_events(notice);"
	"CREATE INDEX notice_events_batch ON notice_events(batch) WHERE batch IS NOT NULL;"
	"CREATE FUNCTION notice_events_append_only() RETURNS trigger LANGUAGE plpgsql AS"
	"  $$BEGIN RAISE EXCEPTION 'the notice events are append-only'; END$$;"
	"CREATE TRIGGER notice_events_no_change BEFORE UPDATE OR DELETE ON notice_events"
	"  FOR EACH ROW EXECUTE FUNCTION notice_events_append_only();",

	/* 3: J-LIS's 申請書ID (store_sqlite.c's migration 3): the resident's next card's, and on each
	 * notice, as printed, that ID and whether its signature certificate was revoked. */
	"ALTER TABLE residents ADD COLUMN jlis_app_id text NOT NULL DEFAULT '';"
	"ALTER TABLE notices ADD COLUMN jlis_app_id text NOT NULL DEFAULT '',"
	"  ADD COLUMN sign_revoked integer NOT NULL DEFAULT 0;",

	/* 4: returned mail (返戻) (store_sqlite.c's migration 4): one row per notice whose mailing came
	 * back; remailed is the notice sent once the registry showed a new address. A re-mail is a
	 * kind-0 notice with a parent, so the once-per-expiry rule counts only first notices. */
	"CREATE TABLE returned_mail ("
	"  notice bigint PRIMARY KEY REFERENCES notices(id),"
	"  reason text NOT NULL, at text NOT NULL, terminal text NOT NULL, staff text NOT NULL,"
	"  remailed bigint REFERENCES notices(id));"
	"DROP INDEX notices_once;"
	"CREATE UNIQUE INDEX notices_once ON notices(resident, target, expiry) WHERE kind = 0 AND parent IS NULL;",

	/* 5: the expiry indexes hold the card each entry belongs to (store_sqlite.c's migration 5): the
	 * selection's window is then read from the index alone, not from some 18,000 heap pages of
	 * cards and certificates at random (0.9 s of its candidates query over 1,000,000 residents). */
	"DROP INDEX cards_expiry;"
	"CREATE INDEX cards_expiry ON cards(expires_on, id);"
	"DROP INDEX certificates_expiry;"
	"CREATE INDEX certificates_expiry ON certificates(expires_on, card);",
};

enum stmt_id {
	ST_LOCK_WRITER,
	ST_VERSION,
	ST_IMPORT_RESIDENTS,
	ST_IMPORT_CARDS_DEL,
	ST_IMPORT_CARDS,
	ST_IMPORT_CERTS_DEL,
	ST_IMPORT_CERTS,
	ST_BULK_RESIDENTS,
	ST_BULK_CARDS,
	ST_BULK_CERTS,
	ST_BULK_CHECK,
	ST_NOTICES_BULK_CHECK,
	ST_RESIDENT_COUNT,
	ST_CANDIDATES,
	ST_REINQUIRY_DUE,
	ST_BATCH_NEW,
	ST_BATCH_STATE,
	ST_BATCH_EXCL,
	ST_NOTICE_ADD,
	ST_NOTICE_LAST,
	ST_NOTICE_LAST_SET,
	ST_BATCH_COUNT,
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
	ST_RUN_TRY,
	ST_RUN_TRY_SHARED,
	ST_RENDER_CLAIM,
	ST_RUN_HOLDER,
	ST_RUN_WHO,
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
	ST_MAILED_BY_APPID,
	ST_MAILED_BY_SEQ,
	ST_RETURNED_ADD,
	ST_RETURNED_EACH,
	ST_RETURNED_COUNT,
	ST_RETURNED_AT_ADDRESS,
	ST_REMAIL_DUE,
	ST_RETURNED_REMAILED,
	ST_RETURNED_VOID,
	ST_AUDIT_SINCE,
	ST_COUNT
};

/* A mailed notice as the back office sees the returned envelope (store_mailed). */
#define MAILED_COLUMNS                                                                                           \
	"SELECT n.id, n.app_id, n.batch, n.seq, n.name, n.postal_code, n.addr_town || n.addr_block ||"           \
	" CASE WHEN n.addr_building <> '' THEN '　' || n.addr_building ELSE '' END, n.state, n.kind, n.target," \
	" b.run_date, coalesce(m.reason, ''), coalesce(m.at, '')"                                                \
	" FROM notices n JOIN batches b ON b.id = n.batch LEFT JOIN returned_mail m ON m.notice = n.id "

/* The address a notice was mailed to against the registry's now. */
#define SAME_ADDRESS                                                                                   \
	"(r.postal_code = n.postal_code AND r.addr_town = n.addr_town AND r.addr_block = n.addr_block" \
	" AND r.addr_building = n.addr_building)"

/* Of candidate r with card c and certificates a, g: is there a first notice for each expiry (a
 * re-mail has a parent with the same expiry, so the once-per-expiry index answers it), and did
 * mail come back from the address r has now (store_returned_at_address)? */
#define NOTICED(target, expiry)                                                                        \
	"(EXISTS (SELECT 1 FROM notices n WHERE n.resident = r.id AND n.kind = 0 AND n.parent IS NULL" \
	" AND n.target = " target " AND n.expiry = " expiry "))::int, "
#define RETURNED_HERE                                                                        \
	"(r.id IN (SELECT n.resident FROM returned_mail m JOIN notices n ON n.id = m.notice" \
	" JOIN residents r ON r.id = n.resident WHERE m.remailed IS NULL AND " SAME_ADDRESS "))::int"
#define CANDIDATE_FLAGS \
	NOTICED("0", "c.expires_on") NOTICED("1", "x.auth_expires") NOTICED("1", "x.sign_expires") RETURNED_HERE

/* The import's rows arrive by COPY in import_rows; import_last keeps the last row of each registry
 * id with the line the file first names it on, and the statements below merge it as SQLite's
 * one-row upserts would leave the tables: a new resident, card or certificate gets the largest id
 * plus one in the order the file first names it. Rows whose registry ids came in ascending order
 * name no id twice: import_last is then import_rows itself, a view (sorting a million rows into
 * a copy of them took 5 to 9 s of a 50 s import). */
static const char import_last[] =
	"CREATE TEMP TABLE import_last ON COMMIT DROP AS"
	" SELECT DISTINCT ON (registry_id) i.*, f.first FROM import_rows i"
	" JOIN (SELECT registry_id, min(line) AS first FROM import_rows GROUP BY registry_id) f"
	" USING (registry_id) ORDER BY registry_id, line DESC";
static const char import_view[] = "CREATE TEMP VIEW import_last AS SELECT *, line AS first FROM import_rows";

/* A first import into empty registry tables (a new office, ST_BULK_CHECK) is a load: the rows go
 * in by plain INSERTs numbered by their ordinals in the file (no join, no sort, nothing can
 * conflict). By the tables' owner it is a bulk load, inside its one transaction: the foreign
 * keys, the unique constraints no foreign key relies on and the secondary indexes of the three
 * tables are dropped before and built again after from their definitions as the catalog gives
 * them (pg_get_constraintdef, pg_get_indexdef: the migrations stay their only source), each index
 * in one sort and each foreign key checked by one join instead of a trigger per row. DDL is
 * transactional: a failed import leaves them as they were. The machines' roles own no table and
 * load with the indexes in place (1,000,000 rows: README, Benchmarks). */
#define REGISTRY_TABLES "ARRAY['residents'::regclass, 'cards'::regclass, 'certificates'::regclass]"
static const char bulk_registry[] =
	"CREATE TEMP TABLE bulk_ddl ON COMMIT DROP AS"
	" SELECT contype = 'f' AS fk,"
	"  format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS undo,"
	"  format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid))"
	"  AS redo"
	" FROM pg_constraint u WHERE conrelid = ANY (" REGISTRY_TABLES ") AND (contype = 'f' OR (contype = 'u'"
	"  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = u.conindid)))"
	" UNION ALL SELECT false, format('DROP INDEX %s', indexrelid::regclass), pg_get_indexdef(indexrelid)"
	" FROM pg_index i WHERE indrelid = ANY (" REGISTRY_TABLES ")"
	"  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)";
/* A first selection is a load too (notices_send): the notices' own foreign keys (to residents,
 * batches and their parent notice) checked by one join each at the commit instead of a trigger
 * per row, which cost 30-40 µs a notice (a query and a row lock on the resident), 1.2-1.5 s of
 * a first night's 37,000. Their indexes stay: a notice is looked up by them as it is written. */
static const char bulk_notices[] =
	"CREATE TEMP TABLE bulk_ddl ON COMMIT DROP AS"
	" SELECT true AS fk, format('ALTER TABLE notices DROP CONSTRAINT %I', conname) AS undo,"
	"  format('ALTER TABLE notices ADD CONSTRAINT %I %s', conname, pg_get_constraintdef(oid)) AS redo"
	" FROM pg_constraint WHERE conrelid = 'notices'::regclass AND contype = 'f'";
static const char bulk_undo[] =
	"DO $$DECLARE d record; BEGIN"
	" FOR d IN SELECT undo FROM bulk_ddl ORDER BY fk DESC, undo LOOP EXECUTE d.undo; END LOOP; END$$";
#define BULK_REDO                                                                                     \
	"DO $$DECLARE d record; BEGIN"                                                                \
	" FOR d IN SELECT redo FROM bulk_ddl ORDER BY fk, redo LOOP EXECUTE d.redo; END LOOP; END$$;" \
	"DROP TABLE bulk_ddl"
static const char bulk_redo[] = BULK_REDO;
/* The notices' checks by looking up each notice's resident: the planner, with no statistics of
 * the notices just written, would hash all the residents (0.55 s against 0.23 s for 37,000 of
 * 1,000,000; the notices are at most about twice those written, bulk_notices). */
static const char bulk_notices_redo[] = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off;" BULK_REDO
					";RESET enable_hashjoin; RESET enable_mergejoin";

static const char *const sql[ST_COUNT] = {
	[ST_LOCK_WRITER] = "SELECT pg_advisory_xact_lock($1::bigint)",
	[ST_VERSION] = "SELECT version FROM kigen_schema",
	/* Each merge statement is an INSERT ... SELECT of the rows that are new or differ from the
	 * stored ones: a nightly registry export is mostly the night before's, and a row that is the
	 * same is neither written nor locked (ON CONFLICT DO UPDATE ... WHERE would still lock it,
	 * a WAL record each). updated_at is therefore when kigen last saw the row change. */
	[ST_IMPORT_RESIDENTS] =
		"INSERT INTO residents (id, registry_id, name, kana, birth, sex, postal_code, addr_town, addr_block,"
		" addr_building, nationality, stay_until, kyosho, status, updated_at, jlis_app_id)"
		" SELECT coalesce(r.id, (SELECT coalesce(max(id), 0) FROM residents)"
		"   + row_number() OVER (PARTITION BY r.id IS NULL ORDER BY l.first)),"
		" l.registry_id, l.name, l.kana, l.birth, l.sex, l.postal_code, l.addr_town, l.addr_block,"
		" l.addr_building, l.nationality, l.stay_until, l.kyosho, l.status, l.updated_at, l.jlis_app_id"
		" FROM import_last l LEFT JOIN residents r USING (registry_id)"
		" WHERE r.id IS NULL OR (r.name, r.kana, r.birth, r.sex, r.postal_code, r.addr_town, r.addr_block,"
		" r.addr_building, r.nationality, r.stay_until, r.kyosho, r.status, r.jlis_app_id) IS DISTINCT FROM"
		" (l.name, l.kana, l.birth, l.sex, l.postal_code, l.addr_town, l.addr_block, l.addr_building,"
		" l.nationality, l.stay_until, l.kyosho, l.status, l.jlis_app_id)"
		" ON CONFLICT (registry_id) DO UPDATE SET name = excluded.name, kana = excluded.kana,"
		" birth = excluded.birth, sex = excluded.sex, postal_code = excluded.postal_code,"
		" addr_town = excluded.addr_town, addr_block = excluded.addr_block,"
		" addr_building = excluded.addr_building, nationality = excluded.nationality,"
		" stay_until = excluded.stay_until, kyosho = excluded.kyosho, status = excluded.status,"
		" updated_at = excluded.updated_at, jlis_app_id = excluded.jlis_app_id",
	[ST_IMPORT_CARDS_DEL] = "DELETE FROM cards c USING import_last l JOIN residents r USING (registry_id)"
				" WHERE c.resident = r.id AND l.has_card = 0",
	[ST_IMPORT_CARDS] =
		"INSERT INTO cards (id, resident, issued_on, received_on, expires_on, status, face_auth)"
		" SELECT coalesce(c.id, (SELECT coalesce(max(id), 0) FROM cards)"
		"   + row_number() OVER (PARTITION BY c.id IS NULL ORDER BY l.first)),"
		" r.id, l.card_issued, l.card_received, l.card_expires, l.card_status, l.face_auth"
		" FROM import_last l JOIN residents r USING (registry_id) LEFT JOIN cards c ON c.resident = r.id"
		" WHERE l.has_card = 1 AND (c.id IS NULL"
		" OR (c.issued_on, c.received_on, c.expires_on, c.status, c.face_auth) IS DISTINCT FROM"
		" (l.card_issued, l.card_received, l.card_expires, l.card_status, l.face_auth))"
		" ON CONFLICT (resident) DO UPDATE SET issued_on = excluded.issued_on,"
		" received_on = excluded.received_on, expires_on = excluded.expires_on, status = excluded.status,"
		" face_auth = excluded.face_auth",
	[ST_IMPORT_CERTS_DEL] =
		"DELETE FROM certificates x USING import_last l JOIN residents r USING (registry_id)"
		" JOIN cards c ON c.resident = r.id"
		" WHERE x.card = c.id AND l.has_card = 1"
		" AND ((x.kind = 'auth' AND l.auth_status = 0) OR (x.kind = 'sign' AND l.sign_status = 0))",
	[ST_IMPORT_CERTS] =
		"INSERT INTO certificates (id, card, kind, issued_on, expires_on, status, serial)"
		" SELECT coalesce(x.id, (SELECT coalesce(max(id), 0) FROM certificates)"
		"   + row_number() OVER (PARTITION BY x.id IS NULL ORDER BY l.first, k.ord)),"
		" c.id, k.kind, k.issued, k.expires, k.status, k.serial"
		" FROM import_last l JOIN residents r USING (registry_id) JOIN cards c ON c.resident = r.id"
		" CROSS JOIN LATERAL (VALUES ('auth', 0, l.auth_status, l.auth_issued, l.auth_expires, l.auth_serial),"
		"   ('sign', 1, l.sign_status, l.sign_issued, l.sign_expires, l.sign_serial))"
		"   AS k(kind, ord, status, issued, expires, serial)"
		" LEFT JOIN certificates x ON x.card = c.id AND x.kind = k.kind"
		" WHERE l.has_card = 1 AND k.status <> 0 AND (x.id IS NULL"
		" OR (x.issued_on, x.expires_on, x.status, x.serial) IS DISTINCT FROM (k.issued, k.expires, k.status,"
		" k.serial))"
		" ON CONFLICT (card, kind) DO UPDATE SET issued_on = excluded.issued_on,"
		" expires_on = excluded.expires_on, status = excluded.status, serial = excluded.serial",
	/* May this import load by ordinals (bulk_load)? The three tables are empty and no registry
	 * id came twice ($1: they came in ascending order), so the rows' ordinals are their ids.
	 * And are the tables owned by this session's role or one it has the rights of (bulk_registry)? */
	[ST_BULK_CHECK] = "SELECT NOT EXISTS (SELECT 1 FROM residents) AND NOT EXISTS (SELECT 1 FROM cards)"
			  " AND NOT EXISTS (SELECT 1 FROM certificates)"
			  " AND ($1::bool OR (SELECT count(*) FROM import_last) = (SELECT count(*) FROM import_rows)),"
			  " bool_and(pg_has_role(relowner, 'USAGE'))"
			  " FROM pg_class WHERE oid = ANY (" REGISTRY_TABLES ")",
	/* Does the notices table hold fewer rows than $1, does this session's role own it, and may
	 * it add the foreign keys again (bulk_notices)? */
	[ST_NOTICES_BULK_CHECK] =
		"SELECT (SELECT count(*) FROM (SELECT FROM notices LIMIT $1::int) AS t) < $1::int"
		" AND pg_has_role(relowner, 'USAGE') AND has_table_privilege('residents', 'REFERENCES')"
		" AND has_table_privilege('batches', 'REFERENCES')"
		" FROM pg_class WHERE oid = 'notices'::regclass",
	[ST_BULK_RESIDENTS] =
		"INSERT INTO residents (id, registry_id, name, kana, birth, sex, postal_code, addr_town, addr_block,"
		" addr_building, nationality, stay_until, kyosho, status, updated_at, jlis_app_id)"
		" SELECT line, registry_id, name, kana, birth, sex, postal_code, addr_town, addr_block,"
		" addr_building, nationality, stay_until, kyosho, status, updated_at, jlis_app_id FROM import_rows",
	[ST_BULK_CARDS] = "INSERT INTO cards (id, resident, issued_on, received_on, expires_on, status, face_auth)"
			  " SELECT card_no, line, card_issued, card_received, card_expires, card_status, face_auth"
			  " FROM import_rows WHERE has_card = 1",
	[ST_BULK_CERTS] = "INSERT INTO certificates (id, card, kind, issued_on, expires_on, status, serial)"
			  " SELECT k.id, l.card_no, k.kind, k.issued, k.expires, k.status, k.serial FROM import_rows l"
			  " CROSS JOIN LATERAL (VALUES"
			  "   (l.auth_no, 'auth', l.auth_status, l.auth_issued, l.auth_expires, l.auth_serial),"
			  "   (l.sign_no, 'sign', l.sign_status, l.sign_issued, l.sign_expires, l.sign_serial))"
			  "   AS k(id, kind, status, issued, expires, serial)"
			  " WHERE l.has_card = 1 AND k.status <> 0",
	[ST_RESIDENT_COUNT] = "SELECT count(*) FROM residents",
	/* A card's two certificates come by one look-up of the unique (card, kind) index per
	 * candidate; joined as two tables, the planner hashed the whole certificates table twice
	 * (0.8 s over 1,000,000 residents). The ORDER BY and LIMIT (a card has at most the two) keep
	 * it an index scan when the tables have no statistics yet, right after an import, where a
	 * bitmap scan per candidate was chosen. The last column is for the notices (remember_seen). */
	[ST_CANDIDATES] =
		"SELECT r.id, r.postal_code, r.name, r.status, r.kyosho, (r.nationality <> '')::int, r.stay_until,"
		" c.status, c.expires_on, x.auth_status, x.auth_expires, x.sign_status, x.sign_expires,"
		" r.addr_town, r.addr_block, r.addr_building, r.kana, r.birth, " CANDIDATE_FLAGS ", r.jlis_app_id"
		" FROM (SELECT id FROM cards WHERE expires_on > $1::int AND expires_on <= $2::int"
		"       UNION SELECT card FROM certificates WHERE expires_on > $1::int AND expires_on <= $2::int)"
		" AS hit"
		" JOIN cards c ON c.id = hit.id"
		" JOIN residents r ON r.id = c.resident"
		" CROSS JOIN LATERAL (SELECT max(status) FILTER (WHERE kind = 'auth') AS auth_status,"
		"   max(expires_on) FILTER (WHERE kind = 'auth') AS auth_expires,"
		"   max(status) FILTER (WHERE kind = 'sign') AS sign_status,"
		"   max(expires_on) FILTER (WHERE kind = 'sign') AS sign_expires"
		"   FROM (SELECT kind, status, expires_on FROM certificates WHERE card = c.id"
		"   ORDER BY card, kind LIMIT 2) AS k) AS x",
	[ST_REINQUIRY_DUE] = "SELECT n.id, n.resident, n.expiry, n.certs, r.postal_code, r.status"
			     " FROM notices n JOIN residents r ON r.id = n.resident WHERE n.state = 3 ORDER BY n.id",
	[ST_BATCH_NEW] = "INSERT INTO batches (id, run_date, state, created_at)"
			 " SELECT coalesce(max(id), 0) + 1, $1::int, 0, $2::text FROM batches RETURNING id",
	[ST_BATCH_STATE] = "UPDATE batches SET state = $2::int WHERE id = $1::bigint",
	[ST_BATCH_EXCL] = "INSERT INTO batch_exclusions (batch, reason, count) VALUES ($1::bigint, $2::text, $3::int)"
			  " ON CONFLICT (batch, reason) DO UPDATE SET count = batch_exclusions.count + excluded.count",
	/* The notices store_notice_add gathered, one array per column (notices_flush), each with its
	 * snapshot of the registry: given (kana not NULL: a candidate of this transaction, whose
	 * columns kigen read a moment ago), or else read here by the resident's id. The look-up is a
	 * subquery kept apart (OFFSET 0) so that its one-time filter skips it for a given row: joining
	 * residents, cards and certificates for every row took 0.4 s of each 10,000. One card per
	 * resident, one signature certificate per card; sign is its status, 0 for none. */
	[ST_NOTICE_ADD] =
		"INSERT INTO notices (id, app_id, resident, kind, target, certs, expiry, valid_until, batch, seq,"
		" state, parent, name, kana, postal_code, addr_town, addr_block, addr_building, birth,"
		" foreign_resident, has_sign_cert, created_at, jlis_app_id, sign_revoked)"
		" SELECT v.id, v.app_id, v.resident, v.kind, v.target, v.certs, v.expiry, v.valid_until, v.batch, "
		"v.seq,"
		" v.state, v.parent, coalesce(v.name, x.name), coalesce(v.kana, x.kana), coalesce(v.postal, x.postal),"
		" coalesce(v.town, x.town), coalesce(v.block, x.block), coalesce(v.building, x.building),"
		" coalesce(v.birth, x.birth), coalesce(v.foreign_resident, x.foreign_resident),"
		" (coalesce(v.sign, x.sign) = 1)::int, v.created_at,"
		" CASE WHEN v.target = 0 THEN coalesce(v.jlis, x.jlis) ELSE '' END, (coalesce(v.sign, x.sign) = 2)::int"
		" FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::int[], $5::int[], $6::int[], $7::int[],"
		"   $8::int[], $9::bigint[], $10::int[], $11::int[], $12::bigint[], $13::text[], $14::text[],"
		"   $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::int[], $21::int[],"
		"   $22::int[], $23::text[])"
		"   AS v(id, app_id, resident, kind, target, certs, expiry, valid_until, batch, seq, state, parent,"
		"   name, town, block, building, created_at, kana, postal, birth, foreign_resident, sign, jlis)"
		" LEFT JOIN LATERAL (SELECT r.name, r.kana, r.postal_code AS postal, r.addr_town AS town,"
		"   r.addr_block AS block, r.addr_building AS building, r.birth,"
		"   (r.nationality <> '')::int AS foreign_resident, coalesce(g.status, 0) AS sign, r.jlis_app_id AS "
		"jlis"
		"   FROM residents r LEFT JOIN cards c ON c.resident = r.id"
		"   LEFT JOIN certificates g ON g.card = c.id AND g.kind = 'sign'"
		"   WHERE v.kana IS NULL AND r.id = v.resident OFFSET 0) AS x ON true"
		" WHERE v.kana IS NOT NULL OR x.kana IS NOT NULL",
	[ST_NOTICE_LAST] = "SELECT last FROM notice_ids FOR UPDATE",
	[ST_NOTICE_LAST_SET] = "UPDATE notice_ids SET last = $1::bigint",
	[ST_BATCH_COUNT] = "UPDATE batches SET notices = notices + $2::int WHERE id = $1::bigint",
	[ST_NOTICE_REINQUIRED] = "UPDATE notices SET state = 4 WHERE id = $1::bigint AND state = 3",
	[ST_BATCHES] =
		"SELECT id, run_date, state, notices, created_at, error, stale_files FROM batches ORDER BY id DESC",
	[ST_BATCH_GET] = "SELECT id, run_date, state, notices, created_at, error, stale_files FROM batches WHERE id = "
			 "$1::bigint",
	[ST_BATCH_EXCLUSIONS] = "SELECT reason, count FROM batch_exclusions WHERE batch = $1::bigint ORDER BY reason",
	[ST_SETS] = "SELECT n.seq, n.batch, b.run_date, n.app_id, r.registry_id, n.name, n.kana, n.postal_code,"
		    " n.addr_town, n.addr_block, n.addr_building, n.kind, n.target, n.certs, n.valid_until, n.birth,"
		    " n.foreign_resident, n.has_sign_cert, n.jlis_app_id, n.sign_revoked"
		    " FROM notices n JOIN batches b ON b.id = n.batch JOIN residents r ON r.id = n.resident"
		    " WHERE n.batch = $1::bigint AND n.seq BETWEEN $2::int AND $3::int ORDER BY n.seq",
	[ST_NOTICE_BY_APPID] =
		"SELECT n.id, n.resident, n.app_id, n.kind, n.target, n.certs, n.expiry, n.valid_until, n.state,"
		" n.name, coalesce(a.serial, ''), coalesce(a.expires_on, -1000000), n.has_sign_cert"
		" FROM notices n LEFT JOIN cards c ON c.resident = n.resident"
		" LEFT JOIN certificates a ON a.card = c.id AND a.kind = 'auth'"
		" WHERE n.app_id = $1::text",
	[ST_NOTICE_MOVE] = "UPDATE notices SET state = $3::int WHERE id = $1::bigint AND state = $2::int",
	[ST_BATCH_ERROR] = "UPDATE batches SET error = $2::text WHERE id = $1::bigint",
	[ST_BATCH_PRINTED] = "UPDATE notices SET state = 1 WHERE batch = $1::bigint AND state = 0",
	[ST_BATCH_PLAN] = "SELECT seq, kind, target FROM notices WHERE batch = $1::bigint ORDER BY seq",
	[ST_BATCH_NO_JLIS] = "SELECT count(*) FROM notices WHERE batch = $1::bigint AND kind = 0 AND target = 0"
			     " AND jlis_app_id = ''",
	/* SQLite's INSERT OR REPLACE gives a replaced file a new rowid: it moves to the end. */
	[ST_FILE_PUT] = "INSERT INTO batch_files (batch, name, doc, pages, seq_from, seq_to)"
			" VALUES ($1::bigint, $2::text, $3::int, $4::int, $5::int, $6::int)"
			" ON CONFLICT (batch, name) DO UPDATE SET doc = excluded.doc, pages = excluded.pages,"
			" seq_from = excluded.seq_from, seq_to = excluded.seq_to, added = excluded.added",
	[ST_FILES] =
		"SELECT name, doc, pages, seq_from, seq_to FROM batch_files WHERE batch = $1::bigint ORDER BY added",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = $1::text",
	[ST_META_SET] = "INSERT INTO meta (key, value) VALUES ($1::text, $2::bigint)"
			" ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[ST_AUDIT] = "INSERT INTO redemptions (notice, app_id, at, terminal, staff, outcome, detail)"
		     " VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text)",
	[ST_RUN_TRY] = "SELECT pg_try_advisory_lock($1::bigint)",
	[ST_RUN_TRY_SHARED] = "SELECT pg_try_advisory_lock_shared($1::bigint)",
	/* A free name, one whose claim ran out, or the holder's own: one statement decides. */
	[ST_RENDER_CLAIM] = "INSERT INTO render_claims (batch, name, holder, until)"
			    " VALUES ($1::bigint, $2::text, $3::text, now() + $4::int * interval '1 second')"
			    " ON CONFLICT (batch, name) DO UPDATE SET holder = excluded.holder, until = excluded.until"
			    " WHERE render_claims.until < now() OR render_claims.holder = excluded.holder"
			    " RETURNING 1",
	[ST_RUN_HOLDER] =
		"INSERT INTO run_lock (id, what, host, pid, since) VALUES (1, $1::text, $2::text, $3::int, $4::text)"
		" ON CONFLICT (id) DO UPDATE SET what = excluded.what, host = excluded.host,"
		" pid = excluded.pid, since = excluded.since",
	[ST_RUN_WHO] = "SELECT what, host, pid, since FROM run_lock WHERE id = 1",
	/* holds */
	[ST_NOTICE_REF] = "SELECT n.id, n.app_id, n.state, coalesce(n.batch, 0), coalesce(b.state, -1)"
			  " FROM notices n LEFT JOIN batches b ON b.id = n.batch WHERE n.app_id = $1::text",
	[ST_NOTICE_MOVE_OUT] = "UPDATE notices SET state = $3::int,"
			       " batch = CASE WHEN $2::int = 0 THEN NULL ELSE batch END,"
			       " seq = CASE WHEN $2::int = 0 THEN NULL ELSE seq END"
			       " WHERE id = $1::bigint AND state = $2::int",
	[ST_NOTICE_EVENT] =
		"INSERT INTO notice_events (notice, app_id, at, action, batch, by, reason)"
		" VALUES ($1::bigint, (SELECT app_id FROM notices WHERE id = $1::bigint), $2::text, $3::text,"
		" $4::bigint, $5::text, $6::text)",
	[ST_RENUMBER_OUT] = "UPDATE notices SET seq = -seq WHERE batch = $1::bigint",
	[ST_RENUMBER_IN] = "UPDATE notices SET seq = o.rn FROM (SELECT id, row_number() OVER (ORDER BY seq DESC) AS rn"
			   " FROM notices WHERE batch = $1::bigint) AS o WHERE notices.id = o.id",
	[ST_BATCH_RECOUNT] = "UPDATE batches SET notices = (SELECT count(*) FROM notices WHERE batch = $1::bigint)"
			     " WHERE id = $1::bigint",
	[ST_FILES_CLEAR] = "DELETE FROM batch_files WHERE batch = $1::bigint",
	[ST_BATCH_STALE] = "UPDATE batches SET stale_files = $2::int WHERE id = $1::bigint",
	[ST_HELD] = "SELECT n.id, n.app_id, n.state, r.registry_id, n.name, e.at, e.by, e.reason, coalesce(e.batch, 0)"
		    " FROM notices n JOIN residents r ON r.id = n.resident"
		    " LEFT JOIN notice_events e ON e.id = (SELECT max(id) FROM notice_events WHERE notice = n.id)"
		    " WHERE n.state IN (6, 7) ORDER BY n.id",
	[ST_HELD_COUNT] = "SELECT count(*) FILTER (WHERE state = 6), count(*) FILTER (WHERE state = 7)"
			  " FROM notices WHERE state IN (6, 7)",
	[ST_BATCH_HOLDS] = "SELECT app_id, by, reason FROM notice_events WHERE batch = $1::bigint"
			   " AND action IN ('hold', 'void') ORDER BY id",
	[ST_RELEASED] = "SELECT n.id, n.resident, n.app_id, n.kind, n.target, n.certs, n.expiry, n.valid_until,"
			" r.status, r.kyosho, (r.nationality <> '')::int, r.birth, r.postal_code, r.kana,"
			" r.name, r.addr_town, r.addr_block, r.addr_building,"
			" (EXISTS (SELECT 1 FROM cards c JOIN certificates g ON g.card = c.id AND g.kind = 'sign'"
			"         WHERE c.resident = r.id AND g.status = 1))::int"
			" FROM notices n JOIN residents r ON r.id = n.resident WHERE n.state = 7 ORDER BY n.id",
	[ST_REQUEUE] =
		"UPDATE notices SET batch = $2::bigint, seq = $3::int, state = 0,"
		" name = coalesce($4::text, r.name), kana = r.kana, postal_code = r.postal_code,"
		" addr_town = coalesce($5::text, r.addr_town), addr_block = coalesce($6::text, r.addr_block),"
		" addr_building = coalesce($7::text, r.addr_building), birth = r.birth,"
		" foreign_resident = (r.nationality <> '')::int,"
		" has_sign_cert = (EXISTS (SELECT 1 FROM cards c JOIN certificates g ON g.card = c.id"
		"   AND g.kind = 'sign' WHERE c.resident = r.id AND g.status = 1))::int,"
		" jlis_app_id = CASE WHEN notices.target = 0 THEN r.jlis_app_id ELSE '' END,"
		" sign_revoked = (EXISTS (SELECT 1 FROM cards c JOIN certificates g ON g.card = c.id"
		"   AND g.kind = 'sign' WHERE c.resident = r.id AND g.status = 2))::int"
		" FROM residents r WHERE r.id = notices.resident AND notices.id = $1::bigint AND notices.state = 7",
	/* returned mail (返戻) and the desk's day; text compared as SQLite does (bytes: COLLATE "C") */
	[ST_MAILED_BY_APPID] = MAILED_COLUMNS "WHERE n.app_id = $1::text",
	[ST_MAILED_BY_SEQ] = MAILED_COLUMNS "WHERE n.batch = $1::bigint AND n.seq = $2::int",
	[ST_RETURNED_ADD] =
		"INSERT INTO returned_mail (notice, reason, at, terminal, staff)"
		" VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text) ON CONFLICT (notice) DO NOTHING",
	[ST_RETURNED_EACH] =
		"SELECT n.app_id, r.registry_id, n.name, n.postal_code,"
		" n.addr_town || n.addr_block || CASE WHEN n.addr_building <> '' THEN '　' ||"
		" n.addr_building ELSE '' END, m.reason, m.at, m.staff, coalesce(x.app_id, ''), " SAME_ADDRESS "::int"
		" FROM returned_mail m JOIN notices n ON n.id = m.notice"
		" JOIN residents r ON r.id = n.resident LEFT JOIN notices x ON x.id = m.remailed"
		" ORDER BY m.at COLLATE \"C\", n.id",
	[ST_RETURNED_COUNT] = "SELECT count(*) - count(remailed), count(remailed) FROM returned_mail",
	[ST_RETURNED_AT_ADDRESS] = "SELECT 1 FROM returned_mail m JOIN notices n ON n.id = m.notice"
				   " JOIN residents r ON r.id = n.resident"
				   " WHERE n.resident = $1::bigint AND m.remailed IS NULL AND " SAME_ADDRESS " LIMIT 1",
	[ST_REMAIL_DUE] = "SELECT n.id, n.resident, n.kind, n.target, n.certs, n.expiry, n.valid_until,"
			  " r.postal_code FROM returned_mail m JOIN notices n ON n.id = m.notice"
			  " JOIN residents r ON r.id = n.resident"
			  " WHERE m.remailed IS NULL AND r.status = 0 AND n.expiry >= $1::int AND NOT " SAME_ADDRESS
			  " ORDER BY n.id",
	[ST_RETURNED_REMAILED] = "UPDATE returned_mail SET remailed = (SELECT id FROM notices WHERE app_id = $2::text)"
				 " WHERE notice = $1::bigint AND remailed IS NULL",
	[ST_RETURNED_VOID] = "UPDATE notices SET state = 5 WHERE id = $1::bigint AND state IN (0, 1)",
	[ST_AUDIT_SINCE] = "SELECT a.at, a.app_id, coalesce(n.name, ''), a.staff, a.outcome"
			   " FROM redemptions a LEFT JOIN notices n ON n.id = a.notice"
			   " WHERE a.terminal = $1::text AND a.at COLLATE \"C\" >= $2::text ORDER BY a.id DESC",
};

/* The columns of import_rows, in the order put_resident writes them. */
static const char import_table[] =
	"CREATE TEMP TABLE import_rows ("
	"  line bigint NOT NULL, registry_id text NOT NULL, name text NOT NULL, kana text NOT NULL,"
	"  birth integer NOT NULL, sex integer NOT NULL, postal_code text NOT NULL,"
	"  addr_town text NOT NULL, addr_block text NOT NULL, addr_building text NOT NULL,"
	"  nationality text NOT NULL, stay_until integer, kyosho integer NOT NULL, status integer NOT NULL,"
	"  updated_at text NOT NULL, has_card integer NOT NULL,"
	"  card_issued integer, card_received integer, card_expires integer, card_status integer,"
	"  face_auth integer,"
	"  auth_status integer, auth_issued integer, auth_expires integer, auth_serial text,"
	"  sign_status integer, sign_issued integer, sign_expires integer, sign_serial text,"
	"  jlis_app_id text NOT NULL,"
	"  card_no bigint, auth_no bigint, sign_no bigint)" /* ordinals in the file (struct store) */
	" ON COMMIT DROP";

static const struct store_ops pg_ops;

enum { NOTICES_AT_ONCE = 10000 };

struct store {
	const struct store_ops *ops; /* first: store.c reads it */
	PGconn *conn;
	char *name; /* as given, for messages (it holds no password: that is refused) */
	bool prepared[ST_COUNT];
	bool in_tx;
	bool run_locked; /* holds the run lock (store_run_lock) */
	/* Notice ids and batch counts of the open transaction, written once at its commit: updating
	 * one row per notice would leave a chain of versions each update walks (quadratic). */
	bool ids_loaded;
	int64_t last_notice; /* the largest notice id given, this transaction's included */
	int64_t count_batch; /* the batch that gained count_pending notices */
	long count_pending;
	/* New notices of the open transaction not yet sent, one PostgreSQL array literal per column
	 * of ST_NOTICE_ADD: sent as one statement before any other (a round trip per notice made a
	 * night of 100,000 notices take minutes), NOTICES_AT_ONCE at a time. */
	struct sbuf adds[23];
	long adds_n;
	long adds_sent; /* notices sent in a statement whose result is not read yet (notices_send) */
	/* A COPY of new notices is open (notice_copy): the notices of candidates this transaction read,
	 * whose every column kigen knows, go by it. Its rows go through chunk, as the import's do. */
	bool notices_copying;
	bool notices_bulk; /* this transaction dropped the notices' foreign keys (pg_notices_expect) */
	/* The registry columns of the candidates this transaction read (pg_each_candidate), kept to
	 * the transaction's end as SEEN_COLUMNS strings each in seen_text, and where each resident's
	 * start, sorted by resident id: the registry columns of a notice for one of them are sent
	 * with it, not read again (ST_NOTICE_ADD). */
	struct sbuf seen_text;
	struct seen {
		int64_t resident;
		size_t at;
	} * seen_at;
	size_t seen_n, seen_alloc;
	bool seen_ready;         /* seen_at is complete and sorted */
	struct store *next_open; /* the process's open connections (forget_in_child) */
	pid_t pid;               /* the process that opened it: no other may use it */
	bool copying;            /* a COPY of import rows is open */
	/* The ordinals of this COPY's rows, of their cards and of their certificates (auth before
	 * sign), in the order SQLite would number them: the ids of a load into empty tables (bulk_load). */
	long copy_rows, copy_cards, copy_certs;
	bool copy_ascending;   /* each registry id of this COPY sorts after the one before */
	struct sbuf copy_last; /* the registry id of this COPY's last row */
	struct sbuf chunk;     /* COPY data not yet sent */
	char copy_now[32];     /* updated_at of this COPY's rows (strftime per row: 2% of the CPU) */
};

/* A bound parameter list: values as text, NULL for SQL NULL. */
struct args {
	int n;
	const char *v[24];
	char num[24][24];
};

static void arg_int(struct args *a, long long v)
{
	snprintf(a->num[a->n], sizeof a->num[a->n], "%lld", v);
	a->v[a->n] = a->num[a->n];
	a->n++;
}

static void arg_text(struct args *a, const char *t)
{
	a->v[a->n++] = t;
}

static long long col_int(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int col_date(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? RULES_NO_DATE : (int)col_int(r, row, col);
}

static const char *col_text(const PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col); /* "" for NULL */
}

/* The failure of the last command, in words a staff member can act on. */
static enum kg_err pg_fail(struct store *s, const char *what, const PGresult *r)
{
	if (PQstatus(s->conn) == CONNECTION_BAD)
		return kg_fail(KG_EDB,
		               "%s: %s: the connection to the database server was lost; this run stopped and "
		               "nothing of its unfinished work was recorded",
		               s->name, what);
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!msg)
		msg = PQerrorMessage(s->conn);
	if (state && !strcmp(state, "55P03"))
		return kg_fail(KG_ELOCKED, "%s: the database is busy with another run", s->name);
	return kg_fail(KG_EDB, "%s: %s: %s", s->name, what, msg);
}

static enum kg_err copy_flush(struct store *s);
static enum kg_err notices_flush(struct store *s);
static enum kg_err drain(struct store *s, const char *what, enum kg_err err);

/* --- connections across fork ----------------------------------------------------------------
 *
 * A forked child (a render worker) gets a copy of every descriptor, the sockets of its parent's
 * sessions too: the run lock lives on one of them, and the server ends a session only once no
 * process holds its socket. So a child lets go of them at once: each inherited socket becomes
 * /dev/null at the same number, so that the child neither keeps a killed runner's lock alive
 * nor, should it touch such a connection, talks into its parent's session (PQfinish's goodbye
 * included) or into a file that took the number. The connection itself refuses to serve any
 * process but the one that opened it. Workers open sessions of their own. */

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store *open_stores;

static void lock_open(void)
{
	pthread_mutex_lock(&open_lock);
}

static void unlock_open(void)
{
	pthread_mutex_unlock(&open_lock);
}

static void forget_in_child(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (struct store *s = open_stores; s; s = s->next_open) {
		int fd = PQsocket(s->conn);
		if (fd >= 0 && (null < 0 || dup3(null, fd, O_CLOEXEC) < 0))
			close(fd);
	}
	if (null >= 0)
		close(null);
	unlock_open();
}

static enum kg_err remember_open(struct store *s)
{
	static bool atfork_set;
	lock_open();
	if (!atfork_set)
		atfork_set = pthread_atfork(lock_open, unlock_open, forget_in_child) == 0;
	if (atfork_set) {
		s->next_open = open_stores;
		open_stores = s;
	}
	unlock_open();
	s->pid = getpid();
	return atfork_set ? KG_OK : kg_fail(KG_ENOMEM, "pthread_atfork failed");
}

static void forget_open(struct store *s)
{
	lock_open();
	for (struct store **p = &open_stores; *p; p = &(*p)->next_open)
		if (*p == s) {
			*p = s->next_open;
			break;
		}
	unlock_open();
}

/* A connection is used only by the process that opened it (see above). */
static enum kg_err own(struct store *s)
{
	return s->pid == getpid() ? KG_OK
	                          : kg_fail(KG_EDB, "%s: a connection of process %ld used in process %ld", s->name,
	                                    (long)s->pid, (long)getpid());
}

/* Prepares statement id once per session, under the name it gets in name. */
static enum kg_err prepare(struct store *s, enum stmt_id id, const char *what, char name[16])
{
	snprintf(name, 16, "k%d", (int)id);
	if (s->prepared[id])
		return KG_OK;
	PGresult *p = PQprepare(s->conn, name, sql[id], 0, NULL);
	enum kg_err err = PQresultStatus(p) == PGRES_COMMAND_OK ? KG_OK : pg_fail(s, what, p);
	PQclear(p);
	s->prepared[id] = !err;
	return err;
}

/* What the transaction gathered (import rows, new notices) goes before any statement. */
static enum kg_err before_statement(struct store *s)
{
	enum kg_err err = own(s);
	if (!err && s->copying)
		err = copy_flush(s);
	if (!err)
		err = notices_flush(s);
	return err;
}

/* Runs prepared statement id with a; the result (rows or none) on success, else NULL and *err. */
static PGresult *run(struct store *s, enum stmt_id id, const struct args *a, const char *what, enum kg_err *err)
{
	char name[16];
	if ((*err = before_statement(s)) || (*err = prepare(s, id, what, name)))
		return NULL;
	PGresult *r = PQexecPrepared(s->conn, name, a ? a->n : 0, a ? a->v : NULL, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		*err = pg_fail(s, what, r);
		PQclear(r);
		return NULL;
	}
	*err = KG_OK;
	return r;
}

/* Sends prepared statement id with a, its rows to come one by one (PQgetResult: one
 * PGRES_SINGLE_TUPLE result a row, then PGRES_TUPLES_OK), and then drain. */
static enum kg_err send(struct store *s, enum stmt_id id, const struct args *a, const char *what)
{
	char name[16];
	enum kg_err err;
	if ((err = before_statement(s)) || (err = prepare(s, id, what, name)))
		return err;
	if (!PQsendQueryPrepared(s->conn, name, a->n, a->v, NULL, NULL, 0))
		return pg_fail(s, what, NULL);
	if (!PQsetSingleRowMode(s->conn)) {
		PQclear(PQgetResult(s->conn));
		return drain(s, what, kg_fail(KG_EDB, "%s: %s: no row-by-row mode", s->name, what));
	}
	return KG_OK;
}

/* Reads what is left of a sent statement's results: err, or the failure among them. */
static enum kg_err drain(struct store *s, const char *what, enum kg_err err)
{
	for (PGresult *r; (r = PQgetResult(s->conn)); PQclear(r)) {
		ExecStatusType st = PQresultStatus(r);
		if (!err && st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
			err = pg_fail(s, what, r);
	}
	return err;
}

/* Runs a statement that finds one row: its result, else NULL and *err (KG_ENOTFOUND: "no
 * <noun> <key>" when there is no such row). */
static PGresult *run_row(struct store *s, enum stmt_id id, const struct args *a, const char *noun, const char *key,
                         enum kg_err *err)
{
	PGresult *r = run(s, id, a, noun, err);
	if (r && PQntuples(r) != 1) {
		PQclear(r);
		r = NULL;
		*err = kg_fail(KG_ENOTFOUND, "no %s %s", noun, key);
	}
	return r;
}

/* Runs a statement whose rows, if any, are not needed. */
static enum kg_err run_done(struct store *s, enum stmt_id id, const struct args *a, const char *what)
{
	enum kg_err err;
	PQclear(run(s, id, a, what, &err));
	return err;
}

/* Runs SQL text without parameters (transaction control, the schema). */
static enum kg_err exec(struct store *s, const char *text, const char *what)
{
	enum kg_err err;
	if ((err = own(s)) || (err = notices_flush(s)))
		return err;
	PGresult *r = PQexec(s->conn, text);
	ExecStatusType st = PQresultStatus(r);
	err = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? KG_OK : pg_fail(s, what, r);
	PQclear(r);
	return err;
}

/* libpq prints the server's notices on stderr by default; kigen's messages are its own. */
static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static int pg_version(struct store *s)
{
	enum kg_err err;
	PGresult *r = run(s, ST_VERSION, NULL, "schema version", &err);
	int v = r && PQntuples(r) == 1 ? (int)col_int(r, 0, 0) : 0;
	PQclear(r);
	return v;
}

/* Does the database already have every migration? Asked without DDL or locks, so the roles of the
 * machines need no right to create anything (README: roles and grants). */
static bool up_to_date(struct store *s)
{
	PGresult *r = PQexec(s->conn, "SELECT to_regclass('kigen_schema') IS NOT NULL");
	bool have = PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	return have && pg_version(s) == (int)KG_ARRAY_SIZE(migrations);
}

static enum kg_err migrate(struct store *s)
{
	if (up_to_date(s))
		return KG_OK;
	struct args a = {0};
	arg_int(&a, KEY_MIGRATE);
	enum kg_err err;
	/* One opener at a time upgrades; the others wait and find the work done. */
	if ((err = exec(s, "BEGIN", "migrate")) || (err = run_done(s, ST_LOCK_WRITER, &a, "migrate")) ||
	    (err = exec(s,
	                "CREATE TABLE IF NOT EXISTS kigen_schema (version integer NOT NULL);"
	                "INSERT INTO kigen_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM kigen_schema)",
	                "migrate")))
		goto out;
	int version = pg_version(s);
	if (version > (int)KG_ARRAY_SIZE(migrations)) {
		err = kg_fail(KG_EDB, "%s: schema version %d is newer than this kigen (%zu)", s->name, version,
		              KG_ARRAY_SIZE(migrations));
		goto out;
	}
	for (int v = version; !err && v < (int)KG_ARRAY_SIZE(migrations); v++) {
		char set[64];
		/* The value is our own loop counter, never input. */
		snprintf(set, sizeof set, "UPDATE kigen_schema SET version = %d", v + 1);
		if (!(err = exec(s, migrations[v], "migrate")))
			err = exec(s, set, "migrate");
	}
	if (!err)
		err = exec(s, "COMMIT", "migrate");
out:
	if (err)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	return err;
}

/* Refuses a password in the name or in PGPASSWORD: both show up in ps, logs and shell history. */
static enum kg_err no_password(const char *conninfo)
{
	if (getenv("PGPASSWORD"))
		return kg_fail(KG_EUSAGE, "PGPASSWORD is set: kigen takes the database password only from "
		                          "libpq's password file (~/.pgpass, PGPASSFILE) or service file");
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
	if (!opts) {
		enum kg_err err = kg_fail(KG_EUSAGE, "the database name is not a libpq URI or connection string: %s",
		                          msg ? msg : "out of memory");
		PQfreemem(msg);
		return err;
	}
	bool has = false;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		has |= !strcmp(o->keyword, "password") && o->val && *o->val;
	PQconninfoFree(opts);
	return has ? kg_fail(KG_EUSAGE, "the database name holds a password: put it in libpq's password file "
	                                "(~/.pgpass) or service file instead")
	           : KG_OK;
}

enum kg_err store_pg_open(const char *conninfo, struct store **out)
{
	enum kg_err err = no_password(conninfo);
	if (err)
		return err;
	static const char *const keys[] = {"dbname", "fallback_application_name", "client_encoding", NULL};
	const char *values[] = {conninfo, "kigen", "UTF8", NULL};
	struct store *s = kg_calloc(1, sizeof *s);
	s->ops = &pg_ops;
	s->name = kg_strdup(conninfo);
	sbuf_init(&s->chunk, 0);
	sbuf_init(&s->copy_last, 0);
	sbuf_init(&s->seen_text, 0);
	for (size_t i = 0; i < KG_ARRAY_SIZE(s->adds); i++)
		sbuf_init(&s->adds[i], 0);
	s->conn = PQconnectdbParams(keys, values, 1);
	if ((err = remember_open(s)))
		goto out;
	if (PQstatus(s->conn) != CONNECTION_OK) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->conn));
		msg[strcspn(msg, "\n")] = '\0';
		err = kg_fail(KG_EDB, "%s: cannot connect: %s", s->name, msg);
		goto out;
	}
	PQsetNoticeProcessor(s->conn, quiet, NULL);
	/* A writer waits for another as long as SQLite's busy timeout, then says the database is busy;
	 * unless the service file or PGOPTIONS set a lock_timeout of their own. No JIT: compiling the
	 * selection's candidates query took 0.76 s of its 2.9 s over 1,000,000 residents
	 * (EXPLAIN ANALYZE), and kigen runs each large statement once a night. */
	if ((err = exec(s,
	                "SET jit = off;"
	                "SELECT set_config('lock_timeout', '10s', false) WHERE current_setting('lock_timeout') = '0'",
	                "connect")) ||
	    (err = migrate(s)))
		goto out;
out:
	if (err) {
		pg_ops.close(s);
		return err;
	}
	*out = s;
	return KG_OK;
}

static void pg_close(struct store *s)
{
	/* The server frees a closed session's locks only when its backend has exited, after
	 * PQfinish returns; the next run, started at once, must find the run lock free. */
	forget_open(s);
	if (s->pid == getpid()) { /* a parent's session is ended by its process only (forget_in_child) */
		if (s->run_locked)
			PQclear(PQexec(s->conn, "SELECT pg_advisory_unlock_all()"));
		PQfinish(s->conn);
	}
	sbuf_release(&s->chunk);
	sbuf_release(&s->copy_last);
	for (size_t i = 0; i < KG_ARRAY_SIZE(s->adds); i++)
		sbuf_release(&s->adds[i]);
	sbuf_release(&s->seen_text);
	free(s->seen_at);
	free(s->name);
	free(s);
}

/* Writes the notice counter and the batch count the transaction has gathered. */
static enum kg_err flush_counts(struct store *s)
{
	enum kg_err err = KG_OK;
	if (s->count_pending) {
		struct args a = {0}, b = {0};
		arg_int(&a, s->count_batch);
		arg_int(&a, s->count_pending);
		arg_int(&b, s->last_notice);
		if (!(err = run_done(s, ST_BATCH_COUNT, &a, "batch")))
			err = run_done(s, ST_NOTICE_LAST_SET, &b, "notice");
	}
	s->count_pending = 0;
	s->ids_loaded = s->ids_loaded && s->in_tx && !err;
	return err;
}

static void forget_seen(struct store *s)
{
	sbuf_reset(&s->seen_text);
	s->seen_n = 0;
	s->seen_ready = false;
}

static void forget_counts(struct store *s)
{
	s->ids_loaded = false;
	s->count_pending = 0;
	s->adds_n = 0;
	s->adds_sent = 0;
	s->notices_bulk = false;
	for (size_t i = 0; i < KG_ARRAY_SIZE(s->adds); i++)
		sbuf_reset(&s->adds[i]);
	forget_seen(s);
}

static enum kg_err pg_begin(struct store *s)
{
	struct args a = {0};
	arg_int(&a, KEY_WRITER);
	enum kg_err err = exec(s, "BEGIN", "begin");
	if (!err && (err = run_done(s, ST_LOCK_WRITER, &a, "begin")))
		PQclear(PQexec(s->conn, "ROLLBACK"));
	s->in_tx = !err;
	forget_counts(s);
	return err;
}

static enum kg_err pg_commit(struct store *s)
{
	enum kg_err err = own(s);
	if (!err && s->copying)
		err = copy_flush(s);
	if (err || (err = notices_flush(s)) || (err = flush_counts(s)) ||
	    (s->notices_bulk && (err = exec(s, bulk_notices_redo, "notice"))))
		return err;
	forget_counts(s);
	PGresult *r = PQexec(s->conn, "COMMIT");
	/* COMMIT of a failed transaction "succeeds" as ROLLBACK. */
	if (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT"))
		err = PQresultStatus(r) == PGRES_COMMAND_OK
		              ? kg_fail(KG_EDB, "%s: commit: the transaction had failed and was rolled back", s->name)
		              : pg_fail(s, "commit", r);
	PQclear(r);
	s->in_tx = false;
	return err;
}

static void pg_rollback(struct store *s)
{
	if (s->pid != getpid())
		return;
	if (s->copying || s->notices_copying) {
		s->copying = s->notices_copying = false;
		sbuf_reset(&s->chunk);
		if (PQputCopyEnd(s->conn, "rolled back") == 1)
			for (PGresult *r; (r = PQgetResult(s->conn));)
				PQclear(r);
	}
	if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	s->in_tx = false;
	forget_counts(s);
}

/* --- the run lock -------------------------------------------------------------------------- */

static enum kg_err pg_run_lock(struct store *s, const char *what, bool shared)
{
	struct args a = {0};
	arg_int(&a, KEY_RUN);
	enum kg_err err;
	PGresult *r = run(s, shared ? ST_RUN_TRY_SHARED : ST_RUN_TRY, &a, "run lock", &err);
	if (!r)
		return err;
	bool got = !strcmp(col_text(r, 0, 0), "t");
	PQclear(r);
	if (!got) {
		if (!(r = run(s, ST_RUN_WHO, NULL, "run lock", &err)))
			return err;
		err = PQntuples(r) == 1
		              ? kg_fail(KG_ELOCKED,
		                        "another run holds the database lock of %s (kigen %s on %s, pid %s, "
		                        "since %s)",
		                        s->name, col_text(r, 0, 0), col_text(r, 0, 1), col_text(r, 0, 2),
		                        col_text(r, 0, 3))
		              : kg_fail(KG_ELOCKED, "another run holds the database lock of %s (starting)", s->name);
		PQclear(r);
		return err;
	}
	s->run_locked = true;
	char host[256] = "?", since[32];
	gethostname(host, sizeof host - 1);
	store_now_text(since);
	struct args h = {0};
	arg_text(&h, what);
	arg_text(&h, host);
	arg_int(&h, getpid());
	arg_text(&h, since);
	return run_done(s, ST_RUN_HOLDER, &h, "run lock");
}

/* --- residents: the import streams its rows with COPY ------------------------------------- */

/* One definition for the import and `kigen db copy` (store_backend.h). */
void store_copy_value(struct sbuf *b, const char *v)
{
	if (!v) {
		sbuf_adds(b, "\\N");
		return;
	}
	/* Spans without a character COPY escapes go in whole: byte by byte, the formatting of a
	 * million rows was a fifth of the import's CPU in kigen (perf). */
	for (;;) {
		size_t n = strcspn(v, "\\\t\n\r");
		sbuf_add(b, v, n);
		v += n;
		if (!*v)
			break;
		switch (*v++) {
		case '\\': sbuf_adds(b, "\\\\"); break;
		case '\t': sbuf_adds(b, "\\t"); break;
		case '\n': sbuf_adds(b, "\\n"); break;
		default: sbuf_adds(b, "\\r"); break;
		}
	}
}

static void copy_text(struct sbuf *b, const char *t)
{
	store_copy_value(b, t);
	sbuf_addc(b, '\t');
}

/* v in decimal and then end, into b: the import writes some ten integers a row, a night's
 * notices as many each, without snprintf's formatting machinery. */
static void add_int(struct sbuf *b, long long v, char end)
{
	char d[24], *p = d + sizeof d;
	unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
	*--p = end;
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	sbuf_add(b, p, (size_t)(d + sizeof d - p));
}

static void copy_int(struct sbuf *b, long long v)
{
	add_int(b, v, '\t');
}

static void copy_date(struct sbuf *b, int day)
{
	if (day == RULES_NO_DATE)
		sbuf_adds(b, "\\N\t");
	else
		copy_int(b, day);
}

/* The next ordinal of *n if the row has the thing counted, else NULL. */
static void copy_ordinal(struct sbuf *b, bool has, long *n)
{
	if (has)
		copy_int(b, ++*n);
	else
		sbuf_adds(b, "\\N\t");
}

static void copy_cert(struct sbuf *b, const struct store_cert *c)
{
	copy_int(b, c->status);
	copy_int(b, c->issued_on);
	copy_int(b, c->expires_on);
	copy_text(b, c->serial ? c->serial : "");
}

static enum kg_err copy_send(struct store *s, const char *what)
{
	if (s->chunk.len && PQputCopyData(s->conn, s->chunk.buf, (int)s->chunk.len) != 1)
		return pg_fail(s, what, NULL);
	sbuf_reset(&s->chunk);
	return KG_OK;
}

/* Merges import_last into the registry tables (the statements' comment above). */
/* Drops what the DDL list ddl (bulk_registry, bulk_notices) names until bulk_redo, at the end of
 * the same transaction, adds it again; a rollback brings it back as it was. */
static enum kg_err bulk_drop(struct store *s, const char *ddl, const char *what)
{
	enum kg_err err = exec(s, ddl, what);
	return err ? err : exec(s, bulk_undo, what);
}

static enum kg_err merge(struct store *s, const char *analyze)
{
	static const enum stmt_id merge[] = {ST_IMPORT_RESIDENTS, ST_IMPORT_CARDS_DEL, ST_IMPORT_CARDS,
	                                     ST_IMPORT_CERTS_DEL, ST_IMPORT_CERTS};
	enum kg_err err = exec(s, analyze, "import");
	for (size_t i = 0; !err && i < KG_ARRAY_SIZE(merge); i++)
		err = run_done(s, merge[i], NULL, "import");
	return err;
}

/* Loads import_rows into the empty registry tables by the ordinals of its rows; the tables'
 * owner drops and rebuilds their indexes and foreign keys around the load (bulk_registry). */
static enum kg_err bulk_load(struct store *s, bool owner)
{
	static const enum stmt_id load[] = {ST_BULK_RESIDENTS, ST_BULK_CARDS, ST_BULK_CERTS};
	enum kg_err err = owner ? bulk_drop(s, bulk_registry, "import") : KG_OK;
	for (size_t i = 0; !err && i < KG_ARRAY_SIZE(load); i++)
		err = run_done(s, load[i], NULL, "import");
	return err || !owner ? err : exec(s, bulk_redo, "import");
}

/* Ends the COPY and merges its rows into the registry tables. */
static enum kg_err copy_flush(struct store *s)
{
	enum kg_err err = copy_send(s, "import");
	s->copying = false;
	if (err)
		return err;
	if (PQputCopyEnd(s->conn, NULL) != 1)
		return pg_fail(s, "import", NULL);
	for (PGresult *r; (r = PQgetResult(s->conn));) {
		if (!err && PQresultStatus(r) != PGRES_COMMAND_OK)
			err = pg_fail(s, "import", r);
		PQclear(r);
	}
	if (!err)
		err = exec(s, s->copy_ascending ? import_view : import_last, "import");
	struct args a = {0};
	arg_text(&a, s->copy_ascending ? "true" : "false");
	bool empty = false, owner = false;
	if (!err) {
		PGresult *r = run(s, ST_BULK_CHECK, &a, "import", &err);
		empty = r && !strcmp(col_text(r, 0, 0), "t");
		owner = r && !strcmp(col_text(r, 0, 1), "t");
		PQclear(r);
	}
	if (!err)
		err = empty ? bulk_load(s, owner)
		            : merge(s, s->copy_ascending ? "ANALYZE import_rows" : "ANALYZE import_last");
	return err ? err
	           : exec(s,
	                  s->copy_ascending ? "DROP VIEW import_last; DROP TABLE import_rows"
	                                    : "DROP TABLE import_rows, import_last",
	                  "import");
}

static enum kg_err pg_put_resident(struct store *s, const struct store_resident *r)
{
	enum kg_err err;
	if (!s->copying) {
		if (!s->in_tx)
			return kg_fail(KG_EDB, "%s: residents are written inside a transaction", s->name);
		if ((err = exec(s, import_table, "import")))
			return err;
		PGresult *q = PQexec(s->conn, "COPY import_rows FROM STDIN");
		err = PQresultStatus(q) == PGRES_COPY_IN ? KG_OK : pg_fail(s, "import", q);
		PQclear(q);
		if (err)
			return err;
		s->copying = true;
		s->copy_ascending = true;
		s->copy_rows = s->copy_cards = s->copy_certs = 0;
		store_now_text(s->copy_now);
		sbuf_reset(&s->copy_last);
	}
	if (s->copy_last.len && strcmp(r->registry_id, s->copy_last.buf) <= 0)
		s->copy_ascending = false;
	sbuf_reset(&s->copy_last);
	sbuf_adds(&s->copy_last, r->registry_id);
	struct sbuf *b = &s->chunk;
	copy_int(b, ++s->copy_rows);
	copy_text(b, r->registry_id);
	copy_text(b, r->name);
	copy_text(b, r->kana);
	copy_int(b, r->birth);
	copy_int(b, r->sex);
	copy_text(b, r->postal_code);
	copy_text(b, r->addr_town);
	copy_text(b, r->addr_block);
	copy_text(b, r->addr_building);
	copy_text(b, r->nationality ? r->nationality : "");
	copy_date(b, r->stay_until);
	copy_int(b, r->kyosho);
	copy_int(b, r->status);
	copy_text(b, s->copy_now);
	copy_int(b, r->has_card);
	copy_int(b, r->card_issued);
	copy_date(b, r->card_received);
	copy_int(b, r->card_expires);
	copy_int(b, r->card_status);
	copy_int(b, r->face_auth);
	copy_cert(b, &r->auth);
	copy_cert(b, &r->sign);
	copy_text(b, r->jlis_app_id ? r->jlis_app_id : "");
	bool card = r->has_card, auth = card && r->auth.status != STORE_CERT_NONE,
	     sign = card && r->sign.status != STORE_CERT_NONE;
	copy_ordinal(b, card, &s->copy_cards);
	copy_ordinal(b, auth, &s->copy_certs);
	copy_ordinal(b, sign, &s->copy_certs);
	b->buf[b->len - 1] = '\n'; /* the last tab ends the row */
	if ((err = sbuf_check(b)))
		return err;
	return b->len >= 1 << 16 ? copy_send(s, "import") : KG_OK;
}

static enum kg_err pg_count_residents(struct store *s, long *n)
{
	enum kg_err err;
	PGresult *r = run(s, ST_RESIDENT_COUNT, NULL, "count", &err);
	if (!r)
		return err;
	*n = (long)col_int(r, 0, 0);
	PQclear(r);
	return KG_OK;
}

/* --- selection ---------------------------------------------------------------------------- */

static int cert_status_at(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? STORE_CERT_NONE : (int)col_int(r, row, col);
}

static int by_resident(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;
	return (x->resident > y->resident) - (x->resident < y->resident);
}

/* The candidates' columns a notice takes from the registry, in the order remember_seen keeps
 * them: name, town, block, building (struct store_candidate's printed), kana, postal code,
 * birth, foreign, the signature certificate's status (0: none) and J-LIS's 申請書ID. */
enum { SEEN_KANA = 4, SEEN_POSTAL, SEEN_BIRTH, SEEN_FOREIGN, SEEN_SIGN, SEEN_JLIS, SEEN_COLUMNS };
static const int seen_col[SEEN_COLUMNS] = {2, 13, 14, 15, 16, 1, 17, 5, 11, 22};

/* The columns of a notice_copy row, the registry's in seen_col's order. */
static const char notices_copy_in[] =
	"COPY notices (id, app_id, resident, kind, target, certs, expiry, valid_until, batch, seq, state, parent,"
	" name, addr_town, addr_block, addr_building, kana, postal_code, birth, foreign_resident, created_at,"
	" has_sign_cert, jlis_app_id, sign_revoked) FROM STDIN";

/* Keeps the registry columns of candidate row q to the end of the transaction (struct store,
 * seen); only inside one, where the writer lock (store_begin) keeps the registry as q read it. */
static void remember_seen(struct store *s, const PGresult *q)
{
	KG_GROW(s->seen_at, s->seen_n + 1, s->seen_alloc);
	s->seen_at[s->seen_n++] = (struct seen){col_int(q, 0, 0), s->seen_text.len};
	for (int i = 0; i < SEEN_COLUMNS; i++) {
		const char *v = i == SEEN_SIGN && PQgetisnull(q, 0, seen_col[i]) ? "0" : col_text(q, 0, seen_col[i]);
		sbuf_add(&s->seen_text, v, strlen(v) + 1);
	}
}

/* The registry columns of resident in the candidates this transaction read, into col; false
 * if it read none of resident. */
static bool seen_columns(const struct store *s, int64_t resident, const char *col[SEEN_COLUMNS])
{
	struct seen key = {resident, 0};
	const struct seen *at = s->seen_ready ? bsearch(&key, s->seen_at, s->seen_n, sizeof key, by_resident) : NULL;
	if (!at)
		return false;
	const char *v = s->seen_text.buf + at->at;
	for (int i = 0; i < SEEN_COLUMNS; v += strlen(v) + 1)
		col[i++] = v;
	return true;
}

static enum kg_err pg_each_candidate(struct store *s, int after, int upto,
                                     enum kg_err (*fn)(void *ctx, const struct store_candidate *c), void *ctx)
{
	struct args a = {0};
	arg_int(&a, after);
	arg_int(&a, upto);
	forget_seen(s);
	/* Row by row, as the server finds them: kigen weighs each candidate (select.c, the layout's
	 * check) while the server looks up the next, on the other core; waiting for all of them
	 * first left one side idle for the other's 0.5 s over 1,000,000 residents. */
	enum kg_err err = send(s, ST_CANDIDATES, &a, "candidates");
	PGresult *q = NULL;
	while (!err && (q = PQgetResult(s->conn)) && PQresultStatus(q) == PGRES_SINGLE_TUPLE) {
		struct store_candidate c = {
			.resident = col_int(q, 0, 0),
			.postal_code = col_text(q, 0, 1),
			.printed = {col_text(q, 0, 2), col_text(q, 0, 13), col_text(q, 0, 14), col_text(q, 0, 15)},
			.status = (int)col_int(q, 0, 3),
			.kyosho = col_int(q, 0, 4),
			.foreign = col_int(q, 0, 5),
			.stay_until = col_date(q, 0, 6),
			.card_status = (int)col_int(q, 0, 7),
			.card_expires = (int)col_int(q, 0, 8),
			.auth_status = cert_status_at(q, 0, 9),
			.auth_expires = col_date(q, 0, 10),
			.sign_status = cert_status_at(q, 0, 11),
			.sign_expires = col_date(q, 0, 12),
			.kana = col_text(q, 0, 16),
			.birth = (int)col_int(q, 0, 17),
			.noticed_card = col_int(q, 0, 18),
			.noticed_auth = col_int(q, 0, 19),
			.noticed_sign = col_int(q, 0, 20),
			.returned = col_int(q, 0, 21),
		};
		if (!(err = fn(ctx, &c)) && s->in_tx)
			remember_seen(s, q);
		PQclear(q);
		q = NULL;
	}
	if (!err && q && PQresultStatus(q) != PGRES_TUPLES_OK)
		err = pg_fail(s, "candidates", q);
	PQclear(q);
	err = drain(s, "candidates", err);
	if (!err && s->in_tx) {
		if (s->seen_n) /* seen_at is NULL until a candidate came: qsort(NULL, 0, ...) is undefined */
			qsort(s->seen_at, s->seen_n, sizeof *s->seen_at, by_resident);
		s->seen_ready = true;
	}
	return err;
}

static enum kg_err pg_each_reinquiry_due(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_reinquiry *r),
                                         void *ctx)
{
	enum kg_err err;
	PGresult *q = run(s, ST_REINQUIRY_DUE, NULL, "re-inquiries", &err);
	if (!q)
		return err;
	for (int i = 0; !err && i < PQntuples(q); i++) {
		struct store_reinquiry r = {
			col_int(q, i, 0),     col_int(q, i, 1), (int)col_int(q, i, 2), (int)col_int(q, i, 3), "",
			(int)col_int(q, i, 5)};
		snprintf(r.postal_code, sizeof r.postal_code, "%s", col_text(q, i, 4));
		err = fn(ctx, &r);
	}
	PQclear(q);
	return err;
}

/* --- batches and notices ------------------------------------------------------------------- */

static enum kg_err pg_batch_create(struct store *s, int run_date, int64_t *batch)
{
	char now[32];
	store_now_text(now);
	struct args a = {0};
	arg_int(&a, run_date);
	arg_text(&a, now);
	enum kg_err err;
	PGresult *r = run(s, ST_BATCH_NEW, &a, "batch", &err);
	if (!r)
		return err;
	*batch = col_int(r, 0, 0);
	PQclear(r);
	return KG_OK;
}

static enum kg_err pg_batch_set_state(struct store *s, int64_t batch, enum store_batch_state st)
{
	struct args a = {0};
	arg_int(&a, batch);
	arg_int(&a, st);
	return run_done(s, ST_BATCH_STATE, &a, "batch state");
}

static enum kg_err pg_batch_add_exclusion(struct store *s, int64_t batch, const char *reason, long count)
{
	struct args a = {0};
	arg_int(&a, batch);
	arg_text(&a, reason);
	arg_int(&a, count);
	return run_done(s, ST_BATCH_EXCL, &a, "exclusions");
}

static enum kg_err add_event(struct store *s, int64_t notice, const char *action, int64_t batch, const char *by,
                             const char *reason);

/* Appends one element to a PostgreSQL array literal being built ("{" ... ","); NULL for t NULL. */
static void array_text(struct sbuf *b, const char *t)
{
	sbuf_adds(b, b->len ? "" : "{");
	if (!t) {
		sbuf_adds(b, "NULL,");
		return;
	}
	sbuf_addc(b, '"');
	for (; *t; t++) {
		if (*t == '"' || *t == '\\')
			sbuf_addc(b, '\\');
		sbuf_addc(b, *t);
	}
	sbuf_adds(b, "\",");
}

static void array_int(struct sbuf *b, long long v)
{
	sbuf_adds(b, b->len ? "" : "{");
	add_int(b, v, ',');
}

/* Reads the result of the notices sent (notices_send). */
static enum kg_err notices_wait(struct store *s)
{
	long n = s->adds_sent, added = 0;
	enum kg_err err = KG_OK;
	s->adds_sent = 0;
	for (PGresult *r; n && (r = PQgetResult(s->conn)); PQclear(r))
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			err = err ? err : pg_fail(s, "notice", r);
		else
			added = strtol(PQcmdTuples(r), NULL, 10);
	if (!err && added != n)
		err = kg_fail(KG_ENOTFOUND, "%s: %ld of %ld new notices name a resident not in the registry", s->name,
		              n - added, n);
	return err;
}

/* Ends the COPY of new notices (notice_copy) and reads its result. */
static enum kg_err notices_copy_end(struct store *s)
{
	if (!s->notices_copying)
		return KG_OK;
	s->notices_copying = false;
	enum kg_err err = copy_send(s, "notice");
	if (err || PQputCopyEnd(s->conn, NULL) != 1)
		return err ? err : pg_fail(s, "notice", NULL);
	for (PGresult *r; (r = PQgetResult(s->conn)); PQclear(r))
		if (!err && PQresultStatus(r) != PGRES_COMMAND_OK)
			err = pg_fail(s, "notice", r);
	return err;
}

/* Sends the gathered notices as one statement without waiting for it: kigen gathers the next
 * ones while the server writes these, and reads its result (notices_wait) before any other
 * statement. Every element is a bound array's, never SQL. */
static enum kg_err notices_send(struct store *s)
{
	long n = s->adds_n;
	enum kg_err err = notices_copy_end(s);
	if (!err)
		err = notices_wait(s);
	if (err || !n)
		return err;
	s->adds_n = 0;
	struct args a = {0};
	for (size_t i = 0; !err && i < KG_ARRAY_SIZE(s->adds); i++) {
		struct sbuf *b = &s->adds[i];
		b->buf[b->len - 1] = '}'; /* the last comma ends the array */
		err = sbuf_check(b);
		arg_text(&a, b->buf);
	}
	char name[16];
	if (!err && !(err = prepare(s, ST_NOTICE_ADD, "notice", name))) {
		if (PQsendQueryPrepared(s->conn, name, a.n, a.v, NULL, NULL, 0))
			s->adds_sent = n;
		else
			err = pg_fail(s, "notice", NULL);
	}
	for (size_t i = 0; i < KG_ARRAY_SIZE(s->adds); i++)
		sbuf_reset(&s->adds[i]);
	return err;
}

/* Writes every notice gathered, sent or copied. */
static enum kg_err notices_flush(struct store *s)
{
	enum kg_err err = notices_send(s);
	return err ? err : notices_wait(s);
}

/* A selection about to add n notices to a table that holds fewer, in a session whose role owns
 * it, writes them as a load (bulk_notices): the foreign keys are checked at the commit, by one
 * join each over at most about twice the rows added. Only for a statement's worth or more: a
 * night's few hundred notices keep the checks per row, and the table its locks (dropping a
 * foreign key locks both tables against every other session until the commit, which only
 * a new office's first nights can spare). */
static enum kg_err pg_notices_expect(struct store *s, long n)
{
	if (!s->in_tx || n < NOTICES_AT_ONCE || s->notices_bulk)
		return KG_OK;
	struct args a = {0};
	arg_int(&a, n);
	enum kg_err err;
	PGresult *r = run(s, ST_NOTICES_BULK_CHECK, &a, "notice", &err);
	if (!r)
		return err;
	bool bulk = !strcmp(col_text(r, 0, 0), "t");
	PQclear(r);
	if (bulk && !(err = bulk_drop(s, bulk_notices, "notice")))
		s->notices_bulk = true;
	return err;
}

/* Writes the notice id of a candidate read in this transaction (its registry columns in col,
 * in seen_col's order) as a row of the COPY of new notices, begun if none is open. All its
 * columns are known here, worked out as ST_NOTICE_ADD does from given ones. The server takes
 * 37,000 by COPY in 0.23 s, by the arrays in some 0.55 s, and it reads the rows as kigen writes
 * them. Notices gathered meanwhile wait in their arrays (notices_send ends the COPY first). */
static enum kg_err notice_copy(struct store *s, int64_t batch, const struct store_new_notice *n, int64_t id,
                               const char *app_id, const char *now, const char *col[SEEN_COLUMNS])
{
	enum kg_err err;
	if (!s->notices_copying) {
		if ((err = own(s)) || (s->copying && (err = copy_flush(s))) || (err = notices_wait(s)))
			return err;
		PGresult *q = PQexec(s->conn, notices_copy_in);
		err = PQresultStatus(q) == PGRES_COPY_IN ? KG_OK : pg_fail(s, "notice", q);
		PQclear(q);
		if (err)
			return err;
		s->notices_copying = true;
	}
	struct sbuf *b = &s->chunk;
	copy_int(b, id);
	copy_text(b, app_id);
	const long long ints[] = {n->resident,    n->kind, n->target, n->certs,    n->expiry,
	                          n->valid_until, batch,   n->seq,    STORE_QUEUED};
	for (size_t i = 0; i < KG_ARRAY_SIZE(ints); i++)
		copy_int(b, ints[i]);
	if (n->parent)
		copy_int(b, n->parent);
	else
		sbuf_adds(b, "\\N\t");
	for (int i = 0; i < SEEN_SIGN; i++)
		copy_text(b, col[i]);
	copy_text(b, now);
	copy_int(b, !strcmp(col[SEEN_SIGN], "1"));
	copy_text(b, n->target == MAILSET_CARD ? col[SEEN_JLIS] : "");
	add_int(b, !strcmp(col[SEEN_SIGN], "2"), '\n');
	if ((err = sbuf_check(b)))
		return err;
	return b->len >= 1 << 16 ? copy_send(s, "notice") : KG_OK;
}

/* Adds notice id to the arrays of the next ST_NOTICE_ADD (notices_send); col: the registry
 * columns of a candidate read in this transaction, else NULL (the statement reads them). */
static void notice_gather(struct store *s, int64_t batch, const struct store_new_notice *n, int64_t id,
                          const char *app_id, const char *now, const char *const *col)
{
	struct sbuf *v = s->adds;
	array_int(v++, id);
	array_text(v++, app_id);
	array_int(v++, n->resident);
	array_int(v++, n->kind);
	array_int(v++, n->target);
	array_int(v++, n->certs);
	array_int(v++, n->expiry);
	array_int(v++, n->valid_until);
	if (n->hold_reason) { /* a held notice is in no batch */
		array_text(v++, NULL);
		array_text(v++, NULL);
	} else {
		array_int(v++, batch);
		array_int(v++, n->seq);
	}
	array_int(v++, n->hold_reason ? STORE_HELD : STORE_QUEUED);
	if (n->parent)
		array_int(v++, n->parent);
	else
		array_text(v++, NULL);
	for (int i = 0; i < 4; i++)
		array_text(v++, col ? col[i] : n->printed[i]);
	array_text(v++, now);
	for (int i = SEEN_KANA; i < SEEN_COLUMNS; i++)
		array_text(v++, col ? col[i] : NULL);
	s->adds_n++;
}

static enum kg_err pg_notice_add(struct store *s, int64_t batch, const char *lgcode, const struct store_new_notice *n,
                                 char app_id[24])
{
	enum kg_err err;
	if (!s->ids_loaded) {
		PGresult *r = run(s, ST_NOTICE_LAST, NULL, "notice", &err);
		if (!r)
			return err;
		s->last_notice = col_int(r, 0, 0);
		PQclear(r);
		s->ids_loaded = true;
	}
	if (s->count_pending && s->count_batch != batch && (err = flush_counts(s)))
		return err;
	int64_t id = s->last_notice + 1;
	store_make_app_id(lgcode, n, id, app_id);
	char now[32];
	store_now_text(now);
	/* The registry columns of a candidate read in this transaction, as printed. */
	const char *col[SEEN_COLUMNS];
	bool seen = seen_columns(s, n->resident, col);
	for (int i = 0; seen && i < 4; i++)
		col[i] = n->printed[i] ? n->printed[i] : col[i];
	/* A held notice goes with statements of its own (below): no COPY is begun for it. */
	bool copy = seen && !n->hold_reason;
	if (copy && (err = notice_copy(s, batch, n, id, app_id, now, col)))
		return err;
	if (!copy)
		notice_gather(s, batch, n, id, app_id, now, seen ? col : NULL);
	s->last_notice = id;
	if (n->hold_reason) {
		/* The counter must reach the table even when no notice of a batch follows. */
		struct args b = {0};
		arg_int(&b, id);
		if ((err = run_done(s, ST_NOTICE_LAST_SET, &b, "notice")))
			return err;
		return add_event(s, id, "hold", batch, "kigen", n->hold_reason);
	}
	s->count_batch = batch;
	s->count_pending++;
	/* Outside a transaction each statement commits; inside, a bounded number waits. */
	if (!s->in_tx)
		return flush_counts(s);
	return copy || s->adds_n < NOTICES_AT_ONCE ? KG_OK : notices_send(s);
}

static enum kg_err pg_notice_mark_reinquired(struct store *s, int64_t notice)
{
	struct args a = {0};
	arg_int(&a, notice);
	return run_done(s, ST_NOTICE_REINQUIRED, &a, "notice");
}

static void read_batch(const PGresult *q, int i, struct store_batch *b)
{
	b->id = col_int(q, i, 0);
	b->run_date = (int)col_int(q, i, 1);
	b->state = (enum store_batch_state)col_int(q, i, 2);
	b->notices = (long)col_int(q, i, 3);
	snprintf(b->created_at, sizeof b->created_at, "%s", col_text(q, i, 4));
	snprintf(b->error, sizeof b->error, "%s", col_text(q, i, 5));
	b->stale_files = (int)col_int(q, i, 6);
}

static enum kg_err pg_batches(struct store *s, struct store_batch **out, size_t *n)
{
	enum kg_err err = flush_counts(s); /* the counts as this transaction sees them */
	if (err)
		return err;
	PGresult *q = run(s, ST_BATCHES, NULL, "batches", &err);
	if (!q)
		return err;
	size_t len = (size_t)PQntuples(q);
	struct store_batch *list = kg_calloc(len ? len : 1, sizeof *list);
	for (size_t i = 0; i < len; i++)
		read_batch(q, (int)i, &list[i]);
	PQclear(q);
	*out = list;
	*n = len;
	return KG_OK;
}

static enum kg_err pg_batch_get(struct store *s, int64_t batch, struct store_batch *out)
{
	struct args a = {0};
	arg_int(&a, batch);
	enum kg_err err = flush_counts(s); /* the counts as this transaction sees them */
	if (err)
		return err;
	char key[24];
	snprintf(key, sizeof key, "%lld", (long long)batch);
	PGresult *q = run_row(s, ST_BATCH_GET, &a, "batch", key, &err);
	if (!q)
		return err;
	read_batch(q, 0, out);
	PQclear(q);
	return KG_OK;
}

static enum kg_err pg_batch_exclusions(struct store *s, int64_t batch,
                                       enum kg_err (*fn)(void *ctx, const char *reason, long count), void *ctx)
{
	struct args a = {0};
	arg_int(&a, batch);
	enum kg_err err;
	PGresult *q = run(s, ST_BATCH_EXCLUSIONS, &a, "exclusions", &err);
	if (!q)
		return err;
	for (int i = 0; !err && i < PQntuples(q); i++)
		err = fn(ctx, col_text(q, i, 0), (long)col_int(q, i, 1));
	PQclear(q);
	return err;
}

static enum kg_err pg_batch_sets(struct store *s, int64_t batch, int from, int to, struct mailset **out, size_t *n)
{
	struct args a = {0};
	arg_int(&a, batch);
	arg_int(&a, from);
	arg_int(&a, to);
	enum kg_err err;
	PGresult *q = run(s, ST_SETS, &a, "sets", &err);
	if (!q)
		return err;
	size_t len = (size_t)PQntuples(q);
	struct mailset *sets = kg_calloc(len ? len : 1, sizeof *sets);
	for (size_t j = 0; j < len; j++) {
		int i = (int)j;
		struct mailset *m = &sets[j];
		*m = (struct mailset){
			.seq = (int)col_int(q, i, 0),
			.batch = col_int(q, i, 1),
			.batch_day = (int)col_int(q, i, 2),
			.resident_id = kg_strdup(col_text(q, i, 4)),
			.name = kg_strdup(col_text(q, i, 5)),
			.kana = kg_strdup(col_text(q, i, 6)),
			.postal_code = kg_strdup(col_text(q, i, 7)),
			.addr_town = kg_strdup(col_text(q, i, 8)),
			.addr_block = kg_strdup(col_text(q, i, 9)),
			.addr_building = kg_strdup(col_text(q, i, 10)),
			.kind = (enum mailset_kind)col_int(q, i, 11),
			.target = (enum mailset_target)col_int(q, i, 12),
			.certs = (int)col_int(q, i, 13),
			.expiry = (int)col_int(q, i, 14),
			.birth = (int)col_int(q, i, 15),
			.foreign = col_int(q, i, 16),
			.has_sign_cert = col_int(q, i, 17),
			.sign_revoked = col_int(q, i, 19),
		};
		snprintf(m->app_id, sizeof m->app_id, "%s", col_text(q, i, 3));
		snprintf(m->jlis_app_id, sizeof m->jlis_app_id, "%s", col_text(q, i, 18));
	}
	PQclear(q);
	*out = sets;
	*n = len;
	return KG_OK;
}

/* --- the counter ----------------------------------------------------------------------------- */

static enum kg_err pg_notice_by_app_id(struct store *s, const char *app_id, struct store_notice *out)
{
	struct args a = {0};
	arg_text(&a, app_id);
	enum kg_err err;
	PGresult *q = run_row(s, ST_NOTICE_BY_APPID, &a, "notice with application ID", app_id, &err);
	if (!q)
		return err;
	*out = (struct store_notice){
		.id = col_int(q, 0, 0),
		.resident = col_int(q, 0, 1),
		.kind = (enum mailset_kind)col_int(q, 0, 3),
		.target = (enum mailset_target)col_int(q, 0, 4),
		.certs = (int)col_int(q, 0, 5),
		.expiry = (int)col_int(q, 0, 6),
		.valid_until = (int)col_int(q, 0, 7),
		.state = (enum store_notice_state)col_int(q, 0, 8),
		.name = kg_strdup(col_text(q, 0, 9)),
		.auth_serial = kg_strdup(col_text(q, 0, 10)),
		.auth_expires = (int)col_int(q, 0, 11),
		.has_sign_cert = col_int(q, 0, 12),
	};
	snprintf(out->app_id, sizeof out->app_id, "%s", col_text(q, 0, 2));
	PQclear(q);
	return KG_OK;
}

/* One UPDATE ... WHERE state = from: of two desks racing, the second waits for the first's row
 * lock, re-reads the row, finds the state moved and changes nothing. */
static enum kg_err pg_notice_transition(struct store *s, int64_t notice, enum store_notice_state from,
                                        enum store_notice_state to, bool *moved)
{
	struct args a = {0};
	arg_int(&a, notice);
	arg_int(&a, from);
	arg_int(&a, to);
	enum kg_err err;
	PGresult *r = run(s, ST_NOTICE_MOVE, &a, "notice", &err);
	if (!r)
		return err;
	*moved = !strcmp(PQcmdTuples(r), "1");
	PQclear(r);
	return KG_OK;
}

static enum kg_err pg_audit(struct store *s, int64_t notice, const char *app_id, const char *terminal,
                            const char *staff, const char *outcome, const char *detail)
{
	char now[32];
	store_now_text(now);
	struct args a = {0};
	if (notice)
		arg_int(&a, notice);
	else
		arg_text(&a, NULL);
	arg_text(&a, app_id);
	arg_text(&a, now);
	arg_text(&a, terminal);
	arg_text(&a, staff);
	arg_text(&a, outcome);
	arg_text(&a, detail ? detail : "");
	return run_done(s, ST_AUDIT, &a, "audit");
}

static enum kg_err pg_meta_get(struct store *s, const char *key, long long def, long long *value)
{
	struct args a = {0};
	arg_text(&a, key);
	enum kg_err err;
	PGresult *r = run(s, ST_META_GET, &a, "meta", &err);
	if (!r)
		return err;
	*value = PQntuples(r) ? col_int(r, 0, 0) : def;
	PQclear(r);
	return KG_OK;
}

static enum kg_err pg_meta_set(struct store *s, const char *key, long long value)
{
	struct args a = {0};
	arg_text(&a, key);
	arg_int(&a, value);
	return run_done(s, ST_META_SET, &a, "meta");
}

static enum kg_err pg_batch_set_error(struct store *s, int64_t batch, const char *error)
{
	struct args a = {0};
	arg_int(&a, batch);
	arg_text(&a, error ? error : "");
	return run_done(s, ST_BATCH_ERROR, &a, "batch");
}

static enum kg_err pg_batch_mark_printed(struct store *s, int64_t batch)
{
	struct args a = {0};
	arg_int(&a, batch);
	return run_done(s, ST_BATCH_PRINTED, &a, "batch");
}

static enum kg_err pg_batch_count_no_jlis(struct store *s, int64_t batch, long *n)
{
	struct args a = {0};
	arg_int(&a, batch);
	enum kg_err err;
	PGresult *q = run(s, ST_BATCH_NO_JLIS, &a, "count", &err);
	if (!q)
		return err;
	*n = (long)col_int(q, 0, 0);
	PQclear(q);
	return KG_OK;
}

static enum kg_err pg_batch_plan(struct store *s, int64_t batch, unsigned char **kinds, int *n)
{
	struct args a = {0};
	arg_int(&a, batch);
	enum kg_err err;
	PGresult *q = run(s, ST_BATCH_PLAN, &a, "plan", &err);
	if (!q)
		return err;
	int len = PQntuples(q);
	unsigned char *list = kg_malloc(len ? (size_t)len : 1);
	for (int i = 0; i < len; i++) {
		if (col_int(q, i, 0) != i + 1) {
			PQclear(q);
			free(list);
			return kg_fail(KG_EDB, "batch %lld: sequence numbers are not 1..n", (long long)batch);
		}
		list[i] = (unsigned char)(col_int(q, i, 1) << 1 | col_int(q, i, 2));
	}
	PQclear(q);
	if (!len) {
		free(list);
		list = NULL;
	}
	*kinds = list;
	*n = len;
	return KG_OK;
}

static enum kg_err pg_batch_file_add(struct store *s, int64_t batch, const struct store_file *f)
{
	struct args a = {0};
	arg_int(&a, batch);
	arg_text(&a, f->name);
	arg_int(&a, f->doc);
	arg_int(&a, f->pages);
	arg_int(&a, f->seq_from);
	arg_int(&a, f->seq_to);
	return run_done(s, ST_FILE_PUT, &a, "files");
}

static enum kg_err pg_batch_files(struct store *s, int64_t batch, struct store_file **out, size_t *n)
{
	struct args a = {0};
	arg_int(&a, batch);
	enum kg_err err;
	PGresult *q = run(s, ST_FILES, &a, "files", &err);
	if (!q)
		return err;
	size_t len = (size_t)PQntuples(q);
	struct store_file *list = len ? kg_calloc(len, sizeof *list) : NULL;
	for (size_t j = 0; j < len; j++) {
		int i = (int)j;
		snprintf(list[j].name, sizeof list[j].name, "%s", col_text(q, i, 0));
		list[j].doc = (int)col_int(q, i, 1);
		list[j].pages = (int)col_int(q, i, 2);
		list[j].seq_from = (int)col_int(q, i, 3);
		list[j].seq_to = (int)col_int(q, i, 4);
	}
	PQclear(q);
	*out = list;
	*n = len;
	return KG_OK;
}

static enum kg_err pg_render_claim(struct store *s, int64_t batch, const char *name, const char *holder, int lease)
{
	struct args a = {0};
	arg_int(&a, batch);
	arg_text(&a, name);
	arg_text(&a, holder);
	arg_int(&a, lease);
	enum kg_err err;
	PGresult *r = run(s, ST_RENDER_CLAIM, &a, "render claim", &err);
	if (!r)
		return err;
	bool got = PQntuples(r) == 1;
	PQclear(r);
	return got ? KG_OK : kg_fail(KG_ELOCKED, "%s: another renderer holds %s", s->name, name);
}

/* --- holds ---------------------------------------------------------------------------------- */

static enum kg_err add_event(struct store *s, int64_t notice, const char *action, int64_t batch, const char *by,
                             const char *reason)
{
	char now[32];
	store_now_text(now);
	struct args a = {0};
	arg_int(&a, notice);
	arg_text(&a, now);
	arg_text(&a, action);
	if (batch)
		arg_int(&a, batch);
	else
		arg_text(&a, NULL);
	arg_text(&a, by && *by ? by : "unknown");
	arg_text(&a, reason ? reason : "");
	return run_done(s, ST_NOTICE_EVENT, &a, "notice event");
}

static enum kg_err pg_notice_ref(struct store *s, const char *app_id, struct store_notice_ref *out)
{
	struct args a = {0};
	arg_text(&a, app_id);
	enum kg_err err;
	PGresult *q = run_row(s, ST_NOTICE_REF, &a, "notice with application ID", app_id, &err);
	if (!q)
		return err;
	out->id = col_int(q, 0, 0);
	snprintf(out->app_id, sizeof out->app_id, "%s", col_text(q, 0, 1));
	out->state = (enum store_notice_state)col_int(q, 0, 2);
	out->batch = col_int(q, 0, 3);
	out->batch_state = (int)col_int(q, 0, 4);
	PQclear(q);
	return KG_OK;
}

static enum kg_err pg_notice_move(struct store *s, const struct store_notice_ref *n, enum store_notice_state to,
                                  const char *action, const char *by, const char *reason, bool *moved)
{
	struct args a = {0};
	arg_int(&a, n->id);
	arg_int(&a, n->state);
	arg_int(&a, to);
	enum kg_err err;
	PGresult *r = run(s, ST_NOTICE_MOVE_OUT, &a, "notice", &err);
	if (!r)
		return err;
	*moved = !strcmp(PQcmdTuples(r), "1");
	PQclear(r);
	return *moved ? add_event(s, n->id, action, n->batch, by, reason) : KG_OK;
}

static enum kg_err batch_step(struct store *s, enum stmt_id id, int64_t batch, const char *what)
{
	struct args a = {0};
	arg_int(&a, batch);
	return run_done(s, id, &a, what);
}

static enum kg_err pg_batch_renumber(struct store *s, int64_t batch)
{
	enum kg_err err = flush_counts(s);
	if (err || (err = batch_step(s, ST_RENUMBER_OUT, batch, "renumber")) ||
	    (err = batch_step(s, ST_RENUMBER_IN, batch, "renumber")))
		return err;
	return batch_step(s, ST_BATCH_RECOUNT, batch, "renumber");
}

static enum kg_err pg_batch_set_stale(struct store *s, int64_t batch, bool stale)
{
	struct args a = {0};
	arg_int(&a, batch);
	arg_int(&a, stale);
	enum kg_err err = run_done(s, ST_BATCH_STALE, &a, "batch");
	return err || !stale ? err : batch_step(s, ST_FILES_CLEAR, batch, "files");
}

static enum kg_err pg_each_held(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_held *h), void *ctx)
{
	enum kg_err err;
	PGresult *q = run(s, ST_HELD, NULL, "held notices", &err);
	if (!q)
		return err;
	for (int i = 0; !err && i < PQntuples(q); i++) {
		struct store_held h = {
			.id = col_int(q, i, 0),
			.app_id = col_text(q, i, 1),
			.state = (enum store_notice_state)col_int(q, i, 2),
			.registry_id = col_text(q, i, 3),
			.name = col_text(q, i, 4),
			.at = col_text(q, i, 5),
			.by = col_text(q, i, 6),
			.reason = col_text(q, i, 7),
			.from_batch = col_int(q, i, 8),
		};
		err = fn(ctx, &h);
	}
	PQclear(q);
	return err;
}

static enum kg_err pg_count_held(struct store *s, long *held, long *released)
{
	enum kg_err err;
	PGresult *q = run(s, ST_HELD_COUNT, NULL, "held notices", &err);
	if (!q)
		return err;
	*held = (long)col_int(q, 0, 0);
	*released = (long)col_int(q, 0, 1);
	PQclear(q);
	return KG_OK;
}

static enum kg_err pg_batch_holds(struct store *s, int64_t batch,
                                  enum kg_err (*fn)(void *ctx, const char *app_id, const char *by, const char *reason),
                                  void *ctx)
{
	struct args a = {0};
	arg_int(&a, batch);
	enum kg_err err;
	PGresult *q = run(s, ST_BATCH_HOLDS, &a, "holds", &err);
	if (!q)
		return err;
	for (int i = 0; !err && i < PQntuples(q); i++)
		err = fn(ctx, col_text(q, i, 0), col_text(q, i, 1), col_text(q, i, 2));
	PQclear(q);
	return err;
}

static enum kg_err pg_each_released(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_released *r),
                                    void *ctx)
{
	enum kg_err err;
	PGresult *q = run(s, ST_RELEASED, NULL, "released notices", &err);
	if (!q)
		return err;
	for (int i = 0; !err && i < PQntuples(q); i++) {
		struct store_released r = {
			.notice = col_int(q, i, 0),
			.resident = col_int(q, i, 1),
			.kind = (enum mailset_kind)col_int(q, i, 3),
			.target = (enum mailset_target)col_int(q, i, 4),
			.certs = (int)col_int(q, i, 5),
			.expiry = (int)col_int(q, i, 6),
			.valid_until = (int)col_int(q, i, 7),
			.status = (int)col_int(q, i, 8),
			.kyosho = col_int(q, i, 9),
			.foreign = col_int(q, i, 10),
			.birth = (int)col_int(q, i, 11),
			.postal_code = col_text(q, i, 12),
			.kana = col_text(q, i, 13),
			.registered = {col_text(q, i, 14), col_text(q, i, 15), col_text(q, i, 16), col_text(q, i, 17)},
			.has_sign_cert = col_int(q, i, 18),
		};
		snprintf(r.app_id, sizeof r.app_id, "%s", col_text(q, i, 2));
		err = fn(ctx, &r); /* the result is fetched whole: fn may write */
	}
	PQclear(q);
	return err;
}

static enum kg_err pg_notice_requeue(struct store *s, int64_t notice, int64_t batch, int seq,
                                     const char *const printed[4])
{
	struct args a = {0};
	arg_int(&a, notice);
	arg_int(&a, batch);
	arg_int(&a, seq);
	for (int i = 0; i < 4; i++)
		arg_text(&a, printed[i]);
	enum kg_err err;
	PGresult *r = run(s, ST_REQUEUE, &a, "requeue", &err);
	if (!r)
		return err;
	bool moved = !strcmp(PQcmdTuples(r), "1");
	PQclear(r);
	if (!moved)
		return kg_fail(KG_ESTATE, "notice %lld is no longer released", (long long)notice);
	if ((err = add_event(s, notice, "requeue", batch, "kigen", "")))
		return err;
	struct args c = {0};
	arg_int(&c, batch);
	arg_int(&c, 1);
	return run_done(s, ST_BATCH_COUNT, &c, "batch");
}

/* --- returned mail (返戻) and the desk's day ------------------------------------------------ */

static enum kg_err mailed_row(struct store *s, enum stmt_id id, const struct args *a, struct store_mailed *out,
                              const char *what)
{
	enum kg_err err;
	PGresult *q = run_row(s, id, a, "notice", what, &err);
	if (!q)
		return err;
	memset(out, 0, sizeof *out);
	out->notice = col_int(q, 0, 0);
	snprintf(out->app_id, sizeof out->app_id, "%s", col_text(q, 0, 1));
	out->batch = (int)col_int(q, 0, 2);
	out->seq = (int)col_int(q, 0, 3);
	snprintf(out->name, sizeof out->name, "%s", col_text(q, 0, 4));
	snprintf(out->postal_code, sizeof out->postal_code, "%s", col_text(q, 0, 5));
	snprintf(out->address, sizeof out->address, "%s", col_text(q, 0, 6));
	out->state = (int)col_int(q, 0, 7);
	out->kind = (int)col_int(q, 0, 8);
	out->target = (int)col_int(q, 0, 9);
	out->mailed_on = (int)col_int(q, 0, 10);
	snprintf(out->returned_reason, sizeof out->returned_reason, "%s", col_text(q, 0, 11));
	snprintf(out->returned_at, sizeof out->returned_at, "%s", col_text(q, 0, 12));
	PQclear(q);
	return KG_OK;
}

static enum kg_err pg_mailed_by_app_id(struct store *s, const char *app_id, struct store_mailed *out)
{
	struct args a = {0};
	arg_text(&a, app_id);
	return mailed_row(s, ST_MAILED_BY_APPID, &a, out, "with that application ID");
}

static enum kg_err pg_mailed_by_seq(struct store *s, int batch, int seq, struct store_mailed *out)
{
	struct args a = {0};
	arg_int(&a, batch);
	arg_int(&a, seq);
	return mailed_row(s, ST_MAILED_BY_SEQ, &a, out, "with that batch and sequence number");
}

static enum kg_err pg_returned_add(struct store *s, int64_t notice, const char *reason, const char *terminal,
                                   const char *staff, bool *added)
{
	char now[32];
	store_now_text(now);
	struct args a = {0};
	arg_int(&a, notice);
	arg_text(&a, reason);
	arg_text(&a, now);
	arg_text(&a, terminal);
	arg_text(&a, staff);
	enum kg_err err;
	PGresult *r = run(s, ST_RETURNED_ADD, &a, "returned mail", &err);
	if (!r)
		return err;
	*added = !strcmp(PQcmdTuples(r), "1");
	PQclear(r);
	return KG_OK;
}

static enum kg_err pg_returned_each(struct store *s, enum kg_err (*fn)(void *ctx, const struct store_returned *r),
                                    void *ctx)
{
	enum kg_err err;
	PGresult *q = run(s, ST_RETURNED_EACH, NULL, "returned mail", &err);
	if (!q)
		return err;
	for (int i = 0; !err && i < PQntuples(q); i++) {
		struct store_returned r = {
			col_text(q, i, 0), col_text(q, i, 1),     col_text(q, i, 2), col_text(q, i, 3),
			col_text(q, i, 4), col_text(q, i, 5),     col_text(q, i, 6), col_text(q, i, 7),
			col_text(q, i, 8), col_int(q, i, 9) != 0,
		};
		err = fn(ctx, &r);
	}
	PQclear(q);
	return err;
}

static enum kg_err pg_returned_count(struct store *s, long *waiting, long *remailed)
{
	enum kg_err err;
	PGresult *q = run(s, ST_RETURNED_COUNT, NULL, "returned mail", &err);
	if (!q)
		return err;
	*waiting = (long)col_int(q, 0, 0);
	*remailed = (long)col_int(q, 0, 1);
	PQclear(q);
	return KG_OK;
}

static enum kg_err pg_returned_at_address(struct store *s, int64_t resident, bool *yes)
{
	struct args a = {0};
	arg_int(&a, resident);
	enum kg_err err;
	PGresult *q = run(s, ST_RETURNED_AT_ADDRESS, &a, "returned mail", &err);
	if (!q)
		return err;
	*yes = PQntuples(q) > 0;
	PQclear(q);
	return KG_OK;
}

static enum kg_err pg_each_remail_due(struct store *s, int run_date,
                                      enum kg_err (*fn)(void *ctx, const struct store_remail *r), void *ctx)
{
	struct args a = {0};
	arg_int(&a, run_date);
	enum kg_err err;
	PGresult *q = run(s, ST_REMAIL_DUE, &a, "returned mail", &err);
	if (!q)
		return err;
	for (int i = 0; !err && i < PQntuples(q); i++) {
		struct store_remail r = {
			col_int(q, i, 0),      col_int(q, i, 1),      (int)col_int(q, i, 2), (int)col_int(q, i, 3),
			(int)col_int(q, i, 4), (int)col_int(q, i, 5), (int)col_int(q, i, 6), ""};
		snprintf(r.postal_code, sizeof r.postal_code, "%s", col_text(q, i, 7));
		err = fn(ctx, &r); /* the result is fetched whole: fn may add notices */
	}
	PQclear(q);
	return err;
}

static enum kg_err pg_returned_remailed(struct store *s, int64_t notice, const char *new_app_id)
{
	struct args a = {0};
	arg_int(&a, notice);
	arg_text(&a, new_app_id);
	enum kg_err err = run_done(s, ST_RETURNED_REMAILED, &a, "returned mail");
	/* The form that came back is replaced by the one re-mailed: it can no longer be redeemed. */
	struct args b = {0};
	arg_int(&b, notice);
	return err ? err : run_done(s, ST_RETURNED_VOID, &b, "returned mail");
}

static enum kg_err pg_audit_since(struct store *s, const char *terminal, const char *since,
                                  enum kg_err (*fn)(void *ctx, const struct store_audit_row *r), void *ctx)
{
	struct args a = {0};
	arg_text(&a, terminal);
	arg_text(&a, since);
	enum kg_err err;
	PGresult *q = run(s, ST_AUDIT_SINCE, &a, "audit", &err);
	if (!q)
		return err;
	for (int i = 0; !err && i < PQntuples(q); i++) {
		struct store_audit_row r = {col_text(q, i, 0), col_text(q, i, 1), col_text(q, i, 2), col_text(q, i, 3),
		                            col_text(q, i, 4)};
		err = fn(ctx, &r);
	}
	PQclear(q);
	return err;
}

static const struct store_ops pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.version = pg_version,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.run_lock = pg_run_lock,
	.meta_get = pg_meta_get,
	.meta_set = pg_meta_set,
	.put_resident = pg_put_resident,
	.count_residents = pg_count_residents,
	.each_candidate = pg_each_candidate,
	.each_reinquiry_due = pg_each_reinquiry_due,
	.batch_create = pg_batch_create,
	.batch_set_state = pg_batch_set_state,
	.batch_add_exclusion = pg_batch_add_exclusion,
	.notices_expect = pg_notices_expect,
	.notice_add = pg_notice_add,
	.notice_mark_reinquired = pg_notice_mark_reinquired,
	.batches = pg_batches,
	.batch_get = pg_batch_get,
	.batch_set_error = pg_batch_set_error,
	.batch_mark_printed = pg_batch_mark_printed,
	.batch_plan = pg_batch_plan,
	.batch_count_no_jlis = pg_batch_count_no_jlis,
	.batch_file_add = pg_batch_file_add,
	.batch_files = pg_batch_files,
	.render_claim = pg_render_claim,
	.notice_ref = pg_notice_ref,
	.notice_move = pg_notice_move,
	.batch_renumber = pg_batch_renumber,
	.batch_set_stale = pg_batch_set_stale,
	.each_held = pg_each_held,
	.count_held = pg_count_held,
	.batch_holds = pg_batch_holds,
	.each_released = pg_each_released,
	.notice_requeue = pg_notice_requeue,
	.batch_exclusions = pg_batch_exclusions,
	.batch_sets = pg_batch_sets,
	.notice_by_app_id = pg_notice_by_app_id,
	.notice_transition = pg_notice_transition,
	.audit = pg_audit,
	.mailed_by_app_id = pg_mailed_by_app_id,
	.mailed_by_seq = pg_mailed_by_seq,
	.returned_add = pg_returned_add,
	.returned_each = pg_returned_each,
	.returned_count = pg_returned_count,
	.returned_at_address = pg_returned_at_address,
	.each_remail_due = pg_each_remail_due,
	.returned_remailed = pg_returned_remailed,
	.audit_since = pg_audit_since,
};
