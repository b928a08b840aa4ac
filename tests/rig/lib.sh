# rig/lib.sh: what the scripts that drive the virtual card share (source it after tests/lib.sh):
# the build folder, a rig folder $R whose pcscd and card are stopped however the script ends,
# the holder's PINs in an owner-only file, and the card's witnesses: its counters (state file)
# and what it received (log; VERIFY data is never written there).
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
export BUILD
RIG=$ROOT/tests/rig/pcsc-rig.sh
R=$T/rig
mkdir -p "$R"

# A script with more to stop (a second card, a tmux session) redefines this.
rig_on_exit() { :; }
trap 'rig_on_exit; "$RIG" stop "$R" >/dev/null 2>&1; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP

# write_pins SIGN AUTH JUKI: the file the virtual card takes its PINs from ($T/pins).
write_pins() { (umask 077 && printf 'sign=%s\nauth=%s\njuki=%s\n' "$1" "$2" "$3" >"$T/pins"); }

state() { sed -n "s/^$1=//p" "$R/card.state"; }
counters() { echo "$(state sign),$(state auth),$(state juki)"; }
