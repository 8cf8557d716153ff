"""Experiment-level summaries the CLI and, later, the site show."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gitrun import ranking
from gitrun.entities import Experiment, ViewType
from gitrun.store import ReadStore, RunRecord


@dataclass(frozen=True)
class ExperimentOverview:
    experiment_id: str
    name: str
    runs: int
    primary_metric: str | None
    direction: str | None
    best_run_id: str | None
    best_run_name: str | None
    best_value: float | None
    lifecycle_stage: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def best_run(
    experiment: Experiment, records: list[RunRecord], metric: str | None = None
) -> tuple[RunRecord, float] | None:
    """The best run by ``metric`` (default: the primary metric) and its direction (:mod:`gitrun.ranking`)."""
    metric = metric or experiment.primary_metric
    if not metric:
        return None
    return ranking.best_run(records, metric, experiment.direction(metric))


def experiment_overview(store: ReadStore, view_type: int = ViewType.ACTIVE_ONLY) -> list[ExperimentOverview]:
    out = []
    for exp in store.list_experiments(view_type):
        records = list(store.iter_runs([exp.experiment_id]))
        best = best_run(exp, records)
        out.append(
            ExperimentOverview(
                experiment_id=exp.experiment_id,
                name=exp.name,
                runs=len(records),
                primary_metric=exp.primary_metric,
                direction=exp.direction(exp.primary_metric) if exp.primary_metric else None,
                best_run_id=best[0].run_id if best else None,
                best_run_name=best[0].run_name if best else None,
                best_value=best[1] if best else None,
                lifecycle_stage=exp.lifecycle_stage,
            )
        )
    return out
