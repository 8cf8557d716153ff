"""The plugin manager: pluggy, loading the ``gitrun`` entry-point group lazily (first use).

A plugin that fails to import is a warning naming it, never a crash of the user's training run.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitrun.errors import PluginError

if TYPE_CHECKING:
    import pluggy

    from gitrun.store import ReadStore

ENTRY_POINT_GROUP = "gitrun"
BUILTIN_PLUGINS = ("gitrun.tracking.run_context", "gitrun.vcs.plugin", "gitrun.models.plugin")

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
    import importlib
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


def run_context_tags(experiment_id: str, run_name: str) -> dict[str, str]:
    """Merge the tags every ``gitrun_run_context`` implementation returns (later plugins win)."""
    tags: dict[str, str] = {}
    pm = get_plugin_manager()
    kwargs = {"experiment_id": experiment_id, "run_name": run_name}
    # One call per implementation, in registration order (built-ins first, plugins override), so a
    # plugin that raises is a warning naming it instead of a crash of the user's run.
    for impl in pm.hook.gitrun_run_context.get_hookimpls():
        try:
            result = impl.function(*(kwargs[name] for name in impl.argnames))
        except Exception as exc:
            warnings.warn(
                f"gitrun plugin {impl.plugin_name!r} failed in gitrun_run_context and is skipped: "
                f"{type(exc).__name__}: {exc}",
                stacklevel=3,
            )
            continue
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
