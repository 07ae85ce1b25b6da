"""Folders: add (dialog or drop), remove, per-folder status and failures, background indexing controls."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QMessageBox,
                               QProgressBar, QPushButton, QSplitter, QTableView, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from .itemmodels.common import PathRole, file_icon
from .itemmodels.folder_table import FolderTableModel


NO_FOLDERS = "No folders yet. Click “Add Folder…” or drop a folder on this window."


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"about {max(seconds, 1)} s left"
    if seconds < 3600:
        return f"about {seconds // 60} min left"
    return f"about {seconds // 3600} h {seconds % 3600 // 60} min left"


class FoldersView(QWidget):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.model = FolderTableModel(self)
        self.paused = False

        title = QLabel("<b>Indexed folders</b>")
        hint = QLabel("Files in these folders are searchable. Add a folder with the button or by dropping it on "
                      "this window; changes are followed while the app runs.")
        hint.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.add_button = QPushButton("Add Folder…", objectName="addFolder")
        self.add_button.clicked.connect(self.choose_folder)
        self.remove_button = QPushButton("Remove", objectName="removeFolder", enabled=False)
        self.remove_button.clicked.connect(self.remove_selected)
        self.index_button = QPushButton("Update Now", objectName="indexNow")
        self.index_button.clicked.connect(session.start_indexing)
        self.pause_button = QPushButton("Pause", objectName="pauseIndexing", enabled=False)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button = QPushButton("Stop", objectName="cancelIndexing", enabled=False)
        self.cancel_button.clicked.connect(session.cancel_indexing)
        buttons = QHBoxLayout()
        for b in (self.add_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        for b in (self.index_button, self.pause_button, self.cancel_button):
            buttons.addWidget(b)

        self.table = QTableView(objectName="foldersTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, self.model.columnCount()):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().selectionChanged.connect(self._selected)

        self.failures = QTreeWidget(objectName="failures")
        self.failures.setHeaderLabels(["Not indexed", "Why"])
        self.failures.setRootIsDecorated(False)
        self.failures.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.failures.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.failures_label = QLabel("Select a folder to see the files that could not be indexed and why.")
        self.failures_label.setWordWrap(True)
        self.failures_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        lower = QWidget()
        ll = QVBoxLayout(lower)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.failures_label)
        ll.addWidget(self.failures)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        self.progress = QProgressBar(objectName="indexProgress", textVisible=True)
        self.progress.hide()
        self.progress_label = QLabel(objectName="indexProgressLabel")
        self.progress_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addLayout(buttons)
        layout.addWidget(split, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)

        session.folders_changed.connect(self._folders)
        session.indexing_started.connect(self._started)
        session.indexing_progress.connect(self._progress)
        session.indexing_finished.connect(self._finished)
        session.indexing_paused.connect(self._paused)
        session.index_changed.connect(self._index_changed)
        self._index_changed()

    # --- user intent ------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder to index")
        if path:
            self.session.add_folders([path])

    def selected_path(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(PathRole) if rows else None

    def remove_selected(self) -> None:
        path = self.selected_path()
        if not path:
            return
        answer = QMessageBox.question(self, "Remove folder",
                                      f"Stop indexing {path}?\n\nIts files stay where they are; only the index "
                                      "entries are removed.")
        if answer == QMessageBox.StandardButton.Yes:
            self.session.remove_folder(path)

    def toggle_pause(self) -> None:
        self.session.pause_indexing(not self.paused)

    # --- updates from the session ------------------------------------------------------------------
    def _index_changed(self) -> None:
        ok = self.session.index is not None
        self.add_button.setEnabled(ok)
        self.index_button.setEnabled(ok)
        if not ok:
            self.progress_label.setText("Choose a model first (the model manager opens at first start).")

    def _folders(self, rows: list) -> None:
        selected = self.selected_path()
        self.model.set_folders(rows)
        for r, row in enumerate(rows):
            if str(row.path) == selected:
                self.table.selectRow(r)
        if not rows and not self.session.indexing():
            self.progress_label.setText(NO_FOLDERS)
        elif rows and self.progress_label.text() == NO_FOLDERS:
            summary = self.session.last_summary
            self.progress_label.setText(summary.text if summary is not None else "")
        self._show_failures()

    def _selected(self, *_):
        self.remove_button.setEnabled(self.selected_path() is not None)
        self._show_failures()

    def _show_failures(self) -> None:
        self.failures.clear()
        path = self.selected_path()
        row = next((r for r in self.model.rows if str(r.path) == path), None)
        if row is None:
            self.failures_label.setText("Select a folder to see the files that could not be indexed and why.")
            return
        problems = row.problems
        # the library's accounting line: the same numbers as the table, the CLI and `index status`
        self.failures_label.setText(f"<b>{row.path.name}</b>: {row.summary}."
                                    + (" Not indexed, and why:" if problems else " Every file is indexed."))
        for p, reason in problems:
            try:
                shown = str(Path(p).relative_to(row.path))
            except ValueError:
                shown = str(p)
            item = QTreeWidgetItem([shown, reason])
            item.setIcon(0, file_icon(p))
            item.setToolTip(0, str(p))
            self.failures.addTopLevelItem(item)

    def _started(self) -> None:
        self.paused = False
        self.progress.show()
        self.progress.setRange(0, 0)
        self.progress_label.setText("Looking for new and changed files…")
        self.pause_button.setEnabled(True)
        self.pause_button.setText("Pause")
        self.cancel_button.setEnabled(True)
        self.index_button.setEnabled(False)

    def _progress(self, p) -> None:
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)
            self.progress.setFormat(f"{p.done} / {p.total} files")
        else:
            self.progress.setRange(0, 0)
        msg = p.message
        if p.eta is not None and not self.paused:
            msg = f"{msg} · {eta_text(p.eta)}" if msg else eta_text(p.eta)
        self.progress_label.setText(("Paused. " if self.paused else "") + msg)

    def _paused(self, paused: bool) -> None:
        self.paused = paused
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self.progress_label.setText("Paused. Indexing continues where it stopped when you resume.")

    def _finished(self, summary) -> None:
        self.progress.hide()
        self.pause_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self.index_button.setEnabled(self.session.index is not None)
        self.paused = False
        self.pause_button.setText("Pause")
        if summary is None:
            self.progress_label.setText("Indexing stopped. It resumes where it stopped with “Update Now” "
                                        "or at the next start.")
        else:
            self.progress_label.setText(summary.text)
