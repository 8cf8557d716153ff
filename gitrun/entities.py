"""MLflow-shaped value objects: what the API returns.

Field names follow ``mlflow.entities`` so code written against MLflow reads gitrun's results
unchanged (``run.info.run_id``, ``run.data.metrics["loss"]``, ``metric.step``...). They are
plain frozen dataclasses built by the store reader; nothing here touches the disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gitrun.errors import InvalidInputError
from gitrun.settings import default_direction


class RunStatus:
    """Run status names, as MLflow spells them."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    # Not a status a run can have: ``gitrun commit``'s mark for a run whose folder is gone (gc), so
    # the commit records its removal.
    DELETED = "DELETED"
    TERMINATED = (FINISHED, FAILED, KILLED)

    @classmethod
    def is_terminated(cls, status: str) -> bool:
        return status in cls.TERMINATED


class ViewType:
    """Which runs a search sees, by lifecycle stage (MLflow's values)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    @classmethod
    def from_any(cls, value: int | str | None) -> int:
        if value is None:
            return cls.ACTIVE_ONLY
        if isinstance(value, str):
            names = {"ACTIVE_ONLY": 1, "DELETED_ONLY": 2, "ALL": 3}
            try:
                return names[value.upper()]
            except KeyError:
                raise InvalidInputError(f"unknown run view type {value!r}; use one of {sorted(names)}") from None
        if value not in (1, 2, 3):
            raise InvalidInputError(f"unknown run view type {value!r}; use ViewType.ACTIVE_ONLY, DELETED_ONLY or ALL")
        return int(value)


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"


# The keys of the metrics sampled by start_run(log_system_metrics=True) (MLflow's ``system/...``
# names, gitrun.tracking.system_metrics); the site draws them in a section of their own.
SYSTEM_METRIC_PREFIX = "system/"


@dataclass(frozen=True)
class Metric:
    """One point of a metric series."""

    key: str
    value: float
    timestamp: int
    step: int = 0
    # MLflow 3: a metric logged for a model (log_metric(model_id=...)), on a dataset, by a run
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None
    run_id: str | None = None

    def __eq__(self, other: object) -> bool:
        # NaN == NaN here, so round trips of series holding NaN compare equal.
        if not isinstance(other, Metric):
            return NotImplemented
        same_value = self.value == other.value or (math.isnan(self.value) and math.isnan(other.value))
        return (self.key, self.timestamp, self.step) == (other.key, other.timestamp, other.step) and same_value

    def __hash__(self) -> int:
        return hash((self.key, self.timestamp, self.step))


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str


@dataclass(frozen=True)
class ExperimentTag:
    key: str
    value: str


@dataclass(frozen=True)
class InputTag:
    """A tag of a dataset input (``mlflow.data.context``...)."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """Latest, min and max of one metric series (what ``metrics.json`` holds per key)."""

    key: str
    latest: float
    min: float
    max: float
    step: int
    timestamp: int
    count: int


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE

    @property
    def run_uuid(self) -> str:
        """MLflow's deprecated alias of ``run_id``."""
        return self.run_id


@dataclass(frozen=True)
class RunData:
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoggedModelInput:
    """A logged model as one run's input (MLflow 3's ``LoggedModelInput``: ``log_input(model=...)``)."""

    model_id: str


@dataclass(frozen=True)
class RunInputs:
    """A run's inputs (MLflow's ``run.inputs``): its datasets and models, as ``<run>/inputs.json``
    records them."""

    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[LoggedModelInput] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData
    inputs: RunInputs = field(default_factory=lambda: RunInputs())  # filled by get_run (not by search_runs)

    def to_dictionary(self) -> dict[str, Any]:
        return {
            "info": {k: getattr(self.info, k) for k in self.info.__dataclass_fields__},
            "data": {
                "metrics": dict(self.data.metrics),
                "params": dict(self.data.params),
                "tags": dict(self.data.tags),
            },
        }


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    primary_metric: str | None = None
    directions: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None

    def direction(self, metric: str) -> str:
        """'min' or 'max' for ``metric``: the experiment's setting, else gitrun's naming rule."""
        return self.directions.get(metric) or default_direction(metric)


@dataclass(frozen=True)
class FileInfo:
    """An artifact file or directory, relative to the run's artifact root."""

    path: str
    is_dir: bool
    file_size: int | None


@dataclass(frozen=True)
class Dataset:
    """A dataset a run used, with MLflow's fields (``mlflow.entities.Dataset``): ``source`` is the
    JSON text of its source (for DVC: path, hash, repository), ``schema`` and ``profile`` JSON
    text or None."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class DatasetInput:
    """A dataset as one run's input, with its input tags (``mlflow.data.context``: training, dvc.dep...)."""

    dataset: Dataset
    tags: dict[str, str] = field(default_factory=dict)
