#!/bin/bash
# Measures the renderer against the naive baseline (../shared/bench/naive_baseline.c) in one run:
# sets/s of both and their ratio, PDF bytes per resident, and peak memory (the parent plus the
# largest worker) for 5,000, 20,000 and 50,000 residents. Usage: scripts/bench-render.sh [N...]
# Both sides use the same fonts and write to the same disk; kigen uses 2 workers.
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
export LC_ALL=C.UTF-8 TZ=Asia/Tokyo
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(5000 20000 50000)

make -s "$BUILD/render_bench"
baseline_src=$(dirname "$ROOT")/shared/bench/naive_baseline.c
[ -f "$baseline_src" ] || baseline_src=$ROOT/../shared/bench/naive_baseline.c
# shellcheck disable=SC2046
cc -O2 -o "$BUILD/naive_baseline" "$baseline_src" $(pkg-config --cflags --libs pangocairo cairo-pdf libqrencode)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|^  templates: .*|  templates: $ROOT/templates|" fixtures/settings.yaml >"$work/settings.yaml"

printf '%-8s %14s %14s %7s %12s %14s %16s\n' residents "kigen sets/s" "naive sets/s" ratio "bytes/set" "naive bytes/set" "kigen peak RSS"
for n in "${sizes[@]}"; do
	rm -rf "$work/out" && mkdir "$work/out"
	k=$("$BUILD/render_bench" bench "$work/settings.yaml" "$n" "$work/out" 2)
	echo "# $k" >&2
	rm -rf "$work/out"
	b=$("$BUILD/naive_baseline" "$n" "$work/naive.pdf")
	echo "# $b" >&2
	rm -f "$work/naive.pdf"
	ks=$(sed -E 's/.* ([0-9.]+) sets\/s.*/\1/' <<<"$k")
	kb=$(sed -E 's/.* ([0-9]+) bytes\/set.*/\1/' <<<"$k")
	kr=$(sed -E 's/.*peak RSS ([0-9.]+) MB.*/\1/' <<<"$k")
	bs=$(sed -E 's/.* ([0-9.]+) sets\/s.*/\1/' <<<"$b")
	bb=$(sed -E 's/.* ([0-9]+) bytes\/set.*/\1/' <<<"$b")
	printf '%-8s %14s %14s %7s %12s %14s %13s MB\n' "$n" "$ks" "$bs" "$(awk -v a="$ks" -v b="$bs" 'BEGIN {printf "%.2fx", a / b}')" \
		"$kb" "$bb" "$kr"
done
