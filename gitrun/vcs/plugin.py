"""The version path's built-in hook implementations (registered like any plugin, see
``gitrun.plugins.BUILTIN_PLUGINS``): reading a store at a Git revision for the write path's
``Client(rev=)`` and ``search_runs(rev=)``, which may not import this package themselves."""

from __future__ import annotations

from typing import Any

import pluggy

hookimpl = pluggy.HookimplMarker("gitrun")


@hookimpl
def gitrun_store_at(store: Any, rev: str) -> Any:
    from gitrun.vcs.revision import store_at  # GitPython and the revision reader only when asked

    return store_at(store, rev)
