"""The build pipeline: read the store once, then build each registered page through its module.

``build_site(store, BuildOptions(output=...))`` is the whole API. Steps:

1. open the store (at ``--rev`` through :func:`gitrun.vcs.revision.store_at`, else the working tree),
   read every experiment and run record once;
2. gather the pages the ``gitrun_site_pages`` hook declares (:func:`registered_pages`): the
   built-in ones (:mod:`gitrun.site.pages.builtin`), then plugins'; their navigation links make
   the top navigation of every page;
3. build them in order: the static assets and the vendored Vega bundle (once per version), run
   pages (skipped when their inputs hash as in the manifest), experiment pages and data, the home,
   compare and history pages, then plugins' pages;
4. remove what no unit produces any more and write the manifest.

Pages never show the time of the build: dates come from the commit or ``SOURCE_DATE_EPOCH``, so the
same input gives byte-identical output.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path

from gitrun._version import __version__
from gitrun.errors import GitrunError, PluginError
from gitrun.extras import require
from gitrun.plugins import call_each, resolve
from gitrun.site import resources
from gitrun.site.builder import Builder, BuildOptions, BuildResult, Progress, read_snapshot
from gitrun.site.context import NavLink
from gitrun.site.output import Manifest, SiteWriter, digest
from gitrun.site.pages import SitePage, builtin
from gitrun.store import ReadStore

__all__ = ["BuildOptions", "BuildResult", "SitePage", "build_site", "registered_pages"]


def _check_output(output: Path, store: ReadStore) -> None:
    resolved = output.resolve()
    if (resolved / ".git").exists():
        raise GitrunError(f"{output} holds a Git repository; choose an output folder of its own, e.g. _site/")
    store_root = store.root.resolve()
    if resolved == store_root or store_root in resolved.parents:
        raise GitrunError(f"{output} is inside the run store {store.root}; build the site elsewhere, e.g. _site/")


def registered_pages() -> list[tuple[str, SitePage]]:
    """(plugin, page) of every page the ``gitrun_site_pages`` hook declares, in build order; the
    first plugin to declare a key keeps it (the built-in pages are registered first)."""
    pages: dict[str, tuple[str, SitePage]] = {}
    for plugin, declared in call_each("gitrun_site_pages"):
        for page in declared:
            if not isinstance(page, SitePage):
                warnings.warn(
                    f"gitrun plugin {plugin!r} declared a site page that is not a SitePage: {page!r}", stacklevel=2
                )
                continue
            if page.key in pages:
                warnings.warn(
                    f"gitrun plugin {plugin!r} declares the site page {page.key!r}, which "
                    f"{pages[page.key][0]!r} already provides; it is skipped",
                    stacklevel=2,
                )
                continue
            pages[page.key] = (plugin, page)
    return sorted(pages.values(), key=lambda item: (item[1].order, item[1].key))


def _build_page(builder: Builder, plugin: str, page: SitePage) -> None:
    """Build one page; a plugin's page failing unexpectedly is a PluginError naming the plugin."""
    try:
        build = resolve(page.build) if isinstance(page.build, str) else page.build
        build(builder)
    except GitrunError:
        raise
    except Exception as exc:
        if plugin == builtin.__name__:
            raise  # gitrun's own bug: reported as any other unexpected error
        raise PluginError(
            f"the site page {page.key!r} of gitrun plugin {plugin!r} failed: {type(exc).__name__}: {exc}; "
            "fix or uninstall the plugin (see `gitrun plugins`)"
        ) from exc


def build_site(store: ReadStore, options: BuildOptions, progress: Progress | None = None) -> BuildResult:
    """Build (or bring up to date) the static site of ``store`` in ``options.output``."""
    require("site", feature="building the report site")
    started = time.perf_counter()
    output = Path(options.output)
    _check_output(output, store)
    if options.strict:
        store.strict = True
    snapshot = read_snapshot(store, options)
    output.mkdir(parents=True, exist_ok=True)
    pages = registered_pages()
    nav = tuple(NavLink(page.link, page.nav, page.key) for _, page in pages if page.nav)
    page_templates = [page.templates for _, page in pages if page.templates is not None]
    env = resources.make_environment(
        options.template_dir,
        strict=options.strict,
        page_templates=page_templates,
        bytecode_cache=resources.template_cache(store),
    )
    writer = SiteWriter(output, Manifest.load(output), full=options.full)
    user_templates = resources.tree_digest(options.template_dir) if options.template_dir else ""
    salt = digest(
        __version__,
        resources.tree_digest(resources.templates_dir()),
        user_templates,
        options.max_points,
        options.artifact_max_bytes,
        snapshot.branch,
        snapshot.store_rel,
        snapshot.repo_url,
        [dataclasses.astuple(link) for link in nav],  # every page shows the navigation
    )
    repo_name = snapshot.repo_root.name if snapshot.repo_root is not None else store.root.parent.name
    builder = Builder(
        options=options,
        snapshot=snapshot,
        writer=writer,
        env=env,
        salt=salt,
        site_title=options.title or f"{repo_name} experiments",
        progress=progress,
        nav=nav,
    )
    for plugin, page in pages:
        _build_page(builder, plugin, page)
    removed = writer.finish()
    return BuildResult(
        output=output,
        experiments=len(snapshot.experiments),
        runs=sum(len(v) for v in snapshot.records.values()),
        written=tuple(writer.written),
        unchanged=writer.unchanged,
        removed=tuple(removed),
        rebuilt_runs=builder.rebuilt_runs,
        seconds=time.perf_counter() - started,
    )
