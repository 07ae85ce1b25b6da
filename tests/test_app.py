"""The desktop app, driven like a user would (pytest-qt, offscreen) with the REAL MiniLM model on real files.

One window is built for the module: it indexes a folder of real files once (the responsiveness test
measures the event loop during that run), then the tests search, use the popup, cluster, classify and
take screenshots of every screen (test-output/screenshots/). The resume test uses its own index.
"""

from __future__ import annotations

import shutil
import sysconfig
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QEventLoop, QMimeData, QPointF, Qt, QTimer, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app import library  # noqa: E402
from mlx_embed.index import Index  # noqa: E402
from app.config import AppSettings  # noqa: E402
from app.main import build, start  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-output" / "screenshots"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Real files in four groups (module docstrings of the Python standard library, Debian licence files),
# cut to their first characters so that indexing stays quick on a shared CPU.
GROUPS = {
    "compression": ["gzip.py", "bz2.py", "lzma.py", "zipfile.py"],
    "mail": ["smtplib.py", "imaplib.py", "poplib.py", "mailbox.py"],
    "numbers": ["statistics.py", "fractions.py", "random.py", "numbers.py"],
    "licence": ["bash", "coreutils", "dash", "bzip2"],
}
SINGLES = ["wave.py", "calendar.py", "csv.py"]


def _source(name: str) -> tuple[Path, str]:
    if name.endswith(".py"):
        return STDLIB / name, name
    return Path("/usr/share/doc") / name / "copyright", f"{name}-copyright.txt"


def write_corpus(folder: Path, names: list[str]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names:
        src, dest = _source(name)
        if not src.is_file():
            continue
        text = src.read_text(encoding="utf-8", errors="replace")
        (folder / dest).write_text(text[: 1000 if dest.endswith(".txt") else 700], encoding="utf-8")
        out[name] = folder / dest
    return out


def wait_until(predicate, timeout: float = 120.0) -> bool:
    app = QApplication.instance()
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.005)
    return True


def shot(widget, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    QApplication.instance().processEvents()
    path = SHOTS / f"{name}.png"
    assert widget.grab().save(str(path)), f"could not save {path}"
    return path


def drop(widget, paths: list[Path], pos: QPointF | None = None) -> bool:
    """A real drag-and-drop of files (QMimeData with file URLs) onto a widget (its centre by default)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = pos if pos is not None else QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def make_settings(tmp: Path, model: Path, index: Path) -> AppSettings:
    s = AppSettings(tmp / "settings.ini")
    s.model = str(model)
    s.index_location = str(index)
    s.excludes = []
    return s


@pytest.fixture(scope="module")
def desk(qapp, minilm_path, tmp_path_factory):
    """A running app: window built, MiniLM loaded, a real folder indexed (event loop measured meanwhile)."""
    import os

    tmp = tmp_path_factory.mktemp("desk")
    os.environ["MLX_EMBED_LABELS_DIR"] = str(tmp / "label-sets")
    os.environ["MLX_EMBED_JOURNAL_DIR"] = str(tmp / "journals")
    docs = tmp / "Documents"
    files = write_corpus(docs, [n for g in GROUPS.values() for n in g] + SINGLES)
    assert len(files) >= 15, "need the stdlib sources and /usr/share/doc on this machine"
    # two files that cannot be indexed: the Folders page must say which and why
    (docs / "scan-2019.pdf").write_bytes(b"%PDF-1.4\n% a damaged download\n" + bytes(range(256)) * 4)
    (docs / "empty-notes.txt").write_text("", encoding="utf-8")
    (docs / "old-draft.txt").symlink_to(docs / "moved-away" / "draft.txt")   # a broken link is listed too
    session, window, tray = build(make_settings(tmp, minilm_path, tmp / "index"), tray=False, app=qapp)
    session.watch_interval = 1.0
    session.folders_refresh_s = 0.0      # re-read the Folders rows at every progress report of the run
    live_rows = []                       # (runs finished so far, rows) for each Folders update

    def rows_changed(rows):
        first_live = not any(f == 0 and r for f, r in live_rows if any(x.files for x in r))
        live_rows.append((session.runs_finished, list(rows)))
        if session.runs_finished == 0 and any(r.files for r in rows) and first_live:
            shot(window, "folders-during-run")          # the Folders page (shown by the drop) mid-run

    session.folders_changed.connect(rows_changed)
    errors = []
    session.error.connect(lambda msg, where: errors.append((where, msg)))
    window.resize(1100, 720)
    window.show()
    start(session, window)
    assert wait_until(lambda: session.index is not None, 120), f"index did not open: {errors}"

    # Index the folder by dropping it on the window, while a 20 ms timer counts its ticks.
    ticks = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    started = time.monotonic()
    assert drop(window, [docs])
    assert wait_until(lambda: session.runs_finished >= 1, 300), f"indexing did not finish: {errors}"
    elapsed = time.monotonic() - started
    timer.stop()
    yield {"session": session, "window": window, "tray": tray, "docs": docs, "files": files, "tmp": tmp,
           "errors": errors, "ticks": ticks, "index_seconds": elapsed, "live_rows": live_rows}
    session.shutdown()
    window.close()
    tray.popup_widget.close()
    os.environ.pop("MLX_EMBED_LABELS_DIR", None)
    os.environ.pop("MLX_EMBED_JOURNAL_DIR", None)


# --- indexing ------------------------------------------------------------------------------------------
def test_folder_indexed_with_status(desk):
    session, window = desk["session"], desk["window"]
    summary = session.last_summary
    assert summary is not None and summary.stats.indexed == len(desk["files"]), summary
    view = window.views["folders"]
    assert wait_until(lambda: view.model.rowCount() == 1 and view.model.folder(0).indexed == len(desk["files"]), 30)
    row = view.model.folder(0)
    assert row.path == desk["docs"] and row.indexed == len(desk["files"])
    assert row.files == len(desk["files"]) + 3 and row.failed >= 1 and row.pending == 0
    assert (row.indexed, row.pending, row.skipped, row.failed) == (len(desk["files"]), 0, 2, 1)
    assert row.state == "up to date"
    assert f"{row.files} files: {row.indexed} indexed, 0 pending, 2 skipped, 1 failed" in row.summary
    assert "indexed" in view.progress_label.text()
    window.show_page("folders")
    view.table.selectRow(0)
    problems = {view.failures.topLevelItem(i).text(0): view.failures.topLevelItem(i).text(1)
                for i in range(view.failures.topLevelItemCount())}
    assert set(map(lambda p: Path(p).name, problems)) == {"scan-2019.pdf", "empty-notes.txt", "old-draft.txt"}, problems
    assert all(problems.values()), "every file that is not indexed says why"
    assert problems["old-draft.txt"].startswith("broken symlink")
    assert row.summary in view.failures_label.text() and row.summary in view.progress_label.text()
    assert "sentence-transformers/all-MiniLM-L6-v2" in window.model_status.text()  # never the card's base model
    window.statusBar().clearMessage()  # so the screenshot shows the model's name there
    shot(window, "folders")


def test_folders_rows_follow_the_run(desk):
    """During the first run (before it finished) the Folders row already showed files found and their
    state, not "0 files, never, waiting" until the end."""
    during = [rows for finished, rows in desk["live_rows"] if finished == 0 and rows]
    assert any(r.files > 0 and r.state != "waiting" for rows in during for r in rows), \
        [(r.files, r.indexed, r.state) for rows in during for r in rows]


def test_event_loop_stays_responsive_while_indexing(desk):
    """The GUI thread never waits for the model: a 20 ms timer kept firing during the whole run."""
    ticks, seconds = desk["ticks"], desk["index_seconds"]
    assert seconds > 1.0, "indexing was too quick to measure"
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) >= 0.3 * seconds / 0.02, (len(ticks), seconds)
    assert max(gaps) < 1.0, f"the event loop stalled for {max(gaps):.2f} s"


# --- search --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query, expected", [
    ("compress data with the bzip2 library", "bz2.py"),
    ("read and write WAVE audio files", "wave.py"),
    ("POP3 client to fetch mail from a server", "poplib.py"),
])
def test_search_as_you_type_top_result(desk, qtbot, monkeypatch, query, expected):
    window, view, session = desk["window"], desk["window"].views["search"], desk["session"]
    window.show_page("search")
    view.field.clear()
    submitted = []
    search = session.search
    monkeypatch.setattr(session, "search", lambda ch, q, *a, **k: submitted.append(q) or search(ch, q, *a, **k))
    qtbot.keyClicks(view.field, query)
    assert view.timer.isActive(), "typing starts the debounce timer"
    assert wait_until(lambda: view.model.query == query, 60)
    assert submitted == [query], "one search for the whole burst of typing (debounced)"
    assert view.model.rowCount() > 0
    assert view.model.hit(0).name == Path(desk["files"][expected]).name, [h.name for h in view.model.hits[:5]]
    assert "files in" in view.status.text()


def test_search_keyboard_and_actions(desk, qtbot, monkeypatch):
    window, view = desk["window"], desk["window"].views["search"]
    window.show_page("search")
    opened, revealed = [], []
    monkeypatch.setattr("app.platform.open_path", lambda p, *_: opened.append(p) or True)
    monkeypatch.setattr("app.platform.reveal_path", lambda p: revealed.append(p) or True)
    view.field.clear()
    qtbot.keyClicks(view.field, "mailbox formats Maildir mbox")
    assert wait_until(lambda: view.model.query.startswith("mailbox") and view.model.rowCount() > 1, 60)
    assert view.list.currentIndex().row() == 0
    qtbot.keyClick(view.field, Qt.Key.Key_Down)
    assert view.list.currentIndex().row() == 1
    qtbot.keyClick(view.field, Qt.Key.Key_Up)
    second = view.model.hit(0).path
    qtbot.keyClick(view.field, Qt.Key.Key_Return)
    assert opened == [str(second)]
    qtbot.keyClick(view.field, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert revealed == [str(second)]
    view.copy_current()
    assert QApplication.clipboard().text() == str(second)
    assert view.open_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    # the passage is rich text with the matched words highlighted
    passage = view.model.index(0).data(Qt.ItemDataRole.UserRole + 4)
    assert "<b>" in passage and "</b>" in passage
    shot(window, "search")
    qtbot.keyClick(view.field, Qt.Key.Key_Escape)
    assert view.field.text() == "" and view.model.rowCount() == 0


def test_stale_results_are_never_shown(desk, qtbot):
    """Typing on before a result arrives: only the newest query's results reach the list."""
    view = desk["window"].views["search"]
    view.field.clear()
    view.field.blockSignals(True)       # no debounce timer: the two queries below are the only ones
    view.field.setText("gzip compressed files")
    view._run_query()
    first = view.request_id
    view.field.setText("statistics mean median variance")
    view._run_query()
    view.field.blockSignals(False)
    second = view.request_id
    assert second != first
    shown_before = view.results_shown
    assert wait_until(lambda: view.results_shown > shown_before, 60)
    wait_until(lambda: False, 1.0)      # leave time for the first (cancelled or late) search to report
    assert view.results_shown == shown_before + 1
    assert view.model.query == "statistics mean median variance"
    assert view.model.hit(0).name == "statistics.py"


def test_search_filters(desk, qtbot):
    view = desk["window"].views["search"]
    view.field.clear()
    view.kind_filter.setCurrentIndex(next(i for i in range(view.kind_filter.count())
                                          if view.kind_filter.itemData(i) == ["text", "markdown"]))
    qtbot.keyClicks(view.field, "compression library")
    assert wait_until(lambda: view.model.query == "compression library" and view.model.rowCount() > 0, 60)
    assert all(h.path.suffix == ".txt" for h in view.model.hits), [h.name for h in view.model.hits]
    view.kind_filter.setCurrentIndex(0)
    assert wait_until(lambda: any(h.path.suffix == ".py" for h in view.model.hits), 60)


def test_follows_changes_while_running(desk):
    session, view = desk["session"], desk["window"].views["search"]
    runs = session.runs_finished
    new = desk["docs"] / "sundial-notes.txt"
    new.write_text("How to read the time from a sundial: the gnomon casts a shadow on the hour lines of the "
                   "dial plate, and the shadow moves as the sun crosses the sky.", encoding="utf-8")
    try:
        assert wait_until(lambda: session.runs_finished > runs, 90), "the change was not picked up"
        view.field.setText("sundial gnomon shadow")
        assert wait_until(lambda: view.model.query == "sundial gnomon shadow", 60)
        assert view.model.hit(0).name == "sundial-notes.txt"
    finally:
        new.unlink()
    runs = session.runs_finished
    assert wait_until(lambda: session.runs_finished > runs, 90)


def test_errors_are_shown_with_what_to_do(desk):
    window = desk["window"]
    desk["session"].add_folders([str(desk["tmp"] / "no-such-folder")])
    assert window.banner.isVisible()
    assert "is not a folder" in window.banner.text.text()
    window.banner.hide()


# --- menu-bar popup --------------------------------------------------------------------------------------
def test_tray_popup_query(desk, qtbot, monkeypatch):
    window, tray = desk["window"], desk["tray"]
    assert tray.quick_action.shortcut() == QKeySequence(desk["session"].settings.hotkey)   # the quick-search key
    assert tray.quick_action.shortcutContext() == Qt.ShortcutContext.ApplicationShortcut
    # With a system tray, closing the window keeps the app (and the popup) running.
    monkeypatch.setattr("PySide6.QtWidgets.QSystemTrayIcon.isSystemTrayAvailable", staticmethod(lambda: True))
    app = QApplication.instance()
    try:
        assert tray.show_icon()
        assert app.quitOnLastWindowClosed() is False
        window.hide()
        tray.quick_action.trigger()
        popup = tray.popup_widget
        assert popup.isVisible()
        # the empty popup tells the truth about the index (it used to say "Add a folder" here)
        n = sum(r.indexed for r in window.views["folders"].model.rows)      # what the Folders page shows
        assert n >= len(desk["files"])
        assert wait_until(lambda: "indexed file" in popup.panel.status.text(), 10), popup.panel.status.text()
        assert f"{n:,} indexed files" in popup.panel.status.text() and "Add a folder" not in popup.panel.status.text()
        shot(popup, "quick-search-popup-empty")
        opened = []
        monkeypatch.setattr("app.platform.open_path", lambda p, *_: opened.append(p) or True)
        qtbot.keyClicks(popup.panel.field, "send email with SMTP")
        assert wait_until(lambda: popup.panel.model.query == "send email with SMTP" and popup.panel.model.rowCount(), 60)
        assert popup.panel.model.hit(0).name == "smtplib.py"
        assert popup.panel.model.rowCount() <= popup.panel.k
        shot(popup, "quick-search-popup")
        qtbot.keyClick(popup.panel.field, Qt.Key.Key_Return)
        assert opened and opened[0].endswith("smtplib.py")
        assert not popup.isVisible(), "opening a result closes the popup"
        tray.toggle_popup()
        qtbot.keyClick(popup.panel.field, Qt.Key.Key_Escape)     # clears the field
        qtbot.keyClick(popup.panel.field, Qt.Key.Key_Escape)     # hides the popup
        assert not popup.isVisible()
    finally:
        tray.icon.hide()
        app.setQuitOnLastWindowClosed(True)
        window.show()


def test_popup_says_why_a_file_did_not_open(desk, qtbot, monkeypatch, tmp_path):
    """An opener that fails (here a stand-in xdg-open / open that exits 4, as gio does when no program
    handles the type) brings the popup back with its reason; a file gone since indexing keeps it open."""
    import os
    import sys

    tray = desk["tray"]
    popup = tray.popup_widget
    opener = tmp_path / ("open" if sys.platform == "darwin" else "xdg-open")
    opener.write_text("#!/bin/sh\necho \"gio: $1: No application is registered as handling this file\" >&2\nexit 4\n")
    opener.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    tray.toggle_popup()
    try:
        qtbot.keyClicks(popup.panel.field, "send email with SMTP")
        assert wait_until(lambda: popup.panel.model.query == "send email with SMTP" and popup.panel.model.rowCount(), 60)
        qtbot.keyClick(popup.panel.field, Qt.Key.Key_Return)
        assert wait_until(lambda: "No application is registered" in popup.panel.status.text(), 10), \
            popup.panel.status.text()
        assert popup.isVisible(), "the popup is back to say why"
        assert popup.panel.status.text().startswith("Could not open smtplib.py")
        shot(popup, "quick-search-open-failed")
        # a result whose file has gone: the popup stays, with the reason
        gone = desk["tmp"] / "gone.txt"
        monkeypatch.setattr(popup.panel, "current_path", lambda: str(gone))
        popup.panel.open_current()
        assert popup.isVisible() and "no longer at" in popup.panel.status.text()
    finally:
        popup.hide()
        popup.panel.field.clear()


# --- cluster -----------------------------------------------------------------------------------------------
def test_drop_files_on_cluster_view_groups_them(desk, qtbot):
    window, view = desk["window"], desk["window"].views["cluster"]
    window.show_page("cluster")
    view.clear()
    view.k_spin.setValue(3)          # the user fixes the number of groups (Auto is the default)
    files = [desk["files"][n] for g in ("compression", "mail", "licence") for n in GROUPS[g] if n in desk["files"]]
    messages, shown = [], view._progress
    view._progress = lambda rid, p: (messages.append(p.message), shown(rid, p))      # what the run reported
    assert drop(view, files)
    assert wait_until(lambda: view.result is not None, 240), view.status.text()
    assert f"Embedding 0 of {len(files)} files…" in messages and f"Embedding {len(files)} of {len(files)} files…" in messages, messages
    del view._progress
    groups = view.model.groups()
    assert len(groups) == 3
    placed = sorted(p for _, _, fs in groups for p in fs)
    assert placed == sorted(str(f) for f in files), "every file is in exactly one group"
    # files of a kind land together: for each source group, most of its files share one cluster
    for g in ("compression", "mail", "licence"):
        ids = [view.model.cluster_of(str(desk["files"][n])) for n in GROUPS[g] if n in desk["files"]]
        top = max(ids.count(i) for i in set(ids))
        assert top >= len(ids) - 1, (g, ids)
    # the map has one point per file, coloured by group, with the file in its tooltip
    assert set(view.map.points) == set(placed)
    point = view.map.points[str(files[0])]
    assert str(files[0]) in point.toolTip()
    # rename a group and move a file: tree and map follow
    licences = view.model.cluster_of(str(desk["files"]["bash"]))
    item = next(it for it in view.model.group_items() if it.data(Qt.ItemDataRole.UserRole + 7) == licences)
    item.setText("Licences")
    assert any(lab.text() == "Licences" for lab in view.map.labels)
    mover = str(desk["files"]["poplib.py"])
    home = view.model.cluster_of(mover)
    away = next(cid for cid, _, _ in view.model.groups() if cid != home)
    view.move_file(mover, away)
    assert view.model.cluster_of(mover) == away and view.map.points[mover].cid == away
    view.move_file(mover, home)
    assert view.model.cluster_of(mover) == home and view.map.points[mover].cid == home
    shot(window, "cluster")


def test_organise_clusters_preview_and_undo(desk, tmp_path, monkeypatch):
    """"Organise into folders": the library's plan in a preview, applied (journaled) in a worker, undone."""
    view = desk["window"].views["cluster"]
    assert view.result is not None
    src = tmp_path / "loose"
    src.mkdir()
    groups = [(name, files[:2]) for _, name, files in view.model.groups()[:2]]
    copies = {}
    for name, files in groups:
        copies[name] = [Path(shutil.copy(f, src / Path(f).name)) for f in files]
    before = {p: p.read_bytes() for ps in copies.values() for p in ps}
    previews = []

    def accept(dialog):
        previews.append((dialog.plan, dialog.tree.topLevelItemCount(), dialog.heading.text()))
        shot(dialog, "organise-preview")
        return 1

    monkeypatch.setattr("app.actions_dialog.PlanDialog.exec", accept)
    task = view.preview_and_apply([(n, [str(p) for p in ps]) for n, ps in copies.items()], str(tmp_path / "sorted"))
    assert previews and previews[0][1] == 2 and "Move 4 files into 2 folders" in previews[0][2]
    assert all(p.exists() for p in before), "the preview changes nothing"
    assert task is not None and wait_until(lambda: task.done.is_set() and view.actions.journal is not None, 60), \
        view.status.text()
    from mlx_embed.organize.actions import safe_folder_name

    for name, ps in copies.items():
        folder = tmp_path / "sorted" / safe_folder_name(name)
        assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in ps)
    assert not any(p.exists() for p in before)
    assert view.undo_button.isEnabled() and "Undo puts every file back" in view.status.text()
    undo = view.actions.undo()
    assert wait_until(lambda: undo.done.is_set() and view.actions.journal is None, 60), view.status.text()
    assert {p: p.read_bytes() for p in before} == before, "undo restores every file exactly"


def test_cluster_add_folder_shows_in_drop_area_and_stop_cancels(desk, monkeypatch):
    window, view = desk["window"], desk["window"].views["cluster"]
    window.show_page("cluster")
    view.clear()
    assert "Drop files or folders here" in view.drop_zone.text()
    monkeypatch.setattr("app.cluster_view.QFileDialog.getExistingDirectory", lambda *a, **k: str(desk["docs"]))
    view.add_folder_button.click()
    assert view.inputs == [str(desk["docs"])]
    assert "Documents/" in view.drop_zone.text() and "Drop files or folders here" not in view.drop_zone.text()
    shot(window, "cluster-folder-chosen")
    stop_mid_run(desk, view, "cluster", window, "cluster-embedding-progress")
    assert view.status.text() == "Grouping stopped." and view.result is None and not view.stop_button.isEnabled()
    view.clear()


def stop_mid_run(desk, view, channel: str, window, screenshot: str) -> None:
    """Start the view's run, hold its worker once it said "Embedding 0 of N files" (so the screen can be
    looked at mid-run), then press Stop: the worker's next progress check raises and the run ends."""
    held = []
    view.run_button.click()
    task = desk["session"].runner.current(channel)

    def hold(_rid, p):          # runs in the worker thread (direct connection): it waits at its next check
        if p.message.startswith("Embedding ") and not held:
            task.ctx.pause()
            held.append(p.message)

    task.signals.progress.connect(hold, Qt.ConnectionType.DirectConnection)
    assert wait_until(lambda: held and view.status.text() == held[0], 120), view.status.text()
    assert held[0].startswith("Embedding 0 of ") and held[0].endswith(" files…"), held
    assert view.stop_button.isEnabled() and not view.run_button.isEnabled() and view.progress.isVisible()
    shot(window, screenshot)
    view.stop_button.click()
    assert wait_until(lambda: view.run_button.isEnabled(), 60), view.status.text()


# --- classify ----------------------------------------------------------------------------------------------
def test_classify_folder_with_labels(desk, qtbot, tmp_path):
    window, view = desk["window"], desk["window"].views["classify"]
    window.show_page("classify")
    folder = tmp_path / "Inbox"
    names = [n for g in ("compression", "mail", "numbers") for n in GROUPS[g]]
    files = write_corpus(folder, names)
    twin = write_corpus(folder / "old", ["smtplib.py"])["smtplib.py"]     # same name, another folder
    view.labels.set_labels([
        {"name": "Compression", "description": "compressing and decompressing files and archives: gzip, "
                                                "bzip2, lzma, zip", "examples": []},
        {"name": "Email", "description": "sending, receiving and storing email messages: SMTP, IMAP, POP3 "
                                          "mail servers and mailboxes", "examples": []},
        {"name": "Mathematics", "description": "numbers, fractions, statistics and random numbers",
         "examples": []},
    ])
    # teach "Compression" by example: drop a file on its row
    row_rect = view.labels_table.visualRect(view.labels.index(0, 2))
    assert drop(view.labels_table.viewport(), [files["gzip.py"]], QPointF(row_rect.center()))
    assert view.labels.labels()[0]["examples"] == [str(files["gzip.py"])]
    view.folder_edit.setText(str(folder))
    view.threshold.setValue(0)
    view.run()
    assert wait_until(lambda: view.results.rowCount() == len(files) + 1, 240), view.status.text()
    shown = {view.results.index(r, 0).data(): view.results.rows[r] for r in range(view.results.rowCount())}
    assert {"smtplib.py", str(Path("old") / "smtplib.py")} <= set(shown), "paths relative to the folder chosen"
    assert shown["smtplib.py"].path == files["smtplib.py"].resolve() and shown[str(Path("old") / "smtplib.py")].path == twin.resolve()
    # why: the nearest example for the label taught by example, the file's own words otherwise
    whys = {name: view.results.index(r, 3).data() for r, name in enumerate(shown)}
    assert whys["bz2.py"] == f"nearest example: gzip.py (similarity {shown['bz2.py'].nearest[0][1]:.2f})", whys["bz2.py"]
    email_whys = [w for name, w in whys.items() if shown[name].best == "Email"]
    assert len(email_whys) >= 3 and all(w.startswith("its words closest to 'Email': ") for w in email_whys), email_whys
    assert len(set(email_whys)) >= len(email_whys) - 1 and not any("SMTP, IMAP" in w for w in email_whys)
    got = {Path(view.results.rows[r].path).name: view.results.label_of(r) for r in range(view.results.rowCount())}
    expected = {"gzip.py": "Compression", "bz2.py": "Compression", "lzma.py": "Compression",
                "smtplib.py": "Email", "imaplib.py": "Email", "poplib.py": "Email",
                "statistics.py": "Mathematics", "fractions.py": "Mathematics"}
    right = sum(got[n] == lab for n, lab in expected.items())
    assert right >= len(expected) - 1, got
    # a higher threshold sends low-confidence files to "unsure" without re-running
    view.threshold.setValue(99)
    assert any(view.results.label_of(r) is None for r in range(view.results.rowCount()))
    view.threshold.setValue(0)
    # a correction (the Label column is editable) makes the file an example of that label
    row = next(r for r in range(view.results.rowCount()) if Path(view.results.rows[r].path).name == "random.py")
    ix = view.results.index(row, 1)
    assert view.results.setData(ix, "Mathematics")
    assert view.results.label_of(row) == "Mathematics"
    maths = next(lab for lab in view.labels.labels() if lab["name"] == "Mathematics")
    assert str(files["random.py"]) in maths["examples"]
    view.threshold.setValue(50)
    shot(window, "classify")
    # label sets are saved (the library's JSON format) and load again
    # a run can be stopped mid-way; the table keeps the last results
    rows = view.results.rowCount()
    stop_mid_run(desk, view, "classify", window, "classify-embedding-progress")
    assert view.status.text() == "Classification stopped." and view.results.rowCount() == rows
    view.save_set("Test labels")
    assert "Test labels" in library.list_label_sets()
    view.labels.set_labels([])
    view.load_set("Test labels")
    assert [lab["name"] for lab in view.labels.labels()] == ["Compression", "Email", "Mathematics"]


# --- other screens ----------------------------------------------------------------------------------------
def test_settings_persist(desk):
    window, view = desk["window"], desk["window"].views["settings"]
    window.show_page("settings")
    view.excludes.setPlainText("*.log\nPrivate/")
    view.max_size.setValue(20)
    view.save()
    s = AppSettings(desk["tmp"] / "settings.ini")
    assert s.excludes == ["*.log", "Private/"] and s.max_file_mb == 20
    assert "Saved" in view.status.text()
    assert wait_until(lambda: desk["session"].index is not None, 60)
    shot(window, "settings")


def test_model_manager_shows_model_facts(desk):
    window, view = desk["window"], desk["window"].views["model"]
    window.show_page("model")
    assert wait_until(lambda: view.details["dim"].text() == "384", 30)
    assert view.details["precision"].text() == "float32"
    assert view.details["quant"].text() == "none"
    assert "MB" in view.details["size"].text()
    assert view.use_button.text() == "In Use"
    shot(window, "model-manager")
    # a mixed 4-bit checkpoint reads as what it is, not as its lowest layer setting or a raw dict
    import mlx.nn as nn
    from mlx_embed.encoder import quantized_checkpoint as quantized

    net = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 64))
    nn.quantize(net, class_predicate=lambda path, _: {"bits": 4 if path.endswith("0") else 8, "group_size": 64})
    view._show_facts({**view.facts, "quantization": quantized.describe(net, 4)})
    assert view.details["quant"].text() == "4-bit mixed (4 to 8 bits per layer), 6.50 bits per weight"
    shot(window, "model-manager-quantized")
    view._show_facts(view.facts)
    window.show_page("search")
    view_s = window.views["search"]
    view_s.field.setText("bzip2 compression")
    assert wait_until(lambda: view_s.model.query == "bzip2 compression", 60)
    assert view_s.model.hit(0).name in {"bz2.py", "bzip2-copyright.txt"}
    shot(window, "search")


# --- quitting during indexing loses nothing ------------------------------------------------------------
def test_quit_during_indexing_resumes_next_start(qapp, minilm_path, tmp_path, monkeypatch):
    # The indexer commits after each batch of chunks; tiny batches make a small folder take several.
    monkeypatch.setattr("mlx_embed.index.indexer.BATCH_MAX", 2)
    docs = tmp_path / "Notes"
    files = write_corpus(docs, GROUPS["compression"] + GROUPS["mail"] + GROUPS["numbers"])
    settings_dir = tmp_path / "first"
    settings_dir.mkdir()
    settings = make_settings(settings_dir, minilm_path, tmp_path / "index")
    session, window, tray = build(settings, tray=False, app=qapp)
    session.watch_interval = 1.0
    start(session, window)
    assert wait_until(lambda: session.index is not None, 120)
    session.add_folders([str(docs)])
    progress = []
    session.indexing_progress.connect(lambda p: progress.append(p))
    assert wait_until(lambda: any(p.done >= 5 and p.total for p in progress), 240)
    session.pause_indexing(True)  # holds the indexer where it is (so this machine's speed does not matter)
    session.shutdown()            # what Quit does: stop at a safe point, close the index
    window.close()
    first = Index(tmp_path / "index").status()
    done_first = first.counts["indexed"]
    assert 0 < done_first < len(files), first.counts
    assert first.counts["pending"] == len(files) - done_first

    session2, window2, tray2 = build(make_settings(settings_dir, minilm_path, tmp_path / "index"), tray=False, app=qapp)
    start(session2, window2)
    try:
        assert wait_until(lambda: session2.runs_finished >= 1, 240)
        stats = session2.last_summary.stats
        assert stats.indexed == len(files) - done_first, "the second start embeds only what was left"
        assert session2.index.folder_status()[0].indexed == len(files)
    finally:
        session2.shutdown()
        window2.close()
