"""Preparing rows for charts: downsampling long series without losing their extremes.

A series of a million points cannot be drawn usefully in a few hundred pixels, and shipping it to
a browser costs megabytes. :func:`downsample_indices` keeps the first and last point and, in each
of ``(max_points - 2) // 2`` equal buckets, the minimum and the maximum (min-max decimation), in
their original order: spikes, the best value and the final value survive, as they must for a
training curve. NaN points are skipped when picking extremes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def downsample_indices(values: Sequence[float], max_points: int) -> list[int]:
    """Sorted indices of at most ``max_points`` points of ``values`` that keep its shape and extremes."""
    n = len(values)
    if max_points < 3:
        raise ValueError("max_points must be at least 3 (first, last and one extreme)")
    if n <= max_points:
        return list(range(n))
    buckets = max(1, (max_points - 2) // 2)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with pandas, a core dependency
        return _indices_python(values, buckets)
    arr = np.asarray(values, dtype=float)
    inner = arr[1:-1]
    size = math.ceil(len(inner) / buckets)
    padded_len = size * buckets
    lows = np.full(padded_len, np.inf)
    highs = np.full(padded_len, -np.inf)
    finite_or_inf = np.where(np.isnan(inner), np.inf, inner)
    lows[: len(inner)] = finite_or_inf
    highs[: len(inner)] = np.where(np.isnan(inner), -np.inf, inner)
    lo = lows.reshape(buckets, size).argmin(axis=1) + np.arange(buckets) * size
    hi = highs.reshape(buckets, size).argmax(axis=1) + np.arange(buckets) * size
    picked = np.unique(np.concatenate(([0], lo + 1, hi + 1, [n - 1])))
    return [int(i) for i in picked[picked < n]]


def _indices_python(values: Sequence[float], buckets: int) -> list[int]:
    n = len(values)
    inner = n - 2
    size = math.ceil(inner / buckets)
    keep = {0, n - 1}
    for start in range(1, n - 1, size):
        chunk = range(start, min(start + size, n - 1))
        finite = [i for i in chunk if not math.isnan(values[i])]
        if finite:
            keep.add(min(finite, key=lambda i: values[i]))
            keep.add(max(finite, key=lambda i: values[i]))
        else:
            keep.add(chunk[0])
    return sorted(keep)


def downsample(xs: Sequence[T], ys: Sequence[float], max_points: int) -> tuple[list[T], list[float]]:
    """``(xs, ys)`` reduced to at most ``max_points`` points, extremes of ``ys`` kept."""
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys differ in length ({len(xs)} != {len(ys)})")
    keep = downsample_indices(ys, max_points)
    return [xs[i] for i in keep], [ys[i] for i in keep]


def round_sig(value: float, digits: int = 6) -> float | None:
    """``value`` to ``digits`` significant digits for display; None for NaN and infinities."""
    if not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")
