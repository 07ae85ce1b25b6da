"""OpenBLAS is loaded before mlx.core on Linux, and its absence is reported once, clearly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="macOS uses Accelerate/Metal")


@linux_only
def test_openblas_is_loaded_before_mlx():
    import mlx_embed

    assert mlx_embed._blas.loaded_path and "openblas" in mlx_embed._blas.loaded_path
    maps = open("/proc/self/maps").read()
    assert "libopenblas" in maps


@linux_only
def test_missing_openblas_warns_once_with_the_fix():
    env = dict(os.environ, MLX_EMBED_BLAS="/nonexistent/libopenblas.so")
    code = "import warnings; warnings.simplefilter('always'); import mlx_embed; import mlx_embed._blas as b; b.ensure_fast_blas()"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("OpenBLAS was not found") == 1
    assert "apt-get install libopenblas0-pthread" in proc.stderr


@linux_only
def test_kernel_family_follows_cpu_flags_unless_the_environment_says():
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    expected = ("SkylakeX" if {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= set(flags)
                else "Haswell" if {"avx2", "fma"} <= set(flags) else "")
    code = "import os, mlx_embed; print(os.environ.get('OPENBLAS_CORETYPE', ''))"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
    env["OPENBLAS_CORETYPE"] = "Haswell"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Haswell"


@linux_only
def test_info_names_the_blas_and_the_fix_when_it_is_the_slow_one(jina_tiny):
    code = ("import json, mlx_embed; from mlx_embed import _blas; "
            f"m = mlx_embed.load({str(jina_tiny)!r}); print(json.dumps([_blas.describe(), m.describe()['blas']]))")
    import json

    fast = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     check=True).stdout.splitlines()[-1])
    assert "openblas" in fast[0] and fast[0] == fast[1]
    env = dict(os.environ, MLX_EMBED_BLAS="none")
    slow = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                     check=True).stdout.splitlines()[-1])
    assert "reference BLAS" in slow[0] and "apt-get install libopenblas0-pthread" in slow[0]
    assert "MLX_EMBED_BLAS" in slow[0]


@linux_only
def test_mkl_from_pip_is_found_in_the_environment(tmp_path, monkeypatch):
    from mlx_embed import _blas

    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libmkl_rt.so.2").write_bytes(b"")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert _blas._pip_mkl() == [str(tmp_path / "lib" / "libmkl_rt.so.2")]
    assert "pip install mkl" in _blas.FIX
