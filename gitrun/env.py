"""gitrun's environment variables, the MLflow variable each also answers to, and the one rule that reads them.

A variable with an MLflow name is read as ``GITRUN_X`` first, then ``MLFLOW_X``, so scripts and CI
set up for MLflow (``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME``...) work unchanged, and a
machine that runs both can still point gitrun elsewhere with ``GITRUN_X``. An empty value counts
as unset. docs/api.md ("Environment variables") prints this table; tests/test_env.py keeps the two
in step. Values are read when used, never cached: ``gitrun.enable_system_metrics_logging()`` works
by setting one (as MLflow's does).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

GITRUN = "GITRUN_"
MLFLOW = "MLFLOW_"

T = TypeVar("T")

_TRUE = ("true", "1")
_FALSE = ("false", "0")


def names(name: str) -> tuple[str, str]:
    """The two spellings of ``name``, gitrun's first: ``("GITRUN_<name>", "MLFLOW_<name>")``."""
    return GITRUN + name, MLFLOW + name


def lookup(name: str) -> tuple[str, str] | None:
    """``(variable, value)`` of the first of ``GITRUN_<name>``, ``MLFLOW_<name>`` that is set and not empty."""
    for variable in names(name):
        value = os.environ.get(variable, "").strip()
        if value:
            return variable, value
    return None


def flag(name: str, default: bool = False) -> bool:
    """A boolean variable, read as MLflow reads it (``true``/``1``, ``false``/``0``, any case);
    another value is a warning and counts as ``default``."""
    found = lookup(name)
    if found is None:
        return default
    variable, value = found
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    warnings.warn(f"{variable}={value!r} is neither true nor false; using {str(default).lower()}", stacklevel=3)
    return default


def number(name: str, kind: Callable[[str], T], default: T) -> T:
    """A positive number (``kind``: int or float); a value that is not one is a warning and counts as ``default``."""
    found = lookup(name)
    if found is None:
        return default
    variable, value = found
    try:
        parsed = kind(value)
        if not parsed > 0:  # type: ignore[operator]
            raise ValueError("not positive")
    except ValueError:
        warnings.warn(f"{variable}={value!r} is not a positive number; using {default}", stacklevel=3)
        return default
    return parsed


def text(name: str) -> str | None:
    """A string variable (None when neither spelling is set)."""
    found = lookup(name)
    return found[1] if found else None


def put(name: str, value: str | None) -> None:
    """Set ``GITRUN_<name>`` for this process and its children (None: unset it), as MLflow's setters do."""
    variable = GITRUN + name
    if value is None:
        os.environ.pop(variable, None)
    else:
        os.environ[variable] = value


@dataclass(frozen=True)
class EnvVar:
    name: str  # GITRUN_X
    mlflow: str | None  # MLFLOW_X, read when GITRUN_X is unset
    meaning: str

    def get(self) -> str | None:
        """The value: ``GITRUN_X``, else ``MLFLOW_X``, else None (empty values are unset)."""
        found = self.lookup()
        return found[1] if found else None

    def lookup(self) -> tuple[str, str] | None:
        """``(the variable that is set, its value)``, ``GITRUN_X`` first; None when neither is
        (:func:`lookup`, the one rule for MLflow's names)."""
        if self.mlflow is not None:
            return lookup(self.name.removeprefix(GITRUN))
        value = os.environ.get(self.name)
        return (self.name, value) if value else None


TRACKING_URI = EnvVar(
    "GITRUN_TRACKING_URI",
    "MLFLOW_TRACKING_URI",
    "the store: a directory, a Git work-tree root, or a `file:` URI; other URIs: see `GITRUN_REMOTE_TRACKING_URI`",
)
REMOTE_TRACKING_URI = EnvVar(
    "GITRUN_REMOTE_TRACKING_URI",
    None,
    "`warn` (default): a tracking URI that is not local (`http://`, `sqlite:`, `databricks`) is reported once "
    "and runs go to the Git store; `error`: it is an error",
)
RUN_ID = EnvVar(
    "GITRUN_RUN_ID", "MLFLOW_RUN_ID", "`start_run()` resumes this run (an error if the store has no such run)"
)
EXPERIMENT_NAME = EnvVar(
    "GITRUN_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_NAME", "the active experiment, by name (created if needed)"
)
EXPERIMENT_ID = EnvVar(
    "GITRUN_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_ID", "the active experiment, by ID (`0`: the default)"
)
RUN_CONTEXT = EnvVar("GITRUN_RUN_CONTEXT", "MLFLOW_RUN_CONTEXT", "a JSON object of extra tags for every new run")
ASYNC_LOGGING = EnvVar(
    "GITRUN_ENABLE_ASYNC_LOGGING",
    "MLFLOW_ENABLE_ASYNC_LOGGING",
    "accepted and ignored: logging is synchronous (and faster than MLflow's asynchronous logging)",
)
HEARTBEAT_TIMEOUT = EnvVar(
    "GITRUN_HEARTBEAT_TIMEOUT", None, "seconds after which another host's silent heartbeat means KILLED (default 300)"
)
FSYNC = EnvVar(
    "GITRUN_FSYNC",
    None,
    "`1`: `fsync` every write, for power-loss durability ([settings.md](settings.md#durability-gitrun_fsync))",
)
NO_INDEX = EnvVar("GITRUN_NO_INDEX", None, "`1`: searches read the run files only, without the search index")
SYSTEM_METRICS = (
    EnvVar(
        "GITRUN_ENABLE_SYSTEM_METRICS_LOGGING",
        "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING",
        "`true`: every run samples system metrics ([autolog.md](autolog.md#system-metrics))",
    ),
    EnvVar(
        "GITRUN_SYSTEM_METRICS_SAMPLING_INTERVAL",
        "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL",
        "seconds between samples (default 10)",
    ),
    EnvVar(
        "GITRUN_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING",
        "MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING",
        "samples averaged into one point (default 1)",
    ),
    EnvVar(
        "GITRUN_SYSTEM_METRICS_NODE_ID", "MLFLOW_SYSTEM_METRICS_NODE_ID", "the machine's name in system metric keys"
    ),
)
CACHE_DIR = EnvVar(
    "GITRUN_CACHE_DIR",
    None,
    "gitrun's cache: Git projects, clone-mode clones, `--env-manager venv` environments "
    "(default `$XDG_CACHE_HOME/gitrun`, `~/.cache/gitrun`)",
)

TABLE = (
    TRACKING_URI,
    REMOTE_TRACKING_URI,
    RUN_ID,
    EXPERIMENT_NAME,
    EXPERIMENT_ID,
    RUN_CONTEXT,
    ASYNC_LOGGING,
    HEARTBEAT_TIMEOUT,
    FSYNC,
    NO_INDEX,
    *SYSTEM_METRICS,
    CACHE_DIR,
)


def markdown_table() -> str:
    """The table as docs/api.md shows it."""
    lines = ["| variable | meaning | also read as |", "|---|---|---|"]
    for var in TABLE:
        lines.append(f"| `{var.name}` | {var.meaning} | {f'`{var.mlflow}`' if var.mlflow else '—'} |")
    return "\n".join(lines) + "\n"
