"""Real documents from this machine for the index tests and the benchmark (no network, no man-db).

- Python's own standard library (always present: sysconfig's stdlib path): the head of each module,
  which is its docstring and first definitions.
- Man pages from /usr/share/man/man1 (when installed), rendered from roff to text with a small
  converter (so CI needs no man-db/groff).
Files are trimmed to `chars` characters so the real model (CPU) indexes them in seconds.
"""

from __future__ import annotations

import gzip
import re
import sysconfig
from pathlib import Path

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MAN1 = Path("/usr/share/man/man1")

# Known-item queries: a user's description of what they look for -> the file that answers it.
# Paraphrases (few shared words: dense should win), keyword-ish queries (names, jargon: BM25 should
# win), and mixed ones.
STDLIB_QUERIES = {
    "parse command line options and arguments into a namespace": "argparse.py",
    "read and write zip archives": "zipfile.py",
    "secure hash and message digest algorithms like SHA256 and MD5": "hashlib.py",
    "copy files and whole directory trees, remove trees, move files": "shutil.py",
    "serialize python objects to a byte stream and back": "pickle.py",
    "heap queue algorithm priority queue": "heapq.py",
    "send email through an SMTP server": "smtplib.py",
    "parse and build URLs": "urllib/parse.py",
    "decimal fixed point and floating point arithmetic with exact rounding": "decimal.py",
    "compare sequences and produce diffs between texts": "difflib.py",
    "wrap and fill paragraphs of text to a given width": "textwrap.py",
    "run child processes and connect to their input output pipes": "subprocess.py",
    "read and write tar archive files with gzip compression": "tarfile.py",
    "unix shell style wildcard pattern matching of file names": "fnmatch.py",
    "mathematical statistics mean median variance": "statistics.py",
    "generate pseudo random numbers and shuffle sequences": "random.py",
    "comma separated values files reader and writer": "csv.py",
    "calendar printing functions": "calendar.py",
    "temporary files and directories that are deleted automatically": "tempfile.py",
    "bisection algorithm to keep a list sorted": "bisect.py",
    "quote strings for safe use in a shell command line lexical analyzer": "shlex.py",
    "universally unique identifiers": "uuid.py",
    "encode binary data as base64 and other text encodings": "base64.py",
    "abstract base classes": "abc.py",
    # paraphrases: few words in common with the file
    "make a shallow or deep duplicate of an object": "copy.py",
    "run events later at scheduled times": "sched.py",
    "measure how long small pieces of code take to execute": "timeit.py",
    "references to objects that do not keep them alive": "weakref.py",
    "read settings from ini style files with sections": "configparser.py",
    "get information about live objects and their source code": "inspect.py",
    "translate program messages into other languages": "gettext.py",
    "efficient waiting for input and output on many file descriptors": "selectors.py",
    "exact rational number arithmetic": "fractions.py",
    "strong random tokens for passwords and authentication": "secrets.py",
    "functions that correspond to the built in operators": "operator.py",
    "guess the type of a file from its extension": "mimetypes.py",
    # jargon, protocol names and rare words: what keyword search is for
    "IMAP4 client RFC 2060": "imaplib.py",
    "POP3 client": "poplib.py",
    "RFC 959": "ftplib.py",
    "RFC 2104 keyed hashing": "hmac.py",
    "liblzma": "lzma.py",
    "libbzip2 interface": "bz2.py",
    "WAVE files": "wave.py",
    "netrc": "netrc.py",
    "pysqlite": "sqlite3/__init__.py",
    "multi-producer, multi-consumer": "queue.py",
    "filename globbing utility": "glob.py",
}
STDLIB_FILES = sorted(set(STDLIB_QUERIES.values()) | {
    "string.py", "glob.py", "queue.py", "threading.py", "socket.py", "ssl.py", "gettext.py", "locale.py",
    "os.py", "pathlib.py", "pprint.py", "typing.py", "dataclasses.py", "enum.py", "functools.py",
    "contextlib.py", "copy.py", "datetime.py", "fractions.py", "imaplib.py", "poplib.py", "ftplib.py",
    "mailbox.py", "mimetypes.py", "netrc.py", "operator.py", "optparse.py", "getopt.py", "gzip.py",
    "bz2.py", "lzma.py", "zipapp.py", "filecmp.py", "secrets.py", "hmac.py", "sched.py", "selectors.py",
    "signal.py", "sqlite3/__init__.py", "json/__init__.py", "html/parser.py", "http/client.py",
    "http/server.py", "email/message.py", "logging/__init__.py", "unittest/case.py", "codecs.py",
    "configparser.py", "inspect.py", "timeit.py", "trace.py", "tokenize.py", "weakref.py", "wave.py",
})

MAN_QUERIES = {
    "list directory contents": "ls.txt",
    "copy files and directories": "cp.txt",
    "search for a pattern in files print matching lines": "grep.txt",
    "change file mode bits permissions": "chmod.txt",
    "report file system disk space usage": "df.txt",
    "print the last part of files": "tail.txt",
}
MAN_FILES = sorted(set(MAN_QUERIES.values()) | {
    "mv.txt", "rm.txt", "cat.txt", "head.txt", "sort.txt", "uniq.txt", "wc.txt", "du.txt", "chown.txt",
    "ln.txt", "mkdir.txt", "touch.txt", "date.txt", "echo.txt", "env.txt", "kill.txt", "ps.txt",
    "find.txt", "sed.txt", "tr.txt", "cut.txt", "tee.txt", "sleep.txt",
})


def roff_to_text(src: str) -> str:
    """A small man(7) to text converter: enough for NAME/SYNOPSIS/DESCRIPTION prose."""
    out = []
    skipping = False
    for line in src.splitlines():
        if skipping:  # inside a macro definition (.de NAME ... ..) or an ignored block (.ig ... ..)
            skipping = not line.startswith("..")
            continue
        if not line.startswith((".", "'")):
            out.append(line)
            continue
        m = re.match(r"^[.']\s*(\w+)?\s*(.*)$", line)
        macro, rest = (m.group(1) or "", m.group(2)) if m else ("", "")
        if macro in ("de", "de1", "am", "ig"):
            skipping = True
        elif macro in ("SH", "SS"):
            out.append("\n" + rest.strip('"').upper() + "\n")
        elif macro in ("B", "I", "BR", "IR", "RB", "RI", "BI", "IB", "SM", "TP", "IP", "TQ", "Nm", "Nd", "Op", "Ar"):
            if rest:
                out.append(rest.replace('"', ""))
        elif macro in ("PP", "P", "LP", "sp", "br", "Pp"):
            out.append("\n")
    text = "\n".join(out)
    text = re.sub(r"\\f[BIRP]|\\f\(..|\\f\[[^]]*\]", "", text)
    text = text.replace("\\-", "-").replace("\\(em", "-").replace("\\(en", "-").replace("\\&", "")
    text = text.replace("\\e", "\\").replace("\\(aq", "'").replace("\\(dq", '"').replace("\\ ", " ")
    text = re.sub(r"\\\*\(..|\\\*.|\\\[[^]]*\]|\\.", "", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def write_stdlib(folder: Path, chars: int = 1200) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for rel in STDLIB_FILES:
        src = STDLIB / rel
        if not src.is_file():  # a module that became a package (zipfile in 3.12)
            src = STDLIB / rel[:-3] / "__init__.py"
        if not src.is_file():
            continue
        name = rel.replace("/", "_") if rel.count("/") else rel
        name = name.replace("___init__", "")  # json/__init__.py -> json.py
        (folder / name).write_text(src.read_text(encoding="utf-8", errors="replace")[:chars], encoding="utf-8")
        written.append(name)
    return written


def write_man(folder: Path, chars: int = 1200) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in MAN_FILES:
        src = MAN1 / (name[:-4] + ".1.gz")
        if not src.is_file():
            continue
        try:
            text = roff_to_text(gzip.decompress(src.read_bytes()).decode("utf-8", errors="replace"))
        except (OSError, EOFError):
            continue
        (folder / name).write_text(text[:chars], encoding="utf-8")
        written.append(name)
    return written


def stdlib_name(rel: str) -> str:
    name = rel.replace("/", "_") if rel.count("/") else rel
    return name.replace("___init__", "")


def labelled_queries(written: set[str]) -> dict[str, str]:
    """query -> expected file name, for the files that exist on this machine."""
    q = {k: stdlib_name(v) for k, v in STDLIB_QUERIES.items()}
    q.update(MAN_QUERIES)
    return {k: v for k, v in q.items() if v in written}
