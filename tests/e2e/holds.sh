#!/bin/bash
# holds.sh: one record that cannot be printed never stops the night. A resident whose name fits
# no box is held (with the reason) before getting a sequence number, the others are printed that
# night; staff see it in the summary, the report, `kigen status` and the cron mail; after
# `notice release` and a fixed registry it is printed the next night, once. The render stage
# holds what selection could not catch (a template changed in between) and renumbers the batch.
# Staff hold, release and void by application ID, recorded append-only. Every step survives a
# kill -9 (fault.h) with the batch byte for byte the one an uninterrupted run makes.
source "$(dirname "$0")/../lib.sh"
D1=2026-11-21
B=$D1/batch-0001
"$ROOT/scripts/gen-registry" --count 400 --seed 11 >reg.csv
# Small files, so the batch has several to be killed between.
sed -e 's/^\(  max_sheets_per_file:\).*/\1 12/' -e 's|^\(  templates:\).*|\1 '"$ROOT"'/templates|' \
	"$ROOT/fixtures/settings.yaml" >s.yaml
CONF="--config $T/s.yaml"
# The same templates with every minimum size at 3 pt: the long name fits there.
cp -r "$ROOT/templates" loose
sed -i 's/min: [0-9.]*/min: 3/' loose/*.yaml
sed 's|^\(  templates:\).*|\1 '"$T"'/loose|' s.yaml >loose.yaml

q() { sqlite3 -separator ' ' "$@"; }
run() { "$KIGEN" $CONF "$@"; }
fresh() { # name csv: a new database with that registry
	rm -f "$1".db "$1".db-wal "$1".db-shm
	run --db "$1".db -q import "$2"
}
notices() { sqlite3 "$1" 'select coalesce(batch, 0), coalesce(seq, 0), app_id, resident, state from notices order by id'; }
sums() { (cd "$1" && find . -type f ! -name '.*' | sort | xargs sha256sum); }
# A killed run's workers may outlive it for a moment: wait for the whole session to be gone.
killed_run() { # fault args...
	local f=$1
	shift
	KIGEN_FAULT=$f setsid "$KIGEN" $CONF "$@" >/dev/null 2>&1 &
	local pid=$!
	wait $pid 2>/dev/null
	local rc=$?
	for _ in $(seq 1 600); do pgrep -s $pid >/dev/null || break; sleep 0.1; done
	return $rc
}

# The victim: a certificate renewal due on D1 (so it gets the form and the sealing envelope),
# renamed to a 96-character full-width foreign name that fits no name box even at the minimum.
fresh pick reg.csv
run --db pick.db -q select --date $D1
VICTIM=$(q pick.db "select r.registry_id from notices n join residents r on r.id = n.resident
	where n.target = 1 and n.kind = 0 order by n.seq limit 1 offset 2")
ALL=$(q pick.db 'select count(*) from notices')
LONG=$(printf 'ＭＡＲＩＡ　ＧＵＡＤＡＬＵＰＥ　%.0s' 1 2 3 4 5 6)
awk -F, -v OFS=, -v id="$VICTIM" -v long="$LONG" '$1 == id { $2 = long } { print }' reg.csv >bad.csv
check "the victim is due on $D1 and gets a form" test -n "$VICTIM" -a "$ALL" -gt 10

# --- the night with one unprintable resident -------------------------------------------------
fresh ref bad.csv
run --db ref.db --out ref nightly --date $D1 >night.out 2>night.err
expect_eq "a night with one unprintable resident among others exits 0" 0 $?
HELD=$(q ref.db "select app_id from notices n join residents r on r.id = n.resident where r.registry_id = '$VICTIM'")
expect_eq "the unprintable resident's notice is held, in no batch, without a sequence number" "6 0 0" \
	"$(q ref.db "select state, coalesce(batch, 0), coalesce(seq, 0) from notices where app_id = '$HELD'")"
expect_eq "everyone else is printed that night" "$((ALL - 1)) $((ALL - 1))" \
	"$(q ref.db "select count(*), sum(state = 1) from notices where batch = 1")"
expect_eq "the printed sets are numbered 1..n without a gap" "1 $((ALL - 1)) $((ALL - 1))" \
	"$(q ref.db 'select min(seq), max(seq), count(distinct seq) from notices where batch = 1')"
expect_eq "the batch's notice count is the printed sets" "$((ALL - 1))" "$(q ref.db 'select notices from batches where id = 1')"
check "the batch is complete: sha256sum -c SHA256SUMS" sh -c "cd ref/$B && sha256sum --quiet -c SHA256SUMS"
for f in ref/$B/*.pdf; do pdftotext "$f" - ; done >pdf.txt
check "the held notice's ID is in no PDF of the batch" sh -c "[ -s pdf.txt ] && ! grep -q $HELD pdf.txt"
check "the held notice is in neither manifest.csv, manifest.xlsx nor job.json" sh -c \
	"! grep -q $HELD ref/$B/manifest.csv ref/$B/job.json && ! unzip -p ref/$B/manifest.xlsx | grep -q $HELD"
check "job.json counts the hold among the exclusions" grep -q '"held": 1' ref/$B/job.json
check "the night's summary lists the held notice with its reason" sh -c "grep -q '保留 1 件' night.out && grep '$HELD' night.out | grep -q '氏名'"
check "the night's summary ends with the warning line" grep -q '^警告: 印刷せず保留中の通知 1 件' night.out
check "the run report lists the held notice" grep -q "$HELD" ref/$D1/report.html
run --db ref.db status >status.out
check "kigen status warns while a notice is held" grep -q '^警告: 印刷せず保留中の通知 1 件' status.out
run --db ref.db notice list --held >list.out
check "notice list --held shows the ID, who held it and why" sh -c "grep '$HELD' list.out | grep -q 'kigen .*氏名.*does not fit'"

# The same registry on today's code made render fail, and every later night with it.
run --db ref.db --out ref -q nightly --date 2026-11-22 >/dev/null 2>&1
expect_eq "the next night runs too (the held notice does not block it)" "0 6" "$? $(q ref.db "select state from notices where app_id = '$HELD'")"

# The counter refuses a held notice: nothing is redeemed, its state stays.
run --db ref.db counter redeem --id "$HELD" --json </dev/null >counter.out 2>&1
expect_eq "a held notice is not redeemable at the counter" "1 6" "$? $(q ref.db "select state from notices where app_id = '$HELD'")"
check "the counter says the form is not valid" grep -q '"outcome": "void"' counter.out

# The cron wrapper mails the warning even when it mails only failures. (On a copy: cron runs
# for today's date, and selection never goes back in time.)
q ref.db 'pragma wal_checkpoint(truncate)' >/dev/null
cp ref.db cron.db
mkdir -p home && ln -s "$KIGEN" home/kigen
KIGEN_HOME=$T/home KIGEN_DB=$T/cron.db KIGEN_OUT=$T/cron KIGEN_LOG_DIR=$T/log KIGEN_CONFIG=$T/s.yaml KIGEN_MAIL=failure \
	"$ROOT/scripts/kigen-cron" >mail.txt 2>&1
expect_eq "kigen-cron: a night with a held notice exits 0" 0 $?
check "kigen-cron: with KIGEN_MAIL=failure it still mails, saying notices are held" sh -c \
	"head -1 mail.txt | grep -q 'HELD' && grep -q '^警告: 印刷せず保留中の通知 1 件' mail.txt"

# --- release: printed the next night, once, as the registry has it then ------------------------
run --db ref.db notice release "$HELD" --staff tanaka >rel.out
expect_eq "notice release of a held notice" "0 7" "$? $(q ref.db "select state from notices where app_id = '$HELD'")"
# Released before the registry is fixed: the next selection checks it again and holds it again.
run --db ref.db --out ref -q nightly --date 2026-11-23 >/dev/null 2>&1
expect_eq "released with the registry unfixed: held again by the next night, which still runs" "0 6 0" \
	"$? $(q ref.db "select state, coalesce(batch, 0) from notices where app_id = '$HELD'")"
run --db ref.db -q import reg.csv # the registry fixed: the real name again
run --db ref.db notice release "$HELD" --staff tanaka >/dev/null
run --db ref.db --out ref -q nightly --date 2026-11-24 >/dev/null 2>&1
expect_eq "after release and a fixed registry the notice is printed the next night" "0 1" \
	"$? $(q ref.db "select state from notices where app_id = '$HELD'")"
B2=$(q ref.db "select batch from notices where app_id = '$HELD'")
DIR2=ref/2026-11-24/batch-$(printf %04d "$B2")
NAME=$(awk -F, -v id="$VICTIM" '$1 == id { print $2 }' reg.csv)
check "it is printed with the registry's name as it is now" sh -c "grep '$HELD' $DIR2/manifest.csv | grep -q '$NAME'"
check "its batch is complete: sha256sum -c SHA256SUMS" sh -c "cd $DIR2 && sha256sum --quiet -c SHA256SUMS"
run --db ref.db --out ref -q nightly --date 2026-11-25 >/dev/null 2>&1
expect_eq "printed exactly once: one notice, in one batch, across every manifest" "1 1" \
	"$(q ref.db "select count(*) from notices where app_id = '$HELD'") $(cat ref/*/batch-*/manifest.csv | grep -c "$HELD")"
expect_eq "every change is recorded with who and why" "hold|kigen release|tanaka hold|kigen release|tanaka requeue|kigen" \
	"$(q ref.db "select action || '|' || by from notice_events where app_id = '$HELD' order by id" | tr '\n' ' ' | sed 's/ $//')"
check "the notice events are append-only (no delete)" sh -c "! sqlite3 ref.db 'delete from notice_events' 2>/dev/null"
check "the notice events are append-only (no update)" sh -c "! sqlite3 ref.db \"update notice_events set by = 'x'\" 2>/dev/null"
check "no warning once nothing is held" sh -c "! '$KIGEN' --db ref.db status | grep -q '^警告'"

# --- every kind of unprintable record is held at selection, with its reason -------------------
G=$(q pick.db "select r.registry_id from notices n join residents r on r.id = n.resident where n.target = 0 order by n.seq limit 1")
W=$(q pick.db "select r.registry_id from notices n join residents r on r.id = n.resident where n.target = 0 order by n.seq limit 1 offset 1")
# A character no pinned font has (CJK extension G) and no 代替文字; a 町域 of a full-width space.
awk -F, -v OFS=, -v g="$G" -v w="$W" -v ch="$(printf '\U00031350')" \
	'$1 == g { $2 = ch "田　太郎" } $1 == w { $7 = "　" } { print }' bad.csv >kinds.csv
fresh kinds kinds.csv
run --db kinds.db select --date $D1 >kinds.out
expect_eq "a long name, an unknown character and a blank address: three held, the rest get 1..n" \
	"3 $((ALL - 3)) 1 $((ALL - 3))" \
	"$(q kinds.db 'select sum(state = 6), sum(state = 0), min(seq), max(seq) from notices')"
run --db kinds.db notice list --held >kinds.list
check "the unknown character is named in the reason" sh -c "grep '$G' kinds.list | grep -q 'U+31350'"
check "the blank address is the reason" sh -c "grep '$W' kinds.list | grep -q '住所がありません'"
check "select reports the holds among its exclusions" grep -q 'excluded held  *3' kinds.out

# --- staff: hold, void, and what they refuse --------------------------------------------------
fresh staff reg.csv
run --db staff.db -q select --date $D1
N=$(q staff.db 'select count(*) from notices where batch = 1')
S2=$(q staff.db 'select app_id from notices where batch = 1 and seq = 2')
S5=$(q staff.db 'select app_id from notices where batch = 1 and seq = 5')
run --db staff.db notice hold "$S2" >/dev/null 2>&1
expect_eq "notice hold without --reason is bad usage" 2 $?
run --db staff.db notice hold 12345 --reason x >/dev/null 2>&1
expect_eq "notice hold of a mistyped ID is bad input" 2 $?
run --db staff.db notice hold "$S2" --reason '住所確認中' --staff sato >/dev/null
expect_eq "staff hold a queued notice: held, out of its batch" "0 6 0" \
	"$? $(q staff.db "select state, coalesce(batch, 0) from notices where app_id = '$S2'")"
expect_eq "the batch is renumbered 1..n-1 at once" "1 $((N - 1)) $((N - 1))" \
	"$(q staff.db 'select min(seq), max(seq), count(*) from notices where batch = 1')"
run --db staff.db notice void "$S5" --reason '転出予定' --staff sato >/dev/null
expect_eq "void a queued notice: void, out of its batch" "0 5 0" \
	"$? $(q staff.db "select state, coalesce(batch, 0) from notices where app_id = '$S5'")"
run --db staff.db --out staff -q nightly --date $D1 >/dev/null 2>&1
expect_eq "the batch is printed without them" "0 $((N - 2)) $((N - 2))" \
	"$? $(q staff.db 'select count(*), max(seq) from notices where batch = 1 and state = 1')"
check "staff's hold shows in the list with who and why" sh -c "'$KIGEN' --db staff.db notice list --held | grep '$S2' | grep -q 'sato.*住所確認中'"
P=$(q staff.db 'select app_id from notices where batch = 1 and seq = 1')
run --db staff.db notice hold "$P" --reason x >hp.out 2>&1
expect_eq "a printed notice cannot be held (it was mailed): exit 1, void it instead" "1 1" \
	"$? $(q staff.db "select state from notices where app_id = '$P'")"
check "the refusal says to void it" grep -q 'void it instead' hp.out
run --db staff.db notice void "$S2" --reason '本人死亡' >/dev/null
expect_eq "a held notice can be voided" "0 5" "$? $(q staff.db "select state from notices where app_id = '$S2'")"
for verb in release hold void; do
	run --db staff.db notice $verb "$S2" --reason again >/dev/null 2>&1
	expect_eq "void is final: notice $verb of a void notice fails and changes nothing" "1 5" \
		"$? $(q staff.db "select state from notices where app_id = '$S2'")"
done
run --db staff.db counter redeem --id "$S5" --json </dev/null >/dev/null 2>&1
expect_eq "a void notice is not redeemable" "1 5" "$? $(q staff.db "select state from notices where app_id = '$S5'")"
run --db staff.db --out staff -q nightly --date 2026-11-22 >/dev/null 2>&1
expect_eq "a void notice is never printed by a later night" "5 0" \
	"$(q staff.db "select state, coalesce(batch, 0) from notices where app_id = '$S5'")"

# --- the render stage as the last line of defence ----------------------------------------------
# Selected under templates where the name fits (3 pt), rendered under the real ones: the render
# finds the set it cannot draw, holds it, renumbers the batch and renders it again.
late() { # name: the batch selected under the loose templates
	fresh "$1" bad.csv
	"$KIGEN" --config "$T/loose.yaml" --db "$1".db -q select --date $D1
}
late late
expect_eq "under the loose templates the long name is selected with a sequence number" "0 1" \
	"$(q late.db "select state, batch from notices where app_id = '$HELD'")"
run --db late.db --out late -q nightly --date $D1 >late.out 2>late.err
expect_eq "the render finds the unprintable set, holds it and the night completes" "0 6 0" \
	"$? $(q late.db "select state, coalesce(batch, 0) from notices where app_id = '$HELD'")"
expect_eq "the batch is renumbered 1..n without a gap" "1 $((ALL - 1)) $((ALL - 1))" \
	"$(q late.db 'select min(seq), max(seq), count(*) from notices where batch = 1')"
check "the render-time hold is complete and checksummed" sh -c "cd late/$B && sha256sum --quiet -c SHA256SUMS"
for f in late/$B/*.pdf; do pdftotext "$f" - ; done >late.txt
check "the render-time held notice is in no PDF" sh -c "[ -s late.txt ] && ! grep -q $HELD late.txt"
check "the render-time hold is in the report" grep -q "$HELD" late/$D1/report.html

# --- kill -9 at every step: the same batch, byte for byte -------------------------------------
crash() { # name reference-name setup fault
	local db=$1 ref=$2
	$3 "$db"
	killed_run "$4" --db "$db".db --out "$db" -q nightly --date $D1
	expect_eq "$5 killed at $4: the run died by SIGKILL" 137 $?
	run --db "$db".db --out "$db" -q nightly --date $D1 >/dev/null 2>"$db".err
	expect_eq "$5 killed at $4: the next run completes" 0 $?
	expect_eq "$5 killed at $4: the same notices, holds and sequence numbers" "$(notices "$ref".db)" "$(notices "$db".db)"
	expect_eq "$5 killed at $4: the same files, byte for byte" "$(sums "$ref/$B")" "$(sums "$db/$B")"
	expect_eq "$5 killed at $4: the same hold recorded once" "$(q "$ref".db 'select count(*) from notice_events')" \
		"$(q "$db".db 'select count(*) from notice_events')"
}
fresh_bad() { fresh "$1" bad.csv; }
fresh_bad sel
run --db sel.db --out sel -q nightly --date $D1 >/dev/null 2>&1 # the reference: no kill, one night only
crash k1 sel fresh_bad after_select "selection-time hold:"
crash k2 sel fresh_bad file_written=sheets-002.pdf "selection-time hold:"
crash k3 sel fresh_bad after_render "selection-time hold:"
crash k4 late late file_written=sheets-001.pdf "render-time hold:"
crash k5 late late stale_removed "render-time hold:"
crash k6 late late file_written=outer-envelopes-002.pdf "render-time hold:"
crash k7 late late after_render "render-time hold:"
# A staff hold in a rendered batch: its files are made again, without the notice.
staff_ref() {
	fresh "$1" reg.csv
	killed_run after_render --db "$1".db --out "$1" -q nightly --date $D1
	run --db "$1".db notice hold "$(q "$1".db 'select app_id from notices where batch = 1 and seq = 3')" \
		--reason '確認中' --staff sato >/dev/null
}
staff_ref sref
run --db sref.db --out sref -q nightly --date $D1 >/dev/null 2>&1
check "a staff hold in a rendered batch: the batch is rendered again and verifies" sh -c "cd sref/$B && sha256sum --quiet -c SHA256SUMS"
expect_eq "a staff hold in a rendered batch: the others are printed, numbered 1..n-1" "$((ALL - 1)) $((ALL - 1))" \
	"$(q sref.db 'select count(*), max(seq) from notices where batch = 1 and state = 1')"
crash k8 sref staff_ref stale_removed "staff hold:"
crash k9 sref staff_ref file_written=sheets-002.pdf "staff hold:"
