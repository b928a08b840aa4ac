#!/bin/bash
# bench-counter.sh [N]: the time of a whole 3-PIN `kigen counter redeem` on the test rig (real
# pcscd, vpcd, the virtual card with the 住基 PIN in both candidate applications), N runs
# (default 20), and the APDUs each sent. A measurement, never a test: the machine's load moves it.
# Needs root (the rig's namespaces) and `make` first.
source "$(dirname "$0")/../tests/lib.sh"
source "$ROOT/tests/rig/lib.sh"
N=${1:-20}
SIGN=QX7TZ2W9 AUTH=6284 JUKI=7391
write_pins "$SIGN" "$AUTH" "$JUKI"
{
	echo "resident_id,name,kana,birth_date,sex,postal_code,address_town,address_block,address_building,status,card_issued_on,auth_issued_on,auth_serial,sign_issued_on,sign_status"
	for i in $(seq "$N"); do
		echo "B$i,窓口　太郎,マドグチ　タロウ,1980-01-20,1,160-0022,東京都新宿区新宿,1-2-$i,,active,2022-01-25,2022-01-25,0A1B2C3D4E5F,2022-01-25,valid"
	done
} >reg.csv
"$KIGEN" -q import reg.csv && "$KIGEN" -q select --date 2026-11-21 || exit 1
eval "$("$RIG" start "$R" --pins "$T/pins" --serial 0A1B2C3D4E5F --not-after 2027-01-20 --juki-pin both)"
for i in $(seq "$N"); do
	id=$(sqlite3 "$KIGEN_DB" "select n.app_id from notices n join residents r on r.id = n.resident where r.registry_id = 'B$i'")
	printf '%s\n' "$SIGN" "$AUTH" "$JUKI" >"$T/pl"
	s=$(date +%s%N)
	"$KIGEN" counter redeem --reader "Virtual PCD 00 00" --id "$id" --pins-fd 3 --json --date 2026-12-01 \
		3<"$T/pl" >"$T/o.json"
	e=$(date +%s%N)
	rm -f "$T/pl"
	echo "$(((e - s) / 1000000)) $(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["outcome"], d["apdus"])' <"$T/o.json")"
done | sort -n | awk '{ms[NR] = $1; out[$2 " " $3 " APDUs"]++}
	END {printf "3-PIN redemptions: %d; ms min %d, median %d, max %d;", NR, ms[1], ms[int((NR + 1) / 2)], ms[NR]
	     for (o in out) printf " %s x%d", o, out[o]; print ""}'
