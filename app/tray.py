"""Menu-bar (tray) quick query: an icon with a menu, and a small frameless popup with a search field and
the top results. The quick-search key (Settings; Ctrl+Alt+Space on Linux, Cmd+Shift+Space on macOS)
opens it from any program where the system lets us register it (`app.hotkey`), and from any window of
the app everywhere; it keeps working after the main window is closed: the app stays up while the tray
icon is shown, and also without a tray (stock GNOME has none) while the key works system-wide. Without a
tray, the first close says once how to quit (Ctrl+Q, File > Quit) and how to reopen (start it again).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QFrame, QLabel, QMenu, QMessageBox, QSystemTrayIcon, QVBoxLayout

from . import icons
from .hotkey import GlobalHotkey, HotkeyStatus
from .search_view import SearchPanel


class QuickPopup(QFrame):
    """The popup: a search field and the top results, keyboard-first (Esc hides it)."""

    def __init__(self, session, parent=None):
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint)
        self.setObjectName("quickPopup")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setWindowTitle("mlx-embed quick search")
        self.resize(600, 420)
        self.panel = SearchPanel(session, channel="popup", compact=True)
        self.panel.escape.connect(self.hide)
        self.panel.opened.connect(lambda _path: self.hide())
        self.panel.open_failed.connect(lambda _why: self.popup() if not self.isVisible() else None)  # say why
        hint = QLabel("Enter opens · Ctrl+Enter reveals · Esc closes")
        hint.setForegroundRole(self.foregroundRole())
        hint.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 8)
        layout.addWidget(self.panel, 1)
        layout.addWidget(hint)
        self._was_active = False

    def popup(self, near: QPoint | None = None) -> None:
        screen = QGuiApplication.screenAt(near) if near is not None else QGuiApplication.primaryScreen()
        area = (screen or QGuiApplication.primaryScreen()).availableGeometry()
        x = area.center().x() - self.width() // 2
        y = area.top() + area.height() // 5
        self.move(x, y)
        self.show()
        self.raise_()
        self.activateWindow()
        self.panel.focus_field()
        self.panel._hint_if_idle()

    def changeEvent(self, event):  # noqa: N802
        if event.type() == event.Type.ActivationChange:
            if self.isActiveWindow():
                self._was_active = True
            elif self._was_active and self.isVisible():   # clicked elsewhere: get out of the way
                self._was_active = False
                self.hide()
        super().changeEvent(event)


class TrayController(QObject):
    def __init__(self, session, window, app: QApplication):
        super().__init__(window)
        self.session = session
        self.window = window
        self.app = app
        self.popup_widget = QuickPopup(session)

        self.quick_action = QAction("Quick Search", self)
        self.quick_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.quick_action.triggered.connect(self.toggle_popup)
        window.addAction(self.quick_action)
        self.popup_widget.addAction(self.quick_action)
        file_menu = window.menuBar().actions()[0].menu()
        file_menu.insertAction(file_menu.actions()[0], self.quick_action)
        self.popup_widget.addAction(window.quit_action)      # Ctrl+Q quits from the popup too (window closed)
        self.notice: QMessageBox | None = None

        self.show_action = QAction("Show mlx-embed", self, triggered=self.show_window)
        self.pause_action = QAction("Pause Indexing", self, checkable=True)
        self.pause_action.toggled.connect(session.pause_indexing)
        self.quit_action = QAction("Quit", self, triggered=window.quit_requested.emit)
        self.menu = QMenu()
        self.menu.addAction(self.quick_action)
        self.menu.addAction(self.show_action)
        self.menu.addSeparator()
        self.menu.addAction(self.pause_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)

        self.icon = QSystemTrayIcon(icons.tray_icon(), self)
        self.icon.setToolTip("mlx-embed: search your files")
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        session.indexing_started.connect(lambda: self.icon.setToolTip("mlx-embed: indexing…"))
        session.indexing_finished.connect(lambda _s: self.icon.setToolTip("mlx-embed: search your files"))
        session.indexing_paused.connect(self._paused)
        window.tray = self
        self._hidden_notice_shown = False

        # The same key twice: system-wide where the platform allows it, and as the in-app shortcut (which
        # never fires while the system-wide grab holds the key, and is what remains when it cannot).
        self.hotkey = GlobalHotkey(self)
        self.hotkey.activated.connect(self._hotkey_pressed)
        self.hotkey.status_changed.connect(self._hotkey_status)
        self.settings_view = window.views.get("settings")
        if self.settings_view is not None:
            self.settings_view.hotkey_requested.connect(self.set_hotkey)
        self.hotkey.set_sequence(session.settings.hotkey)
        app.aboutToQuit.connect(self.hotkey.close)

    def _hotkey_pressed(self) -> None:
        self.toggle_popup()
        if self.popup_widget.isVisible():
            self.hotkey.bring_to_front(self.popup_widget)

    def set_hotkey(self, text: str) -> HotkeyStatus:
        """Switch to this key now (from Settings); remembered only if it could be used."""
        status = self.hotkey.set_sequence(text)
        if status.accepted:
            self.session.settings.hotkey = status.sequence
            self.session.settings.sync()
        return status

    def _hotkey_status(self, status: HotkeyStatus) -> None:
        self.quick_action.setShortcut(QKeySequence(status.sequence))
        if self.settings_view is not None:
            self.settings_view.show_hotkey(status)

    def show_icon(self) -> bool:
        """Show the menu-bar icon if the platform has a tray; then closing the window keeps the app up."""
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return False
        self.icon.show()
        self.app.setQuitOnLastWindowClosed(False)
        return True

    def visible(self) -> bool:
        return self.icon.isVisible()

    def keeps_running(self) -> bool:
        """Whether closing the window should leave the app running: something still reaches it (the tray
        icon, or the quick-search key from any program); otherwise nothing would and it quits."""
        return self.icon.isVisible() or self.hotkey.status.system_wide

    def _activated(self, reason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.toggle_popup()

    def toggle_popup(self) -> None:
        if self.popup_widget.isVisible():
            self.popup_widget.hide()
        else:
            geo = self.icon.geometry() if self.icon.isVisible() else None
            self.popup_widget.popup(geo.center() if geo is not None and geo.isValid() else None)

    def show_window(self) -> None:
        self.window.setWindowState(self.window.windowState() & ~Qt.WindowState.WindowMinimized)
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def _paused(self, paused: bool) -> None:
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(paused)
        self.pause_action.blockSignals(False)

    def notify_hidden(self) -> None:
        """The window was closed and the app keeps running: say so (once a session with a tray; once ever
        without one, in a small window that also offers to quit)."""
        if not self.icon.isVisible():
            self._notify_without_tray()
            return
        if not self._hidden_notice_shown and self.icon.supportsMessages():
            key = QKeySequence(self.hotkey.status.sequence).toString(QKeySequence.SequenceFormat.NativeText)
            self.icon.showMessage("mlx-embed is still running",
                                  "Search any time from the menu bar" + (f" or with {key}." if key else "."),
                                  QSystemTrayIcon.MessageIcon.Information, 4000)
            self._hidden_notice_shown = True

    def _notify_without_tray(self) -> None:
        settings = self.session.settings
        if settings.resident_notice_shown:
            return
        settings.resident_notice_shown = True
        settings.sync()
        key = QKeySequence(self.hotkey.status.sequence).toString(QKeySequence.SequenceFormat.NativeText)
        quit_key = self.window.quit_action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        box = QMessageBox(QMessageBox.Icon.Information, "mlx-embed is still running",
                          f"mlx-embed keeps running after its window closes, so {key} opens quick search from "
                          "any program and your folders stay up to date.")
        box.setInformativeText(f"To open the window again, start mlx-embed again (from your applications or "
                               f"with mlx-embed-app). To quit, press {quit_key} in quick search or in the "
                               "window, or choose File › Quit mlx-embed.")
        box.setObjectName("residentNotice")
        quit_button = box.addButton("Quit mlx-embed", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(box.addButton("Keep Running", QMessageBox.ButtonRole.AcceptRole))
        box.setModal(False)
        box.buttonClicked.connect(lambda b: self.window.quit_requested.emit() if b is quit_button else None)
        box.show()
        self.notice = box
