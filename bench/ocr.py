"""OCR engines compared on text rendered here: character accuracy and seconds per image.

    python bench/ocr.py                     # every engine this Python can load
    python bench/ocr.py --engine rapidocr   # one; results for other engines in the JSON are kept

Images (tests/ocr_images.py, Pillow, the machine's DejaVu fonts): six lines of everyday text at
10-24 px in sans, serif and mono, light and dark themes; JPEG quality 70; rotated 3 degrees; a
mail-app screenshot (title bar, a sidebar with a selected row, a message; scored on its words in any
order, since a sidebar may be read before or after the message); a phone-photo imitation (uneven
light, blur, noise, 2 degrees, JPEG 80); accented French/German/Spanish. Accuracy is
1 - edit distance / reference length, whitespace runs counted as one space. Goals (issue 25): >= 98%
on clean text >= 14 px light and dark, >= 95% on JPEG q70 and 3-degree rotation.

Engines: the ones mlx_embed.index.ocr ships (rapidocr; vision on macOS), plus two candidates it
does not: Debian's tesseract-ocr through tesserocr (`apt-get install tesseract-ocr`, `pip install
tesserocr`) and rapidocr-onnxruntime 1.4 (the older PP-OCRv4 package), each when importable; the
latter's opencv-python clashes with rapidocr's headless build, so it is measured from a separate venv
and merged into the same JSON.
The "full size" group (a 1440x900 desktop with a mail window, an A4 page at 200 dpi as a scanner's
JPEG) gives the time an indexing run meets per image. Prints a table and writes bench/results/ocr.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlx_embed.index import ocr  # noqa: E402
from mlx_embed.index.ocr import engines  # noqa: E402
from tests import ocr_images as oi  # noqa: E402

GROUPS = ["clean >=14 px light", "clean >=14 px dark", "clean 10-12 px", "JPEG q70", "rotated 3 deg",
          "screenshot (words)", "photo", "accents", "full size"]
GOALS = {"clean >=14 px light": 0.98, "clean >=14 px dark": 0.98, "JPEG q70": 0.95, "rotated 3 deg": 0.95}


def cases() -> list[tuple[str, str, object, str, bool]]:
    """(group, name, image, reference text, ordered)"""
    out = []
    a, b = "\n".join(oi.LINES[:6]), "\n".join(oi.LINES[6:])
    for theme in ("light", "dark"):
        for size in (14, 18, 24):
            out.append((f"clean >=14 px {theme}", f"sans {size} {theme}", oi.page(oi.LINES[:6], size, "sans", theme), a, True))
        for font in oi.available_fonts():
            if font != "sans":
                out.append((f"clean >=14 px {theme}", f"{font} 16 {theme}", oi.page(oi.LINES[6:], 16, font, theme), b, True))
        for size in (10, 12):
            out.append(("clean 10-12 px", f"sans {size} {theme}", oi.page(oi.LINES[:6], size, "sans", theme), a, True))
        out.append(("JPEG q70", f"sans 14 {theme}", oi.jpeg(oi.page(oi.LINES[:6], 14, "sans", theme)), a, True))
        out.append(("JPEG q70", f"serif 16 {theme}", oi.jpeg(oi.page(oi.LINES[6:], 16, "serif", theme)), b, True))
        out.append(("rotated 3 deg", f"sans 14 {theme}", oi.rotate(oi.page(oi.LINES[:6], 14, "sans", theme)), a, True))
        out.append(("rotated 3 deg", f"serif 16 {theme}", oi.rotate(oi.page(oi.LINES[6:], 16, "serif", theme)), b, True))
        img, text = oi.screenshot(14, theme)
        out.append(("screenshot (words)", f"mail 14 {theme}", img, text, False))
    img, text = oi.screenshot(12, "light")
    out.append(("screenshot (words)", "mail 12 light", img, text, False))
    out.append(("photo", "sans 20", oi.photo(oi.page(oi.LINES[:6], 20, "sans"), 0), a, True))
    out.append(("photo", "serif 24", oi.photo(oi.page(oi.LINES[6:], 24, "serif"), 1), b, True))
    out.append(("accents", "sans 16", oi.page(oi.ACCENTS, 16, "sans"), "\n".join(oi.ACCENTS), True))
    # What a run meets: a window on a 1440x900 desktop, an A4 page at 200 dpi (11 pt, JPEG like a scanner)
    img, text = oi.screenshot(13, "light")
    out.append(("full size", "screen 1440x900", oi.on_canvas(img, (1440, 900), "#5b7fa6", (200, 120)), text, False))
    lines = oi.LINES * 3
    img = oi.on_canvas(oi.page(lines, 30, "serif", margin=0), (1654, 2339), "#ffffff", (160, 200))
    out.append(("full size", "A4 200 dpi", oi.jpeg(img, 80), "\n".join(lines), True))
    return out


class Tesseract:
    """Debian's tesseract-ocr (eng) through tesserocr: grey, dark themes inverted, small images doubled."""
    name = "tesseract"
    ordered = True  # its own page layout analysis gives the reading order
    TESSDATA = ("/usr/share/tesseract-ocr/*/tessdata", "/usr/share/tessdata", "/opt/homebrew/share/tessdata",
                "/usr/local/share/tessdata")

    def load(self) -> None:
        import tesserocr

        found = [os.environ["TESSDATA_PREFIX"]] if os.environ.get("TESSDATA_PREFIX") else []
        found += sorted(d for pattern in self.TESSDATA for d in glob.glob(pattern))
        found = [d for d in found if os.path.isfile(os.path.join(d, "eng.traineddata"))]
        if not found:
            raise OSError("tesseract's English model is missing (apt-get install tesseract-ocr-eng)")
        self.api = tesserocr.PyTessBaseAPI(path=found[-1].rstrip("/") + "/", lang="eng")
        self.version = f"tesseract {tesserocr.tesseract_version().split()[1]}"

    def recognise(self, img) -> list:
        from PIL import Image, ImageOps, ImageStat
        from tesserocr import RIL

        gray = img.convert("L")
        if ImageStat.Stat(gray).mean[0] < 128:  # dark theme: tesseract reads dark on light
            gray = ImageOps.invert(gray)
        scale = 2 if gray.width * gray.height <= 4_000_000 else 1  # small UI text reads better doubled
        if scale > 1:
            gray = gray.resize((gray.width * scale, gray.height * scale), Image.Resampling.LANCZOS)
        lines = []
        self.api.SetImage(gray)
        self.api.Recognize()
        it = self.api.GetIterator()
        while it is not None:
            text = (it.GetUTF8Text(RIL.TEXTLINE) or "").strip()
            if text:
                box = tuple(v / scale for v in it.BoundingBox(RIL.TEXTLINE))
                lines.append(engines.Line(text, box, it.Confidence(RIL.TEXTLINE) / 100))
            if not it.Next(RIL.TEXTLINE):
                break
        return lines


class RapidOcrOnnxruntime:
    """rapidocr-onnxruntime 1.4 (PP-OCRv4 models in its wheel), for comparison only."""
    name = "rapidocr-onnxruntime"

    def load(self) -> None:
        from importlib import metadata

        from rapidocr_onnxruntime import RapidOCR

        self.engine = RapidOCR()
        self.version = f"rapidocr-onnxruntime {metadata.version('rapidocr-onnxruntime')}"

    def recognise(self, img) -> list:
        import numpy as np

        res, _ = self.engine(np.asarray(img)[:, :, ::-1])  # it takes OpenCV's BGR
        return [engines.Line(text, (min(p[0] for p in box), min(p[1] for p in box), max(p[0] for p in box),
                                    max(p[1] for p in box)), float(score)) for box, text, score in (res or [])]


def measure(eng, items) -> dict:
    rows = []
    for group, name, img, ref, ordered in items:
        t = time.perf_counter()
        text = ocr.read(img, eng)
        seconds = time.perf_counter() - t
        rows.append({"group": group, "case": name, "size": list(img.size), "seconds": round(seconds, 3),
                     "accuracy": round(oi.accuracy(ref, text, ordered), 4)})
    groups = {}
    for g in GROUPS:
        accs = [r["accuracy"] for r in rows if r["group"] == g]
        if accs:
            groups[g] = {"mean": round(sum(accs) / len(accs), 4), "min": min(accs), "n": len(accs)}
    full = [r["seconds"] for r in rows if r["group"] == "full size"]
    return {"version": eng.version, "seconds_per_image": round(sum(r["seconds"] for r in rows) / len(rows), 3),
            "seconds_full_size": round(sum(full) / max(1, len(full)), 3), "groups": groups, "cases": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", action="append", help="rapidocr, tesseract, vision, rapidocr-onnxruntime")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ocr.json"))
    args = ap.parse_args()
    candidates = {**engines.ENGINES, "tesseract": Tesseract, "rapidocr-onnxruntime": RapidOcrOnnxruntime}
    names = args.engine or list(candidates)
    items = cases()
    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    results.setdefault("engines", {})
    for name in names:
        eng = candidates[name]()
        t = time.perf_counter()
        try:
            eng.load()
        except (ImportError, OSError) as exc:
            print(f"{name}: not available here ({type(exc).__name__}: {exc})", file=sys.stderr)
            continue
        load_s = time.perf_counter() - t
        ocr.read(items[0][2], eng)  # warm-up (first-run allocations), not timed
        res = measure(eng, items)
        res.update(load_seconds=round(load_s, 2), load_average=round(os.getloadavg()[0], 2),
                   cpu=platform.processor() or platform.machine(), cores=os.cpu_count(), date=time.strftime("%Y-%m-%d"))
        results["engines"][name] = res
    results["goals"] = GOALS
    results["images"] = len(items)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1) + "\n")
    print_table(results)


def print_table(results: dict) -> None:
    names = list(results["engines"])
    width = max(12, *(len(n) for n in names))
    print(f"{'accuracy (mean / min)':24s}" + "".join(f"{n:>{width + 2}s}" for n in names) + "   goal")
    for g in GROUPS:
        cells = []
        for n in names:
            s = results["engines"][n]["groups"].get(g)
            cells.append(f"{s['mean']:.1%} / {s['min']:.1%}" if s else "-")
        goal = f"   >= {GOALS[g]:.0%}" if g in GOALS else ""
        print(f"{g:24s}" + "".join(f"{c:>{width + 2}s}" for c in cells) + goal)
    print(f"{'seconds per image':24s}" + "".join(f"{results['engines'][n]['seconds_per_image']:>{width + 2}.2f}" for n in names))
    print(f"{'  full size':24s}" + "".join(f"{results['engines'][n].get('seconds_full_size', 0):>{width + 2}.2f}" for n in names))
    print(f"{'load average':24s}" + "".join(f"{results['engines'][n]['load_average']:>{width + 2}.2f}" for n in names))
    print(f"{'version':24s}" + "".join(f"{results['engines'][n]['version'][-width:]:>{width + 2}s}" for n in names))


if __name__ == "__main__":
    main()
