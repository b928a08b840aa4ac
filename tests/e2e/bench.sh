#!/bin/bash
# The benchmark's yardsticks draw what kigen draws (scripts/bench-render.sh): the values file of
# `render_bench values` carries every field (multi-line ones escaped), and the naive cairo
# baseline and the ReportLab implementation read it back and print the same pages, set by set,
# as kigen's render_batch: the same page count per set in each document, the set's label
# (B0001-000123) on every page, and the matching code of each piece readable by zbarimg.
source "$(dirname "$0")/../lib.sh"
BUILD=${BUILD:-build}
N=20 # sets: card and certificate renewals, a re-inquiry (every 20th), holders without a signature certificate

sed -e "s|^  templates: .*|  templates: $ROOT/templates|" -e "s|^  proofs: .*|  proofs: 0|" \
	"$ROOT/fixtures/settings.yaml" >settings.yaml
mkdir -p kigen naive reportlab
check "render_bench values writes the yardsticks' values file" \
	"$ROOT/$BUILD/render_bench" values settings.yaml $N values.tsv
check "the values escape the enclosures list's newlines (one line a page)" \
	grep -q 'enclosures=次の.点が封筒に封入されています。\\n・有効期限通知書' values.tsv
check "kigen renders the sets" "$ROOT/$BUILD/render_bench" bench settings.yaml $N kigen 2
check "the naive cairo baseline renders the values file" \
	"$ROOT/$BUILD/naive_baseline" "$ROOT/templates" values.tsv naive
check "the ReportLab implementation renders the values file" \
	/usr/bin/python3 "$ROOT/tests/bench/reportlab_set.py" "$ROOT/templates" values.tsv reportlab

# pages DIR DOC: the label of every page of DOC's PDF, in order ("none" for a page without one).
pages() {
	for f in "$1"/"$2"*.pdf; do
		pdftotext -layout "$f" - | awk 'BEGIN { RS = "\f" } NF {
			if (match($0, /B[0-9][0-9][0-9][0-9]-[0-9][0-9][0-9][0-9][0-9][0-9]/)) print substr($0, RSTART, RLENGTH)
			else print "none" }'
	done
}
for doc in sheets inner outer; do
	pages kigen "$doc" >"kigen-$doc.txt"
	lines=$(grep -c "^doc=$doc	" values.tsv)
	expect_eq "the values file has a line for each of kigen's $doc pages" "$(wc -l <"kigen-$doc.txt")" "$lines"
	for impl in naive reportlab; do
		pages "$impl" "$doc" >"$impl-$doc.txt"
		check "$impl prints kigen's $doc pages: the same sets in the same order, as many pages each" \
			diff "kigen-$doc.txt" "$impl-$doc.txt"
	done
done
check "every one of kigen's pages carries its set's label" sh -c '! grep -q none kigen-*.txt'

# The matching codes on the first two sheets (set 1, a card renewal: notice, application) and
# the first two mailing envelopes (set 1's third piece; set 2, a certificate renewal, has four).
for impl in kigen naive reportlab; do
	codes=$(for f in "$impl"/sheets*.pdf "$impl"/outer*.pdf; do
		pdftoppm -q -r 200 -f 1 -l 2 -gray "$f" qr && zbarimg -q --raw qr-*.pgm 2>/dev/null | grep '^B0001-'
		rm -f qr-*.pgm
	done | sort | tr '\n' ' ')
	expect_eq "zbarimg reads the first set's matching codes on $impl's pages" \
		"B0001-000001-1/3 B0001-000001-2/3 B0001-000001-3/3 B0001-000002-4/4 " "$codes"
done
