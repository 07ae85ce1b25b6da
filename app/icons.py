"""Icons: the app icon from assets/icon.svg (a PNG fallback), the menu-bar icon, and page icons."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle


def assets_dir() -> Path:
    """assets/ next to the app package (a checkout), or inside a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    for base in ([Path(bundle)] if bundle else []) + [Path(__file__).resolve().parent.parent,
                                                      Path(__file__).resolve().parent]:
        if (base / "assets" / "icon.svg").is_file() or (base / "assets" / "icon.png").is_file():
            return base / "assets"
    return Path(__file__).resolve().parent.parent / "assets"


def render_svg(path: Path, size: int) -> QImage:
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    renderer = QSvgRenderer(str(path))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def _icon_from(name: str, sizes=(16, 32, 64, 128, 256, 512)) -> QIcon:
    svg, png = assets_dir() / f"{name}.svg", assets_dir() / f"{name}.png"
    icon = QIcon()
    if svg.is_file():
        try:
            for s in sizes:
                icon.addPixmap(QPixmap.fromImage(render_svg(svg, s)))
            return icon
        except ImportError:       # no QtSvg: fall back to the PNG
            pass
    if png.is_file():
        icon.addFile(str(png))
    return icon


_cache: dict[str, QIcon] = {}


def app_icon() -> QIcon:
    if "app" not in _cache:
        icon = _icon_from("icon")
        if icon.isNull():           # an install without assets/: the platform's generic icon
            from PySide6.QtWidgets import QApplication
            icon = QApplication.style().standardIcon(QStyle.StandardPixmap.SP_FileDialogContentsView)
        _cache["app"] = icon
    return _cache["app"]


def tray_icon() -> QIcon:
    if "tray" not in _cache:
        icon = _icon_from("tray", (16, 22, 32, 44, 64))
        if sys.platform == "darwin":
            icon.setIsMask(True)     # a template image: macOS tints it for light and dark menu bars
        _cache["tray"] = icon if not icon.isNull() else app_icon()
    return _cache["tray"]


PAGE_FALLBACK = {
    "search": QStyle.StandardPixmap.SP_FileDialogContentsView,
    "folders": QStyle.StandardPixmap.SP_DirIcon,
    "cluster": QStyle.StandardPixmap.SP_FileDialogListView,
    "classify": QStyle.StandardPixmap.SP_FileDialogDetailedView,
    "settings": QStyle.StandardPixmap.SP_FileDialogInfoView,
    "model": QStyle.StandardPixmap.SP_DriveHDIcon,
}


def tinted(svg: Path, size: int, colour: QColor) -> QPixmap:
    """A monochrome line icon in `colour` (the palette's text colour: right in light and dark mode)."""
    image = render_svg(svg, size)
    painter = QPainter(image)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
    painter.fillRect(image.rect(), colour)
    painter.end()
    return QPixmap.fromImage(image)


def page_icon(name: str, style: QStyle, palette: QPalette | None = None) -> QIcon:
    svg = assets_dir() / "pages" / f"{name}.svg"
    if palette is None or not svg.is_file():
        return style.standardIcon(PAGE_FALLBACK[name])
    icon = QIcon()
    for size in (20, 40):
        icon.addPixmap(tinted(svg, size, palette.color(QPalette.ColorRole.WindowText)), QIcon.Mode.Normal)
        icon.addPixmap(tinted(svg, size, palette.color(QPalette.ColorRole.HighlightedText)), QIcon.Mode.Selected)
    return icon


def write_png(svg: Path, png: Path, size: int = 512) -> None:
    """Render the SVG to a PNG (assets/icon.png; PyInstaller makes the .icns from it)."""
    render_svg(svg, size).save(str(png))


__all__ = ["app_icon", "tray_icon", "page_icon", "assets_dir", "write_png"]
