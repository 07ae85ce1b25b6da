"""Search: a field with results as you type (debounced; stale queries cancelled), filters, keyboard-first.

Keys: type to search; Up/Down (and PgUp/PgDn) move through results; Enter or Ctrl/Cmd+O opens;
Ctrl/Cmd+Enter reveals in the file manager; Ctrl/Cmd+Shift+C copies the path; Esc clears the field.
Ctrl/Cmd+Shift+F finds files similar to the selected result (or to a file dropped on the window);
Ctrl/Cmd+Shift+M / Ctrl/Cmd+Shift+L refine the search: more / less like the selected result (Rocchio in
the library); Esc returns from either to the plain query.
`SearchPanel` is shared with the menu-bar popup (compact=True: no filters, fewer results).
"""

from __future__ import annotations

import time
from html import escape
from pathlib import Path

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence, QPalette, QTextDocument
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QLineEdit, QListView, QMenu,
                               QStyle, QStyledItemDelegate, QStyleOptionViewItem, QVBoxLayout, QWidget)

from . import platform
from .itemmodels.common import DateRole, FolderRole, KindRole, PassageRole, PathRole
from .itemmodels.search_results import SearchResultsModel

DEBOUNCE_MS = 200
KIND_FILTERS = [  # (shown, library kinds)
    ("All types", None),
    ("Documents (PDF, Word, OpenDocument, RTF)", ["pdf", "docx", "odt", "rtf"]),
    ("Text and Markdown", ["text", "markdown"]),
    ("Source code", ["source"]),
    ("Web pages", ["html"]),
    ("Presentations", ["pptx"]),
    ("Email", ["eml"]),
    ("Images (screenshots, photos)", ["image"]),
]
DATE_FILTERS = [("Any time", None), ("Today", 1), ("Past week", 7), ("Past month", 31), ("Past year", 365)]


class ResultDelegate(QStyledItemDelegate):
    """Icon, name, folder and date, then the matching passage with the query terms highlighted."""

    def __init__(self, parent=None, compact: bool = False):
        super().__init__(parent)
        self.compact = compact
        self.icon_size = 28 if compact else 32

    def sizeHint(self, option, index) -> QSize:  # noqa: N802
        fm = option.fontMetrics
        lines = 3 if not self.compact else 2    # name (+ folder) + two lines of passage
        return QSize(1, fm.lineSpacing() * (lines + 1) + 14)   # width: the view's

    def paint(self, painter, option, index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        style = opt.widget.style() if opt.widget else None
        opt.text = ""
        opt.icon = opt.icon.__class__()
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        pal = option.palette
        text_colour = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        dim = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.PlaceholderText)
        r = option.rect.adjusted(8, 5, -8, -5)
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        side = min(56, r.height() - 2) if index.data(KindRole) == "image" else self.icon_size  # a thumbnail
        if icon is not None:
            icon.paint(painter, r.left(), r.top() + 2, side, side)
        x = r.left() + side + 10
        width = r.right() - x
        fm = option.fontMetrics
        painter.save()
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text_colour)
        name = index.data(Qt.ItemDataRole.DisplayRole) or ""
        date = index.data(DateRole) or ""
        date_w = fm.horizontalAdvance(date) + 12
        painter.drawText(x, r.top(), width - date_w, fm.height(), Qt.AlignmentFlag.AlignLeft,
                         painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, width - date_w))
        painter.setFont(option.font)
        painter.setPen(dim)
        painter.drawText(x, r.top(), width, fm.height(), Qt.AlignmentFlag.AlignRight, date)
        y = r.top() + fm.height() + 1
        if not self.compact:
            folder = fm.elidedText(index.data(FolderRole) or "", Qt.TextElideMode.ElideMiddle, width)
            painter.drawText(x, y, width, fm.height(), Qt.AlignmentFlag.AlignLeft, folder)
            y += fm.height() + 2
        passage = index.data(PassageRole) or ""
        if passage:
            doc = QTextDocument()
            doc.setDefaultFont(option.font)
            doc.setDocumentMargin(0)
            colour = text_colour.name()
            mark = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Link).name()
            marked = passage.replace("<b>", f"<b style='color:{mark}'>")
            doc.setHtml(f"<div style='color:{colour}'>{marked}</div>")
            doc.setTextWidth(width)
            painter.translate(x, y)
            clip = QRectF(0, 0, width, min(r.bottom() - y, 2 * fm.lineSpacing() + 2))   # two whole lines
            painter.setClipRect(clip)
            doc.drawContents(painter, clip)
        painter.restore()


class SearchPanel(QWidget):
    """Search field + results list (+ filters unless compact). Emits `opened(path)` after opening a file."""

    opened = Signal(str)
    open_failed = Signal(str)     # why a file could not be opened (shown in the status line too)
    escape = Signal()

    def __init__(self, session, channel: str = "search", compact: bool = False, parent=None):
        super().__init__(parent)
        self.session = session
        self.channel = channel
        self.compact = compact
        self.k = 8 if compact else 30
        self.request_id = 0
        self.last_query = ""
        self.results_shown = 0        # how many result sets were shown (tests and the status line use it)
        self.similar_to: str | None = None          # showing files like this one, not the query's results
        self.more: list[str] = []                   # "more like this" / "less like this" files of the query
        self.less: list[str] = []
        self.model = SearchResultsModel(self)

        self.field = QLineEdit(placeholderText="Search your files by meaning or by name…")
        self.field.setClearButtonEnabled(True)
        self.field.setObjectName("searchField")
        font = self.field.font()
        font.setPointSizeF(font.pointSizeF() * (1.35 if not compact else 1.25))
        self.field.setFont(font)
        self.field.setMinimumHeight(36)
        self.field.installEventFilter(self)

        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setItemDelegate(ResultDelegate(self.list, compact))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setUniformItemSizes(True)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.activated.connect(lambda ix: self.open_current())
        self.list.doubleClicked.connect(lambda ix: self.open_current())
        self.list.setObjectName("results")

        self.status = QLabel()
        self.status.setObjectName("searchStatus")
        self.status.setWordWrap(True)
        self.status.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS, timeout=self._run_query)
        self.field.textChanged.connect(self._typed)

        layout = QVBoxLayout(self)
        margin = 0 if compact else 12
        layout.setContentsMargins(margin, margin, margin, margin - 4 if margin else 0)
        layout.addWidget(self.field)
        self.folder_filter = self.kind_filter = self.date_filter = None
        if not compact:
            row = QHBoxLayout()
            self.folder_filter = QComboBox(objectName="folderFilter")
            self.folder_filter.addItem("All folders", None)
            self.kind_filter = QComboBox(objectName="kindFilter")
            for title, kinds in KIND_FILTERS:
                self.kind_filter.addItem(title, kinds)
            self.date_filter = QComboBox(objectName="dateFilter")
            for title, days in DATE_FILTERS:
                self.date_filter.addItem(title, days)
            for combo in (self.folder_filter, self.kind_filter, self.date_filter):
                combo.currentIndexChanged.connect(lambda _i: self._run_query())
                combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
                row.addWidget(combo)
            row.addStretch(1)
            layout.addLayout(row)
            session.folders_changed.connect(self._folders)
        self.header = QLabel(objectName="refineHeader", wordWrap=True, visible=False)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.header)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.status)

        self.open_action = self._action("Open", QKeySequence.StandardKey.Open, self.open_current)
        self.reveal_action = self._action("Reveal in File Manager", QKeySequence("Ctrl+Return"), self.reveal_current)
        self.copy_action = self._action("Copy Path", QKeySequence("Ctrl+Shift+C"), self.copy_current)
        self.similar_action = self._action("Find Similar", QKeySequence("Ctrl+Shift+F"), lambda: self.find_similar())
        self.more_action = self._action("More Like This", QKeySequence("Ctrl+Shift+M"), lambda: self.refine(True))
        self.less_action = self._action("Less Like This", QKeySequence("Ctrl+Shift+L"), lambda: self.refine(False))
        session.index_changed.connect(self._rerun_if_any)
        session.indexing_finished.connect(lambda _s: self._rerun_if_any())
        self.indexed_files: int | None = None     # from the last folder rows: what the hint promises
        session.index_changed.connect(self._hint_if_idle)
        session.folders_changed.connect(self._count_indexed)
        self._show_hint()

    def _action(self, text, shortcut, slot) -> QAction:
        action = QAction(text, self)
        action.setShortcut(shortcut)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # --- querying -------------------------------------------------------------------------------
    def _typed(self, text: str) -> None:
        if self.similar_to or self.more or self.less:   # typing starts a new plain query
            self._leave_refinement()
        if not text.strip():
            self.timer.stop()
            self.runner_cancel()
            self.model.clear()
            self.last_query = ""
            self._show_hint()
            return
        self.timer.start()

    def runner_cancel(self) -> None:
        self.session.runner.cancel(self.channel)

    def filters(self) -> dict:
        if self.compact:
            return {}
        days = self.date_filter.currentData()
        return {"folder": self.folder_filter.currentData(), "kinds": self.kind_filter.currentData(),
                "modified_after": time.time() - days * 86400 if days else None}

    def _run_query(self) -> None:
        query = self.field.text().strip()
        if not query:
            return
        if self.session.index is None:
            self.status.setText("Choose a model and add a folder first (Folders).")
            return
        if self.more or self.less:
            task = self.session.refine(self.channel, query, self.more, self.less, self.k, **self.filters())
        else:
            task = self.session.search(self.channel, query, self.k, **self.filters())
        if task is None:
            return
        self.request_id = task.request_id
        self.last_query = query
        task.signals.finished.connect(lambda rid, payload, q=query: self._results(rid, payload, q))
        task.signals.failed.connect(self._failed)
        if not self.model.rowCount():
            self.status.setText("Searching…")

    def _rerun_if_any(self) -> None:
        if self.similar_to:
            self.find_similar(self.similar_to)
        elif self.field.text().strip():
            self._run_query()

    def _results(self, request_id: int, payload, query: str) -> None:
        if request_id != self.request_id:    # a newer query is on its way: never show stale results
            return
        hits, seconds = payload
        self.model.set_hits(hits, query)
        self.results_shown += 1
        if hits:
            self.list.setCurrentIndex(self.model.index(0))
            more = " (indexing: more may come)" if self.session.indexing() else ""
            n = len(hits)
            self.status.setText(f"{n} file{'s' if n != 1 else ''} in {seconds * 1000:.0f} ms{more}"
                                + ("" if self.compact else " · Enter opens · Ctrl+Enter reveals · Ctrl+Shift+C copies path"))
        else:
            self.status.setText(f"No files match “{query}”. Try other words, or check the filters "
                                "and that the folder is indexed (Folders).")

    def _failed(self, request_id: int, message: str) -> None:
        if request_id == self.request_id:
            self.model.clear()
            self.status.setText(message)
            self.session.error.emit(message, "search")

    def _count_indexed(self, rows: list) -> None:
        self.indexed_files = sum(r.indexed for r in rows)
        self._hint_if_idle()

    def _hint_if_idle(self) -> None:
        if not self.field.text().strip():
            self._show_hint()

    def _show_hint(self) -> None:
        """What the empty field can do now, from the index as it is (the popup's panel lives for the whole
        session, so this follows index and folder changes rather than being set once)."""
        index, n = self.session.index, self.indexed_files
        if index is None:
            self.status.setText("Opening your index…" if self.session.model is not None or self.session.settings.model
                                else "Choose a model first: the model manager is in the main window.")
        elif not index.folders():
            self.status.setText("Add a folder in Folders (or drop one on this window) to search it.")
        elif not n:
            self.status.setText("Indexing your folders: files become searchable as they are indexed."
                                if self.session.indexing() or n is None else
                                "Nothing indexed yet in your folders: see Folders for why.")
        else:
            self.status.setText(f"Type to search {n:,} indexed file{'s' if n != 1 else ''}. "
                                "Results appear as you type.")

    def _folders(self, rows: list) -> None:
        current = self.folder_filter.currentData()
        self.folder_filter.blockSignals(True)
        self.folder_filter.clear()
        self.folder_filter.addItem("All folders", None)
        for row in rows:
            self.folder_filter.addItem(row.path.name or str(row.path), str(row.path))
        i = self.folder_filter.findData(current)
        self.folder_filter.setCurrentIndex(max(i, 0))
        self.folder_filter.blockSignals(False)
        if not self.field.text():
            self._show_hint()

    # --- acting on results ----------------------------------------------------------------------
    def current_path(self) -> str | None:
        ix = self.list.currentIndex()
        if not ix.isValid() and self.model.rowCount():
            ix = self.model.index(0)
        return ix.data(PathRole) if ix.isValid() else None

    def open_current(self) -> None:
        path = self.current_path()
        if path and platform.open_path(path, self._open_failed):
            self.opened.emit(path)

    def _open_failed(self, reason: str) -> None:
        self.status.setText(reason)
        self.open_failed.emit(reason)

    def reveal_current(self) -> None:
        path = self.current_path()
        if path:
            platform.reveal_path(path)

    def copy_current(self) -> None:
        path = self.current_path()
        if path:
            platform.copy_path(path)
            self.status.setText(f"Copied {path}")

    def _context_menu(self, pos) -> None:
        if not self.list.indexAt(pos).isValid():
            return
        self.list.setCurrentIndex(self.list.indexAt(pos))
        menu = QMenu(self)
        menu.addActions([self.open_action, self.reveal_action, self.copy_action])
        menu.addSeparator()
        menu.addAction(self.similar_action)
        if self.last_query and not self.similar_to:      # refining needs a query to refine
            menu.addActions([self.more_action, self.less_action])
        menu.exec(self.list.viewport().mapToGlobal(pos))

    # --- find similar, more / less like this -------------------------------------------------------
    def find_similar(self, path: str | None = None) -> None:
        """Show the files like `path` (default: the selected result) in place of the results."""
        path = path or self.current_path()
        if not path or self.session.index is None:
            return
        f = self.filters()
        task = self.session.similar(self.channel, path, self.k, folder=f.get("folder"), kinds=f.get("kinds"))
        if task is None:
            return
        self.similar_to, self.more, self.less = path, [], []
        self.request_id = task.request_id
        self._set_header(f"Files like <b>{escape(Path(path).name)}</b>")
        task.signals.finished.connect(lambda rid, payload, p=path: self._similar_results(rid, payload, p))
        task.signals.failed.connect(self._failed)
        self.status.setText("Looking for similar files…")

    def _similar_results(self, request_id: int, payload, path: str) -> None:
        if request_id != self.request_id:
            return
        found, seconds = payload
        hits, copies = found
        self.model.set_hits(hits, "")
        self.results_shown += 1
        if hits:
            self.list.setCurrentIndex(self.model.index(0))
        copies_text = (f" · {len(copies)} near-identical cop{'y' if len(copies) == 1 else 'ies'} not shown: "
                       + ", ".join(escape(p.name) for p in copies[:3])) if copies else ""
        self._set_header(f"Files like <b>{escape(Path(path).name)}</b>{copies_text} · Esc returns to your search")
        self.status.setText(f"{len(hits)} similar file{'s' if len(hits) != 1 else ''} in {seconds * 1000:.0f} ms"
                            if hits else f"No other indexed file is like {Path(path).name}.")

    def refine(self, more: bool) -> None:
        """"More / less like this": the selected result pulls the query's vector towards it, or away."""
        path = self.current_path()
        if not path or not self.last_query or self.similar_to:
            return
        target, other = (self.more, self.less) if more else (self.less, self.more)
        if path in other:                   # changed its mind about this file
            other.remove(path)
        if path not in target:
            target.append(path)
        names = lambda paths: ", ".join(escape(Path(p).name) for p in paths)  # noqa: E731
        parts = [f"“{escape(self.last_query)}”"] + ([f"more like {names(self.more)}"] if self.more else []) \
            + ([f"less like {names(self.less)}"] if self.less else [])
        self._set_header(" · ".join(parts) + " · Esc returns to the plain query")
        self._run_query()

    def back_to_query(self) -> None:
        """Esc: leave find-similar or the refinement, and show the plain query's results again."""
        self._leave_refinement()
        if self.field.text().strip():
            self._run_query()
        else:
            self.runner_cancel()
            self.model.clear()
            self._show_hint()

    def _leave_refinement(self) -> None:
        self.similar_to, self.more, self.less = None, [], []
        self.header.hide()

    def _set_header(self, html: str) -> None:
        self.header.setText(html)
        self.header.show()

    def move_selection(self, delta: int) -> None:
        n = self.model.rowCount()
        if not n:
            return
        row = self.list.currentIndex().row() if self.list.currentIndex().isValid() else -1
        row = max(0, min(n - 1, row + delta))
        self.list.setCurrentIndex(self.model.index(row))

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj is self.field and event.type() == QEvent.Type.KeyPress:
            key, mods = event.key(), event.modifiers()
            page = max(1, self.list.viewport().height() // max(1, self.list.sizeHintForRow(0) or 60))
            moves = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: page, Qt.Key.Key_PageUp: -page}
            if key in moves:
                self.move_selection(moves[key])
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if self.timer.isActive():          # Enter right after typing: search now, then open
                    self.timer.stop()
                    self._run_query()
                    return True
                if mods & Qt.KeyboardModifier.ControlModifier:
                    self.reveal_current()
                else:
                    self.open_current()
                return True
            if key == Qt.Key.Key_Escape:
                if self.similar_to or self.more or self.less:
                    self.back_to_query()
                elif self.field.text():
                    self.field.clear()
                else:
                    self.escape.emit()
                return True
        return super().eventFilter(obj, event)

    def focus_field(self) -> None:
        self.field.setFocus()
        self.field.selectAll()


class SearchView(SearchPanel):
    """The Search page of the main window."""

    def __init__(self, session, parent=None):
        super().__init__(session, "search", compact=False, parent=parent)


__all__ = ["SearchView", "SearchPanel", "ResultDelegate"]
