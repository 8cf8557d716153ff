"""A run's inputs: ``<run>/inputs.json`` (docs/format.md, "inputs.json").

The record MLflow keeps as a run's ``inputs``: each dataset's name, digest, source type, source,
schema and profile, with its input tags (``mlflow.data.context``), and the logged models the run
took as inputs (MLflow 3's ``log_input(model=...)``: their IDs). gitrun
writes it for the DVC lineage of runs inside DVC pipelines (``gitrun.projects``) and for
``gitrun.data.from_dvc``; MLflow's ``log_input`` stores into the same file. Adding inputs is a
read-modify-write under the run's lock; an input already recorded (same name, digest and
context) is not repeated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gitrun import tags
from gitrun.entities import Dataset, DatasetInput, LoggedModelInput
from gitrun.store import textio
from gitrun.store.reader import read_json_file
from gitrun.store.textio import problem
from gitrun.store.writer import run_lock

INPUTS_FILE = "inputs.json"
CONTEXT_TAG = tags.DATA_CONTEXT
DVC_DEP_CONTEXT = "dvc.dep"  # a DVC stage's dep, hashed when the run's command started
DVC_OUT_CONTEXT = "dvc.out"  # a DVC stage's out, hashed when the command had ended


def _to_json(item: DatasetInput) -> dict[str, Any]:
    d = item.dataset
    source: Any = d.source
    try:  # kept as a JSON object in the file (readable, diffable); the entity holds its text
        source = json.loads(d.source)
    except ValueError:
        pass
    return {
        "dataset": {
            "digest": d.digest,
            "name": d.name,
            "profile": d.profile,
            "schema": d.schema,
            "source": source,
            "source_type": d.source_type,
        },
        "tags": dict(sorted(item.tags.items())),
    }


def _from_json(entry: Any, label: str, strict: bool) -> DatasetInput | None:
    try:
        d = entry["dataset"]
        source = d["source"]
        return DatasetInput(
            Dataset(
                name=str(d["name"]),
                digest=str(d["digest"]),
                source_type=str(d["source_type"]),
                source=source if isinstance(source, str) else json.dumps(source, sort_keys=True),
                schema=d.get("schema"),
                profile=d.get("profile"),
            ),
            {str(k): str(v) for k, v in (entry.get("tags") or {}).items()},
        )
    except (KeyError, TypeError, AttributeError):
        problem(f"{label}: an input without dataset name, digest, source_type and source; skipping it", strict)
        return None


def read_inputs(run_dir: Path, strict: bool = False) -> list[DatasetInput]:
    """The dataset inputs of a run, in the order they were recorded ([] when none)."""
    path = run_dir / INPUTS_FILE
    return inputs_from(read_json_file(path, strict, {}), str(path), strict)


def inputs_from(data: Any, label: str, strict: bool = False) -> list[DatasetInput]:
    """The inputs in ``data``, the parsed content of an ``inputs.json`` (``label`` names it in warnings)."""
    entries = data.get("inputs") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        if data:
            problem(f'{label}: expected {{"inputs": [...]}}; ignoring this file', strict)
        return []
    found = (_from_json(e, label, strict) for e in entries)
    return [item for item in found if item is not None]


def model_inputs_from(data: Any, label: str, strict: bool = False) -> list[LoggedModelInput]:
    """The logged models in ``data`` (an ``inputs.json``'s content) the run took as inputs."""
    entries = data.get("models", []) if isinstance(data, dict) else []
    found = []
    for entry in entries if isinstance(entries, list) else [entries]:
        model_id = entry.get("model_id") if isinstance(entry, dict) else None
        if isinstance(model_id, str) and model_id:
            found.append(LoggedModelInput(model_id))
        else:
            problem(f'{label}: a model input without a "model_id"; skipping it', strict)
    return found


def field_values(inputs: Iterable[DatasetInput], key: str) -> list[str]:
    """MLflow's search fields of a run's inputs: each dataset's ``name`` or ``digest``, or the
    ``context`` tag of each input that has one."""
    if key == "context":
        return [i.tags[CONTEXT_TAG] for i in inputs if CONTEXT_TAG in i.tags]
    return [getattr(i.dataset, key) for i in inputs]


def _key(item: DatasetInput) -> tuple[str, str, str]:
    return (item.dataset.name, item.dataset.digest, item.tags.get(CONTEXT_TAG, ""))


def add_inputs(run_dir: Path, inputs: Iterable[DatasetInput], models: Iterable[LoggedModelInput] = ()) -> None:
    """Record ``inputs`` and ``models`` for the run in ``run_dir`` (those not recorded yet), atomically."""
    new, new_models = list(inputs), list(models)
    if not new and not new_models:
        return
    with run_lock(run_dir):
        path = run_dir / INPUTS_FILE
        data = read_json_file(path, False, {})
        current = inputs_from(data, str(path))
        current_models = model_inputs_from(data, str(path))
        seen = {_key(i) for i in current}
        for item in new:
            if _key(item) not in seen:
                current.append(item)
                seen.add(_key(item))
        for model in new_models:
            if model not in current_models:
                current_models.append(model)
        content: dict[str, Any] = {"inputs": [_to_json(i) for i in current]}
        if current_models:
            content["models"] = [{"model_id": m.model_id} for m in current_models]
        textio.atomic_write(path, textio.dumps(content))
