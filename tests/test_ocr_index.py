"""OCR inside the index: images and scanned PDFs through `Index.run`, the CLI and `index status`.

What tests/test_ocr.py checks file by file (the engine, bounds, cache, reading order) is taken as given
here; these tests check what the indexer does with it: the not-installed skip and its retry once OCR
is there, "no text found" as a skip and not a failure, the index's own OCR cache, the "ocr" timing,
page progress and cancel on a scanned PDF, and search finding the recognised text (real MiniLM).
The extra is "absent" through MLX_EMBED_OCR=none (what a user sets to turn OCR off), which makes
ocr.installed() false exactly as a missing package does.
"""

from __future__ import annotations

import json
import threading

import pytest

from mlx_embed.index import Index, ocr
from mlx_embed.index.ocr import cache
from tests import ocr_images as oi

pytest.importorskip("PIL")
needs_ocr = pytest.mark.skipif(not ocr.installed(), reason=f"no OCR engine here ({ocr.INSTALL})")


@pytest.fixture(autouse=True)
def user_cache(tmp_path, monkeypatch):
    """The user-wide OCR cache: an index must not use it (it has its own, next to its database)."""
    folder = tmp_path / "user-ocr-cache"
    monkeypatch.setenv("MLX_EMBED_OCR_CACHE", str(folder))
    return folder


def cached_files(folder) -> list:
    return sorted(p for p in folder.rglob("*.txt")) if folder.exists() else []


def statuses(ix: Index) -> dict[str, tuple[str, str | None]]:
    return {r["path"].rsplit("/", 1)[-1]: (r["status"], r["reason"])
            for r in ix.store.db.execute("SELECT path, status, reason FROM files WHERE is_dir = 0")}


@needs_ocr
def test_skipped_without_ocr_then_indexed_once_it_is_installed(tmp_path, minilm_path, monkeypatch, user_cache):
    docs = tmp_path / "docs"
    docs.mkdir()
    img, _ = oi.screenshot(14, "light")
    img.save(docs / "shot.png")
    oi.scanned_pdf(docs / "scan.pdf", [oi.page(oi.LINES[:3], 24)])
    (docs / "notes.txt").write_text("Typed notes about the garden fence and the hedge.")
    monkeypatch.setenv("MLX_EMBED_OCR", "none")
    ix = Index(tmp_path / "ix", model=str(minilm_path))
    ix.add_folder(docs)
    stats = ix.run()
    assert stats.failed == 0 and stats.indexed == 1 and stats.skipped == 2
    assert statuses(ix) == {"notes.txt": ("indexed", None), "shot.png": ("skipped", ocr.NOT_INSTALLED),
                            "scan.pdf": ("skipped", f"no text layer: scanned, needs OCR ({ocr.INSTALL})")}
    assert ix.status().skipped_reasons[ocr.NOT_INSTALLED] == 1
    assert ix.run().skipped == 0 and statuses(ix)["scan.pdf"][0] == "skipped"  # not retried while still missing

    monkeypatch.delenv("MLX_EMBED_OCR")  # "installed": size and mtime did not change, the scan re-queues them
    stats = ix.run()
    assert stats.indexed == 2 and stats.failed == stats.skipped == 0, stats
    assert set(statuses(ix).values()) == {("indexed", None)}
    assert ix.search("boiler repair invoice", k=1)[0].path.name == "shot.png"
    assert ix.search("Republique", k=1, mode="keyword")[0].path.name == "scan.pdf"
    assert stats.timings["ocr"] > 0.1 and stats.timings["extract"] >= 0  # recognition timed on its own
    # the index's own cache holds the recognised text; the user-wide one was not touched
    assert len(cached_files(cache.for_index(ix.path))) == 2 and cached_files(user_cache) == []
    ix.close()


@needs_ocr
def test_old_no_text_layer_failures_are_retried_only_with_ocr(tmp_path, minilm_path, monkeypatch):
    """An index from before OCR failed scans with the bare reason; a scan re-queues them once OCR is
    there, and never while it is missing (that would re-read every scan on every update)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    oi.scanned_pdf(docs / "scan.pdf", [oi.page(oi.LINES[:1], 24)])
    monkeypatch.setenv("MLX_EMBED_OCR", "none")
    ix = Index(tmp_path / "ix", model=str(minilm_path))
    ix.add_folder(docs)
    ix.run()
    ix.store.db.execute("UPDATE files SET status = 'failed', reason = 'no text layer: scanned, needs OCR'")
    ix.store.db.commit()
    assert ix.run().changed == 0 and statuses(ix)["scan.pdf"][0] == "failed"
    monkeypatch.delenv("MLX_EMBED_OCR")
    stats = ix.run()
    assert stats.changed == 1 and stats.indexed == 1 and statuses(ix)["scan.pdf"] == ("indexed", None)
    ix.close()


@needs_ocr
def test_no_text_and_icons_are_skips_with_their_note(tmp_path, minilm_path):
    from PIL import Image

    docs = tmp_path / "docs"
    docs.mkdir()
    Image.new("RGB", (400, 300), "#3a7bd5").save(docs / "sky.png")        # a photo with no writing
    oi.page(["OK"], 12).resize((32, 32)).save(docs / "icon.png")           # an icon: not worth reading
    oi.scanned_pdf(docs / "blank-scan.pdf", [Image.new("RGB", (600, 800), "white")])
    ix = Index(tmp_path / "ix", model=str(minilm_path))
    ix.add_folder(docs)
    stats = ix.run()
    assert stats.failed == 0 and stats.skipped == 3
    assert statuses(ix) == {"sky.png": ("skipped", "no text found"),
                            "icon.png": ("skipped", "too small to read (under 64 px a side)"),
                            "blank-scan.pdf": ("skipped", "no text found")}
    assert ix.status().skipped_reasons == {"no text found": 2, "too small to read (under 64 px a side)": 1}
    assert ix.run().changed == 0  # a skip with a note is settled: not retried by the next update
    ix.close()


@needs_ocr
def test_scanned_pdf_reports_pages_and_a_cancel_keeps_it_pending(tmp_path, minilm_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    oi.scanned_pdf(docs / "contract.pdf", [oi.page(oi.LINES[i:i + 2], 22) for i in (0, 6, 9)])
    ix = Index(tmp_path / "ix", model=str(minilm_path))
    ix.add_folder(docs)
    cancel = threading.Event()
    seen: list[str] = []

    def progress(p):
        if p.detail:
            seen.append(f"{p.detail}: {p.current.rsplit('/', 1)[-1]}")
            if p.detail == "OCR page 1 of 3":
                cancel.set()

    stats = ix.run(progress=progress, cancel=cancel)
    assert stats.cancelled and seen == ["OCR page 1 of 3: contract.pdf"]
    assert statuses(ix)["contract.pdf"] == ("pending", None)              # neither half-indexed nor failed
    assert cached_files(cache.for_index(ix.path)) == []                   # a part-read scan is not cached
    seen.clear()
    stats = ix.run(progress=progress)
    assert not stats.cancelled and stats.indexed == 1
    assert seen == [f"OCR page {n} of 3: contract.pdf" for n in (1, 2, 3)]
    hit = ix.search("Okafor", k=1, mode="keyword")[0]
    assert hit.path.name == "contract.pdf" and hit.passages[0].page == 2
    ix.close()


# --- end to end through the CLI ------------------------------------------------------------------------
@needs_ocr
def test_cli_finds_scans_and_screenshots_by_meaning_and_by_a_rare_word(tmp_path, minilm_path, capsys, monkeypatch):
    """The issue's goal: an image-only PDF and a screenshot found by what they say (a query in other
    words) and by a rare word they contain, through `mlx-embed index add` + `search --json`."""
    from mlx_embed.cli import main

    monkeypatch.delenv("MLX_EMBED_MODEL", raising=False)
    docs = tmp_path / "docs"
    docs.mkdir()
    oi.scanned_pdf(docs / "scan0042.pdf", [oi.page(oi.LINES[:3], 24), oi.page(oi.LINES[6:9], 24, "serif")])
    img, _ = oi.screenshot(14, "light")
    img.save(docs / "Screenshot 2024-05-03.png")
    for name, text in {"soup.md": "Simmer the leeks and potatoes for twenty minutes, then blend the soup.",
                       "trip.txt": "Hiking route: from the lake to the ridge, three hours, bring water.",
                       "server.py": "def start(port):\n    return http.server.HTTPServer(('', port), Handler)\n"}.items():
        (docs / name).write_text(text)
    db = str(tmp_path / "index.db")
    assert main(["index", "add", str(docs), "--model", str(minilm_path), "--index", db]) == 0
    capsys.readouterr()
    assert main(["index", "status", "--json", "--index", db]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["counts"]["indexed"] == 5 and status["counts"]["failed"] == 0
    assert status["kinds"]["image"] == 1 and status["kinds"]["pdf"] == 1

    def top(query: str, mode: str = "hybrid", *extra: str) -> dict:
        assert main(["search", query, "--json", "--index", db, "--mode", mode, *extra]) == 0
        return json.loads(capsys.readouterr().out)["results"][0]

    hit = top("penalty for leaving my car in the street in Lyon", "dense")
    assert hit["path"].endswith("scan0042.pdf") and hit["passages"][0]["page"] == 1
    hit = top("Okafor", "keyword")
    assert hit["path"].endswith("scan0042.pdf") and hit["passages"][0]["page"] == 2
    hit = top("bill for fixing the boiler", "dense")
    assert hit["path"].endswith("Screenshot 2024-05-03.png")
    assert "warranty" in " ".join(p["text"] for p in top("warranty", "keyword")["passages"])  # the recognised text
    assert top("warranty", "hybrid", "--type", "image")["path"].endswith("Screenshot 2024-05-03.png")


# --- organize -------------------------------------------------------------------------------------------
@needs_ocr
def test_organize_reads_images_and_counts_them_in_progress(tmp_path, minilm_path, monkeypatch):
    """Cluster/classify/dupes see screenshots by their text, and progress moves (and can cancel) while
    the slow OCR reads go on, not only once a batch of 64 files is done."""
    import mlx_embed
    from mlx_embed.organize import vectors
    from mlx_embed.organize.files import collect_files

    docs = tmp_path / "docs"
    docs.mkdir()
    img, _ = oi.screenshot(14, "light")
    img.save(docs / "receipt.png")
    oi.page(oi.LINES[3:5], 20, "mono", "dark").save(docs / "terminal.png")
    (docs / "plumber.txt").write_text("The plumber fixed the boiler valve; the invoice was paid in May.")
    (docs / "db.txt").write_text("postgres would not start: the port was already taken by another server.")
    files = collect_files([docs])
    assert [p.name for p in files] == ["db.txt", "plumber.txt", "receipt.png", "terminal.png"]
    model = mlx_embed.load(str(minilm_path))
    monkeypatch.setattr(vectors, "READ_REPORT_SECONDS", 0.0)  # every file read is reported
    calls: list[tuple[int, int]] = []
    fv = vectors.embed_files(model, files, "clustering", progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)] and fv.skipped == {}  # the count at once, then each file
    sims = fv.vectors @ fv.vectors.T
    names = [p.name for p in fv.paths]
    assert names[int(sims[names.index("receipt.png")].argsort()[-2])] == "plumber.txt"
    assert names[int(sims[names.index("terminal.png")].argsort()[-2])] == "db.txt"

    class Stop(Exception):
        pass

    def stop(done, total):
        raise Stop

    with pytest.raises(Stop):  # cancel inside the batch, between two reads
        vectors.embed_files(model, files, "clustering", progress=stop)


# --- the app --------------------------------------------------------------------------------------------
def test_thumbnails_decode_small_heic_too_and_refuse_junk(qapp, tmp_path):
    pytest.importorskip("PySide6")
    from app.itemmodels.thumbnails import decode
    from mlx_embed.index.ocr import images

    img, _ = oi.screenshot(14, "light")
    img.save(tmp_path / "shot.png")
    q = decode(str(tmp_path / "shot.png"), 56)
    assert (q.width(), q.height()) == (56, round(56 * img.height / img.width))
    oi.page(["OK"], 12).resize((20, 10)).save(tmp_path / "tiny.png")
    assert decode(str(tmp_path / "tiny.png"), 56).width() == 20  # never enlarged
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    assert decode(str(tmp_path / "junk.png"), 56) is None
    if images.heif_opener():  # Qt cannot read HEIC: Pillow + pillow-heif do
        img.save(tmp_path / "photo.heic")
        assert decode(str(tmp_path / "photo.heic"), 56).width() == 56


@needs_ocr
def test_app_search_shows_image_results_with_a_thumbnail(qapp, qtbot, tmp_path, minilm_path, monkeypatch):
    """The Search screen: the type filter's "Images" entry, a thumbnail decoded off the GUI thread, the
    recognised text as the passage, and Enter opens the image like any file."""
    pytest.importorskip("PySide6")
    from PySide6.QtCore import Qt

    from app.itemmodels.common import PassageRole
    from tests.test_app import SHOTS, drop, make_settings, shot, wait_until
    from app.main import build, start

    monkeypatch.setenv("MLX_EMBED_LABELS_DIR", str(tmp_path / "label-sets"))
    monkeypatch.setenv("MLX_EMBED_JOURNAL_DIR", str(tmp_path / "journals"))
    docs = tmp_path / "Pictures"
    docs.mkdir()
    img, _ = oi.screenshot(14, "light")
    img.save(docs / "Screenshot 2024-05-03 at 09.12.png")
    oi.page(oi.LINES[:3], 22).save(docs / "parking-fine.jpg", quality=85)
    (docs / "boiler-notes.txt").write_text("Notes for the landlord: the boiler pressure drops every week.")
    session, window, _tray = build(make_settings(tmp_path, minilm_path, tmp_path / "index"), tray=False, app=qapp)
    try:
        window.resize(1000, 560)
        window.show()
        start(session, window)
        assert wait_until(lambda: session.index is not None, 120)
        assert drop(window, [docs])
        assert wait_until(lambda: session.runs_finished >= 1, 300)
        window.show_page("search")
        view = window.views["search"]
        images = next(i for i in range(view.kind_filter.count()) if view.kind_filter.itemData(i) == ["image"])
        assert view.kind_filter.itemText(images) == "Images (screenshots, photos)"
        view.kind_filter.setCurrentIndex(images)
        qtbot.keyClicks(view.field, "invoice for the boiler repair")
        assert wait_until(lambda: view.model.query == "invoice for the boiler repair" and view.model.rowCount() > 0, 60)
        assert [h.kind for h in view.model.hits] == ["image", "image"]  # the .txt is filtered out
        assert view.model.hit(0).name.startswith("Screenshot")
        assert "boiler" in view.model.index(0).data(PassageRole).lower()  # the recognised text
        first = view.model.index(0).data(Qt.ItemDataRole.DecorationRole)   # asks for the thumbnail
        assert view.model.thumbnails.wait(10_000)
        assert wait_until(lambda: view.model.thumbnails.icon(str(view.model.hit(0).path)) is not None, 10)
        thumb = view.model.index(0).data(Qt.ItemDataRole.DecorationRole)
        assert thumb is not first and thumb.availableSizes(), "the thumbnail replaced the file-type icon"
        size = thumb.availableSizes()[0]
        assert max(size.width(), size.height()) == 56 and size.width() > size.height()  # a wide screenshot, shrunk
        opened = []
        monkeypatch.setattr("app.platform.open_path", lambda p, *_: opened.append(p) or True)
        view.list.setCurrentIndex(view.model.index(0))
        qtbot.keyClick(view.field, Qt.Key.Key_Return)
        assert opened == [str(view.model.hit(0).path)]
        window.statusBar().clearMessage()
        path = shot(window, "search-images")
        assert path.parent == SHOTS
    finally:
        session.shutdown()
        window.close()
