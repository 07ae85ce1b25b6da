"""What every item model shares: the item data roles, the platform's file icons, dates and sizes in words."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QFileInfo, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QFileIconProvider

PathRole = Qt.ItemDataRole.UserRole + 1
FolderRole = Qt.ItemDataRole.UserRole + 2
DateRole = Qt.ItemDataRole.UserRole + 3
PassageRole = Qt.ItemDataRole.UserRole + 4
ScoreRole = Qt.ItemDataRole.UserRole + 5
KindRole = Qt.ItemDataRole.UserRole + 6
ClusterRole = Qt.ItemDataRole.UserRole + 7

_icons: dict[str, QIcon] = {}
_provider: QFileIconProvider | None = None


def file_icon(path: str | Path) -> QIcon:
    """The platform's icon for a file (cached per extension; folders get the folder icon)."""
    global _provider
    if _provider is None:
        _provider = QFileIconProvider()
    p = Path(path)
    key = "/" if p.is_dir() else p.suffix.lower() or p.name
    icon = _icons.get(key)
    if icon is None:
        icon = _provider.icon(QFileInfo(str(p)))
        if icon.isNull():
            icon = _provider.icon(QFileIconProvider.IconType.File)
        _icons[key] = icon
    return icon


def human_date(ts: float | None) -> str:
    if not ts:
        return ""
    when = dt.datetime.fromtimestamp(ts)
    now = dt.datetime.now()
    if when.date() == now.date():
        return when.strftime("Today %H:%M")
    if (now.date() - when.date()).days == 1:
        return when.strftime("Yesterday %H:%M")
    if when.year == now.year:
        return when.strftime("%d %b")
    return when.strftime("%d %b %Y")


def human_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""
