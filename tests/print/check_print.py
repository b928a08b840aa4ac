#!/usr/bin/python3
"""A print shop's preflight of kigen's PDFs, read with pikepdf (qpdf's Python binding): one TAP line
per rule and file. Usage: check_print.py [--x4] FILE.pdf...

  - every colour operator of every page, and of every form it draws, is DeviceGray (g, G, or a
    cs/CS of /DeviceGray); every image, XObject or inline, is gray or an image mask;
  - no page or form carries a transparency group in an RGB (or any non-gray) colour space;
  - every page has a TrimBox equal to its MediaBox;
  - the file has an /ID;
  - with --x4: PDF 1.6 or later, a GTS_PDFX output intent with a one-channel ICC profile, XMP
    naming PDF/X-4, /Trapped /False in the Info dictionary and in the XMP.
"""
import sys

import pikepdf

COLOUR_OPS = {"g", "G", "rg", "RG", "k", "K", "cs", "CS", "sc", "SC", "scn", "SCN", "sh"}

x4 = "--x4" in sys.argv[1:]
files = [a for a in sys.argv[1:] if a != "--x4"]


def check(rule, problems):
    if problems:
        print(f"not ok - {rule}")
        for p in problems[:10]:
            print(f"#   {p}")
    else:
        print(f"ok - {rule}")


def walk(obj, where, seen, problems):
    """Checks the content of a page or form and every form and image it uses."""
    for operands, op in pikepdf.parse_content_stream(obj):
        op = str(op)
        if op == "INLINE IMAGE":
            image = operands[0]
            if not image.image_mask and str(image.colorspace) not in ("/DeviceGray", "/CalGray"):
                problems.append(f"{where}: an inline image in {image.colorspace}")
            continue
        if op not in COLOUR_OPS:
            continue
        if op in ("g", "G"):
            continue
        if op in ("cs", "CS") and str(operands[0]) == "/DeviceGray":
            continue
        if op in ("sc", "SC", "scn", "SCN") and len(operands) == 1:
            continue  # after a gray cs (any other cs is reported itself)
        problems.append(f"{where}: {' '.join(str(o) for o in operands)} {op}")
    res = obj.get("/Resources")
    if res is None or "/XObject" not in res:
        return
    for name, x in res.XObject.items():
        key = x.objgen
        if key in seen:
            continue
        seen.add(key)
        sub = x.get("/Subtype")
        if sub == "/Form":
            group_of(x, f"{where} form {name}", problems)
            walk(x, f"{where} form {name}", seen, problems)
        elif sub == "/Image":
            if x.get("/ImageMask", False) is True:
                continue
            cs = x.get("/ColorSpace")
            if str(cs) not in ("/DeviceGray", "/CalGray"):
                problems.append(f"{where} image {name}: colour space {cs}")


def group_of(obj, where, problems):
    g = obj.get("/Group")
    if g is not None and "/CS" in g and str(g.CS) != "/DeviceGray":
        problems.append(f"{where}: transparency group in {g.CS}")


for f in files:
    name = f.rsplit("/", 1)[-1]
    with pikepdf.open(f) as pdf:
        colour, groups, trim = [], [], []
        seen = set()
        for i, page in enumerate(pdf.pages, 1):
            walk(page.obj, f"page {i}", seen, colour)
            group_of(page.obj, f"page {i}", groups)
            for key, x in page.obj.get("/Resources", {}).get("/XObject", {}).items():
                group_of(x, f"page {i} {key}", groups)
            if "/TrimBox" not in page.obj:
                trim.append(f"page {i}: no TrimBox")
            elif [float(v) for v in page.obj.TrimBox] != [float(v) for v in page.mediabox]:
                trim.append(f"page {i}: TrimBox {list(page.obj.TrimBox)} is not the MediaBox")
        check(f"{name}: every colour on every page is DeviceGray (pure K)", colour)
        check(f"{name}: no page or form has a non-gray transparency group", groups)
        check(f"{name}: every page has a TrimBox equal to its MediaBox", trim)
        ident = pdf.trailer.get("/ID")
        check(f"{name}: the file has an /ID", [] if ident is not None and len(ident) == 2 else ["no /ID"])
        if not x4:
            continue
        p = []
        if pdf.pdf_version < "1.6":
            p.append(f"PDF {pdf.pdf_version}")
        intents = pdf.Root.get("/OutputIntents", [])
        ok = [oi for oi in intents if oi.get("/S") == "/GTS_PDFX"]
        if len(ok) != 1:
            p.append(f"{len(ok)} GTS_PDFX output intents")
        else:
            prof = ok[0].get("/DestOutputProfile")
            if prof is None or int(prof.get("/N", 0)) != 1:
                p.append("the output intent has no one-channel (gray) ICC profile")
            elif bytes(prof.read_bytes()[36:40]) != b"acsp":
                p.append("the output profile is not an ICC profile")
            if not str(ok[0].get("/OutputConditionIdentifier", "")):
                p.append("no OutputConditionIdentifier")
        meta = pdf.open_metadata()
        if meta.get("pdfxid:GTS_PDFXVersion") != "PDF/X-4":
            p.append(f"XMP GTS_PDFXVersion {meta.get('pdfxid:GTS_PDFXVersion')}")
        if meta.get("pdf:Trapped") != "False" or pdf.trailer.Info.get("/Trapped") != "/False":
            p.append("Trapped is not False in both Info and XMP")
        if not meta.get("xmpMM:DocumentID"):
            p.append("no XMP DocumentID")
        check(f"{name}: identifies as PDF/X-4 with a gray output intent", p)
