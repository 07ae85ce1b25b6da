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
import zlib
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

# Descriptions of what is wanted, as people type them into a search box: imperative or noun phrases,
# no question word and no "?" (written by hand from the files; 1-4 relevant files each).
DESCRIPTIONS: dict[str, list[str]] = {
    # Python standard library
    "run an external program and grab its printed output": [S + "subprocess.py"],
    "shrink files with a compression algorithm": [S + "gzip.py", S + "bz2.py", S + "lzma.py"],
    "fetching a web page from its address": [S + "urllib/request.py", S + "http/client.py"],
    "tiny web server for a folder of files": [S + "http/server.py"],
    "persistent dictionary kept on disk": [S + "shelve.py", S + "dbm/__init__.py"],
    "write diagnostic messages to a log file that rotates": [S + "logging/handlers.py", S + "logging/__init__.py"],
    "spread work over several processes on all cores": [S + "multiprocessing/pool.py", S + "concurrent/futures/process.py"],
    "framework for unit tests with assertions": [S + "unittest/case.py"],
    "fake objects and patching for tests": [S + "unittest/mock.py"],
    "load structured data from a JSON document": [S + "json/__init__.py", S + "json/decoder.py"],
    "wildcard matching of file names like *.txt": [S + "fnmatch.py", S + "glob.py"],
    "timing small snippets of code": [S + "timeit.py"],
    "profile of a program showing time spent per function": [S + "cProfile.py", S + "profile.py", S + "pstats.py"],
    "turn XML markup into a tree of elements": [S + "xml/etree/ElementTree.py", S + "xml/dom/minidom.py"],
    "sending mail through an outgoing mail server": [S + "smtplib.py"],
    "print the call stack after an error": [S + "traceback.py"],
    "interactive debugger with breakpoints": [S + "pdb.py", S + "bdb.py"],
    "recursively copy or remove a directory tree": [S + "shutil.py"],
    "scratch files and folders that disappear afterwards": [S + "tempfile.py"],
    "classes that are just records with typed fields": [S + "dataclasses.py"],
    "cache the results of a slow function": [S + "functools.py"],
    "flags and options on the command line of a script": [S + "argparse.py", S + "optparse.py", S + "getopt.py"],
    "wait until any of several sockets is ready": [S + "selectors.py"],
    "locks, events and worker threads": [S + "threading.py"],
    "event loop running coroutines and async tasks": [S + "asyncio/events.py", S + "asyncio/base_events.py", S + "asyncio/tasks.py"],
    "serialize python objects to bytes and restore them": [S + "pickle.py"],
    "details about the operating system and machine the script runs on": [S + "platform.py"],
    "unguessable tokens for passwords and reset links": [S + "secrets.py"],
    "read an ini style configuration file": [S + "configparser.py"],
    "compare two texts and show the differing lines": [S + "difflib.py"],
    "compare the contents of two folders": [S + "filecmp.py"],
    "exact decimal arithmetic for currency": [S + "_pydecimal.py"],
    "split a link into scheme, host and path": [S + "urllib/parse.py"],
    "reading and writing comma separated spreadsheets": [S + "csv.py"],
    "toolkit for windows and buttons on the desktop": [S + "tkinter/__init__.py"],
    "wrap long paragraphs to a fixed width": [S + "textwrap.py"],
    "guess the content type from a file extension": [S + "mimetypes.py"],
    "extract a tarball": [S + "tarfile.py"],
    "duplicate a nested object including everything inside it": [S + "copy.py"],
    "print nested lists and dicts in a readable layout": [S + "pprint.py"],
    "queue of jobs to run after a delay": [S + "sched.py"],
    "walk the syntax tree of python code": [S + "ast.py"],
    "look at a function's parameters and source while the program runs": [S + "inspect.py"],
    "low level network connections": [S + "socket.py"],
    "named constants grouped in a class": [S + "enum.py"],
    "networks, netmasks and addresses for IPv4 and IPv6": [S + "ipaddress.py"],
    "filesystem paths as objects": [S + "pathlib.py"],
    "collection that always hands out its smallest item first": [S + "heapq.py", S + "queue.py"],
    "sign a message with a secret key to detect tampering": [S + "hmac.py"],
    "turn date text into datetime values with a format": [S + "_strptime.py", S + "datetime.py"],
    "show a program's messages in the user's language": [S + "gettext.py"],
    "lightweight SQL database stored in a single file": [S + "sqlite3/__init__.py"],
    "track memory allocations to find a leak": [S + "tracemalloc.py"],
    "open a link in the default browser": [S + "webbrowser.py"],
    "fingerprint of a file such as sha256": [S + "hashlib.py"],
    "encode binary data as printable text for mail": [S + "base64.py", S + "quopri.py"],
    "random numbers and shuffling a list": [S + "random.py"],
    "average, median and spread of a list of numbers": [S + "statistics.py"],
    "reading and writing zip archives": [S + "zipfile.py"],
    "unique identifiers for records": [S + "uuid.py"],
    "quote and split command lines the way a shell does": [S + "shlex.py"],
    "run a module as if it were a script": [S + "runpy.py"],
    "silence deprecation notices or turn them into errors": [S + "warnings.py"],
    "references to objects that do not keep them alive": [S + "weakref.py"],
    "fetch mail from a POP3 or IMAP mailbox": [S + "poplib.py", S + "imaplib.py"],
    "calendar printed for a month or a year": [S + "calendar.py"],
    "keep a list in order while inserting into it": [S + "bisect.py"],
    "record the lines that ran and count them": [S + "trace.py"],
    "colour conversion between RGB and HSV": [S + "colorsys.py"],
    "put tasks in an order that respects their dependencies": [S + "graphlib.py"],
    "read audio samples from a WAV file": [S + "wave.py"],
    "permission bits and file type from a stat result": [S + "stat.py"],
    # CMake reference pages
    "link a program with a library": [C + "target_link_libraries.rst", C + "link_libraries.rst"],
    "locate an installed package and load its settings": [C + "find_package.rst"],
    "run a process while configuring and keep its output": [C + "execute_process.rst", C + "exec_program.rst"],
    "custom build rule that produces a generated file": [C + "add_custom_command.rst"],
    "iterate over the items of a list in a build script": [C + "foreach.rst"],
    "status message, or abort the configuration with an error": [C + "message.rst"],
    "substitute variables into a template file": [C + "configure_file.rst"],
    "oldest cmake release the project still supports": [C + "cmake_minimum_required.rst"],
    "user defined commands with named arguments": [C + "cmake_parse_arguments.rst", C + "function.rst", C + "macro.rst"],
    "header search directories for a single target": [C + "target_include_directories.rst"],
    "extra compiler flags for one target": [C + "target_compile_options.rst", C + "add_compile_options.rst"],
    "register a test so that ctest runs it": [C + "add_test.rst"],
    "install rules for binaries, libraries and headers": [C + "install.rst"],
    "check that a small piece of code compiles": [C + "try_compile.rst"],
    "regular expression replace, upper case and substrings in a build script": [C + "string.rst"],
    "glob the sources and write text to a file at configure time": [C + "file.rst"],
    "on/off cache setting the user can toggle": [C + "option.rst"],
    "build another folder that has its own CMakeLists": [C + "add_subdirectory.rst"],
    "order between two targets in the build": [C + "add_dependencies.rst"],
    "upload test results to a dashboard": [C + "ctest_submit.rst", C + "ctest_upload.rst"],
    "memory checking of the tests with valgrind": [C + "ctest_memcheck.rst"],
    "precompiled headers to speed up a target": [C + "target_precompile_headers.rst"],
    "make a static or shared library from sources": [C + "add_library.rst"],
    "turn source files into a program target": [C + "add_executable.rst"],
    "target that always runs a command and produces no file": [C + "add_custom_target.rst"],
    "find a tool on the PATH for the build": [C + "find_program.rst"],
    "locate the directory that holds a header": [C + "find_path.rst"],
    # package documentation in /usr/share/doc
    "reporting bugs in ps, top and free": [D + "procps/bugs.md"],
    "packages that build without fakeroot": [D + "dpkg/spec/rootless-builds.txt"],
    "packages reacting to files installed by other packages": [D + "dpkg/spec/triggers.txt"],
    "calling C functions with a signature only known at run time": [D + "libffi8/html/Introduction.html", D + "libffi8/html/The-Basics.html", D + "libffi8/html/Using-libffi.html", D + "libffi8/html/Simple-Example.html"],
    "function pointers that land in your own handler": [D + "libffi8/html/The-Closure-API.html", D + "libffi8/html/Closure-Example.html"],
    "system accounts and groups on Debian and their purpose": [D + "base-passwd/users-and-groups.html", D + "base-passwd/README", D + "systemd/UIDS-GIDS.md.gz"],
    "walkthrough of compressing a stream with zlib": [D + "zlib1g-dev/examples/zlib_how.html"],
    "rules for packaging python modules in Debian": [D + "python3/python-policy.html"],
    "choose the default sound card": [D + "libasound2/examples/asoundrc.txt"],
    "apply a stylesheet to XML from the shell": [D + "libxslt1-dev/html/xsltproc.html", D + "libxslt1-dev/html/tutorial/libxslttutorial.html"],
    "query YAML files like jq does for JSON": [D + "yq/cli-doc.txt"],
    "adapt systemd to another distribution": [D + "systemd/DISTRO_PORTING.md"],
    "translating the messages of systemd": [D + "systemd/TRANSLATORS.md"],
    "environment variables systemd understands": [D + "systemd/ENVIRONMENT.md.gz"],
    "style rules for systemd contributors": [D + "systemd/CODING_STYLE.md.gz"],
    "gpg-agent started by the user's service manager": [D + "gpg-agent/README.Debian"],
    "arithmetic on arbitrarily large numbers in C": [D + "libgmp-dev/README"],
    "easy to use cryptography library": [D + "libsodium23/README.markdown"],
    "http client for python with caching and keep-alive": [D + "python3-httplib2/README.md"],
    "YAML parser and emitter for python": [D + "python3-yaml/README.md"],
}

# Known-item lookups written by hand: the one file a person half remembers by its name, a class or
# function in it, or its title (one relevant file each).
LOOKUPS: dict[str, list[str]] = {
    # Python standard library
    "shutil copytree rmtree": [S + "shutil.py"],
    "subprocess Popen communicate": [S + "subprocess.py"],
    "JSONEncoder class": [S + "json/encoder.py"],
    "argparse ArgumentParser add_argument": [S + "argparse.py"],
    "TarFile class for tar archives": [S + "tarfile.py"],
    "ZipFile class": [S + "zipfile.py"],
    "ElementTree XML API": [S + "xml/etree/ElementTree.py"],
    "minidom lightweight DOM": [S + "xml/dom/minidom.py"],
    "difflib SequenceMatcher": [S + "difflib.py"],
    "lru_cache partial reduce": [S + "functools.py"],
    "namedtuple deque Counter OrderedDict": [S + "collections/__init__.py"],
    "dataclass decorator with field()": [S + "dataclasses.py"],
    "IntEnum and Flag": [S + "enum.py"],
    "RotatingFileHandler": [S + "logging/handlers.py"],
    "getLogger basicConfig": [S + "logging/__init__.py"],
    "unittest TestCase assertEqual": [S + "unittest/case.py"],
    "MagicMock patch": [S + "unittest/mock.py"],
    "the python debugger pdb": [S + "pdb.py"],
    "generic debugger base class": [S + "bdb.py"],
    "pstats Stats sort_stats": [S + "pstats.py"],
    "NamedTemporaryFile mkstemp": [S + "tempfile.py"],
    "PurePath and Path classes": [S + "pathlib.py"],
    "urlsplit urljoin quote": [S + "urllib/parse.py"],
    "urlopen Request opener": [S + "urllib/request.py"],
    "robots.txt parser": [S + "urllib/robotparser.py"],
    "HTTPConnection HTTPResponse": [S + "http/client.py"],
    "SimpleHTTPRequestHandler": [S + "http/server.py"],
    "SimpleCookie Morsel": [S + "http/cookies.py"],
    "HTMLParser class for tags": [S + "html/parser.py"],
    "SMTP client class sendmail": [S + "smtplib.py"],
    "IMAP4 client": [S + "imaplib.py"],
    "FTP client class": [S + "ftplib.py"],
    "EmailMessage class": [S + "email/message.py"],
    "formataddr parsedate_to_datetime": [S + "email/utils.py"],
    "mbox and Maildir mailboxes": [S + "mailbox.py"],
    "guess_type for file names": [S + "mimetypes.py"],
    "b64encode b64decode": [S + "base64.py"],
    "quoted-printable encoding": [S + "quopri.py"],
    "hmac keyed hashing for message authentication": [S + "hmac.py"],
    "token_hex token_urlsafe": [S + "secrets.py"],
    "Mersenne Twister random generator": [S + "random.py"],
    "Fraction rational numbers": [S + "fractions.py"],
    "Number Complex Real Rational Integral ABCs": [S + "numbers.py"],
    "ABCMeta abstractmethod": [S + "abc.py"],
    "deepcopy": [S + "copy.py"],
    "Pickler Unpickler": [S + "pickle.py"],
    "pickle disassembler": [S + "pickletools.py"],
    "sqlite3 DB-API interface": [S + "sqlite3/__init__.py"],
    "csv DictReader DictWriter": [S + "csv.py"],
    "ConfigParser sections": [S + "configparser.py"],
    "TOML parser": [S + "tomllib/_parser.py"],
    "netrc file parsing": [S + "netrc.py"],
    "Apple property list files": [S + "plistlib.py"],
    "timedelta tzinfo": [S + "datetime.py"],
    "scheduler class sched": [S + "sched.py"],
    "Thread Lock Condition Semaphore": [S + "threading.py"],
    "ThreadPoolExecutor": [S + "concurrent/futures/thread.py"],
    "ProcessPoolExecutor": [S + "concurrent/futures/process.py"],
    "DefaultSelector register": [S + "selectors.py"],
    "TCPServer ThreadingMixIn": [S + "socketserver.py"],
    "SSLContext wrap_socket": [S + "ssl.py"],
    "NodeVisitor literal_eval": [S + "ast.py"],
    "bytecode disassembler": [S + "dis.py"],
    "getmembers signature getsource": [S + "inspect.py"],
    "TopologicalSorter": [S + "graphlib.py"],
    "contextmanager decorator and ExitStack": [S + "contextlib.py"],
    "itemgetter attrgetter": [S + "operator.py"],
    "PrettyPrinter": [S + "pprint.py"],
    "dircmp class": [S + "filecmp.py"],
    "line-oriented command interpreter framework": [S + "cmd.py"],
    "site-specific configuration hook": [S + "site.py"],
    "uuid4 uuid1": [S + "uuid.py"],
    "WeakValueDictionary finalize": [S + "weakref.py"],
    "TypeVar Generic Protocol": [S + "typing.py"],
    # CMake reference pages
    "target_link_libraries": [C + "target_link_libraries.rst"],
    "add_custom_command OUTPUT DEPENDS": [C + "add_custom_command.rst"],
    "execute_process OUTPUT_VARIABLE": [C + "execute_process.rst"],
    "configure_file @ONLY": [C + "configure_file.rst"],
    "get_filename_component NAME_WE": [C + "get_filename_component.rst"],
    "cmake_host_system_information NUMBER_OF_LOGICAL_CORES": [C + "cmake_host_system_information.rst"],
    "include_guard GLOBAL": [C + "include_guard.rst"],
    "separate_arguments UNIX_COMMAND": [C + "separate_arguments.rst"],
    "target_compile_features cxx_std_17": [C + "target_compile_features.rst"],
    "set_target_properties": [C + "set_target_properties.rst"],
    "source_group TREE": [C + "source_group.rst"],
    "aux_source_directory": [C + "aux_source_directory.rst"],
    "mark_as_advanced": [C + "mark_as_advanced.rst"],
    "load_cache from another build tree": [C + "load_cache.rst"],
    "qt_wrap_cpp moc": [C + "qt_wrap_cpp.rst"],
    "cmake_policy PUSH POP": [C + "cmake_policy.rst"],
    "cmake_language DEFER CALL": [C + "cmake_language.rst"],
    "ctest_start dashboard model": [C + "ctest_start.rst"],
    "create_test_sourcelist": [C + "create_test_sourcelist.rst"],
    "include_external_msproject": [C + "include_external_msproject.rst"],
    "math EXPR": [C + "math.rst"],
    "list APPEND REMOVE_DUPLICATES": [C + "list.rst"],
    # package documentation in /usr/share/doc
    "procps BUG REPORTS": [D + "procps/bugs.md"],
    "Rules-Requires-Root field spec": [D + "dpkg/spec/rootless-builds.txt"],
    "Protected field proposal": [D + "dpkg/spec/protected-field.txt"],
    "base-passwd users and groups": [D + "base-passwd/users-and-groups.html"],
    "ffi_closure_alloc": [D + "libffi8/html/The-Closure-API.html"],
    "libffi Missing Features": [D + "libffi8/html/Missing-Features.html"],
    "libffi thread safety": [D + "libffi8/html/Thread-Safety.html"],
    "zlib usage example zpipe.c": [D + "zlib1g-dev/examples/zlib_how.html"],
    "Debian Python Policy": [D + "python3/python-policy.html"],
    "Porting systemd To New Distributions": [D + "systemd/DISTRO_PORTING.md"],
    "GLib low-level core library": [D + "libglib2.0-0/README.md"],
    "GNU MP library README": [D + "libgmp-dev/README"],
    "gpg-agent system integration": [D + "gpg-agent/README.Debian"],
    "Zstandard CI testing short medium long": [D + "zstd/TESTING.md"],
    "libsodium": [D + "libsodium23/README.markdown"],
    "PyYAML README": [D + "python3-yaml/README.md"],
    "xsltproc command line tool": [D + "libxslt1-dev/html/xsltproc.html"],
    "systemd UIDs and GIDs": [D + "systemd/UIDS-GIDS.md.gz"],
}

KINDS = ("lookups", "questions", "descriptions")
SPLITS = ("dev", "validation")


def split_of(query: str) -> str:
    """A third of every kind is held out ("validation"): by a hash of the query's text, so adding a
    query never moves another one between the splits. No choice is tuned on it."""
    return "validation" if zlib.crc32(query.encode()) % 3 == 0 else "dev"


def query_sets(files: dict[str, Path]) -> dict[str, dict[str, list[str]]]:
    """kind -> {query: relevant keys}, the queries whose judged files are all here; "summaries" (each
    file's one-line summary, made by `known_item_queries`) comes along as a reference kind."""
    return {"lookups": present(LOOKUPS, files), "questions": present(QUESTIONS, files),
            "descriptions": present(DESCRIPTIONS, files), "summaries": known_item_queries(files)}
