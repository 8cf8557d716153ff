"""How gitrun reads and writes quantities people type and read: sizes (``500KB``, ``1.5 MB``)."""

from __future__ import annotations

import re

from gitrun.errors import InvalidInputError

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.I)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(value: str | int) -> int:
    """Bytes from ``500000``, ``"500KB"``, ``"2 MiB"``, ``"1.5M"`` (K/M/G are powers of 1024)."""
    if isinstance(value, int):
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise InvalidInputError(f"cannot read size {value!r}; write it like 500KB, 2MB or 1048576")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").lower()[:1]])


def format_size(size: int | None) -> str:
    """Bytes as people read them: ``512 B``, ``9.3 KB``, ``1.5 MB`` (powers of 1024); ``?`` when unknown."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
