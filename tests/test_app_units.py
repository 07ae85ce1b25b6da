"""The app's pieces that need no indexed folder: workers, first run, model download wiring, icons, entry point."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtGui import QImage  # noqa: E402

from app import library  # noqa: E402
from app.config import AppSettings  # noqa: E402
from app.workers import Cancelled, Runner  # noqa: E402

from .test_app import shot, wait_until  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


# --- workers ---------------------------------------------------------------------------------------------
def test_runner_reports_progress_partial_and_result(qtbot):
    runner = Runner()
    seen = {"progress": [], "partial": []}

    def work(ctx, n):
        for i in range(n):
            ctx.progress(i + 1, n, f"step {i + 1}", force=True)
            ctx.partial(i)
        return n * 10

    task = runner.submit("job", work, 3)
    task.signals.progress.connect(lambda _rid, p: seen["progress"].append(p.done))
    task.signals.partial.connect(lambda _rid, x: seen["partial"].append(x))
    with qtbot.waitSignal(task.signals.finished, timeout=5000) as blocker:
        pass
    assert blocker.args == [task.request_id, 30]
    assert seen["progress"][-1] == 3 and seen["partial"] == [0, 1, 2]
    runner.shutdown()


def test_newer_task_on_a_channel_supersedes_the_old_one(qtbot):
    runner = Runner()
    release = threading.Event()
    results = []

    def slow(ctx):
        release.wait(5)
        ctx.check()             # raises Cancelled: a newer query replaced this one
        return "old"

    old = runner.submit("search", slow)
    old.signals.finished.connect(lambda _rid, r: results.append(r))
    cancelled = []
    old.signals.cancelled.connect(lambda rid: cancelled.append(rid))
    wait_until(lambda: old.done.is_set() or runner.pool.activeThreadCount() > 0, 2)
    new = runner.submit("search", lambda ctx: "new")
    new.signals.finished.connect(lambda _rid, r: results.append(r))
    release.set()
    assert wait_until(lambda: old.done.is_set() and new.done.is_set() and results, 5)
    wait_until(lambda: False, 0.2)
    assert results == ["new"] and cancelled == [old.request_id]
    runner.shutdown()


def test_failures_become_messages_and_pause_holds_work(qtbot):
    runner = Runner()
    task = runner.submit("bad", lambda ctx: (_ for _ in ()).throw(PermissionError(13, "Permission denied", "/x")))
    with qtbot.waitSignal(task.signals.failed, timeout=5000) as blocker:
        pass
    assert "Permission denied" in blocker.args[1] and "Privacy" in blocker.args[1]

    steps = []

    def counting(ctx):
        for i in range(200):
            ctx.check()
            steps.append(i)
            time.sleep(0.005)
        return len(steps)

    task = runner.submit("count", counting)
    assert wait_until(lambda: len(steps) > 3, 5)
    task.ctx.pause()
    time.sleep(0.1)
    held = len(steps)
    time.sleep(0.3)
    assert len(steps) <= held + 1, "a paused task does not advance"
    task.ctx.resume()
    assert wait_until(lambda: task.done.is_set(), 10) and len(steps) == 200
    with pytest.raises(Cancelled):
        c = runner.submit("x", lambda ctx: None).ctx
        c.cancel()
        c.check()
    runner.shutdown()


# --- first run and the model manager ------------------------------------------------------------------------
def test_first_run_without_model_or_network_says_what_to_do(qapp, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    from app.main import build, start

    session, window, tray = build(AppSettings(tmp_path / "s.ini"), tray=False, app=qapp)
    window.resize(1000, 640)
    window.show()
    start(session, window)
    view = window.views["model"]
    try:
        assert window.current_page() == "model"
        assert wait_until(lambda: view.offline(), 30), "no model and no network: the offline page"
        text = " ".join(w.text() for w in view.offline_page.findChildren(type(view.status)))
        assert "no network" in text.lower() and "Choose Model Folder" in text
        shot(window, "first-run-offline")
    finally:
        session.shutdown()
        window.close()


def test_choose_local_model_folder_and_load(qapp, tmp_path, minilm_path, monkeypatch):
    from app.main import build, start

    session, window, tray = build(AppSettings(tmp_path / "s.ini"), tray=False, app=qapp)
    start(session, window)
    view = window.views["model"]
    monkeypatch.setattr("app.model_view.QFileDialog.getExistingDirectory", lambda *a, **k: str(minilm_path))
    try:
        view.choose_folder()
        assert view.selected() == str(minilm_path) and view.use_button.isEnabled()
        view.use()
        assert wait_until(lambda: session.model is not None, 60)
        assert view.details["dim"].text() == "384" and view.use_button.text() == "In Use"
        assert AppSettings(tmp_path / "s.ini").model == str(minilm_path)
        assert wait_until(lambda: session.index is not None, 60)
        assert window.current_page() in ("search", "folders")
    finally:
        session.shutdown()
        window.close()


def test_download_progress_and_cancel_through_the_hub_tqdm(qapp, tmp_path, monkeypatch):
    """The model download reports bytes through huggingface_hub's tqdm_class; Cancel raises inside it.

    No network in tests: snapshot_download is replaced by a stand-in that drives `tqdm_class` the way the
    hub does (a bytes bar updated per chunk) and returns a folder."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    gate = threading.Event()
    calls = []

    def fake_snapshot_download(repo_id, allow_patterns=None, tqdm_class=None, max_workers=8, **kw):
        calls.append((repo_id, list(allow_patterns or [])))
        bar = tqdm_class(total=1_000_000, unit="B", desc="Downloading")
        for _ in range(100):
            gate.wait(5)
            bar.update(10_000)
            time.sleep(0.01)
        bar.close()
        out = tmp_path / "snap"
        out.mkdir(exist_ok=True)
        return str(out)

    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_snapshot_download)
    from app.main import build

    session, window, tray = build(AppSettings(tmp_path / "s.ini"), tray=False, app=qapp)
    view = window.views["model"]
    view.online = True
    view.list.setCurrentRow(1)          # jina v5 nano, not on this computer
    view._selection_changed()
    try:
        assert view.download_button.isVisible() or not view.download_button.isHidden()
        task = view.download()
        gate.set()
        assert wait_until(lambda: view.progress.maximum() == 1000 and view.progress.value() > 50, 30)
        assert "Downloading" in view.status.text()
        view.cancel_button.click()
        assert wait_until(lambda: task.done.is_set(), 30)
        assert wait_until(lambda: "cancelled" in view.status.text().lower(), 10), view.status.text()
        assert calls and calls[0][0] == library.MODEL_CHOICES[1].repo
        from mlx_embed.encoder.hub import ALLOW_PATTERNS
        assert calls[0][1] == ALLOW_PATTERNS, "only the files the loader reads"
    finally:
        session.shutdown()
        window.close()


# --- small pieces ------------------------------------------------------------------------------------------
def test_passage_html_escapes_and_marks_highlights():
    from mlx_embed.index.search import Passage

    p = Passage(text="a <script> & the\nGNU licence", start=0, end=29, page=None, highlights=[(17, 20), (21, 28)])
    html = library.passage_html(p)
    assert html == "a &lt;script&gt; &amp; the <b>GNU</b> <b>licence</b>"


def test_settings_round_trip(tmp_path):
    s = AppSettings(tmp_path / "x.ini")
    s.excludes = ["*.tmp", "", "Private/"]
    s.max_file_mb = 12
    s.matryoshka_dim = 256
    s.precision = "binary"
    s.sync()
    again = AppSettings(tmp_path / "x.ini")
    assert (again.excludes, again.max_file_mb, again.matryoshka_dim, again.precision) == (
        ["*.tmp", "Private/"], 12, 256, "binary")
    assert AppSettings(tmp_path / "new.ini").precision == "float16"


def test_icon_svg_and_png(qapp):
    from app import icons

    svg, png = ROOT / "assets" / "icon.svg", ROOT / "assets" / "icon.png"
    assert svg.is_file() and png.is_file()
    image = QImage(str(png))
    assert image.width() == image.height() >= 512
    rendered = icons.render_svg(svg, 64)
    assert rendered.pixelColor(32, 32).alpha() == 255 and rendered.pixelColor(1, 1).alpha() == 0
    assert not icons.app_icon().isNull() and not icons.tray_icon().isNull()


def test_entry_points():
    out = subprocess.run([sys.executable, "-m", "app", "--help"], capture_output=True, text=True, timeout=60,
                         cwd=ROOT)
    assert out.returncode == 0 and "mlx-embed-app" in out.stdout
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="gui_scripts")}
    assert eps.get("mlx-embed-app") == "app.main:main"


# --- model change and vector settings -------------------------------------------------------------------------
def test_vector_settings_and_model_change_rebuild_the_index(qapp, tmp_path, minilm_path, jina_tiny, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from app.main import build, start

    from .test_app import make_settings, write_corpus

    docs = tmp_path / "Docs"
    write_corpus(docs, ["gzip.py", "smtplib.py", "statistics.py"])
    settings = make_settings(tmp_path, minilm_path, tmp_path / "index")
    session, window, tray = build(settings, tray=False, app=qapp)
    session.watch_interval = 1.0
    window.resize(1000, 640)
    window.show()
    start(session, window)
    try:
        assert wait_until(lambda: session.index is not None, 60)
        session.add_folders([str(docs)])
        assert wait_until(lambda: session.runs_finished >= 1, 120)
        assert session.index.ix.settings.vector_dim is None

        # Settings: Matryoshka 128 -> after a confirmation, a new index with 128-d vectors, same folders
        view = window.views["settings"]
        monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
        view.dim.setCurrentIndex(view.dim.findData(128))
        runs = session.runs_finished
        view.save()
        assert wait_until(lambda: session.runs_finished > runs and session.index is not None, 120)
        assert session.index.ix.settings.vector_dim == 128
        assert session.index.folder_status()[0].indexed == 3
        hits = session.index.search("statistics averages variance", k=3)
        assert hits and hits[0].name == "statistics.py"

        # Another model: the index holds MiniLM vectors -> a banner offers to re-index, which rebuilds it
        errors = []
        session.error.connect(lambda m, w: errors.append(m))
        session.load_model(str(jina_tiny))
        assert wait_until(lambda: not window.banner.isHidden() and "never mix" in window.banner.text.text(), 60), \
            (errors, window.banner.text.text(), session.model)
        shot(window, "model-changed-banner")
        runs = session.runs_finished
        window.banner.action_button.click()
        assert wait_until(lambda: session.runs_finished > runs and session.index is not None, 120)
        ident = session.index.ix.model_identity
        assert ident["path"] == str(jina_tiny) and session.index.folder_status()[0].indexed == 3
        assert session.index.model_mismatch(session.model) is None

        # Settings > Reset Index re-embeds every file; Folders > Remove forgets the folder
        monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Reset))
        summaries = []
        session.indexing_finished.connect(lambda summary: summaries.append(summary))
        view.reset_button.click()
        assert wait_until(lambda: any(s is not None and s.stats.indexed == 3 for s in summaries), 120), summaries
        session.remove_folder(str(docs))
        assert wait_until(lambda: window.views["folders"].model.rowCount() == 0, 60)
        assert session.index.search("statistics averages variance", k=3) == []
    finally:
        session.shutdown()
        window.close()
