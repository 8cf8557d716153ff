"""What one site build shares: its options, the store snapshot read once, and the :class:`Builder`
the page modules render through (templates, chart specs, the output writer, progress).

The page modules (``gitrun.site.pages``) import this module; ``gitrun.site.build`` runs the pages
the ``gitrun_site_pages`` hook declares, so nothing here knows the pages.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from gitrun import charts  # specs only: Altair is imported when a spec is first made
from gitrun._version import __version__
from gitrun.entities import Experiment
from gitrun.errors import GitrunError
from gitrun.formatting import format_time
from gitrun.search import record_cache
from gitrun.site.context import BuiltFrom, NavLink, SiteInfo, as_template_vars
from gitrun.site.output import SiteWriter, digest
from gitrun.site.safe import forge_commit_url, https_repo_url
from gitrun.store import ReadStore, RunRecord
from gitrun.tracking.provenance import git_context
from gitrun.vcs.git import GitRepo
from gitrun.vcs.revision import store_at

log = logging.getLogger("gitrun.site")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BuildOptions:
    """How to build. Only ``output`` is required."""

    output: Path
    rev: str | None = None  # build from this commit instead of the working tree
    strict: bool = False  # unreadable store files and undefined template variables are errors
    template_dir: Path | None = None  # templates here override the built-in ones
    title: str | None = None  # site title (default: "<repository> experiments")
    max_points: int = 500  # points per series in charts (min-max downsampling beyond)
    artifact_max_bytes: int = 1_000_000  # artifacts up to this size are copied into the site
    best_runs: int = 10  # runs overlaid in an experiment's metric chart
    pcp_max_runs: int = 1000  # runs drawn in parallel coordinates (the best ones beyond)
    history: bool = True  # build the history page from the default branch's commits
    workers: int | None = None  # processes for run pages (default: CPU count; 1 = in process)


@dataclass(frozen=True)
class BuildResult:
    output: Path
    experiments: int
    runs: int
    written: tuple[str, ...]  # files written (new or changed)
    unchanged: int  # files already up to date
    removed: tuple[str, ...]  # files of an earlier build no longer produced
    rebuilt_runs: int  # run pages rendered (the rest were up to date)
    seconds: float


@dataclass
class Snapshot:
    """Everything read from the store for one build."""

    store: ReadStore
    experiments: list[Experiment]
    records: dict[str, list[RunRecord]]  # experiment_id -> runs, newest first
    built_from: BuiltFrom
    repo_root: Path | None
    store_rel: str  # the store's path in the repository ("" without Git)
    branch: str | None  # default branch (history, `dvc get --rev`)
    repo_url: str | None  # origin's URL without credentials, https form for GitHub/GitLab
    remote_url: str | None  # origin's URL as configured (credentials stripped)
    origin: ReadStore  # the working-tree store (history reads commits through it)

    @property
    def all_records(self) -> list[RunRecord]:
        return [r for exp in self.experiments for r in self.records[exp.experiment_id]]


@dataclass
class Builder:
    """State shared by the page modules during one build."""

    options: BuildOptions
    snapshot: Snapshot
    writer: SiteWriter
    env: Any
    salt: str
    site_title: str
    progress: Progress | None = None
    specs_used: dict[str, Any] = field(default_factory=dict)
    nav: tuple[NavLink, ...] = ()  # the top navigation: the links of the registered pages that have one
    rebuilt_runs: int = 0  # run pages rendered by this build (the rest were up to date)

    def site_info(self, page: str, depth: int, *, with_source: bool = True) -> SiteInfo:
        """Shared page context; ``with_source=False`` for pages kept across commits (run pages)."""
        built_from = self.snapshot.built_from if with_source else BuiltFrom(None, None, None, "", None, False, None)
        return SiteInfo(
            title=self.site_title,
            root="../" * depth,
            page=page,
            nav=self.nav,
            built_from=built_from,
            generator=f"gitrun {__version__}",
        )

    def render(self, template: str, context: Any) -> str:
        """``template`` rendered with the fields of ``context`` (a dataclass, or a mapping) as its variables."""
        variables = dict(context) if isinstance(context, Mapping) else as_template_vars(context)
        return str(self.env.get_template(template).render(**variables))

    def spec(self, kind: str, **kwargs: Any) -> dict[str, Any]:
        """A chart spec from :mod:`gitrun.charts`, cached in the manifest (no Altair import when cached)."""
        key = digest(kind, kwargs, self.charts_version)
        cached = self.writer.previous.specs.get(key) or self.writer.current.specs.get(key)
        if cached is None:
            cached = getattr(charts, kind)(**kwargs)
        self.writer.current.specs[key] = cached
        return dict(cached)

    @cached_property
    def charts_version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            altair = version("altair")
        except PackageNotFoundError:
            altair = "?"
        return f"{charts.SPEC_VERSION}-{altair}"

    def tick(self, what: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(what, done, total)


def _source_date(repo_root: Path | None, commit: str | None) -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().lstrip("-").isdigit():
        return format_time(int(epoch) * 1000) if int(epoch) else "1970-01-01 00:00:00 UTC"
    if repo_root is None or commit is None:
        return ""
    out = GitRepo(repo_root).run("show", "-s", "--format=%ct", commit, check=False)
    stamp = out.stdout.strip() if out.returncode == 0 else ""
    return format_time(int(stamp) * 1000) if stamp.isdigit() else ""


def read_snapshot(store: ReadStore, options: BuildOptions) -> Snapshot:
    """Open the store (at ``options.rev`` when given) and read every experiment and run once."""
    repo: GitRepo | None
    try:
        repo = GitRepo.find(store.root)
    except GitrunError:
        repo = None
    repo_head = None if repo is not None and repo.head() is None else repo.head() if repo is not None else None
    source = store
    commit = repo_head
    branch = repo.branch() if repo is not None else None
    dirty = False
    store_rel = ""
    if repo is not None:
        rel = os.path.relpath(store.root.resolve(), repo.root.resolve()).replace(os.sep, "/")
        store_rel = "" if rel == "." else rel
    if options.rev:
        if repo is None:
            raise GitrunError(f"--rev {options.rev} needs a Git repository, and {store.root} is not in one")
        source = store_at(store, options.rev)
        commit = source.revision
        branch = None
    elif repo is not None and repo_head is not None:
        status = repo.run("status", "--porcelain", "--untracked-files=all", "--", store_rel or ".", check=False)
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else False
    elif repo is not None:
        dirty = True
    context = git_context(str(repo.root)) if repo is not None else None
    remote = context.remote_url if context is not None else None
    built_from = BuiltFrom(
        commit=commit,
        short=commit[:10] if commit else None,
        branch=branch,
        date=_source_date(repo.root if repo else None, commit),
        revision=options.rev,
        dirty=dirty,
        commit_url=forge_commit_url(remote, commit),
    )
    experiments = sorted(source.list_experiments(), key=lambda e: (e.name.lower(), e.experiment_id))
    records: dict[str, list[RunRecord]] = {}
    for exp in experiments:
        runs = list(record_cache.iter_runs(source, [exp.experiment_id]))  # cached records of unchanged runs
        runs.sort(key=lambda r: (-r.start_time, r.run_id))
        records[exp.experiment_id] = runs
    return Snapshot(
        store=source,
        experiments=experiments,
        records=records,
        built_from=built_from,
        repo_root=repo.root if repo is not None else None,
        store_rel=store_rel,
        branch=repo.default_branch() if repo is not None and repo_head is not None else None,
        repo_url=https_repo_url(remote),
        remote_url=remote,
        origin=store,
    )
