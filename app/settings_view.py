"""Settings: quick-search key, excluded patterns, file size cap, Matryoshka dimension, precision, index
location, reset."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QKeySequence, QPalette
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QKeySequenceEdit,
                               QLabel, QLineEdit, QMessageBox, QPlainTextEdit, QPushButton, QSpinBox, QStyle,
                               QVBoxLayout, QWidget)

from .config import PRECISIONS
from .hotkey import DEFAULT_HOTKEY, HotkeyStatus

MATRYOSHKA_DIMS = (32, 64, 128, 256, 512, 768, 1024)
PRECISION_TEXT = {"float16": "float16 (exact, 2 bytes per dimension)",
                  "binary": "binary (32x smaller, approximate)"}


class SettingsView(QWidget):
    open_model_manager = Signal()
    hotkey_requested = Signal(str)     # a new quick-search key, to register at once (the tray answers)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        s = session.settings

        # model
        self.model_label = QLabel(objectName="settingsModel")
        self.model_label.setWordWrap(True)
        model_button = QPushButton("Model Manager…", objectName="openModelManager")
        model_button.clicked.connect(self.open_model_manager)
        model_box = QGroupBox("Model")
        mb = QHBoxLayout(model_box)
        mb.addWidget(self.model_label, 1)
        mb.addWidget(model_button)

        # quick search: applied as soon as a key is typed, not on Save, so a taken key is reported at once
        self.hotkey = QKeySequenceEdit(QKeySequence(s.hotkey), objectName="hotkeyEdit")
        self.hotkey.setMaximumSequenceLength(1)
        self.hotkey.setToolTip("Click and press the new combination, e.g. "
                               f"{QKeySequence(DEFAULT_HOTKEY).toString(QKeySequence.SequenceFormat.NativeText)}.")
        self.hotkey.editingFinished.connect(self._hotkey_edited)
        hotkey_default = QPushButton("Default", objectName="hotkeyDefault")
        hotkey_default.clicked.connect(lambda: self.hotkey_requested.emit(DEFAULT_HOTKEY))
        self.hotkey_icon = QLabel()
        self.hotkey_icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(16, 16))
        self.hotkey_icon.hide()
        self.hotkey_status = QLabel(objectName="hotkeyStatus")
        self.hotkey_status.setWordWrap(True)
        key_row = QHBoxLayout()
        key_row.addWidget(self.hotkey, 1)
        key_row.addWidget(hotkey_default)
        status_row = QHBoxLayout()
        status_row.addWidget(self.hotkey_icon)
        status_row.addWidget(self.hotkey_status, 1)
        quick_box = QGroupBox("Quick Search")
        fq = QFormLayout(quick_box)
        fq.addRow("Open from anywhere with:", key_row)
        fq.addRow("", status_row)

        # indexing
        self.excludes = QPlainTextEdit(objectName="excludes")
        self.excludes.setPlaceholderText("One pattern per line, .gitignore style: *.log, build/, Private/")
        self.excludes.setPlainText("\n".join(s.excludes))
        self.excludes.setFixedHeight(96)
        self.max_size = QSpinBox(objectName="maxFileSize", minimum=1, maximum=4096, suffix=" MB")
        self.max_size.setValue(s.max_file_mb)
        self.watch = QCheckBox("Follow changes in indexed folders while the app runs", objectName="watch")
        self.watch.setChecked(s.watch)
        index_box = QGroupBox("Indexing")
        f1 = QFormLayout(index_box)
        f1.addRow("Skip files matching:", self.excludes)
        f1.addRow("Skip files larger than:", self.max_size)
        f1.addRow("", self.watch)

        # vectors
        self.dim = QComboBox(objectName="matryoshkaDim")
        self.precision = QComboBox(objectName="precision")
        for p in PRECISIONS:
            self.precision.addItem(PRECISION_TEXT[p], p)
        self.precision.setCurrentIndex(max(0, self.precision.findData(s.precision)))
        vec_hint = QLabel("Smaller vectors make the index smaller and search faster, at some cost in quality. "
                          "Changing these re-embeds every file.")
        vec_hint.setWordWrap(True)
        vec_hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        vec_box = QGroupBox("Vectors")
        f2 = QFormLayout(vec_box)
        f2.addRow("Matryoshka dimension:", self.dim)
        f2.addRow("Precision:", self.precision)
        f2.addRow(vec_hint)

        # storage
        self.location = QLineEdit(objectName="indexLocation", placeholderText="Default (the app's data folder)")
        self.location.setText(s.index_location)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_location)
        loc = QHBoxLayout()
        loc.addWidget(self.location, 1)
        loc.addWidget(browse)
        self.reset_button = QPushButton("Reset Index…", objectName="resetIndex")
        self.reset_button.clicked.connect(self._reset)
        store_box = QGroupBox("Storage")
        f3 = QFormLayout(store_box)
        f3.addRow("Index location:", loc)
        reset_row = QHBoxLayout()
        reset_row.addWidget(self.reset_button)
        reset_row.addStretch(1)
        f3.addRow("", reset_row)

        self.save_button = QPushButton("Save", objectName="saveSettings")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.status = QLabel(objectName="settingsStatus")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        for box in (model_box, quick_box, index_box, vec_box, store_box):
            layout.addWidget(box)
        layout.addStretch(1)
        layout.addLayout(buttons)

        session.model_changed.connect(self._model_changed)
        session.index_changed.connect(lambda: self._model_changed(session.model))
        self._model_changed(session.model)

    def _hotkey_edited(self) -> None:
        seq = self.hotkey.keySequence()
        if not seq.isEmpty():
            self.hotkey_requested.emit(seq.toString(QKeySequence.SequenceFormat.PortableText))

    def show_hotkey(self, status: HotkeyStatus) -> None:
        """The key in effect (a refused one is replaced by the one kept) and what it does or why not."""
        self.hotkey.setKeySequence(QKeySequence(status.sequence))
        self.hotkey_status.setText(status.message)
        self.hotkey_status.setToolTip(status.message)
        self.hotkey_icon.setVisible(not status.accepted or not status.system_wide)
        self.hotkey_status.setForegroundRole(QPalette.ColorRole.WindowText if not status.accepted
                                             else QPalette.ColorRole.PlaceholderText)

    def _model_changed(self, model) -> None:
        s = self.session.settings
        self.dim.clear()
        full = model.dim if model is not None else 1024
        self.dim.addItem(f"Full ({full})", 0)
        for d in MATRYOSHKA_DIMS:
            if d < full:
                self.dim.addItem(str(d), d)
        self.dim.setCurrentIndex(max(0, self.dim.findData(s.matryoshka_dim)))
        self.precision.setCurrentIndex(max(0, self.precision.findData(s.precision)))
        if model is None:
            self.model_label.setText("No model loaded.")
        else:
            self.model_label.setText(f"<b>{model.name}</b> · {model.dim} dimensions"
                                     + (f" · tasks: {', '.join(model.tasks)}" if model.tasks else ""))

    def _choose_location(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Where should the index live?", self.location.text())
        if folder:
            self.location.setText(folder)

    def save(self) -> None:
        s = self.session.settings
        before = (s.index_location, s.matryoshka_dim, s.precision)
        s.excludes = [line.strip() for line in self.excludes.toPlainText().splitlines()]
        s.max_file_mb = self.max_size.value()
        s.watch = self.watch.isChecked()
        s.matryoshka_dim = self.dim.currentData() or 0
        s.precision = self.precision.currentData()
        s.index_location = self.location.text().strip()
        s.sync()
        location_changed = s.index_location != before[0]
        vectors_changed = (s.matryoshka_dim, s.precision) != before[1:]
        if vectors_changed and not location_changed and self.session.index is not None and self.session.index.folders():
            answer = QMessageBox.question(
                self, "Rebuild index", "New vector settings need a new index: every file is embedded again "
                "(your files are not touched). Continue?")
            if answer != QMessageBox.StandardButton.Yes:
                s.matryoshka_dim, s.precision = before[1], before[2]
                self._model_changed(self.session.model)
                self.precision.setCurrentIndex(max(0, self.precision.findData(s.precision)))
                self.status.setText("Vector settings unchanged; other settings saved.")
                s.sync()
                return
        s.sync()
        self.session.settings_changed(vectors_changed, location_changed)
        self.status.setText("Saved." + (" The index is rebuilt with the new vector settings." if vectors_changed
                                        else " New rules apply at the next update."))

    def _reset(self) -> None:
        answer = QMessageBox.warning(
            self, "Reset index", "Delete the index and embed every file again?\n\nYour files are not touched; "
            "only the search index is rebuilt. This can take a while.",
            QMessageBox.StandardButton.Reset | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Reset:
            self.session.rebuild_index()
            self.status.setText("Index reset; re-indexing in the background.")
