"""Classify: define labels (name, description, example files by drag and drop), run on a folder, review
the table (file, label, confidence, unsure), correct, apply with preview and undo. Label sets are saved."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QInputDialog,
                               QLabel, QLineEdit, QProgressBar, QPushButton, QSlider, QSplitter, QStyledItemDelegate,
                               QTableView, QVBoxLayout, QWidget)

from mlx_embed.organize.labelset import TEMPLATE_LABELS

from . import library
from .actions_dialog import FileActions
from .cluster_view import dropped_paths
from .itemmodels.classification import ClassifyModel, LabelsModel
from .itemmodels.common import PathRole

UNSAVED = "(unsaved)"
STARTER_LABELS = [{"name": name, "description": description, "examples": []}     # the CLI's --init-labels set
                  for name, description in TEMPLATE_LABELS]


class LabelsTable(QTableView):
    """The label editor; drop files on a row to make them examples of that label."""

    examples_dropped = Signal(int, list)

    def __init__(self, parent=None, **props):
        super().__init__(parent, **props)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.viewport().setAcceptDrops(True)

    def dragEnterEvent(self, event):  # noqa: N802
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event):  # noqa: N802
        if dropped_paths(event.mimeData()) and self.indexAt(event.position().toPoint()).isValid():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):  # noqa: N802
        ix = self.indexAt(event.position().toPoint())
        paths = dropped_paths(event.mimeData())
        if ix.isValid() and paths:
            event.acceptProposedAction()
            self.examples_dropped.emit(ix.row(), paths)


class LabelDelegate(QStyledItemDelegate):
    """A combo box of the label names for the result table's Label column."""

    def createEditor(self, parent, option, index):  # noqa: N802
        combo = QComboBox(parent)
        combo.addItems(index.model().labels)
        return combo

    def setEditorData(self, editor, index):  # noqa: N802
        editor.setCurrentText(index.data(Qt.ItemDataRole.EditRole) or "")

    def setModelData(self, editor, model, index):  # noqa: N802
        model.setData(index, editor.currentText(), Qt.ItemDataRole.EditRole)


class ClassifyView(QWidget):
    classified = Signal(object)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setAcceptDrops(True)
        self.labels = LabelsModel(self)
        self.results = ClassifyModel(self)
        self.last_result = None
        self._run_folder: str | None = None

        # label sets
        self.set_combo = QComboBox(objectName="labelSet")
        self.set_combo.setMinimumContentsLength(16)
        self.set_combo.activated.connect(lambda _i: self.load_set(self.set_combo.currentText()))
        self.save_set_button = QPushButton("Save Set…", objectName="saveLabelSet")
        self.save_set_button.clicked.connect(self._save_set_dialog)
        self.add_label_button = QPushButton("Add Label", objectName="addLabel")
        self.add_label_button.clicked.connect(self._add_label)
        self.remove_label_button = QPushButton("Remove Label", objectName="removeLabel")
        self.remove_label_button.clicked.connect(self._remove_label)
        sets = QHBoxLayout()
        sets.addWidget(QLabel("<b>Labels</b>"))
        sets.addWidget(self.set_combo)
        sets.addWidget(self.save_set_button)
        sets.addStretch(1)
        sets.addWidget(self.add_label_button)
        sets.addWidget(self.remove_label_button)

        self.labels_table = LabelsTable(objectName="labelsTable")
        self.labels_table.setModel(self.labels)
        self.labels_table.verticalHeader().hide()
        self.labels_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        h = self.labels_table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        h.resizeSection(0, 150)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        h.resizeSection(2, 220)
        self.labels_table.examples_dropped.connect(self.labels.add_examples)
        hint = QLabel("Describe each label in a few words; drop example files on a label to teach it by example. "
                      "Correcting a result below adds the file as an example for the next run.")
        hint.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        # what to classify
        self.folder_edit = QLineEdit(objectName="classifyFolder", placeholderText="Folder to classify (drop one here)")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_folder)
        from mlx_embed.organize.labelset import DEFAULT_THRESHOLD  # the calibrated default (library doc)

        self.threshold = QSlider(Qt.Orientation.Horizontal, objectName="threshold", minimum=0, maximum=100,
                                 value=round(DEFAULT_THRESHOLD * 100))
        self.threshold.setFixedWidth(140)
        self.threshold_label = QLabel()
        self.threshold.valueChanged.connect(self._threshold_changed)
        self.run_button = QPushButton("Classify", objectName="classifyRun")
        self.run_button.clicked.connect(self.run)
        self.stop_button = QPushButton("Stop", objectName="classifyStop", enabled=False)
        self.stop_button.clicked.connect(self.stop)
        run_row = QHBoxLayout()
        run_row.addWidget(self.folder_edit, 1)
        run_row.addWidget(browse)
        run_row.addWidget(QLabel("Unsure below"))
        run_row.addWidget(self.threshold)
        run_row.addWidget(self.threshold_label)
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.stop_button)

        self.table = QTableView(objectName="classifyTable")
        self.table.setModel(self.results)
        self.table.setItemDelegateForColumn(1, LabelDelegate(self.table))
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(False)
        th = self.table.horizontalHeader()
        th.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        th.resizeSection(0, 220)
        th.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        th.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        th.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.results.dataChanged.connect(self._corrected)

        self.progress = QProgressBar(objectName="classifyProgress")
        self.progress.hide()
        self.status = QLabel(objectName="classifyStatus")
        self.status.setWordWrap(True)
        self.apply_button = QPushButton("Apply…", objectName="classifyApply", enabled=False)
        self.apply_button.clicked.connect(self.apply)
        self.undo_button = QPushButton("Undo", objectName="classifyUndo", enabled=False)
        self.actions = FileActions(session, self, self.undo_button)
        self.actions.status.connect(lambda text: self.status.setText(text))
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.undo_button)
        bottom.addWidget(self.apply_button)

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addLayout(sets)
        tl.addWidget(self.labels_table)
        tl.addWidget(hint)
        bottom_w = QWidget()
        bl = QVBoxLayout(bottom_w)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addLayout(run_row)
        bl.addWidget(self.table, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom_w)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(split, 1)
        layout.addWidget(self.progress)
        layout.addLayout(bottom)

        self.label_set = None
        self._threshold_changed(self.threshold.value())
        self._reload_sets()
        names = library.list_label_sets()
        if names:
            self.load_set(names[0])
        else:
            self.labels.set_labels(STARTER_LABELS)
        self.status.setText("Choose a folder and press Classify.")

    # --- label sets (saved as the library's JSON files: reusable with `mlx-embed classify --labels`) ----
    def _reload_sets(self, current: str | None = None) -> None:
        self.set_combo.clear()
        names = library.list_label_sets()
        self.set_combo.addItems(names or [UNSAVED])
        if current in names:
            self.set_combo.setCurrentText(current)

    def current_set_name(self) -> str | None:
        name = self.set_combo.currentText()
        return None if not name or name == UNSAVED else name

    def _label_set(self):
        self.label_set = library.make_label_set(self.labels.labels(), self.threshold.value() / 100, self.label_set)
        return self.label_set

    def save_set(self, name: str) -> None:
        try:
            library.save_label_set(name, self._label_set())
        except Exception as exc:  # noqa: BLE001
            from .workers import describe_error
            self.status.setText(describe_error(exc))
            return
        self._reload_sets(name)
        self.status.setText(f"Saved label set “{name}”.")

    def _save_set_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "Save label set", "Name:", text=self.current_set_name() or "My labels")
        if ok and name.strip():
            self.save_set(name.strip())

    def load_set(self, name: str) -> None:
        try:
            ls = library.load_label_set(name)
        except Exception as exc:  # noqa: BLE001
            from .workers import describe_error
            self.status.setText(describe_error(exc))
            return
        self.label_set = ls
        self.labels.set_labels(library.label_set_rows(ls))
        self.threshold.setValue(round(ls.threshold * 100))
        self.set_combo.setCurrentText(name)

    def _add_label(self) -> None:
        row = self.labels.add_label("New label", "")
        self.labels_table.edit(self.labels.index(row, 0))

    def _remove_label(self) -> None:
        rows = sorted({ix.row() for ix in self.labels_table.selectionModel().selectedRows()}, reverse=True)
        for r in rows:
            self.labels.removeRow(r)

    # --- input ------------------------------------------------------------------------------------
    def dragEnterEvent(self, event):  # noqa: N802
        if any(Path(p).is_dir() for p in dropped_paths(event.mimeData())):
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        folders = [p for p in dropped_paths(event.mimeData()) if Path(p).is_dir()]
        if folders:
            event.acceptProposedAction()
            self.folder_edit.setText(folders[0])

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder to classify")
        if folder:
            self.folder_edit.setText(folder)

    def _threshold_changed(self, value: int) -> None:
        self.threshold_label.setText(f"{value}%")
        self.results.set_threshold(value / 100)
        self._update_summary()

    # --- running ----------------------------------------------------------------------------------
    def run(self) -> None:
        folder = self.folder_edit.text().strip()
        labels = self.labels.labels()
        if not folder or not Path(folder).is_dir():
            self.status.setText("Choose a folder to classify (or drop one on this page).")
            return
        if len(labels) < 2:
            self.status.setText("Define at least two labels: a name and a few words each.")
            return
        if self.session.model is None:
            self.status.setText("Choose a model first (Settings › Model).")
            return
        task = self.session.classify(folder, labels, self.threshold.value() / 100, self._label_set())
        self._run_folder = folder
        self.progress.show()
        self.progress.setRange(0, 0)
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText("Finding files…")
        task.signals.progress.connect(self._progress)
        task.signals.finished.connect(self._done)
        task.signals.failed.connect(self._failed)
        task.signals.cancelled.connect(lambda _rid: self._failed(_rid, "Classification stopped."))

    def _progress(self, _rid, p) -> None:
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)
        self.status.setText(p.message)

    def stop(self) -> None:
        """Cancel the run at the next batch of files (the library's progress callback raises)."""
        self.session.runner.cancel("classify")
        self.stop_button.setEnabled(False)
        self.status.setText("Stopping…")

    def _failed(self, _rid, message: str) -> None:
        self.progress.hide()
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.status.setText(message)

    def _done(self, _rid, result) -> None:
        self.progress.hide()
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.last_result = result
        self.label_set = result.label_set
        self.results.set_results(result.assignments, result.labels, self.threshold.value() / 100, self._run_folder)
        self.apply_button.setEnabled(bool(result.assignments))
        self._update_summary()
        self.classified.emit(result)

    def _update_summary(self) -> None:
        if not self.results.rows:
            return
        sure = self.results.assignments()
        n_sure = sum(len(v) for v in sure.values())
        unsure = len(self.results.rows) - n_sure
        parts = ", ".join(f"{k}: {len(v)}" for k, v in sorted(sure.items()))
        extra = f" · {self.last_result.note}" if self.last_result is not None and self.last_result.note else ""
        self.status.setText(f"{len(self.results.rows)} files · {parts}{' · ' if parts else ''}unsure: {unsure}"
                            f"{extra}. Double-click a label to correct it.")

    def _corrected(self, top_left, _bottom_right, roles=()) -> None:
        """A correction makes the file an example of the chosen label (library LabelSet.correct), so the
        next run learns from it; a saved set is saved again."""
        path = top_left.siblingAtColumn(0).data(PathRole)
        label = self.results.corrections.get(path)
        if not path or not label:
            return
        ls = self._label_set()
        ls.correct(path, label)
        self.labels.set_labels(library.label_set_rows(ls))
        name = self.current_set_name()
        if name:
            library.save_label_set(name, ls)
        self._update_summary()

    # --- applying ---------------------------------------------------------------------------------
    def apply(self):
        groups = sorted(self.results.assignments().items())
        if not groups:
            self.status.setText("Nothing to apply: every file is unsure. Lower the threshold or correct labels.")
            return None
        dest = QFileDialog.getExistingDirectory(self, "Put the labelled files in folders inside…",
                                                self.folder_edit.text())
        if dest:
            return self.preview_and_apply(groups, dest)
        return None

    def preview_and_apply(self, groups, dest: str, mode: str = "move", confirm: bool = True):
        """Preview the library's plan, then apply it in a worker (returns the task, None if not applied)."""
        return self.actions.preview_and_apply(groups, dest, mode, confirm)
