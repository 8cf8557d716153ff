"""Experiment pages: ``experiments/<id>.html``, their data ``data/experiments/<id>.js`` and the runs
table's chunks ``data/experiments/<id>/<chunk>.js``.

The data file holds the table's index (its columns without values, the run count, the chunks in
row order) and the rows of the experiment's three charts: the best runs' primary metric over steps,
parallel coordinates, and param-vs-metric scatter (the charts draw at most ``pcp_max_runs`` runs,
so the file does not grow with the run count). Each chunk holds the values of about
``table_chunk_rows`` runs column by column (text columns dictionary-encoded, so runs with the same
user and commit stay small); the table loads the chunks its rows need, as ``<script>`` elements
(``file://`` allows no ``fetch()``), and all of them before it sorts, filters or searches.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from typing import Any

from gitrun import ranking
from gitrun.entities import Experiment
from gitrun.site import safe
from gitrun.site.builder import Builder, content_key
from gitrun.site.context import ExperimentContext, ExperimentInfo
from gitrun.site.output import digest, digest_text
from gitrun.site.series import browser_series, read_series
from gitrun.store import RunRecord
from gitrun.store.series import series_keys
from gitrun.store.textio import json_number
from gitrun.tags import GIT_COMMIT, NOTE, SYSTEM_PREFIXES, USER

MAX_PCP_PARAMS = 12
MAX_PCP_METRICS = 8
MAX_CATEGORIES = 30
TABLE_VERSION = 1  # the chunks' format: a change rebuilds them all


def page_path(experiment_id: str) -> str:
    return f"experiments/{experiment_id}.html"


def data_path(experiment_id: str) -> str:
    return f"data/experiments/{experiment_id}.js"


def run_label(record: RunRecord) -> str:
    """A run's name in charts, unique thanks to the end of its ID."""
    return f"{record.run_name or record.run_id} ·{record.run_id[-5:].lower()}"


def group_keys(records: list[RunRecord]) -> dict[str, list[str | None]]:
    """The params and tags the runs can be grouped by ("params.lr" -> each run's value, in the
    runs' order; None where a run has none): those with at least two distinct values, and fewer
    distinct values than runs (else every group is one run). System tags are left out."""
    out: dict[str, list[str | None]] = {}
    candidates = [("params", k) for k in sorted({k for r in records for k in r.params})]
    candidates += [
        ("tags", k) for k in sorted({k for r in records for k in r.tags}) if not k.startswith(SYSTEM_PREFIXES)
    ]
    for kind, key in candidates:
        values = [(r.params if kind == "params" else r.tags).get(key) for r in records]
        distinct = set(values)
        if 2 <= len(distinct) < len(values):
            out[f"{kind}.{key}"] = values
    return out


def primary_metric(experiment: Experiment, records: list[RunRecord]) -> str | None:
    if experiment.primary_metric:
        return experiment.primary_metric
    keys = sorted({k for r in records for k in r.summaries})
    return keys[0] if keys else None


def ranked(experiment: Experiment, records: list[RunRecord], metric: str | None) -> list[RunRecord]:
    """Runs best first by ``metric`` and its direction (:mod:`gitrun.ranking`); runs without it last."""
    if metric is None:
        return list(records)
    return ranking.ranked(records, metric, experiment.direction(metric))


def _encode(values: list[Any]) -> dict[str, Any]:
    """A column: plain values, or a dictionary and codes when values repeat a lot."""
    distinct = sorted({v for v in values if v is not None}, key=str)
    if values and len(distinct) * 2 < len(values):
        index = {v: i for i, v in enumerate(distinct)}
        return {"dict": distinct, "codes": [None if v is None else index[v] for v in values]}
    return {"values": values}


def _num(value: float | None) -> Any:
    return json_number(value) if value is not None else None


def _duration(r: RunRecord) -> int | None:
    return (r.end_time - r.start_time) if r.end_time and r.start_time and r.end_time >= r.start_time else None


def _summary(key: str, stat: str) -> Callable[[RunRecord], Any]:
    def get(r: RunRecord) -> Any:
        summary = r.summaries.get(key)
        return None if summary is None else _num(getattr(summary, stat))

    return get


def _param(key: str) -> Callable[[RunRecord], Any]:
    return lambda r: r.params.get(key)


def _tag(key: str) -> Callable[[RunRecord], Any]:
    return lambda r: safe.tag_value(key, r.tags[key]) if key in r.tags else None


Column = tuple[dict[str, Any], Callable[[RunRecord], Any]]  # (what the browser shows, each run's value)


def table_columns(records: list[RunRecord]) -> list[Column]:
    """The runs table's columns for ``records``: attributes, params, metric summaries, tags."""
    columns: list[Column] = []

    def add(
        col_id: str, label: str, kind: str, key: str, typ: str, value: Callable[[RunRecord], Any], **extra: Any
    ) -> None:
        col = {
            "id": col_id,
            "label": label,
            "kind": kind,
            "key": key,
            "type": typ,
            "hidden": extra.pop("hidden", False),
        }
        col.update(extra)
        columns.append((col, value))

    add("run_id", "run ID", "attr", "run_id", "id", lambda r: r.run_id, hidden=True)
    add("run_name", "name", "attr", "run_name", "name", lambda r: r.run_name)
    add("status", "status", "attr", "status", "text", lambda r: r.status)
    add("start_time", "start", "attr", "start_time", "time", lambda r: r.start_time or None)
    add("end_time", "end", "attr", "end_time", "time", lambda r: r.end_time, hidden=True)
    add("duration", "duration", "derived", "duration", "duration", _duration)
    add("user_id", "user", "attr", "user_id", "text", lambda r: str(r.meta.get("user") or r.tags.get(USER) or ""))
    add("commit", "commit", "tag", GIT_COMMIT, "commit", lambda r: r.tags.get(GIT_COMMIT))
    for key in sorted({k for r in records for k in r.params}):
        add(f"p:{key}", key, "param", key, "param", _param(key))
    metric_keys = sorted({k for r in records for k in r.summaries})
    for key in metric_keys:
        add(f"m:{key}", key, "metric", key, "num", _summary(key, "latest"), stat="latest")
    for key in metric_keys:
        for stat in ("min", "max"):
            add(f"m:{key}:{stat}", f"{key} ({stat})", "metric", key, "num", _summary(key, stat), hidden=True, stat=stat)
    for key in sorted({k for r in records for k in r.tags if k not in (NOTE, GIT_COMMIT)}):
        add(f"t:{key}", key, "tag", key, "text", _tag(key), hidden=key.startswith(SYSTEM_PREFIXES))
    return columns


def table_chunk(records: list[RunRecord]) -> dict[str, Any]:
    """The values of a slice of the runs table, by column ID: the columns these runs have a value in
    (a column a chunk leaves out is empty there), each plain or dictionary-encoded."""
    values: dict[str, Any] = {}
    for col, value in table_columns(records):
        column = [value(r) for r in records]
        if any(v is not None for v in column):
            values[col["id"]] = _encode(column)
    return {"rows": len(records), "columns": values}


def split_chunks(records: list[RunRecord], rows: int) -> list[list[RunRecord]]:
    """The runs (newest first, as the table shows them) cut into chunks of about ``rows`` runs.

    The cuts are content-defined: a chunk starts at a run whose ID hashes to 0 modulo ``rows``
    (and after ``4 * rows`` runs without one). A new run, or one merged in from another machine,
    changes only the chunk it falls into, so an incremental build rewrites one chunk, not all."""
    chunks: list[list[RunRecord]] = []
    current: list[RunRecord] = []
    for record in records:
        if current and (len(current) >= 4 * rows or zlib.crc32(record.run_id.encode()) % rows == 0):
            chunks.append(current)
            current = []
        current.append(record)
    if current:
        chunks.append(current)
    return chunks


def chunk_path(experiment_id: str, name: str) -> str:
    return f"data/experiments/{experiment_id}/{name}.js"


def _write_table(builder: Builder, experiment: Experiment, records: list[RunRecord]) -> dict[str, Any]:
    """Write the runs table's chunks (each a unit of its own: only changed ones are rebuilt) and
    return the table's index: its columns (without values), run count, and chunks in row order."""
    index: list[dict[str, Any]] = []
    writer = builder.writer
    for n, chunk in enumerate(split_chunks(records, builder.options.table_chunk_rows)):
        name = "head" if n == 0 else chunk[0].run_id
        data_key = f"chunk:{experiment.experiment_id}:{name}"
        rel = chunk_path(experiment.experiment_id, name)
        index.append({"src": rel, "key": data_key, "rows": len(chunk)})
        unit = f"experiment-chunk:{experiment.experiment_id}:{name}"
        keys: list[Any] = [content_key(builder.snapshot, r) for r in chunk]
        if None in keys:  # a run still running or just written: its record's content is the input
            keys = [k if k is not None else _record_inputs(r) for k, r in zip(keys, chunk, strict=True)]
        key = digest(builder.salt, TABLE_VERSION, [r.run_id for r in chunk], keys)
        if writer.is_fresh(unit, key):
            continue
        writer.begin(unit, key)
        writer.write(rel, safe.js_assign(data_key, table_chunk(chunk)))
        writer.end()
    columns = [col for col, _ in table_columns(records)]
    return {"columns": columns, "count": len(records), "chunks": index}


def _record_inputs(record: RunRecord) -> list[Any]:
    summaries = {k: [s.latest, s.min, s.max, s.step, s.timestamp, s.count] for k, s in record.summaries.items()}
    return [record.status, record.meta, record.params, record.tags, repr(summaries)]  # repr: NaN stays NaN


def table_data(experiment: Experiment, records: list[RunRecord]) -> dict[str, Any]:
    """The whole runs table in one piece: its columns, each with every run's values (for plugins
    and tests; the site writes it in chunks, :func:`table_chunk`)."""
    columns = []
    for col, value in table_columns(records):
        columns.append({**col, **_encode([value(r) for r in records])})
    return {"columns": columns, "count": len(records)}


def _as_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def pcp_data(
    records: list[RunRecord], metric: str | None
) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """Dimensions, line rows and tick rows of the parallel coordinates (params first, then metrics)."""
    dims: list[tuple[str, str, str]] = []  # (label, kind, key)
    params = sorted({k for r in records for k in r.params})
    kept_params = []
    for key in params:
        values = [r.params[key] for r in records if key in r.params]
        numeric = all(_as_float(v) is not None for v in values)
        if numeric or len(set(values)) <= MAX_CATEGORIES:
            kept_params.append(key)
    for key in kept_params[:MAX_PCP_PARAMS]:
        dims.append((f"params.{key}", "param", key))
    metrics = sorted({k for r in records for k in r.summaries}, key=lambda k: (k != metric, k))
    for key in metrics[:MAX_PCP_METRICS]:
        dims.append((f"metrics.{key}", "metric", key))
    rows: list[dict[str, Any]] = []
    ticks: list[dict[str, Any]] = []
    for label, kind, key in dims:
        raw: dict[str, Any] = {}
        for r in records:
            if kind == "param":
                if key in r.params:
                    raw[r.run_id] = r.params[key]
            elif key in r.summaries and math.isfinite(r.summaries[key].latest):
                raw[r.run_id] = r.summaries[key].latest
        maybe = {rid: (_as_float(v) if isinstance(v, str) else v) for rid, v in raw.items()}
        numbers: dict[str, float] = {rid: float(v) for rid, v in maybe.items() if v is not None}
        norm: dict[str, float]
        if raw and len(numbers) == len(raw):
            lo, hi = min(numbers.values()), max(numbers.values())
            span = (hi - lo) or 1.0
            norm = {rid: 0.5 if hi == lo else (v - lo) / span for rid, v in numbers.items()}
            ticks += [{"dim": label, "norm": 0.0 if hi != lo else 0.5, "label": safe.format_number(lo, 4)}]
            if hi != lo:
                ticks.append({"dim": label, "norm": 1.0, "label": safe.format_number(hi, 4)})
        else:
            cats = sorted({str(v) for v in raw.values()})
            pos = {c: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
            norm = {rid: pos[str(v)] for rid, v in raw.items()}
            step = max(1, len(cats) // 10)
            ticks += [{"dim": label, "norm": pos[c], "label": c[:24]} for c in cats[::step]]
        if not raw:
            ticks.append({"dim": label, "norm": 0.5, "label": "(none)"})
        for r in records:
            if r.run_id in norm:
                value = raw[r.run_id]
                color = r.summaries[metric].latest if metric and metric in r.summaries else None
                rows.append(
                    {
                        "run": run_label(r),
                        "dim": label,
                        "norm": round(norm[r.run_id], 6),
                        "raw": safe.format_number(value) if isinstance(value, float) else value,
                        "color": color if color is not None and math.isfinite(color) else None,
                    }
                )
    return [d[0] for d in dims], rows, ticks


def scatter_data(records: list[RunRecord], metric: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Numeric params against ``metric``: one row per (run, param)."""
    params = []
    rows = []
    for key in sorted({k for r in records for k in r.params}):
        values = [(r, _as_float(r.params[key])) for r in records if key in r.params]
        if not values or any(v is None for _, v in values):
            continue
        params.append(key)
        for r, v in values:
            if metric in r.summaries and math.isfinite(r.summaries[metric].latest):
                rows.append({"run": run_label(r), "param": key, "x": v, "y": r.summaries[metric].latest})
    return params, rows


def best_curves(builder: Builder, records: list[RunRecord], metric: str) -> list[dict[str, Any]]:
    """``metric`` over steps for each of ``records`` that logged it (downsampled), from the last
    build when these runs' files are known unchanged (no series is read, numpy is not imported)."""

    def read() -> list[dict[str, Any]]:
        curves = []
        for record in records:
            path = series_keys(record.run_dir).get(metric)
            series = read_series(path, builder.options.strict) if path is not None else None
            if series is None or not len(series.values):
                continue
            shown = browser_series(series, min(builder.options.max_points, 300))
            curves.append(
                {"run": run_label(record), "id": record.run_id, "step": shown["step"], "t": shown["t"], "v": shown["v"]}
            )
        return curves

    keys = [content_key(builder.snapshot, r) for r in records]
    if None in keys or builder.options.strict:  # a run being written (or strict: its warnings must show)
        return read()
    key = digest_text(
        "best-curves",
        builder.salt,
        metric,
        *[f"{r.run_id}:{r.run_name}:{k}" for r, k in zip(records, keys, strict=True)],
    )
    return list(builder.cached(key, read))


def build_all(builder: Builder) -> None:
    """Every experiment's page (the built-in page ``experiment``)."""
    for experiment in builder.snapshot.experiments:
        build(builder, experiment)


def build(builder: Builder, experiment: Experiment) -> None:
    records = builder.snapshot.records[experiment.experiment_id]
    metric = primary_metric(experiment, records)
    best = ranked(experiment, records, metric)
    winner = builder.best(experiment, metric) if metric else None
    data: dict[str, Any] = {
        "experiment": {
            "id": experiment.experiment_id,
            "name": experiment.name,
            "primary_metric": metric,
            "direction": experiment.direction(metric) if metric else None,
        },
        "table": _write_table(builder, experiment, records),
    }
    specs: dict[str, Any] = {}
    best_count = 0
    if metric is not None:
        curves = best_curves(builder, best[: builder.options.best_runs], metric)
        direction = experiment.direction(metric)
        if curves and all(len(c["v"]) == 1 for c in curves):  # logged once per run: a bar per run
            best_count = len(curves)
            data["best"] = {"metric": metric, "bars": [{"run": c["run"], "value": c["v"][0]} for c in curves]}
            specs["best"] = builder.spec("metric_bars", metric=metric, direction=direction)
        elif curves:
            best_count = len(curves)
            drawn = {c["id"] for c in curves}
            grouped = group_keys([r for r in best[: builder.options.best_runs] if r.run_id in drawn])
            data["best"] = {"metric": metric, "runs": curves, "groups": grouped}
            specs["best"] = builder.spec("metric_curves", title=metric, by_run=True, direction=direction)
            if grouped:
                specs["band"] = builder.spec("metric_band", title=metric, direction=direction)
    pcp_runs = best[: builder.options.pcp_max_runs]
    dims, rows, ticks = pcp_data(pcp_runs, metric)
    if len(dims) >= 2 and rows:
        data["pcp"] = {"rows": rows, "ticks": ticks}
        specs["pcp"] = builder.spec("parallel_coordinates", dimensions=dims, color_title=metric or "metric")
    if metric is not None:
        params, points = scatter_data(pcp_runs, metric)  # the same (best) runs as the parallel coordinates
        if params and points:
            data["scatter"] = points
            specs["scatter"] = builder.spec("param_scatter", params=params, metric=metric)
    writer = builder.writer
    writer.begin(f"experiment:{experiment.experiment_id}", "")
    writer.write(data_path(experiment.experiment_id), safe.js_assign(f"experiment:{experiment.experiment_id}", data))
    context = ExperimentContext(
        site=builder.site_info("experiment", 1),
        experiment=ExperimentInfo(
            experiment_id=experiment.experiment_id,
            name=experiment.name,
            primary_metric=metric,
            direction=experiment.direction(metric) if metric else None,
            tags=tuple(sorted(experiment.tags.items())),
            runs=len(records),
            best_value=safe.format_number(winner[1]) if winner else "",
            best_run_name=(winner[0].run_name or winner[0].run_id) if winner else "",
            best_run_href=f"runs/{winner[0].run_id}.html" if winner else None,
        ),
        data_src=data_path(experiment.experiment_id),
        specs=specs,
        best_runs=best_count,
        pcp_runs=len(pcp_runs) if "pcp" in data else 0,
    )
    writer.write(page_path(experiment.experiment_id), builder.render("experiment.html", context))
    writer.end()
