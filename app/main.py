"""Entry point: `mlx-embed-app` or `python -m app` [--model M] [--index PATH] [--settings FILE] [--no-tray]."""

from __future__ import annotations

import argparse
import logging
import sys

import mlx_embed  # noqa: F401  (loads OpenBLAS before mlx.core, before anything else imports it)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="mlx-embed-app", description="mlx-embed desktop app: search and organise "
                                "your files by meaning, on this computer.")
    p.add_argument("--model", help="model folder or Hugging Face repo id (remembered)")
    p.add_argument("--index", help="index location (a folder or .db file; remembered)")
    p.add_argument("--settings", help="settings file (ini) instead of the platform default")
    p.add_argument("--no-tray", action="store_true", help="no menu-bar icon (closing the window keeps the app "
                   "running only while the quick-search key works system-wide)")
    p.add_argument("--hidden", action="store_true", help="start without showing the window (in the menu bar, or "
                   "behind the quick-search key)")
    args, _qt_args = p.parse_known_args(argv)
    return args


def missing_qt() -> str | None:
    """Why the GUI cannot start (PySide6 not installed or incomplete), as one line that says what to do."""
    try:
        import PySide6.QtWidgets  # noqa: F401
    except ImportError:
        return "the desktop app needs PySide6 (Qt), which is not installed here: pip install 'mlx-embed[app]'"
    return None


def build(settings=None, tray: bool = True, app=None):
    """Create the session, window and tray controller (tests use this without running the event loop)."""
    from PySide6.QtWidgets import QApplication

    from . import icons
    from .session import Session
    from .tray import TrayController
    from .window import MainWindow

    app = app or QApplication.instance()
    app.setWindowIcon(icons.app_icon())
    session = Session(settings)
    window = MainWindow(session)
    controller = TrayController(session, window, app)
    if tray:
        controller.show_icon()

    def quit_app():
        window.statusBar().showMessage("Stopping at a safe point…")
        app.processEvents()
        session.shutdown()
        app.quit()

    window.quit_requested.connect(quit_app)
    return session, window, controller


def start(session, window) -> None:
    """Load the remembered model (in a worker), or open the model manager on first run."""
    from . import library

    name = session.settings.model
    if name and library.local_model_path(name) is not None:
        window.show_page("search")
        session.load_model(name)
    else:
        window.first_run()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    why = missing_qt()
    if why is not None:
        print(f"mlx-embed-app: {why}", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from .config import AppSettings

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("mlx-embed")
    app.setOrganizationName("mlx-embed")
    app.setApplicationDisplayName("mlx-embed")
    app.setDesktopFileName("mlx-embed")
    settings = AppSettings(args.settings)
    from .single import hand_over, instance_name, listen

    name = instance_name(settings.q.fileName())
    if hand_over(name):             # already running (perhaps with its window closed): show that one
        print("mlx-embed-app: already running; showing its window.", file=sys.stderr)
        return 0
    if args.model:
        settings.model = args.model
    if args.index:
        settings.index_location = args.index
    session, window, controller = build(settings, tray=not args.no_tray, app=app)
    app.aboutToQuit.connect(session.shutdown)
    listen(name, controller.show_window, app)
    if not (args.hidden and controller.keeps_running()):
        window.show()
    start(session, window)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
