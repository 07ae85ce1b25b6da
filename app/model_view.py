"""Model manager (also the first-run page): choose, download (progress, cancel), inspect and load a model.

Shows for the chosen model: size on disk, dimensions, tasks, precision and quantization (from the
library's `model.describe()`). Works offline once a model is on disk; with no model and no network it
shows a page that says what to do.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (QApplication, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QProgressBar, QPushButton, QStackedWidget, QStyle,
                               QStyledItemDelegate, QStyleOptionViewItem, QVBoxLayout, QWidget)

from mlx_embed.encoder.facts import DTYPES

from . import library
from .itemmodels.common import human_size

LOCAL = "__local__"
DTYPE_CHOICES = [("Model default", "")] + [(name, name) for name in DTYPES]
QUANT = [("None", 0), ("8-bit", 8), ("4-bit", 4)]


class ChoiceDelegate(QStyledItemDelegate):
    """A model choice: its title in bold, then a description and its state in the secondary colour."""

    def sizeHint(self, option, index) -> QSize:  # noqa: N802
        lines = (index.data(Qt.ItemDataRole.DisplayRole) or "").count("\n") + 1
        return QSize(1, option.fontMetrics.lineSpacing() * lines + 12)

    def paint(self, painter, option, index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text, opt.text = index.data(Qt.ItemDataRole.DisplayRole) or "", ""
        widget = opt.widget
        style = widget.style() if widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        pal = option.palette
        main = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        dim = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.PlaceholderText)
        r = option.rect.adjusted(8, 6, -8, -6)
        fm = option.fontMetrics
        painter.save()
        for i, line in enumerate(text.split("\n")):
            font = QFont(option.font)
            font.setBold(i == 0)
            painter.setFont(font)
            painter.setPen(main if i == 0 else dim)
            y = r.top() + i * fm.lineSpacing()
            painter.drawText(r.left(), y, r.width(), fm.lineSpacing(), Qt.AlignmentFlag.AlignLeft,
                             painter.fontMetrics().elidedText(line, Qt.TextElideMode.ElideMiddle, r.width()))
        painter.restore()


class ModelView(QWidget):
    model_ready = Signal(object)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.local: dict[str, Path | None] = {}
        self.local_folder: str | None = None
        self.online: bool | None = None
        self.facts: dict | None = None

        title = QLabel("Choose a model")
        f = title.font()
        f.setPointSizeF(f.pointSizeF() * 1.5)
        f.setWeight(QFont.Weight.DemiBold)
        title.setFont(f)
        intro = QLabel("mlx-embed reads your files with an embedding model that runs on this computer. Nothing "
                       "leaves the machine. The model is downloaded once; after that everything works offline.")
        intro.setWordWrap(True)
        intro.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.list = QListWidget(objectName="modelList")
        self.list.setItemDelegate(ChoiceDelegate(self.list))
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for choice in library.MODEL_CHOICES:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, choice.repo)
            self.list.addItem(item)
        local_item = QListWidgetItem("A model folder on this computer…")
        local_item.setData(Qt.ItemDataRole.UserRole, LOCAL)
        self.list.addItem(local_item)
        self.list.currentItemChanged.connect(lambda *_: self._selection_changed())

        # details
        self.details = {k: QLabel() for k in ("name", "where", "size", "dim", "tasks", "precision", "quant", "max")}
        for lab in self.details.values():
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            lab.setWordWrap(True)
        box = QGroupBox("Details")
        form = QFormLayout(box)
        for key, text in (("name", "Model"), ("where", "Location"), ("size", "Size on disk"), ("dim", "Dimensions"),
                          ("tasks", "Tasks"), ("precision", "Precision"), ("quant", "Quantization"),
                          ("max", "Max tokens")):
            form.addRow(text + ":", self.details[key])
        self.dtype = QComboBox(objectName="modelDtype")
        for text, value in DTYPE_CHOICES:
            self.dtype.addItem(text, value)
        self.quant = QComboBox(objectName="modelQuant")
        for text, value in QUANT:
            self.quant.addItem(text, value)
        self.dtype.setCurrentIndex(max(0, self.dtype.findData(session.settings.model_dtype)))
        self.quant.setCurrentIndex(max(0, self.quant.findData(session.settings.model_quantize)))
        load_opts = QHBoxLayout()
        load_opts.addWidget(QLabel("Load as"))
        load_opts.addWidget(self.dtype)
        load_opts.addWidget(QLabel("quantized"))
        load_opts.addWidget(self.quant)
        load_opts.addStretch(1)
        form.addRow(load_opts)

        self.progress = QProgressBar(objectName="downloadProgress")
        self.progress.hide()
        self.status = QLabel(objectName="modelStatus")
        self.status.setWordWrap(True)
        self.download_button = QPushButton("Download", objectName="downloadModel")
        self.download_button.clicked.connect(self.download)
        self.cancel_button = QPushButton("Cancel Download", objectName="cancelDownload")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(lambda: session.runner.cancel("download"))
        self.use_button = QPushButton("Use This Model", objectName="useModel")
        self.use_button.setDefault(True)
        self.use_button.clicked.connect(self.use)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.use_button)

        chooser = QWidget()
        cl = QVBoxLayout(chooser)
        cl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.list, 3)
        row.addWidget(box, 4)
        cl.addLayout(row, 1)
        cl.addWidget(self.progress)
        cl.addLayout(buttons)

        # offline, nothing on disk
        self.offline_page = QWidget(objectName="offlinePage")
        ol = QVBoxLayout(self.offline_page)
        heading = QLabel("No model on this computer, and no network")
        hf = heading.font()
        hf.setPointSizeF(hf.pointSizeF() * 1.3)
        hf.setBold(True)
        heading.setFont(hf)
        text = QLabel(
            "mlx-embed needs an embedding model to read your files. None is on this computer yet and the "
            "download site (huggingface.co) cannot be reached.<br><br>What you can do:<ul>"
            "<li>Connect to the internet, then press <b>Try Again</b>.</li>"
            "<li>Or copy a model folder here from another computer (on a connected one run "
            "<code>mlx-embed download jinaai/jina-embeddings-v5-text-small</code>; it prints the folder) and "
            "press <b>Choose Model Folder…</b>.</li></ul>")
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        retry = QPushButton("Try Again", objectName="retryNetwork")
        retry.clicked.connect(self.refresh)
        folder = QPushButton("Choose Model Folder…", objectName="chooseModelFolder")
        folder.clicked.connect(self.choose_folder)
        ob = QHBoxLayout()
        ob.addStretch(1)
        ob.addWidget(folder)
        ob.addWidget(retry)
        ol.addStretch(1)
        ol.addWidget(heading)
        ol.addWidget(text)
        ol.addLayout(ob)
        ol.addStretch(2)

        self.pages = QStackedWidget()
        self.pages.addWidget(chooser)
        self.pages.addWidget(self.offline_page)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(self.pages, 1)

        session.model_loading.connect(lambda name: self._busy(f"Loading {Path(name).name}…"))
        session.model_changed.connect(self._loaded)
        session.model_failed.connect(self._load_failed)
        row = self._initial_row()
        self._fill_titles()
        self.list.setCurrentRow(row)

    # --- state ------------------------------------------------------------------------------------
    def _initial_row(self) -> int:
        current = self.session.settings.model or library.DEFAULT_MODEL
        for r in range(self.list.count()):
            if self.list.item(r).data(Qt.ItemDataRole.UserRole) == current:
                return r
        if current and Path(current).expanduser().exists():
            self.local_folder = current
            return self.list.count() - 1
        return 0

    def refresh(self) -> None:
        """Look for models on disk and for the network (in a worker), then show chooser or offline page."""
        repos = [c.repo for c in library.MODEL_CHOICES]
        extra = self.session.settings.model

        def scan(ctx):
            found = {r: library.local_model_path(r) for r in repos}
            if extra and extra not in found:
                found[extra] = library.local_model_path(extra)
            sizes = {r: library.size_on_disk(p) for r, p in found.items() if p is not None}
            online = None if any(found.values()) else library.network_available()
            return found, sizes, online

        task = self.session.runner.submit("model-scan", scan)
        task.signals.finished.connect(self._scanned)

    def _scanned(self, _rid, payload) -> None:
        found, sizes, online = payload
        self.local = found
        self.sizes = sizes
        self.online = online
        self._fill_titles()
        nothing = not any(found.values()) and not self.local_folder
        self.pages.setCurrentIndex(1 if nothing and online is False else 0)
        self._selection_changed()

    def offline(self) -> bool:
        return self.pages.currentIndex() == 1

    def _fill_titles(self) -> None:
        sizes = getattr(self, "sizes", {})
        for r, choice in enumerate(library.MODEL_CHOICES):
            item = self.list.item(r)
            here = self.local.get(choice.repo) is not None
            state = f"on this computer, {human_size(sizes.get(choice.repo))}" if here else \
                f"download about {choice.approx_mb:,} MB"
            default = "  (recommended)" if choice.repo == library.DEFAULT_MODEL else ""
            item.setText(f"{choice.title}{default}\n{choice.blurb}\n{state}")
            item.setToolTip(choice.repo)
        local_item = self.list.item(self.list.count() - 1)
        local_item.setText(f"Model folder on this computer\n{self.local_folder}\n"
                           f"{human_size(sizes.get(self.local_folder)) or 'on this computer'}" if self.local_folder
                           else "A model folder on this computer…\nAny supported model: a folder with config.json")

    def selected(self) -> str | None:
        item = self.list.currentItem()
        if item is None:
            return None
        repo = item.data(Qt.ItemDataRole.UserRole)
        return self.local_folder if repo == LOCAL else repo

    def _selection_changed(self) -> None:
        item = self.list.currentItem()
        if item is not None and item.data(Qt.ItemDataRole.UserRole) == LOCAL and not self.local_folder:
            self.list.blockSignals(True)
            self.choose_folder()
            self.list.blockSignals(False)
        name = self.selected()
        here = name is not None and (self.local.get(name) is not None or
                                     (name == self.local_folder and Path(name).exists()))
        loaded = self.session.model is not None and name == self.session.settings.model
        self.download_button.setVisible(not here and name is not None and name != self.local_folder)
        self.download_button.setEnabled(self.online is not False)
        self.use_button.setEnabled(bool(here) and not loaded)
        self.use_button.setText("In Use" if loaded else "Use This Model")
        if loaded and self.facts:
            self._show_facts(self.facts)
        else:
            path = self.local.get(name) if name else None
            path = path or (Path(name) if name and Path(name).exists() else None)
            self._show_facts({"name": name or "", "path": str(path) if path else "not downloaded",
                              "size_on_disk": library.size_on_disk(path) if path else None})
        if not here and self.online is False and name:
            self.status.setText("Offline: connect to the internet to download this model, or choose a folder.")
        elif not here:
            self.status.setText("Not on this computer yet: press Download.")
        elif not loaded:
            self.status.setText("Ready to use.")

    def _show_facts(self, facts: dict) -> None:
        d = self.details
        d["name"].setText(str(facts.get("name", "")))
        d["where"].setText(str(facts.get("path", "")))
        d["size"].setText(human_size(facts.get("size_on_disk")) or "—")
        d["dim"].setText(str(facts.get("dim", "—")))
        tasks = facts.get("tasks")
        d["tasks"].setText(", ".join(tasks) if tasks else ("any (one set of weights)" if "dim" in facts else "—"))
        d["precision"].setText(str(facts.get("dtype", "—")))
        q = facts.get("quantization") or facts.get("quantize")
        if isinstance(q, dict):  # quantized_checkpoint.describe's
            q = q["summary"]
        d["quant"].setText(str(q) if q else ("none" if "dim" in facts else "—"))
        d["max"].setText(str(facts.get("max_length", "—")))

    # --- actions ----------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder (with config.json)")
        if not folder:
            return
        self.local_folder = folder
        self.local[folder] = Path(folder)
        self._fill_titles()
        self.pages.setCurrentIndex(0)
        self.list.setCurrentRow(self.list.count() - 1)
        self._selection_changed()

    def use(self) -> None:
        name = self.selected()
        if not name:
            return
        self.session.settings.model_dtype = self.dtype.currentData()
        self.session.settings.model_quantize = self.quant.currentData()
        self.session.load_model(name)

    def _busy(self, text: str) -> None:
        self.status.setText(text)
        self.use_button.setEnabled(False)
        self.progress.show()
        self.progress.setRange(0, 0)

    def _loaded(self, model) -> None:
        self.progress.hide()
        self.facts = library.describe_model(model)
        self._show_facts(self.facts)
        name = self.session.settings.model
        if name and name not in {c.repo for c in library.MODEL_CHOICES}:
            self.local_folder = name
            self.sizes = {**getattr(self, "sizes", {}), name: self.facts.get("size_on_disk")}
            self._fill_titles()
        self.status.setText(f"Using {model.name}.")
        self.use_button.setText("In Use")
        self.use_button.setEnabled(False)
        self.model_ready.emit(model)

    def _load_failed(self, message: str) -> None:
        self.progress.hide()
        self.status.setText(message)
        self.use_button.setEnabled(True)

    def download(self) -> None:
        repo = self.selected()
        if not repo:
            return
        task = self.session.runner.submit("download", lambda ctx: library.download_model(
            repo, lambda done, total, what: ctx.progress(max(done, 0), max(total, 0), what) if done >= 0 else ctx.check()))
        self.progress.show()
        self.progress.setRange(0, 0)
        self.download_button.setEnabled(False)
        self.cancel_button.show()
        self.status.setText(f"Downloading {repo}…")
        task.signals.progress.connect(self._download_progress)
        task.signals.finished.connect(lambda _rid, path: self._downloaded(repo, path))
        task.signals.failed.connect(lambda _rid, msg: self._download_ended(msg))
        task.signals.cancelled.connect(lambda _rid: self._download_ended("Download cancelled. Press Download to "
                                                                          "start again (finished files are kept)."))
        return task

    def _download_progress(self, _rid, p) -> None:
        if p.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(p.done / p.total * 1000))
            self.progress.setFormat(f"{human_size(p.done)} of {human_size(p.total)}")
            eta = f", about {int(p.eta)} s left" if p.eta else ""
            self.status.setText(f"Downloading… {p.done / p.total:.0%}{eta}")

    def _download_ended(self, message: str) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.download_button.setEnabled(True)
        self.status.setText(message)

    def _downloaded(self, repo: str, path) -> None:
        self._download_ended(f"Downloaded to {path}.")
        self.local[repo] = Path(path)
        self.sizes = {**getattr(self, "sizes", {}), repo: library.size_on_disk(path)}
        self._fill_titles()
        self._selection_changed()
        self.session.load_model(repo)
