"""Deterministic text encodings and crash-safe writes shared by the store's writer and reader.

Rules (docs/format.md): JSON with sorted keys and two-space indent; floats as Python's shortest
round-trip ``repr``; non-finite numbers as the strings ``"NaN"``, ``"Infinity"``,
``"-Infinity"`` in JSON (strict JSON has no literal for them) and as ``nan``, ``inf``, ``-inf``
in metric series; whole-file writes go to a temp file that is renamed over the target.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from pathlib import Path
from typing import Any

NONFINITE_TO_JSON = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
JSON_TO_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def format_float(value: float) -> str:
    """Shortest text that reads back as exactly ``value`` (``nan``, ``inf``, ``-inf`` included)."""
    return repr(float(value))


def parse_float(text: str) -> float:
    """Inverse of :func:`format_float`; also accepts the JSON spellings of non-finite values."""
    if text in JSON_TO_NONFINITE:
        return JSON_TO_NONFINITE[text]
    return float(text)


def json_number(value: float) -> float | str:
    """A float as strict JSON allows it: non-finite values become strings."""
    if math.isfinite(value):
        return value
    return NONFINITE_TO_JSON[repr(value)]


def from_json_number(value: Any) -> float:
    if isinstance(value, str):
        return parse_float(value)
    return float(value)


def dumps(obj: Any) -> str:
    """Canonical JSON: sorted keys, 2-space indent, UTF-8 kept, trailing newline."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# Every temp file gitrun writes in a store starts with this prefix, a name reserved for it: the
# store's .gitignore ignores exactly these names, and no key or artifact path may use it.
TEMP_PREFIX = ".gitrun-tmp."


def temp_path(path: Path, suffix: str = ".tmp") -> Path:
    """A fresh temp file name beside ``path`` (``suffix``: e.g. ``.tmp.png`` for writers that need the type)."""
    # The name is cut short: a 250-character key plus pid and random part would exceed NAME_MAX (255 bytes).
    return path.with_name(f"{TEMP_PREFIX}{path.name[:40]}.{os.getpid()}.{secrets.token_hex(4)}{suffix[:16]}")


def atomic_write(path: Path, text: str | bytes) -> None:
    """Write a whole file so readers see the old content or the new one, never a mix."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_with_content(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text`` unless it exists, atomically; True when this call created it.

    A hard link of a complete temp file either appears whole or fails with EEXIST, so two
    processes racing to create a series file never produce a half-written header.
    """
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:
        # File systems without hard links: fall back to an exclusive create.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
        return True
    finally:
        tmp.unlink(missing_ok=True)
