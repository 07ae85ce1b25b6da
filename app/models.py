"""Qt item models filled from library results (via app.library's plain records). Widgets only display them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QFileInfo, QModelIndex, Qt
from PySide6.QtGui import QColor, QIcon, QStandardItem, QStandardItemModel
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


class ResultsModel(QAbstractListModel):
    """Search hits (app.library.Hit), best first."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.hits: list = []
        self.query = ""

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
            return file_icon(hit.path)
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


FOLDER_COLUMNS = ("Folder", "Files", "Indexed", "Pending", "Skipped", "Failed", "Last update", "Status")


class FoldersModel(QAbstractTableModel):
    """Indexed folders and their status (app.library.FolderStatus)."""

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


# Qt's qualitative palette for clusters (readable on light and dark backgrounds).
CLUSTER_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7",
                   "#9c755f", "#bab0ac", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#17becf"]
NOISE_COLOUR = "#9e9e9e"


def cluster_colour(cid: int) -> QColor:
    return QColor(NOISE_COLOUR if cid < 0 else CLUSTER_COLOURS[cid % len(CLUSTER_COLOURS)])


class ClusterTreeModel(QStandardItemModel):
    """Clusters (editable names) with their files as children; files can move between clusters."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setHorizontalHeaderLabels(["Group", "Files"])

    def set_clustering(self, groups: list) -> None:
        """groups: [app.library.Group(id, label, files, central, outliers)] (noise as id -1)."""
        self.removeRows(0, self.rowCount())
        for g in groups:
            self.appendRow(self._group_row(g.id, g.label, g.files, set(g.outliers)))

    def _group_row(self, cid: int, label: str, files: list, outliers: set) -> list[QStandardItem]:
        item = QStandardItem(label)
        item.setData(cid, ClusterRole)
        item.setEditable(cid >= 0)
        item.setIcon(_swatch(cluster_colour(cid)))
        item.setFlags((item.flags() | Qt.ItemFlag.ItemIsDropEnabled) & ~Qt.ItemFlag.ItemIsDragEnabled)
        count = QStandardItem(str(len(files)))
        count.setEditable(False)
        count.setFlags(count.flags() & ~Qt.ItemFlag.ItemIsDropEnabled & ~Qt.ItemFlag.ItemIsDragEnabled)
        for f in files:
            child = QStandardItem(file_icon(f), Path(f).name + ("  (outlier)" if f in outliers else ""))
            child.setData(str(f), PathRole)
            child.setToolTip(str(f))
            child.setEditable(False)
            child.setFlags((child.flags() | Qt.ItemFlag.ItemIsDragEnabled) & ~Qt.ItemFlag.ItemIsDropEnabled)
            item.appendRow([child])
        return [item, count]

    def flags(self, index):
        if not index.isValid():   # the root takes no drops: files land in a group, never at top level
            return Qt.ItemFlag.NoItemFlags
        return super().flags(index)

    def group_items(self) -> list[QStandardItem]:
        return [self.item(r, 0) for r in range(self.rowCount())]

    def groups(self) -> list[tuple[int, str, list[str]]]:
        """Current state after the user's renames and moves: [(cluster id, name, [paths])]."""
        out = []
        for item in self.group_items():
            files = [item.child(r, 0).data(PathRole) for r in range(item.rowCount())]
            out.append((item.data(ClusterRole), item.text(), [f for f in files if f]))
        return out

    def cluster_of(self, path: str) -> int | None:
        for cid, _, files in self.groups():
            if path in files:
                return cid
        return None

    def move_file(self, path: str, cid: int) -> bool:
        """Move a file to cluster `cid` (the user's correction). True if it moved."""
        target = next((it for it in self.group_items() if it.data(ClusterRole) == cid), None)
        if target is None:
            return False
        for item in self.group_items():
            for r in range(item.rowCount()):
                if item.child(r, 0).data(PathRole) == path:
                    if item is target:
                        return False
                    row = item.takeRow(r)
                    target.appendRow(row)
                    self._refresh_counts()
                    return True
        return False

    def _refresh_counts(self) -> None:
        for r in range(self.rowCount()):
            self.item(r, 1).setText(str(self.item(r, 0).rowCount()))

    def dropMimeData(self, data, action, row, column, parent):  # noqa: N802
        ok = super().dropMimeData(data, action, row, 0, parent)
        self._refresh_counts()
        return ok


def _swatch(colour: QColor) -> QIcon:
    from PySide6.QtGui import QPainter, QPixmap

    pm = QPixmap(14, 14)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(colour)
    p.setPen(colour.darker(130))
    p.drawEllipse(1, 1, 12, 12)
    p.end()
    return QIcon(pm)


CLASSIFY_COLUMNS = ("File", "Label", "Confidence", "Why")


class ClassifyModel(QAbstractTableModel):
    """Classification results (app.library.Assignment); the Label column is editable (a correction)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list = []
        self.labels: list[str] = []
        self.threshold = 0.5
        self.corrections: dict[str, str] = {}     # path -> label chosen by the user

    def set_results(self, rows: list, labels: list[str], threshold: float) -> None:
        self.beginResetModel()
        self.rows, self.labels, self.threshold = list(rows), list(labels), threshold
        self.corrections = {}
        self.endResetModel()

    def set_threshold(self, threshold: float) -> None:
        self.threshold = threshold
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(CLASSIFY_COLUMNS) - 1))

    def label_of(self, row: int) -> str | None:
        """The label a row will get: the user's correction, else the proposal, else None (unsure)."""
        a = self.rows[row]
        if str(a.path) in self.corrections:
            return self.corrections[str(a.path)]
        return a.best if a.confidence >= self.threshold else None

    def assignments(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in range(len(self.rows)):
            label = self.label_of(r)
            if label:
                out.setdefault(label, []).append(str(self.rows[r].path))
        return out

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return len(CLASSIFY_COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return CLASSIFY_COLUMNS[section]
        return None

    def flags(self, index):
        f = super().flags(index)
        return f | Qt.ItemFlag.ItemIsEditable if index.column() == 1 else f

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        a = self.rows[index.row()]
        col = index.column()
        label = self.label_of(index.row())
        corrected = str(a.path) in self.corrections
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if col == 0:
                return Path(a.path).name
            if col == 1:
                if label:
                    return label
                return f"unsure ({a.best}?)" if role == Qt.ItemDataRole.DisplayRole else a.best
            if col == 2:
                return "corrected" if corrected else f"{a.confidence:.0%}"
            return "your correction" if corrected else a.reason
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return file_icon(a.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(a.path) if col == 0 else (a.reason if col == 3 else None)
        if role == Qt.ItemDataRole.ForegroundRole and col == 1 and not label:
            return QColor("#b9770e")
        if role == Qt.ItemDataRole.FontRole and col == 1 and corrected:
            from PySide6.QtGui import QFont
            f = QFont()
            f.setBold(True)
            return f
        if role == PathRole:
            return str(a.path)
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole):  # noqa: N802
        if index.column() != 1 or role != Qt.ItemDataRole.EditRole or value not in self.labels:
            return False
        self.corrections[str(self.rows[index.row()].path)] = value
        self.dataChanged.emit(self.index(index.row(), 0), self.index(index.row(), len(CLASSIFY_COLUMNS) - 1))
        return True


class LabelsModel(QStandardItemModel):
    """The label set being edited: name, description, example files (stored in the item's PathRole)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setHorizontalHeaderLabels(["Label", "Description", "Examples"])

    def add_label(self, name: str, description: str = "", examples: list[str] | None = None) -> int:
        name_item = QStandardItem(name)
        desc_item = QStandardItem(description)
        ex_item = QStandardItem()
        ex_item.setEditable(False)
        self.appendRow([name_item, desc_item, ex_item])
        self.set_examples(self.rowCount() - 1, examples or [])
        return self.rowCount() - 1

    def set_examples(self, row: int, examples: list[str]) -> None:
        item = self.item(row, 2)
        examples = sorted(dict.fromkeys(str(e) for e in examples))
        item.setData(examples, PathRole)
        item.setText(", ".join(Path(e).name for e in examples) if examples else "drop example files here")
        item.setToolTip("\n".join(examples))
        item.setForeground(QColor("#7f8c8d") if not examples else QColor())

    def add_examples(self, row: int, paths: list[str]) -> None:
        self.set_examples(row, (self.item(row, 2).data(PathRole) or []) + [str(p) for p in paths])

    def labels(self) -> list[dict]:
        out = []
        for r in range(self.rowCount()):
            name = self.item(r, 0).text().strip()
            if name:
                out.append({"name": name, "description": self.item(r, 1).text().strip(),
                            "examples": list(self.item(r, 2).data(PathRole) or [])})
        return out

    def set_labels(self, labels: list[dict]) -> None:
        self.removeRows(0, self.rowCount())
        for lab in labels:
            self.add_label(lab.get("name", ""), lab.get("description", ""), lab.get("examples", []))


__all__ = ["ResultsModel", "FoldersModel", "ClusterTreeModel", "ClassifyModel", "LabelsModel", "file_icon",
           "human_date", "human_size", "cluster_colour", "PathRole", "ClusterRole"]
