"""Make MLX's CPU backend use a fast BLAS on Linux.

MLX's Linux wheel links a reference BLAS (a few GFLOP/s). Loading OpenBLAS with RTLD_GLOBAL before
`mlx.core` is imported makes the dynamic linker resolve MLX's BLAS symbols to OpenBLAS instead
(30-50x faster matmuls). On macOS MLX uses Accelerate and Metal: nothing to do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sys
import warnings

_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",  # Debian, Ubuntu
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblasp.so.0",  # Fedora, RHEL (pthreads build)
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib/libopenblas.so.0",  # Arch
)
FIX = ("install OpenBLAS (Debian/Ubuntu: sudo apt-get install libopenblas0-pthread; Fedora: sudo dnf install "
       "openblas; Arch: sudo pacman -S openblas), or without root on x86_64 `pip install mkl` into this "
       "environment, or set MLX_EMBED_BLAS to a libopenblas.so / libmkl_rt.so")


def _pip_mkl() -> list[str]:
    """Intel MKL from PyPI (`pip install mkl`) puts libmkl_rt in <environment>/lib: measured 120 GFLOP/s here."""
    return sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")), reverse=True)

loaded_path: str | None = None


def ensure_fast_blas() -> str | None:
    """Load OpenBLAS globally once; return its path, or None (with one warning) when it is missing."""
    global loaded_path
    if loaded_path is not None or not sys.platform.startswith("linux"):
        return loaded_path
    if "mlx.core" in sys.modules:
        # Too late to interpose: the symbols are already bound. Stay quiet if it was done before us.
        return None
    _choose_kernel()
    override = os.environ.get("MLX_EMBED_BLAS")
    candidates = [override] if override else [*_CANDIDATES, ctypes.util.find_library("openblas"), *_pip_mkl()]
    for path in candidates:
        if not path:
            continue
        try:
            ctypes.CDLL(path, mode=os.RTLD_GLOBAL)
        except OSError:
            continue
        loaded_path = path
        return path
    if override != "none":
        warnings.warn(
            f"OpenBLAS was not found, so MLX runs on its slow reference BLAS (about 30x slower on the CPU): "
            f"{FIX} (MLX_EMBED_BLAS=none silences this).",
            RuntimeWarning,
            stacklevel=3,
        )
    return None


def describe() -> str:
    """Which BLAS runs MLX's CPU matrix products, with the fix when it is the slow one (for `info`)."""
    if sys.platform == "darwin":
        return "Accelerate (macOS)"
    if not sys.platform.startswith("linux"):
        return "MLX's own"
    if loaded_path:
        kernels = os.environ.get("OPENBLAS_CORETYPE")
        return f"{loaded_path}" + (f" ({kernels} kernels)" if kernels and "openblas" in loaded_path else "")
    return f"MLX's reference BLAS, about 30x slower: {FIX}"


def _choose_kernel() -> None:
    """Tell OpenBLAS which kernels this CPU runs, unless the environment already says.

    OpenBLAS identifies the CPU by its model number; under virtualisation it often fails and falls back
    to its generic "Prescott" kernels (measured here: 33 GFLOP/s instead of 165 for SkylakeX). The
    feature flags are reliable, so pick the kernel family from them. It must be set before the library
    is loaded: OpenBLAS reads it once, at load time.
    """
    if os.environ.get("OPENBLAS_CORETYPE"):
        return
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return
    if {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= set(flags):
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif {"avx2", "fma"} <= set(flags):
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"
