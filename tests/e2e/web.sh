#!/bin/bash
# web.sh: the desk in the browser (kigen counter web) end to end: a real database from the
# selection stage, the card rig (real pcscd + vpcd + our virtual card), the real HTTP server,
# plain HTTP checks of its security rules with curl, then Debian's headless chromium driven by
# selenium (web_browser.py) through sign-in, the counter and returned mail. Afterwards the PINs
# are looked for everywhere they could have gone.
source "$(dirname "$0")/../lib.sh"
require_root "the card rig runs a private pcscd in its own mount and network namespaces"
source "$ROOT/tests/rig/lib.sh"
rig_on_exit() { [ -f "$T/desk.pid" ] && kill "$(cat "$T/desk.pid")" 2>/dev/null; }

SIGN=ZK4M8P2Q AUTH=5917 JUKI=8046 # unlikely anywhere by chance: any leak is found by grep
write_pins "$SIGN" "$AUTH" "$JUKI"
SERIAL=0A1B2C3D4E5F EXPIRY=2027-01-20
CARD_ARGS="--pins $T/pins --serial $SERIAL --not-after $EXPIRY"
READER="Virtual PCD 00 00" # vpcd always makes two readers: the desk must be told which
DATE=2026-12-01 # the desk's day: a Tuesday, not the maintenance Sunday

{
	echo "resident_id,name,kana,birth_date,sex,postal_code,address_town,address_block,address_building,status,card_issued_on,auth_issued_on,auth_serial,sign_issued_on,sign_status"
	for i in 1 2 3 4 5 6; do
		echo "H$i,窓口　太郎$i,マドグチ　タロウ,1980-01-20,1,160-0022,東京都新宿区新宿,1-2-$i,,active,2022-01-25,2022-01-25,$SERIAL,2022-01-25,valid"
	done
	# A certificate that expired on 2026-11-25: the form is past its validity on the desk's day.
	echo "E1,期限　切子,キゲン　キリコ,1980-11-25,2,160-0022,東京都新宿区新宿,5-5-5,,active,2022-11-20,2022-11-20,0C0C0C0C0C0C,2022-11-20,valid"
} >reg.csv
"$KIGEN" -q import reg.csv && "$KIGEN" -q select --date 2026-11-21
id() { sqlite3 "$KIGEN_DB" "select n.app_id from notices n join residents r on r.id = n.resident where r.registry_id = '$1' and n.kind = 0 and n.parent is null"; }
envelope() { printf 'B%04d-%06d' $(sqlite3 "$KIGEN_DB" "select n.batch, n.seq from notices n join residents r on r.id = n.resident where r.registry_id = '$1' and n.kind = 0" | tr '|' ' '); }
expect_eq "every holder has a certificate notice" 7 "$(sqlite3 "$KIGEN_DB" 'select count(*) from notices where target = 1')"

eval "$("$RIG" start "$R" $CARD_ARGS)"
[ -n "${PCSCLITE_CSOCK_NAME:-}" ] || { echo "not ok - the rig starts"; exit 1; }

# The desk's non-loopback refusals come before anything else, with exit 2.
for addr in 0.0.0.0:8470 192.168.1.10:8470 '[::]:8470' 'example.com:8470'; do
	"$KIGEN" counter web --listen "$addr" 2>>"$T/listen.err" </dev/null
	expect_eq "--listen $addr (not loopback) exits 2" 2 "$?"
done
check "the refusal says why" grep -q "'0.0.0.0:8470': not a loopback address" "$T/listen.err"
"$KIGEN" counter web --listen 127.0.0.1:18471 --reader "$READER" 2>"$T/root.err" </dev/null
expect_eq "the desk refuses to run as root (exit 2) without the test-only switch" "2 1" "$? $(grep -c 'does not run as root' "$T/root.err")"

# A free port, then the desk, logging to a file the PIN search reads afterwards.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
KIGEN_WEB_ALLOW_ROOT=1 "$KIGEN" counter web --listen "127.0.0.1:$PORT" --date "$DATE" --terminal WEB1 --reader "$READER" \
	</dev/null >"$T/desk.out" 2>"$T/desk.err" &
echo $! >"$T/desk.pid"
desk_up() { grep -q "the desk is at" "$1" || ! kill -0 "$2" 2>/dev/null; } # listening, or gone
wait_until desk_up "$T/desk.err" "$(cat "$T/desk.pid")"
check "the desk says where it listens" grep -q "the desk is at $URL/" "$T/desk.err"

# --- plain HTTP: the security rules -----------------------------------------------------------
CJ=$T/cookies
curl -s -D "$T/h.txt" -c "$CJ" "$URL/" >"$T/page.html"
check "GET / is a Japanese page" grep -q '<html lang="ja">' "$T/page.html"
check "the page calls kigen's ID the 通知番号 (申請書ID is J-LIS's, never kigen's)" sh -c \
	"grep -q '<label for=\"scan\">通知番号' '$T/page.html' && ! grep -q 申請書ID '$T/page.html'"
check "the page forbids framing and foreign scripts (CSP, X-Frame-Options)" sh -c \
	"grep -qi \"^content-security-policy: default-src 'none'; script-src 'self'\" '$T/h.txt' && grep -qi '^x-frame-options: DENY' '$T/h.txt'"
check "pages are never cached" grep -qi '^cache-control: no-store' "$T/h.txt"
check "the session cookie is HttpOnly and SameSite=Strict" grep -qi '^set-cookie: kigen_desk=[0-9a-f]*; Path=/; HttpOnly; SameSite=Strict' "$T/h.txt"
check "no asset comes from elsewhere (no http(s):// in the page)" sh -c "! grep -q 'https\?://' '$T/page.html'"
TOKEN=$(sed -n 's/.*name="csrf-token" content="\([0-9a-f]*\)".*/\1/p' "$T/page.html")
post() { # PATH BODY [curl options...]: prints the status
	local path=$1 body=$2
	shift 2
	curl -s -o "$T/post.out" -w '%{http_code}' -b "$CJ" -H "Origin: $URL" -H "Content-Type: application/x-www-form-urlencoded" \
		"$@" --data-binary "$body" "$URL$path"
}
expect_eq "sign-in with the session's token works" 200 "$(post /api/signin staff=CURL1 -H "X-CSRF-Token: $TOKEN")"
returned() { sqlite3 "$KIGEN_DB" 'select count(*) from returned_mail'; }
audit() { sqlite3 "$KIGEN_DB" 'select count(*) from redemptions'; }
before="$(returned) $(audit)"
ENV1=$(envelope H2)
expect_eq "a POST without the CSRF token is refused (403)" 403 "$(post /api/return/mark "code=$ENV1&reason=refused")"
expect_eq "a POST with another token is refused (403)" 403 \
	"$(post /api/return/mark "code=$ENV1&reason=refused" -H "X-CSRF-Token: $(printf '%064d' 0)")"
expect_eq "a POST with a foreign Host header is refused (421)" 421 \
	"$(post /api/return/mark "code=$ENV1&reason=refused" -H "X-CSRF-Token: $TOKEN" -H "Host: desk.example.com:$PORT")"
expect_eq "a POST from a foreign Origin is refused (403)" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' -b "$CJ" -H 'Origin: http://evil.example' -H "X-CSRF-Token: $TOKEN" \
		-H 'Content-Type: application/x-www-form-urlencoded' --data-binary "code=$ENV1&reason=refused" "$URL/api/return/mark")"
expect_eq "a POST without a session cookie is refused (401)" 401 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: $URL" -H "X-CSRF-Token: $TOKEN" \
		-H 'Content-Type: application/x-www-form-urlencoded' --data-binary "code=$ENV1&reason=refused" "$URL/api/return/mark")"
expect_eq "an oversized body is refused (413)" 413 \
	"$(post /api/return/mark "code=$ENV1&reason=refused&pad=$(head -c 5000 /dev/zero | tr '\0' x)" -H "X-CSRF-Token: $TOKEN")"
expect_eq "an oversized body sent in chunks (no Content-Length) is refused (413)" 413 \
	"$(post /api/return/mark "code=$ENV1&reason=refused&pad=$(head -c 5000 /dev/zero | tr '\0' x)" -H "X-CSRF-Token: $TOKEN" \
		-H 'Transfer-Encoding: chunked')"
expect_eq "a body of another type is refused (415)" 415 \
	"$(curl -s -o /dev/null -w '%{http_code}' -b "$CJ" -H "Origin: $URL" -H "X-CSRF-Token: $TOKEN" \
		-H 'Content-Type: application/json' --data-binary "{\"code\": \"$ENV1\"}" "$URL/api/return/mark")"
expect_eq "a query string is refused (400): nothing goes in a URL" 400 \
	"$(curl -s -o /dev/null -w '%{http_code}' -b "$CJ" "$URL/?pin=1234")"
expect_eq "oversized headers are refused (431) and a huge URL (414), and the desk goes on serving" "431 414 200" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' a)" "$URL/") $(curl -s -o /dev/null -w '%{http_code}' "$URL/$(head -c 40000 /dev/zero | tr '\0' a)") $(curl -s -o /dev/null -w '%{http_code}' "$URL/desk.css")"
expect_eq "another method is refused (405)" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -b "$CJ" "$URL/")"
expect_eq "a GET with a foreign Host header is refused (421, DNS rebinding)" 421 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "Host: rebind.example:$PORT" "$URL/")"
expect_eq "no refused request changed anything (returned mail, audit)" "$before" "$(returned) $(audit)"
expect_eq "an unknown reason is refused (400) and changes nothing" "400 0" \
	"$(post /api/return/mark "code=$ENV1&reason=lost" -H "X-CSRF-Token: $TOKEN") $(returned)"
expect_eq "with the token the same request is accepted" "200 1" \
	"$(post /api/return/mark "code=$ENV1&reason=refused" -H "X-CSRF-Token: $TOKEN") $(returned)"
check "the audit keeps the sign-in with the terminal" \
	test "$(sqlite3 "$KIGEN_DB" "select terminal || ' ' || staff from redemptions where outcome = 'signin'")" = "WEB1 CURL1"

# A second desk on the maintenance Sunday with a short idle timeout: it says so; the session
# ends after the timeout and its token no longer works.
PORT2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KIGEN_WEB_ALLOW_ROOT=1 "$KIGEN" counter web --listen "127.0.0.1:$PORT2" --idle 1 --terminal IDLE --date 2026-11-22 --reader "$READER" </dev/null \
	>/dev/null 2>"$T/idle.err" &
idle_pid=$!
wait_until desk_up "$T/idle.err" "$idle_pid"
curl -s -c "$T/cj2" "http://127.0.0.1:$PORT2/" >"$T/page2.html"
TOKEN2=$(sed -n 's/.*name="csrf-token" content="\([0-9a-f]*\)".*/\1/p' "$T/page2.html")
curl -s -b "$T/cj2" -H "Origin: http://127.0.0.1:$PORT2" -H "X-CSRF-Token: $TOKEN2" \
	-H 'Content-Type: application/x-www-form-urlencoded' -X POST "http://127.0.0.1:$PORT2/api/whoami" >"$T/whoami.json"
check "on the maintenance Sunday the desk says so as it opens" grep -q '"maintenance": "本日はシステムのメンテナンス日です' "$T/whoami.json"
sleep 2.5 # past the 1-second idle limit: waiting longer can only make the session older
expect_eq "an idle session ends (401 after --idle seconds)" 401 \
	"$(curl -s -o /dev/null -w '%{http_code}' -b "$T/cj2" -H "Origin: http://127.0.0.1:$PORT2" -H "X-CSRF-Token: $TOKEN2" \
		-H 'Content-Type: application/x-www-form-urlencoded' --data-binary 'staff=IDLE1' "http://127.0.0.1:$PORT2/api/signin")"
kill "$idle_pid"
wait "$idle_pid" 2>/dev/null

# --- the browser ------------------------------------------------------------------------------
IDS=$(for r in H1 H3 H4 H5 E1; do echo "\"$r\": \"$(id $r)\""; done | paste -sd, | sed 's/^/{/; s/$/}/')
mkdir -p "$T/profile"
DESK_URL=$URL/ IDS=$IDS ENVELOPE=$(envelope H6) SIGN=$SIGN AUTH=$AUTH JUKI=$JUKI RIG=$RIG R=$R CARD_ARGS=$CARD_ARGS \
	PROFILE=$T/profile SHOTS=${KIGEN_SHOTS:-} /usr/bin/python3 "$ROOT/tests/e2e/web_browser.py" 2>"$T/browser.err"
[ -s "$T/browser.err" ] && grep -q Traceback "$T/browser.err" && { echo "not ok - the browser script ran"; sed 's/^/# /' "$T/browser.err" | tail -20; }

state() { sqlite3 "$KIGEN_DB" "select state from notices where app_id = '$(id "$1")'"; }
expect_eq "the database: H1 and H5 (face box) redeemed, H3 and E1 on the 文書照会 route, H4 untouched" "2 2 3 3 0" \
	"$(state H1) $(state H5) $(state H3) $(state E1) $(state H4)"
expect_eq "the audit has each browser outcome with terminal and staff" \
	"WEB1 S-WEB1 card_mismatch|WEB1 S-WEB1 form_expired|WEB1 S-WEB1 pin_mismatch|WEB1 S-WEB1 redeemed|WEB1 S-WEB1 redeemed" \
	"$(sqlite3 "$KIGEN_DB" "select terminal || ' ' || staff || ' ' || outcome from redemptions where staff = 'S-WEB1' and outcome not in ('signin', 'signout') order by outcome" | paste -sd'|')"

# --- returned mail after the desk ----------------------------------------------------------------
kill "$(cat "$T/desk.pid")"
wait "$(cat "$T/desk.pid")" 2>/dev/null
rm -f "$T/desk.pid"
"$KIGEN" status >"$T/status.txt"
check "kigen status counts the returned mail" grep -q "^returned mail: 2 (waiting for a new address 2, re-mailed 0" "$T/status.txt"
"$KIGEN" notice list --returned >"$T/returned.txt"
check "notice list --returned lists the envelope scanned in the browser (転居先不明)" \
	grep -q "^$(id H6) .* moved_unknown .* H6 .*waiting for a new address" "$T/returned.txt"
"$KIGEN" -q select --date 2026-12-02
expect_eq "the next night mails nothing again to the address it came back from" 0 \
	"$(sqlite3 "$KIGEN_DB" "select count(*) from notices n join residents r on r.id = n.resident where r.registry_id in ('H2', 'H6') and n.parent is not null")"
# The registry shows H6 at a new address: mailed again there, once.
sed -i 's/^H6,\(.*\),東京都新宿区新宿,1-2-6,/H6,\1,東京都新宿区西新宿,7-7-7,/' reg.csv
"$KIGEN" -q import reg.csv && "$KIGEN" -q select --date 2026-12-03
expect_eq "after a new address in the registry the notice is mailed again, to it" "1 東京都新宿区西新宿 7-7-7" \
	"$(sqlite3 "$KIGEN_DB" "select count(*), min(n.addr_town), min(n.addr_block) from notices n join residents r on r.id = n.resident where r.registry_id = 'H6' and n.parent is not null" | tr '|' ' ')"
expect_eq "the returned form is void once its replacement is mailed" 5 "$(state H6)"
check "the re-mail has a new, valid application ID" sh -c "[ \"\$('$KIGEN' -q counter redeem --reader '$READER' --id \$(sqlite3 '$KIGEN_DB' \"select n.app_id from notices n join residents r on r.id = n.resident where r.registry_id = 'H6' and n.parent is not null\") --json --date $DATE </dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"outcome\"])')\" = pin_malformed ]"
"$KIGEN" -q select --date 2026-12-04
expect_eq "it is re-mailed once only" 1 \
	"$(sqlite3 "$KIGEN_DB" "select count(*) from notices n join residents r on r.id = n.resident where r.registry_id = 'H6' and n.parent is not null")"
"$KIGEN" status >"$T/status2.txt"
check "kigen status counts the re-mail" grep -q "^returned mail: 2 (waiting for a new address 1, re-mailed 1" "$T/status2.txt"

"$KIGEN" --out "$T/out" nightly --date 2026-12-05 >"$T/nightly.txt" 2>&1
check "the nightly run report counts the returned mail" grep -q "^返戻 2 件（新しい住所待ち 1 / 再送済み 1）" "$T/nightly.txt"
check "so does report.html" grep -q "新しい住所へ再送済み" "$T"/out/*/report.html

# --- no PIN anywhere -----------------------------------------------------------------------------
leaks=$(grep -l -a -r -F -e "$SIGN" -e "$AUTH" -e "$JUKI" "$KIGEN_DB"* "$T/desk.out" "$T/desk.err" \
	"$T/browser.err" "$R/card.log" "$R/pcscd.log" 2>/dev/null | xargs)
expect_eq "no PIN in the server's output, the database or the card's log" "" "$leaks"
# The browser's profile and the batch's compressed PDFs are full of long numbers and bytes (times, ids) that contain any 4 digits by chance:
# there a 4-digit PIN counts only as a token of its own (grep -w); the 署名用 PIN anywhere.
leaks=$(grep -l -a -r -F -e "$SIGN" "$T/profile" "$T/out" | xargs; grep -l -a -r -w -F -e "$AUTH" -e "$JUKI" "$T/profile" "$T/out" | xargs)
expect_eq "no PIN in the browser's profile or the batch files" "" "$(echo $leaks)"
expect_eq "the browser saved no password and no form entry" "0 0" \
	"$(sqlite3 "$T/profile/Default/Login Data" 'select count(*) from logins') $(sqlite3 "$T/profile/Default/Web Data" 'select count(*) from autofill')"
expect_eq "no PIN in the audit table" 0 \
	"$(sqlite3 "$KIGEN_DB" "select count(*) from redemptions where detail like '%$AUTH%' or detail like '%$SIGN%' or detail like '%$JUKI%'")"
check "the server logged the requests it served (method, path, status only)" grep -q "^web: POST /api/redeem 200$" "$T/desk.err"
