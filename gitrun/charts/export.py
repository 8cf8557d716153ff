"""Charts as image files (SVG and PNG) with vl-convert: offline, no browser, no image host.

The PR report draws its curves twice: as Mermaid in the comment, and as SVG/PNG files in the
report directory (uploaded as a workflow artifact) from the same Vega-Lite spec the site uses
(:func:`gitrun.charts.specs.metric_curves`), with the report's colours pinned to its series in
order, so the images match the Mermaid legend table.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gitrun.errors import ExportUnavailable, MissingExtraError
from gitrun.extras import require

MAX_EXPORT_POINTS = 2000  # per series; long series are min/max-decimated (extremes kept)
WIDTH = 640
HEIGHT = 300

# (label, steps, values, seconds since the run's first point)
SeriesData = tuple[str, Sequence[int], Sequence[float], Sequence[float]]


def curve_rows(series: Sequence[SeriesData], max_points: int = MAX_EXPORT_POINTS) -> list[dict[str, Any]]:
    """``{run, step, time, value, smooth}`` rows (the shape metric_curves reads); NaN/inf become null."""
    from gitrun.charts.data import downsample_indices

    rows = []
    for label, steps, values, times in series:
        keep = (
            downsample_indices([float(v) for v in values], max_points)
            if len(values) > max_points
            else range(len(values))
        )
        for i in keep:
            value = float(values[i])
            shown = value if math.isfinite(value) else None
            rows.append({"run": label, "step": int(steps[i]), "time": float(times[i]), "value": shown, "smooth": shown})
    return rows


def curves_spec(
    title: str,
    metric: str,
    series: Sequence[SeriesData],
    colors: Sequence[str],
    width: int = WIDTH,
    height: int = HEIGHT,
) -> dict[str, Any]:
    """A self-contained Vega-Lite spec (rows inlined) of the curves, colours in series order."""
    from gitrun.charts.specs import metric_curves, with_data

    labels = [label for label, *_ in series]
    spec = copy.deepcopy(metric_curves("series", title=metric, colors=list(colors), height=height))
    for layer in spec.get("layer", [spec]):
        color = layer.get("encoding", {}).get("color")
        if isinstance(color, dict) and isinstance(color.get("scale"), dict):
            # Vega sorts a nominal domain; pin it so series i gets colour i, as in the Mermaid legend.
            color["scale"]["domain"] = labels
            color["scale"]["range"] = list(colors)[: len(labels)]
    spec["title"] = title
    spec["width"] = width  # "container" has no meaning outside a page
    return with_data(spec, {"series": curve_rows(series)})


def _vl_convert() -> Any:
    try:
        require(
            "site",
            "vl_convert",
            feature="drawing charts as SVG/PNG",
            hint=" (the Markdown report is complete without them)",
        )
    except MissingExtraError as exc:
        raise ExportUnavailable(exc.feature, exc.extra, exc.package, exc.module, exc.hint) from None
    import vl_convert

    return vl_convert


def export_chart(
    *,
    title: str,
    metric: str,
    series: Sequence[SeriesData],
    colors: Sequence[str],
    out_stem: Path,
    formats: Sequence[str] = ("svg", "png"),
    scale: float = 2.0,
) -> list[Path]:
    """Write ``<out_stem>.vl.json`` and the images; returns the paths written."""
    vlc = _vl_convert()
    spec = curves_spec(title, metric, series, colors)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    spec_path = out_stem.with_name(out_stem.name + ".vl.json")
    spec_path.write_text(json.dumps(spec, indent=1, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    written.append(spec_path)
    for fmt in formats:
        path = out_stem.with_name(f"{out_stem.name}.{fmt}")
        if fmt == "svg":
            path.write_text(vlc.vegalite_to_svg(spec), encoding="utf-8")
        elif fmt == "png":
            path.write_bytes(vlc.vegalite_to_png(spec, scale=scale))
        else:
            raise ValueError(f"unknown image format {fmt!r} (svg, png)")
        written.append(path)
    return written
