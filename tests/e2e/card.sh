#!/bin/bash
# card.sh: the card module (pipeline/card.c) through the real libpcsclite and a private pcscd with
# the vpcd reader, against our virtual My Number card (tests/vcard/vcard.c). kigen card
# status covers identification, the certificate and the retry queries; tests/vcard/cardtest
# drives card_verify_pin. The card's own log and state file are the witnesses: what it received
# (VERIFY or not) and its counters.
source "$(dirname "$0")/../lib.sh"
require_root "the card rig runs a private pcscd in its own mount and network namespaces"
source "$ROOT/tests/rig/lib.sh" # the rig in $R, stopped however this script ends
CARDTEST=$BUILD/cardtest

# PINs unlikely to appear anywhere by chance, so a leak would be found by grep.
SIGN=K7Q2ZP AUTH=4071 JUKI=5928
write_pins "$SIGN" "$AUTH" "$JUKI"
pin() { printf '%s\n' "$1" >"$T/pin"; }

verifies() { grep -c '^VERIFY' "$R/card.log"; }
json() { # json KEY.PATH < JSON: prints the value (lists as comma-separated); jq, not a python per value
	jq -r --arg k "$1" 'getpath($k | split(".")) | if type == "array" then map(tostring) | join(",") else tostring end'
}
status_json() { "$KIGEN" card status --json >"$T/status.json" 2>"$T/status.err"; }
get() { json "$1" <"$T/status.json"; }
card() { : >"$R/card.log"; "$RIG" card "$R" --pins "$T/pins" "$@" >/dev/null; }
verify() { # verify PIN-NAME: runs cardtest with the PIN in $T/pin; output in $T/v.out
	"$CARDTEST" verify "$1" <"$T/pin" >"$T/v.out" 2>"$T/v.err"
	echo $? >"$T/v.rc"
}

eval "$("$RIG" start "$R" --pins "$T/pins" --serial 0123456789abcdef --not-after 2031-03-15)"
if [ -z "${PCSCLITE_CSOCK_NAME:-}" ]; then
	echo "not ok - the rig starts a private pcscd with the virtual card"
	sed 's/^/# /' "$R/pcscd.log" "$R/vcard.err" 2>/dev/null | tail -20
	exit 1
fi
echo "ok - the rig starts a private pcscd with the virtual card"

# --- identification, certificate, retry queries -------------------------------------------
status_json
expect_eq "card status succeeds on a My Number card" 0 $?
expect_eq "the two vpcd readers are listed" "Virtual PCD 00 00,Virtual PCD 00 01" "$(get readers)"
expect_eq "the first reader with a card is used" "Virtual PCD 00 00" "$(get reader)"
expect_eq "a JPKIAPICCTOKEN2 card is a My Number card" "true,mynumber" "$(get mynumber),$(get kind)"
expect_eq "the certificate serial is read from the DER, upper case" "0123456789ABCDEF" "$(get auth_cert.serial)"
expect_eq "notAfter 23:59:59 JST is that day" "2031-03-15" "$(get auth_cert.expires)"
expect_eq "fresh counters read 5/3/3" "5,3,3" "$(get pins.sign.left),$(get pins.auth.left),$(get pins.juki.left)"

"$KIGEN" card status --json --reader "Virtual PCD 00 01" >/dev/null 2>"$T/err"
expect_eq "--reader picks that reader (an empty one: exit 1)" 1 $?
check "--reader: the message names the reader and says it is empty" grep -q \
	"reader 'Virtual PCD 00 01': no card in the reader" "$T/err"
"$KIGEN" card status --reader "Virtual PCD 00 00" >/dev/null 2>&1
expect_eq "--reader with the card's reader works" 0 $?

"$KIGEN" card status >"$T/plain.out" 2>&1
check "plain status shows Japanese labels for staff" grep -q \
	-e '^カード: マイナンバーカード (JPKIAPICCTOKEN2)$' "$T/plain.out"
check "plain status shows the serial and expiry" grep -qx \
	'利用者証明用電子証明書: シリアル番号 0123456789ABCDEF、有効期限 2031-03-15' "$T/plain.out"
check "plain status shows tries left" grep -qx '利用者証明用電子証明書の暗証番号: 残り 3 回（最大 3 回）' "$T/plain.out"

card --tries 4,2,1
for _ in $(seq 10); do "$KIGEN" card status --json >/dev/null 2>&1; done
status_json
expect_eq "counters below the maximum are read as they are" "4,2,1" \
	"$(get pins.sign.left),$(get pins.auth.left),$(get pins.juki.left)"
expect_eq "eleven retry queries per PIN use no try (card counters unchanged)" "4,2,1" "$(counters)"
expect_eq "card status never sends a VERIFY with data" 0 "$(verifies)"
expect_eq "each status asks every PIN's counter (33 queries)" 33 "$(grep -c '^RETRIES' "$R/card.log")"

card --tries 5,0,3
status_json
expect_eq "a locked PIN (63C0) reads 0 tries left" "0,false" "$(get pins.auth.left),$(get pins.auth.verified)"
card --tries 5,3,0 --locked-answer 6984
status_json
expect_eq "a locked PIN (6984) reads 0 tries left" "0" "$(get pins.juki.left)"
"$KIGEN" card status 2>&1 | grep -qx '住民基本台帳用の暗証番号（juki-0401）: ロック中（本人の来庁が必要）'
expect_eq "plain status says a locked PIN needs the holder in person, and in which application" 0 $?
card --tries 5,0,3 --locked-answer 6983
status_json
expect_eq "a locked PIN (6983) reads 0 tries left" "0" "$(get pins.auth.left)"

# --- the 住基 PIN's application (card profile) ------------------------------------------------
card --juki-pin both --tries 5,3,3,2
status_json
expect_eq "a card with the 住基 PIN in both candidate applications: both counters are read" \
	"juki/juki-0401=3 juki/juki-0100=2" \
	"$(jq -r '[.counters[] | select(.pin == "juki") | "\(.pin)/\(.application)=\(.left)"] | join(" ")' "$T/status.json")"
card --juki-pin 0100
status_json
expect_eq "a card with the 住基 PIN only under ...0100: that counter is read, ...0401 has none" \
	"juki-0100" \
	"$(jq -r '[.counters[] | select(.pin == "juki") | .application] | join(" ")' "$T/status.json")"
printf 'counter:\n  juki_application: D3921000310001010100\n' >"$T/juki0100.yaml"
"$KIGEN" --config "$T/juki0100.yaml" card status --json >"$T/status.json" 2>/dev/null
expect_eq "counter.juki_application names the application whose counter is the 住基 PIN's" "juki-0100,3" \
	"$(get pins.juki.application),$(get pins.juki.left)"
printf 'counter:\n  juki_application: D392F000260100000001\n' >"$T/bad.yaml"
"$KIGEN" --config "$T/bad.yaml" card status >/dev/null 2>"$T/err"
expect_eq "counter.juki_application must be a 住基 candidate (exit 2)" 2 $?

card --not-after-utc 20300630150000Z --key ec --serial 7
status_json
expect_eq "notAfter 15:00Z is the next day in Japan" "2030-07-01" "$(get auth_cert.expires)"
expect_eq "a one-byte serial prints as BN_bn2hex does" "07" "$(get auth_cert.serial)"
card --not-after-utc 20300630145959Z --key ec
status_json
expect_eq "notAfter 14:59:59Z is the same day in Japan" "2030-06-30" "$(get auth_cert.expires)"

# --- cards that are not a My Number card ------------------------------------------------------
for label in JPKIAPICCTOKEN JPKIAPGPSETOKEN; do
	card --token "$label"
	status_json
	rc=$?
	expect_eq "a $label card is refused (exit 1, old_token)" "1,false,old_token,$label" \
		"$rc,$(get mynumber),$(get kind),$(get token)"
	expect_eq "nothing past the token label is read from a $label card" 0 \
		"$(grep -c -e '^RETRIES' -e '^VERIFY' -e '^SELECT EF 000A' "$R/card.log")"
done
card --no-jpki
status_json
rc=$?
expect_eq "a card without the JPKI application is refused (exit 1, other)" "1,false,other" \
	"$rc,$(get mynumber),$(get kind)"
check "the refusal says why" grep -q 'not a My Number card (no JPKI application)' "$T/status.err"

# --- VERIFY ------------------------------------------------------------------------------------
card
pin 9999
verify auth
expect_eq "a wrong 利用者証明用 PIN answers wrong with 2 left" "result=wrong left=2|after left=2 verified=0" \
	"$(paste -sd'|' "$T/v.out")"
expect_eq "a wrong PIN lowers exactly that counter by one" "5,2,3" "$(counters)"
expect_eq "exactly one VERIFY reached the card, on EF 0018" "VERIFY 0018" \
	"$(grep '^VERIFY' "$R/card.log" | cut -d' ' -f1-2 | paste -sd'|')"
pin "$AUTH"
verify auth
expect_eq "the right PIN answers ok and shows verified (9000, counter unsaid) in the same session" \
	"result=ok left=3|after left=-1 verified=1" "$(paste -sd'|' "$T/v.out")"
expect_eq "the right PIN resets the counter to its maximum" "5,3,3" "$(counters)"
status_json
expect_eq "a new connection powers the card off: no longer verified" "3,false" \
	"$(get pins.auth.left),$(get pins.auth.verified)"
card --verified-answer 63Cx
verify auth
expect_eq "a card that answers 63Cx for a verified PIN: the counter at its maximum, not 'verified'" \
	"result=ok left=3|after left=3 verified=0" "$(paste -sd'|' "$T/v.out")"
card

pin 0000
verify juki
expect_eq "a wrong 住基 PIN (住基 AP, EF 001C) lowers only that counter" "5,3,2" "$(counters)"
pin "$JUKI"
verify juki
expect_eq "the right 住基 PIN resets it" "result=ok left=3,5,3,3" "$(head -1 "$T/v.out"),$(counters)"

pin ZZZ999
verify sign
expect_eq "a wrong 署名用 PIN answers 4 left" "result=wrong left=4,4,3,3" "$(head -1 "$T/v.out"),$(counters)"
pin "$(echo "$SIGN" | tr 'A-Z' 'a-z' | sed 's/7/７/; s/k/ｋ/')"
verify sign
expect_eq "a 署名用 PIN in lower case and full width is folded and verifies" \
	"result=ok left=5,5,3,3" "$(head -1 "$T/v.out"),$(counters)"

n=$(verifies)
pin abc
verify sign
expect_eq "a malformed PIN is refused before the card (exit 2)" 2 "$(cat "$T/v.rc")"
expect_eq "a malformed PIN sends no VERIFY and costs nothing" "$n,5,3,3" "$(verifies),$(counters)"

pin 1111
verify auth
verify auth
verify auth
expect_eq "the third wrong PIN answers locked (63C0)" "result=locked left=0|after left=0 verified=0" \
	"$(paste -sd'|' "$T/v.out")"
pin "$AUTH"
verify auth
expect_eq "a locked PIN answers locked even to the right PIN (6984)" "result=locked left=0,5,0,3" \
	"$(head -1 "$T/v.out"),$(counters)"

# --- the transport fails in the middle of a VERIFY -------------------------------------------
card --drop-on-verify 1 --drop-applies --reinsert-after 1000
pin 9999
verify auth
expect_eq "a VERIFY cut off (try counted) is unknown; after reconnecting the counter is re-read" \
	"result=unknown left=-1|reconnected=1|after left=2 verified=0" "$(paste -sd'|' "$T/v.out")"
expect_eq "the card did count that try" "5,2,3" "$(counters)"
card --drop-on-verify 1 --reinsert-after 1000
pin "$AUTH"
verify auth
expect_eq "a VERIFY cut off (not counted) is unknown; the re-read counter is full" \
	"result=unknown left=-1|reconnected=1|after left=3 verified=0" "$(paste -sd'|' "$T/v.out")"
check "an unknown outcome says the transport failed" grep -q 'VERIFY outcome unknown: VERIFY:' "$T/v.err"
card --drop-on-verify 1
pin 9999
verify auth
expect_eq "a card removed for good: unknown, and reconnecting fails" "result=unknown left=-1,1" \
	"$(paste -sd'|' "$T/v.out"),$(cat "$T/v.rc")"
check "the reconnect failure says so" grep -q 'reconnecting to the card' "$T/v.err"

"$RIG" remove "$R"
"$KIGEN" card status >/dev/null 2>"$T/err"
expect_eq "no card: card status fails (exit 1)" 1 $?
check "no card: the message says so" grep -q 'no card in any reader (2 readers)' "$T/err"
PCSCLITE_CSOCK_NAME=$T/nowhere "$KIGEN" card status >/dev/null 2>"$T/err"
check "no pcscd: the message says so" grep -q 'pcscd' "$T/err"

# --- secrets and teardown -------------------------------------------------------------------
# Whole words only: pcscd's log starts each line with an 8-digit time delta, where "1111" or
# "9999" can turn up by chance; a PIN written out would stand alone.
leaks=$(cat "$R/card.log" "$R/pcscd.log" "$R/vcard.err" "$T"/v.out "$T"/v.err | grep -c -w -F \
	-e "$SIGN" -e "$AUTH" -e "$JUKI" -e 9999 -e 1111 -e ZZZ999)
expect_eq "no PIN appears in the card's log, pcscd's log or the driver's output" 0 "$leaks"
pids="$(cat "$R/pcscd.pid" "$R/vcard.pid" 2>/dev/null)"
"$RIG" stop "$R"
left=0
for p in $pids; do [ -d "/proc/$p" ] && ! grep -q ') Z' "/proc/$p/stat" && left=$((left + 1)); done
expect_eq "stopping the rig leaves no process behind" 0 "$left"
