"""Charts that fit the data: specs compared as dicts, and drawn by the real Vega (vl-convert) to
check what a reader sees: one-point series as points, one value per run as bars, time axes
labelled with dates at every range, axis titles that name the metric and its direction."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gitrun import charts
from gitrun.charts.specs import TIME_FORMAT, direction_label

vl_convert = pytest.importorskip("vl_convert")


def drawn(spec: dict[str, Any], datasets: dict[str, list[dict[str, Any]]]) -> str:
    full = charts.with_data(spec, datasets)
    full["width"] = 480  # "container" has no container here
    return str(vl_convert.vegalite_to_svg(full))


def texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def marks(svg: str, role: str) -> int:
    """How many visible marks of one kind Vega drew (each item is an aria-labelled path; a
    zero-size one has the empty path ``M0,0``)."""
    items = re.findall(rf'<path[^>]*aria-roledescription="{role}"[^>]*>', svg)
    return sum(1 for item in items if 'd="M0,0"' not in item)


def test_direction_labels() -> None:
    assert direction_label("val_loss", "min") == "val_loss (lower is better)"
    assert direction_label("val_acc", "max") == "val_acc (higher is better)"
    assert direction_label("val_acc", None) == "val_acc"


def test_metric_curves_spec_has_a_point_layer_for_one_point_runs() -> None:
    spec = charts.metric_curves(title="val_loss", by_run=True, direction="min")
    raw, smooth, lone = spec["layer"]
    assert raw["mark"]["type"] == "line" and smooth["mark"]["type"] == "line"
    assert lone["mark"] == {"type": "point", "filled": True, "opacity": 1}
    assert lone["transform"] == [{"joinaggregate": [{"op": "count", "as": "points"}], "groupby": ["run"]}]
    assert lone["encoding"]["size"] == {"condition": {"test": "datum.points == 1", "value": 70}, "value": 0}
    for layer in spec["layer"]:
        assert layer["encoding"]["y"]["title"] == "val_loss (lower is better)"
        assert layer["encoding"]["x"]["title"] == "step"
    assert spec["title"] == "val_loss"
    # without a title the axis still says what it is
    assert charts.metric_curves(title=None)["layer"][0]["encoding"]["y"]["title"] == "value"


def test_one_point_series_draw_as_points_and_longer_ones_as_lines() -> None:
    spec = charts.metric_curves(title="acc", direction="max")
    one = [{"run": "a", "step": 0, "time": 0, "value": 0.5, "smooth": 0.5}]
    two = [
        {"run": "b", "step": 0, "time": 0, "value": 0.6, "smooth": 0.6},
        {"run": "b", "step": 1, "time": 1, "value": 0.7, "smooth": 0.7},
    ]
    svg = drawn(spec, {"series": one + two})
    assert marks(svg, "point") == 1  # a's single point; b is a line
    assert marks(svg, "line mark") == 4  # raw and smoothed per run; a one-point "line" is an empty path
    assert "acc (higher is better)" in texts(svg) and "step" in texts(svg)
    only_one = drawn(spec, {"series": one})
    assert marks(only_one, "point") == 1  # no longer an empty frame


def test_metric_bars_spec_and_drawing() -> None:
    spec = charts.metric_bars(metric="val_loss", direction="min")
    assert spec["mark"] == {"type": "bar"}
    assert spec["data"] == {"name": "bars"}
    assert spec["encoding"]["x"] == {
        "field": "run",
        "type": "nominal",
        "title": "run",
        "sort": "y",
        "axis": {"labelAngle": -30, "labelLimit": 160},
    }
    assert spec["encoding"]["y"] == {"field": "value", "type": "quantitative", "title": "val_loss (lower is better)"}
    assert spec["encoding"]["color"]["legend"] is None
    assert spec["title"] == "val_loss: one value per run"
    assert charts.metric_bars(metric="acc", direction="max")["encoding"]["x"]["sort"] == "-y"
    plain = charts.metric_bars()
    assert plain["encoding"]["y"]["title"] == "value" and plain["encoding"]["x"]["sort"] is None  # rows' order
    assert "title" not in plain
    rows = [{"run": "a", "value": 0.3}, {"run": "b", "value": 0.1}, {"run": "c", "value": 0.2}]
    svg = drawn(spec, {"bars": rows})
    assert marks(svg, "bar") == 3
    labels = texts(svg)
    assert [t for t in labels if t in ("a", "b", "c")] == ["b", "c", "a"]  # lower is better: best first


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["2026-11-27T22:16:32Z"], ["Nov 27 22:16:32"]),  # one commit: a date, never ":32"
        (["2026-03-10T01:15:00Z", "2026-03-10T09:15:00Z", "2026-03-10T20:15:00Z"], ["Mar 10 06:00", "Mar 10 12:00"]),
        (["2026-01-10T10:00:00Z", "2026-07-10T10:00:00Z", "2026-11-10T10:00:00Z"], ["Apr 2026", "Jul 2026"]),
    ],
)
def test_history_time_axis_reads_as_dates_at_every_range(dates: list[str], expected: list[str]) -> None:
    spec = charts.history_line()
    assert spec["encoding"]["x"]["axis"]["format"] == TIME_FORMAT
    assert spec["encoding"]["x"]["scale"]["type"] == "utc" and spec["encoding"]["x"]["title"] == "commit date (UTC)"
    rows = [
        {"series": "e · acc", "commit": f"c{i}", "date": d, "value": 0.9333 + i / 100, "run": "r", "subject": "s"}
        for i, d in enumerate(dates)
    ]
    labels = texts(drawn(spec, {"history": rows}))
    for label in expected:
        assert label in labels, labels
    assert not [t for t in labels if t.startswith(":")], labels
    if len(dates) == 1:  # one commit: the y axis shows the value, not a rounded "1"
        assert "0.9333" in labels and "1" not in labels, labels


def test_palette_is_okabe_ito_then_dashes_and_shapes() -> None:
    from gitrun.charts.palette import PALETTE, STYLED, dashes, palette, shapes

    okabe_ito = {"#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#f0e442"}
    assert len(PALETTE) == 8 and okabe_ito <= set(PALETTE)
    styles = list(zip(palette(STYLED), map(tuple, dashes(STYLED)), shapes(STYLED), strict=True))
    assert STYLED == 24 and len(set(styles)) == 24
    assert all(d == [1, 0] for d in dashes(8))  # the first eight series are solid lines


def test_24_runs_draw_24_distinct_line_styles() -> None:
    spec = charts.metric_curves(title="loss", by_run=True)
    rows = [
        {"run": f"run{i:02d}", "step": s, "time": s, "value": i + s / 10, "smooth": i + s / 10}
        for i in range(24)
        for s in range(3)
    ]
    svg = drawn(spec, {"series": rows})
    lines = re.findall(r'<path[^>]*aria-roledescription="line mark"[^>]*>', svg)
    styles = set()
    for line in lines:
        stroke = re.search(r'stroke="([^"]+)"', line)
        dash = re.search(r'stroke-dasharray="([^"]+)"', line)
        styles.add((stroke.group(1) if stroke else None, dash.group(1) if dash else "solid"))
    assert len(styles) == 24, styles  # each run its own (colour, dash) in both layers


def test_metric_band_spec_and_drawing() -> None:
    spec = charts.metric_band(title="val_acc", direction="max")
    band, mean = spec["layer"]
    assert band["mark"] == {"type": "area", "opacity": 0.18}
    assert band["encoding"]["y"]["field"] == "min" and band["encoding"]["y2"] == {"field": "max"}
    assert mean["encoding"]["y"] == {
        "field": "mean",
        "type": "quantitative",
        "title": "val_acc (higher is better)",
        "scale": {"zero": False},
    }
    assert mean["encoding"]["strokeDash"]["field"] == "group" and spec["data"] == {"name": "band"}
    assert spec["title"] == "val_acc: mean and min–max by group"
    rows = [
        {"group": g, "step": s, "mean": m + s, "min": m + s - 0.1, "max": m + s + 0.1, "runs": 2}
        for g, m in (("opt=adam", 0.5), ("opt=sgd", 0.2))
        for s in range(3)
    ]
    svg = drawn(spec, {"band": rows})
    assert marks(svg, "area mark") == 2 and marks(svg, "line mark") == 2
    assert {"opt=adam", "opt=sgd", "group"} <= set(texts(svg))
