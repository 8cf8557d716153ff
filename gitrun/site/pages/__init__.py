"""The site's pages: one module per page kind, each with a ``build(builder)`` that writes its files
through the :class:`~gitrun.site.builder.Builder`.

Which pages a build makes, in which order, and which of them the top navigation links to, is
declared by the ``gitrun_site_pages`` hook as :class:`SitePage` values: the built-in pages by
:mod:`gitrun.site.pages.builtin`, a plugin's pages the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitrun.site.builder import Builder


@dataclass(frozen=True)
class SitePage:
    """A page (or a kind of page) of the site, and its link in the top navigation if it has one."""

    key: str  # unique among pages; the page's ``site.page`` (its navigation link is highlighted there)
    build: Callable[[Builder], Any] | str  # called once per build with the Builder, or "module:attribute"
    nav: str | None = None  # text of its top-navigation link; None: no link (run pages, compare...)
    href: str = ""  # the link's target, relative to the site root (default: "<key>.html")
    order: int = 100  # build and navigation order; the built-in pages use 0-50
    templates: str | Path | None = None  # a folder of this page's Jinja2 templates, looked up after the built-in ones

    @property
    def link(self) -> str:
        return self.href or f"{self.key}.html"
