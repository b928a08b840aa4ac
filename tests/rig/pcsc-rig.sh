#!/bin/bash
# pcsc-rig.sh: a private pcscd with the vpcd virtual reader and our virtual card (tests/vcard),
# so tests exercise the real libpcsclite and pcscd (README.md "Card reader and the virtual card").
#
#   pcsc-rig.sh start  DIR [VCARD-OPTIONS...]  start pcscd + vpcd, insert a card, wait until the
#                                              reader shows it; prints "export PCSCLITE_CSOCK_NAME=..."
#   pcsc-rig.sh card   DIR [VCARD-OPTIONS...]  remove the card and insert a new one (new options)
#   pcsc-rig.sh remove DIR                     remove the card and wait until no reader shows one
#   pcsc-rig.sh wait   DIR                     wait until a reader shows a card (after a re-insert)
#   pcsc-rig.sh stop   DIR                     stop the card and pcscd; no process is left behind
#
# pcscd's socket path is fixed at build time (/run/pcscd/pcscd.comm) and vpcd listens on
# 0.0.0.0:35963, so pcscd runs in its own mount + network namespace (unshare -m -n) with a tmpfs
# on /run whose pcscd/ is DIR/sock; only the client honours PCSCLITE_CSOCK_NAME. The card joins
# that network namespace (nsenter -n) and connects to vpcd's server on 127.0.0.1:35963.
# The card logs each APDU to DIR/card.log (VERIFY data redacted) and keeps its counters in
# DIR/card.state. Needs root. Never add pcscd's -a/--apdu or -d here: they would log PINs.
set -eu

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
VCARD=${VCARD:-$BUILD/vcard}
CARDTEST=${CARDTEST:-$BUILD/cardtest}
DRIVER=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
WAIT_S=${KIGEN_TEST_WAIT:-600} # how long a reader may take to show a change: a bound against a hang, not a timing

die() {
	echo "pcsc-rig: $*" >&2
	exit 1
}

# alive PID NAME: the process exists, is not a zombie, and is the program we started.
alive() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	[ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 1
	! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

# stop_pid FILE NAME: TERM, then KILL after 5 s, the process whose pid is in FILE.
stop_pid() {
	local pid
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	if alive "$pid" "$2"; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do alive "$pid" "$2" || break; sleep 0.1; done
		if alive "$pid" "$2"; then
			kill -KILL "$pid" 2>/dev/null || true
			for _ in $(seq 20); do alive "$pid" "$2" || break; sleep 0.1; done
		fi
	fi
	rm -f "$1"
}

client_env() {
	export PCSCLITE_CSOCK_NAME="$DIR/sock/pcscd.comm"
}

# The helpers below return 1 with a message rather than exit, so that start can clean up.
wait_card() { # present|absent
	client_env
	"$CARDTEST" wait "$1" "$WAIT_S" && return 0
	echo "pcsc-rig: the reader did not become $1 (see $DIR/pcscd.log, $DIR/vcard.err)" >&2
	return 1
}

insert() { # VCARD-OPTIONS...
	local pcscd
	pcscd=$(cat "$DIR/pcscd.pid" 2>/dev/null) || pcscd=
	if ! alive "$pcscd" pcscd; then
		echo "pcsc-rig: pcscd is not running" >&2
		return 1
	fi
	nsenter -t "$pcscd" -n -- "$VCARD" --port 35963 --log "$DIR/card.log" --state "$DIR/card.state" "$@" \
		</dev/null >>"$DIR/vcard.err" 2>&1 &
	echo $! >"$DIR/vcard.pid"
	wait_card present
}

remove() {
	stop_pid "$DIR/vcard.pid" vcard
	wait_card absent
}

start() {
	[ "$(id -u)" -eq 0 ] || die "needs root (namespaces and a private pcscd)"
	[ -e "$DRIVER" ] || die "$DRIVER is missing (apt-get install vsmartcard-vpcd)"
	[ -x "$VCARD" ] && [ -x "$CARDTEST" ] || die "build $VCARD and $CARDTEST first (make)"
	[ ! -f "$DIR/pcscd.pid" ] || die "$DIR already holds a rig; stop it first"
	mkdir -p "$DIR/conf" "$DIR/sock"
	cat >"$DIR/conf/vpcd" <<EOF
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:35963
LIBPATH      $DRIVER
CHANNELID    0x8C7B
EOF
	# Without --fork, unshare execs sh, which execs pcscd: $! is pcscd's pid.
	unshare -m -n sh -c '
		mount -t tmpfs tmpfs /run && mkdir -p /run/pcscd && mount --bind "$1/sock" /run/pcscd &&
		ip link set lo up && exec pcscd --foreground --config "$1/conf"' sh "$DIR" \
		</dev/null >"$DIR/pcscd.log" 2>&1 &
	echo $! >"$DIR/pcscd.pid"
	# Until its socket is there or it has died: a wait for a state, not a time (load delays it;
	# the 600 s only keep a hung pcscd from holding the suite).
	local end=$((SECONDS + 600))
	while [ ! -S "$DIR/sock/pcscd.comm" ] && kill -0 "$(cat "$DIR/pcscd.pid")" 2>/dev/null &&
		[ "$SECONDS" -lt "$end" ]; do
		sleep 0.05
	done
	[ -S "$DIR/sock/pcscd.comm" ] || { stop; die "pcscd did not start (see $DIR/pcscd.log)"; }
	insert "$@" || { stop; exit 1; }
	echo "export PCSCLITE_CSOCK_NAME=$DIR/sock/pcscd.comm"
}

stop() {
	stop_pid "$DIR/vcard.pid" vcard
	stop_pid "$DIR/pcscd.pid" pcscd
	# The namespace's tmpfs and bind mount vanish with its last process.
	rm -f "$DIR/sock/pcscd.comm" "$DIR/sock/pcscd.pid"
}

[ $# -ge 2 ] || die "usage: pcsc-rig.sh start|card|remove|wait|stop DIR [VCARD-OPTIONS...]"
cmd=$1
DIR=$(cd "$2" && pwd) || die "$2: no such directory"
shift 2
case "$cmd" in
start) start "$@" ;;
card) remove && insert "$@" || exit 1 ;;
remove) remove || exit 1 ;;
wait) wait_card present || exit 1 ;;
stop) stop ;;
*) die "unknown command $cmd" ;;
esac
