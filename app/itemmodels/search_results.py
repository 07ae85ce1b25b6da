"""The Search screen's results list: one row per hit (app.index_handle.Hit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt

from .common import DateRole, FolderRole, KindRole, PassageRole, PathRole, ScoreRole, file_icon, human_date
from .thumbnails import Thumbnails


class SearchResultsModel(QAbstractListModel):
    """Search hits (app.index_handle.Hit), best first."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.hits: list = []
        self.query = ""
        self.thumbnails = Thumbnails(parent=self)  # image hits show their picture (decoded off the GUI thread)
        self.thumbnails.ready.connect(self._thumbnail_ready)

    def set_hits(self, hits: list, query: str = "") -> None:
        self.beginResetModel()
        self.hits = list(hits)
        self.query = query
        self.endResetModel()

    def clear(self) -> None:
        self.set_hits([], "")

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.hits)

    def hit(self, row: int):
        return self.hits[row] if 0 <= row < len(self.hits) else None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole) -> Any:
        hit = self.hit(index.row()) if index.isValid() else None
        if hit is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return hit.name
        if role == Qt.ItemDataRole.DecorationRole:
            thumb = self.thumbnails.icon(str(hit.path)) if hit.kind == "image" else None
            return thumb or file_icon(hit.path)
        copies = getattr(hit, "copies", ())
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join([str(hit.path)] + ([f"Also in {len(copies)} other place{'s' * (len(copies) > 1)}:"]
                                                + [str(p) for p in copies] if copies else []))
        if role == PathRole:
            return str(hit.path)
        if role == FolderRole:  # identical copies are one row: say where else the content is
            folder = str(Path(hit.path).parent)
            return f"{folder} · also in {len(copies)} place{'s' * (len(copies) > 1)}" if copies else folder
        if role == DateRole:
            return human_date(hit.modified)
        if role == PassageRole:
            return hit.passage_html
        if role == ScoreRole:
            return hit.score
        if role == KindRole:
            return hit.kind
        return None

    def _thumbnail_ready(self, path: str) -> None:
        for row, hit in enumerate(self.hits):
            if str(hit.path) == path:
                self.dataChanged.emit(self.index(row), self.index(row), [Qt.ItemDataRole.DecorationRole])
