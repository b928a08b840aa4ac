#!/bin/bash
# kigen barcode: the two worked examples of the manual (postal.h), the exact JSON line, the
# bars rebuilt from the spec's character table, and the exits for bad input and for pieces that
# get no barcode (representative postal code from --config, nothing to extract), and 千 numerals
# checked bar for bar against zint.
source "$(dirname "$0")/../lib.sh"

# The spec's table: symbol character -> bars.
declare -A BARS=([0]=FTT [1]=FFT [2]=FDA [3]=DFA [4]=FAD [5]=FTF [6]=DAF [7]=AFD [8]=ADF [9]=TFF
	[-]=TFT [CC1]=DAT [CC2]=DTA [CC3]=ADT [CC4]=TDA [CC5]=ATD [CC6]=TAD [CC7]=TTF [CC8]=FFF)

# expected_json CODE CHECK: the line kigen must print, bars built here from the table.
expected_json() {
	local bars=FD c
	for c in $1 $2; do bars+=${BARS[$c]}; done
	printf '{"code": "%s", "check": "%s", "bars": "%s"}' "$1" "$2" "${bars}DF"
}

out=$("$KIGEN" barcode --postal 100-0013 --address '1丁目3番2号　郵便プラザ503室')
expect_eq "100-0013 1丁目3番2号 郵便プラザ503室: characters, check 9 and bars as in the spec" \
	"$(expected_json '1 0 0 0 0 1 3 1 - 3 - 2 - 5 0 3 CC4 CC4 CC4 CC4' 9)" "$out"

out=$("$KIGEN" barcode --postal 350-1106 --address '22-1郵政団地A棟308号室')
expect_eq "350-1106 22-1郵政団地A棟308号室: A is CC1 0, check 5, bars as in the spec" \
	"$(expected_json '3 5 0 1 1 0 6 2 2 - 1 CC1 0 3 0 8 CC4 CC4 CC4 CC4' 5)" "$out"

bars=$(printf '%s' "$out" | sed 's/.*"bars": "\([A-Z]*\)".*/\1/')
expect_eq "the bars are 67 letters of F/A/D/T" 67 "$(printf '%s' "$bars" | tr -cd 'FADT' | wc -c)"

out=$("$KIGEN" barcode --postal 7-0013 --address '1-2' 2>"$T/err"; echo "rc=$?")
expect_eq "a malformed postal code exits 2" "rc=2" "$out"
check "a malformed postal code is named in the message" grep -q "postal code '7-0013'" "$T/err"

out=$("$KIGEN" barcode --postal 100-0013 2>/dev/null; echo "rc=$?")
expect_eq "barcode without --address exits 2" "rc=2" "$out"

out=$("$KIGEN" barcode --postal 100-0013 --address '郵便プラザ' 2>"$T/err"; echo "rc=$?")
expect_eq "nothing to extract: no barcode, exit 1" "rc=1" "$out"
check "nothing to extract: the reason is 住所表示番号なし" grep -q '住所表示番号なし' "$T/err"

cat >"$T/settings.yaml" <<'YAML'
municipality:
  representative_postal_codes: ["100-0000", "1500000"]
YAML
out=$("$KIGEN" --config "$T/settings.yaml" barcode --postal 100-0000 --address '1丁目3番2号' 2>"$T/err"; echo "rc=$?")
expect_eq "a representative postal code from --config: no barcode, exit 1" "rc=1" "$out"
check "a representative postal code: the reason is 代表郵便番号" grep -q '代表郵便番号' "$T/err"
out=$("$KIGEN" --config "$T/settings.yaml" barcode --postal 150-0000 --address '1' 2>/dev/null; echo "rc=$?")
expect_eq "representative codes match with or without the hyphen" "rc=1" "$out"
check "a code not in the list still gets its barcode" \
	"$KIGEN" --config "$T/settings.yaml" barcode --postal 100-0013 --address '1丁目3番2号'

out=$("$KIGEN" barcode --postal 100-0013 --address '3-2' --building '101')
expect_eq "--building is read after the block, kept apart by a hyphen" \
	"$(expected_json '1 0 0 0 0 1 3 3 - 2 - 1 0 1 CC4 CC4 CC4 CC4 CC4 CC4' CC7)" "$out"

# 千 is a kanji numeral (positional with 百 and 十), and zint, an encoder nobody here wrote, draws the
# same 67 bars from the same characters. zint --dump prints three rows (upper, timing, lower) of
# bar/space bits; a bar with both ends is F, upper only A, lower only D, neither T.
for c in '千二百番地:98008111200' '千番地:98008111000' '二千三十番:98008112030' '千十一号1-2:98008111011-1-2'; do
	addr=${c%%:*} data=${c##*:}
	out=$("$KIGEN" barcode --postal 980-0811 --address "$addr")
	bars=$(printf '%s' "$out" | sed 's/.*"bars": "\([A-Z]*\)".*/\1/')
	zbars=$(zint --barcode=JAPANPOST -d "$data" --dump | perl -e '@b = map { join "", map { sprintf "%08b", hex } split } <STDIN>;
print map { substr "FADT", (substr($b[0], $_, 1) eq "1" ? 0 : 2) + (substr($b[2], $_, 1) eq "1" ? 0 : 1), 1 } grep { $_ % 2 == 0 } 0 .. 132')
	expect_eq "980-0811 $addr: the bars zint draws for $data" "$zbars" "$bars"
done
