#!/bin/bash
# pg.sh: kigen on PostgreSQL (tests/run.sh starts the private server, KIGEN_PG_HOST): the same
# registry and date give the same batch, byte for byte, as on SQLite; two runners in separate
# working folders sharing only the database run one night, the second exits 3 naming the holder;
# a connection lost mid-import records nothing and says so; a password in the name is refused.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/pg.sh"
if [ -z "${KIGEN_PG_HOST:-}" ]; then
	echo "not ok - a PostgreSQL server for this script (run it through tests/run.sh)"
	exit 1
fi
newdb() { pg_newdb "pg_$1_$$"; }
"$ROOT/scripts/gen-registry" --count 1500 --seed 11 >reg.csv
sed 's/^\(  max_sheets_per_file:\).*/\1 12/' "$ROOT/fixtures/settings.yaml" >small.yaml
sed -i 's|^\(  templates:\).*|\1 '"$ROOT"'/templates|' small.yaml
CONF="--config $T/small.yaml"
sums() { (cd "$1" && find . -type f ! -name '.*' | sort | xargs sha256sum); }
notices='select batch, seq, app_id, resident, kind, target, expiry, state from notices order by batch, seq'

# --- the same batch on both backends ----------------------------------------------------------
PG=$(newdb same)
registry='select id, registry_id, name, kana, birth, sex, postal_code, addr_town, addr_block, addr_building,
 nationality, stay_until, kyosho, status, jlis_app_id from residents order by id;
 select * from cards order by id; select * from certificates order by id'
index_oids="select string_agg(indexrelid::text, ',' order by indexrelid) from pg_index
 where indrelid in ('residents'::regclass, 'cards'::regclass, 'certificates'::regclass)"
"$KIGEN" --db "$PG" -q init
oids=$(pg_sql "$PG" "$index_oids")
"$KIGEN" $CONF --db lite.db -q import reg.csv
"$KIGEN" $CONF --db "$PG" -q import reg.csv
check "the owner's first import into empty tables loads in bulk (the indexes are built anew)" \
	test "$oids" != "$(pg_sql "$PG" "$index_oids")"
bulk_registry=$(pg_sql "$PG" "$registry" | md5sum)
expect_eq "the bulk load gives the registry SQLite's upserts give: every row, every id" \
	"$(sqlite3 lite.db "$registry" | md5sum)" "$bulk_registry"
"$KIGEN" $CONF --db lite.db --out lite -q nightly --date 2026-11-21
"$KIGEN" $CONF --db "$PG" --out pg -q nightly --date 2026-11-21
B=2026-11-21/batch-0001
check "the batch on PostgreSQL is complete (SHA256SUMS verifies)" sh -c "cd pg/$B && sha256sum -c --quiet SHA256SUMS"
expect_eq "the same notices, application IDs and sequence numbers on both backends" \
	"$(sqlite3 lite.db "$notices")" "$(pg_sql "$PG" "$notices")"
check "the same batch folder byte for byte: PDFs, manifests, job.json, SHA256SUMS" \
	sh -c "[ -n \"\$(ls lite/$B/*.pdf)\" ] && diff -r lite/$B pg/$B"
expect_eq "the same registry on both: residents, cards, certificates" \
	"$(sqlite3 lite.db 'select count(*), sum(kyosho), sum(stay_until) from residents; select count(*), sum(expires_on) from cards; select count(*), sum(expires_on) from certificates')" \
	"$(pg_sql "$PG" 'select count(*), sum(kyosho), sum(stay_until) from residents; select count(*), sum(expires_on) from cards; select count(*), sum(expires_on) from certificates')"
expect_eq "J-LIS IDs were imported on both (some residents have one)" "1 1" \
	"$(sqlite3 lite.db "select count(*) > 0 from residents where jlis_app_id <> ''") $(pg_sql "$PG" "select (count(*) > 0)::int from residents where jlis_app_id <> ''")"
jlis='select registry_id, jlis_app_id from residents order by id; select app_id, jlis_app_id, sign_revoked from notices order by id'
expect_eq "the same J-LIS IDs on both, on the residents and on the notices as printed" \
	"$(sqlite3 lite.db "$jlis" | md5sum)" "$(pg_sql "$PG" "$jlis" | md5sum)"
# A second import of the same file with one resident changed: an update in place, ids kept.
sed '2s/,[^,]*,/,更新　太郎,/' reg.csv >reg2.csv
xid=$(pg_sql "$PG" 'select txid_current()')
"$KIGEN" --db lite.db -q import reg2.csv && "$KIGEN" --db "$PG" -q import reg2.csv
written="select (select count(*) from residents where xmin::text::bigint > $xid),
 (select count(*) from cards where xmin::text::bigint > $xid), (select count(*) from certificates where xmin::text::bigint > $xid)"
expect_eq "the re-import wrote the changed resident only, no card, no certificate" "1|0|0" "$(pg_sql "$PG" "$written")"
expect_eq "a re-import updates in place on both: the same ids and names" \
	"$(sqlite3 lite.db 'select id, registry_id, name from residents order by id' | md5sum)" \
	"$(pg_sql "$PG" 'select id, registry_id, name from residents order by id' | md5sum)"

# --- moving an office over: kigen db copy ------------------------------------------------------------
PG=$(newdb copy)
check "db copy fills an empty PostgreSQL database and finds every table the same" \
	sh -c "'$KIGEN' --db lite.db db copy --to '$PG' >copy.out"
check "it reports rows and digest of every table" \
	sh -c "[ \$(grep -c ' same\$' copy.out) -ge 9 ] && grep -q '^notices .* 52 there' copy.out"
expect_eq "the copy's notices, read with psql, equal the file's, read with sqlite3" \
	"$(sqlite3 lite.db "$notices")" "$(pg_sql "$PG" "$notices")"
"$KIGEN" --db lite.db db copy --to "$PG" >again.out 2>&1
expect_eq "a copy into a database that holds rows is refused" 1 "$?"
check "saying which table is not empty" grep -q "is not empty (table residents has rows)" again.out
"$KIGEN" $CONF --db lite.db --out lite -q nightly --date 2026-12-12
"$KIGEN" $CONF --db "$PG" --out copied -q nightly --date 2026-12-12
check "the night after the move gives the same batch on the file and on the copy (ids carry on)" \
	sh -c "ls lite/2026-12-12/batch-0002/*.pdf >/dev/null && diff -r lite/2026-12-12/batch-0002 copied/2026-12-12/batch-0002"

# --- two runners, separate working folders, one database -----------------------------------------
PG=$(newdb night)
"$KIGEN" $CONF --db "$PG" -q import reg.csv
# A session holds the write lock, so runner A parks inside its night after taking the run lock.
psql -X -q "$PG" -c "SELECT pg_advisory_lock(x'6b6967656e01'::bigint); SELECT pg_sleep(600)" >/dev/null 2>&1 &
holder=$!
waits() { pg_sql "$PG" "select count(*) from pg_locks l join pg_stat_activity a using (pid) where l.locktype = 'advisory' and not l.granted and a.application_name = 'kigen'"; }
mkdir -p runner-a runner-b
(cd runner-a && PGOPTIONS='-c lock_timeout=600s' exec "$KIGEN" $CONF --db "$PG" --out out -q nightly --date 2026-11-21) >a.out 2>&1 &
ra=$!
for _ in $(seq 600); do [ "$(waits)" = 1 ] && break; sleep 0.1; done
(cd runner-b && "$KIGEN" $CONF --db "$PG" --out out -q nightly --date 2026-11-21) >b.out 2>&1
rb=$?
expect_eq "a second runner on another folder exits 3 while the first holds the night" 3 "$rb"
check "the second runner names the holder: host, pid and start time" \
	grep -q "another run holds the database lock .*(kigen nightly on $(hostname), pid $ra, since 20" b.out
pg_sql "$PG" "select pg_terminate_backend(pid) from pg_stat_activity where query like '%pg_sleep(600)%' and pid <> pg_backend_pid()" >/dev/null
wait "$holder" 2>/dev/null
wait "$ra"
expect_eq "the first runner finishes its night" 0 "$?"
(cd runner-b && "$KIGEN" $CONF --db "$PG" --out out -q nightly --date 2026-11-21) >b2.out 2>&1
expect_eq "after it, the second runner finds the night done: still one batch, its notices once" \
	"1 $(sqlite3 lite.db 'select count(*) from notices where batch = 1')" \
	"$(pg_sql "$PG" 'select count(distinct batch), count(*) from notices' | tr '|' ' ')"
check "the holder's row names the last runner" sh -c "[ \"\$(psql -X -A -t '$PG' -c 'select what, pid from run_lock')\" != '' ]"

# --- several renderers on one batch, one shared output folder -----------------------------------
PG=$(newdb render)
"$KIGEN" $CONF --db "$PG" -q import reg.csv && "$KIGEN" $CONF --db "$PG" -q select --date 2026-11-21
claims() { pg_sql "$PG" "select name, holder from render_claims where batch = 1 order by name"; }
# Renderer A dies (kill -9 of its process group) right after claiming outer-envelopes-002.pdf.
(cd runner-a && KIGEN_RENDER_LEASE=4 KIGEN_FAULT=render_claimed=outer-envelopes-002.pdf \
	setsid "$KIGEN" $CONF --db "$PG" --out "$T/shared" -q render --batch 1) >ra.out 2>&1
held_by_a=$(claims | sed -n 's/^outer-envelopes-002.pdf|//p')
check "a killed renderer leaves its claimed file unmade and claimed" \
	sh -c "[ -n '$held_by_a' ] && [ ! -e shared/$B/outer-envelopes-002.pdf ]"
(cd runner-b && KIGEN_RENDER_LEASE=4 "$KIGEN" $CONF --db "$PG" --out "$T/shared" -q render --batch 1) >rb.out 2>&1
expect_eq "renderer B finishes the batch" 0 "$?"
check "B took over A's claimed file after its lease ran out" \
	sh -c "[ -e shared/$B/outer-envelopes-002.pdf ] && [ \"\$(psql -X -A -t '$PG' -c \"select holder from render_claims where name = 'outer-envelopes-002.pdf'\")\" != '$held_by_a' ]"
expect_eq "the two renderers split the batch's files between them" 2 \
	"$(pg_sql "$PG" 'select count(distinct holder) from render_claims where batch = 1')"
"$KIGEN" $CONF --db "$PG" --out "$T/shared" -q export --batch 1
check "the batch two renderers made equals the one-machine batch, byte for byte" diff -r pg/$B shared/$B
# Two renderers alive at once on another copy of the batch: both finish, the result is the same.
PG=$(newdb render2)
"$KIGEN" $CONF --db "$PG" -q import reg.csv && "$KIGEN" $CONF --db "$PG" -q select --date 2026-11-21
(cd runner-a && exec "$KIGEN" $CONF --db "$PG" --out "$T/shared2" -q render --batch 1) >ra2.out 2>&1 &
r1=$!
(cd runner-b && exec "$KIGEN" $CONF --db "$PG" --out "$T/shared2" -q render --batch 1) >rb2.out 2>&1 &
r2=$!
wait "$r1"; rc1=$?
wait "$r2"; rc2=$?
expect_eq "two renderers at once on one batch both succeed" "0 0" "$rc1 $rc2"
"$KIGEN" $CONF --db "$PG" --out "$T/shared2" -q export --batch 1
check "and their batch equals the one-machine batch" diff -r pg/$B shared2/$B

# --- a killed runner: its workers hold none of its sessions, die with it, and its lock is freed -------
PG=$(newdb killed)
"$KIGEN" $CONF --db "$PG" -q import reg.csv && "$KIGEN" $CONF --db "$PG" -q select --date 2026-11-21
# The registry is locked by another session, so the forked workers park on their first read of it.
psql -X -q "$PG" -c "BEGIN; LOCK TABLE residents IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)" >/dev/null 2>&1 &
locker=$!
for _ in $(seq 600); do
	[ "$(pg_sql "$PG" "select count(*) from pg_locks where relation = 'residents'::regclass and granted and mode = 'AccessExclusiveLock'")" = 1 ] && break
	sleep 0.1
done
(cd runner-a && KIGEN_RENDER_LEASE=4 PGOPTIONS='-c lock_timeout=600s' exec setsid "$KIGEN" $CONF --db "$PG" --out "$T/killed" -q render --batch 1) >rk.out 2>&1 &
runner=$!
parked() { # every worker of the runner waits for the registry, each on a session of its own
	local w n
	w=$(pgrep -P "$runner" | wc -l)
	n=$(pg_sql "$PG" "select count(*) from pg_stat_activity where application_name = 'kigen' and wait_event_type = 'Lock'")
	[ "$w" -ge 1 ] && [ "$n" = "$w" ]
}
for _ in $(seq 600); do parked && break; sleep 0.1; done
sockets() { ls -l "/proc/$1/fd" 2>/dev/null | grep -o 'socket:\[[0-9]*\]' | sort -u; }
runner_sockets=$(sockets "$runner")
shared=
for w in $(pgrep -P "$runner"); do shared="$shared$(comm -12 <(echo "$runner_sockets") <(sockets "$w"))"; done
check "the runner's render workers are parked, each on its own session" parked
if [ "$(id -u)" = 0 ]; then
	check "no render worker holds a socket of its runner's sessions (the run lock lives on one)" \
		sh -c "[ -n '$runner_sockets' ] && [ -z '$shared' ]"
else
	skip "no render worker holds a socket of its runner's sessions" "needs root: a non-dumpable process's /proc/PID/fd"
fi
kill -9 "$runner"
check "a runner killed with -9 takes its render workers with it" group_gone "$runner"
pg_sql "$PG" "select pg_terminate_backend(pid) from pg_stat_activity where query like '%pg_sleep(600)%' and pid <> pg_backend_pid()" >/dev/null
wait "$locker" 2>/dev/null
ended() { [ "$(pg_sql "$PG" "select count(*) from pg_stat_activity where application_name = 'kigen'")" = 0 ]; }
for _ in $(seq 600); do ended && break; sleep 0.1; done
check "the killed runner's sessions end, so its run lock is free" ended
(cd runner-b && KIGEN_RENDER_LEASE=4 "$KIGEN" $CONF --db "$PG" --out "$T/killed" -q nightly --date 2026-11-21) >rk2.out 2>&1
expect_eq "the next night takes the lock and finishes the batch" 0 "$?"
check "which equals the one-machine batch" diff -r pg/$B killed/$B

# --- a connection lost mid-import ------------------------------------------------------------------
PG=$(newdb lost)
"$KIGEN" --db "$PG" -q import reg.csv
n0=$(pg_sql "$PG" 'select count(*), sum(birth) from residents')
"$ROOT/scripts/gen-registry" --count 3000 --seed 12 >more.csv
# The registry table is locked by another session, so the import parks after COPY, inside its
# transaction; then the server ends the import's session.
psql -X -q "$PG" -c "BEGIN; LOCK TABLE residents IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)" >/dev/null 2>&1 &
locker=$!
for _ in $(seq 600); do
	[ "$(pg_sql "$PG" 'select count(*) from pg_locks where relation = '"'"'residents'"'"'::regclass and mode = '"'"'AccessExclusiveLock'"'"' and granted')" = 1 ] && break
	sleep 0.1
done
PGOPTIONS='-c lock_timeout=600s' "$KIGEN" --db "$PG" import more.csv >lost.out 2>&1 &
imp=$!
for _ in $(seq 600); do
	[ "$(pg_sql "$PG" "select count(*) from pg_stat_activity where application_name = 'kigen' and wait_event_type = 'Lock'")" = 1 ] && break
	sleep 0.1
done
pg_sql "$PG" "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'kigen'" >/dev/null
wait "$imp"
expect_eq "an import whose connection is lost fails (exit 1)" 1 "$?"
check "and says the connection was lost and nothing was recorded" \
	grep -q "connection to the database server was lost; this run stopped and nothing of its unfinished work was recorded" lost.out
pg_sql "$PG" "select pg_terminate_backend(pid) from pg_stat_activity where query like '%pg_sleep(600)%' and pid <> pg_backend_pid()" >/dev/null
wait "$locker" 2>/dev/null
expect_eq "nothing of the lost import is in the registry" "$n0" "$(pg_sql "$PG" 'select count(*), sum(birth) from residents')"
check "the same import then succeeds" "$KIGEN" --db "$PG" -q import more.csv

# --- passwords never on the command line ---------------------------------------------------------
"$KIGEN" --db "postgresql://kigen:Pw0rdX9@/x?host=$KIGEN_PG_HOST" init >pw.out 2>&1
expect_eq "a password in the database name is refused as bad usage (exit 2)" 2 "$?"
check "the refusal points to the password file and does not echo the password" \
	sh -c 'grep -q "password file" pw.out && ! grep -q Pw0rdX9 pw.out'

# --- the README's roles: a machine's role uses the schema without owning it -------------------------
PG=$(newdb roles)
"$KIGEN" --db "$PG" -q init
psql -X -q -h "$KIGEN_PG_HOST" -U kigen_admin -d "pg_roles_$$" -v ON_ERROR_STOP=1 -c "
	DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kigen_desk') THEN CREATE ROLE kigen_desk LOGIN; END IF; END \$\$;
	GRANT USAGE ON SCHEMA public TO kigen_desk;
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO kigen_desk;
	GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO kigen_desk;
	REVOKE UPDATE, DELETE, TRUNCATE ON redemptions FROM kigen_desk;" >/dev/null
DESK="postgresql:///pg_roles_$$?host=$KIGEN_PG_HOST&user=kigen_desk"
oids=$(pg_sql "$PG" "$index_oids")
"$KIGEN" --db "$DESK" -q import reg.csv >desk.out 2>&1
expect_eq "a desk role with the README's grants imports into empty tables" 0 "$?"
expect_eq "it loads with the indexes in place (it owns no table to drop them from: the same objects)" \
	"$oids" "$(pg_sql "$PG" "$index_oids")"
check "and says nothing of it" test ! -s desk.out
expect_eq "which gives the registry of the owner's bulk load: every row, every id" \
	"$bulk_registry" "$(pg_sql "$DESK" "$registry" | md5sum)"
check "a desk role with the README's grants selects and reads the status" \
	sh -c "'$KIGEN' $CONF --db '$DESK' -q select --date 2026-11-21 && '$KIGEN' --db '$DESK' status | grep -q selected"
check "the desk role cannot create tables" sh -c "! psql -X -q '$DESK' -c 'CREATE TABLE x (a int)' 2>/dev/null"
