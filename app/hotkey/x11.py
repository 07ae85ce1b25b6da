"""System-wide hotkey on X11: a passive key grab on the root window (`XGrabKey`), through ctypes on libX11.

The grab is made on a second X connection of our own, so Qt's connection is left alone. The X server then
sends that key to us whichever window has focus; the events are read on the GUI thread when the
connection's socket becomes readable (QSocketNotifier), without ever blocking. A key already grabbed by
another program makes the server answer BadAccess, which is caught with a temporary error handler and
reported as `HotkeyTaken`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import POINTER, Structure, byref, c_char_p, c_int, c_long, c_uint, c_ubyte, c_ulong, c_void_p

from PySide6.QtCore import QObject, QSocketNotifier, Signal

from . import keys
from .keys import HotkeyTaken, HotkeyUnavailable

KEY_PRESS, KEY_RELEASE = 2, 3
GRAB_MODE_ASYNC = 1
BAD_ACCESS = 10
_STATE_MODS = 0xFF & ~(keys.X_LOCK | keys.X_MOD2)     # modifier bits, without CapsLock/NumLock


class XErrorEvent(Structure):
    _fields_ = [("type", c_int), ("display", c_void_p), ("resourceid", c_ulong), ("serial", c_ulong),
                ("error_code", c_ubyte), ("request_code", c_ubyte), ("minor_code", c_ubyte)]


class XKeyEvent(Structure):
    _fields_ = [("type", c_int), ("serial", c_ulong), ("send_event", c_int), ("display", c_void_p),
                ("window", c_ulong), ("root", c_ulong), ("subwindow", c_ulong), ("time", c_ulong),
                ("x", c_int), ("y", c_int), ("x_root", c_int), ("y_root", c_int), ("state", c_uint),
                ("keycode", c_uint), ("same_screen", c_int)]


class XEvent(ctypes.Union):
    _fields_ = [("type", c_int), ("xkey", XKeyEvent), ("pad", c_long * 24)]


ERROR_HANDLER = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(XErrorEvent))


def load_xlib() -> ctypes.CDLL:
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    try:
        lib = ctypes.CDLL(name)
    except OSError as e:
        raise HotkeyUnavailable(f"libX11 is not installed ({e}): install libx11-6 for a system-wide shortcut.") from e
    lib.XOpenDisplay.restype = c_void_p
    lib.XOpenDisplay.argtypes = [c_char_p]
    lib.XDefaultRootWindow.restype = c_ulong
    lib.XDefaultRootWindow.argtypes = [c_void_p]
    lib.XConnectionNumber.argtypes = [c_void_p]
    lib.XKeysymToKeycode.restype = c_ubyte
    lib.XKeysymToKeycode.argtypes = [c_void_p, c_ulong]
    lib.XGrabKey.argtypes = [c_void_p, c_int, c_uint, c_ulong, c_int, c_int, c_int]
    lib.XUngrabKey.argtypes = [c_void_p, c_int, c_uint, c_ulong]
    lib.XSync.argtypes = [c_void_p, c_int]
    lib.XPending.argtypes = [c_void_p]
    lib.XNextEvent.argtypes = [c_void_p, POINTER(XEvent)]
    lib.XSetErrorHandler.restype = c_void_p
    lib.XSetErrorHandler.argtypes = [c_void_p]
    lib.XkbSetDetectableAutoRepeat.argtypes = [c_void_p, c_int, c_void_p]
    lib.XCloseDisplay.argtypes = [c_void_p]
    return lib


class X11Hotkeys(QObject):
    """Grabs on one X display. `pressed(handle)` fires once per press (auto-repeat is ignored)."""

    pressed = Signal(object)

    def __init__(self, display: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._x = load_xlib()
        name = display if display is not None else os.environ.get("DISPLAY", "")
        self._dpy = self._x.XOpenDisplay(name.encode() or None)
        if not self._dpy:
            raise HotkeyUnavailable(f"cannot connect to the X display '{name}' for a system-wide shortcut.")
        self._root = self._x.XDefaultRootWindow(self._dpy)
        # Held keys then repeat as press, press, ... (no fake releases), so one press opens the popup once.
        self._x.XkbSetDetectableAutoRepeat(self._dpy, 1, None)
        self._grabs: set[tuple[int, int]] = set()
        self._down: set[int] = set()
        self._event = XEvent()
        self._notifier = QSocketNotifier(self._x.XConnectionNumber(self._dpy), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)

    def grab(self, combo: keys.Combo) -> tuple[int, int]:
        """Grab the combination (with CapsLock/NumLock variants); HotkeyTaken if another program has it."""
        keycode = self._x.XKeysymToKeycode(self._dpy, keys.x11_keysym(combo))
        if not keycode:
            raise keys.BadHotkey(f"{combo.text()}: this keyboard layout has no such key; pick another.")
        mods = keys.x11_modifiers(combo)
        handle = (keycode, mods)
        if handle in self._grabs:
            return handle
        errors = self._synced(lambda: [self._x.XGrabKey(self._dpy, keycode, mods | extra, self._root, 0,
                                                        GRAB_MODE_ASYNC, GRAB_MODE_ASYNC)
                                       for extra in keys.X_IGNORED_COMBOS])
        if errors:
            self._ungrab_all_variants(handle)
            if BAD_ACCESS in errors:
                raise HotkeyTaken(f"{combo.text()} is in use by another program.")
            raise HotkeyUnavailable(f"the X server refused {combo.text()} (X error {errors[0]}).")
        self._grabs.add(handle)
        self._drain()          # XSync may have queued events without the socket becoming readable again
        return handle

    def ungrab(self, handle: tuple[int, int]) -> None:
        if handle in self._grabs:
            self._grabs.discard(handle)
            self._ungrab_all_variants(handle)

    def activate(self, window_id: int) -> None:
        """Nothing to do: Qt's own activation of the shown window takes the focus from the other program
        (its request carries a fresh timestamp from mapping the window; tested under Xvfb)."""

    def close(self) -> None:
        if self._dpy:
            self._notifier.setEnabled(False)
            for handle in list(self._grabs):
                self.ungrab(handle)
            self._x.XCloseDisplay(self._dpy)
            self._dpy = None

    def _ungrab_all_variants(self, handle: tuple[int, int]) -> None:
        keycode, mods = handle
        self._synced(lambda: [self._x.XUngrabKey(self._dpy, keycode, mods | extra, self._root)
                              for extra in keys.X_IGNORED_COMBOS])

    def _synced(self, requests) -> list[int]:
        """Run X requests and wait for the server's answer; return the error codes it sent for them.

        Xlib's error handler is process-wide (Qt's own libX11 use shares it), so ours is installed only for
        this round trip and passes errors of other connections on to the previous handler."""
        errors: list[int] = []
        previous = None

        def on_error(display, event):
            if display == self._dpy:
                errors.append(event.contents.error_code)
                return 0
            return ERROR_HANDLER(previous)(display, event) if previous else 0

        handler = ERROR_HANDLER(on_error)
        previous = self._x.XSetErrorHandler(ctypes.cast(handler, c_void_p))
        try:
            requests()
            self._x.XSync(self._dpy, 0)
        finally:
            self._x.XSetErrorHandler(previous)
        return errors

    def _drain(self, *_args) -> None:
        if not self._dpy:
            return
        ev = self._event
        while self._x.XPending(self._dpy):
            self._x.XNextEvent(self._dpy, byref(ev))
            if ev.type == KEY_PRESS:
                handle = (ev.xkey.keycode, ev.xkey.state & _STATE_MODS)
                if handle in self._grabs and ev.xkey.keycode not in self._down:
                    self._down.add(ev.xkey.keycode)
                    self.pressed.emit(handle)
            elif ev.type == KEY_RELEASE:
                self._down.discard(ev.xkey.keycode)
