"""Key combinations for the global hotkey: parse and check what the user typed, and translate it into
what each platform's hot-key API wants (an X keysym + modifier mask, a macOS virtual key code + Carbon
modifier mask). Pure functions, so they are tested without a display.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

# Linux has no Option key, and Super+Space (GNOME/IBus input source), Alt+Space (KDE KRunner, window
# menus), Ctrl+Space (input methods, editors' completion) and Ctrl+Shift+Space (LibreOffice/Word
# non-breaking space) are taken. Ctrl+Alt+Space is free on GNOME, KDE and Xfce defaults.
# macOS: Cmd+Space is Spotlight, Ctrl(+Option)+Space switches input sources, Option+Space types a
# non-breaking space; Cmd+Shift+Space has no system binding. Qt writes Cmd as "Ctrl" on macOS.
DEFAULT_HOTKEY = "Ctrl+Shift+Space" if sys.platform == "darwin" else "Ctrl+Alt+Space"

Mods = Qt.KeyboardModifier
_ALL_MODS = Mods.ShiftModifier | Mods.ControlModifier | Mods.AltModifier | Mods.MetaModifier
_FUNCTION_KEYS = range(Qt.Key.Key_F1.value, Qt.Key.Key_F35.value + 1)


class BadHotkey(ValueError):
    """The combination cannot be a system-wide shortcut; the message says why and what to do."""


class HotkeyTaken(RuntimeError):
    """Another program holds this key combination."""


class HotkeyUnavailable(RuntimeError):
    """No system-wide hotkey here (no X display, no libX11, no Carbon); the message says why."""


@dataclass(frozen=True)
class Combo:
    key: int            # a Qt.Key value
    mods: Mods          # Shift / Control / Alt / Meta only (Qt's names: Control is Cmd on macOS)

    def text(self, native: bool = True) -> str:
        fmt = QKeySequence.SequenceFormat.NativeText if native else QKeySequence.SequenceFormat.PortableText
        return QKeySequence(self.mods.value | self.key).toString(fmt)


def parse(text: str) -> Combo:
    """`"Ctrl+Alt+Space"` (Qt's portable text, as stored in settings) -> Combo; BadHotkey if unusable."""
    seq = QKeySequence(text.strip())
    if seq.isEmpty() or seq.count() != 1:
        raise BadHotkey(f"'{text}' is not one key combination: type a modifier and a key, e.g. {DEFAULT_HOTKEY}.")
    combo = seq[0]
    key = combo.key().value
    mods = Mods(combo.keyboardModifiers().value & _ALL_MODS.value)
    if key in (Qt.Key.Key_unknown.value, 0) or key in (Qt.Key.Key_Shift.value, Qt.Key.Key_Control.value,
                                                        Qt.Key.Key_Alt.value, Qt.Key.Key_Meta.value):
        raise BadHotkey(f"'{text}' has no key besides the modifiers: add one, e.g. Space.")
    # A plain letter (or Shift+letter) grabbed system-wide would stop the user typing it anywhere.
    if not (mods & ~Mods.ShiftModifier) and key not in _FUNCTION_KEYS:
        raise BadHotkey(f"'{text}' would take that key away from every program: add Ctrl, Alt or "
                        f"{'Cmd' if sys.platform == 'darwin' else 'Super'}, or use a function key.")
    return Combo(key, mods)


# --- X11 ------------------------------------------------------------------------------------------------
X_SHIFT, X_LOCK, X_CONTROL, X_MOD1, X_MOD2, X_MOD4 = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 6
# The X server compares the whole modifier state, so a grab must also be made with CapsLock (Lock) and
# NumLock (Mod2 on every common keymap) on, or the key silently stops working when either is on.
X_IGNORED_COMBOS = (0, X_LOCK, X_MOD2, X_LOCK | X_MOD2)

_X_SPECIAL = {
    Qt.Key.Key_Escape: 0xFF1B, Qt.Key.Key_Tab: 0xFF09, Qt.Key.Key_Backspace: 0xFF08, Qt.Key.Key_Return: 0xFF0D,
    Qt.Key.Key_Enter: 0xFF8D, Qt.Key.Key_Insert: 0xFF63, Qt.Key.Key_Delete: 0xFFFF, Qt.Key.Key_Pause: 0xFF13,
    Qt.Key.Key_Print: 0xFF61, Qt.Key.Key_Home: 0xFF50, Qt.Key.Key_End: 0xFF57, Qt.Key.Key_Left: 0xFF51,
    Qt.Key.Key_Up: 0xFF52, Qt.Key.Key_Right: 0xFF53, Qt.Key.Key_Down: 0xFF54, Qt.Key.Key_PageUp: 0xFF55,
    Qt.Key.Key_PageDown: 0xFF56, Qt.Key.Key_Menu: 0xFF67,
}


def x11_keysym(combo: Combo) -> int:
    key = combo.key
    if key in _FUNCTION_KEYS:
        return 0xFFBE + key - Qt.Key.Key_F1.value          # XK_F1 ...
    if Qt.Key.Key_A.value <= key <= Qt.Key.Key_Z.value:
        return key + 0x20                                   # XK_a ...: keymaps list the lower case first
    if 0x20 <= key <= 0x7E or 0xA0 <= key <= 0xFF:
        return key                                          # Latin-1 keysyms equal their code points
    for qt_key, sym in _X_SPECIAL.items():
        if qt_key.value == key:
            return sym
    raise BadHotkey(f"{combo.text()}: this key cannot be used for a system-wide shortcut; pick another.")


def x11_modifiers(combo: Combo) -> int:
    m = combo.mods
    # Alt is Mod1 and Super is Mod4 on every stock X keymap (xmodmap -pm); Qt calls Super "Meta".
    return ((X_SHIFT if m & Mods.ShiftModifier else 0) | (X_CONTROL if m & Mods.ControlModifier else 0)
            | (X_MOD1 if m & Mods.AltModifier else 0) | (X_MOD4 if m & Mods.MetaModifier else 0))


# --- macOS (Carbon) ---------------------------------------------------------------------------------------
MAC_CMD, MAC_SHIFT, MAC_OPTION, MAC_CONTROL = 0x0100, 0x0200, 0x0800, 0x1000

# Virtual key codes (HIToolbox Events.h, kVK_*): physical positions on an ANSI keyboard.
_MAC_KEYS = {**{c: v for c, v in zip("ASDFHGZXCV", (0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09))},
             "B": 0x0B, "Q": 0x0C, "W": 0x0D, "E": 0x0E, "R": 0x0F, "Y": 0x10, "T": 0x11, "1": 0x12, "2": 0x13,
             "3": 0x14, "4": 0x15, "6": 0x16, "5": 0x17, "=": 0x18, "9": 0x19, "7": 0x1A, "-": 0x1B, "8": 0x1C,
             "0": 0x1D, "]": 0x1E, "O": 0x1F, "U": 0x20, "[": 0x21, "I": 0x22, "P": 0x23, "L": 0x25, "J": 0x26,
             "'": 0x27, "K": 0x28, ";": 0x29, "\\": 0x2A, ",": 0x2B, "/": 0x2C, "N": 0x2D, "M": 0x2E, ".": 0x2F,
             " ": 0x31, "`": 0x32}
_MAC_SPECIAL = {
    Qt.Key.Key_Return: 0x24, Qt.Key.Key_Tab: 0x30, Qt.Key.Key_Backspace: 0x33, Qt.Key.Key_Escape: 0x35,
    Qt.Key.Key_Home: 0x73, Qt.Key.Key_PageUp: 0x74, Qt.Key.Key_Delete: 0x75, Qt.Key.Key_End: 0x77,
    Qt.Key.Key_PageDown: 0x79, Qt.Key.Key_Left: 0x7B, Qt.Key.Key_Right: 0x7C, Qt.Key.Key_Down: 0x7D,
    Qt.Key.Key_Up: 0x7E,
}
_MAC_F = (0x7A, 0x78, 0x63, 0x76, 0x60, 0x61, 0x62, 0x64, 0x65, 0x6D, 0x67, 0x6F, 0x69, 0x6B, 0x71, 0x6A,
          0x40, 0x4F, 0x50, 0x5A)   # F1..F20


def mac_keycode(combo: Combo) -> int:
    key = combo.key
    if key in _FUNCTION_KEYS and key - Qt.Key.Key_F1.value < len(_MAC_F):
        return _MAC_F[key - Qt.Key.Key_F1.value]
    if 0x20 <= key <= 0x7E and chr(key).upper() in _MAC_KEYS:
        return _MAC_KEYS[chr(key).upper()]
    for qt_key, code in _MAC_SPECIAL.items():
        if qt_key.value == key:
            return code
    raise BadHotkey(f"{combo.text()}: this key cannot be used for a system-wide shortcut; pick another.")


def mac_modifiers(combo: Combo) -> int:
    m = combo.mods
    # Qt on macOS: ControlModifier is Cmd and MetaModifier is the Control key.
    return ((MAC_CMD if m & Mods.ControlModifier else 0) | (MAC_SHIFT if m & Mods.ShiftModifier else 0)
            | (MAC_OPTION if m & Mods.AltModifier else 0) | (MAC_CONTROL if m & Mods.MetaModifier else 0))
