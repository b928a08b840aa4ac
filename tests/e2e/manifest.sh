# The print shop's hand-off (manifest.xlsx, manifest.csv, job.json, SHA256SUMS) and the run
# report, on a real batch: generated registry, kigen init/import/select, then the test driver
# (tests/manifest/mdriver.c) in place of the render stage. Outputs are read back with openpyxl,
# sqlite3 and sha256sum.
. "$(dirname "$0")/../lib.sh"
MD=${MDRIVER:-$ROOT/${BUILD:-build}/mdriver}
PY=/usr/bin/python3 # Debian's, where python3-openpyxl lives
CHECK=$ROOT/tests/manifest/check_manifest.py


"$ROOT/scripts/gen-registry" --count 3000 --seed 5 > reg.csv
"$KIGEN" -q init && "$KIGEN" -q import reg.csv && "$KIGEN" -q select --date 2026-11-21
sqlite3 "$KIGEN_DB" "select seq, app_id, postal_code, addr_town || addr_block || case when addr_building <> '' then '　' || addr_building else '' end, name, kind, target, date(expiry * 86400, 'unixepoch') from notices where batch = 1 order by seq" > notices.txt
n=$(wc -l < notices.txt)
barcoded=$(awk -F'|' '$1 % 7 != 0' notices.txt | wc -l) # the driver's stand-in encoder: none for seq % 7 == 0
check "the batch has notices to manifest" test "$n" -gt 50

mkdir b1
check "manifest_write succeeds on the batch" "$MD" write --db "$KIGEN_DB" --batch 1 --dir b1 --max-sheets 50 --barcodes
"$PY" "$CHECK" b1 notices.txt 対象外 対象外
check "SHA256SUMS verifies with sha256sum -c" sh -c 'cd b1 && sha256sum -c --strict SHA256SUMS'
expect_eq "SHA256SUMS lists every file of the batch folder, sorted" \
	"$(cd b1 && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort)" "$(cut -c67- b1/SHA256SUMS)"
expect_eq "manifest files are owner-only" "600 600 600 600" \
	"$(stat -c %a b1/manifest.xlsx b1/manifest.csv b1/job.json b1/SHA256SUMS | xargs)"
check "no temporary file is left behind" sh -c '[ -z "$(ls -A b1 | grep "^\.")" ]'
check "manifest_verify passes an untouched batch" "$MD" verify --dir b1

# The same input gives the same bytes.
mkdir b2
"$MD" write --db "$KIGEN_DB" --batch 1 --dir b2 --max-sheets 50 --barcodes > /dev/null
check "writing twice gives byte-identical manifest.xlsx, manifest.csv, job.json and SHA256SUMS" \
	sh -c 'for f in manifest.xlsx manifest.csv job.json SHA256SUMS; do cmp b1/$f b2/$f || exit 1; done'

# Tampering is found.
cp -r b1 t1
printf 'X' | dd of=t1/sheets-002.pdf bs=1 seek=3 conv=notrunc 2>/dev/null
"$MD" verify --dir t1 > t1.out 2>&1
expect_eq "manifest_verify fails (exit 1) when one byte of a file changed" 1 $?
check "manifest_verify names the changed file" grep -q "^sheets-002.pdf: SHA-256 が一致しません" t1.out
check "sha256sum -c agrees that the changed file fails" sh -c '! (cd t1 && sha256sum -c --quiet SHA256SUMS 2>/dev/null)'
cp -r b1 t2 && echo extra > t2/extra.txt
"$MD" verify --dir t2 > t2.out 2>&1
check "manifest_verify flags a file SHA256SUMS does not list" sh -c "[ $? -eq 1 ] && grep -q '^extra.txt: SHA256SUMS に載っていません' t2.out"
cp -r b1 t3 && rm t3/SHA256SUMS
"$MD" verify --dir t3 > t3.out 2>&1
check "manifest_verify calls a folder without SHA256SUMS incomplete" sh -c "[ $? -eq 1 ] && grep -q '未完成' t3.out"

# The discount thresholds are settings; flags are right on both sides of them.
printf 'postal_discounts:\n  sorted_min: %d\n  barcode_min: %d\n' "$n" "$barcoded" > at.yaml
printf 'postal_discounts:\n  sorted_min: %d\n  barcode_min: %d\n' $((n + 1)) $((barcoded + 1)) > above.yaml
mkdir d1 d2
"$MD" write --db "$KIGEN_DB" --batch 1 --dir d1 --max-sheets 50 --barcodes --config at.yaml > /dev/null
out=$("$PY" "$CHECK" d1 notices.txt 適用可 適用可 | grep 'discount flag is')
echo "$out" | sed 's/discount flag/discount flag at the threshold/'
expect_eq "both discount flags were checked at the threshold" 2 "$(echo "$out" | grep -c '^ok')"
"$MD" write --db "$KIGEN_DB" --batch 1 --dir d2 --max-sheets 50 --barcodes --config above.yaml > /dev/null
out=$("$PY" "$CHECK" d2 notices.txt 対象外 対象外 | grep 'discount flag is')
echo "$out" | sed 's/discount flag/discount flag one below the threshold/'
expect_eq "both discount flags were checked one below the threshold" 2 "$(echo "$out" | grep -c '^ok')"

# The render stage and the sets must agree.
mkdir w1
"$MD" write --db "$KIGEN_DB" --batch 1 --dir w1 --max-sheets 50 --barcodes --wrong-pages > w1.out 2>&1
expect_eq "a print file whose page count disagrees with its sets fails (exit 1)" 1 $?
check "the page mismatch is named, and the folder is not sealed" \
	sh -c 'grep -q "sheets-001.pdf: [0-9]* pages, but sets 1\.\.[0-9]* need" w1.out && [ ! -e w1/SHA256SUMS ]'

# A full disk: a 64 KiB tmpfs in a private mount namespace.
mkdir full
$UNSHARE_M sh -c "mount -t tmpfs -o size=64k tmpfs full && '$MD' write --db '$KIGEN_DB' --batch 1 --dir full --max-sheets 50 --barcodes > full.out 2>&1; echo \$? > full.rc; ls -A full > full.ls"
expect_eq "a full disk fails with exit 1" 1 "$(cat full.rc)"
check "a full disk gives a clear message naming the file" grep -Eq "full/manifest\.(xlsx|csv).*No space left on device" full.out
check "a full disk leaves no SHA256SUMS, no manifest under a final name, no temporary" \
	sh -c '! grep -Eq "^(SHA256SUMS|manifest\.|job\.json|\.)" full.ls'
# Sizes around where the disk runs full inside libxlsxwriter: every run either fails without a
# seal or gives a complete, verifiable batch (libxlsxwriter alone would seal a workbook with rows lost).
bad=""
for kb in 128 160 192 200 208 224 240 256 272 288 320; do
	rm -rf sz && mkdir sz
	$UNSHARE_M sh -c "mount -t tmpfs -o size=${kb}k tmpfs sz && '$MD' write --db '$KIGEN_DB' --batch 1 --dir sz --max-sheets 50 --barcodes > /dev/null 2>&1; rc=\$?; if [ \$rc = 0 ]; then (cd sz && sha256sum -c --quiet SHA256SUMS) && '$PY' -c 'import openpyxl,sys; sys.exit(openpyxl.load_workbook(\"sz/manifest.xlsx\")[\"発送リスト\"].max_row != $n + 1)'; else [ ! -e sz/SHA256SUMS ] && ! ls -A sz | grep -q '^\.'; fi" || bad="$bad ${kb}k"
done
expect_eq "on a disk filling up at any point, a sealed batch is always complete (sizes that broke it:)" "" "$bad"

# Memory stays flat: the sets come in ranges (synthetic sets, no store).
mkdir m1 m2
r1=$("$MD" synth --sets 3000 --dir m1 | sed 's/.*maxrss_kb //')
r2=$("$MD" synth --sets 30000 --dir m2 | sed 's/.*maxrss_kb //')
echo "# maxrss: 3000 sets ${r1} KiB, 30000 sets ${r2} KiB"
if nm "$MD" 2>/dev/null | grep -q __asan_init; then
	echo "# (no memory check under ASan: its quarantine keeps freed memory resident)"
else
	check "ten times the sets needs less than 2 MiB more memory" test $((r2 - r1)) -lt 2048
fi
"$PY" -c "import openpyxl,sys; wb=openpyxl.load_workbook('m2/manifest.xlsx', read_only=True); sys.exit(wb['発送リスト'].max_row != 30001)"
expect_eq "the 30000-set workbook holds 30000 rows" 0 $?

# The forecast agrees with the selection: week w's count is what select creates on night 7w+6.
fc=$("$MD" forecast --db "$KIGEN_DB" --date 2026-11-22 --weeks 26 | xargs)
set -- $fc
echo "# forecast from 2026-11-22: $fc"
expect_eq "the forecast has 26 weeks" 26 $#
check "the forecast expects notices" test "$(($(echo "$fc" | tr ' ' '+')))" -gt 0
"$KIGEN" -q select --date 2026-11-28
expect_eq "forecast week 1 = the notices select creates for 2026-11-22..28" "$1" \
	"$(sqlite3 "$KIGEN_DB" 'select count(*) from notices where batch = (select max(id) from batches) and kind = 0')"
"$KIGEN" -q select --date 2026-12-05
expect_eq "forecast week 2 = the notices select creates for 2026-11-29..12-05" "$2" \
	"$(sqlite3 "$KIGEN_DB" 'select count(*) from notices where batch = (select max(id) from batches) and kind = 0')"

# The run report.
"$MD" report --db "$KIGEN_DB" --batch 1 --dir b1 --date 2026-11-22 > report.out
check "the summary gives counts by what expires" grep -q "^  マイナンバーカード [0-9]* / 電子証明書 [0-9]* / 電子証明書（再照会） [0-9]*" report.out
check "the summary lists the files with sizes" grep -q "^  manifest.xlsx  *[0-9,]* バイト" report.out
check "the summary lists exclusions by reason in Japanese" grep -q "^  死亡 [0-9]" report.out
check "report.html embeds the chart" grep -q '<img src="forecast.png"' b1/report.html
check "report.html is in Japanese and lists the stages' time" sh -c 'grep -q "<html lang=\"ja\">" b1/report.html && grep -q "<th>render</th><td class=\"n\">12.5 秒" b1/report.html'
expect_eq "report.html's forecast table matches the forecast" "$fc" \
	"$(sed -n 's|^<tr><th>20[0-9-]*</th><td class="n">\([0-9,]*\)</td></tr>$|\1|p' b1/report.html | tr -d , | xargs)"
check "forecast.png is a 1000x520 PNG" "$PY" -c "import struct,sys; b=open('b1/forecast.png','rb').read(24); sys.exit(not (b[:8]==b'\x89PNG\r\n\x1a\n' and struct.unpack('>II', b[16:24])==(1000,520)))"
check "manifest_verify flags the report files added after the seal" sh -c "'$MD' verify --dir b1 | grep -q 'forecast.png: SHA256SUMS に載っていません'"
