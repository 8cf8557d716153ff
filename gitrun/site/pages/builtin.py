"""The site's built-in pages, declared through the ``gitrun_site_pages`` hook that plugins implement
too (registered first: a plugin cannot take a built-in page's key).

Pages are named by ``"module:attribute"`` and imported only when a site is built: this module is
loaded in every process that uses plugins, training runs included.
"""

from __future__ import annotations

from gitrun.plugins import hookimpl
from gitrun.site.pages import SitePage

PAGES = (
    SitePage("assets", "gitrun.site.pages.assets:build", order=0),  # the theme and the Vega bundle
    SitePage("run", "gitrun.site.pages.run:build", order=10),
    SitePage("experiment", "gitrun.site.pages.experiment:build_all", order=20),
    SitePage("home", "gitrun.site.pages.home:build", nav="Experiments", href="index.html", order=30),
    SitePage("compare", "gitrun.site.pages.compare:build", order=40),
    SitePage("models", "gitrun.site.pages.models:build", nav="Models", order=44),  # the model registry
    SitePage("history", "gitrun.site.pages.history:build", nav="History", order=50),
)


@hookimpl
def gitrun_site_pages() -> tuple[SitePage, ...]:
    return PAGES
