"""DVC's ``.dvc`` pointer files as the store reads them: the few fields gitrun needs, by line, with no
YAML parse and no DVC import (a pointer stands for a big file or folder whose content is in DVC)."""

from __future__ import annotations

import re
from pathlib import Path

SIZE_LINE = re.compile(r"^\s*size:\s*(\d+)\s*$", re.M)
MD5_LINE = re.compile(r"^[\s-]*md5:\s*([0-9a-f]{32})\s*$", re.M)


def pointer_is_dir(dvc_file: Path) -> bool:
    """True when the pointer tracks a directory (DVC records ``nfiles`` and a ``.dir`` hash)."""
    try:
        return "nfiles:" in dvc_file.read_text(encoding="utf-8")
    except OSError:
        return False


def pointer_size(dvc_file: Path) -> int | None:
    """The ``size`` a ``.dvc`` pointer records (no YAML parse needed for this one field)."""
    try:
        match = SIZE_LINE.search(dvc_file.read_text(encoding="utf-8"))
    except OSError:
        return None
    return int(match.group(1)) if match else None
