"""The app stays resident without a tray (stock GNOME has none): closing the window keeps the quick-search
key (and indexing) alive and says once how to quit or reopen; Quit and Ctrl+Q end it; starting it again
shows the running one's window.

The offscreen tests drive the window in-process (no tray there); the X11 test runs the real
`mlx-embed-app` on Xvfb (no tray, no window manager) and works it from outside with xdotool, as a user
on stock GNOME would: close the window, press the key in another program, quit with Ctrl+Q.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

pytest.importorskip("PySide6")

from PySide6.QtGui import QKeySequence  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon  # noqa: E402

from app.config import AppSettings  # noqa: E402
from app.hotkey import HotkeyStatus  # noqa: E402
from app.main import build  # noqa: E402

from .test_hotkey import NEEDS_X, ROOT, xdotool, xserver  # noqa: E402,F401  (xserver: a fixture)

SYSTEM_WIDE = HotkeyStatus("Ctrl+Alt+Space", True, True, "Press Ctrl+Alt+Space in any program to search.")
SHOTS = ROOT / "test-output" / "screenshots"


def wait_until(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while not predicate() and time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def no_tray_app(qapp, tmp_path, monkeypatch):
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: False))
    settings = AppSettings(tmp_path / "s.ini")
    session, window, tray = build(settings, tray=True, app=qapp)     # asks for a tray: there is none
    quits = []
    monkeypatch.setattr(qapp, "quit", lambda: quits.append(1))        # Quit's last step, counted
    yield session, window, tray, quits, tmp_path
    qapp.setQuitOnLastWindowClosed(True)
    if tray.notice is not None:
        tray.notice.close()
    tray.popup_widget.close()
    tray.hotkey.close()
    session.shutdown()


def test_closing_the_window_without_a_tray_keeps_quick_search(no_tray_app):
    session, window, tray, quits, tmp = no_tray_app
    assert not tray.visible()
    tray.hotkey.status = SYSTEM_WIDE                 # the key works from any program (X11, macOS)
    window.show()
    assert window.close() is False, "the close is turned into a hide"
    assert not window.isVisible() and not QApplication.instance().quitOnLastWindowClosed()
    notice = tray.notice
    assert isinstance(notice, QMessageBox) and notice.isVisible()
    words = notice.text() + " " + notice.informativeText()
    assert "Ctrl+Alt+Space" in words and "press Ctrl+Q in quick search" in words and "start mlx-embed again" in words, words
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert notice.grab().save(str(SHOTS / "closed-without-tray-notice.png"))
    assert AppSettings(tmp / "s.ini").resident_notice_shown, "said once: remembered across starts"
    notice.close()
    # the popup still opens (the in-app shortcut and the system-wide key share this action)
    tray.quick_action.trigger()
    assert tray.popup_widget.isVisible()
    tray.popup_widget.hide()
    # closing again: no second notice
    tray.notice = None
    tray.show_window()
    assert window.isVisible()
    window.close()
    assert not window.isVisible() and tray.notice is None
    assert quits == [], "nothing quit so far"
    # Ctrl+Q (File > Quit) works from the popup too, and ends the app
    assert window.quit_action in tray.popup_widget.actions()
    assert window.quit_action.shortcut() == QKeySequence("Ctrl+Q")
    window.quit_action.trigger()
    assert quits == [1] and session.index is None


def test_the_notice_offers_to_quit(no_tray_app):
    session, window, tray, quits, _ = no_tray_app
    tray.hotkey.status = SYSTEM_WIDE
    window.show()
    window.close()
    quit_button = next(b for b in tray.notice.buttons() if b.text() == "Quit mlx-embed")
    quit_button.click()
    assert quits == [1]


def test_without_tray_or_system_wide_key_closing_quits(no_tray_app):
    """Nothing would reach a hidden app (Wayland without a tray): closing the window quits, as before."""
    session, window, tray, quits, _ = no_tray_app
    tray.hotkey.status = HotkeyStatus("Ctrl+Alt+Space", False, True, "works while mlx-embed is active")
    assert not tray.keeps_running()
    window.show()
    assert window.close() is True
    assert QApplication.instance().quitOnLastWindowClosed() and tray.notice is None


def test_starting_again_shows_the_running_window(qapp):
    from app.single import hand_over, instance_name, listen

    name = instance_name(f"test-{os.getpid()}-{time.monotonic()}")
    assert instance_name("a.ini") != instance_name("b.ini")
    assert not hand_over(name, 200), "nobody listens yet"
    shown = []
    server = listen(name, lambda: shown.append(1))
    try:
        assert server is not None and hand_over(name)
        assert wait_until(lambda: shown == [1], 5)
    finally:
        server.close()


@NEEDS_X
def test_on_x11_without_tray_the_key_outlives_the_window(xserver, tmp_path):
    env = {**os.environ, "DISPLAY": xserver, "QT_QPA_PLATFORM": "xcb", "HF_HUB_OFFLINE": "1"}
    env.pop("WAYLAND_DISPLAY", None)
    env.pop("MLX_EMBED_MODEL", None)
    settings = tmp_path / "settings.ini"
    cmd = [sys.executable, "-m", "app", "--settings", str(settings)]
    app = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def windows(name: str) -> list[str]:
        try:
            return xdotool(xserver, "search", "--onlyvisible", "--name", name).split()
        except subprocess.CalledProcessError:       # none found
            return []

    def until(predicate, timeout: float = 60) -> bool:
        end = time.monotonic() + timeout
        while not predicate() and time.monotonic() < end and app.poll() is None:
            time.sleep(0.2)
        return predicate()

    try:
        assert until(lambda: windows("^mlx-embed$")), "the window did not appear"
        main = windows("^mlx-embed$")[0]
        xdotool(xserver, "windowfocus", "--sync", main)
        xdotool(xserver, "key", "ctrl+w")                        # File > Close Window
        assert until(lambda: windows("still running")), "no notice after closing the window"
        assert not windows("^mlx-embed$") and app.poll() is None, "the window is closed, the app runs"
        xdotool(xserver, "windowfocus", "--sync", windows("still running")[0])
        xdotool(xserver, "key", "Return")                         # the default button: Keep Running
        assert until(lambda: not windows("still running"), 30) and app.poll() is None
        # a second start hands over to the first: its window comes back, the second exits at once
        second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 0 and "already running" in second.stderr, second.stderr[-2000:]
        assert until(lambda: windows("^mlx-embed$"), 30), "the running app did not show its window"
        xdotool(xserver, "windowfocus", "--sync", windows("^mlx-embed$")[0])
        xdotool(xserver, "key", "ctrl+w")
        assert until(lambda: not windows("^mlx-embed$"), 30) and not windows("still running"), "said only once"
        # the quick-search key, pressed with the window closed, opens the popup; Ctrl+Q there quits
        xdotool(xserver, "key", "ctrl+alt+space")
        assert until(lambda: windows("quick search"), 30), "the key did not open the popup"
        xdotool(xserver, "windowfocus", "--sync", windows("quick search")[0])
        xdotool(xserver, "key", "ctrl+q")
        app.wait(30)
        assert app.returncode == 0, app.stderr.read()[-3000:]
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
