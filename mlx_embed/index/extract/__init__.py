"""Text extraction with position info, one small module per format.

    extract(path, max_size=DEFAULT_MAX_SIZE, ocr_cache=None, progress=None, cancel=None)
        -> Extracted(text, pages, kind, note)
    kind_of(path) -> str | None          # "text", "markdown", "source", "html", "pdf", "docx", "odt",
                                          # "pptx", "rtf", "eml", "image"; None for a type we never read
    ExtractionError(reason)               # .reason is short and user-readable: "encrypted PDF",
                                          # "no text layer: scanned, needs OCR", "permission denied",
                                          # "too large (1.0 GB > 50 MB)", "binary file", "damaged PDF: ..."

`Extracted.pages` is a list of (start, end) character ranges into `text`, one per PDF page (per slide
for PPTX), else None. `note` says why a readable file gave no text ("no text found" for an image
without any, "too small to read (32x32 px)"). Images and the PDF pages without a text layer are read
by OCR (`ocr`, the optional extra): without it, "OCR not installed (pip install ...)". `ocr_cache` is
the folder of OCR's content-hash cache (None: ocr.cache's default); `progress(done, total)` and
`cancel() -> bool` reach the OCR of a scanned PDF's pages (the one read long enough to need them).
Extractors never raise anything but ExtractionError for a bad file.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...errors import MlxEmbedError

DEFAULT_MAX_SIZE = 50 * 1024 * 1024


@dataclass
class Extracted:
    text: str
    pages: list[tuple[int, int]] | None
    kind: str
    note: str | None = None  # why a readable file has no text


class ExtractionError(MlxEmbedError):
    """A file we cannot read as text; `reason` says why in a few words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


SOURCE_EXTENSIONS = {
    ".py", ".pyi", ".pyx", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".c", ".h", ".cc", ".cpp", ".cxx",
    ".hpp", ".hh", ".java", ".go", ".rs", ".rb", ".php", ".swift", ".kt", ".kts", ".m", ".mm", ".cs",
    ".sh", ".bash", ".zsh", ".fish", ".pl", ".pm", ".lua", ".r", ".scala", ".sql", ".css", ".scss",
    ".less", ".vue", ".svelte", ".hs", ".ml", ".mli", ".ex", ".exs", ".erl", ".clj", ".dart", ".jl",
    ".zig", ".nim", ".f90", ".asm", ".s", ".ps1", ".bat", ".cmake", ".gradle", ".proto", ".tf",
}
SOURCE_NAMES = {"makefile", "dockerfile", "cmakelists.txt", "gemfile", "rakefile", "justfile", "vagrantfile"}
TEXT_EXTENSIONS = {
    ".txt", ".text", ".log", ".csv", ".tsv", ".rst", ".org", ".tex", ".bib", ".ini", ".cfg", ".conf",
    ".json", ".jsonl", ".yaml", ".yml", ".toml", ".xml", ".svg", ".srt", ".vtt", ".adoc", ".asciidoc",
    ".textile", ".wiki", ".properties", ".env", ".lst", ".diff", ".patch", ".ics", ".vcf", ".nfo",
}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".gif", ".bmp", ".heic", ".heif"}
FORMATS = {  # extension -> (kind, module)
    **{ext: ("text", "text") for ext in TEXT_EXTENSIONS},
    **{ext: ("source", "text") for ext in SOURCE_EXTENSIONS},
    ".md": ("markdown", "text"), ".markdown": ("markdown", "text"), ".mdx": ("markdown", "text"),
    ".html": ("html", "html"), ".htm": ("html", "html"), ".xhtml": ("html", "html"),
    ".pdf": ("pdf", "pdf"),
    ".docx": ("docx", "office"), ".docm": ("docx", "office"), ".pptx": ("pptx", "office"),
    ".odt": ("odt", "office"), ".odp": ("odt", "office"), ".ods": ("odt", "office"),
    ".rtf": ("rtf", "rtf"), ".eml": ("eml", "eml"),
    **{ext: ("image", "image") for ext in IMAGE_EXTENSIONS},
}
KINDS = sorted({kind for kind, _ in FORMATS.values()})
# Types we never try to read as text (so discovery can skip them without opening them).
BINARY_EXTENSIONS = {
    ".ico", ".icns", ".psd",
    ".raw", ".cr2", ".nef", ".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".opus", ".mp4", ".m4v",
    ".mov", ".avi", ".mkv", ".webm", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".tar",
    ".dmg", ".iso", ".pkg", ".deb", ".rpm", ".exe", ".dll", ".so", ".dylib", ".o", ".a", ".class", ".jar",
    ".pyc", ".pyo", ".whl", ".wasm", ".bin", ".dat", ".db", ".sqlite", ".sqlite3", ".safetensors", ".gguf",
    ".npy", ".npz", ".pt", ".pth", ".onnx", ".ttf", ".otf", ".woff", ".woff2", ".doc", ".xls", ".ppt",
    ".xlsx", ".key", ".numbers", ".pages", ".sketch", ".fig", ".parquet", ".arrow", ".lock",
}


def kind_of(path: str | os.PathLike) -> str | None:
    """The kind a file is read as, from its name; "text" for unknown names (sniffed when read)."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext in FORMATS:
        return FORMATS[ext][0]
    if p.name.lower() in SOURCE_NAMES:
        return "source"
    if ext in BINARY_EXTENSIONS:
        return None
    return "text"


OCR_READERS = ("image", "pdf")  # the readers that take the OCR options


def extract(path: str | os.PathLike, max_size: int | None = DEFAULT_MAX_SIZE, *,
            ocr_cache: str | os.PathLike | None = None, progress: Callable[[int, int], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> Extracted:
    """The text of one file. Raises ExtractionError with a user-readable reason."""
    path = Path(path)
    kind = kind_of(path)
    if kind is None:
        raise ExtractionError(f"unsupported file type ({path.suffix.lower()})")
    module = FORMATS.get(path.suffix.lower(), (kind, "text"))[1]
    try:
        st = path.stat()
        if not path.is_file():
            raise ExtractionError("not a regular file")
        if max_size is not None and st.st_size > max_size:
            raise ExtractionError(f"too large ({human_size(st.st_size)} > {human_size(max_size)})")
        reader = importlib.import_module(f"{__name__}.{module}")
        options = dict(ocr_cache=ocr_cache, progress=progress, cancel=cancel) if module in OCR_READERS else {}
        text, pages, *note = reader.read(path, kind, **options)  # readers may add a note
    except ExtractionError:
        raise
    except PermissionError:
        raise ExtractionError("permission denied") from None
    except FileNotFoundError:
        raise ExtractionError("file disappeared while being read") from None
    except IsADirectoryError:
        raise ExtractionError("not a regular file") from None
    except OSError as exc:
        raise ExtractionError(f"read error: {exc.strerror or exc}") from None
    except MemoryError:
        raise ExtractionError("too large to read into memory") from None
    except RecursionError:
        raise ExtractionError(f"damaged {kind} file: too deeply nested") from None
    except Exception as exc:  # a parser bug on a hostile file must not stop a run
        raise ExtractionError(f"damaged {kind} file: {type(exc).__name__}: {exc}"[:200]) from None
    return Extracted(text=text.replace("\x00", ""), pages=pages, kind=kind, note=note[0] if note else None)


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    with open(path, "rb") as f:
        return f.read() if limit is None else f.read(limit)


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}".replace(".0 ", " ")
        n /= 1024
    return f"{n} B"


__all__ = ["extract", "kind_of", "Extracted", "ExtractionError", "KINDS", "DEFAULT_MAX_SIZE"]
