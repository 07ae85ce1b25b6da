"""Cluster: drop files or folders, get labelled groups and a 2-D map; rename groups, move files between
them, then "Organise into folders" with a preview and undo."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPalette, QPen, QTransform
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QFrame, QGraphicsEllipseItem, QGraphicsItem,
                               QGraphicsScene, QGraphicsSimpleTextItem, QGraphicsView, QHBoxLayout, QHeaderView,
                               QLabel, QMenu, QProgressBar, QPushButton, QSpinBox, QSplitter,
                               QStackedWidget, QTreeView, QVBoxLayout, QWidget)

from .actions_dialog import FileActions
from .itemmodels.cluster_tree import ClusterTreeModel, cluster_colour
from .itemmodels.common import ClusterRole, PathRole


def dropped_paths(mime) -> list[str]:
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()] if mime.hasUrls() else []


class MapPoint(QGraphicsEllipseItem):
    """One file on the map: coloured by cluster, grows on hover, tooltip = the file."""

    R = 6.0

    def __init__(self, path: str, x: float, y: float, cid: int, label: str):
        super().__init__(-self.R, -self.R, 2 * self.R, 2 * self.R)
        self.path = path
        self.setPos(x, y)
        self.setAcceptHoverEvents(True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)   # same size at any zoom
        self.set_cluster(cid, label)
        self.setZValue(1)

    def set_cluster(self, cid: int, label: str) -> None:
        self.cid = cid
        colour = cluster_colour(cid)
        self.setBrush(QBrush(colour))
        self.setPen(QPen(colour.darker(140), 1))
        self.setToolTip(f"{Path(self.path).name}\n{self.path}\nGroup: {label}")

    def hoverEnterEvent(self, event):  # noqa: N802
        self.setScale(1.8)
        self.setZValue(2)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event):  # noqa: N802
        self.setScale(1.0)
        self.setZValue(1)
        super().hoverLeaveEvent(event)


class ClusterMap(QGraphicsView):
    """The 2-D map (library PCA coordinates), points coloured by group, group names at their centres."""

    point_clicked = Signal(str)
    SIZE = 500.0

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumSize(280, 240)
        self.points: dict[str, MapPoint] = {}
        self.labels: list[QGraphicsSimpleTextItem] = []

    def show_map(self, coords: dict[str, tuple[float, float]], groups: list[tuple[int, str, list[str]]]) -> None:
        scene = self.scene()
        scene.clear()
        self.points, self.labels = {}, []
        if not coords:
            return
        xs = [c[0] for c in coords.values()]
        ys = [c[1] for c in coords.values()]
        span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
        cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
        self._place = lambda x, y: QPointF((x - cx) / span * self.SIZE, -(y - cy) / span * self.SIZE)
        for cid, name, files in groups:
            for f in files:
                if f in coords:
                    pt = self._place(*coords[f])
                    item = MapPoint(f, pt.x(), pt.y(), cid, name)
                    scene.addItem(item)
                    self.points[f] = item
        self.update_groups(groups)
        self._fit()

    def _fit(self) -> None:
        """Fit the points (not the labels, which keep their size) with a margin for labels and hover."""
        if not self.points:
            return
        xs = [p.pos().x() for p in self.points.values()]
        ys = [p.pos().y() for p in self.points.values()]
        r = QRectF(min(xs), min(ys), max(max(xs) - min(xs), 1.0), max(max(ys) - min(ys), 1.0))
        r = r.adjusted(-0.12 * r.width() - 10, -0.16 * r.height() - 10, 0.12 * r.width() + 10, 0.08 * r.height() + 10)
        self.scene().setSceneRect(r)
        self.fitInView(r, Qt.AspectRatioMode.KeepAspectRatio)

    def update_groups(self, groups: list[tuple[int, str, list[str]]]) -> None:
        """Recolour points and re-place group names after a rename or a move."""
        for item in self.labels:
            self.scene().removeItem(item)
        self.labels = []
        font = QFont(self.font())
        font.setBold(True)
        for cid, name, files in groups:
            pts = [self.points[f] for f in files if f in self.points]
            for p in pts:
                p.set_cluster(cid, name)
            if not pts or cid < 0:
                continue
            x = sum(p.pos().x() for p in pts) / len(pts)
            y = sum(p.pos().y() for p in pts) / len(pts)
            text = QGraphicsSimpleTextItem(name if len(name) <= 28 else name[:27] + "…")
            text.setFont(font)
            text.setBrush(QBrush(self.palette().color(QPalette.ColorRole.Text)))
            text.setPen(QPen(QColor(self.palette().color(QPalette.ColorRole.Base)), 0.6))
            text.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            br = text.boundingRect()
            text.setPos(x, y)
            text.setTransformOriginPoint(br.center())
            text.setTransform(QTransform.fromTranslate(-br.width() / 2, -br.height() - 8))
            text.setZValue(3)
            self.scene().addItem(text)
            self.labels.append(text)

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self._fit()

    def mousePressEvent(self, event):  # noqa: N802
        item = self.itemAt(event.position().toPoint())
        if isinstance(item, MapPoint):
            self.point_clicked.emit(item.path)
        super().mousePressEvent(event)


DROP_HINT = "Drop files or folders here\nto sort them into groups by meaning"


class DropZone(QLabel):
    def __init__(self, text: str, parent=None):
        super().__init__(text, parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFrameShadow(QFrame.Shadow.Sunken)
        self.setMinimumHeight(160)
        self.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.setFont(font)


class ClusterView(QWidget):
    clustered = Signal(object)      # library.ClusterResult

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setAcceptDrops(True)
        self.inputs: list[str] = []
        self.result = None
        self._loading = False
        self.model = ClusterTreeModel(self)
        self.model.itemChanged.connect(self._renamed)
        self.model.rowsInserted.connect(lambda *_: self._sync_map())
        self.model.rowsRemoved.connect(lambda *_: self._sync_map())

        self.add_files_button = QPushButton("Add Files…", objectName="clusterAddFiles")
        self.add_files_button.clicked.connect(self._choose_files)
        self.add_folder_button = QPushButton("Add Folder…", objectName="clusterAddFolder")
        self.add_folder_button.clicked.connect(self._choose_folder)
        self.clear_button = QPushButton("Clear", objectName="clusterClear")
        self.clear_button.clicked.connect(self.clear)
        self.k_spin = QSpinBox(objectName="clusterK", minimum=0, maximum=50, value=0, specialValueText="Auto")
        self.k_spin.setToolTip("Number of groups (Auto: chosen by the highest silhouette score)")
        self.method = QComboBox(objectName="clusterMethod")
        self.method.addItem("k-means", "kmeans")
        self.method.addItem("Density (finds outliers)", "hdbscan")
        self.method.addItem("Hierarchical", "agglomerative")
        self.run_button = QPushButton("Group", objectName="clusterRun")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        self.stop_button = QPushButton("Stop", objectName="clusterStop", enabled=False)
        self.stop_button.clicked.connect(self.stop)
        self.organise_button = QPushButton("Organise into Folders…", objectName="clusterOrganise", enabled=False)
        self.organise_button.clicked.connect(self.organise)
        self.undo_button = QPushButton("Undo", objectName="clusterUndo", enabled=False)
        self.actions = FileActions(session, self, self.undo_button)
        self.actions.status.connect(self._update_status)
        top = QHBoxLayout()
        for w in (self.add_files_button, self.add_folder_button, self.clear_button):
            top.addWidget(w)
        top.addStretch(1)
        top.addWidget(QLabel("Groups:"))
        top.addWidget(self.k_spin)
        top.addWidget(self.method)
        top.addWidget(self.run_button)
        top.addWidget(self.stop_button)

        self.drop_zone = DropZone(DROP_HINT)
        self.tree = QTreeView(objectName="clusterTree")
        self.tree.setModel(self.model)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.tree.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(False)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.map = ClusterMap()
        self.map.point_clicked.connect(self._select_file)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.tree)
        split.addWidget(self.map)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([340, 520])
        self.stack = QStackedWidget()
        self.stack.addWidget(self.drop_zone)
        self.stack.addWidget(split)

        self.progress = QProgressBar(objectName="clusterProgress")
        self.progress.hide()
        self.status = QLabel(objectName="clusterStatus")
        self.status.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.undo_button)
        bottom.addWidget(self.organise_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.progress)
        layout.addLayout(bottom)
        self._update_status()

    # --- input ----------------------------------------------------------------------------------
    def dragEnterEvent(self, event):  # noqa: N802
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event):  # noqa: N802
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.add_inputs(paths, run=True)

    def add_inputs(self, paths: list[str], run: bool = False) -> None:
        for p in paths:
            if p not in self.inputs:
                self.inputs.append(p)
        self._update_status()
        if run:
            self.run()

    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Choose files to group")
        if files:
            self.add_inputs(files)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder to group")
        if folder:
            self.add_inputs([folder])

    def clear(self) -> None:
        self.session.runner.cancel("cluster")
        self.inputs, self.result = [], None
        self.model.set_clustering([])
        self.map.show_map({}, [])
        self.stack.setCurrentIndex(0)
        self.organise_button.setEnabled(False)
        self.progress.hide()
        self._update_status()

    def _update_status(self, text: str | None = None) -> None:
        self._show_inputs()
        if text is not None:
            self.status.setText(text)
        elif not self.inputs:
            self.status.setText("Nothing chosen yet.")
        else:
            names = ", ".join(Path(p).name for p in self.inputs[:4]) + ("…" if len(self.inputs) > 4 else "")
            self.status.setText(f"{len(self.inputs)} item{'s' if len(self.inputs) != 1 else ''} chosen: {names}")

    def _show_inputs(self) -> None:
        """The drop area lists what was chosen (by drop or with the Add buttons), so it never still asks."""
        if not self.inputs:
            self.drop_zone.setText(DROP_HINT)
            return
        shown = [Path(p).name + ("/" if Path(p).is_dir() else "") for p in self.inputs[:6]]
        more = f"\n… and {len(self.inputs) - 6} more" if len(self.inputs) > 6 else ""
        self.drop_zone.setText("Chosen:\n" + "\n".join(shown) + more + "\n\nPress Group, or drop more files or folders")

    # --- clustering -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel the grouping at the next batch of files (the library's progress callback raises)."""
        self.session.runner.cancel("cluster")
        self.stop_button.setEnabled(False)
        self._update_status("Stopping…")

    def run(self) -> None:
        if not self.inputs:
            self._update_status("Drop files or folders first.")
            return
        if self.session.model is None:
            self._update_status("Choose a model first (Settings › Model).")
            return
        k = self.k_spin.value() or None
        task = self.session.cluster(list(self.inputs), k, self.method.currentData())
        self.progress.show()
        self.progress.setRange(0, 0)
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._update_status("Finding files…")
        task.signals.progress.connect(self._progress)
        task.signals.finished.connect(self._done)
        task.signals.failed.connect(self._failed)
        task.signals.cancelled.connect(lambda _rid: self._failed(_rid, "Grouping stopped."))

    def _progress(self, _rid, p) -> None:
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)
        self._update_status(p.message)

    def _failed(self, _rid, message: str) -> None:
        self.progress.hide()
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self._update_status(message)

    def _done(self, _rid, result) -> None:
        self.progress.hide()
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.result = result
        self._loading = True
        self.model.set_clustering(result.groups)
        self._loading = False
        self.tree.expandAll()
        self.map.show_map(result.coords, self.model.groups())
        self.stack.setCurrentIndex(1)
        self.organise_button.setEnabled(bool(result.groups))
        self._update_status(result.summary)
        self.clustered.emit(result)

    # --- corrections ------------------------------------------------------------------------------
    def _renamed(self, item) -> None:
        if not self._loading and item.data(ClusterRole) is not None:
            self._sync_map()

    def _sync_map(self) -> None:
        if self._loading:
            return
        self.model._refresh_counts()
        self.map.update_groups(self.model.groups())

    def move_file(self, path: str, cid: int) -> None:
        if self.model.move_file(path, cid):
            self._sync_map()

    def _context_menu(self, pos) -> None:
        ix = self.tree.indexAt(pos)
        path = ix.data(PathRole) if ix.isValid() else None
        if not path:
            return
        menu = QMenu(self)
        move = menu.addMenu("Move to Group")
        current = self.model.cluster_of(path)
        for cid, name, _ in self.model.groups():
            if cid != current and cid >= 0:
                move.addAction(name, lambda c=cid: self.move_file(path, c))
        from . import platform
        menu.addAction("Open", lambda: platform.open_path(path, self._update_status))
        menu.addAction("Reveal in File Manager", lambda: platform.reveal_path(path))
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def _select_file(self, path: str) -> None:
        for item in self.model.group_items():
            for r in range(item.rowCount()):
                if item.child(r, 0).data(PathRole) == path:
                    self.tree.setCurrentIndex(item.child(r, 0).index())
                    return

    # --- file actions -------------------------------------------------------------------------------
    def organise(self) -> None:
        groups = [(name, files) for cid, name, files in self.model.groups() if cid >= 0 and files]
        if not groups:
            return
        default = str(Path(self.inputs[0]).parent if Path(self.inputs[0]).is_file() else self.inputs[0])
        dest = QFileDialog.getExistingDirectory(self, "Organise into folders inside…", default)
        if dest:
            self.preview_and_apply(groups, dest)

    def preview_and_apply(self, groups, dest: str, mode: str = "move", confirm: bool = True):
        """Preview the library's plan, then apply it in a worker (returns the task, None if not applied)."""
        return self.actions.preview_and_apply(groups, dest, mode, confirm)



__all__ = ["ClusterView", "ClusterMap", "dropped_paths"]
