#!/usr/bin/python3
"""Reads a batch's manifest.xlsx, manifest.csv and job.json back (openpyxl, csv, json) and checks
them against the database's notices (a file of sqlite3 rows) and against each other. One TAP line
per rule. Usage:
    check_manifest.py DIR NOTICES.txt SORTED(適用可|対象外) BARCODE(適用可|対象外)
NOTICES.txt: seq|app_id|postal_code|address|name|kind|target|expiry, in seq order.
"""
import csv
import json
import sys
from collections import OrderedDict

import openpyxl

d, notices_file, want_sorted, want_barcode = sys.argv[1:5]
failed = 0


def check(rule, ok, detail=""):
    global failed
    print(("ok - " if ok else "not ok - ") + rule)
    if not ok:
        failed += 1
        if detail:
            print("#   " + str(detail)[:400])


HEAD = ["連番", "通知番号", "J-LIS申請書ID", "郵便番号", "住所", "氏名", "有効期限が到来するもの", "有効期限", "同封物",
        "有効期限通知書 ファイル", "有効期限通知書 頁", "交付申請書 ファイル", "交付申請書 頁",
        "照会書兼回答書 ファイル", "照会書兼回答書 頁",
        "封入用封筒 ファイル", "封入用封筒 頁", "長形3号封筒 ファイル", "長形3号封筒 頁", "カスタマバーコード"]

db = []
with open(notices_file, encoding="utf-8") as f:
    for line in f:
        seq, app, postal, addr, name, kind, target, expiry = line.rstrip("\n").split("|")
        db.append((int(seq), app, postal, addr, name, int(kind), int(target), expiry))

wb = openpyxl.load_workbook(d + "/manifest.xlsx")
check("xlsx: the three sheets in order", wb.sheetnames == ["発送リスト", "区分集計", "バッチ情報"], wb.sheetnames)
ws = wb["発送リスト"]
rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
check("xlsx 発送リスト: the Japanese header row", list(rows[0]) == HEAD, rows[0])
body = rows[1:]
check("xlsx 発送リスト: one row per notice of the batch", len(body) == len(db), (len(body), len(db)))
check("xlsx 発送リスト: the header row is frozen", ws.freeze_panes == "A2", ws.freeze_panes)
check("xlsx 発送リスト: autofilter over header and rows", ws.auto_filter.ref == "A1:T%d" % (len(db) + 1),
      ws.auto_filter.ref)
check("xlsx 発送リスト: column widths set", all(ws.column_dimensions[c].width and ws.column_dimensions[c].width > 5
                                            for c in "ABCDEFGHIJKLMNOPQRST"))
what = {(0, 0): "マイナンバーカード", (0, 1): "電子証明書", (1, 1): "電子証明書（再照会）"}
mism = [(r[:7], n) for r, n in zip(body, db)
        if (r[0], r[1], r[3], r[4], r[5], r[6], r[7]) != (n[0], n[1], n[2], n[3], n[4], what[(n[5], n[6])], n[7])]
check("xlsx 発送リスト: seq, ID, postal code, address, name, what expires and expiry match the database in seq order",
      not mism, mism[:2])

# Pieces: each file's pages are used exactly once, 1..pages, in seq order.
job = json.load(open(d + "/job.json", encoding="utf-8"))
pages_of = {f["name"]: f["pages"] for f in job["files"]}
used = {}
bad_pieces = []
for r in body:
    seq, kind_text, pieces = r[0], r[6], r[8]
    notice = kind_text != "電子証明書（再照会）"
    form = kind_text != "マイナンバーカード"
    appl = kind_text == "マイナンバーカード"
    want = ((["有効期限通知書"] if notice else []) + (["個人番号カード交付申請書"] if appl else [])
            + (["照会書兼回答書", "封入用封筒"] if form else []) + ["長形3号封筒"])
    if pieces != "・".join(want):
        bad_pieces.append((seq, pieces))
    for col, has in ((9, notice), (11, appl), (13, form), (15, form), (17, True)):
        f, p = r[col], r[col + 1]
        if has != (f is not None and p is not None):
            bad_pieces.append((seq, col, f, p))
        if has:
            used.setdefault(f, []).append(p)
    if notice and form and (r[9] != r[13] or r[14] != r[10] + 1):
        bad_pieces.append((seq, "form must follow the notice on the same file", r[9:15]))
    if appl and (r[9] != r[11] or r[12] != r[10] + 1):
        bad_pieces.append((seq, "the 交付申請書 must follow the notice on the same file", r[9:13]))
check("xlsx 発送リスト: the pieces each set gets (card: notice, 交付申請書; cert: notice, form, sealing envelope; "
      "all: outer envelope)",
      not bad_pieces, bad_pieces[:3])
page_problems = [(f, p[:5]) for f, p in used.items() if p != list(range(1, pages_of.get(f, -1) + 1))]
unused = [f for f in pages_of if f not in used]
check("xlsx 発送リスト: every page of every print file holds exactly one piece, in seq order",
      not page_problems and not unused, (page_problems[:2], unused))

# 区分集計
wsb = wb["区分集計"]
brows = [tuple(r) for r in wsb.iter_rows(values_only=True)]
check("xlsx 区分集計: header", list(brows[0]) == ["郵便区番号", "通数", "うちバーコード付", "先頭連番", "末尾連番"], brows[0])
bundles = []
for r in brows[1:]:
    if r[0] is None:
        break
    bundles.append(r)
want_b = OrderedDict()
for n in db:
    want_b.setdefault(n[2][:3], 0)
    want_b[n[2][:3]] += 1
check("xlsx 区分集計: bundles by the postal code's first 3 digits, in mailing order, with the database's counts",
      [(b[0], b[1]) for b in bundles] == list(want_b.items()), (bundles[:3], list(want_b.items())[:3]))
check("xlsx 区分集計: bundle counts sum to the total", sum(b[1] for b in bundles) == len(db))
check("xlsx 区分集計: autofilter and frozen header", wsb.auto_filter.ref == "A1:E%d" % (len(bundles) + 1)
      and wsb.freeze_panes == "A2", (wsb.auto_filter.ref, wsb.freeze_panes))
barcoded = sum(1 for r in body if r[19] and not r[19].startswith("なし"))
total_row = [r for r in brows if r[0] == "合計"]
check("xlsx 区分集計: the total row counts sets and barcoded sets",
      total_row and total_row[0][1] == len(db) and total_row[0][2] == barcoded, total_row)
flags = {r[0].split("（")[0]: r[1] for r in brows if r[0] and "割引" in str(r[0])}
check("xlsx 区分集計: the 区分郵便物 discount flag is " + want_sorted, flags.get("区分郵便物割引") == want_sorted, flags)
check("xlsx 区分集計: the バーコード付郵便物 discount flag is " + want_barcode,
      flags.get("バーコード付郵便物割引") == want_barcode, flags)
check("job.json: the discount flags agree with the XLSX",
      job["discounts"]["sorted"] == (want_sorted == "適用可") and job["discounts"]["barcode"] == (want_barcode == "適用可"),
      job["discounts"])

# バッチ情報
info = {r[0]: r[1] for r in wb["バッチ情報"].iter_rows(values_only=True) if r[0]}
card = sum(1 for n in db if n[5] == 0 and n[6] == 0)
cert = sum(1 for n in db if n[5] == 0 and n[6] == 1)
reinq = sum(1 for n in db if n[5] == 1)
check("xlsx バッチ情報: counts by what expires match the database",
      (info.get("マイナンバーカード"), info.get("電子証明書"), info.get("電子証明書（再照会）"), info.get("通数（合計）"))
      == (card, cert, reinq, len(db)), info)
frows = list(wb["バッチ情報"].iter_rows(values_only=True))
start = [i for i, r in enumerate(frows) if r[0] == "ファイル"]
listed = {r[0]: (r[1], r[2], r[3]) for r in frows[start[0] + 1:]} if start else {}
check("xlsx バッチ情報: every print file with pages, bytes and SHA-256 as job.json has them",
      listed == {f["name"]: (f["pages"], f["bytes"], f["sha256"]) for f in job["files"]}, list(listed.items())[:2])
p = wb.properties
check("xlsx: author kigen and the creation date is the batch date (00:00 JST), not the clock",
      p.creator == "kigen" and p.created is not None and p.created.isoformat() == "2026-11-20T15:00:00", (p.creator, p.created))

# CSV
raw = open(d + "/manifest.csv", "rb").read()
check("csv: starts with a UTF-8 BOM", raw.startswith(b"\xef\xbb\xbf"))
check("csv: CRLF line ends", raw.endswith(b"\r\n") and raw.count(b"\r\n") == len(db) + 1)
crows = list(csv.reader(raw[3:].decode("utf-8").splitlines()))
as_text = [["" if v is None else str(v) for v in r] for r in rows]
check("csv: the same header and rows as the 発送リスト sheet", crows == as_text,
      next(((a, b) for a, b in zip(crows, as_text) if a != b), None))

check("job.json: batch, run date, sets and pieces per kind",
      job["batch"] == 1 and job["run_date"] == "2026-11-21" and job["sets"] == len(db)
      and job["pieces"] == {"notice": card + cert, "application": card, "form": cert + reinq,
                            "inner_envelope": cert + reinq, "outer_envelope": len(db)}, (job["sets"], job["pieces"]))
sys.exit(1 if failed else 0)
