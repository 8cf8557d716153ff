"""A dirty run's code diff, kept once per distinct diff: ``code/<sha256>.diff`` at the store's root.

A run names its diff by the tag ``gitrun.git.diff.sha256``; a sweep's runs in one dirty tree share
one file instead of a copy each. Runs of earlier releases have their own ``<run>/code.diff``, still
read. :func:`run_diff_path` is how every reader finds a run's diff (docs/format.md, "code.diff").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from gitrun.store import textio
from gitrun.tags import CODE_DIFF_SHA256

CODE_DIR = "code"  # at the store's root
RUN_FILE = "code.diff"  # a run's own copy (runs of earlier releases)
_DIGEST = re.compile(r"[0-9a-f]{64}")

_kept: set[Path] = set()  # shared files this process wrote or found


@lru_cache(maxsize=8)
def digest(diff: bytes) -> str:
    """The name of a diff in ``code/``: its SHA-256 (once per diff object: a process shares one)."""
    return hashlib.sha256(diff).hexdigest()


def shared_path(root: Path, name: str) -> Path:
    return root / CODE_DIR / f"{name}.diff"


def keep(root: Path, diff: bytes) -> str:
    """Make sure the store at ``root`` holds ``diff`` as ``code/<sha256>.diff``; returns the SHA-256."""
    name = digest(diff)
    path = shared_path(root, name)
    if path not in _kept:
        if not path.exists():
            textio.make_dirs(path.parent)
            textio.create_with_content(path, diff)  # whole or not at all; a racing process's copy is the same
        _kept.add(path)
    return name


def shared_name(tags: Mapping[str, str]) -> str | None:
    """The SHA-256 a run's tags name for its diff (None without one, or for a value that is not one)."""
    value = tags.get(CODE_DIFF_SHA256, "")
    return value if _DIGEST.fullmatch(value) else None


def run_diff_path(root: Path, run_dir: Path, tags: Mapping[str, str]) -> Path | None:
    """The file holding a run's code diff: the store's shared one its tag names, else its own
    ``code.diff`` (runs of earlier releases); None when it has neither."""
    name = shared_name(tags)
    if name is not None:
        path = shared_path(root, name)
        if path.is_file():
            return path
    own = run_dir / RUN_FILE
    return own if own.is_file() else None
