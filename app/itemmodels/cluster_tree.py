"""The Cluster screen's tree: groups (editable names) with their files; files move between groups."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QStandardItem, QStandardItemModel

from .common import ClusterRole, PathRole, file_icon


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
