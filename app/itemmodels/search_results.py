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
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(hit.path)
        if role == PathRole:
            return str(hit.path)
        if role == FolderRole:
            return str(Path(hit.path).parent)
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
