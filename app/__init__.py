"""mlx-embed desktop app (PySide6): views and workers on top of the mlx_embed library.

Run it with `mlx-embed-app` or `python -m app`. Every action calls the library through `app.library`
(a thin adapter); no model, index or clustering logic lives here.
"""

try:
    from . import _qtfix  # noqa: F401  (must run before any signal is emitted; see its docstring)
except ImportError:       # no PySide6: app.main.main() says what to install instead of a traceback
    pass
