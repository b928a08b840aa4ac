#!/bin/bash
# import.sh: a registry extract cannot fool the import. Every bad row is refused with FILE:LINE
# (LF, CRLF and CR-only line ends), whatever the length of its reason (fail closed); a quote
# error never leaks into the next record; duplicates, control characters, overlong values and
# dates out of range are refused; messages never echo what a file smuggled in; no core dumps.
source "$(dirname "$0")/../lib.sh"
"$ROOT/scripts/gen-registry" --count 4 --seed 5 >good.csv
"$KIGEN" -q init

# mk NAME EOL PYTHON-EXPR: writes NAME from good.csv's header and rows (lists of fields), after
# the expression has edited `rows`; lines end with EOL ('\n', '\r\n' or '\r'). One Python serves
# every mk (a coprocess, one request a line): a Python start costs a second on a loaded machine.
coproc MK { python3 -u -c '
import sys
for req in sys.stdin:
    name, eol, edit = req.rstrip("\n").split("\t", 2)
    eol = eol.encode().decode("unicode_escape")
    lines = open("good.csv", newline="", encoding="utf-8").read().split("\r\n")
    head, rows = lines[0], [l.split(",") for l in lines[1:] if l]
    col = {c: i for i, c in enumerate(head.split(","))}
    raw = None  # an edit may set raw lines instead of rows
    exec(edit)
    out = raw if raw is not None else [",".join(r) for r in rows]
    open(name, "wb").write((eol.join([head] + out) + eol).encode("utf-8", "surrogateescape"))
    print(name)
'; }
mk() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >&"${MK[1]}" && read -r _ <&"${MK[0]}"; }
residents() { sqlite3 "$KIGEN_DB" 'select count(*) from residents'; }

# refused NAME "rule" PATTERN: the import exits 2, writes nothing, and stderr matches PATTERN.
refused() {
	local f=$1 rule=$2 pat=$3
	"$KIGEN" import "$f" >"$f.out" 2>"$f.err"
	local rc=$?
	expect_eq "$rule: exit 2, nothing imported" "2 0" "$rc $(residents)"
	check "$rule: the message is $pat" grep -qaE -- "$pat" "$f.err"
}

# Fail closed: a reason longer than the row's error buffer still refuses the row.
mk long.csv '\r\n' 'rows[1][col["postal_code"]] = "1" * 5000'
refused long.csv "a 5,000-byte postal code" "^long.csv:3: postal_code is longer than 8 characters"
mk dead.csv '\r\n' 'rows[0][col["status"]] = "deceased" + " x" * 3000'
refused dead.csv "a status padded past the error buffer is not taken for active" "^dead.csv:2: status is longer"
check "a refused long value is not echoed in full" sh -c '[ $(wc -c <long.csv.err) -lt 500 ]'

# Line numbers are right for every line end.
for eol in '\n' '\r\n' '\r'; do
	mk eol.csv "$eol" 'rows[2][col["sex"]] = "7"'
	refused eol.csv "line end $eol: the bad row" "^eol.csv:4: sex: unknown code '7'\$"
done

# A quote error drops that record only: the next record is read on its own.
mk quote.csv '\r\n' 'raw = [",".join(rows[0]), ",".join(rows[1]).replace(",", ",x\"y", 1), ",".join(rows[2])]'
refused quote.csv "a quote error" '^quote.csv:3: '
expect_eq "a quote error: one error only, no phantom line 0" "1 0" \
	"$(grep -c '^quote.csv:' quote.csv.err) $(grep -c ':0:' quote.csv.err)"
mk open.csv '\r\n' 'raw = [",".join(rows[0]), ",".join(rows[1])[:-1] + "\"abc"]'
refused open.csv "a quote still open at the end of the file" "^open.csv:3: .*not closed at the end of the file"

# The real column count.
ncol=$(head -1 good.csv | tr ',' '\n' | wc -l)
mk wide.csv '\r\n' 'rows[1] += ["x"] * (1000 - len(rows[1]))'
refused wide.csv "1000 columns" "^wide.csv:3: 1000 columns where the header has $ncol"

# One resident_id per file.
mk dup.csv '\r\n' 'rows[3][col["resident_id"]] = rows[1][col["resident_id"]]'
refused dup.csv "a resident_id twice in one file" "^dup.csv:5: resident_id '[^']*' is also on line 3"

# Control and invisible characters.
mk nul.csv '\r\n' 'rows[1][col["name"]] = "山田\0太郎"'
refused nul.csv "a NUL byte in a name" "^nul.csv:3: name \(column 2\) has a control or invisible character \(byte 0x00"
mk bom.csv '\r\n' 'rows[2][0] = "\ufeff" + rows[2][0]'
refused bom.csv "a byte-order mark opening a data row" "^bom.csv:4: resident_id \(column 1\) has a control or invisible character"
mk esc.csv '\r\n' 'rows[0][col["status"]] = "\x1b]0;owned\x07\x1b[2J"'
refused esc.csv "a terminal escape in a field" "^esc.csv:2: status \(column 13\) has a control"
check "a terminal escape is never echoed" sh -c '! grep -q "$(printf "\033")" esc.csv.err'
check "it is shown escaped instead" grep -qF "'\\x1b]0;owned\\x07\\x1b[2J'" esc.csv.err

# Length limits and date spans.
mk name.csv '\r\n' 'rows[1][col["name"]] = "あ" * 101'
refused name.csv "a name of 101 characters" "^name.csv:3: name is longer than 100 characters \(101\)"
mk nine.csv '\r\n' 'rows[1][col["card_issued_on"]] = "9999-12-31"'
refused nine.csv "a card issued 9999-12-31" "^nine.csv:3: card_issued_on 9999-12-31 is outside 2015-10-05\.\."
mk born.csv '\r\n' 'rows[1][col["birth_date"]] = "1850-01-01"'
refused born.csv "a birth in 1850" "^born.csv:3: birth_date 1850-01-01 is outside 1900-01-01\.\."
mk far.csv '\r\n' 'rows[1][col["card_expires_on"]] = "2150-01-01"'
refused far.csv "a card expiring in 2150" "^far.csv:3: card_expires_on 2150-01-01 is outside .*2099-12-31"

# The good file still imports, whatever its line ends.
mk cr.csv '\r' 'pass'
check "a CR-only file imports" "$KIGEN" -q import cr.csv
expect_eq "a CR-only file: every row is a resident" 4 "$(residents)"

# No core dumps anywhere: a kigen blocked on a FIFO shows its core limit, even when the shell
# allowed cores.
mkfifo fifo
(ulimit -c unlimited 2>/dev/null || ulimit -c 1000000; exec "$KIGEN" import fifo) >/dev/null 2>&1 &
pid=$!
limit=
limit_set() { # the core limit kigen runs with, once it has set it (or once it is gone)
	limit=$(awk '/^Max core file size/ { print $5 }' /proc/$pid/limits 2>/dev/null)
	[ "$limit" = 0 ] || ! kill -0 "$pid" 2>/dev/null
}
wait_until limit_set
expect_eq "kigen allows no core dump (RLIMIT_CORE 0 before any input is read)" 0 "$limit"
: >fifo
wait $pid || true # the import of an empty FIFO fails; only the limit mattered
