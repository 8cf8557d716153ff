"""The registry's built-in hook implementations, registered like any plugin (``gitrun.plugins.BUILTIN_PLUGINS``).

- ``gitrun_resolve_model_uri``: ``models:/NAME/N``, ``models:/NAME@STAGE``, ``NAME#STAGE``... (``gitrun.registry.uris``);
- ``gitrun_register_model``: ``log_model(registered_model_name=...)`` (``gitrun.registry.api``);
- ``gitrun_commit_prepare``: registrations recorded during training, made by ``gitrun commit`` (``gitrun.registry.pending``);
- ``gitrun_pushed``: the registry's tags go with ``gitrun push`` (``gitrun.registry.sync``).

Every process that starts a run loads this module, so it imports nothing itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pluggy

hookimpl = pluggy.HookimplMarker("gitrun")


@hookimpl
def gitrun_resolve_model_uri(uri: str, store: Any, rev: str | None) -> Any:
    if uri.startswith(("runs:/", "file:")):
        return None
    from gitrun.registry.uris import resolve

    return resolve(uri, store)


@hookimpl
def gitrun_register_model(model_uri: str, name: str, tags: Mapping[str, Any] | None) -> Any:
    from gitrun.registry.api import register_model

    return register_model(model_uri, name, tags=tags)


@hookimpl
def gitrun_commit_prepare(store: Any, runs: Sequence[Any]) -> Any:
    from gitrun.registry.pending import prepare

    return prepare(store, runs)


@hookimpl
def gitrun_pushed(root: Path, remote: str) -> Sequence[str] | None:
    from gitrun.registry.sync import push_tags

    result = push_tags(root, remote)
    return [*result.pushed, *(f"{old} -> {new}" for old, new in result.renumbered if new not in result.pushed)]
