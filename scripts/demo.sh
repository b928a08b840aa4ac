#!/bin/sh
# make demo: a sample registry in SQLite, the nightly job for today, a batch under out/.
# Uses demo.db (not the default kigen.db, which it would have to delete to start afresh) and
# fixtures/settings.yaml; run it again to start afresh. The commands it prints name --db demo.db.
set -eu
cd "$(dirname "$0")/.."
export KIGEN_DB=demo.db
rm -f demo.db demo.db-wal demo.db-shm
config=""
[ -f fixtures/settings.yaml ] && config="--config fixtures/settings.yaml"
today=$(TZ=Asia/Tokyo date +%F)
rm -rf "out/$today" # the demo starts afresh; a real out/ is never cleared like this
chmod go-w out      # kigen refuses output folders that others may write (a clone under umask 002)
scripts/gen-registry --count 3000 --seed 1 --as-of "$today" > out/demo-registry.csv
./kigen $config init
./kigen $config import out/demo-registry.csv | tail -1
./kigen $config nightly --date "$today"
./kigen status
batch=$(./kigen status | awk 'NR == 2 { print $1 }')
echo
echo "The batch is in out/$today/batch-$(printf %04d "$batch") (PNG proofs in proofs/), the run report in out/$today/report.html."
echo "The demo's database is demo.db (kigen's default is kigen.db); try, as typed:"
echo "  ./kigen --db demo.db status"
echo "  ./kigen --db demo.db status --batch $batch"
echo "  ./kigen --db demo.db --config fixtures/settings.yaml nightly --dry-run"
