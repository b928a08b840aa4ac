#!/bin/bash
# card-opensc.sh: a real client nobody here wrote believes our virtual card. Debian's OpenSC
# (its JPKI driver, card-jpki.c and pkcs15-jpki.c) is run against the vcard in every card
# profile: either answer to a retry query of a verified PIN (9000, 63Cx), each locked answer
# (63C0, 6983, 6984) and each place of the 住基 PIN (...0401, ...0100, both). OpenSC must name
# the card jpki, bind (pkcs15-tool -D lists both JPKI PINs with their tries) and read every
# certificate: the user-auth one and both CA certificates without a PIN, the signature one after
# the signature PIN. What OpenSC reads must be what kigen reads (serial, expiry).
source "$(dirname "$0")/../lib.sh"
require_root "the card rig runs a private pcscd in its own mount and network namespaces"
source "$ROOT/tests/rig/lib.sh"
command -v pkcs15-tool >/dev/null || { echo "not ok - opensc is installed (scripts/install-deps.sh)"; exit 1; }

SIGN=K7Q2ZP AUTH=4071 JUKI=5928
write_pins "$SIGN" "$AUTH" "$JUKI"
SERIAL=0123456789ABCDEF
export OPENSC_SIGN_PIN=$SIGN # a test card's PIN, passed as --pin env:... (never in argv)
eval "$("$RIG" start "$R" --pins "$T/pins" --serial "$SERIAL" --not-after 2031-03-15)"
[ -n "${PCSCLITE_CSOCK_NAME:-}" ] || { echo "not ok - the rig starts"; exit 1; }

x509() { openssl x509 -inform PEM -noout "$@" 2>/dev/null; }
i=0
for verified in 9000 63Cx; do
	for locked in 63C0 6983 6984; do
		juki=$(echo "0401 0100 both" | cut -d' ' -f$((i % 3 + 1)))
		i=$((i + 1))
		p="verified $verified, locked $locked, 住基 PIN in $juki"
		"$RIG" card "$R" --pins "$T/pins" --serial "$SERIAL" --not-after 2031-03-15 --verified-answer "$verified" \
			--locked-answer "$locked" --juki-pin "$juki" --tries 4,3,3 >/dev/null
		expect_eq "[$p] opensc-tool -n names the card jpki" jpki "$(opensc-tool -r 0 -n 2>/dev/null)"
		pkcs15-tool -r 0 -D >"$T/dump" 2>"$T/dump.err"
		expect_eq "[$p] pkcs15-tool -D binds" 0 $?
		expect_eq "[$p] both PINs are listed with their tries (auth 3, sign 4 after one wrong try)" \
			"User Authentication PIN=3 Digital Signature PIN=4" \
			"$(awk '/^PIN \[/ {sub(/^PIN \[/, ""); sub(/\]$/, ""); name=$0} /Tries left/ {print name "=" $NF}' "$T/dump" | paste -sd' ')"
		for id in 01 03 04; do pkcs15-tool -r 0 --read-certificate "$id" >"$T/cert$id.pem" 2>/dev/null; done
		echo | pkcs15-tool -r 0 --verify-pin --auth-id 02 --pin env:OPENSC_SIGN_PIN --read-certificate 02 \
			>"$T/cert02.pem" 2>/dev/null
		expect_eq "[$p] every certificate reads (auth, sign with its PIN, both CAs)" \
			"subject=CN = kigen virtual card|subject=CN = kigen virtual card|subject=CN = JPKI auth CA|subject=CN = JPKI sign CA" \
			"$(for id in 01 02 03 04; do x509 -subject <"$T/cert$id.pem"; done | paste -sd'|')"
		"$KIGEN" card status --json --reader "Virtual PCD 00 00" >"$T/status.json" 2>/dev/null
		expect_eq "[$p] OpenSC and kigen read the same user-auth certificate" \
			"serial=$SERIAL" "$(x509 -serial <"$T/cert01.pem")"
		expect_eq "[$p] kigen reads that serial too" "$SERIAL" \
			"$(jq -r .auth_cert.serial "$T/status.json")"
	done
done

# The signature certificate is the holder's secret until the signature PIN is verified.
pkcs15-tool -r 0 --read-certificate 02 >/dev/null 2>&1 </dev/null
check "without the signature PIN the signature certificate does not read (6982)" grep -q '^READ 0001 -> 6982' "$R/card.log"
leaks=$(grep -c -w -F -e "$SIGN" -e "$AUTH" -e "$JUKI" "$R/card.log" "$R/pcscd.log" "$T/dump" "$T/dump.err" | awk -F: '{s+=$2} END {print s}')
expect_eq "no PIN in the card's log, pcscd's log or OpenSC's output" 0 "$leaks"
