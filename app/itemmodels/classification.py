"""The Classify screen's models: the results table (a label per file, correctable) and the label set editor."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QStandardItem, QStandardItemModel

from mlx_embed.organize.classify import shown_path

from .common import PathRole, file_icon


CLASSIFY_COLUMNS = ("File", "Label", "Confidence", "Why")


class ClassifyModel(QAbstractTableModel):
    """Classification results (the library's Assignment); the Label column is editable (a correction)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list = []
        self.labels: list[str] = []
        self.threshold = 0.5
        self.corrections: dict[str, str] = {}     # path -> label chosen by the user
        self.root: Path | None = None             # the folder classified: paths are shown relative to it

    def set_results(self, rows: list, labels: list[str], threshold: float, root: str | Path | None = None) -> None:
        self.beginResetModel()
        self.rows, self.labels, self.threshold = list(rows), list(labels), threshold
        self.root = Path(root).resolve() if root else None
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
                return shown_path(a.path, self.root)      # doc00 and old/doc00 differ
            if col == 1:
                if label:
                    return label
                return f"unsure ({a.best}?)" if role == Qt.ItemDataRole.DisplayRole else a.best
            if col == 2:
                return "corrected" if corrected else f"{a.confidence:.0%}"
            return "your correction" if corrected else a.explain(self.root)
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return file_icon(a.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(a.path) if col == 0 else (self._why_tip(a) if col == 3 else None)
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

    def _why_tip(self, a) -> str:
        lines = [a.explain(self.root)]
        lines += [f"example {shown_path(p, self.root)}: similarity {sim:.2f}" for p, sim in a.nearest]
        return "\n".join(lines)

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
