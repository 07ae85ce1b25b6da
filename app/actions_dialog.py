"""Preview of a file-action plan (move / copy / tag into folders) before anything happens."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout)

from . import library
from .itemmodels.common import file_icon

MODES = [("Move the files into a folder per group", "move"), ("Copy the files into a folder per group", "copy"),
         ("Tag the files with the group name (Finder tags on macOS)", "tag")]


class PlanDialog(QDialog):
    """Shows each destination folder and the files that go there; nothing changes until OK."""

    def __init__(self, plan, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preview")
        self.resize(760, 500)
        self.heading = QLabel(objectName="planHeading")
        self.heading.setWordWrap(True)
        self.mode_combo = QComboBox(objectName="planMode")
        for text, mode in MODES:
            self.mode_combo.addItem(text, mode)
        self.mode_combo.setCurrentIndex(max(0, self.mode_combo.findData(library.plan_mode(plan))))
        mode_row = QHBoxLayout()
        mode_row.addWidget(QLabel("Action:"))
        mode_row.addWidget(self.mode_combo, 1)
        self.tree = QTreeWidget(objectName="planTree")
        self.tree.setHeaderLabels(["File", "Goes to"])
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.problems = QLabel(objectName="planProblems")
        self.problems.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(mode_row)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.problems)
        layout.addWidget(buttons)
        self.set_plan(plan)

    def set_plan(self, plan) -> None:
        self.plan = plan
        self.heading.setText(f"<b>{library.plan_summary(plan)}</b><br>Nothing changes until you press OK. "
                             "Every step is recorded first, so Undo puts each file back.")
        self.tree.clear()
        by_target: dict[str, list] = {}
        for src, dst in library.plan_steps(plan):
            by_target.setdefault(str(Path(dst).parent) if dst else "tags", []).append((src, dst))
        for target, items in by_target.items():
            top = QTreeWidgetItem([f"{Path(target).name}  ({len(items)} files)", target])
            top.setIcon(0, file_icon("/"))
            top.setToolTip(1, target)
            for src, dst in items:
                shown = str(Path(Path(dst).parent.name) / Path(dst).name) if dst else "tag only"
                child = QTreeWidgetItem([Path(src).name, shown])
                child.setIcon(0, file_icon(src))
                child.setToolTip(0, str(src))
                child.setToolTip(1, str(dst or ""))
                top.addChild(child)
            self.tree.addTopLevelItem(top)
        self.tree.expandAll()
        problems = library.plan_problems(plan)
        self.problems.setText("\n".join(f"⚠ {p}" for p in problems))
        self.problems.setVisible(bool(problems))

    def mode(self) -> str:
        return self.mode_combo.currentData()


class FileActions(QObject):
    """Preview -> apply (in a worker, journaled by the library) -> undo, for the Cluster and Classify pages."""

    status = Signal(str)
    applied = Signal(object)        # library.ActionResult
    undone = Signal(object)

    def __init__(self, session, parent_widget, undo_button):
        super().__init__(parent_widget)
        self.session = session
        self.parent_widget = parent_widget
        self.undo_button = undo_button
        self.journal = None
        undo_button.clicked.connect(self.undo)

    def preview_and_apply(self, groups, dest: str, mode: str = "move", confirm: bool = True):
        """Plan with the library, show the preview, apply on OK. Returns the apply task (None if not applied)."""
        try:
            plan = library.plan_groups(groups, dest, mode)
            if confirm:
                dialog = PlanDialog(plan, self.parent_widget)
                dialog.mode_combo.currentIndexChanged.connect(
                    lambda _i: dialog.set_plan(library.plan_groups(groups, dest, dialog.mode())))
                if not dialog.exec():
                    return None
                plan = dialog.plan
        except Exception as exc:  # noqa: BLE001  (shown with what to do)
            from .workers import describe_error
            self.status.emit(describe_error(exc))
            return None
        task = self.session.apply_plan(plan)
        self.status.emit(f"{library.plan_summary(plan)}…")
        task.signals.finished.connect(lambda _rid, result: self._applied(result))
        task.signals.failed.connect(lambda _rid, msg: self.status.emit(msg))
        return task

    def _applied(self, result) -> None:
        self.journal = result.journal
        self.undo_button.setEnabled(True)
        self.status.emit(result.text + " Undo puts every file back.")
        self.applied.emit(result)

    def undo(self):
        if self.journal is None:
            return None
        task = self.session.undo(self.journal)
        self.undo_button.setEnabled(False)
        task.signals.finished.connect(lambda _rid, result: self._undone(result))
        task.signals.failed.connect(lambda _rid, msg: (self.status.emit(msg), self.undo_button.setEnabled(True)))
        return task

    def _undone(self, result) -> None:
        self.journal = None
        self.status.emit(result.text + (" Every file is back where it was." if result.ok else ""))
        self.undone.emit(result)
