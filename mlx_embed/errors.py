"""Errors a user can act on. The CLI prints their message as one line on stderr and exits non-zero."""

from __future__ import annotations


class MlxEmbedError(Exception):
    """Base class: the message names the file or value at fault and what to do about it."""

    exit_code = 1


class ModelNotFoundError(MlxEmbedError):
    """Neither a local folder nor a (cached or downloadable) Hugging Face repository."""

    exit_code = 3


class ModelFormatError(MlxEmbedError):
    """A model folder whose files are missing, corrupt, or describe something we do not support."""

    exit_code = 4


class AdapterError(ModelFormatError):
    """A LoRA adapter that is missing, corrupt or uses a setting we refuse to ignore."""


class InvalidArgumentError(MlxEmbedError, ValueError):
    """A bad argument (unknown task, prompt name, dimension, precision...). Also a ValueError."""

    exit_code = 2


class IndexFormatError(MlxEmbedError):
    """The index file is damaged or was written by a newer mlx-embed."""

    exit_code = 4


class IndexDamagedError(IndexFormatError):
    """The index file is damaged (SQLite reports it malformed, not a database, or its check fails).

    `mlx-embed index rebuild` recovers it: a fresh file with the same folders and settings, re-indexed."""

    exit_code = 6


class IndexReadOnlyError(MlxEmbedError):
    """The index (its file or its folder) cannot be written: searching works, updating does not."""

    exit_code = 7


class IndexBusyError(MlxEmbedError):
    """Another run is updating this index (one run at a time per index)."""

    exit_code = 8
