"""mlx-embed desktop app (PySide6): views and workers on top of the mlx_embed library.

Run it with `mlx-embed-app` or `python -m app`. Every action calls the library through `app.library`
(a thin adapter); no model, index or clustering logic lives here.
"""

from . import _qtfix  # noqa: E402,F401  (must run before any signal is emitted; see its docstring)
