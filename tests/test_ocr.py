"""OCR: images and scanned PDF pages read through the `ocr` extra, and everything around it.

Test data is rendered here (tests/ocr_images.py). The tests that run the engine are marked with
`needs_ocr` and skip without the extra; the rest (bounds, cache, layout, the not-installed path)
always run. Each OCR call costs about a second on a CPU, so the images are few and small.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlx_embed.index import ocr
from mlx_embed.index.discover import discover
from mlx_embed.index.extract import ExtractionError, extract
from mlx_embed.index.ocr import cache, images
from mlx_embed.index.ocr import pdf as ocr_pdf
from mlx_embed.index.ocr.engines import Line
from mlx_embed.index.ocr.layout import to_text
from tests import index_files as F
from tests import ocr_images as oi

pytest.importorskip("PIL")
needs_ocr = pytest.mark.skipif(not ocr.installed(), reason=f"no OCR engine here ({ocr.INSTALL})")


@pytest.fixture(autouse=True)
def ocr_cache(tmp_path, monkeypatch):
    folder = tmp_path / "ocr-cache"
    monkeypatch.setenv("MLX_EMBED_OCR_CACHE", str(folder))
    return folder


@pytest.fixture
def no_ocr(monkeypatch):
    """The `ocr` extra absent: its packages cannot be imported."""
    for module in ("rapidocr", "ocrmac"):
        monkeypatch.setitem(sys.modules, module, None)
    ocr.reset()
    yield
    ocr.reset()


def reason(path: Path) -> str:
    with pytest.raises(ExtractionError) as info:
        extract(path)
    return info.value.reason


# --- the engine on rendered text ----------------------------------------------------------------------
@needs_ocr
def test_rendered_text_light_dark_and_degraded(tmp_path):
    cases = [  # (image, reference, least accuracy): issue 25's goals
        (oi.page(oi.LINES[:6], 16, "sans", "light"), "\n".join(oi.LINES[:6]), 0.98),
        (oi.page(oi.LINES[6:], 14, "serif", "dark"), "\n".join(oi.LINES[6:]), 0.98),
        (oi.rotate(oi.jpeg(oi.page(oi.LINES[:6], 16, "mono", "light"), 70), 3), "\n".join(oi.LINES[:6]), 0.95),
    ]
    for i, (img, ref, least) in enumerate(cases):
        img.save(tmp_path / f"shot{i}.png")
        ex = extract(tmp_path / f"shot{i}.png")
        assert ex.kind == "image" and ex.note is None
        assert oi.accuracy(ref, ex.text) >= least, (i, ex.text)


@needs_ocr
def test_screenshot_words_and_rare_tokens(tmp_path):
    img, text = oi.screenshot(14, "dark")
    img.save(tmp_path / "Screenshot 2024-05-03 at 10.12.44.png")
    ex = extract(tmp_path / "Screenshot 2024-05-03 at 10.12.44.png")
    assert oi.accuracy(text, ex.text, ordered=False) >= 0.97, ex.text
    for token in ("<billing@harbourplumbing.example>", "$218.40", "Archive", "warranty."):
        assert token in ex.text.split(), token


@needs_ocr
def test_image_only_pdf_keeps_pages(tmp_path):
    scan = oi.scanned_pdf(tmp_path / "scan.pdf", [oi.page(oi.LINES[:6], 24), oi.page(oi.LINES[6:], 24, "serif")])
    ex = extract(scan)
    assert ex.kind == "pdf" and len(ex.pages) == 2 and ex.note is None
    first, second = (ex.text[slice(*p)] for p in ex.pages)
    assert oi.accuracy("\n".join(oi.LINES[:6]), first) >= 0.95, first
    assert oi.accuracy("\n".join(oi.LINES[6:]), second) >= 0.95, second


@needs_ocr
def test_mixed_pdf_reads_only_the_scanned_page(tmp_path, monkeypatch):
    from pypdf import PdfReader, PdfWriter

    typed = F.write_pdf(tmp_path / "typed.pdf", ["A typed page about the landlord and the lease renewal terms."])
    scan = oi.scanned_pdf(tmp_path / "scan.pdf", [oi.page(["Signed: Okafor, 1 September 2024"], 28)])
    w = PdfWriter()
    for part in (typed, scan):
        for page in PdfReader(part).pages:
            w.add_page(page)
    w.write(tmp_path / "mixed.pdf")
    seen = []
    real = ocr.read
    monkeypatch.setattr(ocr_pdf, "read", lambda img: seen.append(img.size) or real(img))
    ex = extract(tmp_path / "mixed.pdf")
    assert len(seen) == 1 and len(ex.pages) == 2
    assert ex.text[slice(*ex.pages[0])].startswith("A typed page about the landlord")
    assert "Okafor" in ex.text[slice(*ex.pages[1])]


@needs_ocr
def test_scanned_pdf_is_bounded(tmp_path, monkeypatch, ocr_cache):
    """Pages past MAX_PAGES are left with a note; cancel stops between pages and keeps what was read."""
    import shutil

    blank = oi.page([" "], 20)
    scan = oi.scanned_pdf(tmp_path / "long.pdf", [blank] * 5)
    monkeypatch.setattr(ocr_pdf, "MAX_PAGES", 3)
    monkeypatch.setattr(ocr_pdf, "read", lambda img: "page text")
    ex = extract(scan)
    assert ex.note == "OCR read the first 3 of 5 scanned pages" and ex.text.count("page text") == 3
    shutil.rmtree(ocr_cache)
    done = []
    texts, note = ocr_pdf.scanned_pages(scan, [0, 1, 2], progress=lambda n, total: done.append((n, total)),
                                        cancel=lambda: len(done) >= 2)
    assert texts == {0: "page text", 1: "page text"} and done == [(1, 3), (2, 3)]
    assert note == "OCR stopped after 2 of 3 scanned pages" and not ocr_cache.exists()  # partial: not cached


# --- bad input -----------------------------------------------------------------------------------------
@needs_ocr
def test_bad_images_are_reported_or_indexed(tmp_path):
    png = tmp_path / "receipt.png"
    oi.page(oi.LINES[:2], 18).save(png)
    (tmp_path / "cut.png").write_bytes(png.read_bytes()[: png.stat().st_size // 2])
    assert reason(tmp_path / "cut.png") == "damaged image: cut.png: truncated"
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    assert reason(tmp_path / "junk.jpg").startswith("damaged image: junk.jpg")
    (tmp_path / "notes.png").write_text("Actually a text file about the parking fine in Lyon.\n")
    assert extract(tmp_path / "notes.png").text.startswith("Actually a text file")
    from PIL import Image

    Image.new("RGB", (32, 32), "white").save(tmp_path / "icon.png")
    ex = extract(tmp_path / "icon.png")
    assert ex.text == "" and ex.note == "too small to read (under 64 px a side)"
    Image.linear_gradient("L").resize((400, 300)).save(tmp_path / "sky.jpg")
    ex = extract(tmp_path / "sky.jpg")
    assert ex.text == "" and ex.note == "no text found"


def test_huge_images_are_bounded(tmp_path, monkeypatch):
    from PIL import Image, ImageDraw

    big = Image.new("L", (10_000, 10_000), 255)  # 100 MP: a JPEG is decoded at a reduced scale (draft)
    ImageDraw.Draw(big).rectangle((1000, 1000, 9000, 2000), fill=0)
    big.save(tmp_path / "big.jpg", quality=80)
    img = images.load((tmp_path / "big.jpg").read_bytes(), "big.jpg")
    assert img.mode == "RGB" and img.width * img.height <= images.MAX_PIXELS and img.width == img.height
    monkeypatch.setattr(images, "MAX_DECODE", 50_000_000)
    with pytest.raises(images.BadImage, match=r"too large to read \(big.jpg: 10000x10000, 100 MP > 50 MP\)"):
        images.load((tmp_path / "big.jpg").read_bytes(), "big.jpg")
    monkeypatch.setattr(images, "MAX_PIXELS", 100_000)  # other formats: decoded, then downscaled
    Image.new("RGB", (1000, 500), "white").save(tmp_path / "wide.png")
    img = images.load((tmp_path / "wide.png").read_bytes(), "wide.png")
    assert img.size == (447, 223)


def test_image_formats_decode(tmp_path):
    from PIL import Image

    page = oi.page(["First frame text"], 20)
    for fmt in ("PNG", "JPEG", "TIFF", "WEBP", "BMP"):
        buf = tmp_path / f"page.{fmt.lower()}"
        page.save(buf, fmt)
        img = images.load(buf.read_bytes(), buf.name)
        assert img.size == page.size and img.mode == "RGB", fmt
    second = Image.new("RGB", page.size, "black")
    page.save(tmp_path / "anim.gif", save_all=True, append_images=[second], duration=100, loop=0)
    img = images.load((tmp_path / "anim.gif").read_bytes(), "anim.gif")
    assert img.getpixel((1, 1)) == (255, 255, 255)  # the first frame, not the black second one
    rgba = Image.new("RGBA", page.size, (0, 0, 0, 0))
    rgba.save(tmp_path / "clear.png")
    assert images.load((tmp_path / "clear.png").read_bytes()).getpixel((0, 0)) == (255, 255, 255)
    turned = page.copy()
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: the camera was turned 90 degrees
    turned.save(tmp_path / "turned.jpg", exif=exif)
    assert images.load((tmp_path / "turned.jpg").read_bytes()).size == (page.height, page.width)
    if images.heif_opener():
        page.save(tmp_path / "photo.heic")
        assert images.load((tmp_path / "photo.heic").read_bytes()).size == page.size


# --- without the extra ---------------------------------------------------------------------------------
def test_not_installed_is_a_skip_with_the_install_command(tmp_path, no_ocr):
    assert not ocr.installed() and ocr.engine() is None
    oi.page(oi.LINES[:2], 18).save(tmp_path / "shot.png")
    (tmp_path / "notes.txt").write_text("typed notes")
    found = {c.path.name: c for c in discover([tmp_path], report_all=True)}
    assert found["shot.png"].kind == "image" and found["shot.png"].skip == ocr.NOT_INSTALLED
    assert ocr.NOT_INSTALLED == 'OCR not installed (pip install "mlx-embed[ocr]")'
    assert [c.path.name for c in discover([tmp_path])] == ["notes.txt"]
    assert reason(tmp_path / "shot.png") == ocr.NOT_INSTALLED
    scan = oi.scanned_pdf(tmp_path / "scan.pdf", [oi.page(oi.LINES[:2], 18)])
    assert reason(scan) == f"no text layer: scanned, needs OCR ({ocr.INSTALL})"


def test_env_turns_ocr_off(monkeypatch, tmp_path):
    monkeypatch.setenv("MLX_EMBED_OCR", "none")
    (tmp_path / "shots").mkdir()
    oi.page(oi.LINES[:1], 18).save(tmp_path / "shots" / "shot.png")
    assert not ocr.installed() and ocr.engine() is None
    found = {c.path.name: c.skip for c in discover([tmp_path / "shots"], report_all=True)}
    assert found == {"shot.png": ocr.NOT_INSTALLED}


# --- cache and reading order ---------------------------------------------------------------------------
@needs_ocr
def test_cache_by_content_hash_survives_a_rename(tmp_path, ocr_cache, monkeypatch):
    oi.page(["Renamed screenshot of the boiler invoice"], 20).save(tmp_path / "a.png")
    first = extract(tmp_path / "a.png").text
    assert "boiler invoice" in first
    (tmp_path / "a.png").rename(tmp_path / "b.png")
    monkeypatch.setattr(ocr, "read", lambda *a: pytest.fail("read again"))
    assert extract(tmp_path / "b.png").text == first
    assert len(list(ocr_cache.rglob("*.txt"))) == 1


def test_cache_round_trip(tmp_path):
    store = cache.OcrCache(tmp_path / "c")
    key = cache.digest(b"bytes")
    assert store.get(key, "rapidocr 3.10.0") is None
    store.put(key, "rapidocr 3.10.0", ["page one", "", "page\fthree"])
    assert store.get(key, "rapidocr 3.10.0") == ["page one", "", "page three"]
    assert store.get(key, "vision") is None  # another engine reads again
    assert not list((tmp_path / "c").rglob("*.tmp"))


def test_reading_order_columns_and_tables():
    def box(text, x, y, w, h=20):
        return Line(text, (x, y, x + w, y + h), 1.0)

    article = [box("Title across both columns", 0, 0, 900),
               box("left one", 0, 60, 400), box("right one", 500, 60, 400),
               box("left two", 0, 90, 400), box("right two", 500, 90, 400)]
    assert to_text(article) == "Title across both columns\n\nleft one\nleft two\n\nright one\nright two"
    receipt = [box("Total", 0, 0, 60), box("$218.40", 400, 2, 80), box("Tax", 0, 30, 40), box("$12.00", 400, 30, 70)]
    assert to_text(receipt) == "Total $218.40\nTax $12.00"
    assert to_text([]) == ""
