"""Flavors: how one kind of model is saved, loaded and served, registered through a hook.

Every flavor, gitrun's own included (``gitrun.models.plugin``), is a :class:`Flavor` returned by a
``gitrun_model_flavors`` hook implementation, the datasette way. A model's ``MLmodel`` names its
flavors; its ``python_function`` flavor names a ``loader_module`` (MLflow's module names, such as
``mlflow.sklearn``, so MLflow loads gitrun's models): gitrun finds the flavor that declares that
module and never imports MLflow. docs/models.md shows a third-party flavor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitrun.errors import UnknownFlavorError
from gitrun.plugins import call_each, get_plugin_manager

if TYPE_CHECKING:
    from gitrun.models.mlmodel import MLModel

__all__ = [
    "MLFLOW",
    "Flavor",
    "LoadOptions",
    "SavedFlavor",
    "UnknownFlavorError",
    "all_flavors",
    "flavor_for_loader",
    "flavor_named",
    "mlflow_module",
]


MLFLOW = "mlflow"  # MLflow's package: models name its modules as their loader_module


def mlflow_module(name: str) -> str:
    """MLflow's module ``mlflow.<name>``: a model's ``loader_module``, or where a class MLflow pickled lives."""
    return f"{MLFLOW}.{name}"


@dataclass(frozen=True)
class LoadOptions:
    """What the caller of ``load_model`` decided about trust (see ``gitrun.models.safety``)."""

    skops_trusted_types: tuple[str, ...] = ()
    safe: bool = False  # refuse formats that run code (pickle, cloudpickle, code paths)


@dataclass(frozen=True)
class SavedFlavor:
    """What a flavor's ``save`` wrote: its own MLmodel settings, and the ``python_function`` ones
    (``loader_module`` and the rest) when the model can be served as a generic Python function."""

    conf: dict[str, Any]
    pyfunc: dict[str, Any] | None = None


@dataclass(frozen=True)
class Flavor:
    """One model flavor.

    ``save(model, model_dir, options) -> SavedFlavor`` writes the serialized model into
    ``model_dir`` (``options``: the flavor's own keyword arguments of ``save_model``, and ``code``,
    the code-paths folder or None); ``load(model_dir, conf, load_options)`` returns the native
    model (``conf``: the flavor's MLmodel settings); ``load_pyfunc(data_path, mlmodel,
    load_options)`` returns an object with ``predict(data, params=None)``, as MLflow's
    ``_load_pyfunc`` does (``data_path``: the ``data`` file of the pyfunc settings, or the model
    folder); ``wrap(model, model_dir, pyfunc_conf)`` gives that object for a model in memory
    (to infer a signature from an input example); ``requirements(model, conf)`` names the
    distributions the model needs, unpinned (gitrun pins them to the installed versions).
    """

    name: str
    loader_modules: tuple[str, ...]  # the first is written into new models
    save: Callable[[Any, Path, Mapping[str, Any]], SavedFlavor] | None = None
    load: Callable[[Path, Mapping[str, Any], LoadOptions], Any] | None = None
    load_pyfunc: Callable[[Path, MLModel, LoadOptions], Any] | None = None
    wrap: Callable[[Any, Path, Mapping[str, Any]], Any] | None = None
    requirements: Callable[[Any, Mapping[str, Any]], Sequence[str]] | None = None
    module: str | None = None  # the public module users import (``gitrun.sklearn``)
    description: str = ""
    plugin: str = field(default="", compare=False)  # filled in by the registry: which plugin gave it


_lock = threading.Lock()
_cache: tuple[Any, dict[str, Flavor]] | None = None  # (the plugin manager, its flavors by name)


def all_flavors() -> dict[str, Flavor]:
    """Every installed flavor by name (later plugins override built-ins of the same name)."""
    global _cache
    pm = get_plugin_manager()
    cached = _cache
    if cached is not None and cached[0] is pm:
        return cached[1]
    with _lock:
        found: dict[str, Flavor] = {}
        # registration order, built-ins first; a plugin that raises is a warning (plugins.call_each)
        for plugin, result in call_each("gitrun_model_flavors"):
            for flavor in result or []:
                if isinstance(flavor, Flavor):
                    found[flavor.name] = _with_plugin(flavor, plugin)
        _cache = (pm, found)
        return found


def _with_plugin(flavor: Flavor, plugin: str) -> Flavor:
    from dataclasses import replace

    return replace(flavor, plugin=plugin)


def flavor_named(name: str) -> Flavor:
    flavors = all_flavors()
    if name not in flavors:
        raise UnknownFlavorError(
            f"no installed flavor named {name!r} (installed: {', '.join(sorted(flavors))}); a flavor plugin "
            "provides it (docs/models.md)"
        )
    return flavors[name]


def flavor_for_loader(loader_module: str) -> Flavor | None:
    """The flavor that loads models whose ``python_function`` flavor names ``loader_module``."""
    for flavor in reversed(list(all_flavors().values())):  # plugins before built-ins
        if loader_module in flavor.loader_modules:
            return flavor
    return None
