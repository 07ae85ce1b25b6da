"""The OCR engines, each a `recognise(image) -> list[Line]` over an RGB PIL image.

    Vision     macOS: Apple's Vision framework through ocrmac (Live Text's recogniser, no download)
    RapidOCR   elsewhere: PP-OCRv6 models run by onnxruntime; the models ship inside the rapidocr wheel

Chosen by bench/ocr.py: rapidocr read rotated, photographed, accented and screenshot text far better
than Debian's tesseract (kept there for comparison), at several times its seconds per image.

`load()` raises ImportError (or OSError for a missing model) when an engine cannot run here.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from importlib import metadata


@dataclass
class Line:
    text: str
    box: tuple[float, float, float, float]  # left, top, right, bottom in pixels
    score: float


class Vision:
    name = "vision"
    module = "ocrmac"

    def load(self) -> None:
        from ocrmac import ocrmac  # noqa: F401  (pyobjc's Vision bindings come with it)

        self.version = f"vision (ocrmac {metadata.version('ocrmac')})"

    def recognise(self, img) -> list[Line]:
        from ocrmac import ocrmac

        w, h = img.size
        lines = []
        for text, score, (x, y, bw, bh) in ocrmac.OCR(img, recognition_level="accurate").recognize():
            # Vision boxes are normalised with the origin at the bottom left.
            lines.append(Line(text, (x * w, (1 - y - bh) * h, (x + bw) * w, (1 - y) * h), float(score)))
        return lines


class RapidOCR:
    name = "rapidocr"
    module = "rapidocr"

    def load(self) -> None:
        import rapidocr
        from rapidocr import RapidOCR as Engine

        models = glob.glob(os.path.join(os.path.dirname(rapidocr.__file__), "models", "*.onnx"))
        if len(models) < 2:  # the default models ship in the wheel; never let it download them
            raise OSError("rapidocr's models are missing from its package")
        self.version = f"rapidocr {metadata.version('rapidocr')}"
        # Without its line-direction model: it turned a right-way-up line of a dark screenshot over
        # (bench: 85% on that image); the price is that an upside-down scan reads poorly.
        self.engine = Engine(params={"Global.log_level": "error", "Global.use_cls": False})

    def recognise(self, img) -> list[Line]:
        out = self.engine(img)
        if not out.txts:
            return []
        lines = []
        for text, score, box in zip(out.txts, out.scores, out.boxes):
            xs, ys = [p[0] for p in box], [p[1] for p in box]
            lines.append(Line(text, (min(xs), min(ys), max(xs), max(ys)), float(score)))
        return lines


ENGINES = {"vision": Vision, "rapidocr": RapidOCR}
