"""Post-import hooks: run a function once a module is imported, at once if it already is.

``gitrun.autolog()`` enables a framework's integration when the script imports the framework,
as MLflow's does, so it costs nothing for frameworks a script never imports and can be called
before ``import sklearn``. A finder on ``sys.meta_path`` wraps the loader of each watched module;
after the module has run, the loader is put back and the hooks run. A hook that raises is a
warning: the user's import always succeeds.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

Hook = Callable[[ModuleType], None]

_hooks: dict[str, dict[str, Hook]] = {}  # module name -> {key: hook}
_lock = threading.RLock()
_searching = threading.local()  # .names: modules this thread is finding through the other finders


def when_imported(name: str, key: str, hook: Hook) -> None:
    """Call ``hook(module)`` when module ``name`` is imported, or now if it is; ``key`` names the
    hook, and registering the same key again replaces it."""
    with _lock:
        _hooks.setdefault(name, {})[key] = hook
        _install()
        module = sys.modules.get(name)
    if module is not None:
        _run(name, {key: hook}, module)


def _run(name: str, hooks: dict[str, Hook], module: ModuleType) -> None:
    for key, hook in hooks.items():
        try:
            hook(module)
        except Exception as exc:
            log.warning("%s could not act on the import of %s: %s: %s", key, name, type(exc).__name__, exc)


class _Loader(importlib.abc.Loader):
    """The module's own loader, then the hooks."""

    def __init__(self, loader: Any):
        self.loader = loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        # The module sees its own loader while it runs (importlib.resources asks it for files).
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        with _lock:
            hooks = dict(_hooks.get(module.__name__, {}))
        _run(module.__name__, hooks, module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        searching: set[str] = _searching.__dict__.setdefault("names", set())
        if fullname not in _hooks or fullname in searching:
            return None
        searching.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)  # the other finders' answer
        finally:
            searching.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader)
        return spec


_finder = _Finder()


def _install() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
