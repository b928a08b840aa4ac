#!/bin/bash
# The render stage against two yardsticks, in one run, on the same residents and templates:
#   kigen        build/render_bench (render_batch(), 2 forked workers, as `kigen render` runs it)
#   naive cairo  build/naive_baseline (tests/bench/naive_baseline.c: a page per piece, everything
#                drawn afresh, a new PangoLayout per text, QR codes as one rectangle per module)
#   ReportLab    tests/bench/reportlab_set.py (Debian python3-reportlab and python3-qrcode: fonts
#                embedded as subsets, static parts as form XObjects, compressed streams)
# The residents are N synthetic sets of render_bench (`render_bench values` writes what they
# print for the yardsticks). Figures per implementation, from /usr/bin/time (GNU time):
#   CPU ms/set   user + system CPU of the whole process tree (workers included), per set, with
#                the start-up (fonts, templates: the same run with one set) taken off
#   start-up     CPU seconds of that one-set run
#   bytes/set    every PDF written, divided by N
#   peak MB      maximum resident set size of the largest process
# kigen runs a second time with 10 x N sets: its peak memory must stay the same.
# The three run in ROUNDS rounds (default 5), interleaved (kigen, naive, ReportLab, kigen, ...),
# so that a burst of other work on the machine falls on all three alike; the table gives each
# one's median CPU per set and start-up, the ratios of those medians, and the largest peak. A
# line per round follows, with that round's own ratios, so the spread shows.
#
# usage: scripts/bench-render.sh [N [ROUNDS]]      (defaults 1000, 5)
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
export LC_ALL=C.UTF-8 TZ=Asia/Tokyo
N=${1:-1000}
ROUNDS=${2:-5}
PY=/usr/bin/python3 # Debian's python, where python3-reportlab lives

make -s "$BUILD/render_bench" "$BUILD/naive_baseline"
work=$(mktemp -d "${TMPDIR:-/tmp}/kigen-bench-render.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The sample settings without PNG proofs: the yardsticks write PDFs only.
sed -e "s|^  templates: .*|  templates: $ROOT/templates|" -e "s|^  proofs: .*|  proofs: 0|" \
	fixtures/settings.yaml >"$work/settings.yaml"

# run NAME SETS: runs implementation NAME on SETS residents; sets cpu (s), peak (KB), bytes.
run() {
	local name=$1 sets=$2 out=$work/out-$1-$2
	rm -rf "$out" && mkdir -p "$out"
	"$BUILD/render_bench" values "$work/settings.yaml" "$sets" "$work/values.tsv"
	case $name in
	kigen) set -- "$BUILD/render_bench" bench "$work/settings.yaml" "$sets" "$out" 2 ;;
	naive) set -- "$BUILD/naive_baseline" "$ROOT/templates" "$work/values.tsv" "$out" ;;
	reportlab) set -- "$PY" tests/bench/reportlab_set.py "$ROOT/templates" "$work/values.tsv" "$out" ;;
	esac
	/usr/bin/time -o "$work/time" -f '%U %S %M' "$@" >/dev/null
	read -r user sys peak <"$work/time"
	cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
	bytes=$(cat "$out"/*.pdf | wc -c)
	rm -rf "$out"
}

# median v...: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A ms start size mem all_ms all_start
for _ in $(seq "$ROUNDS"); do
	for impl in kigen naive reportlab; do
		run "$impl" 1
		s1=$cpu
		run "$impl" "$N"
		all_start[$impl]+="$s1 "
		all_ms[$impl]+="$(awk -v c="$cpu" -v s="$s1" -v n="$N" 'BEGIN { printf "%.3f", (c - s) * 1000 / (n - 1) }') "
		size[$impl]=$((bytes / N))
		mem[$impl]=$(awk -v k="$peak" -v m="${mem[$impl]:-0}" 'BEGIN { k /= 1024; printf "%.1f", (k > m ? k : m) }')
		[ "$impl" = kigen ] && mem_low=$(awk -v k="$peak" -v m="${mem_low:-1e9}" 'BEGIN { k /= 1024; printf "%.1f", (k < m ? k : m) }')
	done
done
for impl in kigen naive reportlab; do
	# shellcheck disable=SC2086 # the lists are numbers separated by spaces
	ms[$impl]=$(printf '%.2f' "$(median ${all_ms[$impl]})")
	# shellcheck disable=SC2086
	start[$impl]=$(printf '%.2f' "$(median ${all_start[$impl]})")
done
run kigen $((N * 10))
mem10=$(awk -v k="$peak" 'BEGIN { printf "%.1f", k / 1024 }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", b / a }'; }
echo "== render stage, $N sets, $ROUNDS interleaved rounds (median CPU per set without start-up; largest peak RSS of the largest process)"
printf '%-12s %11s %13s %10s %8s %15s %16s\n' "" "CPU ms/set" "start-up CPU" bytes/set "peak MB" "kigen's speed-up" "bytes kigen/them"
for impl in kigen naive reportlab; do
	label=$impl
	[ "$impl" = naive ] && label="naive cairo"
	[ "$impl" = reportlab ] && label=ReportLab
	printf '%-12s %11s %12ss %10s %8s %15s %16s\n' "$label" "${ms[$impl]}" "${start[$impl]}" "${size[$impl]}" \
		"${mem[$impl]}" "$([ "$impl" = kigen ] && echo - || ratio "${ms[kigen]}" "${ms[$impl]}")" \
		"$([ "$impl" = kigen ] && echo - || awk -v a="${size[kigen]}" -v b="${size[$impl]}" 'BEGIN { printf "%.2fx", a / b }')"
done
echo "kigen with $((N * 10)) sets: peak $mem10 MB (with $N: $mem_low-${mem[kigen]} MB over the rounds)"
read -ra k <<<"${all_ms[kigen]}"
read -ra n <<<"${all_ms[naive]}"
read -ra r <<<"${all_ms[reportlab]}"
for i in "${!k[@]}"; do
	echo "round $((i + 1)): kigen ${k[i]} ms/set, naive ${n[i]} ($(ratio "${k[i]}" "${n[i]}")), ReportLab ${r[i]} ($(ratio "${k[i]}" "${r[i]}"))"
done
