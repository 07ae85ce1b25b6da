"""The Folders screen's table: one row per indexed folder with the state of its files."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from .common import PathRole, file_icon, human_date


FOLDER_COLUMNS = ("Folder", "Files", "Indexed", "Pending", "Skipped", "Failed", "Last update", "Status")


class FolderTableModel(QAbstractTableModel):
    """Indexed folders and their status (app.index_handle.FolderStatus)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list = []

    def set_folders(self, rows: list) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def folder(self, row: int):
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return len(FOLDER_COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return FOLDER_COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        row = self.folder(index.row()) if index.isValid() else None
        if row is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return [str(row.path), f"{row.files:,}", f"{row.indexed:,}", f"{row.pending:,}", f"{row.skipped:,}",
                    f"{row.failed:,}", human_date(row.updated) or "never", row.state][col]
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return file_icon(row.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.path}\n{row.summary}" if col == 0 else None
        if role == Qt.ItemDataRole.TextAlignmentRole and 1 <= col <= 5:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col == 5 and row.failed:
            return QColor("#c0392b")
        if role == PathRole:
            return str(row.path)
        return None
