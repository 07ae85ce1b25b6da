"""The system-wide quick-search hotkey: one key combination that opens the popup from any program.

`GlobalHotkey.set_sequence("Ctrl+Alt+Space")` registers the key with the platform (an X11 key grab on
Linux, Carbon's RegisterEventHotKey on macOS) and returns a `HotkeyStatus` for the Settings screen. A
key another program holds is reported and the previous key is kept. Where no system-wide registration
exists (Wayland, other platforms) the status says so and the key still works while the app is active
(the tray's in-app shortcut uses the same key).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication

from .keys import DEFAULT_HOTKEY, BadHotkey, Combo, HotkeyTaken, HotkeyUnavailable, parse

__all__ = ["DEFAULT_HOTKEY", "GlobalHotkey", "HotkeyStatus", "parse"]


@dataclass(frozen=True)
class HotkeyStatus:
    sequence: str          # the key in effect, Qt portable text ("" = none); the in-app shortcut uses it too
    system_wide: bool      # registered with the system: works from any program
    accepted: bool         # the last request was honoured (False: taken / invalid, the old key is kept)
    message: str           # one or two sentences for Settings and the tray tooltip


def _backend(platform: str):
    """The platform's registration backend, or (None, why not) where there is none."""
    if platform == "xcb":
        from .x11 import X11Hotkeys
        return X11Hotkeys(), None
    if platform == "cocoa":
        from .macos import MacHotkeys
        return MacHotkeys(), None
    if platform.startswith("wayland"):
        return None, "Wayland does not let programs take system-wide keys"
    return None, f"system-wide shortcuts are not available on this platform ({platform})"


class GlobalHotkey(QObject):
    activated = Signal()
    status_changed = Signal(object)

    def __init__(self, parent: QObject | None = None, platform: str | None = None):
        super().__init__(parent)
        self._combo: Combo | None = None
        self._handle = None
        try:
            self._backend, self._why_not = _backend(platform or QGuiApplication.platformName())
        except HotkeyUnavailable as e:
            self._backend, self._why_not = None, str(e).rstrip(".")
        if self._backend is not None:
            self._backend.pressed.connect(self._pressed)
        # Under XWayland the grab only sees keys typed into X11 windows.
        self._xwayland = platform in (None, "xcb") and bool(os.environ.get("WAYLAND_DISPLAY"))
        self.status = HotkeyStatus("", False, True, "No quick-search shortcut.")

    @property
    def available(self) -> bool:
        return self._backend is not None

    def set_sequence(self, text: str) -> HotkeyStatus:
        """Use this key from now on; keep the current one if it cannot be used. Returns the new status."""
        old = self._combo.text() if self._combo else ""
        if not text.strip():
            self._release()
            return self._emit(HotkeyStatus("", False, True, "No quick-search shortcut: use the menu-bar icon."))
        try:
            combo = parse(text)
            if self._combo == combo and (self._handle is not None or self._backend is None):
                return self._emit(self._ok_status(combo))
            if self._backend is None:
                self._combo = combo
                return self._emit(self._ok_status(combo))
            handle = self._backend.grab(combo)
        except BadHotkey as e:
            return self._refused(str(e), old)
        except (HotkeyTaken, HotkeyUnavailable) as e:
            if self._combo in (None, combo):     # nothing to keep: the key still works inside the app
                self._combo = combo
                return self._emit(HotkeyStatus(combo.text(native=False), False, False,
                                               f"{e} It works only while mlx-embed is active; choose another key."))
            return self._refused(str(e), old)
        self._release()
        self._combo, self._handle = combo, handle
        return self._emit(self._ok_status(combo))

    def bring_to_front(self, widget) -> None:
        """After the hotkey opened `widget`: make it the active window although another program had the
        focus (on macOS the app must be activated first; on X11 Qt does it alone)."""
        if self._backend is not None:
            self._backend.activate(int(widget.winId()))
            widget.activateWindow()

    def close(self) -> None:
        self._release()
        if self._backend is not None:
            self._backend.close()

    def _ok_status(self, combo: Combo) -> HotkeyStatus:
        key = combo.text()
        if self._backend is None:
            why = self._why_not[:1].upper() + self._why_not[1:]
            return HotkeyStatus(combo.text(native=False), False, True,
                                f"{why}: {key} works while mlx-embed is active; elsewhere, use the "
                                "menu-bar icon.")
        if self._xwayland:
            return HotkeyStatus(combo.text(native=False), True, True,
                                f"{key} works while an X11 program has focus (a Wayland session does not let "
                                "programs take keys everywhere).")
        return HotkeyStatus(combo.text(native=False), True, True, f"Press {key} in any program to search.")

    def _refused(self, reason: str, old: str) -> HotkeyStatus:
        kept = f" Kept {old}." if old else ""
        return self._emit(HotkeyStatus(self._combo.text(native=False) if self._combo else "",
                                       self._handle is not None, False, reason + kept))

    def _release(self) -> None:
        if self._handle is not None and self._backend is not None:
            self._backend.ungrab(self._handle)
        self._combo, self._handle = None, None

    def _emit(self, status: HotkeyStatus) -> HotkeyStatus:
        self.status = status
        self.status_changed.emit(status)
        return status

    def _pressed(self, handle) -> None:
        if handle == self._handle:
            self.activated.emit()
