"""Experiment settings: the primary metric and each metric's direction ("min" or "max").

Sources, strongest first: the experiment's ``experiment.yaml`` (written by
``set_experiment(name, primary_metric=..., directions=...)``), then the project's
``pyproject.toml``::

    [tool.gitrun]
    primary_metric = "val_acc"          # default for every experiment

    [tool.gitrun.metrics]               # metric -> direction
    val_acc = "max"
    train_time = "min"

    [tool.gitrun.experiments."iris-sgd"]  # per experiment, by name
    primary_metric = "val_loss"

and last gitrun's naming rule (:func:`default_direction`).

Also read here: which files a dirty run's ``code.diff`` may hold (docs/format.md)::

    [tool.gitrun.code_diff]
    include = ["tests/fixtures/fake_key.pem"]   # wrongly taken for secrets: keep them
    exclude = ["conf/prod/*", "*.sqlite"]       # secrets gitrun does not recognise: leave them out
"""

from __future__ import annotations

import re
import sys
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

_MIN_WORDS = re.compile(r"loss|error|err|mse|mae|rmse|perplexity", re.IGNORECASE)


def default_direction(metric: str) -> str:
    """'min' for names that read like a cost (loss, error, err, mse, mae, rmse, perplexity), else 'max'."""
    return "min" if _MIN_WORDS.search(metric) else "max"


@dataclass(frozen=True)
class ProjectSettings:
    primary_metric: str | None = None
    directions: dict[str, str] = field(default_factory=dict)
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    code_diff_include: tuple[str, ...] = ()  # glob patterns: always kept in code.diff (unless excluded)
    code_diff_exclude: tuple[str, ...] = ()  # glob patterns: never kept in code.diff

    def for_experiment(self, name: str) -> tuple[str | None, dict[str, str]]:
        """Primary metric and directions that pyproject.toml gives the experiment ``name``."""
        own = self.experiments.get(name, {})
        directions = dict(self.directions)
        for metric, direction in (own.get("metrics") or {}).items():
            if direction in ("min", "max"):
                directions[str(metric)] = direction
            else:
                warnings.warn(
                    f'[tool.gitrun.experiments."{name}".metrics] {metric} = {direction!r}; use "min" or "max"',
                    stacklevel=2,
                )
        return own.get("primary_metric", self.primary_metric), directions


def load_project_settings(work_tree: Path | None) -> ProjectSettings:
    """``[tool.gitrun]`` of the pyproject.toml at the work-tree root (empty settings when absent)."""
    if work_tree is None:
        return ProjectSettings()
    path = work_tree / "pyproject.toml"
    try:
        stat = path.stat()
    except OSError:
        return ProjectSettings()
    return _load(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load(path: Path, _mtime: int, _size: int) -> ProjectSettings:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, ValueError) as exc:
        warnings.warn(f"{path}: cannot read [tool.gitrun] settings ({exc}); using defaults", stacklevel=2)
        return ProjectSettings()
    section = data.get("tool", {}).get("gitrun", {})
    if not isinstance(section, dict):
        return ProjectSettings()
    directions: dict[str, str] = {}
    for metric, direction in (section.get("metrics") or {}).items():
        if direction in ("min", "max"):
            directions[str(metric)] = direction
        else:
            warnings.warn(f'{path}: [tool.gitrun.metrics] {metric} = {direction!r}; use "min" or "max"', stacklevel=2)
    code_diff = section.get("code_diff") or {}
    if not isinstance(code_diff, dict):
        warnings.warn(f"{path}: [tool.gitrun.code_diff] is not a table; ignoring it", stacklevel=2)
        code_diff = {}
    return ProjectSettings(
        primary_metric=section.get("primary_metric"),
        directions=directions,
        experiments={str(k): v for k, v in (section.get("experiments") or {}).items() if isinstance(v, dict)},
        raw=section,
        code_diff_include=_patterns(path, code_diff, "include"),
        code_diff_exclude=_patterns(path, code_diff, "exclude"),
    )


def _patterns(path: Path, table: dict[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        warnings.warn(
            f'{path}: [tool.gitrun.code_diff] {key} must be a list of glob patterns such as ["conf/*.yaml"]; '
            "ignoring it",
            stacklevel=3,
        )
        return ()
    return tuple(value)
