"""The static report site: ``build_site(store, BuildOptions(output=...))``.

Pages (Jinja2 templates in ``templates/``, context dataclasses in :mod:`gitrun.site.context`):
home, experiment, run, compare, history. Static assets from ``site/`` and the Vega bundle from
vl-convert-python are copied in, data files sit beside the pages, and a manifest makes rebuilds
incremental. See docs/site.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitrun.site.build import BuildOptions, BuildResult, build_site

__all__ = ["BuildOptions", "BuildResult", "build_site"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from gitrun.site import build

        return getattr(build, name)
    raise AttributeError(name)
