"""The build pipeline: read the store once, then render each page kind through its module.

``build_site(store, BuildOptions(output=...))`` is the whole API. Steps:

1. open the store (at ``--rev`` through :func:`gitrun.vcs.revision.store_at`, else the working tree),
   read every experiment and run record once;
2. copy the static assets and the vendored Vega bundle (once per version);
3. render run pages (skipped when their inputs hash as in the manifest), experiment pages and
   data, the home, compare and history pages;
4. remove what no unit produces any more and write the manifest.

Pages never show the time of the build: dates come from the commit or ``SOURCE_DATE_EPOCH``, so the
same input gives byte-identical output.
"""

from __future__ import annotations

import time
from pathlib import Path

from gitrun._version import __version__
from gitrun.errors import GitrunError
from gitrun.extras import require
from gitrun.site import resources
from gitrun.site.builder import Builder, BuildOptions, BuildResult, Progress, read_snapshot
from gitrun.site.output import Manifest, SiteWriter, digest
from gitrun.site.pages import assets, compare, experiment, history, home, run
from gitrun.store import ReadStore

__all__ = ["BuildOptions", "BuildResult", "build_site"]


def _check_output(output: Path, store: ReadStore) -> None:
    resolved = output.resolve()
    if (resolved / ".git").exists():
        raise GitrunError(f"{output} holds a Git repository; choose an output folder of its own, e.g. _site/")
    store_root = store.root.resolve()
    if resolved == store_root or store_root in resolved.parents:
        raise GitrunError(f"{output} is inside the run store {store.root}; build the site elsewhere, e.g. _site/")


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
    env = resources.make_environment(options.template_dir, strict=options.strict)
    previous = Manifest.load(output)
    writer = SiteWriter(output, previous)
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
    )
    assets.build(builder)
    rebuilt = run.build_all(builder)
    for exp in snapshot.experiments:
        experiment.build(builder, exp)
    home.build(builder)
    compare.build(builder)
    history.build(builder)
    removed = writer.finish()
    return BuildResult(
        output=output,
        experiments=len(snapshot.experiments),
        runs=sum(len(v) for v in snapshot.records.values()),
        written=tuple(writer.written),
        unchanged=writer.unchanged,
        removed=tuple(removed),
        rebuilt_runs=rebuilt,
        seconds=time.perf_counter() - started,
    )
