"""Search's entry points: matching run records, MLflow's result DataFrame, experiment filters.

The client, the CLI and the site call these; ``gitrun.search_runs`` (the fluent function, in
``gitrun.tracking.fluent``) adds the active experiment and MLflow's argument rules on top. The
grammar lives in ``gitrun.search.grammar`` (docs/search.md). pandas is imported inside
:func:`rows_to_dataframe` only, so ``import gitrun`` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gitrun.entities import Experiment, ViewType
from gitrun.search.engine import search_rows
from gitrun.search.evaluate import _sort_value, compile_filter, getter
from gitrun.search.grammar import EXPERIMENT_SCHEMA, parse_filter, parse_order_by

if TYPE_CHECKING:
    import pandas

    from gitrun.search.rows import RunRow
    from gitrun.store import ReadStore, RunRecord

__all__ = ["filter_experiments", "order_experiments", "rows_to_dataframe", "search_run_records"]

SEARCH_MAX_RESULTS_PANDAS = 100_000
INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")


def search_run_records(
    store: ReadStore,
    experiment_ids: Sequence[str] | str | None = None,
    filter_string: str | None = "",
    view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    order_by: Sequence[str] | str | None = None,
    *,
    use_index: bool | None = None,
) -> list[RunRecord]:
    """Matching runs as store records (what the client and the CLI render).

    ``experiment_ids`` None means every experiment of the store. ``use_index`` False reads the
    files only (as does ``GITRUN_NO_INDEX=1``).
    """
    rows = search_rows(store, experiment_ids, filter_string, view_type, max_results, order_by, use_index)
    return [row.to_record() for row in rows]


def rows_to_dataframe(rows: Sequence[RunRow]) -> pandas.DataFrame:
    """MLflow's DataFrame: info columns, then ``metrics.*`` (NaN when missing), ``params.*`` and
    ``tags.*`` (None when missing), each group sorted by key; times as UTC datetimes."""
    import pandas as pd

    if not rows:
        return pd.DataFrame({name: [] for name in INFO_COLUMNS})
    metrics = [row.metrics() for row in rows]
    params = [row.params() for row in rows]
    tags = [row.tags() for row in rows]
    data: dict[str, Any] = {
        "run_id": [row.run_id for row in rows],
        "experiment_id": [row.experiment_id for row in rows],
        "status": [row.status() for row in rows],
        "artifact_uri": [row.artifact_uri() for row in rows],
        "start_time": pd.to_datetime([row.attribute("start_time") for row in rows], unit="ms", utc=True),
        "end_time": pd.to_datetime([_nan_if_none(row.attribute("end_time")) for row in rows], unit="ms", utc=True),
    }
    for prefix, dicts, missing in (("metrics.", metrics, math.nan), ("params.", params, None), ("tags.", tags, None)):
        keys = sorted({k for d in dicts for k in d})
        for key in keys:
            data[prefix + key] = [d.get(key, missing) for d in dicts]
    return pd.DataFrame(data)


def _nan_if_none(value: int | None) -> float:
    return math.nan if value is None else value


def filter_experiments(experiments: Sequence[Experiment], filter_string: str | None) -> list[Experiment]:
    """The experiments matching a ``search_experiments`` filter (attributes ``name``,
    ``experiment_id``, ``creation_time``, ``last_update_time``; ``tags.*``), in the given order."""
    predicate = compile_filter(parse_filter(filter_string, EXPERIMENT_SCHEMA), EXPERIMENT_SCHEMA.numeric_attributes)
    if predicate is None:
        return list(experiments)
    return [e for e in experiments if predicate(_ExperimentLookup(e))]


DEFAULT_EXPERIMENT_ORDER = ("creation_time DESC", "experiment_id ASC")  # MLflow's


def order_experiments(experiments: Sequence[Experiment], order_by: Sequence[str] | None) -> list[Experiment]:
    """Experiments sorted as MLflow's ``search_experiments`` sorts them: by ``order_by`` clauses
    (``"name DESC"``, ``"tags.team"``...), then ``experiment_id DESC`` unless a clause names it;
    stable, None sorting last in both directions. Without clauses, newest first
    (``creation_time DESC, experiment_id ASC``), an experiment without runs counting as the newest
    (its ``creation_time``, derived from its oldest run, is None)."""
    out = list(experiments)
    if not order_by:
        out = _order(out, DEFAULT_EXPERIMENT_ORDER)
        return sorted(out, key=lambda e: e.creation_time is not None)  # stable: runless first
    clauses = list(order_by)
    if not any(parse_order_by(c, EXPERIMENT_SCHEMA).field.key == "experiment_id" for c in clauses):
        clauses.append("experiment_id DESC")  # MLflow's tie-breaker
    return _order(out, clauses)


def _order(experiments: list[Experiment], clauses: Sequence[str]) -> list[Experiment]:
    out = experiments
    for clause in reversed(list(clauses)):
        order = parse_order_by(clause, EXPERIMENT_SCHEMA)
        get, ascending = getter(order.field), order.ascending
        out.sort(key=lambda e: _sort_value(get(_ExperimentLookup(e)), ascending), reverse=not ascending)
    return out


class _ExperimentLookup:
    __slots__ = ("experiment",)

    def __init__(self, experiment: Experiment):
        self.experiment = experiment

    def metric(self, key: str) -> None:
        return None

    def param(self, key: str) -> None:
        return None

    def tag(self, key: str) -> str | None:
        return self.experiment.tags.get(key)

    def attribute(self, key: str) -> Any:
        return getattr(self.experiment, key)
