"""Mermaid ``xychart-beta`` line charts, which GitHub draws inside a comment: no image host needed.

Mermaid's xychart has no real x values: each ``line [...]`` spreads its points evenly across the
x-axis range. So every series is put on one shared, evenly spaced grid of steps:

- when all steps together form an even progression of at most ``max_points`` steps (the usual
  case: epochs 0..N-1), the grid is exactly those steps;
- otherwise the step range is cut into ``max_points // 2`` equal buckets and each series gives
  two points per bucket, its minimum and its maximum in step order (min-max decimation), so
  spikes and the best value survive.

Where a series has no point (it starts later or ends earlier than the others), it holds its
nearest value flat; the legend table says which steps each series really covers. No user text
goes into the block: the title is the metric key (letters, digits, ``_-. /:``) with quotes
removed, and runs are named only in the Markdown table beside the chart, since legend support
differs between Mermaid versions.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

# Colours with a matching coloured-square emoji, so the Markdown legend can show each line's colour.
SWATCHES: tuple[tuple[str, str, str], ...] = (
    ("#4c78a8", "🟦", "blue"),
    ("#f58518", "🟧", "orange"),
    ("#54a24b", "🟩", "green"),
    ("#e45756", "🟥", "red"),
    ("#b279a2", "🟪", "purple"),
    ("#9d755d", "🟫", "brown"),
    ("#eeca3b", "🟨", "yellow"),
)
MAX_SERIES = len(SWATCHES)
MAX_POINTS = 100
_UNSAFE = re.compile(r'["`\\\r\n\t%;{}\[\]]+')


@dataclass(frozen=True)
class Line:
    """One series: points ``(step, value)`` in step order; non-finite values are ignored."""

    steps: Sequence[int]
    values: Sequence[float]


@dataclass(frozen=True)
class Grid:
    """The shared x grid and each series' values on it."""

    first: int
    last: int
    values: tuple[tuple[float, ...], ...]
    exact: bool  # True: one point per real step; False: min/max per bucket


def _finite(line: Line) -> tuple[list[int], list[float]]:
    pairs = sorted(
        (int(s), float(v))
        for s, v in zip(line.steps, line.values, strict=False)
        if v is not None and math.isfinite(float(v))
    )
    return [s for s, _ in pairs], [v for _, v in pairs]


def _value_at(steps: list[int], values: list[float], step: float) -> float:
    """The value at the last point at or before ``step`` (the first value before the series starts)."""
    i = bisect.bisect_right(steps, step) - 1
    return values[max(i, 0)]


def grid(lines: Sequence[Line], max_points: int = MAX_POINTS) -> Grid | None:
    """Put ``lines`` on one evenly spaced grid of at most ``max_points`` points (None: no finite point)."""
    if max_points < 4:
        raise ValueError("max_points must be at least 4")
    series = [_finite(line) for line in lines]
    if not any(steps for steps, _ in series):
        return None
    series = [(s, v) if s else ([0], [math.nan]) for s, v in series]
    all_steps = sorted({s for steps, _ in series for s in steps})
    first, last = all_steps[0], all_steps[-1]
    gaps = {b - a for a, b in itertools.pairwise(all_steps)}
    if len(all_steps) <= max_points and len(gaps) <= 1:
        values = tuple(tuple(_value_at(s, v, step) for step in all_steps) for s, v in series)
        return Grid(first, last, values, exact=True)
    buckets = max_points // 2
    width = (last - first + 1) / buckets
    out = []
    for steps, vals in series:
        row: list[float] = []
        for b in range(buckets):
            lo, hi = first + b * width, first + (b + 1) * width
            i, j = bisect.bisect_left(steps, lo), bisect.bisect_left(steps, hi)
            if i < j:
                chunk = list(range(i, j))
                low = min(chunk, key=lambda k: vals[k])
                high = max(chunk, key=lambda k: vals[k])
                a, z = sorted((low, high))
                row += [vals[a], vals[z]]
            else:  # no point of this series in the bucket: hold the nearest earlier value
                held = _value_at(steps, vals, lo)
                row += [held, held]
        out.append(tuple(row))
    return Grid(first, last, tuple(out), exact=False)


def number(value: float) -> str:
    """A number as Mermaid's xychart grammar accepts it: plain decimal, no exponent, 6 significant digits."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    text = f"{value:.6g}"
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def safe_text(text: str, limit: int = 80) -> str:
    """Text for a quoted Mermaid string: no quotes, brackets, directives or line breaks."""
    cleaned = _UNSAFE.sub(" ", str(text)).strip()
    return cleaned[:limit] or "value"


def _y_range(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    low, high = min(finite), max(finite)
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    return float(number(low - pad)), float(number(high + pad))


def xychart(
    lines: Sequence[Line],
    *,
    title: str,
    y_label: str,
    x_label: str = "step",
    max_points: int = MAX_POINTS,
) -> str | None:
    """A ```` ```mermaid ```` fenced block drawing ``lines`` (at most :data:`MAX_SERIES`), colours in
    :data:`SWATCHES` order; None when no line has a finite point."""
    if len(lines) > MAX_SERIES:
        raise ValueError(f"at most {MAX_SERIES} series per chart (got {len(lines)})")
    on_grid = grid(lines, max_points)
    if on_grid is None:
        return None
    palette = ", ".join(colour for colour, _, _ in SWATCHES[: len(lines)])
    low, high = _y_range([v for row in on_grid.values for v in row])
    last = on_grid.last if on_grid.last > on_grid.first else on_grid.first + 1
    out = [
        "```mermaid",
        '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + palette + '"}}}}%%',
        "xychart-beta",
        f'    title "{safe_text(title)}"',
        f'    x-axis "{safe_text(x_label)}" {on_grid.first} --> {last}',
        f'    y-axis "{safe_text(y_label)}" {number(low)} --> {number(high)}',
    ]
    for row in on_grid.values:
        # A series without a finite point still takes its colour slot; draw it at the bottom edge.
        shown = [v if math.isfinite(v) else low for v in row]
        out.append("    line [" + ", ".join(number(v) for v in shown) + "]")
    out.append("```")
    return "\n".join(out)
