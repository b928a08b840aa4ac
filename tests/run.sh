#!/bin/bash
# Runs the unit tests (cmocka, TAP output) and the end-to-end scripts (TAP lines), and ends
# with the one line CI reads: "N passed, N failed, N skipped". A line "ok - ... # SKIP reason"
# (tests/lib.sh skip, e.g. the card rig when not root) is skipped, and its reason is printed.
# Usage: tests/run.sh [unit|e2e] [NAME-FILTER]
# A private PostgreSQL server (tests/pg.sh) serves the store's unit tests and the scripts that
# run a second time on PostgreSQL; it is stopped however this script ends.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export KIGEN=${KIGEN:-$PWD/kigen}
export LC_ALL=C.UTF-8 TZ=Asia/Tokyo
what=${1:-all}
filter=${2:-}
pass=0 fail=0 skipped=0
log=$(mktemp)
. tests/pg.sh
trap 'pg_stop; rm -f "$log" "$log.times"' EXIT
trap 'exit 130' INT TERM HUP
# The scripts that keep data, run once more each on a fresh PostgreSQL database.
PG_E2E="foundation manifest counter holds mail import web"

tally() { # reads TAP from stdin, echoes it, counts
	while IFS= read -r line; do
		case "$line" in
		"ok "*"# SKIP"*) skipped=$((skipped + 1)); echo "$line" ;;
		"ok "*) pass=$((pass + 1)); [ -n "${VERBOSE:-}" ] && echo "$line" ;;
		"not ok "*) fail=$((fail + 1)); echo "$line" ;;
		"# "*) [ -n "${VERBOSE:-}" ] || [ "$last_failed" = 1 ] && echo "$line" ;;
		esac
		case "$line" in "not ok "*) last_failed=1 ;; "ok "*) last_failed=0 ;; esac
	done
}

# CPU: the CPU seconds (user + system) of every child waited for so far, a suite's cost apart
# from how loaded the machine is, where its wall time is not. (times must run in this shell.)
cpu() {
	times >"$log.times"
	CPU=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$log.times")
}

run_one() { # header, name, command...: runs it, prints the header with its wall and CPU time, then its TAP
	local header=$1 name=$2; shift 2
	last_failed=0
	local start=$SECONDS cpu0
	cpu
	cpu0=$CPU
	"$@" >"$log" 2>&1
	local rc=$?
	cpu
	echo "== $header ($((SECONDS - start)) s, $(awk -v a="$cpu0" -v b="$CPU" 'BEGIN { printf "%.1f", b - a }') s CPU)"
	local before=$((pass + fail + skipped))
	tally <"$log"
	if [ $((pass + fail + skipped)) -eq "$before" ] || { [ $rc -ne 0 ] && [ "$last_failed" = 0 ] && ! grep -q '^not ok' "$log"; }; then
		echo "not ok - $name exited $rc"
		sed 's/^/# /' "$log" | tail -30
		fail=$((fail + 1))
	fi
}

if pg_start "$(mktemp -d /tmp/kigen-pg.XXXXXX)"; then
	# What the scripts' sqlite3 queries use that PostgreSQL spells otherwise, in every new database.
	psql -X -q -h "$KIGEN_PG_HOST" -U kigen_admin -d template1 -v ON_ERROR_STOP=1 -c "
		CREATE FUNCTION date(bigint, text) RETURNS text IMMUTABLE LANGUAGE sql
		  AS \$\$ SELECT to_char(date '1970-01-01' + (\$1 / 86400)::int, 'YYYY-MM-DD') \$\$;
		CREATE FUNCTION bool_sum(bigint, boolean) RETURNS bigint IMMUTABLE LANGUAGE sql
		  AS \$\$ SELECT \$1 + \$2::int \$\$;
		CREATE AGGREGATE sum(boolean) (SFUNC = bool_sum, STYPE = bigint, INITCOND = 0);" >/dev/null
	export KIGEN_TEST_PG
	KIGEN_TEST_PG=$(pg_newdb unit_store)
else
	echo "not ok - a private PostgreSQL server starts (tests/pg.sh)"
	fail=$((fail + 1))
	PG_E2E=
fi

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$BUILD"/test_*; do
		[ -x "$t" ] || continue
		case "$t" in *"$filter"*) ;; *) continue ;; esac
		CMOCKA_MESSAGE_OUTPUT=TAP run_one "unit: ${t##*/}" "${t##*/}" "$t"
	done
fi
if [ "$what" = all ] || [ "$what" = e2e ]; then
	for t in tests/e2e/*.sh; do
		[ -f "$t" ] || continue
		case "$t" in *"$filter"*) ;; *) continue ;; esac
		run_one "e2e: ${t##*/}" "${t##*/}" bash "$t"
	done
	for name in $PG_E2E; do
		case "tests/e2e/$name.sh" in *"$filter"*) ;; *) continue ;; esac
		KIGEN_TEST_DB=$(pg_newdb "e2e_$name") run_one "e2e on PostgreSQL: $name.sh" "$name.sh on PostgreSQL" \
			bash "tests/e2e/$name.sh"
	done
fi
cpu
echo "== all: $SECONDS s, $CPU s CPU"
echo "$pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]
