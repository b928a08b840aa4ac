#!/bin/bash
# make fuzz: runs each libFuzzer harness of $BUILD (build-fuzz) FUZZ_RUNS times (FUZZ_JOBS, 2
# by default, at once: one process each) from a corpus seeded with the repository's own inputs,
# and prints one line per harness: runs, seconds, corpus size, findings, and the load average
# when it ended. FUZZ_SECONDS, when set, stops a harness earlier (its line then says how many
# runs it made). Exits 1 when any harness found a crash, a leak or a broken contract (the
# reproducer is left in build-fuzz/crash-*).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-fuzz}
RUNS=${FUZZ_RUNS:-1000000}
SECONDS_MAX=${FUZZ_SECONDS:-0}
JOBS=${FUZZ_JOBS:-2}
export LC_ALL=C.UTF-8 TZ=Asia/Tokyo ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1
corpus() { # corpus NAME: a fresh seed corpus for harness NAME
	local dir=$BUILD/corpus-$1
	rm -rf "$dir" && mkdir -p "$dir"
	case $1 in
	registry) # every row of the sample extract on its own, and the head of it, in both encodings' byte
		printf '\000' | cat - <(head -20 fixtures/registry-sample.csv) >"$dir/sample-utf8"
		head -1 fixtures/registry-sample.csv >"$dir/.head"
		n=0
		tail -n +2 fixtures/registry-sample.csv | head -40 | while IFS= read -r row; do
			n=$((n + 1))
			{ printf '\000'; cat "$dir/.head"; printf '%s\n' "$row"; } >"$dir/row-$n"
		done
		rm -f "$dir/.head" ;;
	postal) # postal codes and address blocks from the sample extract
		tail -n +2 fixtures/registry-sample.csv | head -60 | python3 -c '
import csv, sys
for i, r in enumerate(csv.reader(sys.stdin)):
    open(sys.argv[1] + "/addr-%d" % i, "w").write("\n".join([r[5], r[7], r[8]]))' "$dir" ;;
	conf) cp fixtures/settings.yaml templates/*.yaml "$dir/" ;;
	card) # the DER certificates a card could hold: made here with openssl, as the virtual card does
		for days in 1 3650; do
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
				-subj "/CN=fuzz $days" -days $days -outform DER -out "$dir/cert-$days.der" 2>/dev/null
		done ;;
	esac
}
run() { # run NAME: one harness, its log in $BUILD/fuzz-NAME.log, its exit code in .rc
	local name=$1 start=$(date +%s) max_len=4096
	[ "$name" = registry ] && max_len=600 # a row or two: the checks per row, not the row count, matter
	"$BUILD/fuzz_$name" -runs="$RUNS" -max_total_time="$SECONDS_MAX" -max_len=$max_len -timeout=60 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$BUILD/crash-$name-" \
		"$BUILD/corpus-$name" >"$BUILD/fuzz-$name.log" 2>&1
	echo "$? $(($(date +%s) - start)) $(cut -d' ' -f1-3 /proc/loadavg)" >"$BUILD/fuzz-$name.rc"
}
names=""
for f in "$BUILD"/fuzz_*; do
	[ -x "$f" ] || continue
	name=${f##*/fuzz_}
	names="$names $name"
	corpus "$name"
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
	run "$name" &
done
wait
bad=0
for name in $names; do
	read -r rc secs load <"$BUILD/fuzz-$name.rc"
	runs=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$BUILD/fuzz-$name.log")
	size=$(ls "$BUILD/corpus-$name" | wc -l)
	if [ "$rc" -ne 0 ]; then
		bad=1
		echo "fuzz $name: FOUND a problem after ${runs:-?} runs (see $BUILD/fuzz-$name.log)"
		grep -E '^(==|SUMMARY)' "$BUILD/fuzz-$name.log" | head -5
	else
		echo "fuzz $name: $runs runs in $secs s, corpus $size inputs, 0 findings (load average $load)"
	fi
done
exit $bad
