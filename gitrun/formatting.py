"""How gitrun writes quantities people read, and reads the ones they type: one place for each.

- Numbers (:func:`format_number`): the CLI's tables, ``gitrun diff`` in every format, the
  pull-request report, the gate's explanations, commit messages and the site all print a float
  with ``precision`` significant digits, and spell the values that are not numbers one way:
  ``NaN``, ``+∞`` and ``-∞`` (the ASCII minus every negative number prints with). JSON keeps
  its own spelling, the store's (``"NaN"``, ``"Infinity"``, ``"-Infinity"``, see
  :func:`gitrun.store.textio.json_number`), because programs read it.
- Times (:func:`format_time` for people, :func:`iso_time` for programs): always UTC, never the
  local time zone.
- Durations (:func:`format_duration`) and sizes (:func:`format_size`, :func:`parse_size`).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from gitrun.errors import InvalidInputError

NAN = "NaN"
POS_INF = "+∞"
NEG_INF = "-∞"


def format_number(value: object, precision: int = 4, *, signed: bool = False, missing: str = "") -> str:
    """A value as a table or page shows it: a float with ``precision`` significant digits
    (``signed``: with its sign, as for a change), NaN as ``NaN``, infinities as ``+∞`` / ``-∞``;
    None as ``missing``; any other value (int, bool, text) as ``str(value)``."""
    if value is None:
        return missing
    if isinstance(value, float):
        if math.isnan(value):
            return NAN
        if math.isinf(value):
            return POS_INF if value > 0 else NEG_INF
        return f"{value:+.{precision}g}" if signed else f"{value:.{precision}g}"
    return str(value)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def iso_time(ms: int | None) -> str | None:
    """Milliseconds since the epoch as ISO-8601 UTC for programs (``2026-11-27T22:16:05.123Z``)."""
    if ms is None:
        return None
    return _utc(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_time(ms: int | None, *, seconds: bool = True, zone: bool = True) -> str:
    """Milliseconds since the epoch for people: ``2026-11-27 22:16:05 UTC`` ("" for None or 0).

    ``seconds=False`` stops at the minute; ``zone=False`` leaves out " UTC" (for a column whose
    header says it)."""
    if not ms:
        return ""
    text = _utc(ms).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} UTC" if zone else text


def format_duration(start_ms: int | None, end_ms: int | None) -> str:
    """How long a run took: ``3.5 s``, ``2m 05s``, ``1h 02m 05s``; "" without both ends."""
    if not start_ms or not end_ms or end_ms < start_ms:
        return ""
    seconds = (end_ms - start_ms) / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {sec:02d}s" if hours else f"{minutes}m {sec:02d}s"


def format_size(size: int | None) -> str:
    """Bytes for people: ``512 B``, ``1.5 KB``, ``2.0 MB``, ``3.1 GB`` (powers of 1024, as :func:`parse_size`)."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


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
