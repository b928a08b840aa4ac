#!/bin/bash
# nightly.sh: the nightly job as an operator and a print shop meet it. A run killed with SIGKILL
# at many points (fault.h: after select, between files during render, during export) is finished
# by the next run with the same notices, sequence numbers and bytes as an uninterrupted run; a full
# disk fails cleanly and the next run completes; two runs at once: the second exits 3.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3 # Debian's, with python3-openpyxl
CONF="--config $ROOT/fixtures/settings.yaml"
"$ROOT/scripts/gen-registry" --count 1500 --seed 11 >reg.csv
# One resident whose name a spreadsheet would take for a formula, due on the test date.
awk -F, -v OFS=, 'NR == 2 { $2 = "=1+2"; $4 = "1980-01-20"; $10 = ""; $11 = ""; $12 = 0; $13 = "active";
	$15 = "2022-01-25"; $16 = ""; $17 = "valid"; $18 = ""; $20 = "2022-01-25"; $21 = "valid"; $23 = "";
	$24 = "2022-01-25"; $25 = "valid"; $27 = "" } { print }' reg.csv >reg2.csv && mv reg2.csv reg.csv
# Small files, so a render has many files to be killed between.
sed 's/^\(  max_sheets_per_file:\).*/\1 12/' "$ROOT/fixtures/settings.yaml" >small.yaml
sed -i 's|^\(  templates:\).*|\1 '"$ROOT"'/templates|' small.yaml
CONF="--config $T/small.yaml"

fresh() { # fresh DB: a copy of the one imported once
	rm -f "$1" "$1"-wal "$1"-shm
	cp base.db "$1"
}
"$KIGEN" $CONF --db base.db -q import reg.csv
sqlite3 base.db 'pragma wal_checkpoint(truncate)' >/dev/null

notices() { sqlite3 "$1" 'select batch, seq, app_id, resident, kind, target, expiry from notices order by batch, seq'; }
sums() { (cd "$1" && find . -type f ! -name '.*' | sort | xargs sha256sum); }

# The reference: one uninterrupted run.
fresh ref.db
"$KIGEN" $CONF --db ref.db --out ref -q nightly --date 2026-11-21
expect_eq "an uninterrupted nightly run exits 0" 0 $?
B=2026-11-21/batch-0001
check "the batch folder is complete: SHA256SUMS verifies" sh -c "cd ref/$B && sha256sum --quiet -c SHA256SUMS"
check "SHA256SUMS lists every file of the batch" sh -c "cd ref/$B && [ \$(find . -type f ! -name SHA256SUMS | wc -l) -eq \$(wc -l < SHA256SUMS) ]"
nfiles=$(ls ref/$B/sheets-*.pdf | wc -l)
check "the render split the batch into several files" test "$nfiles" -ge 4
expect_eq "the batch is done and its notices handed to the print shop" "done 0" \
	"$("$KIGEN" --db ref.db status | awk 'NR == 2 { print $3 }') $(sqlite3 ref.db 'select count(*) from notices where state = 0')"
check "the run's report is written beside the batch" test -s ref/2026-11-21/report.html -a -s ref/2026-11-21/forecast.png
check "every output file is owner-only" sh -c "[ -z \"\$(find ref -type f ! -perm 600)\" ]"

# The XLSX read back matches the database.
sqlite3 ref.db "select seq, app_id, postal_code, name from notices where batch = 1 order by seq" >db.txt
$PY - "ref/$B/manifest.xlsx" >xlsx.txt <<'PY'
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
ws = wb["発送リスト"]
rows = list(ws.iter_rows(values_only=True))
head = rows[0]
col = {name: i for i, name in enumerate(head)}
for r in rows[1:]:
    print("|".join(str(r[col[k]]) for k in ("連番", "通知番号", "郵便番号", "氏名")))
PY
check "manifest.xlsx 発送リスト matches the database row for row" diff -u db.txt xlsx.txt
check "a name that looks like a formula is plain text in manifest.csv (leading apostrophe)" grep -q "\"'=1+2\"" ref/$B/manifest.csv
check "manifest.csv starts with a UTF-8 BOM" sh -c "head -c3 ref/$B/manifest.csv | od -An -tx1 | grep -q 'ef bb bf'"
check "kigen status --batch verifies every checksum" "$KIGEN" --db ref.db --out ref status --batch 1
"$KIGEN" --db ref.db --out ref status --batch 1 >status.out
expect_eq "kigen status --batch lists sheets-001.pdf with its pages" \
	"$(pdfinfo ref/$B/sheets-001.pdf | awk '/^Pages:/ {print $2}')" "$(awk '$1 == "sheets-001.pdf" {print $2}' status.out)"

# Every PDF is sound, and its pages are what the manifest says.
check "qpdf --check passes on every PDF of the batch" sh -c "for f in ref/$B/*.pdf; do qpdf --check \$f >/dev/null || exit 1; done"
$PY - "ref/$B/job.json" >pages.expected <<'PY'
import json, sys
for f in sorted(json.load(open(sys.argv[1]))["files"], key=lambda f: f["name"]):
    if f["name"].endswith(".pdf"):
        print(f["name"], f["pages"])
PY
(cd ref/$B && for f in *.pdf; do echo "$f $(pdfinfo "$f" | awk '/^Pages:/ {print $2}')"; done) | sort >pages.actual
check "every PDF has the pages job.json says" diff -u pages.expected pages.actual
expect_eq "sheets pages = notices + 交付申請書 (card renewals) + forms (certificate renewals and re-inquiries)" \
	"$(sqlite3 ref.db 'select count(*) + sum(target = 1) - sum(kind = 1) + sum(kind = 0 and target = 0) from notices where batch = 1')" \
	"$(for f in ref/$B/sheets-*.pdf; do pdfinfo "$f"; done | awk '/^Pages:/ { s += $2 } END { print s }')"
# Every QR of the first sheets file decodes to an ID of a resident in it: J-LIS's 申請書ID on a card
# notice and its 交付申請書 (none without one), the 通知番号 on a 照会書兼回答書.
pdftoppm -r 150 -gray -png ref/$B/sheets-001.pdf qr
zbarimg -q --raw qr-*.png 2>/dev/null | sed -E 's/.*[?&]id=//' | sort -u >qr.ids
sqlite3 ref.db "select case when target = 0 then jlis_app_id else app_id end from notices where batch = 1 and not (target = 0 and jlis_app_id = '') and seq <= $(python3 -c 'import json,sys; print([f for f in json.load(open(sys.argv[1]))["files"] if f["name"] == "sheets-001.pdf"][0]["seq_to"])' "ref/$B/job.json" 2>/dev/null || echo 0)" | sort >qr.expected
check "zbarimg reads every QR of sheets-001.pdf back to the residents' IDs" diff -u qr.expected qr.ids

# Nothing printed or exported holds a My Number or anything of a 居所 holder.
for f in ref/$B/*.pdf; do pdftotext -q "$f" -; done >all.txt
cat ref/$B/manifest.csv ref/$B/job.json >>all.txt
cut -d, -f14 reg.csv | tail -n +2 | grep -E '^[0-9]{12}$' >mynumbers.txt
check "no My Number in any PDF, the manifest or job.json" sh -c '! grep -F -q -f mynumbers.txt all.txt'
sqlite3 ref.db "select registry_id from residents where kyosho = 1" >kyosho.txt
check "the registry has 居所 holders, and none of them is in the batch" sh -c "[ -s kyosho.txt ] && ! grep -F -q -f kyosho.txt ref/$B/manifest.csv"

# Crashes: each run is killed (the whole process group, like a power cut) at one point, then
# the next run must finish the job exactly once.
crash_and_resume() { # name fault
	local db=$1.db out=$1
	fresh "$db"
	KIGEN_FAULT=$2 setsid "$KIGEN" $CONF --db "$db" --out "$out" -q nightly --date 2026-11-21 >/dev/null 2>&1 &
	local pid=$!
	wait $pid 2>/dev/null
	local rc=$?
	expect_eq "killed at $2: the run died by SIGKILL" 137 "$rc"
	check "killed at $2: every process of the run is gone" group_gone $pid
	"$KIGEN" $CONF --db "$db" --out "$out" -q nightly --date 2026-11-21 >/dev/null 2>"$1.err"
	expect_eq "killed at $2: the next run completes" 0 $?
	expect_eq "killed at $2: same notices and sequence numbers as an uninterrupted run" "$(notices ref.db)" "$(notices "$db")"
	expect_eq "killed at $2: the same files, byte for byte" "$(sums ref/$B)" "$(sums "$out/$B")"
	check "killed at $2: sha256sum -c SHA256SUMS passes" sh -c "cd $out/$B && sha256sum --quiet -c SHA256SUMS"
	check "killed at $2: no temporary is left behind" sh -c "[ -z \"\$(find $out -name '.*' ! -name . | head -1)\" ]"
}
crash_and_resume c1 after_select
crash_and_resume c2 file_written=sheets-001.pdf
crash_and_resume c3 file_written=sheets-003.pdf
crash_and_resume c4 file_written=inner-envelopes-002.pdf
crash_and_resume c5 file_written=outer-envelopes-00$nfiles.pdf
crash_and_resume c6 after_render
crash_and_resume c7 file_written=manifest.xlsx
crash_and_resume c8 file_written=job.json
crash_and_resume c9 after_export

# A run killed twice in a row still converges.
fresh twice.db
for f in sheets-002.pdf outer-envelopes-003.pdf; do
	KIGEN_FAULT=file_written=$f setsid "$KIGEN" $CONF --db twice.db --out twice -q nightly --date 2026-11-21 >/dev/null 2>&1 &
	pid=$!
	wait $pid
	group_gone $pid
done
"$KIGEN" $CONF --db twice.db --out twice -q nightly --date 2026-11-21
expect_eq "killed twice during render: the third run gives the same batch" "$(sums ref/$B)" "$(sums twice/$B)"

# A full disk: a 256 KiB tmpfs as out/ in a private mount namespace. kigen's exit code is written
# down inside it, so a namespace or mount that failed is never taken for kigen's own failure.
if have_private_mounts; then
	fresh full.db
	mkdir -p full
	$UNSHARE_M sh -c "mount -t tmpfs -o size=256k,mode=0700 tmpfs full || exit; '$KIGEN' $CONF --db full.db --out full nightly --date 2026-11-21; echo \$? >full.rc" \
		>full.out 2>full.err
	expect_eq "a full disk: the run fails with exit 1" 1 "$(cat full.rc 2>/dev/null || echo 'no run: the tmpfs could not be made')"
	check "a full disk: the message says so and names the file" grep -q "No space left on device" full.err
	check "a full disk: the batch records why it stopped" sh -c "'$KIGEN' --db full.db status | grep -q 'stopped: .*No space left'"
	"$KIGEN" $CONF --db full.db --out full -q nightly --date 2026-11-21
	expect_eq "after a full disk, the next run on a roomy disk completes" 0 $?
	expect_eq "after a full disk: the same notices" "$(notices ref.db)" "$(notices full.db)"
	check "after a full disk: sha256sum -c passes" sh -c "cd full/$B && sha256sum --quiet -c SHA256SUMS"
else
	skip "a full disk fails cleanly and the next run completes" "no private mount namespace here (unshare -m, or a user namespace)"
fi

# Deleted outputs of a finished render are made again (not trusted blindly).
fresh gone.db
KIGEN_FAULT=after_export setsid "$KIGEN" $CONF --db gone.db --out gone -q nightly --date 2026-11-21 >/dev/null 2>&1
rm gone/$B/sheets-002.pdf
"$KIGEN" $CONF --db gone.db --out gone -q nightly --date 2026-11-21 2>/dev/null
expect_eq "a file deleted after render is rendered again, identical" "$(sums ref/$B)" "$(sums gone/$B)"

# Two runs at once: the second exits 3 and touches nothing.
fresh lock.db
hold_lock lock.db.lock
"$KIGEN" $CONF --db lock.db --out lockout nightly --date 2026-11-21 >lock.out 2>lock.err
expect_eq "a second run while one holds the lock exits 3" 3 $?
check "the second run says who holds the lock" grep -q "another run holds the lock" lock.err
expect_eq "the second run touched nothing" "0 no" "$(sqlite3 lock.db 'select count(*) from batches') $([ -e lockout ] && echo yes || echo no)"
release_lock
KIGEN_FAULT=never "$KIGEN" $CONF --db lock.db --out lockout -q nightly --date 2026-11-21 &
sleep 0.05
"$KIGEN" $CONF --db lock.db --out lockout nightly --date 2026-11-21 >/dev/null 2>lock2.err
rc=$?
wait
check "two real runs at once: one runs, the other exits 3 or finds nothing left" sh -c "[ $rc -eq 3 ] || [ $rc -eq 0 ]"
expect_eq "two real runs at once: still one batch" 1 "$(sqlite3 lock.db 'select count(*) from batches')"

# The lock file is never followed through a link, and must be ours: a planted symlink does not
# truncate its target, not even with --dry-run.
fresh sym.db
echo "precious" >victim
ln -s victim sym.db.lock
for dry in "" --dry-run; do
	"$KIGEN" $CONF --db sym.db --out sym nightly --date 2026-11-21 $dry >sym.out 2>sym.err
	expect_eq "a symlink at DB.lock: nightly $dry refuses (exit 1) and names it" "1 yes" \
		"$? $(grep -q 'symbolic link where the lock file belongs' sym.err && echo yes)"
	expect_eq "a symlink at DB.lock: nightly $dry leaves its target alone" precious "$(cat victim)"
done
rm sym.db.lock && touch sym.db.lock && chmod 666 sym.db.lock
"$KIGEN" $CONF --db sym.db --out sym nightly --date 2026-11-21 --dry-run >sym.out 2>sym.err
expect_eq "a lock file others may write is refused (exit 1)" "1 yes" "$? $(grep -q 'others may write it' sym.err && echo yes)"

# A runner killed while a worker renders (kill -9 of the runner alone, as the OOM killer does):
# the worker dies with it, never held the lock, and the next run finishes the batch. The worker
# is stopped first, so it cannot finish its file and exit on its own before the runner dies.
catch_worker() { # catch_worker RUNNER: prints the pid of one of its render workers, stopped
	local w st
	for _ in $(seq 3000); do
		for w in $(pgrep -P "$1"); do
			kill -STOP "$w" 2>/dev/null || continue
			for _ in $(seq 100); do
				st=$(awk '{ print $3 }' "/proc/$w/stat" 2>/dev/null)
				[ "$st" = T ] && echo "$w" && return 0
				case "$st" in "" | Z) break ;; esac
				sleep 0.01
			done
		done
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}
fresh orphan.db
setsid "$KIGEN" $CONF --db orphan.db --out orphan -q nightly --date 2026-11-21 >/dev/null 2>&1 &
runner=$!
worker=$(catch_worker $runner)
check "a render worker is caught mid-file" test -n "$worker"
if [ "$(id -u)" = 0 ]; then
	check "a render worker does not hold the run lock" \
		sh -c "ls -l /proc/$worker/fd >fds.txt && ! grep -q 'orphan.db.lock' fds.txt"
else
	skip "a render worker does not hold the run lock" "needs root: a non-dumpable process's /proc/PID/fd"
fi
kill -KILL $runner
wait $runner 2>/dev/null
check "a render worker dies with its runner" gone "$worker"
"$KIGEN" $CONF --db orphan.db --out orphan -q nightly --date 2026-11-21 2>orphan.err
expect_eq "after a killed runner, the next run is not locked out and completes" 0 $?
expect_eq "after a killed runner: the same batch, byte for byte" "$(sums ref/$B)" "$(sums orphan/$B)"
[ -n "$worker" ] && kill -KILL "$worker" 2>/dev/null # an orphan of an older kigen

# status --batch checks the folder against the database's list of files, not only against the
# folder's own SHA256SUMS; a symbolic link under a final name is not a written file.
cp -r ref gone2 && rm gone2/$B/sheets-002.pdf && sed -i '/  sheets-002.pdf$/d' gone2/$B/SHA256SUMS
"$KIGEN" --db ref.db --out gone2 status --batch 1 >gone2.out 2>&1
expect_eq "status --batch: a PDF deleted with its SHA256SUMS line is found (exit 1)" "1 yes" \
	"$? $(grep -q 'sheets-002.pdf: ファイルがありません' gone2.out && echo yes)"
cp -r ref link && mv link/$B/sheets-001.pdf elsewhere.pdf && ln -s "$T/elsewhere.pdf" link/$B/sheets-001.pdf
"$KIGEN" --db ref.db --out link status --batch 1 >link.out 2>&1
expect_eq "status --batch: a symlink under a final name is refused (exit 1)" "1 yes" \
	"$? $(grep -q 'sheets-001.pdf: 通常のファイルではありません' link.out && echo yes)"

# A symbolic link planted under a final name after render is not taken for the written file: the
# next run writes the real file in its place.
fresh planted.db
KIGEN_FAULT=after_render setsid "$KIGEN" $CONF --db planted.db --out planted -q nightly --date 2026-11-21 >/dev/null 2>&1
cp planted/$B/sheets-002.pdf decoy.pdf && rm planted/$B/sheets-002.pdf && ln -s "$T/decoy.pdf" planted/$B/sheets-002.pdf
"$KIGEN" $CONF --db planted.db --out planted -q nightly --date 2026-11-21
expect_eq "a symlink under a final name is replaced by the real file" "0 no" \
	"$? $([ -L planted/$B/sheets-002.pdf ] && echo yes || echo no)"
expect_eq "a symlink under a final name: the batch is byte for byte the uninterrupted one" "$(sums ref/$B)" "$(sums planted/$B)"

# Output folders are kigen's own: one that others may write, or a link, is refused.
fresh wide.db
mkdir -p wide/2026-11-21 && chmod 777 wide/2026-11-21
"$KIGEN" $CONF --db wide.db --out wide -q nightly --date 2026-11-21 >wide.out 2>wide.err
expect_eq "an output folder others may write is refused (exit 1)" "1 yes" \
	"$? $(grep -q 'writable by no one else' wide.err && echo yes)"
check "and nothing was written into it" sh -c '[ -z "$(ls -A wide/2026-11-21)" ]'
"$KIGEN" $CONF --db wide.db --out "" nightly --date 2026-11-21 >empty.out 2>&1
expect_eq "--out \"\" is bad usage (exit 2), not a batch under /" 2 $?

# Tampering is caught; dry runs write nothing; a rerun rewrites nothing.
cp -r ref tamper && printf 'x' >>tamper/$B/outer-envelopes-001.pdf
"$KIGEN" --db ref.db --out tamper status --batch 1 >tamper.out 2>&1
expect_eq "status --batch finds a changed file (exit 1)" 1 $?
before=$(stat -c '%i %Y' ref/$B/sheets-001.pdf)
"$KIGEN" $CONF --db ref.db --out ref -q nightly --date 2026-11-21
expect_eq "a rerun of a finished night rewrites nothing" "$before" "$(stat -c '%i %Y' ref/$B/sheets-001.pdf)"
"$KIGEN" $CONF --db ref.db --out ref nightly --date 2026-11-28 --dry-run >dry.out
check "--dry-run reports what would be selected" grep -q "would select" dry.out
expect_eq "--dry-run writes nothing" 1 "$(sqlite3 ref.db 'select count(*) from batches')"
"$KIGEN" $CONF --db ref.db --out ref nightly --date 2026-13-01 >/dev/null 2>&1
expect_eq "a bad --date is bad input (exit 2)" 2 $?
out=$("$KIGEN" $CONF --db ref.db --out ref -q nightly --date 2026-11-22 2>&1)
expect_eq "-q is silent when all is well (for cron)" "" "$out"
