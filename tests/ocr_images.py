"""Images with known text, rendered here with Pillow, for the OCR tests and bench/ocr.py.

    page(lines, size=18, font="sans", theme="light") -> PIL.Image   # a text block with margins
    screenshot(size=14, theme="light") -> (PIL.Image, text)         # window chrome, sidebar, panes
    jpeg(img, quality=70) / rotate(img, degrees=3) / photo(img) / on_canvas(img, size) / scanned_pdf(path, pages)
    accuracy(reference, recognised) -> float                        # 1 - normalized edit distance

Nothing is downloaded: the fonts are the machine's own (DejaVu from fonts-dejavu-core, which ./dev
installs; Liberation when present).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

FONT_DIRS = ("/usr/share/fonts", "/System/Library/Fonts", "/Library/Fonts")
FONT_FILES = {  # name -> candidate file names, first found wins
    "sans": ("DejaVuSans.ttf", "Arial.ttf", "Helvetica.ttc"),
    "serif": ("DejaVuSerif.ttf", "Times New Roman.ttf", "Times.ttc"),
    "mono": ("DejaVuSansMono.ttf", "Menlo.ttc", "Courier New.ttf"),
    "liberation": ("LiberationSans-Regular.ttf",),
}
THEMES = {"light": ("#ffffff", "#1a1a1a"), "dark": ("#1e1e1e", "#d4d4d4")}

# Everyday text of the kind people screenshot or scan: an error, a receipt, a letter, a config line.
LINES = [
    "Parking fine notice: Lyon, 14 rue de la Republique",
    "Amount due EUR 35.00 before 12 March 2024",
    "Reference number PV-2024-118734, vehicle AB-123-CD",
    "Traceback (most recent call last): KeyError 'user_id'",
    "Connection refused on port 5432 while starting postgres",
    "Invoice 4471 from Harbour Plumbing, total $218.40",
    "Dear Ms Okafor, your lease renews on 1 September",
    "Please return the signed contract by Friday",
    "Quarterly revenue grew 12% to 3.4 million",
    "Meeting moved to Thursday 10:30 in room B2",
    "Wi-Fi password: blue-otter-77 (guest network)",
    "Flight LH 1029 boards at gate 42 at 07:15",
]
ACCENTS = [
    "Avis de contravention : stationnement rue de la République",
    "Straße und Hausnummer: Müllerstraße 7, 80331 München",
    "Año fiscal: recibo nº 0042, señor Núñez",
]
SCREEN_SIDEBAR = ["Inbox", "Drafts", "Archive", "Receipts", "Travel"]
SCREEN_TITLE = "Mail - Receipts"
SCREEN_BODY = [
    "From: Harbour Plumbing <billing@harbourplumbing.example>",
    "Subject: Invoice 4471 for the boiler repair",
    "Thank you for your payment of $218.40 on 3 May.",
    "The replacement valve carries a two year warranty.",
    "Questions? Call 020 7946 0018 between 9 and 5.",
]


def font_path(name: str) -> Path | None:
    for file in FONT_FILES[name]:
        for root in FONT_DIRS:
            hits = sorted(Path(root).rglob(file)) if Path(root).is_dir() else []
            if hits:
                return hits[0]
    return None


def available_fonts() -> list[str]:
    return [name for name in FONT_FILES if font_path(name) is not None]


def _font(name: str, size: int):
    from PIL import ImageFont

    path = font_path(name)
    if path is None:
        raise FileNotFoundError(f"no {name} font on this machine (install fonts-dejavu-core)")
    return ImageFont.truetype(str(path), size)


def page(lines: list[str], size: int = 18, font: str = "sans", theme: str = "light", margin: int | None = None):
    """Lines of text at `size` pixels (the font's em), 1.5 line spacing, on a plain background."""
    from PIL import Image, ImageDraw

    bg, fg = THEMES[theme]
    f = _font(font, size)
    margin = margin if margin is not None else 2 * size
    step = round(size * 1.5)
    width = max(round(f.getlength(line)) for line in lines) + 2 * margin
    img = Image.new("RGB", (width, step * len(lines) + 2 * margin), bg)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * step), line, font=f, fill=fg)
    return img


def screenshot(size: int = 14, theme: str = "light", font: str = "sans"):
    """A mail-app-like window: title bar, a sidebar of folders, a message pane. Returns (image, text)."""
    from PIL import Image, ImageDraw

    bg, fg = THEMES[theme]
    chrome, side, accent = ("#e8e8e8", "#f3f3f3", "#2f6fde") if theme == "light" else ("#2b2b2b", "#252526", "#4c8ef7")
    f, bold = _font(font, size), _font(font, round(size * 1.2))
    step = round(size * 1.7)
    side_w = 10 * size
    body_w = max(round(f.getlength(line)) for line in SCREEN_BODY) + 4 * size
    title_h = 3 * size
    height = title_h + step * (len(SCREEN_BODY) + 3) + 2 * size
    img = Image.new("RGB", (side_w + body_w, height), bg)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, img.width, title_h), fill=chrome)
    for i, colour in enumerate(("#ff5f57", "#febc2e", "#28c840")):  # window buttons
        draw.ellipse((size + i * 1.6 * size, size, size * 1.8 + i * 1.6 * size, size * 1.8), fill=colour)
    draw.text(((img.width - f.getlength(SCREEN_TITLE)) / 2, size * 0.9), SCREEN_TITLE, font=f, fill=fg)
    draw.rectangle((0, title_h, side_w, height), fill=side)
    for i, name in enumerate(SCREEN_SIDEBAR):
        y = title_h + size + i * step
        if name == "Receipts":
            draw.rectangle((size // 2, y - size * 0.3, side_w - size // 2, y + size * 1.3), fill=accent)
        draw.text((size, y), name, font=f, fill="#ffffff" if name == "Receipts" else fg)
    x = side_w + 2 * size
    draw.text((x, title_h + size), "Invoice 4471", font=bold, fill=fg)
    for i, line in enumerate(SCREEN_BODY):
        draw.text((x, title_h + size + (i + 2) * step), line, font=f, fill=fg)
    text = "\n".join([SCREEN_TITLE, *SCREEN_SIDEBAR, "Invoice 4471", *SCREEN_BODY])
    return img, text


def on_canvas(img, size: tuple[int, int], colour: str | None = None, at: tuple[int, int] = (0, 0)):
    """`img` placed on a larger canvas: a window on a desktop, a text block on a full page."""
    from PIL import Image

    canvas = Image.new("RGB", size, colour or img.getpixel((0, 0)))
    canvas.paste(img, at)
    return canvas


def jpeg(img, quality: int = 70):
    from PIL import Image

    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def rotate(img, degrees: float = 3.0):
    from PIL import Image

    bg = img.getpixel((0, 0))
    return img.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=bg)


def photo(img, seed: int = 0):
    """A phone photo of a page: uneven light, slight blur and sensor noise, 2 degrees off, JPEG."""
    from PIL import Image, ImageChops, ImageFilter

    w, h = img.size
    light = Image.linear_gradient("L").resize((w, h)).point(lambda v: 255 - v * 70 // 255)  # 255 -> 185
    lit = ImageChops.multiply(img.convert("RGB"), Image.merge("RGB", [light] * 3))
    noise = Image.effect_noise((w, h), 18)  # grey around 128
    noisy = Image.blend(lit, Image.merge("RGB", [noise] * 3), 0.12)
    return jpeg(rotate(noisy.filter(ImageFilter.GaussianBlur(0.7)), 2.0 if seed % 2 == 0 else -2.0), 80)


def scanned_pdf(path: Path, pages: list, dpi: int = 150) -> Path:
    """An image-only PDF (no text layer), one image per page, as a scanner writes it."""
    first, *rest = [p.convert("RGB") for p in pages]
    first.save(path, "PDF", resolution=dpi, save_all=True, append_images=rest)
    return path


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def edit_distance(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def accuracy(reference: str, recognised: str, ordered: bool = True) -> float:
    """Character accuracy, 1 - edit distance / reference length, whitespace runs counted as one space.

    ordered=False compares the words sorted (a layout whose blocks an engine may read in another order)."""
    ref, hyp = normalize(reference), normalize(recognised)
    if not ordered:
        ref, hyp = " ".join(sorted(ref.split())), " ".join(sorted(hyp.split()))
    return max(0.0, 1.0 - edit_distance(ref, hyp) / max(1, len(ref)))
