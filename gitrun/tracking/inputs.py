"""A run's dataset inputs (MLflow's ``DatasetInput``): ``inputs.json`` in the run's folder.

A JSON list, one entry per dataset, ``{"dataset": {"name", "digest", "source_type", "source",
"schema", "profile"}, "tags": {...}}`` (MLflow's fields; ``mlflow.data.context`` is the usual tag),
rewritten whole under the run's lock; a dataset with the same name, digest and context is listed
once. ``gitrun.evaluate`` records its evaluation dataset here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitrun.store import textio
from gitrun.store.writer import run_lock

FILE = "inputs.json"


def read_inputs(run_dir: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads((run_dir / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def log_dataset_input(run_dir: Path, dataset: Mapping[str, str], tags: Mapping[str, str] | None = None) -> None:
    """Record ``dataset`` as an input of the run in ``run_dir`` (once per name, digest and tags)."""
    entry = {
        "dataset": {str(k): str(v) for k, v in dataset.items()},
        "tags": {str(k): str(v) for k, v in (tags or {}).items()},
    }
    with run_lock(run_dir):
        entries = read_inputs(run_dir)
        key = (entry["dataset"].get("name"), entry["dataset"].get("digest"), entry["tags"])
        if any(
            (e.get("dataset", {}).get("name"), e.get("dataset", {}).get("digest"), e.get("tags", {})) == key
            for e in entries
        ):
            return
        textio.atomic_write(run_dir / FILE, textio.dumps([*entries, entry]))
