"""``log_input`` / ``log_inputs``: a run's dataset inputs, stored in ``<run>/inputs.json`` by
:mod:`gitrun.store.datasets` (the one record of a run's datasets; docs/format.md).

A dataset is what ``gitrun.data.from_pandas`` / ``from_numpy`` / ``from_dvc`` return, a
:class:`~gitrun.entities.Dataset`, or an ``mlflow.data`` dataset (anything with MLflow's
``to_dict()``). ``context`` becomes the input tag ``mlflow.data.context``. ``gitrun.evaluate``
records its evaluation dataset here too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gitrun.entities import Dataset, DatasetInput, LoggedModelInput
from gitrun.errors import InvalidInputError
from gitrun.store import datasets
from gitrun.tags import DATA_CONTEXT, GIT_COMMIT, SOURCE_NAME, SOURCE_TYPE, USER

CODE_SOURCE_TAGS = (USER, SOURCE_NAME, SOURCE_TYPE, GIT_COMMIT)  # what MLflow's "code" source records


def dataset_entity(dataset: Any, run_tags: Mapping[str, str]) -> Dataset:
    """The stored record of ``dataset``; a dataset of no source is the run's code (its source tags)."""
    if isinstance(dataset, Dataset):
        return dataset
    if callable(getattr(dataset, "to_entity", None)):  # gitrun.data's
        return dataset.to_entity({k: v for k, v in run_tags.items() if k in CODE_SOURCE_TAGS})  # type: ignore[no-any-return]
    to_dict = getattr(dataset, "to_dict", None)  # an mlflow.data dataset
    if callable(to_dict):
        d = to_dict()
        return Dataset(d["name"], d["digest"], d["source_type"], d["source"], d.get("schema"), d.get("profile"))
    raise InvalidInputError(
        f"log_input takes a dataset from gitrun.data.from_pandas / from_numpy / from_dvc, got {type(dataset).__name__}"
    )


def dataset_input(
    dataset: Any, run_tags: Mapping[str, str], context: str | None, tags: Mapping[str, Any] | None
) -> DatasetInput:
    input_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    if context is not None:
        input_tags[DATA_CONTEXT] = str(context)
    return DatasetInput(dataset_entity(dataset, run_tags), input_tags)


def log_inputs(run_dir: Path, inputs: Sequence[DatasetInput], models: Sequence[LoggedModelInput] = ()) -> None:
    datasets.add_inputs(run_dir, inputs, models)


def model_inputs(models: Any) -> list[LoggedModelInput]:
    """MLflow's ``LoggedModelInput``s (or gitrun's: anything with a ``model_id``) as gitrun's;
    None entries are skipped, as MLflow skips them."""
    found = []
    for model in models or ():
        if model is None:
            continue
        model_id = getattr(model, "model_id", None)
        if not isinstance(model_id, str) or not model_id:
            raise InvalidInputError(
                f"a model input must be a LoggedModelInput (mlflow.entities.LoggedModelInput(model_id)), "
                f"not {type(model).__name__}"
            )
        found.append(LoggedModelInput(model_id))
    return found


def log_dataset_input(run_dir: Path, dataset: Mapping[str, str], tags: Mapping[str, str] | None = None) -> None:
    """Record ``dataset`` (MLflow's ``Dataset.to_dict()`` fields) as an input of the run in ``run_dir``."""
    log_inputs(run_dir, [dataset_input(_entity_of(dataset), {}, None, tags)])


def _entity_of(d: Mapping[str, str]) -> Dataset:
    return Dataset(d["name"], d["digest"], d["source_type"], d["source"], d.get("schema"), d.get("profile"))


def read_inputs(run_dir: Path) -> list[dict[str, Any]]:
    """The run's inputs as MLflow's dicts: ``[{"dataset": {name, digest, ...}, "tags": {...}}]``."""
    return [
        {
            "dataset": {
                k: getattr(i.dataset, k) for k in ("name", "digest", "source_type", "source", "schema", "profile")
            },
            "tags": dict(i.tags),
        }
        for i in datasets.read_inputs(run_dir)
    ]
