"""Bounded image decoding for OCR: what a file's pixels cost is decided before they are decoded.

    load(data, name) -> PIL.Image   # RGB, first frame, EXIF-turned, at most MAX_PIXELS
    BadImage(reason)                # damaged, not an image, or too large to decode
    TooSmall(reason)                # below MIN_SIDE a side (icons): nothing worth reading

JPEG is decoded at a reduced scale straight away (draft mode), other formats are decoded once and
downscaled. Images over MAX_DECODE pixels are refused without being decoded.
"""

from __future__ import annotations

import io
import warnings

MIN_SIDE = 64               # icons, favicons, emoji: below this a side holds no text worth reading
MAX_PIXELS = 16_000_000     # OCR reads at most this many (a 12 MP phone photo is read whole)
MAX_DECODE = 150_000_000    # refused above: a decompression bomb or a panorama no one reads


class BadImage(Exception):
    """An image that cannot be read; `reason` says why in a few words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NotAnImage(BadImage):
    """Bytes Pillow does not recognise as any image format (a text file named .png, say)."""


class TooSmall(BadImage):
    pass


def heif_opener() -> bool:
    """Registers HEIC/HEIF with Pillow when pillow-heif is installed (phone photos)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


def load(data: bytes, name: str = "image"):
    from PIL import Image, ImageOps, UnidentifiedImageError

    heif_opener()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise BadImage(f"too large to read ({name}: over {MAX_DECODE // 1_000_000} MP)") from None
        except UnidentifiedImageError:
            raise NotAnImage(f"damaged image: {name} is not an image Pillow can read") from None
        w, h = img.size
        if w * h > MAX_DECODE:
            raise BadImage(f"too large to read ({name}: {w}x{h}, {w * h / 1e6:.0f} MP > {MAX_DECODE // 1_000_000} MP)")
        if min(w, h) < MIN_SIDE:
            # no size in the reason: `index status` groups skips by reason, and icons come in many sizes
            raise TooSmall(f"too small to read (under {MIN_SIDE} px a side)")
        try:
            if w * h > MAX_PIXELS and img.format == "JPEG":
                scale = (MAX_PIXELS / (w * h)) ** 0.5
                img.draft("RGB", (int(w * scale), int(h * scale)))  # decodes at 1/2, 1/4 or 1/8 scale
            img.seek(0)  # an animation's first frame
            img.load()
            img = ImageOps.exif_transpose(img)
            img = _flatten(img)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            detail = "truncated" if "truncated" in str(exc) else str(exc) or type(exc).__name__
            raise BadImage(f"damaged image: {name}: {detail}"[:200]) from None
    if img.width * img.height > MAX_PIXELS:
        scale = (MAX_PIXELS / (img.width * img.height)) ** 0.5
        img = img.resize((max(1, int(img.width * scale)), max(1, int(img.height * scale))), Image.Resampling.LANCZOS)
    return img


def _flatten(img):
    """RGB; transparency over white (a screenshot of a dark window keeps its own background)."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        back = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(back, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")  # 16-bit scans
    return img.convert("RGB")
