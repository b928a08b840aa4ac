#!/bin/bash
# The mail as the municipality sends it, through the whole pipeline (import -> nightly): J-LIS's
# 申請書ID from the registry's jlis_application_id on the card notice and its 交付申請書 (printed,
# and in the 交付申請用 QR read back with zbarimg), none for a card holder without one, kigen's own
# 通知番号 on every piece; the manifest, job.json and the run report count the card renewals
# without a J-LIS ID; the settings' inserts are in 同封物 and job.json; a malformed J-LIS ID is
# refused with its line, and the rest of the registry is imported.
source "$(dirname "$0")/../lib.sh"
sed "s|^  templates: .*|  templates: $ROOT/templates|" "$ROOT/fixtures/settings.yaml" >settings.yaml
CONF="--config $T/settings.yaml"
"$ROOT/scripts/gen-registry" --count 1500 --seed 11 >reg.csv
check "the generator writes a jlis_application_id column" sh -c "head -1 reg.csv | grep -q ',jlis_application_id'"

# Two malformed IDs (22 digits, a letter) on card holders: the rows are named by line and the
# import, all or nothing, takes none of the file; the registry as generated then imports.
python3 - reg.csv bad.csv <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8", newline="")))
col = rows[0].index("jlis_application_id")
holders = [i for i, r in enumerate(rows) if i and r[col]]
rows[holders[0]][col] = "1" * 22
rows[holders[1]][col] = "1" * 22 + "X"
open("bad-lines.txt", "w").write("%d %d\n" % (holders[0] + 1, holders[1] + 1))
csv.writer(open(sys.argv[2], "w", encoding="utf-8", newline=""), lineterminator="\r\n").writerows(rows)
PY
read -r bad1 bad2 <bad-lines.txt
"$KIGEN" $CONF -q import bad.csv 2>import.err
expect_eq "a registry with malformed J-LIS IDs is refused (exit 2)" 2 $?
check "a 22-digit jlis_application_id is named with its line" grep -q "bad.csv:$bad1: jlis_application_id '1\{22\}' is not 23 digits" import.err
check "a jlis_application_id with a letter is named with its line" grep -q "bad.csv:$bad2: jlis_application_id" import.err
"$KIGEN" $CONF -q import reg.csv
expect_eq "the registry as generated imports whole" 1500 "$(sqlite3 "$KIGEN_DB" 'select count(*) from residents')"
expect_eq "J-LIS IDs are stored as 23 digits or not at all" 0 \
	"$(sqlite3 "$KIGEN_DB" "select count(*) from residents where jlis_app_id <> '' and (length(jlis_app_id) <> 23 or ltrim(jlis_app_id, '0123456789') <> '')")"

"$KIGEN" $CONF --out out nightly --date 2026-11-21 >nightly.out 2>nightly.log
B=out/2026-11-21/batch-0001
check "the nightly run makes a sealed batch" sh -c "cd $B && sha256sum --quiet -c SHA256SUMS"

# From the manifest: each card notice's file and page, its 交付申請書's, and both IDs.
python3 - "$B/manifest.csv" >cards.tsv <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig")))
h = {k: i for i, k in enumerate(rows[0])}
for r in rows[1:]:
    if r[h["有効期限が到来するもの"]] == "マイナンバーカード":
        print("\t".join([r[h["通知番号"]], r[h["J-LIS申請書ID"]] or "-", r[h["有効期限通知書 ファイル"]],
                         r[h["有効期限通知書 頁"]], r[h["交付申請書 ファイル"]], r[h["交付申請書 頁"]], r[h["同封物"]]]))
PY
with=$(awk -F'\t' '$2 != "-"' cards.tsv | wc -l)
without=$(awk -F'\t' '$2 == "-"' cards.tsv | wc -l)
check "the batch has card renewals with a J-LIS ID ($with) and without ($without)" test "$with" -gt 0 -a "$without" -gt 0
expect_eq "manifest: J-LIS IDs are the residents' as imported" 0 "$(sqlite3 "$KIGEN_DB" "select count(*) from notices n join residents r on r.id = n.resident where n.batch = 1 and n.target = 0 and n.jlis_app_id <> r.jlis_app_id")"

url=$(awk -F': ' '/application_qr_url/ {gsub(/"/, "", $2); print $2}' settings.yaml)
squeeze() { perl -CS -0777 -pe 's/\s+//g'; } # Unicode white space, as render.sh's page_text
# Every page also carries its matching code (B0001-000123-2/3): qr gives the other QRs, piece that one.
qrs() { pdftoppm -q -r 200 -f "$2" -l "$2" -gray "$1" qr && zbarimg -q --raw qr-*.pgm 2>/dev/null | sort; rm -f qr-*.pgm; }
qr() { qrs "$1" "$2" | grep -v '^B[0-9]\{4\}-[0-9]\{6\}-[0-9]*/[0-9]*$'; }
piece() { qrs "$1" "$2" | grep '^B[0-9]\{4\}-[0-9]\{6\}-[0-9]*/[0-9]*$' | sed 's/^B[0-9]*-[0-9]*-//'; }
n=0
while IFS=$'\t' read -r notice jlis file page afile apage pieces; do
	[ $n -ge 3 ] && break
	n=$((n + 1))
	t=$(pdftotext -q -raw -f "$page" -l "$page" "$B/$file" - | squeeze)
	a=$(pdftotext -q -raw -f "$apage" -l "$apage" "$B/$afile" - | squeeze)
	check "$notice: the card notice carries the 通知番号" sh -c "case '$t' in *'通知番号$notice'*) exit 0;; esac; exit 1"
	if [ "$jlis" != - ]; then
		check "$notice: the card notice prints J-LIS's 申請書ID $jlis" sh -c "case '$t' in *'$jlis'*) exit 0;; esac; exit 1"
		expect_eq "$notice: the notice's QR decodes to the URL holding J-LIS's ID" "${url/\{id\}/$jlis}" "$(qr "$B/$file" "$page")"
		check "$notice: the 交付申請書 carries the same ID" sh -c "case '$a' in *'$jlis'*) exit 0;; esac; exit 1"
		expect_eq "$notice: the 交付申請書's QR decodes to the same URL" "${url/\{id\}/$jlis}" "$(qr "$B/$afile" "$apage")"
	else
		expect_eq "$notice: a card notice without a J-LIS ID has no QR but its matching code" "" "$(qr "$B/$file" "$page")"
		check "$notice: ... and sends the resident to the counter or the mail" \
			sh -c "case '$t' in *'市区町村の窓口で申請するか、同封の交付申請書により郵送で更新手続をしてください'*) exit 0;; esac; exit 1"
		check "$notice: ... and never prints kigen's number as 申請書ID" sh -c "case '$t' in *'申請書ＩＤ$notice'*) exit 1;; esac; exit 0"
	fi
	expect_eq "$notice: the notice's matching code makes it piece 1 of 3 (notice, 交付申請書, envelope)" 1/3 "$(piece "$B/$file" "$page")"
	expect_eq "$notice: the 交付申請書's matching code makes it piece 2 of 3" 2/3 "$(piece "$B/$afile" "$apage")"
	expect_eq "$notice: 同封物 lists the printed pieces, then the card inserts" \
		"有効期限通知書・個人番号カード交付申請書・長形3号封筒・有効期限のご案内パンフレット・交付申請書送付用封筒" "$pieces"
done < <(awk -F'\t' '$2 != "-"' cards.tsv | head -2; awk -F'\t' '$2 == "-"' cards.tsv | head -1)

python3 - "$B/job.json" "$without" >job.txt <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(j["counts"]["card_without_jlis_id"], j["pieces"]["application"], j["counts"]["card"])
print("|".join(j["inserts"]["card"]["names"]), j["inserts"]["card"]["sets"], "|".join(j["inserts"]["cert"]["names"]))
PY
expect_eq "job.json counts the card renewals without a J-LIS ID, and one 交付申請書 per card renewal" \
	"$without $((with + without)) $((with + without))" "$(sed -n 1p job.txt)"
expect_eq "job.json lists each kind's inserts and how many sets get them" \
	"有効期限のご案内パンフレット|交付申請書送付用封筒 $((with + without)) 本書（電子証明書の更新手続のご案内）" \
	"$(sed -n 2p job.txt)"
check "the run report counts the card renewals without a J-LIS ID" grep -q "うち申請書IDなし（窓口・郵送のみ） $without" nightly.out
check "report.html counts them too" grep -q "うち申請書IDなし" out/2026-11-21/report.html
