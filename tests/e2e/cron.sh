#!/bin/bash
# cron.sh: scripts/kigen-cron, the wrapper an operator puts in the crontab.
source "$(dirname "$0")/../lib.sh"
export KIGEN_HOME=$ROOT KIGEN_DB=$T/k.db KIGEN_OUT=$T/out KIGEN_LOG_DIR=$T/log KIGEN_CONFIG=$T/s.yaml
sed "s|^  templates: .*|  templates: $ROOT/templates|" "$ROOT/fixtures/settings.yaml" >s.yaml
"$ROOT/scripts/gen-registry" --count 800 --seed 21 --as-of "$(TZ=Asia/Tokyo date +%F)" >reg.csv
"$KIGEN" -q import reg.csv
mkdir -p log && echo old >log/nightly-2000-01-01.log && touch -d 2000-01-02 log/nightly-2000-01-01.log
"$ROOT/scripts/kigen-cron" >mail.txt
expect_eq "kigen-cron: a good night exits 0" 0 $?
check "kigen-cron: the mail says the run finished, with the summary" sh -c 'grep -q "finished" mail.txt && grep -q "バッチ 1" mail.txt'
check "kigen-cron: the night's log has kigen's timestamped lines" grep -q "kigen: batch 1: export: done" "log/nightly-$(TZ=Asia/Tokyo date +%F).log"
check "kigen-cron: old logs are compressed, and dropped past the keep limit" \
	sh -c '[ ! -e log/nightly-2000-01-01.log ] && KIGEN_KEEP=1 "$0" >/dev/null && [ ! -e log/nightly-2000-01-01.log.gz ]' "$ROOT/scripts/kigen-cron"
KIGEN_MAIL=failure "$ROOT/scripts/kigen-cron" >quiet.txt
expect_eq "kigen-cron: KIGEN_MAIL=failure is silent on a good night" "0 0" "$? $(wc -c <quiet.txt)"
hold_lock "$KIGEN_DB.lock"
"$ROOT/scripts/kigen-cron" >locked.txt
expect_eq "kigen-cron: a night that finds another run going exits 3" 3 $?
check "kigen-cron: and its mail says another run holds the lock" grep -q "another run still holds the lock" locked.txt
release_lock
