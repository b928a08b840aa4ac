#!/bin/bash
# make bench: kigen's figures on this machine. Everything it runs is in this repository.
#
#   1. scripts/bench-render.sh: the render stage against the naive cairo baseline and the
#      ReportLab implementation (tests/bench/), one run, same residents: CPU ms per set, bytes
#      per set, peak memory, the ratios, and kigen's peak at 10x the sets.
#   2. The real pipeline (a generated registry, imported into SQLite, selected, rendered from the
#      database): CPU ms and bytes per set and peak memory of `kigen render` at growing sizes.
#   3. Import and selection over 1,000,000 residents, on SQLite and on PostgreSQL (a private
#      server as make test starts it, tests/pg.sh, with fsync on and its shared memory in huge
#      pages when it can have them), and a nightly run with 100,000 due residents with the wall
#      time of each stage.
#
#   scripts/bench.sh            everything (about fifteen minutes on 2 cores)
#   scripts/bench.sh quick      parts 1 and 2 at small sizes only, to see that it works
#   scripts/bench.sh million    only import and selection over 1,000,000 residents, both backends
#   scripts/bench.sh pg-night   only the 100,000-set night, on PostgreSQL (measured once for the README)
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
export LC_ALL=C.UTF-8 TZ=Asia/Tokyo
KIGEN=$ROOT/kigen
quick=${1:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/kigen-bench.XXXXXX")
# shellcheck source=../tests/pg.sh
. tests/pg.sh
# The private server runs as the README's operator guide says a production one should, with its
# shared memory in huge pages ("Give the server huge pages"): as root, this script reserves them
# for the run (nr_hugepages is given back at exit); otherwise the server takes them if the machine
# has them reserved (huge_pages = try, PostgreSQL's default). It says which.
HUGE=/proc/sys/vm/nr_hugepages
huge_was=
trap 'pg_stop; rm -rf "$work"; [ -z "$huge_was" ] || echo "$huge_was" >$HUGE' EXIT
huge_free() { awk '/^HugePages_Free:/ { f = $2 } /^HugePages_Rsvd:/ { r = $2 } END { print f - r }' /proc/meminfo; }
pg_server() {
	[ -z "$PG_DIR" ] || return 0
	if [ "$(id -u)" = 0 ] && [ -w $HUGE ] && [ "$(huge_free)" -lt 80 ]; then
		huge_was=$(cat $HUGE)
		echo $((huge_was + 80)) >$HUGE # 2 MB pages; the server asks for 72 (postgres -C shared_memory_size_in_huge_pages)
	fi
	local before
	before=$(huge_free)
	PG_FSYNC=on pg_start "$(mktemp -d /tmp/kigen-pg.XXXXXX)"
	local taken=$((before - $(huge_free)))
	if [ "$taken" -gt 0 ]; then
		echo "(the server's shared memory: in huge pages, $((taken * $(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo) / 1024)) MB${huge_was:+, reserved for this run})"
	else
		echo "(the server's shared memory: in 4 kB pages; no huge pages to be had on this machine)"
	fi
}

# Every due resident is in one batch: a year of lead time makes a first night's batch about a fifth
# of the registry, so the render sizes below come from registries five times their size.
sed "s|^  templates: .*|  templates: $ROOT/templates|" fixtures/settings.yaml >"$work/settings.yaml"
cp "$work/settings.yaml" "$work/wide.yaml"
cat >>"$work/wide.yaml" <<'YAML'
policy:
  lead_days: 366
YAML
DATE=2026-11-21

timed() { # timed LOG command...: wall seconds into $secs, the command's stderr into LOG.log
	local t0 t1 log=$1
	shift
	t0=$(date +%s.%N)
	"$@" 2>"$log.log" >/dev/null
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

# A registry whose first nightly batch has about want sets, imported and selected.
prepare() { # dir want
	local d=$1 want=$2
	mkdir -p "$d"
	scripts/gen-registry --count $((want * 5)) --seed 42 --as-of $DATE >"$d/reg.csv"
	"$KIGEN" --config "$work/wide.yaml" --db "$d/k.db" -q import "$d/reg.csv"
	"$KIGEN" --config "$work/wide.yaml" --db "$d/k.db" -q select --date $DATE
	sets=$(sqlite3 "$d/k.db" 'select notices from batches where id = 1')
}

# night DIR DB NOTICES-QUERY...: a nightly run with 100,000 due residents (a registry of 610,000)
# into database DB, with the wall time of each stage; the last arguments ask DB how many notices.
night() {
	local d=$1 db=$2
	shift 2
	mkdir -p "$d"
	scripts/gen-registry --count 610000 --seed 9 --as-of $DATE >"$d/reg.csv"
	"$KIGEN" --config "$work/wide.yaml" --db "$db" -q import "$d/reg.csv"
	cd "$d"
	timed "$d/nightly" /usr/bin/time -f '%M' "$KIGEN" --config "$work/wide.yaml" --db "$db" --out "$d/out" nightly --date $DATE
	cd "$ROOT"
	grep -E 'select:|render:|export:|report:' "$d/nightly.log" | sed 's/^[^ ]* kigen: /  /'
	echo "nightly:   $secs s in all, $("$@" 'select notices from batches') notices, peak of the largest process $(($(tail -1 "$d/nightly.log") / 1024)) MB"
}

if [ "$quick" = pg-night ]; then
	echo "== a nightly run with 100,000 due residents, on PostgreSQL"
	pg_server
	db=$(pg_newdb bench_night)
	night "$work/pn" "$db" pg_sql "$db"
	exit 0
fi

if [ "$quick" != million ]; then
if [ "$quick" = quick ]; then scripts/bench-render.sh 300; else scripts/bench-render.sh 1000; fi

echo
echo "== kigen render from the database (kigen render --batch 1, 2 workers)"
if [ "$quick" = quick ]; then sizes=(1000 3000); else sizes=(5000 20000 50000); fi
printf '%-9s %11s %10s %9s\n' sets "CPU ms/set" bytes/set "peak MB"
for want in "${sizes[@]}"; do
	d=$work/r$want
	prepare "$d" "$want"
	cd "$d"
	timed "$d/render" /usr/bin/time -f '%U %S %M' "$KIGEN" --config "$work/wide.yaml" --db "$d/k.db" --out "$d/out" render --batch 1
	cd "$ROOT"
	bytes=$(cat "$d"/out/*/batch-0001/*.pdf | wc -c)
	read -r user sys peak < <(tail -1 "$d/render.log")
	printf '%-9s %11s %10s %9s\n' "$sets" "$(awk -v u="$user" -v s="$sys" -v n="$sets" 'BEGIN { printf "%.2f", (u + s) * 1000 / n }')" \
		$((bytes / sets)) "$(awk -v k="$peak" 'BEGIN { printf "%.1f", k / 1024 }')"
	rm -rf "$d"
done
fi

if [ "$quick" != quick ]; then
	echo
	echo "== registry import and selection over 1,000,000 residents"
	d=$work/m
	mkdir -p "$d"
	scripts/gen-registry --count 1000000 --seed 7 --as-of $DATE >"$d/reg.csv"
	# The next night's export with 1% of the residents moved (a new 番地; gen-registry quotes nothing).
	awk -F, 'NR > 1 && NR % 100 == 50 { $8 = $8 "-1" } { print }' OFS=, "$d/reg.csv" >"$d/reg1.csv"
	reimports() { # db: the same file again, then the one with 1% changed
		timed "$d/reimport" "$KIGEN" --db "$1" -q import "$d/reg.csv"
		echo "re-import, the same file:   $secs s"
		timed "$d/reimport" "$KIGEN" --db "$1" -q import "$d/reg1.csv"
		echo "re-import, 1% of it changed: $secs s"
	}
	timed "$d/import" /usr/bin/time -f '%M' "$KIGEN" --db "$d/k.db" -q import "$d/reg.csv"
	echo "import:    $secs s, peak $(($(tail -1 "$d/import.log") / 1024)) MB"
	timed "$d/select" /usr/bin/time -f '%M' "$KIGEN" --config "$work/settings.yaml" --db "$d/k.db" select --date $DATE
	echo "selection: $secs s, $(sqlite3 "$d/k.db" 'select notices from batches') notices, peak $(($(tail -1 "$d/select.log") / 1024)) MB"
	reimports "$d/k.db"
	echo "-- the same on PostgreSQL (the database's owner: the first import is a bulk load)"
	pg_server
	db=$(pg_newdb bench_million)
	timed "$d/import" /usr/bin/time -f '%M' "$KIGEN" --db "$db" -q import "$d/reg.csv"
	echo "import:    $secs s, peak $(($(tail -1 "$d/import.log") / 1024)) MB"
	timed "$d/select" /usr/bin/time -f '%M' "$KIGEN" --config "$work/settings.yaml" --db "$db" select --date $DATE
	echo "selection: $secs s, $(pg_sql "$db" 'select notices from batches') notices, peak $(($(tail -1 "$d/select.log") / 1024)) MB"
	reimports "$db"
	echo "-- the first import and selection by a role that owns no table (the machines' role, README): the indexes and foreign keys stay"
	db=$(pg_newdb bench_machine)
	"$KIGEN" --db "$db" -q init
	psql -X -q -h "$KIGEN_PG_HOST" -U kigen_admin -d bench_machine -v ON_ERROR_STOP=1 -c "
		CREATE ROLE kigen_machine LOGIN; GRANT USAGE ON SCHEMA public TO kigen_machine;
		GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO kigen_machine;" >/dev/null
	db="postgresql:///bench_machine?host=$KIGEN_PG_HOST&user=kigen_machine"
	timed "$d/import" /usr/bin/time -f '%M' "$KIGEN" --db "$db" -q import "$d/reg.csv"
	echo "import:    $secs s, peak $(($(tail -1 "$d/import.log") / 1024)) MB"
	# and its first selection, which keeps the notices' foreign-key checks per row (README)
	timed "$d/select" /usr/bin/time -f '%M' "$KIGEN" --config "$work/settings.yaml" --db "$db" select --date $DATE
	echo "selection: $secs s, $(pg_sql "$db" 'select notices from batches') notices, peak $(($(tail -1 "$d/select.log") / 1024)) MB"
	rm -rf "$d"
	[ "$quick" = million ] && exit 0

	echo
	echo "== a nightly run with 100,000 due residents"
	night "$work/n" "$work/n/k.db" sqlite3 "$work/n/k.db"
fi
