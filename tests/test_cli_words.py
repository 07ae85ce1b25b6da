"""The CLI's counts and words agree (issue 24 item 9): plural forms, no absurd first-tick rate, the bar's
last chunk count = "chunks embedded" in the summary, and embedded + reused = stored on a new index."""

from __future__ import annotations

import re

import pytest

from mlx_embed.cli import main
from mlx_embed.cli.index import Bars
from mlx_embed.index.indexer import RunProgress
from mlx_embed.words import plural


def test_plural():
    assert plural(1, "file") == "1 file"
    assert plural(0, "file") == "0 files"
    assert plural(1234, "chunk") == "1,234 chunks"
    assert plural(2, "index", "indexes") == "2 indexes"


def test_bar_has_no_first_tick_rate_and_ends_at_the_final_count(capsys, monkeypatch):
    bars = Bars(True)
    bars(RunProgress("scan", 1, 0))                      # microseconds after the start
    bars(RunProgress("index", 1, 100, 0))
    bars(RunProgress("index", 100, 100, 895, eta_seconds=0.0))
    bars(RunProgress("done", 100, 100, 912, 0, None, 0.0))   # the last batches were embedded after the last read
    bars.close()
    err = capsys.readouterr().err
    assert "files/s" not in err and "it/s" not in err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "100/100 files" in last and "912 chunks" in last, last


def test_bar_rate_after_two_seconds(capsys, monkeypatch):
    import mlx_embed.cli.index as cli_index

    now = [1000.0]
    monkeypatch.setattr(cli_index.time, "monotonic", lambda: now[0])
    bars = Bars(True)
    bars(RunProgress("index", 1, 10, 3))
    now[0] += 4.0
    bars(RunProgress("index", 8, 10, 20, eta_seconds=1.0))
    bars.close()
    assert "2.0 files/s" in capsys.readouterr().err


def test_summary_counts_agree(tmp_path, minilm_path, monkeypatch, capsys):
    from .test_index_engine import prose

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "one.txt").write_text(prose(1, 400))
    monkeypatch.setenv("MLX_EMBED_INDEX", str(tmp_path / "ix"))
    monkeypatch.delenv("MLX_EMBED_MODEL", raising=False)
    assert main(["index", "add", str(docs), "--model", str(minilm_path), "-q"]) == 0
    err = capsys.readouterr().err
    assert "Done: 1 file indexed, " in err and "Index: 1 file: 1 indexed, " in err, err
    first = int(re.search(r"([\d,]+) chunks? embedded", err).group(1))
    # one more file, then a byte-identical copy of it: the copy's chunks are copied, not embedded
    (docs / "two.txt").write_text(prose(2, 300))
    assert main(["index", "update", "-q"]) == 0
    err = capsys.readouterr().err
    second = int(re.search(r"([\d,]+) chunks? embedded", err).group(1))
    assert "Done: 1 file indexed, " in err and "reused" not in err, err
    (docs / "copy.txt").write_text((docs / "two.txt").read_text())
    assert main(["index", "update", "-q"]) == 0
    err = capsys.readouterr().err
    embedded = int(re.search(r"([\d,]+) chunks? embedded", err).group(1))
    reused = int(re.search(r"([\d,]+) chunks? reused", err).group(1))
    stored = int(re.search(r"([\d,]+) chunks? stored", err).group(1))
    assert "Done: 1 file indexed (1 as a copy of an identical file)" in err, err
    assert embedded == 0 and reused == second > 0          # the copy has two.txt's chunks
    assert stored == first + second + reused                # nothing deleted: every run's chunks are stored
    assert main(["index", "status"]) == 0
    out = capsys.readouterr().out
    assert f"{plural(stored, 'chunk')} stored" in out
