"""The system-wide quick-search hotkey, and the app started without PySide6.

The X11 tests run a real X server (Xvfb) and the app in a child process on it (QT_QPA_PLATFORM=xcb; the
rest of the suite runs offscreen in-process). The key is typed with xdotool (XTEST, as a keyboard would),
while the focus is in another X client's window; a second X client made here with ctypes plays "another
program" holding the key. The child is this file run as `python -m tests.test_hotkey child MODE DIR`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-output" / "screenshots"
X_TOOLS = ("Xvfb", "xdotool")
NEEDS_X = pytest.mark.skipif(any(shutil.which(t) is None for t in X_TOOLS) or ctypes.util.find_library("X11") is None,
                             reason="needs Xvfb, xdotool and libX11 (./dev installs xvfb, xdotool, libx11-6)")


# --- pure key translation (no display) -------------------------------------------------------------------
def test_parse_and_translate_keys():
    from app.hotkey import keys

    c = keys.parse("Ctrl+Alt+Space")
    assert (keys.x11_keysym(c), keys.x11_modifiers(c)) == (0x20, keys.X_CONTROL | keys.X_MOD1)
    c = keys.parse("Meta+Shift+K")           # Qt's Meta is Super on Linux, the Control key on macOS
    assert (keys.x11_keysym(c), keys.x11_modifiers(c)) == (ord("k"), keys.X_MOD4 | keys.X_SHIFT)
    assert keys.mac_modifiers(c) == keys.MAC_CONTROL | keys.MAC_SHIFT and keys.mac_keycode(c) == 0x28
    c = keys.parse("Ctrl+Shift+Space")       # Cmd+Shift+Space on macOS
    assert (keys.mac_keycode(c), keys.mac_modifiers(c)) == (0x31, keys.MAC_CMD | keys.MAC_SHIFT)
    assert keys.x11_keysym(keys.parse("F12")) == 0xFFC9 and keys.mac_keycode(keys.parse("F12")) == 0x6F
    assert keys.x11_keysym(keys.parse("Ctrl+Alt+Left")) == 0xFF51
    assert keys.X_IGNORED_COMBOS == (0, keys.X_LOCK, keys.X_MOD2, keys.X_LOCK | keys.X_MOD2)
    for bad, why in [("", "not one key"), ("A", "take that key away"), ("Shift+A", "take that key away"),
                     ("Ctrl+A, Ctrl+B", "not one key")]:
        with pytest.raises(keys.BadHotkey, match=why):
            keys.parse(bad)


def test_without_system_hotkeys_the_key_works_in_app_and_says_so(qapp):
    from app.hotkey import GlobalHotkey

    hk = GlobalHotkey(platform="wayland")
    s = hk.set_sequence("Ctrl+Alt+Space")
    assert s.accepted and not s.system_wide and s.sequence == "Ctrl+Alt+Space"
    assert "Wayland" in s.message and "while mlx-embed is active" in s.message
    s = hk.set_sequence("K")                 # refused: the previous key stays
    assert not s.accepted and s.sequence == "Ctrl+Alt+Space" and "Kept Ctrl+Alt+Space" in s.message


def test_settings_screen_changes_the_key(qapp, tmp_path):
    from app.config import AppSettings
    from app.hotkey import DEFAULT_HOTKEY
    from app.main import build
    from PySide6.QtGui import QKeySequence

    session, window, tray = build(AppSettings(tmp_path / "s.ini"), tray=False, app=qapp)
    view = window.views["settings"]
    try:
        assert view.hotkey.keySequence() == QKeySequence(DEFAULT_HOTKEY) == tray.quick_action.shortcut()
        assert "offscreen" in view.hotkey_status.text()          # no system-wide key here, and it says so
        view.hotkey_requested.emit("Alt+J")
        assert tray.quick_action.shortcut() == QKeySequence("Alt+J") == view.hotkey.keySequence()
        assert AppSettings(tmp_path / "s.ini").hotkey == "Alt+J"
        view.hotkey_requested.emit("J")
        assert "take that key away" in view.hotkey_status.text() and view.hotkey.keySequence() == QKeySequence("Alt+J")
        assert AppSettings(tmp_path / "s.ini").hotkey == "Alt+J"
    finally:
        session.shutdown()
        window.close()


# --- without PySide6 -------------------------------------------------------------------------------------
def test_app_without_pyside6_says_what_to_install(tmp_path):
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['PySide6'] = None  # as if not installed\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    script = Path(sys.executable).parent / "mlx-embed-app"       # the installed entry point, and -m
    for cmd in ([[str(script)]] if script.exists() else []) + [[sys.executable, "-m", "app"]]:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 1, (cmd, out.stderr)
        assert len(lines) == 1 and "pip install 'mlx-embed[app]'" in lines[0] and "Traceback" not in out.stderr, lines


# --- X11, for real ---------------------------------------------------------------------------------------
class XErrorEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("display", ctypes.c_void_p), ("resourceid", ctypes.c_ulong),
                ("serial", ctypes.c_ulong), ("error_code", ctypes.c_ubyte), ("request_code", ctypes.c_ubyte),
                ("minor_code", ctypes.c_ubyte)]


class XClient:
    """Another program on the X server: a window of its own, and key grabs (libX11 through ctypes)."""

    def __init__(self, display: str):
        x = self.x = ctypes.CDLL(ctypes.util.find_library("X11"))
        vp, ul, i = ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int
        x.XOpenDisplay.restype, x.XOpenDisplay.argtypes = vp, [ctypes.c_char_p]
        x.XDefaultRootWindow.restype, x.XDefaultRootWindow.argtypes = ul, [vp]
        x.XCreateSimpleWindow.restype = ul
        x.XCreateSimpleWindow.argtypes = [vp, ul, i, i, ctypes.c_uint, ctypes.c_uint, ctypes.c_uint, ul, ul]
        x.XMapWindow.argtypes = [vp, ul]
        x.XSetInputFocus.argtypes = [vp, ul, i, ul]
        x.XKeysymToKeycode.restype, x.XKeysymToKeycode.argtypes = ctypes.c_ubyte, [vp, ul]
        x.XGrabKey.argtypes = [vp, i, ctypes.c_uint, ul, i, i, i]
        x.XSync.argtypes = [vp, i]
        x.XCloseDisplay.argtypes = [vp]
        x.XSetErrorHandler.restype, x.XSetErrorHandler.argtypes = vp, [vp]
        self.errors: list[int] = []
        self._handler = ctypes.CFUNCTYPE(i, vp, ctypes.POINTER(XErrorEvent))(
            lambda _d, ev: self.errors.append(ev.contents.error_code) or 0)
        x.XSetErrorHandler(ctypes.cast(self._handler, vp))   # this process has no other Xlib user
        self.dpy = x.XOpenDisplay(display.encode())
        assert self.dpy, f"cannot open X display {display}"
        self.root = x.XDefaultRootWindow(self.dpy)

    def focused_window(self) -> int:
        """Map a window and give it the keyboard focus, as the program the user is working in."""
        win = self.x.XCreateSimpleWindow(self.dpy, self.root, 10, 10, 300, 200, 0, 0, 0xFFFFFF)
        self.x.XMapWindow(self.dpy, win)
        self.x.XSync(self.dpy, 0)
        self.x.XSetInputFocus(self.dpy, win, 2, 0)      # RevertToParent, CurrentTime
        self.x.XSync(self.dpy, 0)
        return win

    def grab(self, keysym: int, mods: int) -> bool:
        """Grab like a launcher would; False if the X server says another client holds it (BadAccess)."""
        self.errors.clear()
        self.x.XGrabKey(self.dpy, self.x.XKeysymToKeycode(self.dpy, keysym), mods, self.root, 0, 1, 1)
        self.x.XSync(self.dpy, 0)
        return not self.errors

    def close(self) -> None:
        self.x.XCloseDisplay(self.dpy)


@pytest.fixture
def xserver():
    """A fresh Xvfb; yields its display name (":N", picked by the server itself)."""
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 15)
        number = os.read(r, 16).decode().strip() if ready else ""
        assert number, "Xvfb did not start within 15 s"
        yield f":{number}"
    finally:
        os.close(r)
        proc.terminate()
        proc.wait(10)


class Child:
    """The app in a child process on the X server, reporting one JSON line per step."""

    def __init__(self, mode: str, display: str, folder: Path):
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "HF_HUB_OFFLINE": "1"}
        env.pop("WAYLAND_DISPLAY", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.test_hotkey", "child", mode, str(folder)],
                                     cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def go_on(self) -> None:
        """The child waits (its state left as it is) until the parent has looked."""
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def step(self, timeout: float = 120) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            pytest.fail(f"the app gave no answer in {timeout} s: {self.proc.stderr.read()[-3000:]}")
        return json.loads(line)

    def close(self) -> None:
        try:
            self.proc.wait(15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        assert self.proc.returncode == 0, self.proc.stderr.read()[-3000:]


def xdotool(display: str, *args: str) -> str:
    return subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True,
                          text=True, timeout=10, check=True).stdout.strip()


@NEEDS_X
def test_hotkey_opens_popup_from_another_program(xserver, tmp_path):
    other = XClient(xserver)
    try:
        child = Child("open", xserver, tmp_path)
        ready = child.step()
        assert ready["system_wide"] and ready["sequence"] == "Ctrl+Alt+Space", ready
        assert not other.grab(0x20, 4 | 8) and not other.grab(0x20, 4 | 8 | 16), "held, with NumLock on too"
        foreign = other.focused_window()
        assert int(xdotool(xserver, "getwindowfocus", "-f")) == foreign, "another program has the focus"
        xdotool(xserver, "key", "ctrl+alt+space")
        opened = child.step()
        assert opened["visible"] and opened["active"] and opened["field_focus"], opened
        assert int(xdotool(xserver, "getwindowfocus", "-f")) == opened["popup_window"], "X focus is in the popup"
        assert opened["presses"] == 1
        child.go_on()

        # Settings switch the key at once: the new one opens the popup, the old one is given back.
        changed = child.step()
        assert changed["sequence"] == "Ctrl+Alt+J" and changed["system_wide"], changed
        assert other.grab(0x20, 4 | 8), "Ctrl+Alt+Space is released when the key changes"
        xdotool(xserver, "key", "ctrl+alt+j")
        again = child.step()
        assert again["visible"] and again["active"], again
        child.close()
    finally:
        other.close()


@NEEDS_X
def test_key_taken_by_another_program_is_reported(xserver, tmp_path):
    other = XClient(xserver)
    try:
        assert other.grab(0x20, 4 | 8)       # another launcher holds Ctrl+Alt+Space (plain, as many do)
        child = Child("taken", xserver, tmp_path)
        r = child.step()
        assert not r["start"]["system_wide"] and not r["start"]["accepted"]
        assert "in use by another program" in r["start"]["label"], r
        assert r["start"]["in_app_shortcut"] == "Ctrl+Alt+Space"    # still works inside the app
        assert r["free"]["accepted"] and r["free"]["system_wide"] and r["free"]["sequence"] == "Ctrl+Alt+J"
        assert not r["again"]["accepted"] and "in use by another program" in r["again"]["label"]
        assert "Kept Ctrl+Alt+J" in r["again"]["label"] and r["again"]["editor"] == "Ctrl+Alt+J"
        assert r["again"]["saved"] == "Ctrl+Alt+J", "a refused key is not saved"
        child.close()
        assert (SHOTS / "settings-hotkey-taken.png").is_file()
    finally:
        other.close()


# --- the child: the app on the X server ------------------------------------------------------------------
def _child(mode: str, folder: Path) -> int:
    import mlx_embed  # noqa: F401  (OpenBLAS before mlx.core, as the app does)
    from PySide6.QtCore import QEventLoop
    from PySide6.QtGui import QKeySequence
    from PySide6.QtWidgets import QApplication

    from app.config import AppSettings
    from app.main import build

    app = QApplication([sys.argv[0]])
    settings = AppSettings(folder / "settings.ini")
    session, window, tray = build(settings, tray=False, app=app)
    popup, view = tray.popup_widget, window.views["settings"]

    def say(**kw) -> None:
        print(json.dumps(kw), flush=True)

    def wait(predicate, timeout: float = 20) -> bool:
        end = time.monotonic() + timeout
        while not predicate() and time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)
        return predicate()

    def state(status) -> dict:
        text = QKeySequence.SequenceFormat.PortableText
        return {"sequence": status.sequence, "system_wide": status.system_wide, "accepted": status.accepted,
                "label": view.hotkey_status.text(), "editor": view.hotkey.keySequence().toString(text),
                "in_app_shortcut": tray.quick_action.shortcut().toString(text), "saved": settings.hotkey}

    presses = []
    tray.hotkey.activated.connect(lambda: presses.append(1))

    wait(lambda: False, 0.3)        # the app settles (the window is not shown: the app is in the background)
    if mode == "open":
        say(**state(tray.hotkey.status))
        for _ in range(2):
            wait(lambda: popup.isVisible() and popup.isActiveWindow() and popup.panel.field.hasFocus())
            wait(lambda: False, 0.3)     # a second event for one press would show up here
            say(visible=popup.isVisible(), active=QApplication.activeWindow() is popup,
                field_focus=popup.panel.field.hasFocus(), popup_window=int(popup.winId()), presses=len(presses))
            if len(presses) > 1:
                break
            sys.stdin.readline()
            popup.hide()
            # Qt learns that the hidden popup lost the X focus only after a moment; pressed again before
            # that, the popup gets the X focus but Qt does not make it active (a known gap, see the README).
            wait(lambda: QApplication.focusWindow() is None, 5)
            view.hotkey_requested.emit("Ctrl+Alt+J")
            say(**state(tray.hotkey.status))
    else:
        start = state(tray.hotkey.status)
        view.hotkey_requested.emit("Ctrl+Alt+J")
        free = state(tray.hotkey.status)
        view.hotkey_requested.emit("Ctrl+Alt+Space")
        again = state(tray.hotkey.status)
        window.resize(1040, 760)
        window.show_page("settings")
        window.show()
        wait(lambda: window.isVisible(), 5)
        SHOTS.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(SHOTS / "settings-hotkey-taken.png"))
        say(start=start, free=free, again=again)
    session.shutdown()
    tray.hotkey.close()
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["child"]:
    sys.exit(_child(sys.argv[2], Path(sys.argv[3])))
