#!/bin/bash
# Runs the unit tests (cmocka, TAP output) and the end-to-end scripts (TAP lines), and ends
# with the one line CI reads: "N passed, N failed, N skipped". A line "ok - ... # SKIP reason"
# (tests/lib.sh skip, e.g. the card rig when not root) is skipped, and its reason is printed.
# Usage: tests/run.sh [unit|e2e] [NAME-FILTER]
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export KIGEN=${KIGEN:-$PWD/kigen}
export LC_ALL=C.UTF-8 TZ=Asia/Tokyo
what=${1:-all}
filter=${2:-}
pass=0 fail=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

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

run_one() { # name, command...
	local name=$1; shift
	last_failed=0
	"$@" >"$log" 2>&1
	local rc=$?
	local before=$((pass + fail + skipped))
	tally <"$log"
	if [ $((pass + fail + skipped)) -eq "$before" ] || { [ $rc -ne 0 ] && [ "$last_failed" = 0 ] && ! grep -q '^not ok' "$log"; }; then
		echo "not ok - $name exited $rc"
		sed 's/^/# /' "$log" | tail -30
		fail=$((fail + 1))
	fi
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$BUILD"/test_*; do
		[ -x "$t" ] || continue
		case "$t" in *"$filter"*) ;; *) continue ;; esac
		echo "== unit: ${t##*/}"
		CMOCKA_MESSAGE_OUTPUT=TAP run_one "${t##*/}" "$t"
	done
fi
if [ "$what" = all ] || [ "$what" = e2e ]; then
	for t in tests/e2e/*.sh; do
		[ -f "$t" ] || continue
		case "$t" in *"$filter"*) ;; *) continue ;; esac
		echo "== e2e: ${t##*/}"
		run_one "${t##*/}" bash "$t"
	done
fi
echo "$pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]
