# The command contract (README "Commands"), the registry import and the selection stage.
. "$(dirname "$0")/../lib.sh"
GEN=$ROOT/scripts/gen-registry

expect_eq "rules expiry: adult card to the 10th birthday, certs to the 5th" \
	'{"card": "2029-10-10", "auth_cert": "2024-10-10", "sign_cert": "2024-10-10"}' \
	"$("$KIGEN" rules expiry --birth 1985-10-10 --card-issued 2020-05-15)"
expect_eq "rules expiry: under 15 has no signature certificate (null)" \
	'{"card": "2026-07-01", "auth_cert": "2026-07-01", "sign_cert": null}' \
	"$("$KIGEN" rules expiry --birth 2010-07-01 --card-issued 2022-06-01)"
expect_eq "rules expiry: received before 2022-04-01 uses adult age 20" \
	'{"card": "2026-09-01", "auth_cert": "2026-09-01", "sign_cert": "2026-09-01"}' \
	"$("$KIGEN" rules expiry --birth 2002-09-01 --card-issued 2022-04-15 --received 2022-03-20)"
expect_eq "rules window: opens the day after three months before" \
	'{"opens": "2026-01-11", "closes": "2026-04-10"}' "$("$KIGEN" rules window --expiry 2026-04-10)"
expect_eq "rules window: month end clamps" '{"opens": "2026-03-01", "closes": "2026-05-31"}' \
	"$("$KIGEN" rules window --expiry 2026-05-31)"
expect_eq "rules era: the first year is 元年" "令和元年5月1日" "$("$KIGEN" rules era 2019-05-01)"
check "rules era: dates before 1873 are rejected with exit 2" sh -c '"$KIGEN" rules era 1872-12-31; [ $? -eq 2 ]'
check "rules: an impossible date is bad input (exit 2)" sh -c '"$KIGEN" rules window --expiry 2026-02-30; [ $? -eq 2 ]'
check "check mynumber: valid exits 0" "$KIGEN" -q check mynumber 621498320257
check "check mynumber: wrong check digit exits 1" sh -c '"$KIGEN" -q check mynumber 123456789019; [ $? -eq 1 ]'
check "check lgcode: valid exits 0" "$KIGEN" -q check lgcode 011002
check "check lgcode: wrong check digit exits 1" sh -c '"$KIGEN" -q check lgcode 011003; [ $? -eq 1 ]'
check "every command has --help" sh -c 'for c in init import select status rules check; do "$KIGEN" $c --help | grep -q "usage: kigen $c" || exit 1; done'
check "an unknown command is bad usage (exit 2)" sh -c '"$KIGEN" frobnicate; [ $? -eq 2 ]'

if on_pg; then
	check "init creates the schema on PostgreSQL" "$KIGEN" -q init
else
	check "init creates the database owner-only" sh -c '"$KIGEN" -q init && [ "$(stat -c %a "$KIGEN_DB")" = 600 ]'
fi

"$GEN" --count 500 --seed 3 > reg.csv
check "import loads a generated registry" "$KIGEN" -q import reg.csv
expect_eq "import: every row is a resident" 500 "$(sqlite3 "$KIGEN_DB" 'select count(*) from residents')"
check "the database never stores a My Number" sh -c '! grep -q my_number "$KIGEN_DB" && ! sqlite3 "$KIGEN_DB" .dump | grep -Eq "[^0-9]$(sed -n 2p reg.csv | cut -d, -f14)[^0-9]"'

# A file with broken rows changes nothing and names every bad line.
head -1 reg.csv > bad.csv
sed -n '2,4p' reg.csv | sed 's/^R03/RNEW/' >> bad.csv                          # lines 2-4: fine
sed -n 5p reg.csv | sed 's/^R03/RNEW/; s/,[0-9-]*,[12],/,2023-02-29,1,/' >> bad.csv # line 5: impossible date
sed -n 6p reg.csv | sed 's/^R03/RNEW/; s/,[12],\([0-9]\{3\}-\)/,7,\1/' >> bad.csv   # line 6: unknown sex code
sed -n 7p reg.csv | sed 's/^R03/RNEW/; s/,\([0-9]\{3\}\)-\([0-9]\{4\}\),/,\1\2,/' >> bad.csv # line 7: postal code
sed -n 8p reg.csv | sed 's/^R03/RNEW/; s/,[^,]*\r$/\r/' >> bad.csv                  # line 8: a column short
sed -n 9p reg.csv | sed 's/^R03/RNEW/; s/,\([0-9]\{11\}\)[0-9],/,\1X,/' >> bad.csv   # line 9: my_number
printf 'RNEW9,\xff\xfe,x,1990-01-01,1,160-0022,t,,,,,0,active,,,,,,,,,,,,,,\r\n' >> bad.csv # line 10: encoding
"$KIGEN" import bad.csv > bad.out 2> bad.err
rc=$?
expect_eq "import with bad rows exits 2" 2 "$rc"
expect_eq "import with bad rows writes nothing" 500 "$(sqlite3 "$KIGEN_DB" 'select count(*) from residents')"
check "import names the impossible date's line" grep -q "^bad.csv:5: .*impossible date" bad.err
check "import names the unknown sex code's line" grep -q "^bad.csv:6: sex: unknown code" bad.err
check "import names the bad postal code's line" grep -q "^bad.csv:7: postal_code" bad.err
check "import names the wrong column count's line" grep -q "^bad.csv:8: 27 columns where the header has 28" bad.err
check "import names the My Number check digit's line without echoing it" \
	sh -c 'grep -q "^bad.csv:9: my_number: check digit" bad.err && ! grep -Eq "[0-9]{11}X" bad.err'
check "import names the wrong encoding's line" grep -q "^bad.csv:10: not valid UTF-8" bad.err
expect_eq "import lists exactly the bad lines" "5 6 7 8 9 10" "$(cut -d: -f2 bad.err | grep -E '^[0-9]+$' | xargs)"

"$GEN" --count 50 --seed 4 --encoding cp932 > sjis.csv
check "the CP932 fixture really is not UTF-8" sh -c '! iconv -f UTF-8 -t UTF-8 sjis.csv >/dev/null 2>&1'
check "import --encoding cp932 loads Shift_JIS" "$KIGEN" -q import sjis.csv --encoding cp932
expect_eq "CP932 names arrive as UTF-8" "$(iconv -f CP932 -t UTF-8 sjis.csv | sed -n 2p | cut -d, -f2)" \
	"$(sqlite3 "$KIGEN_DB" "select name from residents where registry_id = 'R0400000000'")"

# Re-import updates in place, and a recorded expiry wins with a note.
sed -n 1p reg.csv > upd.csv
sed -n 2p reg.csv | awk -F, -v OFS=, '{ $2 = "改名　太郎"; $18 = "2030-01-01"; print }' >> upd.csv
id=$(sed -n 2p reg.csv | cut -d, -f1)
"$KIGEN" import upd.csv > upd.out 2>&1
expect_eq "re-import updates in place" "500 改名　太郎" \
	"$(sqlite3 "$KIGEN_DB" "select count(*) from residents where registry_id like 'R03%'") $(sqlite3 "$KIGEN_DB" "select name from residents where registry_id = '$id'")"
check "a recorded expiry that differs is listed and kept" sh -c \
	"grep -q 'upd.csv:2: resident $id: recorded card expiry 2030-01-01 differs' upd.out && [ \"\$(sqlite3 '$KIGEN_DB' \"select date(expires_on * 86400, 'unixepoch') from cards c join residents r on r.id = c.resident where registry_id = '$id'\")\" = 2030-01-01 ]"

# Selection.
"$KIGEN" select --date 2026-11-21 > sel1.out
n1=$(sqlite3 "$KIGEN_DB" 'select count(*) from notices')
check "select creates a batch of due notices" sh -c "[ $n1 -gt 0 ] && grep -q 'batch 1: $n1 notices' sel1.out"
"$KIGEN" select --date 2026-11-21 > sel2.out
expect_eq "select twice for the same date creates 0 notices" "$n1" "$(sqlite3 "$KIGEN_DB" 'select count(*) from notices')"
check "the second select says 0 notices" grep -q "0 notices (nothing new is due)" sel2.out
"$KIGEN" select --date 2026-11-01 > sel3.out
expect_eq "select for an earlier date creates nothing" "$n1" "$(sqlite3 "$KIGEN_DB" 'select count(*) from notices')"
check "select for an earlier date says why" grep -q "never goes back" sel3.out
check "application IDs are 23 digits, unique, with a valid check digit" sh -c "sqlite3 '$KIGEN_DB' 'select app_id from notices' > ids.txt && [ \$(sort -u ids.txt | grep -c '^[0-9]\\{23\\}\$') -eq $n1 ]"
check "sequence numbers run 1..N in postal-code order" sh -c "sqlite3 '$KIGEN_DB' 'select seq, postal_code from notices where batch = 1 order by seq' > seq.txt && [ \"\$(cut -d'|' -f1 seq.txt | xargs)\" = \"\$(seq 1 $n1 | xargs)\" ] && cut -d'|' -f2 seq.txt | sort -c"
check "nobody due is excluded silently: exclusions are counted in the batch" \
	sh -c "sqlite3 '$KIGEN_DB' 'select count(*) from batch_exclusions where batch = 1' | grep -qv '^0$'"
check "no notice goes to a 居所 holder, the dead, the moved-out or a period-of-stay expiry" sh -c "[ \$(sqlite3 '$KIGEN_DB' \"select count(*) from notices n join residents r on r.id = n.resident where r.kyosho = 1 or r.status <> 0 or (r.stay_until = n.expiry and r.nationality <> '')\") -eq 0 ]"
"$KIGEN" -q select --date 2026-12-21
n2=$(sqlite3 "$KIGEN_DB" 'select count(*) from notices')
check "a month of missed nights is caught up in one run" sh -c "[ $n2 -gt $n1 ]"
expect_eq "no resident is noticed twice for one expiry" 0 \
	"$(sqlite3 "$KIGEN_DB" 'select count(*) from (select resident, target, expiry from notices group by 1, 2, 3 having count(*) > 1) as twice')"
"$KIGEN" -q select --date 2026-12-21 --dry-run > /dev/null
expect_eq "--dry-run writes nothing" "$n2" "$(sqlite3 "$KIGEN_DB" 'select count(*) from notices')"
check "status lists the batches" sh -c '"$KIGEN" status | grep -q "^    2  2026-12-21  selected"'

# What expires (README "Who gets a notice"): the card when it expires first or on the same day as the
# certificates, else the certificate(s); a revoked signature certificate is not noticed.
export KIGEN_DB="$T/target.db"
{
	echo "resident_id,name,kana,birth_date,sex,postal_code,address_town,address_block,status,card_issued_on,auth_issued_on,auth_status,sign_issued_on,sign_status"
	# Minor: card and certificates end on the same day (5th birthday): the card.
	echo "T1,未成年　一郎,ミセイネン,2010-07-01,1,160-0022,東京都新宿区新宿,1-1-1,active,2022-06-01,2022-06-01,valid,,"
	# Adult: certificates end at the 5th birthday, the card at the 10th: the certificates.
	echo "T2,成人　二郎,セイジン,1980-01-20,1,160-0022,東京都新宿区新宿,1-1-2,active,2022-01-25,2022-01-25,valid,2022-01-25,valid"
	# Adult whose signature certificate was revoked (moved within the city): the user-auth one only.
	echo "T3,転居　三郎,テンキョ,1980-01-20,1,160-0022,東京都新宿区新宿,1-1-3,active,2022-01-25,2022-01-25,valid,2022-01-25,revoked"
} >target.csv
"$KIGEN" -q import target.csv && "$KIGEN" -q select --date 2026-06-20
target_of() { sqlite3 "$KIGEN_DB" "select n.target || ':' || n.certs || ':' || date(n.expiry * 86400, 'unixepoch') from notices n join residents r on r.id = n.resident where r.registry_id = '$1'"; }
expect_eq "card and certificates on the same day: the card is what expires" "0:0:2026-07-01" "$(target_of T1)"
"$KIGEN" -q select --date 2026-11-21
expect_eq "certificates before the card: both certificates expire (sign|auth)" "1:3:2027-01-20" "$(target_of T2)"
expect_eq "a revoked signature certificate: only the user-auth certificate is noticed" "1:2:2027-01-20" "$(target_of T3)"
expect_eq "a holder without a valid signature certificate gets no 署名用 box" "0" \
	"$(sqlite3 "$KIGEN_DB" "select has_sign_cert from notices n join residents r on r.id = n.resident where r.registry_id = 'T3'")"
