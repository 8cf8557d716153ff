"""Logged models (MLflow 3's ``LoggedModel``): the models the store's runs hold.

A logged model is a model folder in a run's ``artifacts/`` whose MLmodel has a ``model_id``
(``m-<32 hex>``). ``get_logged_model`` / ``search_logged_models`` read them from the runs;
a model's metrics are those logged for it with ``log_metric(model_id=...)`` (any run's
``model_metrics.jsonl``) and, as MLflow 3 links them, its source run's metrics of the step it was
logged at (``step=`` of ``log_model``, default 0) logged before it. Search filters use the runs'
grammar over ``name``, ``model_id``, ``creation_time``, ``source_run_id``, ``model_type``,
``status``, ``metrics.*``, ``params.*`` and ``tags.*``.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitrun.entities import Metric, ViewType
from gitrun.errors import InvalidInputError
from gitrun.models.mlmodel import MLMODEL_FILE, MLModel, ModelFormatError, parse_mlmodel, read_mlmodel
from gitrun.models.signature import ModelSignature
from gitrun.models.uri import ModelNotFoundError, list_models
from gitrun.search.grammar import ATTRIBUTE, Schema

if TYPE_CHECKING:
    import pandas

    from gitrun.store import ReadStore, RunRecord

LOGGED_MODEL_SCHEMA = Schema(
    prefixes={
        "metric": "metric",
        "metrics": "metric",
        "param": "param",
        "params": "param",
        "tag": "tag",
        "tags": "tag",
        "attribute": ATTRIBUTE,
        "attributes": ATTRIBUTE,
    },
    attributes=frozenset(
        {
            "name",
            "model_id",
            "creation_time",
            "creation_timestamp",
            "last_updated_timestamp",
            "source_run_id",
            "experiment_id",
            "model_type",
            "status",
        }
    ),
    numeric_attributes=frozenset({"creation_time", "creation_timestamp", "last_updated_timestamp"}),
    aliases={},
    what="logged model",
)

_logged: dict[str, Path] = {}  # model IDs this process logged -> their folders (found without a scan)
_logged_lock = threading.Lock()


def remember_logged(model_id: str, folder: Path) -> None:
    with _logged_lock:
        _logged[model_id] = folder


def created_ms(mlmodel: MLModel) -> int:
    """``utc_time_created`` (naive UTC text) as milliseconds since the epoch (0 when unreadable)."""
    try:
        when = dt.datetime.fromisoformat(mlmodel.utc_time_created).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return 0
    return int(when.timestamp() * 1000)


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` returns (MLflow's ``ModelInfo`` names)."""

    artifact_path: str
    flavors: Mapping[str, Any]
    model_uri: str
    model_uuid: str | None
    run_id: str | None
    saved_input_example_info: Mapping[str, Any] | None
    signature: ModelSignature | None
    utc_time_created: str
    mlflow_version: str | None
    metadata: Mapping[str, Any] | None
    model_id: str | None
    name: str
    local_path: Path
    registered_model_version: int | None = None

    @property
    def signature_dict(self) -> dict[str, Any] | None:
        return self.signature.to_dict() if self.signature else None

    @classmethod
    def from_mlmodel(cls, mlmodel: MLModel, folder: Path) -> ModelInfo:
        name = mlmodel.artifact_path or folder.name
        uri = f"models:/{mlmodel.model_id}" if mlmodel.model_id else str(folder)
        return cls(
            artifact_path=name,
            flavors=mlmodel.flavors,
            model_uri=uri,
            model_uuid=mlmodel.model_uuid,
            run_id=mlmodel.run_id,
            saved_input_example_info=mlmodel.saved_input_example_info,
            signature=mlmodel.signature,
            utc_time_created=mlmodel.utc_time_created,
            mlflow_version=mlmodel.mlflow_version,
            metadata=mlmodel.metadata,
            model_id=mlmodel.model_id,
            name=name,
            local_path=folder,
        )


@dataclass(frozen=True)
class LoggedModel:
    """MLflow 3's ``LoggedModel``, read from a run's model folder."""

    model_id: str
    name: str
    experiment_id: str
    source_run_id: str
    artifact_location: str  # file: URI of the folder
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str | None = None
    status: str = "READY"
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    flavors: tuple[str, ...] = ()
    registered_model_name: str | None = None

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"

    @property
    def creation_time(self) -> int:
        return self.creation_timestamp

    # the Lookup protocol of gitrun.search.evaluate
    def metric(self, key: str) -> float | None:
        values = [m for m in self.metrics if m.key == key]
        return max(values, key=lambda m: (m.step, m.timestamp)).value if values else None

    def param(self, key: str) -> str | None:
        return self.params.get(key)

    def tag(self, key: str) -> str | None:
        return self.tags.get(key)

    def attribute(self, key: str) -> Any:
        if key == "creation_time":
            return self.creation_timestamp
        return getattr(self, key, None)


def _logged_info(mlmodel: MLModel) -> Mapping[str, Any]:
    info = mlmodel.extra.get("logged_model")
    return info if isinstance(info, Mapping) else {}


def _run_dir(store: ReadStore, record: RunRecord) -> Path:
    """The run's folder with its files (a view of a past commit writes them on first use)."""
    return store.find_run_dir(record.run_id)[1] if store.revision is not None else record.run_dir


def _iter_model_folders(store: ReadStore, records: Iterable[RunRecord]) -> Iterator[tuple[RunRecord, str, Path]]:
    for record in records:
        artifacts = _run_dir(store, record) / "artifacts"
        for rel in list_models(artifacts):
            yield record, rel, artifacts / rel


def _model_metrics(store: ReadStore, records: Sequence[RunRecord]) -> dict[str, list[Metric]]:
    from gitrun.store import model_metrics

    out: dict[str, list[Metric]] = {}
    for record in records:
        for metric in model_metrics.read(_run_dir(store, record), record.run_id):
            out.setdefault(str(metric.model_id), []).append(metric)
    return out


def _step_metrics(store: ReadStore, record: RunRecord, model_id: str, step: int, before_ms: int) -> list[Metric]:
    """The source run's metric values at the model's step, logged before the model (MLflow 3's link)."""
    from dataclasses import replace

    out = []
    for key in record.summaries:
        for point in store.metric_history(record.run_id, key):
            if point.step == step and point.timestamp <= before_ms:
                out.append(replace(point, model_id=model_id, run_id=record.run_id))
    return out


def _build(
    store: ReadStore, record: RunRecord, rel: str, folder: Path, mlmodel: MLModel, linked: list[Metric]
) -> LoggedModel:
    info = _logged_info(mlmodel)
    created = created_ms(mlmodel)
    assert mlmodel.model_id is not None
    step = int(info.get("step") or 0)
    metrics = _step_metrics(store, record, mlmodel.model_id, step, created) + linked
    params = {**dict(record.params), **{str(k): str(v) for k, v in (info.get("params") or {}).items()}}
    return LoggedModel(
        model_id=mlmodel.model_id,
        name=rel,
        experiment_id=record.experiment_id,
        source_run_id=record.run_id,
        artifact_location=folder.as_uri(),
        creation_timestamp=created,
        last_updated_timestamp=created,
        model_type=info.get("model_type"),
        tags={str(k): str(v) for k, v in (info.get("tags") or {}).items()},
        params=params,
        metrics=metrics,
        flavors=tuple(sorted(mlmodel.flavors)),
        registered_model_name=info.get("registered_model_name"),
    )


def logged_models(store: ReadStore, experiment_ids: Sequence[str] | None = None) -> list[LoggedModel]:
    """Every logged model of the runs of ``experiment_ids`` (all experiments when None)."""
    records = list(store.iter_runs(experiment_ids, ViewType.ALL))
    linked = _model_metrics(store, list(store.iter_runs(None, ViewType.ALL)) if experiment_ids else records)
    out = []
    for record, rel, folder in _iter_model_folders(store, records):
        try:
            mlmodel = read_mlmodel(folder)
        except ModelFormatError:
            continue
        if mlmodel.model_id:
            out.append(_build(store, record, rel, folder, mlmodel, linked.get(mlmodel.model_id, [])))
    return out


def get_logged_model(model_id: str, *, rev: str | None = None, store: ReadStore | None = None) -> LoggedModel:
    """The logged model ``model_id`` (``m-...``), as the work tree holds it or as committed at ``rev``."""
    from gitrun.tracking.state import current_store

    base = store if store is not None else current_store()
    view = _store_view(base, rev)
    found = find_logged_model(base, model_id, rev)
    if found is None:
        where = f"at {rev}" if rev else f"in {base.root}"
        raise ModelNotFoundError(f"no logged model {model_id} {where}")
    run_id, _, rel, _ = found
    record = view.read_run(run_id)
    folder = view.find_run_dir(run_id)[1] / "artifacts" / rel
    linked = _model_metrics(view, list(view.iter_runs(None, ViewType.ALL))).get(model_id, [])
    return _build(view, record, rel, folder, read_mlmodel(folder), linked)


def _store_view(store: ReadStore, rev: str | None) -> ReadStore:
    if rev is None:
        return store
    from gitrun.vcs.revision import store_at

    return store_at(store, rev)


def find_logged_model(store: ReadStore, model_id: str, rev: str | None) -> tuple[str, str, str, str | None] | None:
    """``(run ID, experiment ID, artifact path, commit or None)`` of the logged model ``model_id``."""
    if rev is None:
        folder = _logged.get(model_id)
        if folder is not None and store.root in folder.parents and _has_id(folder / MLMODEL_FILE, model_id):
            run_dir = folder
            while run_dir.parent.name != "runs" and run_dir != run_dir.parent:
                run_dir = run_dir.parent
            return run_dir.name, run_dir.parent.parent.name, folder.relative_to(run_dir / "artifacts").as_posix(), None
        for record in store.iter_runs(None, ViewType.ALL):
            artifacts = record.run_dir / "artifacts"
            for rel in list_models(artifacts):
                if _has_id(artifacts / rel / MLMODEL_FILE, model_id):
                    return record.run_id, record.experiment_id, rel, None
        return None
    return _find_at_revision(store, model_id, rev)


def _has_id(path: Path, model_id: str) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    return f"model_id: {model_id}" in text


def _find_at_revision(store: ReadStore, model_id: str, rev: str) -> tuple[str, str, str, str | None] | None:
    from gitrun.vcs.git import GitRepo

    repo = GitRepo.find(store.root)
    commit = repo.rev_parse(rev)
    rel = os.path.relpath(store.root.resolve(), repo.root.resolve()).replace(os.sep, "/")
    experiments = "experiments" if rel == "." else f"{rel}/experiments"
    raw = repo.ls_tree_raw(f"{commit}:{experiments}")
    candidates = [
        (sha.decode(), path.decode("utf-8", "surrogateescape"))
        for _, sha, _, path in raw
        if path.endswith(b"/" + MLMODEL_FILE.encode())
    ]
    blobs = repo.read_blobs([sha for sha, _ in candidates])
    for sha, path in candidates:
        parts = path.split("/")
        if len(parts) < 6 or parts[1] != "runs" or parts[3] != "artifacts":
            continue
        if f"model_id: {model_id}".encode() in blobs.get(sha, b""):
            try:
                parse_mlmodel(blobs[sha].decode("utf-8"), path)
            except (ModelFormatError, UnicodeDecodeError):
                continue
            return parts[2], parts[0], "/".join(parts[4:-1]), commit
    return None


def search_logged_models(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    datasets: Sequence[Mapping[str, str]] | None = None,
    max_results: int | None = None,
    order_by: Sequence[Mapping[str, Any] | str] | None = None,
    output_format: str = "pandas",
    *,
    rev: str | None = None,
    store: ReadStore | None = None,
) -> list[LoggedModel] | pandas.DataFrame:
    """Logged models matching ``filter_string``, newest first (MLflow 3's ``search_logged_models``)."""
    from gitrun.search.evaluate import compile_filter, getter
    from gitrun.search.grammar import parse_filter, parse_order_by
    from gitrun.tracking.state import current_store

    if output_format not in ("pandas", "list"):
        raise InvalidInputError(f"unsupported output_format {output_format!r}; use 'pandas' or 'list'")
    view = _store_view(store if store is not None else current_store(), rev)
    models = logged_models(view, [str(e) for e in experiment_ids] if experiment_ids else None)
    predicate = compile_filter(parse_filter(filter_string, LOGGED_MODEL_SCHEMA), LOGGED_MODEL_SCHEMA.numeric_attributes)
    if predicate is not None:
        models = [m for m in models if predicate(m)]
    if datasets:
        wanted = [(d.get("dataset_name"), d.get("dataset_digest")) for d in datasets]
        models = [m for m in models if any(_has_dataset(m, name, digest) for name, digest in wanted)]
    models.sort(key=lambda m: (m.creation_timestamp, m.model_id), reverse=True)
    for clause in reversed(list(order_by or ())):
        if isinstance(clause, Mapping):
            text = f"{clause.get('field_name')} {'ASC' if clause.get('ascending', True) else 'DESC'}"
        else:
            text = str(clause)
        order = parse_order_by(text, LOGGED_MODEL_SCHEMA)
        get = getter(order.field)
        present = [m for m in models if get(m) is not None]
        absent = [m for m in models if get(m) is None]
        present.sort(key=get, reverse=not order.ascending)
        models = present + absent
    if max_results is not None:
        models = models[:max_results]
    if output_format == "list":
        return models
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "model_id": m.model_id,
                "name": m.name,
                "experiment_id": m.experiment_id,
                "source_run_id": m.source_run_id,
                "artifact_location": m.artifact_location,
                "creation_timestamp": m.creation_timestamp,
                "last_updated_timestamp": m.last_updated_timestamp,
                "model_type": m.model_type,
                "status": m.status,
                "tags": m.tags,
                "params": m.params,
                "metrics": m.metrics,
            }
            for m in models
        ]
    )


def _has_dataset(model: LoggedModel, name: str | None, digest: str | None) -> bool:
    return any(
        (name is None or m.dataset_name == name) and (digest is None or m.dataset_digest == digest)
        for m in model.metrics
    )
