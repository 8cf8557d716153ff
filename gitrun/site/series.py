"""Reading metric series fast (numpy) and shaping them for the browser.

A site of 1,000 runs x 5 metrics x 1,000 steps reads five million points; parsing them line by line
in Python would take most of the build. numpy converts the whole file in one call; a file it cannot
read (a torn last line, a header) falls back to the store's tolerant reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitrun.charts.data import downsample_indices
from gitrun.store.series import read_series as tolerant


@dataclass
class Series:
    steps: Any  # numpy int64 array
    timestamps: Any  # numpy int64 array (ms)
    values: Any  # numpy float64 array
    raw: bytes  # the file's bytes (the CSV download is made from them)


def read_series(path: Path, strict: bool = False) -> Series | None:
    import numpy as np

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    parts = raw.split()
    ok = len(parts) % 3 == 0 and raw.endswith(b"\n") and not raw.startswith(b"step")
    if ok:
        try:
            # float() of each token is faster than numpy's own conversion of a list of bytes.
            table = np.fromiter(map(float, parts), dtype=np.float64, count=len(parts)).reshape(-1, 3)
            # Beyond 2**53 a double is not exact (and past 2**63 not an int64: a step or timestamp
            # an old release accepted): parse those columns exactly, or let the reader skip the line.
            exact = table.size and max(abs(table[:, 0]).max(), abs(table[:, 1]).max()) >= 2**53
            steps = np.array(parts[0::3], dtype=np.int64) if exact else table[:, 0].astype(np.int64)
            stamps = np.array(parts[1::3], dtype=np.int64) if exact else table[:, 1].astype(np.int64)
            return Series(steps, stamps, table[:, 2].copy(), raw)
        except (ValueError, OverflowError):
            pass
    points = tolerant(path, strict)
    steps = np.array([p[0] for p in points], dtype=np.int64)
    stamps = np.array([p[1] for p in points], dtype=np.int64)
    values = np.array([p[2] for p in points], dtype=np.float64)
    text = "".join(f"{s}\t{t}\t{v!r}\n" for s, t, v in points).encode()
    return Series(steps, stamps, values, text)


def to_csv(series: Series) -> bytes:
    """The full series as CSV with a header (``step,timestamp,value``; timestamps in ms)."""
    body = series.raw
    if body.startswith(b"step"):
        body = body.split(b"\n", 1)[1] if b"\n" in body else b""
    return b"step,timestamp,value\n" + body.replace(b"\t", b",")


def browser_series(series: Series, max_points: int) -> dict[str, Any]:
    """Columnar, downsampled series for the charts: steps, seconds since the first point, values (6 digits)."""
    import numpy as np

    n = len(series.values)
    if n > max_points:
        keep = np.asarray(downsample_indices(series.values, max_points))
        steps, stamps, values = series.steps[keep], series.timestamps[keep], series.values[keep]
    else:
        steps, stamps, values = series.steps, series.timestamps, series.values
    first = int(series.timestamps.min()) if n else 0
    seconds = np.round((stamps - first) / 1000.0, 3)
    finite = np.isfinite(values)
    shown = [float(f"{v:.6g}") if ok else None for v, ok in zip(values.tolist(), finite.tolist(), strict=False)]
    return {
        "step": steps.tolist(),
        "t": seconds.tolist(),
        "v": shown,
        "n": n,
    }
