# Shared helpers for the end-to-end scripts. Each script sources this, then calls
#   check "rule in words" command args...       passes when the command exits 0
# Output is TAP ("ok - ..." / "not ok - ..."), which tests/run.sh counts.
set -u
export LC_ALL=C.UTF-8 TZ=Asia/Tokyo
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export KIGEN=${KIGEN:-$ROOT/kigen}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# tests/run.sh runs some scripts a second time on PostgreSQL: KIGEN_TEST_DB is then a database
# of the private server (tests/pg.sh), and "sqlite3 URI SQL" in a script (in sh -c too) asks it
# with psql, rows as "a|b" as sqlite3 prints them.
export KIGEN_DB=${KIGEN_TEST_DB:-$T/kigen.db}
cd "$T" || exit 1
on_pg() { case "$KIGEN_DB" in postgresql:*) return 0 ;; esac; return 1; }

# The sqlite3 tool gives up at once on a locked database; a test's query waits for a writer
# as kigen does (busy timeout), so a check never races the program it checks.
mkdir -p "$T/.bin"
cat >"$T/.bin/sqlite3" <<'SH'
#!/bin/sh
case "$1" in postgresql:*) [ "$2" = .dump ] && exec pg_dump "$1"; exec psql -X -q -A -t -F'|' -v ON_ERROR_STOP=1 "$1" -c "$2" ;; esac
exec /usr/bin/sqlite3 -cmd '.timeout 5000' "$@"
SH
chmod +x "$T/.bin/sqlite3"
export PATH="$T/.bin:$PATH"

check() {
	local name=$1
	shift
	if "$@" >"$T/.check.out" 2>&1; then
		echo "ok - $name"
	else
		echo "not ok - $name"
		sed 's/^/# /' "$T/.check.out" | tail -20
	fi
}

# expect_eq "rule" EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then
		echo "ok - $1"
	else
		echo "not ok - $1"
		echo "#   expected: $2"
		echo "#   actual:   $3"
	fi
}
