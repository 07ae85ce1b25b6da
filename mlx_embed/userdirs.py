"""Where mlx-embed keeps its own files, and the modes it gives them.

    data_dir() -> Path       index.db, journals/, label-sets/      (platformdirs' user data folder)
    config_dir() -> Path     config.json (the CLI's), mlx-embed-app.ini (the app's)   (user config folder)
    make_private_dir(path)   create the missing folders of `path` as 0700; an existing one is never touched
    create_private_file(path, mode="x")   a new file opened 0600 (journals, settings)

Linux: ~/.local/share/mlx-embed and ~/.config/mlx-embed (XDG_DATA_HOME / XDG_CONFIG_HOME honoured);
macOS: ~/Library/Application Support/mlx-embed for both; Windows: %LOCALAPPDATA%\\mlx-embed for both.
MLX_EMBED_DATA_DIR / MLX_EMBED_CONFIG_DIR override them (a portable setup, tests).

Modes: what the tool creates is user-only (folders 0700, index/journal/settings files 0600), because
journals list every moved file's path and the index holds the text of every indexed file. A folder the
user names (`--index DIR`, `--journal-dir DIR`) that already exists keeps its mode: it may be a shared
1777 or a 2775 group folder, or belong to someone else.

Earlier versions kept the app's label sets and settings in Qt's AppDataLocation (<data>/mlx-embed/ on
Linux, i.e. the organisation and app name nested once more) and in ~/.config/mlx-embed on macOS; the
first call of data_dir() moves them here once (migrate_legacy), and tightens the modes of the tool's own
files there (journals were written 0644 before).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import threading
import time
from pathlib import Path

APP = "mlx-embed"
MARKER = ".layout"          # in data_dir(): {"version": 1, "moved": [...]} once the migration has run
LAYOUT_VERSION = 1
APP_SETTINGS_NAME = "mlx-embed-app.ini"

_migrated: set[Path] = set()
_lock = threading.Lock()


def _platform_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP, appauthor=False, roaming=False))


def _platform_config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP, appauthor=False, roaming=False))


def data_dir(migrate: bool = True) -> Path:
    """The per-user data folder (not created here: whoever writes into it first makes it 0700)."""
    env = os.environ.get("MLX_EMBED_DATA_DIR", "").strip()
    path = Path(env).expanduser() if env else _platform_data_dir()
    if migrate and not env:
        migrate_legacy(path, config_dir())
    return path


def config_dir() -> Path:
    env = os.environ.get("MLX_EMBED_CONFIG_DIR", "").strip()
    return Path(env).expanduser() if env else _platform_config_dir()


def app_settings_path() -> Path:
    """The desktop app's settings file (an ini file Qt reads and writes)."""
    data_dir()  # runs the one-time move of an older settings file first
    return config_dir() / APP_SETTINGS_NAME


def make_private_dir(path: str | os.PathLike) -> Path:
    """Create `path` and any missing parents, each as 0700 (umask notwithstanding); leave existing folders as
    they are. Returns the path."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue      # made by a concurrent process: not ours to chmod
        os.chmod(folder, 0o700)
    return path


def create_private_file(path: str | os.PathLike, mode: str = "x", encoding: str | None = "utf-8"):
    """Open a new file with mode 0600 ("x": fail if it exists; "w": create or truncate, an existing file
    keeping its mode). Returns the open file object."""
    flags = {"x": os.O_CREAT | os.O_EXCL | os.O_WRONLY, "w": os.O_CREAT | os.O_TRUNC | os.O_WRONLY}[mode]
    fd = os.open(path, flags, 0o600)
    return os.fdopen(fd, "w" if encoding else "wb", encoding=encoding)


# --- the one-time move ------------------------------------------------------------------------------
def legacy_locations(data: Path, config: Path) -> list[tuple[Path, Path]]:
    """(old, new) pairs of where earlier versions kept things."""
    home = Path.home()
    if sys.platform == "darwin":
        old_index = home / "Library" / "Application Support" / APP
        old_qt_settings = home / ".config" / APP / APP_SETTINGS_NAME      # QSettings' IniFormat on macOS
    elif sys.platform == "win32":
        old_index = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / APP
        old_qt_settings = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / APP / APP_SETTINGS_NAME
    else:
        old_index = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / APP
        old_qt_settings = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / APP / APP_SETTINGS_NAME
    pairs = [(old_index / name, data / name) for name in ("index.db", "index.db-wal", "index.db-shm", "journals")]
    # Qt's AppDataLocation is <the same base>/<organisation>/<application> = .../mlx-embed/mlx-embed
    pairs.append((old_index / APP / "label-sets", data / "label-sets"))
    pairs.append((old_qt_settings, config / APP_SETTINGS_NAME))
    return pairs


def migrate_legacy(data: Path, config: Path, pairs: list[tuple[Path, Path]] | None = None) -> list[str]:
    """Move what earlier versions kept elsewhere into `data` / `config`, once (a marker file records it),
    and make the tool's own files there user-only. A name present in both places is left where it is
    (nothing is overwritten) and reported. Returns what was done, one line per item."""
    key = data.resolve() if data.exists() else data
    with _lock:
        if key in _migrated:
            return []
        _migrated.add(key)
        marker = data / MARKER
        if marker.exists():
            return []
        pairs = legacy_locations(data, config) if pairs is None else pairs
        done: list[str] = []
        for old, new in pairs:
            if not old.exists() or _same(old, new):
                continue
            if new.is_dir() and old.is_dir():
                for child in sorted(old.iterdir()):
                    done.append(_move(child, new / child.name))
                _remove_if_empty(old)
            else:
                done.append(_move(old, new))
            _remove_if_empty(old.parent)
        if not data.exists() and not done:
            return []        # a new user: nothing to move, nothing to create yet
        try:
            make_private_dir(data)
        except OSError:
            return done        # no data folder can be made here: the command that needs one says so
        done += _tighten(data)
        try:
            with create_private_file(marker, "w") as f:
                json.dump({"version": LAYOUT_VERSION, "time": time.time(), "done": done}, f, indent=1)
        except OSError:
            pass             # a read-only data folder: try again next start
        return done


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _move(old: Path, new: Path) -> str:
    if new.exists():
        return f"kept {old} (a {new.name} exists in {new.parent} already)"
    try:
        make_private_dir(new.parent)
        shutil.move(str(old), str(new))
    except OSError as exc:     # a read-only or foreign folder: the old copy stays, every command still runs
        return f"kept {old} (could not move it: {exc.strerror or exc})"
    return f"moved {old} -> {new}"


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _tighten(data: Path) -> list[str]:
    """Our own files in our own folder, written by earlier versions with the umask: user-only now."""
    done = []
    targets = [(data, 0o700), (data / "journals", 0o700), (data / "label-sets", 0o700)]
    for sub in ("journals", "label-sets"):
        if (data / sub).is_dir():
            targets += [(p, 0o600) for p in (data / sub).iterdir() if p.is_file()]
    targets += [(p, 0o600) for p in data.glob("index.db*") if p.is_file()]
    for path, mode in targets:
        try:
            st = path.lstat()
            if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077 and not stat.S_ISLNK(st.st_mode):
                os.chmod(path, mode)
                done.append(f"made {path} user-only")
        except (OSError, AttributeError):   # gone, or no getuid (Windows: modes do not apply)
            continue
    return done
