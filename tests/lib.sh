# Shared helpers for the end-to-end scripts. Each script sources this, then calls
#   check "rule in words" command args...       passes when the command exits 0
# Output is TAP ("ok - ..." / "not ok - ..."), which tests/run.sh counts.
set -u
export LC_ALL=C.UTF-8 TZ=Asia/Tokyo
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export KIGEN=${KIGEN:-$ROOT/kigen}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export KIGEN_DB="$T/kigen.db"
cd "$T" || exit 1

# The sqlite3 tool gives up at once on a locked database; a test's query waits for a writer
# as kigen does (busy timeout), so a check never races the program it checks.
sqlite3() { command sqlite3 -cmd '.timeout 5000' "$@"; }

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
