"""Vega-Lite chart builders (Altair). Each returns a plain dict reading named datasets.

Row shapes (the field names are fixed, never user keys, so a metric called ``val.acc`` or
``train/loss`` needs no escaping inside Vega-Lite):

- :func:`metric_curves` reads ``{run, step, time, value, smooth}`` rows: ``time`` is seconds since
  the run's first point, ``smooth`` the smoothed value (equal to ``value`` when not smoothed).
- :func:`parallel_coordinates` reads ``{run, dim, norm, raw, color}`` rows (``norm`` in [0, 1]
  along each dimension) and ``{dim, norm, label}`` tick rows.
- :func:`param_scatter` reads ``{run, param, x, y}`` rows; a drop-down picks the param.
- :func:`metric_band` reads ``{group, step, mean, min, max, runs}`` rows (runs grouped by a param or tag).
- :func:`metric_bars` reads ``{run, value}`` rows: one value per run (a metric logged once).
- :func:`history_line` reads ``{series, commit, date, value, run, subject}`` rows.

No user text ever goes into a Vega expression: only titles, labels and field values, which Vega
draws as text.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from gitrun.charts.palette import PALETTE, STYLED, dashes, shapes

# Bump when a builder's output changes, so callers that cache specs rebuild them.
SPEC_VERSION = 3

EMBED_HEIGHT = 220

# Time axes: each tick labelled at the coarsest unit that tells it apart (Vega's multi-format),
# so a day of commits reads "09:30", a year "Mar 2026", and a lone second never reads ":32".
TIME_FORMAT = {
    "year": "%Y",
    "quarter": "%b %Y",
    "month": "%b %Y",
    "week": "%b %d",
    "date": "%b %d",
    "hours": "%b %d %H:%M",
    "minutes": "%b %d %H:%M",
    "seconds": "%b %d %H:%M:%S",
    "milliseconds": "%b %d %H:%M:%S.%L",
}


def direction_label(metric: str, direction: str | None) -> str:
    """An axis title that says which way is better: ``val_loss (lower is better)``."""
    if direction is None:
        return metric
    return f"{metric} ({'lower' if direction == 'min' else 'higher'} is better)"


def _alt() -> Any:
    import altair as alt

    return alt


def _finish(chart: Any) -> dict[str, Any]:
    spec: dict[str, Any] = chart.to_dict()
    # Altair's default view size is noise here: every chart sets its own width and height.
    if spec.get("config") == {"view": {"continuousWidth": 300, "continuousHeight": 300}}:
        del spec["config"]
    return spec


def metric_curves(
    data: str = "series",
    *,
    title: str | None = None,
    x: str = "step",
    log_y: bool = False,
    by_run: bool = True,
    height: int = EMBED_HEIGHT,
    colors: Sequence[str] = PALETTE,
    direction: str | None = None,
) -> dict[str, Any]:
    """Metric value against ``step`` or ``time`` (seconds since the run's first point), one line per run.

    Three layers: the raw values, faint; the smoothed values on top (``smooth``); and a point for
    each run that has a single point (a one-point line draws nothing; other points have size 0). With ``by_run=False``
    every line has the palette's first colour and no legend is drawn. ``direction`` ("min" /
    "max") goes into the y axis title.
    """
    if x not in ("step", "time"):
        raise ValueError(f"x must be 'step' or 'time', not {x!r}")
    alt = _alt()
    x_enc = alt.X(f"{x}:Q", title="step" if x == "step" else "time since first point (s)", scale=alt.Scale(zero=False))
    y_scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    y_title = direction_label(title, direction) if title else "value"
    y_enc = alt.Y("smooth:Q", title=y_title, scale=y_scale)
    raw_y = alt.Y("value:Q", title=y_title, scale=y_scale)
    style: dict[str, Any] = {}
    if by_run:
        legend = alt.Legend(orient="bottom", columns=2, labelLimit=320)
        color = alt.Color("run:N", title="run", scale=alt.Scale(range=list(colors)), legend=legend)
        # colour i % 8, then dash i // 8: 24 runs never share a style (gitrun.charts.palette)
        style["strokeDash"] = alt.StrokeDash("run:N", title="run", scale=alt.Scale(range=dashes(STYLED)), legend=legend)
    else:
        color = alt.value(colors[0])
    base = alt.Chart(alt.NamedData(data))
    raw = base.mark_line(opacity=0.3, strokeWidth=1).encode(x=x_enc, y=raw_y, color=color, detail="run:N", **style)
    smooth = base.mark_line(strokeWidth=1.8).encode(
        x=x_enc,
        y=y_enc,
        color=color,
        detail="run:N",
        **style,
        tooltip=[
            alt.Tooltip("run:N"),
            alt.Tooltip("step:Q"),
            alt.Tooltip("time:Q", title="time (s)", format=".1f"),
            alt.Tooltip("value:Q", format=".6g"),
        ],
    )
    # Sized by condition, not filtered: an empty layer makes Vega warn about an infinite extent.
    lone = (
        base.transform_joinaggregate(points="count()", groupby=["run"])
        .mark_point(filled=True, opacity=1)
        .encode(
            x=x_enc,
            y=y_enc,
            color=color,
            size=alt.condition("datum.points == 1", alt.value(70), alt.value(0)),
            **(
                {"shape": alt.Shape("run:N", title="run", scale=alt.Scale(range=shapes(STYLED)), legend=legend)}
                if by_run
                else {}
            ),
            tooltip=[alt.Tooltip("run:N"), alt.Tooltip("value:Q", format=".6g")],
        )
    )
    chart = alt.layer(raw, smooth, lone).properties(width="container", height=height)
    if title:
        chart = chart.properties(title=title)
    return _finish(chart)


def metric_band(
    data: str = "band",
    *,
    title: str | None = None,
    direction: str | None = None,
    height: int = EMBED_HEIGHT,
    colors: Sequence[str] = PALETTE,
) -> dict[str, Any]:
    """Runs grouped (by a param or tag): each group's mean against ``step``, with its min-max band.

    Reads ``{group, step, mean, min, max, runs}`` rows (``runs``: how many runs have that step)."""
    alt = _alt()
    y_title = direction_label(title, direction) if title else "value"
    legend = alt.Legend(orient="bottom", columns=2, labelLimit=320)
    color = alt.Color("group:N", title="group", scale=alt.Scale(range=list(colors)), legend=legend)
    dash = alt.StrokeDash("group:N", title="group", scale=alt.Scale(range=dashes(STYLED)), legend=legend)
    x = alt.X("step:Q", title="step", scale=alt.Scale(zero=False))
    base = alt.Chart(alt.NamedData(data))
    band = base.mark_area(opacity=0.18).encode(
        x=x, y=alt.Y("min:Q", title=y_title, scale=alt.Scale(zero=False)), y2="max:Q", color=color
    )
    mean = base.mark_line(strokeWidth=1.8, point=False).encode(
        x=x,
        y=alt.Y("mean:Q", title=y_title, scale=alt.Scale(zero=False)),
        color=color,
        strokeDash=dash,
        tooltip=[
            alt.Tooltip("group:N"),
            alt.Tooltip("step:Q"),
            alt.Tooltip("mean:Q", format=".6g"),
            alt.Tooltip("min:Q", format=".6g"),
            alt.Tooltip("max:Q", format=".6g"),
            alt.Tooltip("runs:Q"),
        ],
    )
    chart = alt.layer(band, mean).properties(width="container", height=height)
    if title:
        chart = chart.properties(title=f"{title}: mean and min–max by group")
    return _finish(chart)


def metric_bars(
    data: str = "bars",
    *,
    metric: str | None = None,
    direction: str | None = None,
    height: int = EMBED_HEIGHT,
    colors: Sequence[str] = PALETTE,
) -> dict[str, Any]:
    """A metric with one value per run as a bar per run (MLflow's UI does the same), best first
    when ``direction`` is known, in the rows' order otherwise."""
    alt = _alt()
    y_title = direction_label(metric, direction) if metric else "value"
    order = "-y" if direction == "max" else "y" if direction == "min" else None
    chart = (
        alt.Chart(alt.NamedData(data))
        .mark_bar()
        .encode(
            x=alt.X("run:N", title="run", sort=order, axis=alt.Axis(labelAngle=-30, labelLimit=160)),
            y=alt.Y("value:Q", title=y_title),
            color=alt.Color("run:N", scale=alt.Scale(range=list(colors)), legend=None),
            tooltip=[alt.Tooltip("run:N"), alt.Tooltip("value:Q", format=".6g")],
        )
        .properties(width="container", height=height)
    )
    if metric:
        chart = chart.properties(title=f"{metric}: one value per run")
    return _finish(chart)


def parallel_coordinates(
    dimensions: Sequence[str],
    data: str = "pcp",
    ticks: str = "pcp_ticks",
    *,
    color_title: str = "metric",
    height: int = 300,
) -> dict[str, Any]:
    """Parallel coordinates: one line per run across ``dimensions`` (params then metrics), coloured by ``color``."""
    alt = _alt()
    order = list(dimensions)
    x = alt.X("dim:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelLimit=140, domain=False, orient="top"))
    rules = alt.Chart(alt.NamedData(ticks)).mark_rule(color="#999").encode(x=x)
    lines = (
        alt.Chart(alt.NamedData(data))
        .mark_line(opacity=0.55, strokeWidth=1.2)
        .encode(
            x=x,
            y=alt.Y("norm:Q", axis=None, scale=alt.Scale(domain=[0, 1])),
            detail="run:N",
            color=alt.Color("color:Q", title=color_title, scale=alt.Scale(scheme="viridis")),
            tooltip=[alt.Tooltip("run:N"), alt.Tooltip("dim:N"), alt.Tooltip("raw:N", title="value")],
        )
    )
    labels = (
        alt.Chart(alt.NamedData(ticks))
        .mark_text(align="left", dx=4, fontSize=10, color="#333")
        .encode(x=x, y=alt.Y("norm:Q", axis=None, scale=alt.Scale(domain=[0, 1])), text="label:N")
    )
    chart = alt.layer(rules, lines, labels).properties(width="container", height=height)
    return _finish(chart)


def param_scatter(params: Sequence[str], metric: str, data: str = "scatter", *, height: int = 260) -> dict[str, Any]:
    """The chosen param (drop-down over ``params``) against ``metric``, one point per run."""
    if not params:
        raise ValueError("param_scatter needs at least one param")
    alt = _alt()
    choice = alt.param(
        name="param_choice",
        value=params[0],
        bind=alt.binding_select(options=list(params), name="param: "),
    )
    chart = (
        alt.Chart(alt.NamedData(data))
        .mark_point(filled=True, size=45, opacity=0.75)
        .encode(
            x=alt.X("x:Q", title="param value", scale=alt.Scale(zero=False)),
            y=alt.Y("y:Q", title=metric, scale=alt.Scale(zero=False)),
            tooltip=[
                alt.Tooltip("run:N"),
                alt.Tooltip("param:N"),
                alt.Tooltip("x:Q", title="value"),
                alt.Tooltip("y:Q", title=metric, format=".6g"),
            ],
            color=alt.value(PALETTE[0]),
        )
        .add_params(choice)
        .transform_filter("datum.param == param_choice")
        .properties(width="container", height=height)
    )
    return _finish(chart)


def history_line(data: str = "history", *, title: str = "best value per commit", height: int = 260) -> dict[str, Any]:
    """Best value of each primary metric per commit: one line per ``series`` over commit dates."""
    alt = _alt()
    chart = (
        alt.Chart(alt.NamedData(data))
        .mark_line(point=True, interpolate="step-after")
        .encode(
            x=alt.X(
                "date:T",
                title="commit date (UTC)",
                scale=alt.Scale(type="utc", padding=24),
                axis=alt.Axis(format=TIME_FORMAT, tickCount=6, labelOverlap=True),
            ),
            y=alt.Y(
                "value:Q",
                title="best value",
                scale=alt.Scale(zero=False, nice=False, padding=12),
                axis=alt.Axis(tickCount=5, format=".4~g"),
            ),
            color=alt.Color(
                "series:N",
                title="experiment · metric",
                scale=alt.Scale(range=list(PALETTE)),
                legend=alt.Legend(orient="bottom", labelLimit=320),
            ),
            tooltip=[
                alt.Tooltip("series:N"),
                alt.Tooltip("commit:N"),
                alt.Tooltip("subject:N"),
                alt.Tooltip("value:Q", format=".6g"),
                alt.Tooltip("run:N", title="best run"),
            ],
        )
        .properties(width="container", height=height, title=title)
    )
    return _finish(chart)


def with_data(spec: Mapping[str, Any], datasets: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """A copy of ``spec`` carrying its rows as top-level ``datasets`` (self-contained, e.g. for export)."""
    out = copy.deepcopy(dict(spec))
    merged = dict(out.get("datasets") or {})
    merged.update({name: [dict(r) for r in rows] for name, rows in datasets.items()})
    out["datasets"] = merged
    return out
