"""``gitrun.Client`` (alias ``MlflowClient``): explicit, run-ID-first access to a store.

Method names and signatures follow ``mlflow.MlflowClient``. Like MLflow's client,
``create_run`` adds no context tags (user, Git...); the fluent ``gitrun.start_run`` does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitrun.entities import DatasetInput, Experiment, FileInfo, Metric, Param, Run, RunStatus, RunTag, ViewType
from gitrun.errors import InvalidInputError, RunStateError
from gitrun.plugins import store_at
from gitrun.search.api import filter_experiments, order_experiments, rows_to_dataframe, search_run_records
from gitrun.search.engine import search_rows
from gitrun.store import ReadStore, Store, model_metrics
from gitrun.store.names import generate_run_name
from gitrun.store.validation import validate_key, validate_metric_value, validate_step, validate_timestamp
from gitrun.store.writer import now_ms
from gitrun.tags import LOGGED_ARTIFACTS, LOGGED_IMAGES, PARENT_RUN_ID, RUN_NAME, USER
from gitrun.tracking import artifacts as _artifacts
from gitrun.tracking import inputs as _inputs
from gitrun.tracking import tables as _tables
from gitrun.tracking.state import STATE

if TYPE_CHECKING:
    import pandas


class Client:
    """A client of one store (``tracking_uri``: a store directory or Git work-tree root).

    With ``rev``, a read-only client of the store as committed at that revision (no checkout).
    """

    def __init__(
        self, tracking_uri: str | os.PathLike[str] | None = None, *, strict: bool = False, rev: str | None = None
    ):
        self.store: ReadStore = Store(STATE.store_root() if tracking_uri is None else tracking_uri, strict=strict)
        if rev is not None:
            self.store = store_at(self.store, rev)

    @property
    def writable_store(self) -> Store:
        """The store, for writing: a client at a revision is read-only."""
        if not isinstance(self.store, Store):
            raise RunStateError(
                f"this client reads the store as committed at {self.store.revision}, which is read-only; "
                "write through a Client without rev="
            )
        return self.store

    @property
    def tracking_uri(self) -> str:
        return str(self.store.root)

    # -- experiments -----------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
        *,
        primary_metric: str | None = None,
        directions: Mapping[str, str] | None = None,
    ) -> str:
        """Create an experiment; its ID derives from its exact name (docs/format.md, "Experiment
        IDs"). ``artifact_location`` is ignored (artifacts always live beside the run, so they
        travel with it through Git)."""
        return self.writable_store.create_experiment(
            name, tags=tags, primary_metric=primary_metric, directions=directions
        )

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
    ) -> list[Experiment]:
        """As MLflow's: newest first unless ``order_by`` says otherwise (:func:`order_experiments`)."""
        experiments = self.store.list_experiments(ViewType.from_any(view_type))
        experiments = order_experiments(filter_experiments(experiments, filter_string), order_by)
        return experiments[:max_results] if max_results else experiments

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self.writable_store.update_experiment(experiment_id, tags={validate_key("tag", key): value})

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self.writable_store.update_experiment(experiment_id, delete_tags=[key])

    def delete_experiment(self, experiment_id: str) -> None:
        self.writable_store.update_experiment(experiment_id, lifecycle_stage="deleted")

    def restore_experiment(self, experiment_id: str) -> None:
        self.writable_store.update_experiment(experiment_id, lifecycle_stage="active")

    # -- runs ------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        user_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        tagged = user_tags.get(RUN_NAME)
        if run_name and tagged and tagged != run_name:
            raise InvalidInputError(
                f"create_run got run_name={run_name!r} and a different mlflow.runName tag {tagged!r}; "
                "give the name once (MLflow refuses this too)"
            )
        name = run_name or tagged or generate_run_name()
        user_tags[RUN_NAME] = name
        run_id = self.writable_store.create_run(
            str(experiment_id),
            run_name=name,
            start_time=start_time,
            tags=user_tags,
            parent_run_id=user_tags.get(PARENT_RUN_ID),
            user=user_tags.get(USER, ""),
        )
        return self.store.get_run(run_id)

    def get_run(self, run_id: str) -> Run:
        return self.store.get_run(run_id)

    def get_parent_run(self, run_id: str) -> Run | None:
        parent = self.store.get_run(run_id).data.tags.get(PARENT_RUN_ID)
        return self.store.get_run(parent) if parent else None

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        if name:  # the tag renames the run (meta.json's run_name too); an empty name changes nothing, as in MLflow
            self.writable_store.writable(run_id).set_tags({RUN_NAME: name})
        if status is not None:
            self.writable_store.writable(run_id).update_meta(status=status)

    def set_terminated(self, run_id: str, status: str | None = None, end_time: int | None = None) -> None:
        self.writable_store.set_terminated(run_id, status or RunStatus.FINISHED, end_time)

    def delete_run(self, run_id: str) -> None:
        self.writable_store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self.writable_store.restore_run(run_id)

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> list[Run]:
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        records = search_run_records(
            self.store, ids, filter_string, ViewType.from_any(run_view_type), max_results, order_by
        )
        return [self.store.to_run(r) for r in records]

    # -- logging ---------------------------------------------------------------------------
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        model_id: str | None = None,
        dataset: Any = None,
        **_: Any,
    ) -> None:
        """Append one point; ``model_id`` (MLflow 3) also records it as a metric of that logged model."""
        writer = self.writable_store.writable(run_id)
        if model_id is not None and timestamp is None:
            timestamp = now_ms()
        writer.log_metric(key, value, step, timestamp)
        if model_id is not None:
            assert timestamp is not None
            model_metrics.link(writer.run_dir, {key: value}, step, timestamp, model_id, dataset)

    def log_param(self, run_id: str, key: str, value: Any, **_: Any) -> Any:
        self.writable_store.writable(run_id).log_params({key: value})
        return value

    def set_tag(self, run_id: str, key: str, value: Any, **_: Any) -> None:
        self.writable_store.writable(run_id).set_tags({key: value})

    def delete_tag(self, run_id: str, key: str) -> None:
        self.writable_store.writable(run_id).delete_tag(key)

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Metric] = (),
        params: Iterable[Param] = (),
        tags: Iterable[RunTag] = (),
        **_: Any,
    ) -> None:
        """Log many values at once. All are validated before any is written."""
        writer = self.writable_store.writable(run_id)
        points = [(m.key, m.value, m.step, m.timestamp) for m in metrics]
        params_dict = {p.key: p.value for p in params}
        tags_dict = {t.key: t.value for t in tags}
        for key in tags_dict:
            validate_key("tag", key, run_id)
        for key, value, step, timestamp in points:  # metrics too, before params or tags are written
            validate_key("metric", key, run_id)
            validate_metric_value(key, value, run_id)
            validate_step(key, step)
            validate_timestamp(key, timestamp)
        if params_dict:
            writer.log_params(params_dict)
        if tags_dict:
            writer.set_tags(tags_dict)
        if points:
            writer.log_metric_points(points)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] | None = None, models: Any = None) -> None:
        """Record ``DatasetInput``s (a ``Dataset`` entity with its input tags) and MLflow 3's
        ``LoggedModelInput``s (logged models the run used) for the run."""
        found = [
            DatasetInput(_inputs.dataset_entity(d.dataset, {}), dict(d.tags)) for d in datasets or () if d is not None
        ]
        _inputs.log_inputs(self.writable_store.writable(run_id).run_dir, found, _inputs.model_inputs(models))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self.store.metric_history(run_id, key)

    # -- artifacts -------------------------------------------------------------------------
    def _artifact_root(self, run_id: str) -> Path:
        self.writable_store.writable(run_id)
        return self.store.artifact_dir(run_id)

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        _artifacts.log_artifact(self._artifact_root(run_id), local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        _artifacts.log_artifacts(self._artifact_root(run_id), local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        _artifacts.log_text(self._artifact_root(run_id), text, artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        _artifacts.log_dict(self._artifact_root(run_id), dictionary, artifact_file)

    def log_figure(
        self, run_id: str, figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
    ) -> None:
        _artifacts.log_figure(self._artifact_root(run_id), figure, artifact_file, save_kwargs)

    def log_image(
        self,
        run_id: str,
        image: Any,
        artifact_file: str | None = None,
        key: str | None = None,
        step: int | None = None,
        timestamp: int | None = None,
        synchronous: bool | None = None,
    ) -> None:
        if artifact_file is not None and (key, step, timestamp) != (None, None, None):
            raise InvalidInputError(
                "log_image takes artifact_file= alone, or key= (with step= and timestamp=): not both"
            )
        if artifact_file is None and key is None:
            raise InvalidInputError(
                "log_image needs artifact_file= (a static image) or key= with step= (one step of an image series)"
            )
        if artifact_file is not None:
            _artifacts.log_image(self._artifact_root(run_id), image, artifact_file)
            return
        assert key is not None
        stamp = now_ms() if not timestamp else int(timestamp)  # MLflow: `timestamp or now`, `step or 0`
        _artifacts.log_image_step(self._artifact_root(run_id), image, key, int(step or 0), stamp)
        self.writable_store.writable(run_id).set_tags({LOGGED_IMAGES: True})  # MLflow's value: 'True'

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Write a dict or DataFrame as the table ``artifact_file`` (.json or .parquet), appending
        to it if it exists, as MLflow does (docs/format.md, "Tables")."""
        table = _tables.log_table(self._artifact_root(run_id), data, artifact_file)
        writer = self.writable_store.writable(run_id)
        tag = _tables.logged_artifacts_tag(self.store.get_run(run_id).data.tags.get(LOGGED_ARTIFACTS), table)
        if tag is not None:
            writer.set_tags({LOGGED_ARTIFACTS: tag})

    def load_table(
        self,
        experiment_id: str,
        artifact_file: str,
        run_ids: Sequence[str] | None = None,
        extra_columns: Sequence[str] | None = None,
    ) -> pandas.DataFrame:
        """The rows of the table ``artifact_file`` of the experiment's runs (or of ``run_ids``), one
        run's table after the other, newest run first; ``extra_columns`` (e.g. ``["run_id"]``)
        copies those ``search_runs`` columns into each row."""
        filter_string = _tables.load_table_filter(artifact_file)
        if run_ids:
            filter_string += " and attributes.run_id IN (" + ",".join(f"'{r}'" for r in run_ids) + ")"
        runs = rows_to_dataframe(search_rows(self.store, [str(experiment_id)], filter_string))
        return _tables.load_table(runs, self.store.artifact_dir, artifact_file, extra_columns or ())

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return self.store.list_artifacts(run_id, path)

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None) -> str:
        """The artifact's absolute local path (its own, or its copy under ``dst_path``)."""
        return self.store.download_artifacts(run_id, path, dst_path)

    def experiment_id_for_name(self, name: str) -> str:
        """The ID of the experiment named ``name`` (or with that ID): :meth:`ReadStore.resolve_experiment`."""
        return self.store.resolve_experiment(name).experiment_id


MlflowClient = Client
