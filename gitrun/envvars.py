"""Environment variables that MLflow also defines: gitrun's ``GITRUN_X`` first, then MLflow's ``MLFLOW_X``.

A CI job or a notebook set up for MLflow (``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING=true``) behaves
the same with gitrun, and gitrun's own name wins when both are set. Values are read when used,
never cached: ``gitrun.enable_system_metrics_logging()`` works by setting one (as MLflow's does).
docs/api.md lists the variables read this way.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
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
