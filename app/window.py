"""The main window: a sidebar of pages (Search, Folders, Cluster, Classify, Settings; the model manager
at first run), an error banner that says what to do, menus with shortcuts, and folder drops."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow, QMessageBox,
                               QProgressBar, QPushButton, QStackedWidget, QStyle, QToolButton, QVBoxLayout, QWidget)

from . import icons
from .classify_view import ClassifyView
from .cluster_view import ClusterView, dropped_paths
from .folders_view import FoldersView
from .model_view import ModelView
from .search_view import SearchView
from .settings_view import SettingsView

PAGES = ("search", "folders", "cluster", "classify", "settings", "model")
TITLES = {"search": "Search", "folders": "Folders", "cluster": "Cluster", "classify": "Classify",
          "settings": "Settings", "model": "Model"}


class Banner(QFrame):
    """A message across the top of the window: what went wrong and what to do, with an optional action."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.icon = QLabel()
        self.text = QLabel(objectName="bannerText")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton(objectName="bannerAction")
        self.action_button.hide()
        close = QToolButton(objectName="bannerClose", text="✕", autoRaise=True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.icon)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._slot = None
        self.hide()

    def show_message(self, text: str, kind: str = "error", action: str | None = None, slot=None) -> None:
        pix = {"error": QStyle.StandardPixmap.SP_MessageBoxCritical,
               "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
               "info": QStyle.StandardPixmap.SP_MessageBoxInformation}[kind]
        self.icon.setPixmap(self.style().standardIcon(pix).pixmap(20, 20))
        self.kind = kind
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Window)
        tint = {"error": (200, 60, 50), "warning": (220, 160, 30), "info": (60, 120, 220)}[kind]
        mix = lambda a, b: int(a * 0.82 + b * 0.18)  # noqa: E731  (a light tint that works in dark mode too)
        pal.setColor(QPalette.ColorRole.Window, base.fromRgb(mix(base.red(), tint[0]), mix(base.green(), tint[1]),
                                                             mix(base.blue(), tint[2])))
        self.setPalette(pal)
        self.text.setText(text)
        if self._slot is not None:
            try:
                self.action_button.clicked.disconnect(self._slot)
            except (RuntimeError, TypeError):
                pass
            self._slot = None
        if action and slot:
            self.action_button.setText(action)
            self.action_button.clicked.connect(slot)
            self._slot = slot
            self.action_button.show()
        else:
            self.action_button.hide()
        self.show()


class MainWindow(QMainWindow):
    quit_requested = Signal()

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.tray = None
        self.setWindowTitle("mlx-embed")
        self.setWindowIcon(icons.app_icon())
        self.setAcceptDrops(True)
        self.setUnifiedTitleAndToolBarOnMac(True)

        self.sidebar = QListWidget(objectName="sidebar")
        self.sidebar.setFixedWidth(168)
        self.sidebar.setIconSize(QSize(20, 20))
        self.sidebar.setFrameShape(QFrame.Shape.NoFrame)
        self.sidebar.setSpacing(1)
        self.stack = QStackedWidget()
        self.views = {
            "search": SearchView(session), "folders": FoldersView(session), "cluster": ClusterView(session),
            "classify": ClassifyView(session), "settings": SettingsView(session), "model": ModelView(session),
        }
        for name in PAGES:
            self.stack.addWidget(self.views[name])
            item = QListWidgetItem(icons.page_icon(name, self.style(), self.palette()), TITLES[name])
            item.setSizeHint(QSize(150, 34))
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.sidebar.addItem(item)
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.sidebar.currentRowChanged.connect(self._page_changed)
        self.views["settings"].open_model_manager.connect(lambda: self.show_page("model"))
        self.views["model"].model_ready.connect(self._model_ready)

        self.banner = Banner()
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(0)
        rl.addWidget(self.banner)
        rl.addWidget(self.stack, 1)
        central = QWidget()
        cl = QHBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.sidebar)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.VLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        cl.addWidget(line)
        cl.addWidget(right, 1)
        self.setCentralWidget(central)

        # status bar: model + indexing
        self.model_status = QLabel("No model", objectName="modelStatusBar")
        self.index_status = QLabel(objectName="indexStatusBar")
        self.index_status.setMinimumWidth(self.fontMetrics().horizontalAdvance("Indexing 999,999/999,999") + 8)
        self.index_status.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.index_bar = QProgressBar(objectName="indexStatusProgress", maximumWidth=160, textVisible=False)
        self.index_bar.hide()
        self.statusBar().addWidget(self.model_status)
        self.statusBar().addPermanentWidget(self.index_status)
        self.statusBar().addPermanentWidget(self.index_bar)

        self._make_actions()
        session.error.connect(self.show_error)
        session.info.connect(lambda text: self.statusBar().showMessage(text, 6000))
        session.model_loading.connect(lambda name: self.model_status.setText(f"Loading {Path(name).name}…"))
        session.model_changed.connect(lambda m: self.model_status.setText(f"Model: {m.name} ({m.dim}-d)"))
        session.model_failed.connect(lambda msg: self.model_status.setText("No model loaded"))
        session.model_mismatch.connect(self._mismatch)
        session.indexing_started.connect(self._indexing_started)
        session.indexing_progress.connect(self._indexing_progress)
        session.indexing_finished.connect(self._indexing_finished)
        session.index_changed.connect(self._index_changed)
        self.resize(1040, 700)
        if session.settings.geometry is not None:
            self.restoreGeometry(session.settings.geometry)
        self.show_page("search")

    # --- actions & menus ------------------------------------------------------------------------------
    def _make_actions(self) -> None:
        def action(text, shortcut=None, slot=None, menu=None, name=None):
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            if slot:
                a.triggered.connect(slot)
            if menu is not None:
                menu.addAction(a)
            if name:
                a.setObjectName(name)
            self.addAction(a)
            return a

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.add_folder_action = action("Add Folder to Index…", "Ctrl+Shift+O",
                                        lambda: (self.show_page("folders"), self.views["folders"].choose_folder()),
                                        file_menu)
        file_menu.addSeparator()
        self.close_action = action("Close Window", QKeySequence.StandardKey.Close, self.close, file_menu)
        self.quit_action = action("Quit mlx-embed", QKeySequence.StandardKey.Quit, self.quit_requested.emit, file_menu)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        # Ctrl+Q where the platform names no Quit key (Windows, some Linux themes): the app outlives its window
        self.quit_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Quit) or [QKeySequence("Ctrl+Q")])
        edit_menu = bar.addMenu("&Edit")
        action("Find", QKeySequence.StandardKey.Find, self.focus_search, edit_menu)
        view_menu = bar.addMenu("&View")
        for i, name in enumerate(PAGES[:5], 1):
            action(TITLES[name], f"Ctrl+{i}", lambda _=False, n=name: self.show_page(n), view_menu)
        index_menu = bar.addMenu("&Index")
        action("Update Now", "Ctrl+R", self.session.start_indexing, index_menu)
        action("Pause / Resume", None, lambda: self.views["folders"].toggle_pause(), index_menu)
        action("Stop", None, self.session.cancel_indexing, index_menu)
        help_menu = bar.addMenu("&Help")
        action("Model Manager…", None, lambda: self.show_page("model"), help_menu)
        about = action("About mlx-embed", None, self._about, help_menu)
        about.setMenuRole(QAction.MenuRole.AboutRole)

    def _about(self) -> None:
        import mlx_embed
        QMessageBox.about(self, "About mlx-embed",
                          f"<b>mlx-embed {mlx_embed.__version__}</b><br>On-device semantic search and file "
                          "organising. Your files never leave this computer.")

    # --- pages --------------------------------------------------------------------------------------
    def show_page(self, name: str) -> None:
        self.sidebar.setCurrentRow(PAGES.index(name))

    def current_page(self) -> str:
        return PAGES[self.stack.currentIndex()]

    def _page_changed(self, row: int) -> None:
        if PAGES[row] == "search":
            self.views["search"].focus_field()
        if PAGES[row] == "model":
            self.views["model"].refresh()

    def focus_search(self) -> None:
        self.show_page("search")
        self.views["search"].focus_field()

    def first_run(self) -> None:
        """No model configured (or it cannot be found): start on the model manager."""
        self.show_page("model")

    def _model_ready(self, _model) -> None:
        if self.current_page() == "model":
            self.show_page("search")

    def _index_changed(self) -> None:
        ix = self.session.index
        if ix is not None and not ix.folders() and self.current_page() == "search":
            self.show_page("folders")

    # --- messages -----------------------------------------------------------------------------------
    def show_error(self, message: str, where: str = "") -> None:
        if where == "model" and self.current_page() != "model":
            self.banner.show_message(message, "error", "Open Model Manager", lambda: self.show_page("model"))
        else:
            self.banner.show_message(message, "error")

    def _mismatch(self, message: str) -> None:
        self.banner.show_message(message, "warning", "Re-index with New Model",
                                 lambda: (self.banner.hide(), self.session.reindex_for_model()))

    def _indexing_started(self) -> None:
        self.index_bar.show()
        self.index_bar.setRange(0, 0)
        self.index_status.setText("Indexing…")

    def _indexing_progress(self, p) -> None:
        if p.total:
            self.index_bar.setRange(0, p.total)
            self.index_bar.setValue(p.done)
            self.index_status.setText(f"Indexing {p.done:,}/{p.total:,}")
        else:
            self.index_bar.setRange(0, 0)

    def _indexing_finished(self, summary) -> None:
        self.index_bar.hide()
        self.index_status.setText("Index up to date" if summary is not None else "Indexing stopped")

    # --- drops: a folder dropped anywhere outside Cluster/Classify is added to the index ----------------
    # a single file dropped: "Find Similar" from it on the Search page
    def dragEnterEvent(self, event):  # noqa: N802
        if any(Path(p).exists() for p in dropped_paths(event.mimeData())):
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        paths = dropped_paths(event.mimeData())
        folders = [p for p in paths if Path(p).is_dir()]
        if not folders and len(paths) == 1 and Path(paths[0]).is_file():
            event.acceptProposedAction()
            self.show_page("search")
            self.views["search"].find_similar(str(paths[0]))
        elif folders:
            event.acceptProposedAction()
            self.show_page("folders")
            self.session.add_folders(folders)

    def changeEvent(self, event):  # noqa: N802
        """Light/dark switch while running: re-tint the sidebar icons with the new palette."""
        if event.type() in (event.Type.PaletteChange, event.Type.ApplicationPaletteChange):
            for row in range(self.sidebar.count()):
                item = self.sidebar.item(row)
                item.setIcon(icons.page_icon(item.data(Qt.ItemDataRole.UserRole), self.style(), self.palette()))
        super().changeEvent(event)

    # --- closing --------------------------------------------------------------------------------------
    def closeEvent(self, event):  # noqa: N802
        self.session.settings.geometry = self.saveGeometry()
        self.session.settings.sync()
        if self.tray is not None and self.tray.keeps_running():
            # the tray icon or the system-wide quick-search key keeps the app (and indexing) running; the
            # notice and the popup closing later must not end it either
            self.tray.app.setQuitOnLastWindowClosed(False)
            self.hide()
            self.tray.notify_hidden()
            event.ignore()
            return
        event.accept()          # nothing would reach the app: Qt quits after the last window (aboutToQuit)
