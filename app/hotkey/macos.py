"""System-wide hotkey on macOS through Carbon's `RegisterEventHotKey` (ctypes, no extra dependency).

This is the API Alfred, Raycast and most launchers use: it needs no Accessibility permission, and the
key is delivered to the app as a Carbon event on the main thread, which Qt's Cocoa event loop
dispatches. UNTESTED HERE: the build machine is Linux; this module is kept to the few calls needed and
is only imported on macOS. It detects a key another app registered as exclusive (eventHotKeyExistsErr)
but not system shortcuts (Spotlight's Cmd+Space, Keyboard settings): macOS gives those precedence
silently, so pick a combination they do not use.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, Structure, byref, c_int32, c_uint32, c_void_p

from PySide6.QtCore import QObject, Signal

from . import keys
from .keys import HotkeyTaken, HotkeyUnavailable

CARBON = "/System/Library/Frameworks/Carbon.framework/Carbon"
EVENT_CLASS_KEYBOARD = int.from_bytes(b"keyb", "big")
EVENT_HOTKEY_PRESSED = 5
EVENT_PARAM_DIRECT_OBJECT = int.from_bytes(b"----", "big")
TYPE_EVENT_HOTKEY_ID = int.from_bytes(b"hkid", "big")
HOTKEY_EXCLUSIVE = 1 << 0
HOTKEY_EXISTS_ERR = -9878
SIGNATURE = int.from_bytes(b"mlxe", "big")


class EventTypeSpec(Structure):
    _fields_ = [("eventClass", c_uint32), ("eventKind", c_uint32)]


class EventHotKeyID(Structure):
    _fields_ = [("signature", c_uint32), ("id", c_uint32)]


HANDLER = ctypes.CFUNCTYPE(c_int32, c_void_p, c_void_p, c_void_p)


class MacHotkeys(QObject):
    """Hot keys of this app. `pressed(handle)` fires on the main thread when one is pressed."""

    pressed = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        try:
            self._c = ctypes.CDLL(CARBON)
        except OSError as e:
            raise HotkeyUnavailable(f"cannot load Carbon ({e}); the shortcut works while mlx-embed is active.") from e
        c = self._c
        c.GetApplicationEventTarget.restype = c_void_p
        c.InstallEventHandler.argtypes = [c_void_p, HANDLER, c_uint32, POINTER(EventTypeSpec), c_void_p,
                                          POINTER(c_void_p)]
        c.RegisterEventHotKey.argtypes = [c_uint32, c_uint32, EventHotKeyID, c_void_p, c_uint32, POINTER(c_void_p)]
        c.UnregisterEventHotKey.argtypes = [c_void_p]
        c.GetEventParameter.argtypes = [c_void_p, c_uint32, c_uint32, c_void_p, c_uint32, c_void_p, c_void_p]
        self._refs: dict[int, c_void_p] = {}
        self._next_id = 1
        self._handler = HANDLER(self._on_event)       # kept alive as long as Carbon may call it
        spec = EventTypeSpec(EVENT_CLASS_KEYBOARD, EVENT_HOTKEY_PRESSED)
        status = c.InstallEventHandler(c.GetApplicationEventTarget(), self._handler, 1, byref(spec), None,
                                       byref(c_void_p()))
        if status != 0:
            raise HotkeyUnavailable(f"InstallEventHandler failed (OSStatus {status}).")

    def grab(self, combo: keys.Combo) -> int:
        handle, self._next_id = self._next_id, self._next_id + 1
        ref = c_void_p()
        status = self._c.RegisterEventHotKey(keys.mac_keycode(combo), keys.mac_modifiers(combo),
                                             EventHotKeyID(SIGNATURE, handle), self._c.GetApplicationEventTarget(),
                                             HOTKEY_EXCLUSIVE, byref(ref))
        if status == HOTKEY_EXISTS_ERR:
            raise HotkeyTaken(f"{combo.text()} is in use by another program.")
        if status != 0:
            raise HotkeyUnavailable(f"macOS refused {combo.text()} (OSStatus {status}).")
        self._refs[handle] = ref
        return handle

    def ungrab(self, handle: int) -> None:
        ref = self._refs.pop(handle, None)
        if ref is not None:
            self._c.UnregisterEventHotKey(ref)

    def activate(self, _window_id: int) -> None:
        """Bring this app to the front: a hot key arrives while another app is active, and Qt only
        orders its window front inside our app. [NSApp activateIgnoringOtherApps:YES] through the ObjC
        runtime (objc_msgSend called through a non-variadic prototype, as arm64 requires)."""
        objc = ctypes.CDLL("/usr/lib/libobjc.A.dylib")
        objc.objc_getClass.restype = objc.sel_registerName.restype = c_void_p
        objc.objc_getClass.argtypes = objc.sel_registerName.argtypes = [ctypes.c_char_p]
        send = ctypes.cast(objc.objc_msgSend, c_void_p).value
        shared = ctypes.CFUNCTYPE(c_void_p, c_void_p, c_void_p)(send)
        activate = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, ctypes.c_bool)(send)
        app = shared(objc.objc_getClass(b"NSApplication"), objc.sel_registerName(b"sharedApplication"))
        activate(app, objc.sel_registerName(b"activateIgnoringOtherApps:"), True)

    def close(self) -> None:
        for handle in list(self._refs):
            self.ungrab(handle)

    def _on_event(self, _call_ref, event, _user_data) -> int:
        hk = EventHotKeyID()
        self._c.GetEventParameter(event, EVENT_PARAM_DIRECT_OBJECT, TYPE_EVENT_HOTKEY_ID, None,
                                  ctypes.sizeof(hk), None, byref(hk))
        if hk.signature == SIGNATURE and hk.id in self._refs:
            self.pressed.emit(hk.id)
        return 0
