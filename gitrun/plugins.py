"""The plugin manager: pluggy, loading the ``gitrun`` entry-point group lazily (first use).

gitrun's own behaviour is registered first, as the plugins in :data:`BUILTIN_PLUGINS` (datasette's
``DEFAULT_PLUGINS``): modules that import nothing heavy, since every process that starts a run
loads them. A plugin that fails to import, or raises inside a hook, is a warning naming it, never a
crash of the user's training run (:func:`call_each`).
"""

from __future__ import annotations

import importlib
import threading
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitrun.errors import PluginError

if TYPE_CHECKING:
    import pluggy

    from gitrun.store import ReadStore

    hookimpl: pluggy.HookimplMarker  # see __getattr__

ENTRY_POINT_GROUP = "gitrun"
BUILTIN_PLUGINS = (
    "gitrun.tracking.run_context",  # gitrun_run_context: user, source script, Git state, CI
    "gitrun.vcs.plugin",  # gitrun_store_at: a store as committed at a Git revision
    "gitrun.cli.commands",  # gitrun_cli_commands: the built-in subcommands
    "gitrun.site.pages.builtin",  # gitrun_site_pages: the site's built-in pages and navigation
    "gitrun.projects.plugin",  # gitrun_project_backends: local and dask
    "gitrun.models.plugin",  # gitrun_model_flavors, gitrun_resolve_model_uri, gitrun_autolog_integrations
    # after the models' (pluggy asks the last registered first): NAME#STAGE before the path rules
    "gitrun.registry.plugin",  # registry URIs, log_model's registration, gitrun commit's and push's registry part
)

_pm: pluggy.PluginManager | None = None
_lock = threading.Lock()
_failures: list[PluginInfo] = []


def __getattr__(name: str) -> Any:
    # `from gitrun.plugins import hookimpl` without importing pluggy at `import gitrun` time.
    if name == "hookimpl":
        import pluggy

        return pluggy.HookimplMarker("gitrun")
    raise AttributeError(name)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    source: str  # "builtin" or "entry point"
    module: str
    distribution: str | None = None
    version: str | None = None
    hooks: tuple[str, ...] = field(default_factory=tuple)
    error: str | None = None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created and populated on first call."""
    global _pm
    if _pm is None:
        with _lock:
            if _pm is None:
                _pm = _create()
    return _pm


def _create() -> pluggy.PluginManager:
    from importlib.metadata import entry_points

    import pluggy

    from gitrun import hookspecs

    pm = pluggy.PluginManager("gitrun")
    pm.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must not break the user's run
            message = f"{type(exc).__name__}: {exc}"
            _failures.append(
                PluginInfo(ep.name, "entry point", ep.value, _dist_name(ep), _dist_version(ep), error=message)
            )
            warnings.warn(
                f"gitrun plugin {ep.name!r} ({ep.value}) failed to load and is skipped: {message}", stacklevel=2
            )
            continue
    return pm


def _dist_name(ep: Any) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else None


def _dist_version(ep: Any) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else None


def list_plugins() -> list[PluginInfo]:
    """Loaded plugins (built-in and from entry points) and the ones that failed to load."""
    from importlib.metadata import entry_points

    pm = get_plugin_manager()
    eps = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    out = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: (item[0] not in BUILTIN_PLUGINS, item[0])):
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or []))
        ep = eps.get(name)
        module = getattr(plugin, "__name__", type(plugin).__module__)
        if ep is None:
            out.append(PluginInfo(name, "builtin", module, hooks=hooks))
        else:
            out.append(PluginInfo(name, "entry point", ep.value, _dist_name(ep), _dist_version(ep), hooks))
    return out + list(_failures)


def implementations(hook: str) -> list[Any]:
    """The implementations of ``hook`` (pluggy ``HookImpl``), in registration order: built-ins first."""
    caller = getattr(get_plugin_manager().hook, hook)
    return caller.get_hookimpls()  # type: ignore[no-any-return]


def call_each(hook: str, impls: list[Any] | None = None, /, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call each implementation of ``hook`` (or the ``impls`` given) with the keyword arguments it
    takes, in registration order; ``(plugin name, result)`` of those that returned something.

    One that raises is a warning naming its plugin, and the others still run: a bug in a plugin
    never stops the user's run or command.
    """
    results = []
    for impl in implementations(hook) if impls is None else impls:
        try:
            result = impl.function(*(kwargs[name] for name in impl.argnames))
        except Exception as exc:
            warnings.warn(
                f"gitrun plugin {impl.plugin_name!r} failed in {hook} and is skipped: {type(exc).__name__}: {exc}",
                stacklevel=3,
            )
            continue
        if result is not None:
            results.append((impl.plugin_name, result))
    return results


def resolve(target: str) -> Any:
    """The object a ``"module:attribute"`` string names (how hooks declare things loaded on first use)."""
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


def run_context_tags(experiment_id: str, run_name: str) -> dict[str, str]:
    """Merge the tags every ``gitrun_run_context`` implementation returns (later plugins win)."""
    tags: dict[str, str] = {}
    for _, result in call_each("gitrun_run_context", experiment_id=experiment_id, run_name=run_name):
        if isinstance(result, dict):
            tags.update({str(k): str(v) for k, v in result.items() if v is not None})
    return tags


def store_at(store: ReadStore, rev: str) -> ReadStore:
    """``store`` as committed at ``rev`` (read-only), through the ``gitrun_store_at`` hook."""
    result = get_plugin_manager().hook.gitrun_store_at(store=store, rev=rev)
    if result is None:
        raise PluginError(f"no plugin reads revisions (asked for {rev!r}); is gitrun installed completely?")
    return result  # type: ignore[no-any-return]


def reset_for_tests() -> None:
    """Forget the plugin manager so the next use reloads entry points."""
    global _pm
    _pm = None
    _failures.clear()
