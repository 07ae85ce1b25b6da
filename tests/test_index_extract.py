"""Extraction, discovery and chunking on real formats and bad input (no model needed).

Tests run as root, where chmod 000 does not stop a read: permission errors are simulated by patching
os.scandir / builtins.open for one path (said again in the report)."""

from __future__ import annotations

import builtins
import os
from pathlib import Path

import pytest

from mlx_embed.index.chunk import chunk_text
from mlx_embed.index.discover import IgnoreRules, discover
from mlx_embed.index.extract import ExtractionError, extract, kind_of

from . import index_files as F


def reason(path, **kw) -> str:
    with pytest.raises(ExtractionError) as info:
        extract(path, **kw)
    return info.value.reason


# --- formats -----------------------------------------------------------------------------------------
def test_each_format_gives_its_text(tmp_path):
    cases = {
        F.write_docx(tmp_path / "lease.docx", ["Lease agreement", "The tenant & the landlord agree."]): "tenant & the landlord",
        F.write_odt(tmp_path / "notes.odt", ["Meeting notes", "Budget approved for 2025."]): "Budget approved",
        F.write_rtf(tmp_path / "cv.rtf", ["Résumé of {work}", "Price: 20 €"]): "Résumé of {work}\nPrice: 20 €",
        F.write_eml(tmp_path / "mail.eml", "Renewal", "<p>The <b>renewal</b> is due.</p>", html=True): "The renewal is due.",
    }
    for path, needle in cases.items():
        ex = extract(path)
        assert needle in ex.text, (path.name, ex.text)
        assert ex.kind == kind_of(path)
    mail = extract(tmp_path / "mail.eml").text
    assert mail.startswith("Subject: Renewal") and "<b>" not in mail
    html = tmp_path / "page.html"
    html.write_text("<html><head><title>Tax &amp; rent</title><style>p{color:red}</style></head><body>"
                    "<p>Hello <b>world</b></p><script>var x = 1;</script><div>second</div></body></html>")
    ex = extract(html)
    assert ex.text == "Tax & rent\n\nHello world\nsecond" and ex.kind == "html"
    md = tmp_path / "readme.md"
    md.write_text("# Title\n\nSome *markdown*.\n")
    assert extract(md).kind == "markdown" and extract(md).text.startswith("# Title")
    assert extract(Path(__file__)).kind == "source"


def test_pdf_pages_and_pptx_slides(tmp_path):
    pdf = F.write_pdf(tmp_path / "a.pdf", ["First page about the lease renewal.", "Second page (taxes)."])
    ex = extract(pdf)
    assert ex.kind == "pdf" and len(ex.pages) == 2
    assert ex.text[slice(*ex.pages[0])] == "First page about the lease renewal."
    assert ex.text[slice(*ex.pages[1])] == "Second page (taxes)."
    deck = F.write_pptx(tmp_path / "deck.pptx", [["Quarterly review", "Revenue up"], ["Next steps"]])
    ex = extract(deck)
    assert ex.text[slice(*ex.pages[1])] == "Next steps" and "Revenue up" in ex.text[slice(*ex.pages[0])]


# --- bad input -----------------------------------------------------------------------------------------
def test_broken_pdfs_are_reported(tmp_path):
    good = F.write_pdf(tmp_path / "good.pdf", ["Some text on a page. " * 40, "More text."])
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    r = reason(truncated)
    assert r.startswith("damaged PDF") or r == "no text layer: scanned, needs OCR", r
    assert reason(F.write_pdf(tmp_path / "locked.pdf", ["secret"], password="pw")) == "encrypted PDF"
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(200, 200)
    w.write(tmp_path / "scan.pdf")
    from mlx_embed.index import ocr

    if ocr.installed():  # OCR looked at the blank page and found nothing: empty, not broken
        assert extract(tmp_path / "scan.pdf").note == "no text found"
    else:
        assert reason(tmp_path / "scan.pdf") == f"no text layer: scanned, needs OCR ({ocr.INSTALL})"
    (tmp_path / "fake.pdf").write_bytes(b"not a pdf at all")
    assert reason(tmp_path / "fake.pdf").startswith("damaged PDF")
    (tmp_path / "fake.docx").write_bytes(b"PK but not really")
    assert reason(tmp_path / "fake.docx") == "damaged docx file: not a zip archive"


def test_text_encodings_and_binary(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    assert extract(tmp_path / "empty.txt").text == ""
    bad = tmp_path / "bad.txt"
    bad.write_bytes("naïve café ".encode() * 20 + b"\xff\xfe broken \xc3")
    text = extract(bad).text
    assert "naïve café" in text and "\ufffd" in text
    (tmp_path / "latin.txt").write_bytes("Привет, как дела? Это тест кодировки windows.".encode("cp1251"))
    assert "Привет" in extract(tmp_path / "latin.txt").text
    (tmp_path / "u16.txt").write_bytes("hello in UTF-16".encode("utf-16"))
    assert extract(tmp_path / "u16.txt").text == "hello in UTF-16"
    (tmp_path / "blob").write_bytes(bytes(range(256)) * 10)
    assert reason(tmp_path / "blob") == "binary file"
    assert reason(tmp_path / "x.mp4") == "unsupported file type (.mp4)"


def test_sparse_gigabyte_is_too_large_without_reading_it(tmp_path):
    big = tmp_path / "huge.log"
    with open(big, "wb") as f:
        f.truncate(1 << 30)  # sparse: no disk used
    assert reason(big) == "too large (1 GB > 50 MB)"
    cands = list(discover([tmp_path]))
    assert [(c.path.name, c.skip) for c in cands] == [("huge.log", "too large (1 GB > 50 MB)")]


def test_file_deleted_while_being_read(tmp_path, monkeypatch):
    from mlx_embed.index.extract import text as text_module

    victim = tmp_path / "gone.txt"
    victim.write_text("here for a moment")
    original = text_module.read_bytes

    def vanish(path, limit=None):
        os.unlink(path)
        return original(path, limit)

    monkeypatch.setattr(text_module, "read_bytes", vanish)
    assert reason(victim) == "file disappeared while being read"


def test_permission_denied_file_and_folder(tmp_path, monkeypatch):
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "a.txt").write_text("hidden")
    (tmp_path / "open.txt").write_text("visible")
    (tmp_path / "locked.txt").write_text("locked")
    real_open, real_scandir = builtins.open, os.scandir

    def guarded_open(file, *a, **kw):
        if str(file).endswith("locked.txt"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **kw)

    def guarded_scandir(path="."):
        if str(path).endswith("secret"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "scandir", guarded_scandir)
    assert reason(tmp_path / "locked.txt") == "permission denied"
    found = {c.path.name: (c.skip, c.is_dir) for c in discover([tmp_path])}
    assert found["secret"] == ("permission denied", True)
    assert found["open.txt"] == (None, False) and "a.txt" not in found


# --- discovery ----------------------------------------------------------------------------------------
def test_discover_rules(tmp_path):
    root = tmp_path / "root"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "node_modules").mkdir()
    (root / "env").mkdir()
    (root / "env" / "pyvenv.cfg").write_text("home = /usr")
    for p in ["a.txt", "b.md", "sub/c.py", "sub/deep/d.txt", "sub/deep/e.log", ".hidden/f.txt", "node_modules/g.js",
              "env/h.py", "sub/keep.log", "clip.mp4", ".dotfile.txt", "build/out.txt", "notes.tmp"]:
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        (root / p).write_text("text " + p)
    (root / ".gitignore").write_text("*.log\n!keep.log\nbuild/\n")
    (root / "sub" / ".ignore").write_text("/deep/d.txt\n")
    (root / "loop").symlink_to(root, target_is_directory=True)        # a symlink loop
    (root / "sub" / "alias.txt").symlink_to(root / "a.txt")          # a second path to a.txt
    (root / "dangling.txt").symlink_to(root / "nope.txt")
    names = sorted(str(c.path.relative_to(root)) for c in discover([root], excludes=["*.tmp"]))
    assert names == ["a.txt", "b.md", "sub/c.py", "sub/keep.log"]
    with_hidden = {str(c.path.relative_to(root)) for c in discover([root], include_hidden=True)}
    assert ".hidden/f.txt" in with_hidden and ".dotfile.txt" in with_hidden
    # absolute excludes and a root given twice still list each file once
    listed = [c.path.name for c in discover([root, root / "sub"], excludes=[str(root / "b.md")])]
    assert sorted(listed) == ["a.txt", "c.py", "keep.log", "notes.tmp"]


def test_ignore_rule_syntax(tmp_path):
    rules = IgnoreRules(tmp_path, ["docs/**/draft*", "/top.txt", "*.bak", "!important.bak", "cache/"])
    m = lambda rel, d=False: rules.match(tmp_path / rel, d)  # noqa: E731
    assert m("docs/a/b/draft1.md") and m("docs/draft.md") and m("top.txt") and not m("x/top.txt")
    assert m("x/y.bak") and m("important.bak") is False and m("cache", True) and not m("cache", False)


# --- chunking ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer(minilm_path):
    from mlx_embed.encoder.tokenizer import Tokenizer

    return Tokenizer.from_file(minilm_path / "tokenizer.json")


def test_chunks_cover_text_with_ranges_and_overlap(tokenizer):
    text = "\n\n".join(f"Paragraph {i}. " + "The landlord renews the contract every year. " * 6 for i in range(30))
    chunks = chunk_text(text, tokenizer, max_tokens=64, overlap=16)
    assert len(chunks) > 10
    for c in chunks:
        assert text[c.start:c.end] == c.text and c.page is None
        assert len(tokenizer.encode([c.text], None)[0]) - 2 <= 64
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end, "consecutive chunks overlap"
        assert b.start > a.start
    assert chunks[0].start == 0 and chunks[-1].end == len(text.rstrip())
    covered = sorted((c.start, c.end) for c in chunks)
    assert all(nxt[0] <= cur[1] for cur, nxt in zip(covered, covered[1:])), "no gaps"
    assert sum(c.text.endswith(".") for c in chunks) >= len(chunks) // 2, "chunks end at sentence breaks"


def test_chunk_pages(tokenizer):
    pages_text = ["Alpha " * 100, "Beta " * 100, "Gamma " * 100]
    text = "\n\n".join(t.strip() for t in pages_text)
    pages, pos = [], 0
    for t in pages_text:
        pages.append((pos, pos + len(t.strip())))
        pos += len(t.strip()) + 2
    chunks = chunk_text(text, tokenizer, max_tokens=40, overlap=0, pages=pages)
    for c in chunks:
        first_word = c.text.split()[0]
        assert c.page == {"Alpha": 1, "Beta": 2, "Gamma": 3}[first_word]
    assert chunk_text("", tokenizer, 40) == [] and chunk_text("   \n", tokenizer, 40) == []


# Patterns and names from gitignore(5), checked against Git itself: the files discover() keeps must be the
# untracked, not-ignored files `git ls-files --others --exclude-standard` lists for the same tree.
GIT_CASES = {
    "root": ["doc/frotz/", "frotz2/", "/bar.txt", "hello.*", "**/deepname.txt", "abc/**", "a/**/b.txt",
             "foo/*", "*.md", "!keep.md", "\\!bang.txt", "\\#hash.txt", "trail.txt   ", "sp\\ ace.txt ",
             "[xy]c.txt", "[!q]z.txt", "?.txt", "/build/", "!/build/keep.txt", "# a comment", "",
             "nested/**/*.log.txt", "x/y/", "!x/y/z.txt"],
    "sub": ["/local.txt", "*.tmp.txt", "!important.tmp.txt"],
}
GIT_FILES = ["doc/frotz/a.txt", "a/doc/frotz/b.txt", "frotz2/c.txt", "q/frotz2/d.txt", "bar.txt", "q/bar.txt",
             "hello.txt", "q/hello.txt", "deepname.txt", "q/r/deepname.txt", "abc/x.txt", "abc/d/y.txt",
             "a/b.txt", "a/x/b.txt", "a/x/y/b.txt", "q/a/b.txt", "foo/t.txt", "foo/bar/h.txt", "q/foo/t.txt",
             "n.md", "keep.md", "q/keep.md", "!bang.txt", "#hash.txt", "trail.txt", "sp ace.txt", "sp.txt",
             "xc.txt", "yc.txt", "zc.txt", "qz.txt", "az.txt", "1.txt", "12.txt", "build/keep.txt",
             "build/o.txt", "nested/a/b/c.log.txt", "nested/c.log.txt", "x/y/z.txt", "x/yz.txt",
             "sub/local.txt", "sub/s/local.txt", "local.txt", "sub/a.tmp.txt", "sub/important.tmp.txt",
             "sub/s/b.tmp.txt", "a.tmp.txt", "plain.txt"]


def test_ignore_rules_agree_with_git(tmp_path):
    import shutil
    import subprocess

    if not shutil.which("git"):
        pytest.skip("git is not installed")
    root = tmp_path / "repo"
    for rel in GIT_FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("text of " + rel)
    (root / ".gitignore").write_text("\n".join(GIT_CASES["root"]) + "\n")
    (root / "sub" / ".gitignore").write_text("\n".join(GIT_CASES["sub"]) + "\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    out = subprocess.run(["git", "-C", str(root), "-c", "core.quotePath=false", "ls-files", "-z", "--others",
                          "--exclude-standard"], check=True, capture_output=True, text=True).stdout
    git_kept = sorted(p for p in out.split("\0") if p and not p.endswith(".gitignore"))
    ours = sorted(c.path.relative_to(root).as_posix() for c in discover([root], include_hidden=True)
                  if c.path.name != ".gitignore")
    assert ours == git_kept
    assert "keep.md" in ours and "build/keep.txt" not in ours and "x/y/z.txt" not in ours  # the tree is not trivial


def test_pdf_text_ligatures_and_hyphens(tmp_path):
    """What chose PDFium (bench/pdf_extract.py): ligature glyphs come out as letters, so keyword search
    finds "files" and "first"; a word hyphenated at a line end comes out whole."""
    pytest.importorskip("PySide6")
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QPdfWriter, QTextDocument

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841  (fonts need it)
    doc = QTextDocument()
    doc.setHtml("<p>The first files were filed officially in the office.</p>")
    writer = QPdfWriter(str(tmp_path / "lig.pdf"))
    doc.print_(writer)
    del writer
    text = extract(tmp_path / "lig.pdf").text
    assert "The first files were filed officially in the office." in " ".join(text.split()), repr(text)
    real = Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf")   # a real, TeX-made PDF where this machine has it
    if real.is_file():
        text = extract(real).text
        assert "manipulation" in text and "\ufffe" not in text
