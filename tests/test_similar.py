"""Find similar (Index.similar, `mlx-embed similar`), "more / less like this" (Index.refine), and group
names that are safe folder names. Real all-MiniLM-L6-v2 on a small folder of three topics."""

from __future__ import annotations

import json
import random
import shutil
import string

import numpy as np
import pytest

from mlx_embed.index import Index
from mlx_embed.index.chunk_encoder import ChunkEncoder

TOPICS = {
    "bread": ["Knead the dough for ten minutes until it is smooth, then let the yeast rise in a warm kitchen.",
              "A sourdough starter needs flour and water every day; bake the loaf in a hot oven with steam.",
              "Rye bread keeps longer than white bread; proof the dough overnight in the fridge before baking.",
              "Brioche dough is rich with butter and eggs; shape the rolls and bake them until golden brown."],
    "mars": ["The rover drove across the red Martian surface and photographed ancient river deltas.",
             "Mars has two small moons, Phobos and Deimos; its thin atmosphere is mostly carbon dioxide.",
             "The lander measured marsquakes to learn about the interior of the red planet.",
             "A helicopter flew in the thin Martian air, scouting rocks for the rover to sample."],
    "tax": ["File your income tax return before April; keep the receipts for deductible expenses.",
            "The invoice lists the amount due, the VAT rate and the payment terms of thirty days.",
            "Self-employed workers pay estimated tax every quarter and deduct their home office.",
            "Keep invoices and receipts for seven years in case the tax office asks for an audit."],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory, minilm_path):
    root = tmp_path_factory.mktemp("similar")
    docs = root / "docs"
    for topic, texts in TOPICS.items():
        for i, text in enumerate(texts):
            (docs / topic).mkdir(parents=True, exist_ok=True)
            (docs / topic / f"note{i}.txt").write_text(text + "\n")
    with Index(root / "ix", model=str(minilm_path)) as ix:
        ix.add_folder(docs)
        ix.run()
    return root


def _no_model(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the model ran")
    monkeypatch.setattr(ChunkEncoder, "documents", refuse)
    monkeypatch.setattr(ChunkEncoder, "query", refuse)


def test_indexed_file_uses_stored_vectors_and_no_model(built, monkeypatch):
    _no_model(monkeypatch)
    with Index(built / "ix", model=None) as ix:
        found = ix.similar(built / "docs" / "mars" / "note0.txt", k=3)
        assert ix._model is None and ix._encoder is None           # never loaded, let alone run
    assert found.stored and len(found.results) == 3
    assert all(m.path.parent.name == "mars" for m in found.results)
    assert all(m.path.name != "note0.txt" or m.path.parent.name != "mars" for m in found.results)   # not itself
    best = found.results[0]
    assert best.passage is not None and best.source_passage is not None
    assert "rover" in best.source_passage.text or "Martian" in best.source_passage.text
    assert best.score >= found.results[-1].score


def test_outside_file_is_embedded_and_nothing_is_stored(built, tmp_path):
    outside = tmp_path / "baking.txt"
    outside.write_text("Let the bread dough rise twice, then bake it in a very hot oven until the crust is dark.")
    with Index(built / "ix", model=None) as ix:
        before = (ix.store.chunk_count(), ix.store.generation(), len(ix.store.indexed_paths()))
        found = ix.similar(outside, k=3)
        after = (ix.store.chunk_count(), ix.store.generation(), len(ix.store.indexed_paths()))
    assert before == after
    assert not found.stored
    assert [m.path.parent.name for m in found.results] == ["bread"] * 3


def test_near_identical_copies_are_marked_not_similar(built, tmp_path, monkeypatch, minilm_path):
    root = tmp_path / "copies"
    shutil.copytree(built / "docs", root / "docs")
    src = root / "docs" / "tax" / "note1.txt"
    (root / "docs" / "tax" / "note1 copy.txt").write_text(src.read_text().replace("thirty", "30"))
    (root / "docs" / "tax" / "note1 exact.txt").write_bytes(src.read_bytes())
    with Index(root / "ix", model=str(minilm_path)) as ix:
        ix.add_folder(root / "docs")
        ix.run()
    _no_model(monkeypatch)
    with Index(root / "ix", model=None) as ix:
        found = ix.similar(src, k=5)
        dup_names = {m.path.name for m in found.duplicates}
        assert dup_names == {"note1 copy.txt", "note1 exact.txt"}
        assert all(m.duplicate for m in found.duplicates)
        assert not {m.path.name for m in found.results} & dup_names
        assert found.results and all(not m.duplicate for m in found.results)
        # an outside file with the bytes of an indexed one borrows its vectors: no model run either
        twin = tmp_path / "elsewhere.txt"
        twin.write_bytes(src.read_bytes())
        again = ix.similar(twin, k=3)
        assert again.stored and src in {m.path for m in again.duplicates}


def test_bad_paths_say_what_to_do(built, tmp_path):
    from mlx_embed.errors import InvalidArgumentError

    with Index(built / "ix", model=None) as ix:
        with pytest.raises(InvalidArgumentError, match="does not exist"):
            ix.similar(tmp_path / "missing.txt")
        with pytest.raises(InvalidArgumentError, match="at least one"):
            ix.similar(built / "docs" / "mars" / "note0.txt", k=0)
        with pytest.raises(InvalidArgumentError, match="not an indexed file"):
            ix.refine("notes", more=[tmp_path / "missing.txt"])


def test_filters_apply(built):
    with Index(built / "ix", model=None) as ix:
        found = ix.similar(built / "docs" / "mars" / "note0.txt", k=10, folder=built / "docs" / "tax")
    assert found.results and all(m.path.parent.name == "tax" for m in found.results)


def test_rocchio_moves_the_ranking_the_expected_way(built, minilm_path):
    """A query that favours no topic; "more like" a Mars note lifts the Mars notes, "less like" it sinks them."""
    with Index(built / "ix", model=str(minilm_path)) as ix:
        def mars_rank(results):
            ranks = [i for i, r in enumerate(results) if r.path.parent.name == "mars"]
            return float(np.mean(ranks)) if ranks else 99.0

        mars = built / "docs" / "mars" / "note1.txt"
        plain = ix.search("my notes from last year", k=12, mode="dense")
        more = ix.refine("my notes from last year", more=[mars], k=12, mode="dense")
        less = ix.refine("my notes from last year", less=[mars], k=12, mode="dense")
        assert mars_rank(more) < mars_rank(plain) < mars_rank(less)
        assert more[0].path.parent.name == "mars" and less[-1].path.parent.name == "mars"
        # the app's mode (hybrid) moves the same way
        assert mars_rank(ix.refine("my notes from last year", more=[mars], k=12)) < \
            mars_rank(ix.search("my notes from last year", k=12))


def test_cli_similar_json_and_errors(built, capsys):
    from mlx_embed.cli import main

    assert main(["similar", str(built / "docs" / "bread" / "note2.txt"), "--k", "2", "--json",
                 "--index", str(built / "ix")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stored_vectors"] is True and len(out["results"]) == 2
    assert all("/bread/" in r["path"] and r["passage"]["text"] and r["source_passage"]["text"] for r in out["results"])
    assert main(["similar", str(built / "nope.txt"), "--index", str(built / "ix")]) == 2
    assert "nope.txt" in capsys.readouterr().err


# --- group names -------------------------------------------------------------------------------------------------
FORBIDDEN = set(',/\\:*?"<>|') | {chr(i) for i in range(32)}


def test_safe_folder_name_never_lets_a_forbidden_character_through():
    from mlx_embed.organize.terms import NAME_CHARS, safe_folder_name

    rng = random.Random(0)
    alphabet = string.ascii_letters + string.digits + ' ,/\\:*?"<>|.\t\n\x00-_()éü'
    for _ in range(2000):
        name = safe_folder_name("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))))
        assert name and not set(name) & FORBIDDEN and len(name) <= NAME_CHARS
        assert name == name.strip(" .")
    assert safe_folder_name("CON") == "CON files" and safe_folder_name("...") == "Group"


def test_group_names_are_titles_from_words_and_phrases():
    from mlx_embed.organize.cluster import cluster

    texts = (["Event loop and transports: the event loop schedules callbacks; transports, protocols."] * 4
             + ["Tax receipts, invoices; keep every tax receipt and invoice: the invoice total, VAT."] * 4)
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(size=(4, 8)) + 5 * np.eye(8)[0], rng.normal(size=(4, 8)) + 5 * np.eye(8)[1]])
    words = {}

    def embed(terms):   # a stand-in model: each word its own direction, a phrase the sum of its words
        out = []
        for t in terms:
            v = sum(words.setdefault(w, rng.normal(size=8)) for w in t.split())
            out.append(v / np.linalg.norm(v))
        return np.array(out)

    res = cluster(x, paths=[f"/a/{i}.txt" for i in range(8)], texts=texts, k=2, embed=embed)
    for c in res.clusters:
        assert c.label and "," not in c.label and not set(c.label) & FORBIDDEN
        assert c.label[0].isupper() and len(c.label.split()) <= 7
        first = c.label.split(" and ")[0].lower()
        assert first in texts[0].lower() or first in texts[4].lower()     # taken from the group's own words
    loop, tax = sorted(res.clusters, key=lambda c: "loop" not in c.label.lower())
    assert "loop" in loop.label.lower() or "transport" in loop.label.lower()
    assert "tax" in tax.label.lower() or "invoice" in tax.label.lower() or "receipt" in tax.label.lower()


# --- the app: Find Similar, more / less like this, the popup's key ---------------------------------------------------
def _wait(predicate, timeout: float = 60.0) -> bool:
    import time

    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        QApplication.instance().processEvents()
        time.sleep(0.01)
    return True


def _shot(widget, name: str) -> None:
    from pathlib import Path

    from PySide6.QtWidgets import QApplication

    folder = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    QApplication.instance().processEvents()
    assert widget.grab().save(str(folder / f"{name}.png"))


@pytest.fixture
def app_session(qapp, built, minilm_path, tmp_path):
    pytest.importorskip("PySide6")
    from app.config import AppSettings
    from app.index_handle import IndexHandle
    from app.session import Session

    session = Session(AppSettings(tmp_path / "settings.ini"))
    session.index = IndexHandle(Index(built / "ix", model=str(minilm_path)), (None, False))
    yield session
    session.shutdown()


def test_app_find_similar_and_back(app_session, qtbot):
    from PySide6.QtCore import Qt

    from app.search_view import SearchView

    view = SearchView(app_session)
    view.resize(760, 560)
    view.show()
    qtbot.keyClicks(view.field, "yeast dough rising")
    assert _wait(lambda: view.model.query == "yeast dough rising" and view.model.rowCount())
    source = view.model.hit(0).path
    assert source.parent.name == "bread"
    view.similar_action.trigger()
    assert _wait(lambda: view.similar_to and view.model.query == "" and view.model.rowCount())
    assert view.header.isVisible() and source.name in view.header.text()
    hits = [view.model.hit(i) for i in range(view.model.rowCount())]
    assert source not in [h.path for h in hits] and hits[0].path.parent.name == "bread"
    _shot(view, "search-find-similar")
    qtbot.keyClick(view.field, Qt.Key.Key_Escape)          # back to the plain query, its text kept
    assert _wait(lambda: view.model.query == "yeast dough rising")
    assert not view.header.isVisible() and view.similar_to is None and view.field.text() == "yeast dough rising"


def test_app_more_and_less_like_this(app_session, qtbot):
    from PySide6.QtCore import Qt

    from app.search_view import SearchView

    view = SearchView(app_session)
    view.resize(760, 560)
    view.show()
    qtbot.keyClicks(view.field, "my notes from last year")
    assert _wait(lambda: view.model.query == "my notes from last year" and view.model.rowCount() >= 6)

    def mars_rank():
        return np.mean([i for i in range(view.model.rowCount()) if view.model.hit(i).path.parent.name == "mars"])

    plain = mars_rank()
    row = next(i for i in range(view.model.rowCount()) if view.model.hit(i).path.parent.name == "mars")
    view.list.setCurrentIndex(view.model.index(row))
    shown = view.results_shown
    view.more_action.trigger()
    assert _wait(lambda: view.results_shown > shown)
    assert mars_rank() < plain and "more like" in view.header.text()
    _shot(view, "search-more-like-this")
    qtbot.keyClick(view.field, Qt.Key.Key_Escape)
    assert _wait(lambda: not view.more and view.results_shown > shown + 1)
    assert mars_rank() == pytest.approx(plain) and not view.header.isVisible()


def test_popup_key_turns_the_selection_into_find_similar(app_session, qtbot):
    from PySide6.QtCore import Qt

    from app.tray import QuickPopup

    popup = QuickPopup(app_session)
    popup.popup()
    qtbot.keyClicks(popup.panel.field, "invoice VAT payment")
    assert _wait(lambda: popup.panel.model.query == "invoice VAT payment" and popup.panel.model.rowCount())
    source = popup.panel.model.hit(0).path
    qtbot.keyClick(popup.panel.field, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert _wait(lambda: popup.panel.similar_to == str(source) and popup.panel.model.query == ""
                 and popup.panel.model.rowCount())
    assert popup.panel.model.hit(0).path.parent.name == "tax"
    _shot(popup, "quick-search-find-similar")
    popup.close()


def test_file_dropped_on_the_window_finds_similar(qapp, built, minilm_path, tmp_path):
    pytest.importorskip("PySide6")
    from app.config import AppSettings
    from app.main import build, start
    from tests.test_app import drop

    settings = AppSettings(tmp_path / "settings.ini")
    settings.model, settings.index_location, settings.excludes = str(minilm_path), str(built / "ix"), []
    session, window, tray = build(settings, tray=False, app=qapp)
    try:
        window.resize(1000, 640)
        window.show()
        start(session, window)
        assert _wait(lambda: session.index is not None, 120)
        source = built / "docs" / "tax" / "note2.txt"
        assert drop(window, [source])
        view = window.views["search"]
        assert _wait(lambda: view.similar_to == str(source) and view.model.rowCount(), 60)
        assert window.stack.currentWidget() is view and view.model.hit(0).path.parent.name == "tax"
        _shot(window, "window-drop-file-find-similar")
    finally:
        session.shutdown()
        window.close()
        tray.popup_widget.close()
