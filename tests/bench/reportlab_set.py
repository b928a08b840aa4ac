#!/usr/bin/python3
"""The yardstick of the render benchmark: kigen's mail sets as a competent ReportLab user would
print them, from the same templates (templates/*.yaml) and the same residents (the TSV that
`render_bench values` writes), one PDF per document like kigen's (sheets, inner, outer).

What a good ReportLab implementation does, and this one does:
- the IPA TrueType fonts registered with TTFont, so each PDF embeds subsets of them;
- every static element of a template (wording, rules, boxes) drawn once per file into a form
  XObject per template and `when:` set (beginForm/doForm), painted on every page;
- compressed page streams (pageCompression=1), invariant output;
- per page only the variable text (shrunk to fit its box, then wrapped, as kigen does), the QR
  codes (python3-qrcode, level M, runs of dark modules merged into one path) and the customer
  barcode (67 rectangles in one path).
Text is measured with ReportLab's own metrics and wrapped character by character (Japanese has
no spaces). ReportLab cannot select ideographic variation sequences: the selector is dropped and
the base character printed (less work than kigen does, so the comparison favours ReportLab).

usage: reportlab_set.py TEMPLATES_DIR VALUES.tsv OUTDIR   (writes OUTDIR/{sheets,inner,outer}.pdf)
"""
import os
import re
import sys

import qrcode
import yaml
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

MM = 72.0 / 25.4
FONTS = {
    "gothic": ("IPAexGothic", "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"),
    "mincho": ("IPAexMincho", "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf"),
    "mj": ("IPAmjMincho", "/usr/share/fonts/truetype/ipamj/ipamjm.ttf"),
    "multi": ("WenQuanYiZenHei", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
}
WHEN = {"card": 0x01, "cert": 0x02, "notice": 0x04, "reinquiry": 0x08,
        "sign": 0x10, "nosign": 0x20, "barcode": 0x40, "nobarcode": 0x80,
        "jlis": 0x100, "nojlis": 0x200, "revoked": 0x400, "minor": 0x800, "postage": 0x1000}
POSTAGE = 0x1000  # holds on every page when the settings have a postage mark (postage_class)
ESCAPES = re.compile(r"\\(.)")
BARS = {"F": (0.0, 3.6), "A": (0.0, 2.4), "D": (1.2, 2.4), "T": (1.2, 1.2)}  # top, height (mm)
ASCENT = 0.88  # IPA fonts: ascender 880/1000, descender 120/1000
VS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Element:
    def __init__(self, e, styles, settings):
        st = styles.get(e.get("style"), {}) if e.get("style") else {}
        get = lambda k, d=None: e.get(k, st.get(k, d))
        w = get("when")
        w = [w] if isinstance(w, str) else (w or [])
        self.when = sum(WHEN[c] for c in w)
        self.width = float(get("width", 0.3)) * MM
        self.fill = float(get("fill", -1))
        self.dash = str(e.get("dash", "")).lower() == "true"
        self.kind = next(k for k in ("text", "qr", "rect", "boxes", "line", "barcode") if k in e)
        self.variable = False
        if self.kind in ("text", "qr"):
            text = str(e[self.kind])
            # settings placeholders are filled once; the others stay for each page
            text = PLACEHOLDER.sub(lambda m: settings.get(m.group(1), m.group(0)), text)
            self.text = text
            self.variable = bool(PLACEHOLDER.search(text))
            self.x, self.y, self.w, self.h = (float(v) * MM for v in e["box"])
        if self.kind == "text":
            self.font = FONTS[get("font", "gothic")][0]
            self.size = float(get("size", 10))
            self.min = float(get("min", self.size * 0.7))
            self.leading = float(get("leading", 1.0))
            self.gray = float(get("gray", 0))
            self.align = get("align", "left")
            self.valign = get("valign", "top")
            self.wrap = str(get("wrap", "false")).lower() in ("true", "yes")
        elif self.kind in ("rect", "boxes", "line"):
            self.x, self.y, self.w, self.h = (float(v) * MM for v in e[self.kind])
            self.count = int(e.get("count", 4)) if self.kind == "boxes" else 1
        elif self.kind == "barcode":
            self.variable = True
            self.x, self.y = (float(v) * MM for v in e["barcode"])
            self.pt = float(e.get("size", 10))


class Template:
    def __init__(self, path, settings):
        with open(path, encoding="utf-8") as f:
            t = yaml.safe_load(f)
        self.name = os.path.basename(path)
        self.width = float(t["page"]["width"]) * MM
        self.height = float(t["page"]["height"]) * MM
        styles = t.get("styles") or {}
        self.elements = [Element(e, styles, settings) for e in t["elements"]]
        self.layers = sorted({e.when for e in self.elements if not e.variable})


def lines_of(text, font, size, width):
    """Splits at newlines, then character by character where a line is wider than width."""
    out = []
    for para in text.split("\n"):
        line = ""
        for ch in para:
            if line and width and pdfmetrics.stringWidth(line + ch, font, size) > width:
                out.append(line)
                line = ch
            else:
                line += ch
        out.append(line)
    return out


def draw_text(c, e, text, page_h):
    text = VS.sub("", text)
    size = e.size
    while True:  # shrink to fit on one line (or as wrapped), down to min; then wrap at min
        lines = lines_of(text, e.font, size, e.w if e.wrap else 0)
        wide = max(pdfmetrics.stringWidth(l, e.font, size) for l in lines)
        if (wide <= e.w + 0.01 and len(lines) * size * e.leading <= e.h + 0.01) or size - 0.5 < e.min:
            break
        size -= 0.5
    if wide > e.w + 0.01:
        lines = lines_of(text, e.font, size, e.w)
    lead = size * e.leading
    height = len(lines) * lead
    dy = {"top": 0, "middle": (e.h - height) / 2, "bottom": e.h - height}[e.valign]
    c.setFillGray(e.gray)
    c.setFont(e.font, size, lead)
    for i, line in enumerate(lines):
        y = page_h - (e.y + dy + i * lead + (lead - size) / 2 + ASCENT * size)
        if e.align == "center":
            c.drawCentredString(e.x + e.w / 2, y, line)
        elif e.align == "right":
            c.drawRightString(e.x + e.w, y, line)
        else:
            c.drawString(e.x, y, line)


def draw_qr(c, e, data, page_h):
    q = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, box_size=1)
    q.add_data(data)
    q.make(fit=True)
    m = q.get_matrix()
    n = len(m)
    size = min(e.w, e.h)
    mod = int(size / (n + 8) * 4) / 4.0 or size / (n + 8)
    x0 = round((e.x + (size - mod * n) / 2) * 4) / 4
    y0 = round((e.y + (size - mod * n) / 2) * 4) / 4
    p = c.beginPath()
    for r, row in enumerate(m):  # one rectangle per run of dark modules
        col = 0
        while col < n:
            if row[col]:
                end = col
                while end < n and row[end]:
                    end += 1
                p.rect(x0 + col * mod, page_h - (y0 + (r + 1) * mod), (end - col) * mod, mod)
                col = end
            else:
                col += 1
    c.setFillGray(0)
    c.drawPath(p, stroke=0, fill=1)


def draw_barcode(c, e, bars, page_h):
    k = e.pt / 10 * MM
    p = c.beginPath()
    for i, b in enumerate(bars):
        top, h = BARS[b]
        p.rect(e.x + i * 1.2 * k, page_h - (e.y + (top + h) * k), 0.6 * k, h * k)
    c.setFillGray(0)
    c.drawPath(p, stroke=0, fill=1)


def stroke_style(c, e):
    c.setLineWidth(e.width)
    c.setDash([2, 2] if e.dash else [])
    c.setStrokeGray(0)


def draw_static(c, e, page_h):
    if e.kind == "text":
        draw_text(c, e, e.text, page_h)
    elif e.kind == "line":
        stroke_style(c, e)
        c.line(e.x, page_h - e.y, e.w, page_h - e.h)
    else:  # rect, boxes
        bw = e.w / e.count
        stroke = e.width > 0
        if e.fill >= 0:
            c.setFillGray(e.fill)
        if stroke:
            stroke_style(c, e)
        for i in range(e.count):
            c.rect(e.x + i * bw, page_h - e.y - e.h, bw, e.h, stroke=int(stroke), fill=int(e.fill >= 0))


def render(templates, pages, path):
    c = canvas.Canvas(path, pageCompression=1, invariant=1)
    c.setCreator("reportlab yardstick")
    forms = set()
    for v in pages:
        t = templates[v["template"]]
        when = int(v["when"])
        c.setPageSize((t.width, t.height))
        for layer in t.layers:
            if layer & when != layer:
                continue
            name = "%s-%d" % (t.name, layer)
            if name not in forms:  # drawn once per file, then reused
                c.beginForm(name)
                for e in t.elements:
                    if not e.variable and e.when == layer:
                        draw_static(c, e, t.height)
                c.endForm()
                forms.add(name)
            c.doForm(name)
        for e in t.elements:
            if not e.variable or e.when & when != e.when:
                continue
            if e.kind == "barcode":
                if v["barcode"]:
                    draw_barcode(c, e, v["barcode"], t.height)
                continue
            text = PLACEHOLDER.sub(lambda m: v.get(m.group(1), ""), e.text)
            if e.kind == "qr":
                draw_qr(c, e, text, t.height)
            else:
                draw_text(c, e, text, t.height)
        c.showPage()
    c.save()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    tdir, tsv, out = sys.argv[1:]
    for name, path in FONTS.values():
        pdfmetrics.registerFont(TTFont(name, path))
    unescape = lambda v: ESCAPES.sub(lambda m: {"t": "\t", "n": "\n"}.get(m.group(1), m.group(1)), v)
    with open(tsv, encoding="utf-8") as f:
        rows = [{k: unescape(v) for k, v in (kv.split("=", 1) for kv in line.rstrip("\n").split("\t"))}
                for line in f]
    settings, pages = rows[0], rows[1:]
    postage = POSTAGE if settings.get("postage_class") else 0
    for v in pages:
        v["when"] = str(int(v["when"]) | postage)
    templates = {}
    for v in pages:
        if v["template"] not in templates:
            templates[v["template"]] = Template(os.path.join(tdir, v["template"]), settings)
    for doc in ("sheets", "inner", "outer"):
        mine = [v for v in pages if v["doc"] == doc]
        if mine:
            render(templates, mine, os.path.join(out, doc + ".pdf"))


if __name__ == "__main__":
    main()
