"""Unicode sparklines (``▁▂▃▄▅▆▇█``) of a metric's history, for Markdown table cells; and the
points of an SVG sparkline (:func:`svg_points`) for the site's home page.

A sparkline is plain text: it needs no escaping in a table, renders in any GitHub comment, and
costs a few dozen characters. Long series are reduced to ``width`` buckets (mean of each bucket),
so the line keeps the curve's shape; NaN and infinite points are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BARS = "▁▂▃▄▅▆▇█"
FLAT = "▄"  # a constant series: a level line at mid height


def bucket_means(values: Sequence[float], width: int) -> list[float]:
    """``values`` in at most ``width`` equal buckets (in order), each the mean of its points."""
    if width < 1:
        raise ValueError("width must be at least 1")
    n = len(values)
    if n <= width:
        return list(values)
    out = []
    for i in range(width):
        chunk = values[i * n // width : (i + 1) * n // width]
        out.append(math.fsum(chunk) / len(chunk))
    return out


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """A sparkline of ``values`` at most ``width`` characters wide; "" when no value is finite."""
    finite = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return ""
    points = bucket_means(finite, width)
    low, high = min(points), max(points)
    if high - low <= abs(high) * 1e-12:
        return FLAT * len(points)
    top = len(BARS) - 1
    return "".join(BARS[min(top, int((p - low) / (high - low) * top + 0.5))] for p in points)


def svg_points(values: Sequence[float], width: int = 120, height: int = 24, pad: float = 2.0) -> str:
    """An SVG ``polyline`` ``points`` attribute drawing ``values`` left to right in a ``width`` x
    ``height`` box (higher values higher); "" when no value is finite. A single value
    is a short level line in the middle, as is a constant series."""
    finite = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return ""
    points = bucket_means(finite, max(1, int(width // 2)))
    if len(points) == 1:
        points = points * 2
    low, high = min(points), max(points)
    span = high - low
    step = (width - 2 * pad) / (len(points) - 1)

    def y(v: float) -> float:
        if span <= abs(high) * 1e-12:
            return height / 2
        return pad + (high - v) / span * (height - 2 * pad)

    return " ".join(f"{pad + i * step:.1f},{y(v):.1f}" for i, v in enumerate(points))
