"""Metric series: one append-only TSV file per metric (``metrics/<key>.tsv``; a ``/`` in a key is a
folder), each line ``step<TAB>timestamp<TAB>value``. Paths, formatting, tolerant parsing and
summaries, shared by the writer and the readers."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

from gitrun.entities import MetricSummary
from gitrun.store import textio
from gitrun.store.pointers import pointer_size
from gitrun.store.textio import decode_series_bytes, problem
from gitrun.store.validation import INT64_MAX, INT64_MIN

SERIES_HEADER = "step\ttimestamp\t{name}\n"


def series_path(run_dir: Path, key: str) -> Path:
    return run_dir / "metrics" / f"{key}.tsv"


def format_points(points: Iterable[tuple[int, int, float]]) -> str:
    return "".join(f"{step}\t{ts}\t{textio.format_float(value)}\n" for step, ts, value in points)


# -- metric series ---------------------------------------------------------------------------
def read_series(path: Path, strict: bool = False) -> list[tuple[int, int, float]]:
    """Points ``(step, timestamp, value)`` of one series file, in file order."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return parse_series_text(decode_series_bytes(data, str(path), strict), str(path), strict)


def parse_clean_series(data: str) -> list[tuple[int, int, float]] | None:
    """Points of a series whose every line is well-formed; None when one is not (the caller then
    reports it, see :func:`parse_series_text`). The fast path of every series read."""
    points = []
    for number, line in enumerate(data.split("\n"), start=1):
        if not line:
            continue
        parts = line.split("\t")
        try:
            # 19 digits or more may be outside the 64-bit range: the careful path checks.
            if len(parts) != 3 or len(parts[0]) > 18 or len(parts[1]) > 18:
                raise ValueError
            points.append((int(parts[0]), int(parts[1]), float(parts[2])))
        except ValueError:
            if number == 1 and parts[0] == "step":
                continue  # header
            return None
    return points


def parse_series_text(data: str, path: str, strict: bool = False) -> list[tuple[int, int, float]]:
    """Points of a series from its text; bad lines are reported as ``path:line`` and skipped."""
    clean = parse_clean_series(data)
    if clean is not None:
        return clean
    points: list[tuple[int, int, float]] = []
    lines = data.split("\n")
    last = len(lines) - 1
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        parts = line.split("\t")
        try:
            if len(parts) != 3:
                raise ValueError(f"expected 3 tab-separated fields, found {len(parts)}")
            step, ts = int(parts[0]), int(parts[1])
            if not (INT64_MIN <= step <= INT64_MAX and INT64_MIN <= ts <= INT64_MAX):
                raise ValueError("step or timestamp outside the 64-bit signed range")
            points.append((step, ts, float(parts[2])))
        except ValueError as exc:
            if number == 1 and parts[0] == "step":
                continue  # header
            if number - 1 == last:
                # The last line has no newline: a writer is mid-line or was killed mid-line.
                problem(f"{path}:{number}: incomplete last line {line!r}; ignoring it", strict)
            else:
                problem(f"{path}:{number}: bad metric line {line!r} ({exc}); skipping it", strict)
    return points


def series_keys(run_dir: Path) -> dict[str, Path]:
    """Metric key -> series file, found by walking ``metrics/`` (a '/' in a key is a subfolder)."""
    root = run_dir / "metrics"
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), f"{prefix}{entry.name}/"))
                elif entry.name.endswith(".tsv"):  # temp files end in .tmp; '.x' is a valid key
                    found[prefix + entry.name[:-4]] = Path(entry.path)
                elif entry.name.endswith(".tsv.dvc"):
                    # Series moved to DVC: at a past revision only the pointer is in Git.
                    found.setdefault(prefix + entry.name[:-8], Path(entry.path[:-4]))
    return found


def series_size(path: Path) -> int | None:
    """Size of a series file, or the size its DVC pointer records when the content is not here."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return pointer_size(path.with_name(path.name + ".dvc"))


def _latest_key(point: tuple[int, int, float]) -> tuple[int, int, int, float]:
    # MLflow's "latest": max of (step, timestamp, value); NaN ranks below every number.
    step, ts, value = point
    return (step, ts, 0, 0.0) if math.isnan(value) else (step, ts, 1, value)


def summarize(key: str, points: list[tuple[int, int, float]]) -> MetricSummary | None:
    if not points:
        return None
    step, ts, latest = max(points, key=_latest_key)
    numbers = [v for _, _, v in points if not math.isnan(v)]
    return MetricSummary(
        key=key,
        latest=latest,
        min=min(numbers) if numbers else math.nan,
        max=max(numbers) if numbers else math.nan,
        step=step,
        timestamp=ts,
        count=len(points),
    )


def summarize_run_series(run_dir: Path, strict: bool = False) -> dict[str, tuple[MetricSummary, int]]:
    """Summary and file size of every series of a run, computed from the series files."""
    out: dict[str, tuple[MetricSummary, int]] = {}
    for key, path in sorted(series_keys(run_dir).items()):
        if not path.exists():
            continue  # DVC-tracked and not checked out
        size = path.stat().st_size
        summary = summarize(key, read_series(path, strict))
        if summary is not None:
            out[key] = (summary, size)
    return out
