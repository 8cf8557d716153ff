"""Hook specifications: the typed extension points plugins implement (docs/plugins.md).

A plugin is a module or object with functions decorated by ``gitrun.plugins.hookimpl`` and
named like the specs below, registered under the ``gitrun`` entry-point group::

    [project.entry-points.gitrun]
    my_plugin = "my_package.gitrun_plugin"

An implementation may take any subset of a spec's arguments. gitrun's own behaviour is registered
through the same hooks (``gitrun.plugins.BUILTIN_PLUGINS``): the run context, reading revisions,
the CLI's subcommands and the site's pages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from gitrun.entities import Metric, Run
    from gitrun.site.pages import SitePage

hookspec = pluggy.HookspecMarker("gitrun")


# -- the write path ---------------------------------------------------------------------------
@hookspec
def gitrun_run_context(experiment_id: str, run_name: str) -> dict[str, str] | None:  # type: ignore[empty-body]
    """Tags to add to a run being started by ``start_run`` (tags passed to ``start_run`` win)."""


@hookspec
def gitrun_run_started(run: Run, resumed: bool) -> None:
    """``start_run`` started ``run`` in this process (``resumed``: an existing run, by ``run_id``)."""


@hookspec
def gitrun_run_logged(
    run_id: str, metrics: Sequence[Metric], params: Mapping[str, str], tags: Mapping[str, str]
) -> None:
    """A batch of what was logged to a run this process started, in logging order per kind."""


@hookspec
def gitrun_run_ended(run_id: str, status: str) -> None:
    """This process ended the run with ``status`` (FINISHED, FAILED or KILLED); after its last batch."""


@hookspec
def gitrun_autolog_integrations() -> list[Any] | None:  # type: ignore[empty-body]
    """Autologging integrations this plugin provides: ``gitrun.tracking.autolog.Integration`` objects
    (the framework's import name, and its ``autolog`` function, enabled by ``gitrun.autolog()``)."""


# -- the read path ----------------------------------------------------------------------------
@hookspec(firstresult=True)
def gitrun_store_at(store: Any, rev: str) -> Any:
    """The store ``store`` as committed at revision ``rev``, read-only (MLflow's tracking-store plugin
    type, for revisions); gitrun's own implementation reads Git objects (``gitrun.vcs.plugin``)."""


@hookspec
def gitrun_site_pages() -> Sequence[SitePage] | None:  # type: ignore[empty-body]
    """Pages the site builds, each with its navigation entry if it has one (``gitrun.site.pages.SitePage``)."""


# -- the command line -------------------------------------------------------------------------
@hookspec
def gitrun_cli_commands() -> Mapping[str, click.Command | str] | None:  # type: ignore[empty-body]
    """Subcommands of ``gitrun``: name -> a click command, or ``"module:attribute"`` imported when used."""


# -- projects ---------------------------------------------------------------------------------
@hookspec
def gitrun_project_backends() -> Mapping[str, Any] | None:  # type: ignore[empty-body]
    """Backends that run projects and sweep trials (MLflow's project-backend plugin type): name ->
    a backend class, or ``"module:attribute"`` naming one (imported when used; gitrun.projects.backends)."""


# -- models (gitrun.models) -------------------------------------------------------------------
@hookspec
def gitrun_model_flavors() -> list[Any] | None:  # type: ignore[empty-body]
    """Model flavors this plugin provides: ``gitrun.models.flavors.Flavor`` objects (name, the
    ``loader_module`` names it loads, save, load, the pyfunc loader, requirements)."""


@hookspec(firstresult=True)
def gitrun_resolve_model_uri(uri: str, store: Any, rev: str | None) -> Any:
    """Where the model ``uri`` points (a ``gitrun.models.uri.ModelLocation``), or None for a URI this
    plugin does not know; ``store`` is the tracking store, ``rev`` the ``--rev`` asked for, if any."""


@hookspec(firstresult=True)
def gitrun_register_model(model_uri: str, name: str, tags: Mapping[str, Any] | None) -> Any:
    """Register the model at ``model_uri`` as a version of ``name`` (``log_model(registered_model_name=)``):
    MLflow's ``ModelVersion``; gitrun's registry answers (``gitrun.registry.plugin``)."""


# -- the version path (gitrun.vcs) ------------------------------------------------------------
@hookspec
def gitrun_commit_prepare(store: Any, runs: Sequence[Any]) -> Any:
    """Before ``gitrun commit`` commits ``runs`` (``RunRecord``s): a ``gitrun.vcs.commit.CommitParticipant``
    whose ``paths`` (files it wrote) join the commit, told ``committed(sha)`` or ``abandoned()``
    afterwards; None when it has nothing to add."""


@hookspec
def gitrun_pushed(root: Path, remote: str) -> Sequence[str] | None:
    """After ``gitrun push`` pushed the branch to ``remote``: the refs this plugin pushed too (the registry's tags)."""
