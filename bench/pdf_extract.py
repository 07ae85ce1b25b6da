"""PDF text extraction, pypdf vs pypdfium2 (PDFium): speed, text order and word accuracy, failures.

    QT_QPA_PLATFORM=offscreen python bench/pdf_extract.py [--reps 3] [--keep DIR]

The corpus: every PDF over 10 KB on this machine (`find / -name '*.pdf' -size +10k`: only 2 here, both
in /usr/share/doc, no ground truth) plus PDFs made here from real text, with Qt's PDF writer (the one
PDF producer installed; no LaTeX, LibreOffice or Ghostscript): 24 documents from /usr/share/doc
(README, changelog, copyright files) and Python's stdlib sources, in 1-column, 2-column, small-print and
heading-rich layouts; 3 truncated copies (damaged), 2 encrypted copies (pypdf's writer, RC4 and an empty
user password: readable without one), 2 with a user password (unreadable), 1 image-only page (needs OCR).
For the made ones the true text is known (QTextDocument.toPlainText), so each extraction gets
  order  difflib's ratio between the true and the extracted word sequences (1.0: same words, same order)
  words  F1 of the word multisets (split or glued words lower it)
Timings: each library in turn per file, --reps rounds, median per file; summed over the files both read.
Prints a table; writes bench/results/pdf_extract.json.
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORD = re.compile(r"\w+")


# --- the corpus -------------------------------------------------------------------------------------
def real_texts(n: int) -> list[tuple[str, str]]:
    """(name, text) of real prose and code from this machine."""
    out: list[tuple[str, str]] = []
    for path in sorted(Path("/usr/share/doc").glob("*/*")):
        if len(out) >= n * 2 // 3:
            break
        if not path.is_file() or not re.search(r"README|changelog|copyright|NEWS", path.name):
            continue
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
            continue
        if 3000 < len(text) < 60000:
            out.append((f"doc-{path.parent.name}-{path.stem}", text[:20000]))
    import email, json as _json, textwrap as _tw  # noqa: E401  (stdlib sources as real code text)
    for mod in (email, _json, _tw, argparse, difflib, statistics, re, tempfile):
        if len(out) >= n:
            break
        src = Path(mod.__file__).read_text(encoding="utf-8")
        out.append((f"py-{mod.__name__}", src[:20000]))
    return out[:n]


def html_for(text: str, layout: str) -> str:
    from html import escape

    paras = [p for p in text.split("\n\n") if p.strip()]
    body = "".join(f"<p>{escape(p)}</p>" for p in paras)
    if layout == "two-column":
        half = len(paras) // 2
        left = "".join(f"<p>{escape(p)}</p>" for p in paras[:half])
        right = "".join(f"<p>{escape(p)}</p>" for p in paras[half:])
        return f"<table width='100%'><tr><td width='50%' valign='top'>{left}</td><td valign='top'>{right}</td></tr></table>"
    if layout == "small":
        return f"<div style='font-size:6pt'>{body}</div>"
    if layout == "headings":
        return "".join(f"<h2>{escape(p.splitlines()[0][:60])}</h2><p>{escape(p)}</p>" for p in paras)
    return body


def make_corpus(folder: Path, n_docs: int = 24) -> dict[str, str]:
    """Write the made PDFs into `folder`; return {file name: true text} (None for no ground truth)."""
    from PySide6.QtCore import QMarginsF, QSizeF
    from PySide6.QtGui import QGuiApplication, QImage, QPageSize, QPainter, QPdfWriter, QTextDocument, QColor

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841  (fonts need it)
    truth: dict[str, str] = {}
    layouts = ["one-column", "two-column", "small", "headings"]
    for i, (name, text) in enumerate(real_texts(n_docs)):
        layout = layouts[i % len(layouts)]
        doc = QTextDocument()
        doc.setHtml(html_for(text, layout))
        out = folder / f"{name}-{layout}.pdf"
        writer = QPdfWriter(str(out))
        writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        writer.setPageMargins(QMarginsF(15, 15, 15, 15))
        writer.setResolution(300)
        doc.setPageSize(QSizeF(writer.width(), writer.height()))
        doc.print_(writer)
        del writer
        truth[out.name] = doc.toPlainText()
    made = sorted(folder.glob("*.pdf"))
    for src in made[:3]:                                      # damaged: cut in the middle
        data = src.read_bytes()
        (folder / f"truncated-{src.name}").write_bytes(data[: len(data) // 2])
        truth[f"truncated-{src.name}"] = None
    from pypdf import PdfReader, PdfWriter

    for j, src in enumerate(made[3:7]):
        w = PdfWriter(clone_from=PdfReader(src))
        user = "" if j < 2 else "secret"
        w.encrypt(user_password=user, owner_password="owner", algorithm="RC4-128")
        name = f"{'encrypted-open' if j < 2 else 'encrypted-locked'}-{src.name}"
        with open(folder / name, "wb") as f:
            w.write(f)
        truth[name] = truth[src.name] if j < 2 else None
    img = QImage(800, 1000, QImage.Format.Format_RGB32)       # a "scan": text drawn into pixels
    img.fill(QColor("white"))
    p = QPainter(img)
    p.drawText(50, 100, "This page is an image of text: a scanned letter.")
    p.end()
    writer = QPdfWriter(str(folder / "scanned-image-only.pdf"))
    painter = QPainter(writer)
    painter.drawImage(0, 0, img)
    painter.end()
    del painter, writer
    truth["scanned-image-only.pdf"] = None
    return truth


# --- the two extractors (the same per-page logic as mlx_embed/index/extract/pdf.py) -------------------
def with_pypdf(path: Path) -> list[str]:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(path, strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        raise RuntimeError("encrypted")
    return [(page.extract_text() or "").strip() for page in reader.pages]


def with_pdfium(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        out = []
        for i in range(len(pdf)):
            page = pdf[i]
            tp = page.get_textpage()
            out.append(tp.get_text_range().replace("\r\n", "\n").replace("\r", "\n").strip())
            tp.close()
            page.close()
        return out
    finally:
        pdf.close()


LIBS = {"pypdf": with_pypdf, "pypdfium2": with_pdfium}


def scores(true: str, got: str) -> dict[str, float]:
    t, g = WORD.findall(true.lower()), WORD.findall(got.lower())
    order = difflib.SequenceMatcher(None, t, g, autojunk=False).ratio() if t and g else 0.0
    ct, cg = Counter(t), Counter(g)
    hit = sum((ct & cg).values())
    p, r = hit / max(1, sum(cg.values())), hit / max(1, sum(ct.values()))
    return {"order": round(order, 4), "words_f1": round(2 * p * r / (p + r) if p + r else 0.0, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--keep", default=None, help="write the made PDFs here (default: a temporary folder)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "pdf_extract.json"))
    args = ap.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="pdf-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    truth = make_corpus(folder)
    found = subprocess.run("find / -name '*.pdf' -size +10k 2>/dev/null | grep -v -e '^/proc' -e '^/tmp'",
                           shell=True, capture_output=True, text=True).stdout.split()
    files = [Path(p) for p in found] + sorted(folder.glob("*.pdf"))
    load = os.getloadavg()
    rows = []
    for path in files:
        row = {"file": path.name, "real": str(path) in found}
        times: dict[str, list[float]] = {lib: [] for lib in LIBS}
        for _ in range(args.reps):
            for lib, fn in LIBS.items():
                t0 = time.perf_counter()
                try:
                    pages = fn(path)
                    err = None
                except Exception as exc:  # noqa: BLE001  (a failure is a result here)
                    pages, err = None, f"{type(exc).__name__}: {exc}"[:120]
                times[lib].append(time.perf_counter() - t0)
                row[lib] = {"error": err, "pages": len(pages) if pages is not None else None,
                            "chars": sum(len(p) for p in pages) if pages is not None else None}
                if pages is not None and truth.get(path.name):
                    row[lib].update(scores(truth[path.name], "\n\n".join(pages)))
        for lib in LIBS:
            row[lib]["seconds"] = round(statistics.median(times[lib]), 5)
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {}
    both = [r for r in rows if all(r[lib]["error"] is None for lib in LIBS)]
    scored = [r for r in both if "order" in r["pypdf"] and "order" in r["pypdfium2"]]
    for lib in LIBS:
        summary[lib] = {
            "seconds_total": round(sum(r[lib]["seconds"] for r in both), 3),
            "errors": sum(r[lib]["error"] is not None for r in rows),
            "empty": sum(r[lib]["error"] is None and not r[lib]["chars"] for r in rows),
            "order_mean": round(statistics.mean(r[lib]["order"] for r in scored), 4),
            "order_min": round(min(r[lib]["order"] for r in scored), 4),
            "words_f1_mean": round(statistics.mean(r[lib]["words_f1"] for r in scored), 4),
        }
    result = {"files": len(rows), "real_files": len(found), "scored": len(scored), "read_by_both": len(both),
              "reps": args.reps, "load": load, "summary": summary, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"\n{len(rows)} PDFs ({len(found)} found on this machine, {len(rows) - len(found)} made here), "
          f"{len(scored)} with known text; load {load[0]:.1f}")
    print("| library | time, files both read | failures (exception) | empty text | order mean / min | words F1 |")
    print("|---|---|---|---|---|---|")
    for lib, s in summary.items():
        print(f"| {lib} | {s['seconds_total']:.2f} s | {s['errors']} | {s['empty']} | {s['order_mean']:.3f} / "
              f"{s['order_min']:.3f} | {s['words_f1_mean']:.3f} |")
    for r in rows:
        a, b = r["pypdf"], r["pypdfium2"]
        if (a["error"] is None) != (b["error"] is None) or bool(a["chars"]) != bool(b["chars"]):
            print(f"  differs on {r['file']}: pypdf {a['error'] or a['chars']} / pypdfium2 {b['error'] or b['chars']}")


if __name__ == "__main__":
    main()
