"""A third labelled set of real files, for checking organising choices made on the other two (~180 files).

Never used to tune anything it measures first: it exists so that a change picked on
tests/organize_corpus.py and tests/organize_devset.py is also checked on files of other kinds. No man
pages, no Debian copyright files or changelogs, no AWS, CMake or the stdlib packages of the dev sets.
10 groups of uneven size (8 to 30 files), several pairs sharing a document type and differing by topic:
- upstream release notes (NEWS of packages in /usr/share/doc) and Debian-specific package notes
  (README.Debian);
- Perl modules of dpkg (Dpkg::*) and of debconf (Debconf::*), both Debian tooling in Perl;
- Python standard-library test suites of ctypes (Lib/ctypes/test) and of unittest (Lib/unittest/test);
- bash completion scripts, glibc locale definitions, PostgreSQL extension SQL scripts, and the licence
  texts in /usr/share/common-licenses.

`build(folder)` copies the files (decompressed) into ONE folder under neutral names (`NNN.txt`,
shuffled), like organize_devset.build(flat=True). Files are picked by a hash of their path.
"""

from __future__ import annotations

from pathlib import Path

from .organize_corpus import _spread, copy_shuffled
from .organize_devset import MIN_BYTES, MIN_FILES, STDLIB, _big, _gzipped

DOC = Path("/usr/share/doc")
PERL = Path("/usr/share/perl5")

# files per group (at most): uneven on purpose
SIZES = {"news": 30, "dpkg-perl": 26, "bash-completion": 24, "ctypes-tests": 20, "postgres-sql": 18,
         "readme-debian": 16, "unittest-tests": 14, "locales": 12, "debconf-perl": 10, "licenses": 8}

DESCRIPTIONS = {
    "news": "upstream release notes of a software package: what changed in each new version",
    "readme-debian": "Debian-specific notes for a package: how Debian configures, installs or changes it",
    "dpkg-perl": "Perl modules of dpkg, the Debian package manager: package versions, control files, "
                 "source packages and build flags",
    "debconf-perl": "Perl modules of debconf, the Debian configuration system: questions, templates, "
                    "frontends and the configuration database",
    "ctypes-tests": "Python unit tests of ctypes: calling C functions, C structures, pointers and arrays",
    "unittest-tests": "Python unit tests of the unittest framework itself: test cases, suites, runners, "
                      "loaders and mocks",
    "bash-completion": "bash shell scripts that complete command-line options and arguments",
    "locales": "glibc locale definition: language and country conventions for characters, dates, "
               "numbers and money",
    "postgres-sql": "SQL scripts of PostgreSQL extensions: CREATE FUNCTION, types, operators and indexes",
    "licenses": "full text of a free software licence such as the GPL, Apache or BSD licence",
}


def sources() -> dict[str, list[Path]]:
    """Group name -> original files (groups with at least MIN_FILES files on this machine)."""
    groups = {
        "news": _gzipped("*/NEWS.gz"),
        "readme-debian": _big(DOC.glob("*/README.Debian")),
        "dpkg-perl": _big(PERL.glob("Dpkg/**/*.pm")),
        "debconf-perl": _big(PERL.glob("Debconf/**/*.pm")),
        "ctypes-tests": _big((STDLIB / "ctypes" / "test").glob("test_*.py")),
        "unittest-tests": _big((STDLIB / "unittest" / "test").rglob("test_*.py")),
        "bash-completion": _big(Path("/usr/share/bash-completion/completions").glob("*")),
        "locales": _big(Path("/usr/share/i18n/locales").glob("[a-z][a-z]_[A-Z][A-Z]")),
        "postgres-sql": _big(Path("/usr/share/postgresql").glob("*/extension/*.sql")),
        "licenses": _big(Path("/usr/share/common-licenses").glob("*")),
    }
    return {g: _spread(files, SIZES[g]) for g, files in groups.items() if len(files) >= min(MIN_FILES, SIZES[g])}


def build(folder: Path, seed: int = 0) -> dict[Path, str]:
    """Copy the set into `folder` as NNN.txt (see the module docstring); return copied path -> true group."""
    return copy_shuffled(sources(), lambda i, group, src: folder / f"{i:03d}.txt", seed)


__all__ = ["DESCRIPTIONS", "MIN_BYTES", "build", "sources"]
