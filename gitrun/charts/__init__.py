"""Chart specifications shared by the report site and the pull-request report.

Every builder is a pure function from a few names and options to a Vega-Lite spec as a plain
``dict`` (written with Altair). Specs never embed their rows: they read a named dataset
(``{"name": ...}``), and the caller keeps the rows beside the spec (a site data file, a
``datasets`` entry, or ``vl_convert`` at export time). :func:`with_data` attaches rows when one
self-contained spec is wanted.

Altair is imported by the builders only, so ``import gitrun.charts`` stays cheap; the palette and
the downsampling helpers need nothing beyond the standard library.
"""

from __future__ import annotations

from gitrun.charts.data import downsample, downsample_indices, round_sig
from gitrun.charts.palette import PALETTE, palette
from gitrun.charts.specs import (
    SPEC_VERSION,
    history_line,
    metric_band,
    metric_bars,
    metric_curves,
    parallel_coordinates,
    param_scatter,
    with_data,
)

__all__ = [
    "PALETTE",
    "SPEC_VERSION",
    "downsample",
    "downsample_indices",
    "history_line",
    "metric_band",
    "metric_bars",
    "metric_curves",
    "palette",
    "parallel_coordinates",
    "param_scatter",
    "round_sig",
    "with_data",
]
