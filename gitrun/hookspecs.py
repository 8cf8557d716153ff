"""Hook specifications: the typed extension points plugins implement.

A plugin is a module or object with functions decorated by ``gitrun.plugins.hookimpl`` and
named like the specs below, registered under the ``gitrun`` entry-point group::

    [project.entry-points.gitrun]
    my_plugin = "my_package.gitrun_plugin"

gitrun's own run context (user, source, Git, CI) is registered through the same hooks.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("gitrun")


@hookspec
def gitrun_run_context(experiment_id: str, run_name: str) -> dict[str, str] | None:  # type: ignore[empty-body]
    """Tags to add to a run being started by ``start_run`` (tags passed to ``start_run`` win)."""


@hookspec(firstresult=True)
def gitrun_store_at(store: Any, rev: str) -> Any:
    """The store ``store`` as committed at revision ``rev``, read-only (MLflow's tracking-store plugin
    type, for revisions); gitrun's own implementation reads Git objects (``gitrun.vcs.plugin``)."""


# -- models (gitrun.models) -------------------------------------------------------------------
@hookspec
def gitrun_model_flavors() -> list[Any] | None:  # type: ignore[empty-body]
    """Model flavors this plugin provides: ``gitrun.models.flavors.Flavor`` objects (name, the
    ``loader_module`` names it loads, save, load, the pyfunc loader, requirements)."""


@hookspec(firstresult=True)
def gitrun_resolve_model_uri(uri: str, store: Any, rev: str | None) -> Any:
    """Where the model ``uri`` points (a ``gitrun.models.uri.ModelLocation``), or None for a URI this
    plugin does not know; ``store`` is the tracking store, ``rev`` the ``--rev`` asked for, if any."""
