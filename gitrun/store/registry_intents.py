"""``registry.jsonl``: model registry calls a run made before it was committed (docs/format.md).

``log_model(registered_model_name=...)`` and ``register_model`` during training cannot tag a
commit that does not exist yet: they record the registration here, and later calls on the
pending version (aliases, stages, tags, descriptions) are recorded after it. ``gitrun commit``
carries them out, in order, on the commit it makes (``gitrun.registry.pending``).

One JSON object per line, appended by one ``write`` each (never rewritten): ``op`` (``register``,
``set_alias``, ``delete_alias``, ``transition``, ``set_version_tag``, ``delete_version_tag``,
``update_version``), ``name``, ``time`` (ms) and the call's arguments. A version is either a
number, or ``{"pending": N}``: the registration on line N (0-based) of this file. A torn last
line is skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitrun.store import textio

FILE = "registry.jsonl"


def append(run_dir: Path, record: Mapping[str, Any]) -> int:
    """Record one call; returns its line number (a registration's ``pending`` number)."""
    path = run_dir / FILE
    number = len(read(run_dir))
    data = (json.dumps(dict(record), sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            textio.write_all(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        raise textio.write_error(path, exc, "earlier lines are intact") from None
    return number


def read(run_dir: Path) -> list[dict[str, Any]]:
    """Every recorded call, in order; a line that does not parse reads as an empty record."""
    try:
        text = (run_dir / FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out: list[dict[str, Any]] = []
    for line in text.split("\n")[:-1]:  # the last piece is empty, or a line torn by a crash
        try:
            record = json.loads(line)
        except ValueError:
            record = {}
        out.append(record if isinstance(record, dict) else {})  # still takes its line number
    return out
