"""A second, larger labelled set of real files for organising (no man pages): 10 groups, ~320 files.

Groups, chosen so that several of them share a document type and differ only by topic (as the
held-out man pages do: system calls vs OpenSSL vs file formats vs admin commands):
- AWS CLI command examples (reStructuredText shipped with awscli) of four services: EC2 (virtual
  machines), IAM (users and permissions), RDS (managed databases), KMS (encryption keys);
- Python standard-library packages: idlelib (the IDLE editor), distutils (building and installing
  packages), multiprocessing + concurrent.futures (processes and parallelism);
- Debian copyright files and Debian changelogs (/usr/share/doc);
- CMake find-modules (/usr/share/cmake-*/Modules/Find*.cmake).

`build(folder, flat=True)` copies the files (decompressed) into ONE folder under neutral names
(`NNN.txt`, shuffled), so neither folders, names nor extensions give the group away; `flat=False`
keeps a shallow tree of the files' own parent folder names and file names (`ec2/describe-vpcs.rst`,
`idlelib/editor.py`, `bash/copyright`), the way a user's downloads look, for measuring name cues.
Files are picked by a hash of their path (stable when packages are added), PER_GROUP at most.
"""

from __future__ import annotations

import gzip
import sysconfig
from pathlib import Path

from .organize_corpus import _spread, copy_shuffled

PER_GROUP = 32
MIN_BYTES = 1200
MIN_FILES = 12               # a group with fewer files on this machine is left out

STDLIB = Path(sysconfig.get_paths()["stdlib"])
AWS = STDLIB / "site-packages" / "awscli" / "examples"

# Label names and descriptions a user could write for each group (for zero-shot classification).
DESCRIPTIONS = {
    "aws-ec2": "Amazon EC2 command examples: virtual machine instances, AMIs, VPC networks, subnets, "
               "security groups and volumes",
    "aws-iam": "AWS IAM command examples: users, groups, roles, access keys and permission policies",
    "aws-rds": "Amazon RDS command examples: managed relational database instances, DB clusters, "
               "snapshots and parameter groups",
    "aws-kms": "AWS KMS command examples: encryption keys, key aliases, grants, encrypting and "
               "decrypting data",
    "idle": "Python source of the IDLE editor: windows, menus, text editing, syntax colouring and the shell",
    "distutils": "Python source for building, packaging and installing modules: compilers, setup "
                 "commands and distributions",
    "multiprocessing": "Python source for running work in parallel processes: process pools, queues, "
                       "locks, shared memory and futures",
    "copyright": "software licence and copyright notices of a Debian package",
    "changelog": "Debian package changelog listing versions, uploads and fixed bugs",
    "cmake": "CMake find-module scripts that locate libraries, headers and programs for a build",
}


def _big(files) -> list[Path]:
    return sorted(p for p in files if p.is_file() and p.stat().st_size >= MIN_BYTES)


def _python(*packages: str) -> list[Path]:
    return _big(p for pkg in packages for p in (STDLIB / pkg).rglob("*.py")
                if "test" not in p.relative_to(STDLIB).as_posix() and "idle_test" not in p.parts)


def _gzipped(pattern: str, root: Path = Path("/usr/share/doc")) -> list[Path]:
    """Gzipped files matching `pattern` under `root` that are at least MIN_BYTES once decompressed."""
    out = []
    for p in sorted(root.glob(pattern)):
        try:
            if len(gzip.decompress(p.read_bytes())) >= MIN_BYTES:
                out.append(p)
        except OSError:
            continue
    return out


def sources() -> dict[str, list[Path]]:
    """Group name -> original files (groups with at least MIN_FILES files on this machine)."""
    groups = {
        "aws-ec2": _big(AWS.glob("ec2/*.rst")),
        "aws-iam": _big(AWS.glob("iam/*.rst")),
        "aws-rds": _big(AWS.glob("rds/*.rst")),
        "aws-kms": _big(AWS.glob("kms/*.rst")),
        "idle": _python("idlelib"),
        "distutils": _python("distutils"),
        "multiprocessing": _python("multiprocessing", "concurrent"),
        "copyright": _big(Path("/usr/share/doc").glob("*/copyright")),
        "changelog": _gzipped("*/changelog.Debian.gz"),
        "cmake": _big(Path("/usr/share").glob("cmake*/Modules/Find*.cmake")),
    }
    return {g: _spread(files, PER_GROUP) for g, files in groups.items() if len(files) >= MIN_FILES}


def build(folder: Path, flat: bool = True, seed: int = 0) -> dict[Path, str]:
    """Copy the set into `folder` (see the module docstring); return copied path -> true group."""
    def name(i: int, group: str, src: Path) -> Path:
        return folder / f"{i:03d}.txt" if flat else folder / src.parent.name / src.name.removesuffix(".gz")

    return copy_shuffled(sources(), name, seed)
