"""Autolog: params, metrics, tags and the model of a framework's training call, recorded without a
line of logging code, with MLflow's keys (docs/autolog.md).

``gitrun.autolog()`` enables every installed integration, each when its framework is imported;
``gitrun.sklearn.autolog()`` and ``gitrun.lightgbm.autolog()`` enable one, with its own options.
Each integration is an :class:`Integration` returned by a ``gitrun_autolog_integrations`` hook
implementation, gitrun's own included (``gitrun.models.plugin``); its ``autolog`` function is
decorated with :func:`integration` and patches the framework with :func:`safe_patch`.

This package is the write path's part (patching, settings, runs, the per-framework logging); the
model of a fit is logged through the flavor, which the integration is handed by the flavor module
(``gitrun.models.autolog``), so nothing here imports ``gitrun.models``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from gitrun.plugins import call_each, get_plugin_manager, resolve
from gitrun.tracking.autolog.config import (
    CONFIGS,
    GLOBALLY_CONFIGURED,
    LOCK,
    disable_autologging,
    get_config,
    integration,
    is_disabled,
)
from gitrun.tracking.autolog.imports import when_imported
from gitrun.tracking.autolog.patches import revert_patches
from gitrun.tracking.autolog.safety import safe_patch

log = logging.getLogger(__name__)

__all__ = [
    "Integration",
    "all_integrations",
    "autolog",
    "disable_autologging",
    "get_config",
    "integration",
    "is_disabled",
    "revert_patches",
    "safe_patch",
]


@dataclass(frozen=True)
class Integration:
    """One framework's autologging.

    ``name`` keys its settings and is the ``mlflow.autologging`` tag of the runs it starts (MLflow's
    flavor name, ``"sklearn"``); ``module`` is the framework's import name (``gitrun.autolog()``
    enables it when that module is imported); ``autolog`` is its function taking the keyword
    arguments of ``gitrun.autolog`` it understands (or ``"module:attribute"`` naming it).
    """

    name: str
    module: str
    autolog: Callable[..., Any] | str
    description: str = ""
    plugin: str = field(default="", compare=False)  # filled in by the registry: which plugin gave it

    def function(self) -> Callable[..., Any]:
        return resolve(self.autolog) if isinstance(self.autolog, str) else self.autolog  # type: ignore[no-any-return]


_cache: tuple[Any, dict[str, Integration]] | None = None
_cache_lock = threading.Lock()


def all_integrations() -> dict[str, Integration]:
    """Every installed integration by name (a plugin's overrides a built-in of the same name)."""
    global _cache
    pm = get_plugin_manager()
    cached = _cache
    if cached is not None and cached[0] is pm:
        return cached[1]
    with _cache_lock:
        found: dict[str, Integration] = {}
        for plugin, result in call_each("gitrun_autolog_integrations"):
            for item in result or []:
                if isinstance(item, Integration):
                    found[item.name] = replace(item, plugin=plugin)
        _cache = (pm, found)
        return found


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    log_traces: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: dict[str, str] | None = None,
    exclude_flavors: Sequence[str] | None = None,
) -> None:
    """Enable (or, with ``disable=True``, disable) every installed autologging integration, each
    when its framework is imported (MLflow's ``mlflow.autolog``).

    Each integration takes the arguments it understands. An integration's own ``autolog`` call
    (``gitrun.sklearn.autolog(...)``) wins over this one, before or after it; ``exclude_flavors``
    names integrations to leave alone (``["lightgbm"]``)."""
    settings = {
        "log_input_examples": log_input_examples,
        "log_model_signatures": log_model_signatures,
        "log_models": log_models,
        "log_datasets": log_datasets,
        "log_traces": log_traces,
        "disable": disable,
        "exclusive": exclusive,
        "disable_for_unsupported_versions": disable_for_unsupported_versions,
        "silent": silent,
        "extra_tags": extra_tags,
    }
    excluded = set(exclude_flavors or ())
    for item in all_integrations().values():
        if item.name not in excluded:
            when_imported(item.module, "gitrun.autolog", functools.partial(_enable, item, settings))


def _enable(item: Integration, settings: dict[str, Any], module: ModuleType) -> None:
    silent = bool(settings.get("silent"))
    with LOCK:
        previous = CONFIGS.get(item.name)
        if previous and not previous.get(GLOBALLY_CONFIGURED, False):
            return  # configured by its own autolog call: that one wins
        try:
            function = item.function()
            accepted = inspect.signature(function).parameters
            function(**{k: v for k, v in settings.items() if k in accepted})
        except Exception as exc:
            if not silent:
                log.warning("Exception raised while enabling autologging for %s: %s", module.__name__, exc)
            return
        CONFIGS.setdefault(item.name, {})[GLOBALLY_CONFIGURED] = True
    if not is_disabled(item.name) and not silent:
        log.info("Autologging successfully enabled for %s.", module.__name__)
