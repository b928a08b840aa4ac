#!/bin/bash
# counter-window.sh: the rule "any loss of the exclusive transaction invalidates everything read
# before it", tested the way it once failed. A card answers 9000 to a retry query (a PIN still
# verified in its power session), so kigen must power-cycle it; an LD_PRELOAD shim
# (tests/rig/shim.c) runs a hook exactly in that window: another person's card is put in, or
# another program uses a wrong try. The card's log is the witness: every VERIFY it received says
# the counter it met ("at=N/MAX"), and no VERIFY may meet a counter below its maximum or a card
# that is not the holder's.
source "$(dirname "$0")/../lib.sh"
require_root "the card rig runs a private pcscd in its own mount and network namespaces"
source "$ROOT/tests/rig/lib.sh"

SIGN=QX7TZ2W9 AUTH=6284 JUKI=7391
write_pins "$SIGN" "$AUTH" "$JUKI"
SERIAL=0A1B2C3D4E5F EXPIRY=2027-01-20 READER="Virtual PCD 00 00"
{
	echo "resident_id,name,kana,birth_date,sex,postal_code,address_town,address_block,address_building,status,card_issued_on,auth_issued_on,auth_serial,sign_issued_on,sign_status"
	for i in 1 2 3 4; do
		echo "W$i,窓口　太郎$i,マドグチ　タロウ,1980-01-20,1,160-0022,東京都新宿区新宿,1-2-$i,,active,2022-01-25,2022-01-25,$SERIAL,2022-01-25,valid"
	done
} >reg.csv
"$KIGEN" -q import reg.csv && "$KIGEN" -q select --date 2026-11-21
id() { sqlite3 "$KIGEN_DB" "select n.app_id from notices n join residents r on r.id = n.resident where r.registry_id = '$1' and n.kind = 0"; }
json() { jq -r --arg k "$1" 'if has($k) then .[$k] | tostring else error("no \($k)") end' "$T/out.json"; }
card() { "$RIG" card "$R" --pins "$T/pins" --serial "$SERIAL" --not-after "$EXPIRY" "$@" >/dev/null && : >"$R/card.log"; }
# Every VERIFY with data that reached any card, as "EF at=N/MAX", from both cards' logs.
verifies() { cat "$R"/card*.log 2>/dev/null | grep '^VERIFY' | awk '{print $2, $4}' | xargs; }
unsafe() { cat "$R"/card*.log 2>/dev/null | grep '^VERIFY' | awk '{split($4, a, "[=/]"); if (a[2] != a[3]) print}'; }
# The holder's auth PIN left verified by another program that did not power the card down.
# The holder's auth PIN left verified: the card answers 9000 to kigen's first retry query (vcard
# --verified-at-start; pcscd powers a card down soon after another program leaves it, so leaving
# it verified for real would be a race).
redeem_hooked() { # redeem ID HOOK: the PINs on fd 3, the shim's hook in the window
	printf '%s\n' "$SIGN" "$AUTH" "$JUKI" >"$T/pinlines"
	RIG_HOOK="$2" RIG_HOOK_OUT="$T/hook.out" LD_PRELOAD="$BUILD/rigshim.so" ASAN_OPTIONS=verify_asan_link_order=0 \
		"$KIGEN" counter redeem --id "$1" --pins-fd 3 --json --date 2026-12-01 --reader "$READER" \
		3<"$T/pinlines" >"$T/out.json" 2>>"$T/stderr.log"
	rm -f "$T/pinlines"
}

eval "$("$RIG" start "$R" --pins "$T/pins" --serial "$SERIAL" --not-after "$EXPIRY" --verified-answer 9000)"
[ -n "${PCSCLITE_CSOCK_NAME:-}" ] || { echo "not ok - the rig starts"; exit 1; }

# The window exists: a PIN verified by another program reads 9000, and kigen power-cycles the card.
card --verified-answer 9000 --verified-at-start auth
redeem_hooked "$(id W1)" "true"
check "the auth PIN read as verified (9000) on the first connection" grep -q '^RETRIES 0018 JPKI -> 9000' "$R/card.log"
expect_eq "a verified PIN: kigen power-cycles the card and redeems on a second connection" "redeemed 2" \
	"$(json outcome) $(json connections)"
check "the power cycle happened on the exclusive handle (SCardReconnect)" grep -q 'hook at SCardReconnect' "$T/hook.out"
expect_eq "after the power cycle every counter was read again from the certificate on" 2 \
	"$(grep -c '^READ 000A off=0' "$R/card.log")"

# Another person's card is put in during the power cycle (their signature PIN at 1 of 5 tries).
card --verified-answer 9000 --verified-at-start auth
rm -f "$T/hook.out"
redeem_hooked "$(id W2)" "'$RIG' card '$R' --pins '$T/pins' --serial FFEEDDCCBBAA --not-after 2028-05-05 --tries 1,3,3 --log '$R/card2.log' --state '$R/card2.state'"
expect_eq "a card swapped in during the power cycle: card_mismatch" card_mismatch "$(json outcome)"
expect_eq "the swapped-in card received no VERIFY" "" "$(grep '^VERIFY' "$R/card2.log" 2>/dev/null)"
expect_eq "the swapped-in card's counters are untouched" "1,3,3" \
	"$(echo "$(sed -n 's/^sign=//p' "$R/card2.state"),$(sed -n 's/^auth=//p' "$R/card2.state"),$(sed -n 's/^juki=//p' "$R/card2.state")")"
expect_eq "swap: no VERIFY reached a counter below its maximum" "" "$(unsafe)"
expect_eq "swap: the form stays usable for the holder" 0 \
	"$(sqlite3 "$KIGEN_DB" "select state from notices where app_id = '$(id W2)'")"
rm -f "$R/card2.log" "$R/card2.state"

# Another program's wrong try on the signature PIN (read at 5 of 5 before the power cycle).
card --verified-answer 9000 --verified-at-start auth
rm -f "$T/hook.out"
redeem_hooked "$(id W3)" "printf 'WRONG99\n' | '$BUILD/cardtest' other sign"
check "the hook ran in the window" grep -q 'hook at' "$T/hook.out"
expect_eq "wrong try in the window: no VERIFY reached a counter below its maximum" "" "$(unsafe)"
if grep -q '^sw=63C4' "$T/hook.out"; then
	expect_eq "the wrong try got in: kigen saw it and sent nothing" "pin_at_risk sign" "$(json outcome) $(json failed_pin)"
else
	check "the wrong try could not get in: kigen held the card exclusively through the power cycle" \
		grep -q 'pcsc=' "$T/hook.out"
	expect_eq "with the window closed the redemption goes on" "redeemed" "$(json outcome)"
fi

# A card that answers 63Cx (not 9000) for a verified PIN needs no power cycle at all.
card --verified-answer 63Cx --verified-at-start auth
redeem_hooked "$(id W4)" "true"
expect_eq "a verified PIN read as 63C3: at its maximum, redeemed on one connection" "redeemed 1" \
	"$(json outcome) $(json connections)"
expect_eq "no VERIFY anywhere met a counter below its maximum" "" "$(unsafe)"
