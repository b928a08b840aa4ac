#!/bin/bash
# counter.sh: the counter desk (pipeline/counter.c) end to end: a real database with notices from
# the selection stage, the real pcscd with the vpcd reader, and our virtual My Number card. The
# card's log (every APDU, VERIFY data redacted) and state file (its counters) are the witnesses.
source "$(dirname "$0")/../lib.sh"
require_root "the card rig runs a private pcscd in its own mount and network namespaces"
source "$ROOT/tests/rig/lib.sh" # the rig in $R, stopped however this script ends
# The desk's terminal: a tmux server of this script's own (its socket in $T), so that no other
# run's server, with that run's environment, ever starts the desk.
tm() { tmux -S "$T/tmux.sock" "$@"; }
rig_on_exit() { # the second card of the race test, and the desk's tmux server
	[ -f "$R/card2.pid" ] && kill "$(cat "$R/card2.pid")" 2>/dev/null
	tm kill-server 2>/dev/null
}

# The holder's PINs, unlikely to appear anywhere by chance, so any leak is found by grep.
SIGN=QX7TZ2W9 AUTH=6284 JUKI=7391
write_pins "$SIGN" "$AUTH" "$JUKI"
SERIAL=0A1B2C3D4E5F EXPIRY=2027-01-20
READER="Virtual PCD 00 00" # vpcd always makes two readers: the counter must be told which

# Residents whose user-auth certificate is the virtual card's (serial and expiry), one per test,
# a mover whose signature certificate was revoked, and one whose certificate is another.
{
	echo "resident_id,name,kana,birth_date,sex,postal_code,address_town,address_block,address_building,status,card_issued_on,auth_issued_on,auth_serial,sign_issued_on,sign_status"
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		echo "H$i,窓口　太郎$i,マドグチ　タロウ,1980-01-20,1,160-0022,東京都新宿区新宿,1-2-$i,,active,2022-01-25,2022-01-25,$SERIAL,2022-01-25,valid"
	done
	echo "M1,転居　花子,テンキョ　ハナコ,1980-01-20,2,160-0022,東京都新宿区新宿,3-4-5,,active,2022-01-25,2022-01-25,$SERIAL,2022-01-25,revoked"
	echo "X1,別人　次郎,ベツジン　ジロウ,1980-01-20,1,160-0022,東京都新宿区新宿,9-9-9,,active,2022-01-25,2022-01-25,FFEEDDCCBBAA,2022-01-25,valid"
} >reg.csv
"$KIGEN" -q import reg.csv && "$KIGEN" -q select --date 2026-11-21
id() { sqlite3 "$KIGEN_DB" "select n.app_id from notices n join residents r on r.id = n.resident where r.registry_id = '$1' and n.kind = 0"; }
expect_eq "every holder has a certificate notice to redeem" 14 "$(sqlite3 "$KIGEN_DB" 'select count(*) from notices where target = 1')"

verifies() { grep '^VERIFY' "$R/card.log" | awk '{print $2}' | xargs; }
# What reached the card as commands: its log without pcscd's own power management (POWER, RESET).
apdus() { grep -v -e '^POWER' -e '^RESET' "$R/card.log"; }
card() { "$RIG" card "$R" --pins "$T/pins" --serial "$SERIAL" --not-after "$EXPIRY" "$@" >/dev/null && : >"$R/card.log"; }
json() { jq -r --arg k "$1" 'if has($k) then .[$k] | tostring else error("no \($k)") end' "$T/out.json"; }
retries() { jq -r '.retries | "\(.sign),\(.auth),\(.juki)"' "$T/out.json"; }
# redeem ID [PIN LINES...]: the PINs go through a file descriptor, as at a real desk script.
redeem() {
	local id=$1
	shift
	printf '%s\n' "$@" >"$T/pinlines"
	"$KIGEN" counter redeem --id "$id" --pins-fd 3 --json --date 2026-12-01 --terminal T1 --staff S1 --reader "$READER" \
		3<"$T/pinlines" >"$T/out.json" 2>>"$T/stderr.log"
	echo $? >"$T/rc"
	rm -f "$T/pinlines"
}

eval "$("$RIG" start "$R" --pins "$T/pins" --serial "$SERIAL" --not-after "$EXPIRY")"
[ -n "${PCSCLITE_CSOCK_NAME:-}" ] || { echo "not ok - the rig starts"; exit 1; }
: >"$R/card.log"

# Right PINs.
redeem "$(id H1)" "$SIGN" "$AUTH" "$JUKI"
expect_eq "right PINs: redeemed (exit 0)" "redeemed 0" "$(json outcome) $(cat "$T/rc")"
expect_eq "right PINs: each PIN verified once (住基, 利用者証明用, 署名用)" "001C 0018 001B" "$(verifies)"
expect_eq "right PINs: the card's counters stay at their maximum" "5,3,3" "$(counters)"
expect_eq "right PINs: the notice is used up" 2 "$(sqlite3 "$KIGEN_DB" "select state from notices where app_id = '$(id H1)'")"
: >"$R/card.log"
redeem "$(id H1)" "$SIGN" "$AUTH" "$JUKI"
expect_eq "the same form again: already_redeemed" already_redeemed "$(json outcome)"
expect_eq "the same form again: nothing reaches the card" "" "$(apdus)"

# A lower-case, full-width 署名用 PIN as written on a form is folded, and verifies.
: >"$R/card.log"
redeem "$(id H2)" "$(echo "$SIGN" | tr 'A-Z' 'a-z' | sed 's/q/ｑ/')" "$AUTH" "$JUKI"
expect_eq "a lower-case / full-width 署名用 PIN is folded and verifies" redeemed "$(json outcome)"

# One wrong PIN.
: >"$R/card.log"
redeem "$(id H3)" "$SIGN" 1111 "$JUKI"
expect_eq "one wrong PIN: pin_mismatch on that PIN" "pin_mismatch auth" "$(json outcome) $(json failed_pin)"
expect_eq "one wrong PIN: that counter went down by exactly one" "5,2,3" "$(counters)"
expect_eq "one wrong PIN: no PIN was tried after it" "001C 0018" "$(verifies)"
expect_eq "one wrong PIN: the notice starts the 文書照会 route" 3 \
	"$(sqlite3 "$KIGEN_DB" "select state from notices where app_id = '$(id H3)'")"
"$KIGEN" -q select --date 2026-11-22
expect_eq "the next nightly batch holds a re-inquiry form for that holder" "1 1 H3" \
	"$(sqlite3 "$KIGEN_DB" "select count(*), min(n.target), min(r.registry_id) from notices n join residents r on r.id = n.resident where n.kind = 1" | tr '|' ' ')"
check "the re-inquiry has a new, valid application ID" sh -c "[ \"\$(sqlite3 '$KIGEN_DB' 'select app_id from notices where kind = 1')\" != '$(id H3)' ] && '$KIGEN' -q counter redeem --reader '$READER' --id \$(sqlite3 '$KIGEN_DB' 'select app_id from notices where kind = 1') --json --date 2026-12-01 </dev/null | grep -q pin_malformed"
expect_eq "the old form is marked re-inquired" 4 "$(sqlite3 "$KIGEN_DB" "select state from notices where app_id = '$(id H3)'")"

# A counter already below its maximum (the card as the wrong try above left it): no VERIFY at all.
: >"$R/card.log"
redeem "$(id H4)" "$SIGN" "$AUTH" "$JUKI"
expect_eq "a counter below its maximum: pin_at_risk" "pin_at_risk auth" "$(json outcome) $(json failed_pin)"
expect_eq "pin_at_risk: the card's log shows no VERIFY" "" "$(verifies)"
expect_eq "pin_at_risk: the counters are unchanged" "5,2,3" "$(counters)"
expect_eq "pin_at_risk: the form stays usable for the holder in person" 0 \
	"$(sqlite3 "$KIGEN_DB" "select state from notices where app_id = '$(id H4)'")"

# A card that is not the holder's: no VERIFY reaches it.
card
redeem "$(id X1)" "$SIGN" "$AUTH" "$JUKI"
expect_eq "a card that is not the holder's: card_mismatch" card_mismatch "$(json outcome)"
expect_eq "card_mismatch: no VERIFY reached the card" "" "$(verifies)"

# Not a My Number card, or an old 住基 card.
card --no-jpki
redeem "$(id H4)" "$SIGN" "$AUTH" "$JUKI"
expect_eq "a card without JPKI: not_my_number_card, nothing verified" "not_my_number_card " "$(json outcome) $(verifies)"
card --token JPKIAPICCTOKEN
redeem "$(id H4)" "$SIGN" "$AUTH" "$JUKI"
expect_eq "an old 住基 token: not_my_number_card" not_my_number_card "$(json outcome)"
card

# A form past the certificate's expiry: answered before any card access.
: >"$R/card.log"
printf '%s\n' "$SIGN" "$AUTH" "$JUKI" >"$T/pinlines"
"$KIGEN" counter redeem --reader "$READER" --id "$(id H5)" --pins-fd 3 --json --date 2027-01-21 3<"$T/pinlines" >"$T/out.json" 2>>"$T/stderr.log"
rm -f "$T/pinlines"
expect_eq "a form past the certificate's expiry: form_expired" form_expired "$(json outcome)"
expect_eq "form_expired: no APDU reached the card" "" "$(apdus)"
expect_eq "form_expired: the notice starts the 文書照会 route" 3 \
	"$(sqlite3 "$KIGEN_DB" "select state from notices where app_id = '$(id H5)'")"

# Malformed PINs cost nothing; a holder without a signature certificate has no 署名用 PIN.
: >"$R/card.log"
redeem "$(id H6)" "$SIGN" 12345 "$JUKI"
expect_eq "a malformed PIN: pin_malformed and nothing sent to the card" "pin_malformed auth " \
	"$(json outcome) $(json failed_pin) $(apdus)"
: >"$R/card.log"
redeem "$(id M1)" "$AUTH" "$JUKI"
expect_eq "no signature certificate: only 利用者証明用 and 住基 are verified" "redeemed 001C 0018" \
	"$(json outcome) $(verifies)"

# いずれの暗証番号も設定しない: no PIN, but the card must still match.
: >"$R/card.log"
redeem "$(id H6)" face
expect_eq "face-authentication box: redeemed with the card matched and no VERIFY" "redeemed " "$(json outcome) $(verifies)"
grep -q "^READ" "$R/card.log" || grep -q "00B0\|READ BINARY\|SELECT" "$R/card.log"
check "face-authentication box: the card's certificate was still read" test -s "$R/card.log"

# The connection drops in the middle of a VERIFY: the outcome is unknown and the counter re-read.
# A wrong 住基 PIN (the first VERIFY) is sent, and the card counts it before the line drops: the
# re-read must show it.
card --drop-on-verify 1 --drop-applies --reinsert-after 1000
redeem "$(id H7)" "$SIGN" "$AUTH" 0000
expect_eq "connection dropped during VERIFY: verify_unknown on that PIN" "verify_unknown juki" \
	"$(json outcome) $(json failed_pin)"
expect_eq "connection dropped during VERIFY: every counter was re-read after reconnecting (one try used)" "5,3,2" \
	"$(retries)"
expect_eq "connection dropped during VERIFY: no other PIN was tried" "001C" "$(verifies)"
card

# No card in the reader (pulled out, or the reader unplugged): a reader error, nothing recorded as used.
"$RIG" remove "$R" >/dev/null
redeem "$(id H8)" "$SIGN" "$AUTH" "$JUKI"
expect_eq "no card in the reader: reader_error, and the form stays usable" "reader_error 0" \
	"$(json outcome) $(sqlite3 "$KIGEN_DB" "select state from notices where app_id = '$(id H8)'")"
card

# Maintenance Sunday: the desk says so, and the card is not touched.
: >"$R/card.log"
printf '%s\n' "$SIGN" "$AUTH" "$JUKI" >"$T/pinlines"
"$KIGEN" counter redeem --reader "$READER" --id "$(id H8)" --pins-fd 3 --json --date 2026-11-22 3<"$T/pinlines" >"$T/out.json" 2>>"$T/stderr.log"
expect_eq "the maintenance Sunday (after the 3rd Saturday): no counter work" "maintenance " "$(json outcome) $(apdus)"
"$KIGEN" counter redeem --reader "$READER" --id "$(id H8)" --pins-fd 3 --json --date 2026-11-21 3<"$T/pinlines" >"$T/out.json" 2>>"$T/stderr.log"
expect_eq "the 3rd Saturday is a maintenance day too, by default" "maintenance " "$(json outcome) $(apdus)"
printf 'policy:\n  maintenance_days: sunday\n' >"$T/sunday.yaml"
"$KIGEN" --config "$T/sunday.yaml" counter redeem --reader "$READER" --id "$(id X1)" --pins-fd 3 --json --date 2026-11-21 \
	3<"$T/pinlines" >"$T/out.json" 2>>"$T/stderr.log"
expect_eq "policy.maintenance_days: sunday narrows it: the 3rd Saturday is a working day" "ok" \
	"$([ "$(json outcome)" != maintenance ] && echo ok)"
expect_eq "the audit records a date given by hand (--date)" 1 \
	"$(sqlite3 "$KIGEN_DB" "select count(*) from redemptions where detail like '%(--date 2026-11-21)' and outcome = 'maintenance'")"
rm -f "$T/pinlines"
card

# A typo in the ID is caught by its check digit.
good=$(id H8)
bad=${good:0:10}$(( (${good:10:1} + 1) % 10 ))${good:11}
redeem "$bad" "$SIGN" "$AUTH" "$JUKI"
expect_eq "a mistyped application ID: unknown_id" unknown_id "$(json outcome)"

# Two counters redeem the same form at once, each with a card: exactly one succeeds.
pcscd_pid=$(cat "$R/pcscd.pid")
nsenter -t "$pcscd_pid" -n -- "$BUILD/vcard" --port 35964 --pins "$T/pins" --serial "$SERIAL" --not-after "$EXPIRY" \
	--log "$R/card2.log" --state "$R/card2.state" </dev/null >>"$R/vcard2.err" 2>&1 &
echo $! >"$R/card2.pid"
# Wait for the second reader itself to show its card (any reader showing one is not enough:
# the first already does), so neither counter meets an empty reader.
wait_until "$KIGEN" card status --reader "Virtual PCD 00 01" >/dev/null 2>&1
for reader in "Virtual PCD 00 00" "Virtual PCD 00 01"; do
	printf '%s\n' "$SIGN" "$AUTH" "$JUKI" >"$T/pl-${reader##* }"
done
race_id=$(id H9) # looked up once: the sqlite3 tool has no busy timeout while a counter writes
[ -n "$race_id" ] || echo "not ok - the race test found its application ID"
"$KIGEN" counter redeem --id "$race_id" --pins-fd 3 --json --date 2026-12-01 --reader "Virtual PCD 00 00" \
	3<"$T/pl-00" >"$T/race1.json" 2>>"$T/stderr.log" &
r1=$!
"$KIGEN" counter redeem --id "$race_id" --pins-fd 3 --json --date 2026-12-01 --reader "Virtual PCD 00 01" \
	3<"$T/pl-01" >"$T/race2.json" 2>>"$T/stderr.log" &
r2=$!
wait "$r1" "$r2"
rm -f "$T"/pl-*
outcomes=$(jq -r -s 'map(.outcome) | sort | join(" ")' "$T/race1.json" "$T/race2.json")
[ "$outcomes" = "already_redeemed redeemed" ] || sed 's/^/# /' "$T/race1.json" "$T/race2.json"
expect_eq "two counters on one form at once: exactly one redeems" "already_redeemed redeemed" "$outcomes"
kill "$(cat "$R/card2.pid")" 2>/dev/null

# How many APDUs a 3-PIN redemption takes, counted by the card itself: the 住基 PIN in both
# candidate applications is the most a card can ask for (both counters are queried).
card --juki-pin both
redeem "$(id H10)" "$SIGN" "$AUTH" "$JUKI"
n=$(grep -c -E '^(SELECT|READ|RETRIES|VERIFY|INS)' "$R/card.log")
expect_eq "a 3-PIN redemption (住基 PIN in both applications): redeemed, both applications answered" \
	"redeemed jpki,juki-0401,juki-0100" \
	"$(json outcome) $(jq -r '.applications | join(",")' "$T/out.json")"
check "a 3-PIN redemption takes 23 APDUs or fewer by the card's own log ($n)" test "$n" -le 23
expect_eq "--json apdus is the number the card received" "$n" "$(json apdus)"
expect_eq "every counter of the 住基 PIN was queried before the first VERIFY (both applications)" \
	"RETRIES 001C JUKI-0100|RETRIES 001C JUKI-0401" \
	"$(sed -n '1,/^VERIFY/p' "$R/card.log" | grep '^RETRIES 001C' | cut -d' ' -f1-3 | sort | paste -sd'|')"
expect_eq "the VERIFY of the 住基 PIN goes to the application the settings name (...0401)" "JUKI-0401" \
	"$(grep '^VERIFY 001C' "$R/card.log" | awk '{print $3}')"
expect_eq "the audit records which applications answered" 1 \
	"$(sqlite3 "$KIGEN_DB" "select count(*) from redemptions where app_id = '$(id H10)' and detail like '%applications answered: jpki,juki-0401,juki-0100%'")"
card --juki-pin both --tries 5,3,3,2
redeem "$(id H11)" "$SIGN" "$AUTH" "$JUKI"
expect_eq "the other 住基 application's counter below its maximum: pin_at_risk, nothing verified" \
	"pin_at_risk juki 0" "$(json outcome) $(json failed_pin) $(grep -c '^VERIFY' "$R/card.log")"
card --juki-pin 0100
redeem "$(id H11)" "$SIGN" "$AUTH" "$JUKI"
expect_eq "the 住基 PIN not where the settings send it: card_profile, nothing verified" \
	"card_profile juki 0" "$(json outcome) $(json failed_pin) $(grep -c '^VERIFY' "$R/card.log")"
printf 'counter:\n  juki_application: D3921000310001010100\n' >"$T/juki0100.yaml"
printf '%s\n' "$SIGN" "$AUTH" "$JUKI" >"$T/pinlines"
: >"$R/card.log"
"$KIGEN" --config "$T/juki0100.yaml" counter redeem --reader "$READER" --id "$(id H11)" --pins-fd 3 --json \
	--date 2026-12-01 3<"$T/pinlines" >"$T/out.json" 2>>"$T/stderr.log"
rm -f "$T/pinlines"
expect_eq "counter.juki_application ...0100: that card redeems, the VERIFY goes to ...0100" "redeemed JUKI-0100" \
	"$(json outcome) $(grep '^VERIFY 001C' "$R/card.log" | awk '{print $3}')"
card

# Reader binding: vpcd makes two readers, so without --reader or counter.reader kigen refuses.
"$KIGEN" counter redeem --id "$(id H12)" --json --date 2026-12-01 </dev/null >"$T/out.json" 2>"$T/err"
expect_eq "two readers and none chosen: exit 2, nothing recorded" "2 0" \
	"$? $(sqlite3 "$KIGEN_DB" "select count(*) from redemptions where app_id = '$(id H12)'")"
check "the refusal lists the readers" grep -q "the readers: 'Virtual PCD 00 00', 'Virtual PCD 00 01'" "$T/err"
"$KIGEN" counter --terminal X </dev/null >/dev/null 2>"$T/err"
expect_eq "the interactive desk refuses the same way (exit 2)" 2 $?
"$KIGEN" counter redeem --reader "No Such Reader" --id "$(id H12)" --json </dev/null >/dev/null 2>"$T/err"
expect_eq "a bound reader that does not exist: exit 2" 2 $?
printf 'counter:\n  reader: "Virtual PCD 00 01"\n' >"$T/r1.yaml"
printf '%s\n' "$SIGN" "$AUTH" "$JUKI" >"$T/pinlines"
"$KIGEN" --config "$T/r1.yaml" counter redeem --id "$(id H12)" --pins-fd 3 --json --date 2026-12-01 \
	3<"$T/pinlines" >"$T/out.json" 2>>"$T/stderr.log"
rm -f "$T/pinlines"
expect_eq "counter.reader binds the desk to that reader (an empty one here: reader_error)" reader_error "$(json outcome)"

# The audit: every outcome appended, with terminal and staff, and it refuses to be rewritten.
expect_eq "every redemption is in the audit with terminal and staff" "T1 S1" \
	"$(sqlite3 "$KIGEN_DB" "select distinct terminal, staff from redemptions where terminal = 'T1'" | tr '|' ' ')"
check "the audit is append-only" sh -c "! sqlite3 '$KIGEN_DB' 'delete from redemptions' 2>/dev/null && ! sqlite3 '$KIGEN_DB' \"update redemptions set outcome = 'x'\" 2>/dev/null"

# The interactive desk under tmux: type the ID, the box, the PINs; read the verdict off the screen.
S=kigen-desk-$$
printf 'counter:\n  reader: "%s"\n' "$READER" >"$T/desk.yaml"
# The environment by -e, the command quoted word by word: a PostgreSQL URI's "&" in a shell
# command line once put the desk in the background of another environment's.
tm new-session -d -s "$S" -x 120 -y 50 -e "PCSCLITE_CSOCK_NAME=$PCSCLITE_CSOCK_NAME" -e "KIGEN_DB=$KIGEN_DB" \
	"$(printf '%q ' "$KIGEN" --config "$T/desk.yaml" counter --terminal DESK1 --staff S2); sleep 3600"
screen() { tm capture-pane -p -t "$S"; }
on_screen() { screen | grep -q "$1"; }
until_screen() { wait_until on_screen "$1"; }
: >"$R/card.log"
until_screen "通知番号を読み取る" && tm send-keys -t "$S" "$(id H8)" Enter
until_screen "印がありますか" && tm send-keys -t "$S" n Enter
until_screen "署名用電子証明書の暗証番号" && tm send-keys -t "$S" "$SIGN" Enter
until_screen "利用者証明用電子証明書の暗証番号" && tm send-keys -t "$S" "$AUTH" Enter
until_screen "住民基本台帳用の暗証番号" && tm send-keys -t "$S" "$JUKI" Enter
until_screen "カードリーダーに置いて" && tm send-keys -t "$S" Enter
until_screen "【判定】"
screen >"$T/desk.txt"
check "the desk shows the holder's name before the card goes in" grep -q "窓口　太郎8 様" "$T/desk.txt"
check "the desk calls kigen's ID the 通知番号 (申請書ID is J-LIS's)" grep -q "│ 通知番号　　　　　 $(id H8)$" "$T/desk.txt"
check "the desk shows one clear verdict in Japanese" sh -c "grep -q '【判定】 ○ 確認できました' '$T/desk.txt' || { cat '$T/desk.txt'; exit 1; }"
check "the desk masks the PINs as they are typed" sh -c "grep -q '暗証番号（数字4桁）: \*\*\*\*' '$T/desk.txt' && ! grep -q -e '$SIGN' -e '$AUTH' -e '$JUKI' '$T/desk.txt'"
expect_eq "the desk's redemption reached the card" "001C 0018 001B" "$(verifies)"
tm send-keys -t "$S" C-c
until_screen "中断しました"
check "Ctrl-C ends the desk cleanly (PINs wiped, card disconnected)" sh -c "tmux -S '$T/tmux.sock' capture-pane -p -t '$S' | grep -q 中断しました"

# Nothing anywhere holds a PIN.
leaks=$(grep -l -a -r -w -F -e "$SIGN" -e "$AUTH" -e "$JUKI" "$KIGEN_DB"* "$T"/*.json "$T/stderr.log" "$T/desk.txt" \
	"$R/card.log" "$R/pcscd.log" 2>/dev/null | xargs)
expect_eq "no PIN in the database, the audit, the output, stderr or any file under out/" "" "$leaks"
expect_eq "no PIN in the audit table" 0 \
	"$(sqlite3 "$KIGEN_DB" "select count(*) from redemptions where detail like '%$AUTH%' or detail like '%$SIGN%' or detail like '%$JUKI%'")"
