"""Which run is best, and runs in order of a metric: one rule that every feature applies.

``gitrun commit``'s message, ``gitrun experiments list``, the site (home, experiment and history
pages), ``gitrun diff`` (its best runs and its run tables), the ``--check`` gate and the
pull-request report all rank runs here, so two runs tied on the metric never make them name
different winners.

The rule, for a metric and its direction (``"min"``: lower is better, anything else: higher):

1. the better latest value wins (``+inf`` is the best a ``max`` metric can reach, ``-inf`` the
   best of a ``min`` one);
2. on a tie, the run that ended first: it got there first. A run with no end time (still
   running, or killed before it could end) comes after the runs that ended;
3. then the smaller run ID (run IDs sort by creation time).

NaN and missing values never win: runs without a number for the metric rank after every run
that has one, and among themselves by the same tie-break (2, then 3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, TypeVar

MIN, MAX = "min", "max"

# (no value?, signed value, no end time?, end time, run ID): the smaller key ranks first.
RankKey = tuple[bool, float, bool, int, str]


class Rankable(Protocol):
    """What ranking reads of a run: a store record, a diff's run summary..."""

    @property
    def run_id(self) -> str: ...

    @property
    def end_time(self) -> int | None: ...

    @property
    def metrics(self) -> Mapping[str, float]: ...


R = TypeVar("R", bound=Rankable)


def rank_key(value: float | None, direction: str | None, end_time: int | None, run_id: str) -> RankKey:
    """The sort key of one run by the rule above: better runs have smaller keys."""
    ended = end_time is not None
    if value is None or value != value:  # missing or NaN: after every number
        return (True, 0.0, not ended, end_time or 0, run_id)
    return (False, value if direction == MIN else -value, not ended, end_time or 0, run_id)


def _key_of(run: Rankable, metric: str, direction: str | None) -> RankKey:
    return rank_key(run.metrics.get(metric), direction, run.end_time, run.run_id)


def ranked(runs: Iterable[R], metric: str, direction: str | None) -> list[R]:
    """``runs`` best first by ``metric``; runs without a number for it last."""
    return sorted(runs, key=lambda run: _key_of(run, metric, direction))


def best_run(runs: Iterable[R], metric: str | None, direction: str | None) -> tuple[R, float] | None:
    """The best run by ``metric`` and its latest value; None when no run has a number for it."""
    if not metric:
        return None
    candidates = [run for run in runs if _has_number(run.metrics.get(metric))]
    if not candidates:
        return None
    best = min(candidates, key=lambda run: _key_of(run, metric, direction))
    return best, best.metrics[metric]


def best_runs(
    runs: Iterable[R],
    directions: Mapping[str, str],
    metrics_of: Callable[[R], Mapping[str, float]] | None = None,
) -> dict[str, tuple[R, float]]:
    """:func:`best_run` for every metric at once, in one pass over the runs.

    ``metrics_of`` gives a run's metrics when the caller has them at hand already (a store
    record builds its ``metrics`` dict on every access).
    """
    best: dict[str, tuple[RankKey, R, float]] = {}
    for run in runs:
        metrics = run.metrics if metrics_of is None else metrics_of(run)
        end_time = run.end_time
        for key, value in metrics.items():
            if value != value:  # NaN never wins
                continue
            candidate = rank_key(value, directions.get(key), end_time, run.run_id)
            current = best.get(key)
            if current is None or candidate < current[0]:
                best[key] = (candidate, run, value)
    return {key: (run, value) for key, (_, run, value) in best.items()}


def is_better(value: float, than: float, direction: str | None) -> bool:
    """True when ``value`` beats ``than`` by ``direction`` (never for NaN, never for equal values)."""
    return value < than if direction == MIN else value > than


def best_value(values: Iterable[float], direction: str | None) -> float | None:
    """The best of ``values`` by ``direction``, NaN left out; None when nothing is left."""
    numbers = [v for v in values if v == v]
    if not numbers:
        return None
    return min(numbers) if direction == MIN else max(numbers)


def _has_number(value: float | None) -> bool:
    return value is not None and value == value
