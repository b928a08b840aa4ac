#!/bin/bash
# The printed documents, checked with real tools: renders the sample batch of build/render_bench
# (card and certificate renewals, a holder without a signature certificate, a re-inquiry, a
# long name, IVS and non-JIS-X-0208 names, a set without a customer barcode), then reads the
# PDFs back with qpdf, pdfinfo, pdftotext, pdftoppm and zbarimg.
source "$(dirname "$0")/../lib.sh"
BUILD=${BUILD:-build}
BENCH=$ROOT/$BUILD/render_bench

sed "s|^  templates: .*|  templates: $ROOT/templates|" "$ROOT/fixtures/settings.yaml" >settings.yaml
mkdir -p out again
"$BENCH" sample settings.yaml out >sets.tsv 2>files.txt
check "the sample batch renders" test -s out/sheets-001.pdf
"$BENCH" sample settings.yaml again >/dev/null 2>&1

for f in out/*.pdf; do
	check "qpdf --check passes on ${f##*/}" qpdf --check "$f"
done

# Print-shop preflight (pikepdf reads the files; Ghostscript separates the inks): pure K,
# no RGB transparency group, TrimBox, /ID, PDF/X-4 identification (the sample settings ask
# for it), objects in object streams with a cross-reference stream.
/usr/bin/python3 "$ROOT/tests/print/check_print.py" --x4 out/*.pdf
for f in out/*.pdf; do
	# inkcov prints C M Y K coverage per page; pure K means C, M and Y are 0 on every page.
	cmy=$(gs -q -dNOPAUSE -dBATCH -dSAFER -sDEVICE=inkcov -o - "$f" |
		awk '$1 + $2 + $3 > 0 {n++} END {print n + 0}')
	expect_eq "Ghostscript's ink coverage of ${f##*/}: no cyan, magenta or yellow on any page" 0 "$cmy"
	check "${f##*/} keeps its objects in object streams with a cross-reference stream" \
		sh -c "qpdf --show-xref '$f' | grep -q 'compressed; stream'"
done

# Pages each set adds to each document, from what went in (kind, target).
pages_of() { # doc kind target
	case "$1:$2:$3" in
	sheets:notice:card) echo 2 ;; sheets:notice:cert) echo 2 ;; sheets:reinquiry:*) echo 1 ;;
	inner:*:card) echo 0 ;; inner:*) echo 1 ;; outer:*) echo 1 ;;
	esac
}
declare -A total=([sheets]=0 [inner]=0 [outer]=0) first
while IFS=$'\t' read -r seq id expiry kind target sign barcode certs jlis revoked name; do
	for d in sheets inner outer; do
		first[$d:$seq]=$((total[$d] + 1))
		total[$d]=$((total[$d] + $(pages_of $d "$kind" "$target")))
	done
done <sets.tsv
expect_eq "sheets-001.pdf has one page per notice, per 交付申請書 and per form" "${total[sheets]}" \
	"$(pdfinfo out/sheets-001.pdf | awk '/^Pages:/ {print $2}')"
expect_eq "inner-envelopes-001.pdf has one page per form" "${total[inner]}" \
	"$(pdfinfo out/inner-envelopes-001.pdf | awk '/^Pages:/ {print $2}')"
expect_eq "outer-envelopes-001.pdf has one page per resident" "${total[outer]}" \
	"$(pdfinfo out/outer-envelopes-001.pdf | awk '/^Pages:/ {print $2}')"

# The text of one page in drawing order with every kind of white space removed (様 follows a
# space; Perl's \s on decoded text is Unicode's White_Space, the full-width space too). A PDF
# maps each glyph back to one text: when an IVS selects the glyph its base character already
# has, extraction gives the base alone, so has_name accepts that too. Perl, not Python, for these
# one-liners: a Python start costs about a second on a loaded machine, and they run per page.
page_text() { # file page
	pdftotext -q -raw -f "$2" -l "$2" "$1" - | perl -CS -0777 -pe 's/\s+//g'
}
squeeze() { perl -CSA -e '$_ = shift; s/\s+//g; print' "$1"; }
has() { # haystack needle
	case "$1" in *"$2"*) return 0 ;; *) echo "missing: $2"; return 1 ;; esac
}
has_name() { # haystack name
	local base
	base=$(perl -CSA -e '$_ = shift; s/[\x{fe00}-\x{fe0f}\x{e0100}-\x{e01ef}]//g; print' "$2")
	case "$1" in *"$2"* | *"$base"*) return 0 ;; *) echo "missing: $2"; return 1 ;; esac
}
lacks() {
	case "$1" in *"$2"*) echo "unexpected: $2"; return 1 ;; *) return 0 ;; esac
}
qr_codes() { # file page -> decoded QR payloads but the matching code, one a line, sorted
	pdftoppm -q -r 200 -f "$2" -l "$2" -gray "$1" qr
	zbarimg -q --raw qr-*.pgm 2>/dev/null | grep -v '^B[0-9]\{4\}-[0-9]\{6\}-' | sort
	rm -f qr-*.pgm
}

url=$(awk -F': ' '/application_qr_url/ {gsub(/"/, "", $2); print $2}' settings.yaml)
while IFS=$'\t' read -r seq id expiry kind target sign barcode certs jlis revoked name; do
	era=$("$KIGEN" rules era "$expiry")
	who=$(squeeze "$name")
	p=${first[sheets:$seq]}
	tag=$(printf 'B0001-%06d' "$seq")
	if [ "$kind" = notice ]; then
		t=$(page_text out/sheets-001.pdf "$p")
		check "$tag notice names the resident" has_name "$t" "${who}様"
		# The table's values, in the order they are drawn: expiry, the renewal period (from the
		# window's opening day, in 和暦), what expires, procedure, and J-LIS's 申請書ID (card) or
		# kigen's 通知番号 (certificates).
		case "$target:$certs" in
		card:*) what=マイナンバーカード proc=マイナンバーカードの更新手続 ;;
		cert:1) what=署名用電子証明書 proc=電子証明書の更新手続 ;;
		cert:2) what=利用者証明用電子証明書 proc=電子証明書の更新手続 ;;
		cert:3) what=署名用電子証明書・利用者証明用電子証明書 proc=電子証明書の更新手続 ;;
		esac
		opens=$("$KIGEN" rules window --expiry "$expiry" | sed 's/.*"opens": "\([0-9-]*\)".*/\1/')
		period="$("$KIGEN" rules era "$opens")から${era}まで"
		shown=$id
		[ "$target" = card ] && shown=$jlis
		[ "$shown" = - ] && shown="" # the static （記載なし） comes first in drawing order
		check "$tag notice gives the expiry in 和暦 ($era), the renewal period, what expires, the procedure and the ID" \
			has "$t" "${era}${period}${what}${proc}${shown}"
		[ "$target" = card ] && [ "$jlis" = - ] &&
			check "$tag notice without a J-LIS 申請書ID says there is none" has "$t" "（記載なし）"
		check "$tag notice carries its batch, sequence number and 通知番号" has "$t" "${tag}通知番号${id}"
		check "$tag notice gives the 'information as of' date in 和暦" has "$t" "令和7年3月31日時点の情報"
		check "$tag notice does not carry J-LIS's delegation sentence (the municipality mails)" \
			lacks "$t" "全国の市区町村長から委任を受けて実施しています"
		if [ "$target" = card ] && [ "$jlis" != - ]; then
			expect_eq "$tag card notice's QR decodes to the application URL with J-LIS's 申請書ID" \
				"${url/\{id\}/$jlis}" "$(qr_codes out/sheets-001.pdf "$p")"
		elif [ "$target" = card ]; then
			expect_eq "$tag card notice without a J-LIS 申請書ID has no QR code" "" "$(qr_codes out/sheets-001.pdf "$p")"
			check "$tag card notice without a J-LIS 申請書ID sends the resident to the counter or the mail" \
				has "$t" "市区町村の窓口で申請するか、同封の交付申請書により郵送で更新手続をしてください"
		else
			expect_eq "$tag certificate notice has no QR code" "" "$(qr_codes out/sheets-001.pdf "$p")"
		fi
		if [ "$target" = card ]; then
			p=$((p + 1))
			a=$(page_text out/sheets-001.pdf "$p")
			check "$tag the 交付申請書 follows the notice" has "$a" "個人番号カード交付申請書"
			check "$tag 交付申請書 names the holder" has_name "$a" "$who"
			check "$tag 交付申請書 has the photo box and its size" has "$a" "縦4.5cm×横3.5cm"
			check "$tag 交付申請書 gives the 受付センター's address" has "$a" "個人番号カード交付申請書受付センター"
			if [ "$jlis" != - ]; then
				check "$tag 交付申請書 carries the same J-LIS 申請書ID" has "$a" "$jlis"
				expect_eq "$tag 交付申請書's QR decodes to the same URL" "${url/\{id\}/$jlis}" \
					"$(qr_codes out/sheets-001.pdf "$p")"
			else
				expect_eq "$tag 交付申請書 without a J-LIS 申請書ID has no QR code" "" "$(qr_codes out/sheets-001.pdf "$p")"
			fi
		fi
		p=$((p + 1))
	fi
	if [ "$target" = cert ]; then
		t=$(page_text out/sheets-001.pdf "$p")
		check "$tag form is the 照会書兼回答書" has "$t" "照会書兼回答書"
		check "$tag form names the holder" has_name "$t" "${who}様"
		check "$tag form's validity is the certificate's expiry" has "$t" "本書の有効期限${era}"
		check "$tag form warns to write 0/O and 1/l distinctly" has "$t" "数字の「0」と英字の「O」、数字の「1」と英字の「l」"
		check "$tag form offers 'いずれの暗証番号も設定しない'" has "$t" "いずれの暗証番号も設定しない"
		if [ "$revoked" = 1 ]; then
			check "$tag form of a revoked signature certificate does not say it was never issued" \
				lacks "$t" "発行されていない"
			check "$tag form of a revoked signature certificate says it was revoked" has "$t" "署名用電子証明書は失効している"
		fi
		expect_eq "$tag form's QR decodes to the application ID" "$id" "$(qr_codes out/sheets-001.pdf "$p")"
		if [ "$kind" = reinquiry ]; then
			check "$tag re-inquiry form is marked 再照会" has "$t" "再照会"
		else
			check "$tag first form is not marked 再照会" lacks "$t" "再照会"
		fi
		# The 16 署名用 boxes reach the right of their row (x 172..190 mm, y 164..174 mm):
		# dark pixels there only when the holder has a signature certificate.
		pdftoppm -q -r 100 -f "$p" -l "$p" -gray -x 677 -y 645 -W 71 -H 40 out/sheets-001.pdf box
		dark=$(perl -0777 -ne 'print((split /\n/, $_, 4)[3] =~ tr/\x00-\x7f//)' box-*.pgm)
		rm -f box-*.pgm
		if [ "$sign" = 1 ]; then
			check "$tag form has the 署名用 PIN boxes" test "$dark" -gt 50
			check "$tag form does not say there is no signature certificate" lacks "$t" "署名用電子証明書は発行されていない"
		elif [ "$revoked" = 1 ]; then
			check "$tag form has no 署名用 PIN box for a revoked signature certificate" test "$dark" -eq 0
		else
			check "$tag form has no 署名用 PIN box for a holder without a signature certificate" test "$dark" -eq 0
			check "$tag form says the 署名用 PIN is not needed" has "$t" "署名用電子証明書は発行されていないため、記入は不要です"
		fi
		pi=${first[inner:$seq]}
		t=$(page_text out/inner-envelopes-001.pdf "$pi")
		check "$tag sealing envelope bears its printed wording" has "$t" "「照会書兼回答書」封入用封筒"
		check "$tag sealing envelope names the holder" has_name "$t" "${who}様"
		expect_eq "$tag sealing envelope's QR decodes to the application ID" "$id" \
			"$(qr_codes out/inner-envelopes-001.pdf "$pi")"
	fi
	po=${first[outer:$seq]}
	t=$(page_text out/outer-envelopes-001.pdf "$po")
	check "$tag mailing envelope is addressed to the resident" has_name "$t" "${who}様"
	check "$tag mailing envelope says 転送不要" has "$t" "転送不要"
	check "$tag mailing envelope says what it holds" has "$t" "マイナンバーカード・電子証明書有効期限通知書在中"
	check "$tag mailing envelope names the sender" has "$t" "新宿区戸籍住民課"
	check "$tag mailing envelope carries its sequence number" has "$t" "$tag"
	check "$tag mailing envelope carries the postage mark of the settings (料金後納郵便, 新宿北局)" \
		has "$t" "新宿北局料金後納郵便"
	# The customer barcode under the name: read back bar by bar at 200 dpi (x 20 mm, y 78 mm,
	# pitch 1.2 mm; upper, middle and lower thirds of 3.6 mm), with its 2 mm clear zone.
	pdftoppm -q -r 200 -f "$po" -l "$po" -gray out/outer-envelopes-001.pdf env
	read -r bars clear < <(python3 - env-*.pgm <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
parts = data.split(b"\n", 3)
w, h = map(int, parts[1].split())
px = parts[3]
mm = 200 / 25.4
def dark(x, y):
    return px[int(round(y * mm)) * w + int(round(x * mm))] < 128
bars = ""
for i in range(67):
    x = 20 + i * 1.2 + 0.3
    up, mid, low = dark(x, 78.6), dark(x, 79.8), dark(x, 81.0)
    bars += {(1, 1, 1): "F", (1, 1, 0): "A", (0, 1, 1): "D", (0, 1, 0): "T"}.get((up, mid, low), "?") if mid else "-"
# 1 mm outside the bars all round (inside the 2 mm zone, clear of anti-aliasing).
ring = [(x / 10, y) for x in range(190, 1009, 5) for y in (77.0, 82.6)] + \
       [(x, y / 10) for x in (19.0, 100.8) for y in range(770, 827, 5)]
print(bars if bars.strip("-") else "-", sum(dark(x, y) for x, y in ring))
PY
)
	rm -f env-*.pgm
	expect_eq "$tag mailing envelope's customer barcode has exactly its bars" "$barcode" "$bars"
	expect_eq "$tag the barcode's 2 mm clear zone is empty" 0 "$clear"
done <sets.tsv

# The matching codes: every page of every file, read by zbarimg at 200 dpi, carries
# B0001-SEQ-P/N where B0001-SEQ is the label printed on the page, P the piece's place in its set
# (its sheets, then its sealing envelope, then its mailing envelope) and N the set's pieces.
declare -A want
while IFS=$'\t' read -r seq id expiry kind target sign barcode certs name; do
	ns=$(pages_of sheets "$kind" "$target") ni=$(pages_of inner "$kind" "$target")
	n=$((ns + ni + 1)) tag=$(printf 'B0001-%06d' "$seq")
	for ((j = 1; j <= ns; j++)); do want[sheets]+="$tag-$j/$n "; done
	[ "$ni" = 1 ] && want[inner]+="$tag-$((ns + 1))/$n "
	want[outer]+="$tag-$n/$n "
done <sets.tsv
for d in sheets inner outer; do
	f=$(ls out/$d*.pdf)
	pdftoppm -q -r 200 -gray "$f" mc
	got="" labels=ok
	for pg in mc-*.pgm; do
		code=$(zbarimg -q --raw "$pg" 2>/dev/null | grep '^B[0-9]\{4\}-[0-9]\{6\}-' || echo none)
		got+="$code "
		no=${pg#mc-}
		no=$((10#${no%.pgm}))
		has "$(page_text "$f" "$no")" "${code%-*}" >/dev/null || labels="page $no shows no ${code%-*}"
	done
	rm -f mc-*.pgm
	expect_eq "every page of ${f##*/} carries its matching code, read at 200 dpi" "${want[$d]}" "$got"
	expect_eq "each matching code of ${f##*/} starts with the label printed on its page" ok "$labels"
done

# Without a postage mark in the settings, the envelope has none.
mkdir -p nomark
sed '/^postage:/,/^$/d' settings.yaml >nomark.yaml
"$BENCH" sample nomark.yaml nomark >/dev/null 2>&1
t=$(page_text nomark/outer-envelopes-001.pdf 1)
check "no postage mark when the settings have none" lacks "$t" "料金後納"
check "... and the envelope is otherwise printed" has "$t" "転送不要"

# A long name shrinks rather than being cut: it is on the page whole.
long=$(awk -F'\t' '$1 == 5 {print $11}' sets.tsv)
check "a long name shrinks to fit and is printed whole" has "$(page_text out/sheets-001.pdf "${first[sheets:5]}")" \
	"$(squeeze "$long")"

for f in out/*.pdf; do
	check "rendering twice gives identical bytes (${f##*/})" cmp "$f" "again/${f##*/}"
done
for f in out/*.pdf; do
	expect_eq "${f##*/} embeds only the pinned fonts (IPA, WenQuanYi for the multilingual lines)" "" \
		"$(pdffonts "$f" | awk 'NR > 2 {print $1}' | grep -Ev '^[A-Z]{6}\+(IPA(exGothic|exMincho|mjMincho)|WenQuanYiZenHei)$')"
done
check "PDF metadata names kigen as the creator" sh -c "pdfinfo out/sheets-001.pdf | grep -q '^Creator: *kigen'"
check "PDF creation date is the batch date" sh -c "pdfinfo -isodates out/sheets-001.pdf | grep -q '^CreationDate: *2025-03-31'"

ls out/proofs/*.png >proofs.txt 2>/dev/null
check "proofs are PNG files of the first residents" test "$(wc -l <proofs.txt)" -gt 0
check "proofs are real PNG images" python3 -c 'import sys; sys.exit(any(open(f.strip(), "rb").read(8) != b"\x89PNG\r\n\x1a\n" for f in open("proofs.txt")))'

# A rerun rewrites nothing: the files keep their inodes.
before=$(stat -c '%i %Y' out/*.pdf)
"$BENCH" sample settings.yaml out >/dev/null 2>&1
check "a rerun leaves existing files alone" test "$before" = "$(stat -c '%i %Y' out/*.pdf)"

# Static content is one shared form XObject per layer, not one copy per page; so is a text with
# per-resident data that prints the same on many pages (layout.c, N_REPEAT).
mkdir -p big
"$BENCH" bench settings.yaml 300 big 2 >bench.txt
pages=$(pdfinfo big/sheets-001.pdf | awk '/^Pages:/ {print $2}')
qpdf --qdf --object-streams=disable big/sheets-001.pdf big.qdf
forms=$(grep -ac '/Subtype /Form' big.qdf)
# At most one per distinct "when" set of static elements: notice-card 4, notice-cert 2,
# application 4, form 6; and one per text that comes back: the paragraph with the batch date on
# each notice, and the target, procedure and enclosures lines (8 in these 300 sets).
check "static content is shared: $forms form XObjects for $pages pages" test "$forms" -le 24 -a "$pages" -gt 300
check "a bigger batch splits files at max_sheets_per_file" test -s big/sheets-001.pdf
check "no temporary file is left behind" sh -c "! ls -a out big | grep -q '\.tmp-'"
