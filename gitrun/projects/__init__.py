"""Projects: commands and MLproject entry points run as runs, sweeps, and the backends that run them.

``gitrun.projects.run(uri, entry_point, parameters)`` is MLflow's ``mlflow.projects.run``: it
returns a :class:`~gitrun.projects.submitted.SubmittedRun` with ``run_id``, ``wait()``,
``get_status()`` and ``cancel()``. ``sweep(...)`` runs a grid or random search as one parent run
with a child run per trial. Backends (``local``, ``dask``) are plugins (``gitrun_project_backends``).
The names below load on first use: this package is imported by the plugin manager of every
process that starts a run, and must cost it nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["SubmittedRun", "SweepResult", "run", "sweep"]

_LAZY = {
    "run": "gitrun.projects.api",
    "SubmittedRun": "gitrun.projects.submitted",
    "sweep": "gitrun.projects.sweeps",
    "SweepResult": "gitrun.projects.sweeps",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gitrun.projects' has no attribute {name!r}")
