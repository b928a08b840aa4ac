#!/bin/sh
# make demo: a sample registry in SQLite, the nightly job for today, a batch under out/.
# Uses demo.db and fixtures/settings.yaml; run it again to start afresh.
set -eu
cd "$(dirname "$0")/.."
export KIGEN_DB=demo.db
rm -f demo.db demo.db-wal demo.db-shm
config=""
[ -f fixtures/settings.yaml ] && config="--config fixtures/settings.yaml"
today=$(TZ=Asia/Tokyo date +%F)
rm -rf "out/$today" # the demo starts afresh; a real out/ is never cleared like this
scripts/gen-registry --count 3000 --seed 1 --as-of "$today" > out/demo-registry.csv
./kigen $config init
./kigen $config import out/demo-registry.csv | tail -1
./kigen $config nightly --date "$today"
./kigen status
echo
echo "The batch is in out/$today/batch-0001 (PNG proofs in proofs/), the run report in out/$today/report.html."
