"""Small thumbnails of image files for result lists, decoded off the GUI thread and kept in memory.

    thumbs = Thumbnails(side=56)
    thumbs.ready.connect(lambda path: ...)      # a thumbnail asked for earlier is now there
    thumbs.icon(path) -> QIcon | None           # the thumbnail if decoded, else None (and decoding starts)

QImageReader with setScaledSize decodes straight to the small size (a 12-megapixel photo is never held
whole); what Qt cannot read (HEIC) goes through Pillow (+ pillow-heif when installed). QImage is safe to
make in a worker thread; the QIcon (a pixmap) is made on the GUI thread. A file that cannot be read
gets None for good (the caller shows the file-type icon).
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QIcon, QImage, QImageReader, QPixmap

MAX_KEPT = 400  # thumbnails kept (about 12 KB each at 56 px)


class _Signals(QObject):
    done = Signal(str, object)  # path, QImage or None


class _Decode(QRunnable):
    def __init__(self, path: str, side: int, signals: _Signals):
        super().__init__()
        self.path, self.side, self.signals = path, side, signals

    def run(self) -> None:
        try:
            img = decode(self.path, self.side)
        except Exception:  # a hostile file must not take a pool thread down
            img = None
        self.signals.done.emit(self.path, img)


def decode(path: str, side: int) -> QImage | None:
    """The image at `path` scaled to fit side x side (never enlarged), or None."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)  # EXIF rotation, as the photo was taken
    size = reader.size()
    if size.isValid() and size.width() > 0 and size.height() > 0:
        reader.setScaledSize(size.scaled(QSize(side, side), Qt.AspectRatioMode.KeepAspectRatio).boundedTo(size))
        img = reader.read()
        if not img.isNull():
            return img
    return _decode_with_pillow(path, side)


def _decode_with_pillow(path: str, side: int) -> QImage | None:
    try:
        from PIL import Image, ImageOps
    except ImportError:
        return None
    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:
        pass
    try:
        with Image.open(path) as im:
            im.draft("RGB", (side, side))
            im = ImageOps.exif_transpose(im).convert("RGBA")
            im.thumbnail((side, side))
            data = im.tobytes()
            return QImage(data, im.width, im.height, 4 * im.width, QImage.Format.Format_RGBA8888).copy()
    except Exception:
        return None


class Thumbnails(QObject):
    """Thumbnails by path, decoded in a thread pool of one thread (the indexer may be busy)."""

    ready = Signal(str)

    def __init__(self, side: int = 56, parent=None):
        super().__init__(parent)
        self.side = side
        self._icons: OrderedDict[str, QIcon | None] = OrderedDict()
        self._asked: set[str] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _Signals(self)
        self._signals.done.connect(self._done)

    def icon(self, path: str) -> QIcon | None:
        if path in self._icons:
            self._icons.move_to_end(path)
            return self._icons[path]
        if path not in self._asked:
            self._asked.add(path)
            self._pool.start(_Decode(path, self.side, self._signals))
        return None

    def wait(self, ms: int = 5000) -> bool:
        """Block until every decode asked for has finished (tests)."""
        return self._pool.waitForDone(ms)

    def _done(self, path: str, img) -> None:
        self._asked.discard(path)
        self._icons[path] = QIcon(QPixmap.fromImage(img)) if img is not None else None
        while len(self._icons) > MAX_KEPT:
            self._icons.popitem(last=False)
        self.ready.emit(path)
