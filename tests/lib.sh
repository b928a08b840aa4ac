# Shared helpers for the end-to-end scripts. Each script sources this, then calls
#   check "rule in words" command args...       passes when the command exits 0
# Output is TAP ("ok - ..." / "not ok - ..." / "ok - ... # SKIP reason"), which tests/run.sh counts.
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

# skip "rule" "reason": a check that cannot run here; tests/run.sh counts it as skipped.
skip() { echo "ok - $1 # SKIP $2"; }

# require_root "what needs it": skips the whole script when not root (the card rig runs a
# private pcscd in its own namespaces).
require_root() {
	[ "$(id -u)" = 0 ] && return
	skip "${0##*/}" "needs root: $1"
	exit 0
}

# A private mount namespace for a small tmpfs (the full-disk tests): root gets one directly, a
# normal user through a user namespace. have_private_mounts says whether this machine allows it,
# so a test skips with its reason instead of taking unshare's failure for the program's.
if [ "$(id -u)" = 0 ]; then UNSHARE_M="unshare -m"; else UNSHARE_M="unshare -r -m"; fi
have_private_mounts() { mkdir -p "$T/.ns" && $UNSHARE_M sh -c "mount -t tmpfs -o size=16k tmpfs '$T/.ns'" 2>/dev/null; }

# wait_until COMMAND...: runs COMMAND every 0.1 s until it succeeds. Tests wait for a state,
# never for a time: the bound, KIGEN_TEST_WAIT seconds (600), only keeps a broken program from
# hanging the suite, and no working run comes near it however loaded the machine (a desk's 10 s
# bound once failed a check at load average 6).
wait_until() {
	local end=$((SECONDS + ${KIGEN_TEST_WAIT:-600}))
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# group_gone PGID: waits until no live process of the group is left (a killed run's render
# workers die a moment after their runner; a zombie is dead); false if one stays.
group_dead() { ! ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { alive = 1 } END { exit !alive }'; }
group_gone() { wait_until group_dead "$1"; }

# gone PID: the same for one process.
proc_dead() { case "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" in "" | Z) return 0 ;; esac; return 1; }
gone() { wait_until proc_dead "$1"; }

# hold_lock FILE: another "run" holds FILE's flock until release_lock; returns once it is held,
# so no test races the holder it starts.
hold_lock() {
	rm -f "$T/.release" && mkfifo "$T/.release"
	flock "$1" cat "$T/.release" >/dev/null &
	HOLDER=$!
	wait_until lock_held "$1"
}
lock_held() { ! flock -n "$1" true; }
release_lock() {
	echo >"$T/.release"
	wait "$HOLDER"
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
