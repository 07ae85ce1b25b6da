"""Search-quality development set: real files of this machine (no man pages) with judged queries.

    corpus_files() -> {key: Path}            judged files present here (key = "root:relative/path")
    materialise(dest, chars, keys=None) -> {key: Path}   copies (the first `chars` characters) under dest
    known_item_queries(files) -> {query: [key]}   one-line summaries (module docstring / rst synopsis)
    QUESTIONS: {question: [relevant keys]}         natural-language questions, judged by hand
    present(queries, files) -> the queries whose judged files are all present
    score(ranked_keys, relevant) -> (rr@10, ndcg@10)

Three roots, two quite different sub-corpora: "stdlib" (Python's standard library sources: code with
docstrings) and "docs" (CMake's reference pages under /usr/share/cmake-*/Help and package documentation
under /usr/share/doc: prose). A question whose judged files are missing on a machine is skipped and
counted, so a scorer never silently scores against absent files.
"""

from __future__ import annotations

import ast
import glob
import gzip
import math
import re
import sysconfig
from pathlib import Path

ROOTS = {
    "stdlib": Path(sysconfig.get_paths()["stdlib"]),
    "cmake": Path((sorted(glob.glob("/usr/share/cmake-*/Help")) or ["/usr/share/cmake/Help"])[-1]),
    "doc": Path("/usr/share/doc"),
}
SUBCORPUS = {"stdlib": "stdlib", "cmake": "docs", "doc": "docs"}

STDLIB = """abc argparse ast asyncio/base_events asyncio/events asyncio/tasks asyncio/queues base64 bdb bisect bz2
calendar cgi cmd code codecs collections/__init__ colorsys compileall concurrent/futures/_base
concurrent/futures/process concurrent/futures/thread configparser contextlib copy copyreg cProfile csv
dataclasses datetime _strptime _pydecimal difflib dis doctest email/message email/parser email/utils
enum filecmp fileinput fnmatch fractions ftplib functools getopt getpass gettext glob graphlib gzip hashlib
heapq hmac html/parser html/__init__ http/client http/cookies http/server imaplib inspect ipaddress
json/__init__ json/decoder json/encoder keyword linecache locale logging/__init__ logging/handlers lzma
mailbox mimetypes modulefinder multiprocessing/pool multiprocessing/queues netrc numbers operator optparse
os pathlib pdb pickle pickletools pkgutil platform plistlib poplib posixpath pprint profile pstats pty
py_compile pyclbr queue quopri random re/__init__ reprlib rlcompleter runpy sched secrets selectors shelve
shlex shutil signal site smtplib socket socketserver sqlite3/__init__ ssl stat statistics string
subprocess symtable sysconfig tabnanny tarfile tempfile textwrap threading timeit tkinter/__init__ token
tokenize tomllib/_parser trace traceback tracemalloc types typing unittest/case unittest/mock
urllib/parse urllib/request urllib/robotparser uuid warnings wave weakref webbrowser xml/dom/minidom
xml/etree/ElementTree xml/sax/__init__ zipapp zipfile zipimport dbm/__init__""".split()

DOCS = """procps/bugs.md dpkg/spec/triggers.txt dpkg/spec/rootless-builds.txt dpkg/spec/protected-field.txt
base-passwd/users-and-groups.html base-passwd/README yq/cli-doc.txt libffi8/html/Introduction.html
libffi8/html/The-Basics.html libffi8/html/Using-libffi.html libffi8/html/Structures.html
libffi8/html/Type-Example.html libffi8/html/The-Closure-API.html libffi8/html/Closure-Example.html
libffi8/html/Thread-Safety.html libffi8/html/Memory-Usage.html libffi8/html/Simple-Example.html
libffi8/html/Primitive-Types.html libffi8/html/Complex.html libffi8/html/Arrays-Unions-Enums.html
libffi8/html/Missing-Features.html zlib1g-dev/examples/zlib_how.html python3/python-policy.html
systemd/DISTRO_PORTING.md systemd/TRANSLATORS.md libglib2.0-0/README.md libgmp-dev/README
gpg-agent/README.Debian libasound2/examples/asoundrc.txt zstd/TESTING.md libsodium23/README.markdown
python3-httplib2/README.md python3-yaml/README.md libxslt1-dev/html/xsltproc.html
libxslt1-dev/html/tutorial/libxslttutorial.html bash/README.gz findutils/README.gz gzip/README.gz
make/README.gz xz-utils/README.gz gdb/README.gz ed/README.gz coreutils/README.gz systemd/UIDS-GIDS.md.gz
systemd/ENVIRONMENT.md.gz systemd/CODING_STYLE.md.gz""".split()


def _key_list() -> list[str]:
    keys = [f"stdlib:{m}.py" for m in STDLIB] + [f"doc:{d}" for d in DOCS]
    cmake = ROOTS["cmake"] / "command"
    keys += sorted(f"cmake:command/{p.name}" for p in cmake.glob("*.rst")) if cmake.is_dir() else []
    return keys


def resolve(key: str) -> Path:
    root, rel = key.split(":", 1)
    return ROOTS[root] / rel


def corpus_files() -> dict[str, Path]:
    return {k: resolve(k) for k in _key_list() if resolve(k).is_file()}


def _read(path: Path) -> str:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return raw.decode("utf-8", errors="replace")


def copy_name(key: str) -> str:
    """The copy's path under dest: root/relative (".gz" dropped, the text is stored decompressed)."""
    root, rel = key.split(":", 1)
    return f"{root}/{rel[:-3] if rel.endswith('.gz') else rel}"


def materialise(dest: Path, chars: int, keys: list[str] | None = None) -> dict[str, Path]:
    """Copy the first `chars` characters of each judged file under dest (so the real model indexes the
    set in minutes on a CPU). HTML is cut at a tag boundary so the extractor still sees markup."""
    files = corpus_files()
    out = {}
    for key in keys if keys is not None else list(files):
        if key not in files:
            continue
        text = _read(files[key])
        if len(text) > chars:
            cut = text.rfind("<", 0, chars) if files[key].suffix == ".html" else chars
            text = text[: cut if cut > chars // 2 else chars]
        target = dest / copy_name(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:  # keep a cached index valid
            target.write_text(text, encoding="utf-8")
        out[key] = target
    return out


def summary(key: str, text: str) -> str | None:
    """The one-line summary a known-item query is made of: a module docstring's first sentence, an rst
    page's first paragraph line (CMake's synopsis). None when it is too short to identify anything."""
    line = None
    if key.endswith(".py"):
        try:
            doc = ast.get_docstring(ast.parse(text))
        except SyntaxError:
            doc = None
        if doc:
            line = " ".join(doc.strip().split("\n\n")[0].split())
    elif key.endswith(".rst"):
        paras = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
        for p in paras[1:4]:
            p = " ".join(p.split())
            if not p.startswith(("..", "::", "|")) and len(p.split()) >= 4:
                line = p
                break
    if not line:
        return None
    line = re.split(r"(?<=[.!?])\s", line)[0].strip()
    line = re.sub(r":\w+:`([^`<]*?)\s*(<[^>]*>)?`", r"\1", line)  # rst roles: keep their text
    line = re.sub(r"[`*:]+", "", line).rstrip(".")
    words = line.split()
    return " ".join(words[:16]) if len(words) >= 4 else None


def known_item_queries(files: dict[str, Path]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, path in files.items():
        if key.startswith("doc:"):
            continue
        s = summary(key, path.read_text(encoding="utf-8", errors="replace"))
        if s and s.lower() not in {q.lower() for q in out}:
            out[s] = [key]
    return out


def present(queries: dict[str, list[str]], files: dict[str, Path]) -> dict[str, list[str]]:
    """The queries whose judged files are all here: a judgement against an absent file is no judgement."""
    return {q: rel for q, rel in queries.items() if all(k in files for k in rel)}


def score(ranked: list[str], relevant: list[str], k: int = 10) -> tuple[float, float]:
    """(reciprocal rank of the first relevant file in the top k, nDCG@k with binary gains)."""
    rel = set(relevant)
    rr = next((1.0 / (i + 1) for i, key in enumerate(ranked[:k]) if key in rel), 0.0)
    dcg = sum(1.0 / math.log2(i + 2) for i, key in enumerate(ranked[:k]) if key in rel)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(rel))))
    return rr, (dcg / ideal if ideal else 0.0)


S, C, D = "stdlib:", "cmake:command/", "doc:"

# Natural-language questions as a user types them, with every file of the set judged to answer them.
QUESTIONS: dict[str, list[str]] = {
    # Python standard library
    "how do I run a shell command and capture its output": [S + "subprocess.py"],
    "how can I compress a file to make it smaller": [S + "gzip.py", S + "bz2.py", S + "lzma.py"],
    "how do I make an HTTP request to a web server": [S + "urllib/request.py", S + "http/client.py"],
    "how can I serve the files of a directory over http": [S + "http/server.py"],
    "how do I keep python objects on disk in something like a dictionary": [S + "shelve.py", S + "dbm/__init__.py"],
    "how do I log messages to a file with different severity levels": [S + "logging/__init__.py", S + "logging/handlers.py"],
    "how can I run a function in parallel on several CPU cores": [S + "concurrent/futures/process.py", S + "multiprocessing/pool.py"],
    "how do I write unit tests for my code": [S + "unittest/case.py", S + "doctest.py"],
    "how do I replace a real object with a fake one in a test": [S + "unittest/mock.py"],
    "how do I read a json file into a dict": [S + "json/__init__.py", S + "json/decoder.py"],
    "how do I turn a python dict into a json string": [S + "json/__init__.py", S + "json/encoder.py"],
    "how do I find all files whose names end in .txt": [S + "glob.py", S + "fnmatch.py", S + "pathlib.py"],
    "how do I find out which parts of my program are slow": [S + "cProfile.py", S + "profile.py", S + "pstats.py", S + "timeit.py"],
    "how do I parse an xml document": [S + "xml/dom/minidom.py", S + "xml/etree/ElementTree.py", S + "xml/sax/__init__.py"],
    "how do I send an email from a script": [S + "smtplib.py", S + "email/message.py"],
    "how can I print the stack trace of an exception": [S + "traceback.py"],
    "how do I step through my program line by line to find a bug": [S + "pdb.py", S + "bdb.py"],
    "how do I copy a whole folder with everything in it": [S + "shutil.py"],
    "where can I put scratch data that gets cleaned up automatically": [S + "tempfile.py"],
    "how do I make a small class that just holds a few fields": [S + "dataclasses.py", S + "collections/__init__.py"],
    "how can I remember the results of an expensive function call": [S + "functools.py"],
    "how do I read the options a user passed to my script": [S + "argparse.py", S + "getopt.py", S + "optparse.py"],
    "how do I wait for data on many sockets at the same time": [S + "selectors.py"],
    "how do I start a background thread and protect shared data with a lock": [S + "threading.py"],
    "how do I write asynchronous code with coroutines": [S + "asyncio/events.py", S + "asyncio/base_events.py", S + "asyncio/tasks.py"],
    "how can I save an object to a byte string and load it back later": [S + "pickle.py", S + "copyreg.py", S + "shelve.py"],
    "how do I tell which operating system my code is running on": [S + "platform.py"],
    "what is a safe way to create a random password": [S + "secrets.py"],
    "how do I read settings from an ini file": [S + "configparser.py"],
    "how do I show what changed between two versions of a text": [S + "difflib.py"],
    "how can I check whether two directories contain the same files": [S + "filecmp.py"],
    "how do I compute with money amounts without floating point rounding errors": [S + "_pydecimal.py", S + "fractions.py"],
    "how do I download a file from the internet": [S + "urllib/request.py"],
    "how do I split a web address into its parts": [S + "urllib/parse.py"],
    "how do I read a spreadsheet exported as comma separated values": [S + "csv.py"],
    "how do I make a simple desktop window with buttons": [S + "tkinter/__init__.py"],
    "how do I break long lines of text so they fit in a terminal": [S + "textwrap.py"],
    "what kind of file is this, based on its name": [S + "mimetypes.py"],
    "how do I unpack a .tar.gz archive": [S + "tarfile.py"],
    "what is the difference between a shallow and a deep copy": [S + "copy.py"],
    "how can I print a nested data structure so that it is readable": [S + "pprint.py", S + "reprlib.py"],
    "how do I run something at a certain time later": [S + "sched.py"],
    "how can I analyse python source code as a tree": [S + "ast.py", S + "symtable.py", S + "tokenize.py"],
    "how do I find out what arguments a function takes": [S + "inspect.py"],
    "how do I talk to another computer over the network": [S + "socket.py", S + "socketserver.py"],
    "how do I define a set of named constants": [S + "enum.py"],
    "how do I check if an ip address belongs to a subnet": [S + "ipaddress.py"],
    "what is the best way to work with file paths": [S + "pathlib.py", S + "posixpath.py", S + "os.py"],
    "how do I sort a list of items by priority and always get the smallest one": [S + "heapq.py", S + "queue.py"],
    "how do I verify that a message was not tampered with using a shared key": [S + "hmac.py"],
    "how do I turn a date string into a datetime object": [S + "_strptime.py", S + "datetime.py"],
    "how can I translate my program's messages into other languages": [S + "gettext.py", S + "locale.py"],
    "how do I store data in a small database file": [S + "sqlite3/__init__.py", S + "dbm/__init__.py", S + "shelve.py"],
    "how do I find out how much memory my program allocates": [S + "tracemalloc.py"],
    "how can I open a web page in the user's browser": [S + "webbrowser.py"],
    # CMake reference pages
    "how do I link my executable against a library": [C + "target_link_libraries.rst", C + "link_libraries.rst"],
    "how do I find a library that is installed on the system": [C + "find_library.rst", C + "find_package.rst"],
    "how can I run an external program while the project is being configured": [C + "execute_process.rst", C + "exec_program.rst"],
    "how do I add a build step that generates a source file": [C + "add_custom_command.rst"],
    "how do I loop over a list of items": [C + "foreach.rst", C + "while.rst"],
    "how do I print a warning or stop with an error during configuration": [C + "message.rst"],
    "how do I fill in a template file with variable values": [C + "configure_file.rst"],
    "how do I say which cmake version my project needs": [C + "cmake_minimum_required.rst"],
    "how do I write my own reusable command with arguments": [C + "function.rst", C + "macro.rst"],
    "how do I parse keyword arguments passed to my function": [C + "cmake_parse_arguments.rst"],
    "how do I add header search paths for one target": [C + "target_include_directories.rst", C + "include_directories.rst"],
    "how do I pass preprocessor defines to the compiler": [C + "target_compile_definitions.rst", C + "add_compile_definitions.rst", C + "add_definitions.rst"],
    "how do I turn on extra compiler warning flags": [C + "target_compile_options.rst", C + "add_compile_options.rst"],
    "how do I register tests so they can be run": [C + "add_test.rst", C + "enable_testing.rst"],
    "how do I install the built programs and headers": [C + "install.rst"],
    "how can I check whether a piece of code compiles on this platform": [C + "try_compile.rst", C + "try_run.rst"],
    "how do I do arithmetic on numbers in a build script": [C + "math.rst"],
    "how do I replace text or match a regular expression in a string": [C + "string.rst"],
    "how do I read or write files and glob for sources": [C + "file.rst"],
    "how do I get the directory part or the extension of a path": [C + "get_filename_component.rst", C + "cmake_path.rst"],
    "how do I give users an on/off switch for a feature": [C + "option.rst"],
    "how do I build a sub folder that has its own build file": [C + "add_subdirectory.rst", C + "subdirs.rst"],
    "how do I make sure one target is built before another one": [C + "add_dependencies.rst"],
    "how do I change the output name or other properties of a target": [C + "set_target_properties.rst", C + "set_property.rst"],
    "how do I read a property of a target": [C + "get_target_property.rst", C + "get_property.rst"],
    "how do I send my test results to a dashboard server": [C + "ctest_submit.rst", C + "ctest_upload.rst"],
    "how do I collect code coverage in a test script": [C + "ctest_coverage.rst"],
    "how do I check my tests for memory leaks": [C + "ctest_memcheck.rst"],
    "how do I find out the number of cpu cores or the memory of the build machine": [C + "cmake_host_system_information.rst"],
    "how do I group source files into folders in an IDE": [C + "source_group.rst"],
    "how do I leave a function early": [C + "return.rst"],
    "how do I jump to the next iteration of a loop": [C + "continue.rst"],
    "how do I get rid of a variable": [C + "unset.rst"],
    "how do I run some commands only when a condition holds": [C + "if.rst", C + "elseif.rst", C + "else.rst"],
    "how can I precompile headers to make builds faster": [C + "target_precompile_headers.rst"],
    "how do I require a c++ language standard feature for a target": [C + "target_compile_features.rst"],
    "how do I split a command line string into separate arguments": [C + "separate_arguments.rst"],
    "how do I sort a list or remove duplicates from it": [C + "list.rst"],
    "how do I find out when a variable is read or changed": [C + "variable_watch.rst"],
    "how do I set the name, version and languages of my project": [C + "project.rst", C + "enable_language.rst"],
    "how do I stop a file from being included twice": [C + "include_guard.rst"],
    "how do I let other projects import my targets": [C + "export.rst", C + "install.rst"],
    "how do I set a variable or a cache entry": [C + "set.rst"],
    # package documentation in /usr/share/doc
    "how do triggers between packages work in dpkg": [D + "dpkg/spec/triggers.txt"],
    "can packages be built without being root": [D + "dpkg/spec/rootless-builds.txt"],
    "how do I call a C function when I only know its signature at run time": [D + "libffi8/html/Introduction.html", D + "libffi8/html/The-Basics.html", D + "libffi8/html/Using-libffi.html", D + "libffi8/html/Simple-Example.html"],
    "how do I describe a C struct to libffi": [D + "libffi8/html/Structures.html", D + "libffi8/html/Type-Example.html"],
    "how do I create a function pointer that calls my own handler": [D + "libffi8/html/The-Closure-API.html", D + "libffi8/html/Closure-Example.html"],
    "which system users and groups does Debian create and what are they for": [D + "base-passwd/users-and-groups.html", D + "base-passwd/README", D + "systemd/UIDS-GIDS.md.gz"],
    "where do I report a problem with ps or top": [D + "procps/bugs.md"],
    "how do I use inflate and deflate from a C program": [D + "zlib1g-dev/examples/zlib_how.html"],
    "where should a debian package install its python modules": [D + "python3/python-policy.html"],
    "how do I set the default sound card": [D + "libasound2/examples/asoundrc.txt"],
    "how do I transform an xml file with a stylesheet from the command line": [D + "libxslt1-dev/html/xsltproc.html", D + "libxslt1-dev/html/tutorial/libxslttutorial.html"],
}
