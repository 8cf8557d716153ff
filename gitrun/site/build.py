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

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from gitrun._version import __version__
from gitrun.entities import Experiment
from gitrun.errors import GitrunError
from gitrun.site import resources
from gitrun.site.context import BuiltFrom, NavLink, SiteInfo, as_template_vars
from gitrun.site.output import Manifest, SiteWriter, digest
from gitrun.store import RunRecord, Store

log = logging.getLogger("gitrun.site")

Progress = Callable[[str, int, int], None]

# Pages of the top navigation: (key, href, text). A models page joins when the registry exists.
NAV: list[tuple[str, str, str]] = [("home", "index.html", "Experiments"), ("history", "history.html", "History")]


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

    store: Store
    experiments: list[Experiment]
    records: dict[str, list[RunRecord]]  # experiment_id -> runs, newest first
    built_from: BuiltFrom
    repo_root: Path | None
    store_rel: str  # the store's path in the repository ("" without Git)
    branch: str | None  # default branch (history, `dvc get --rev`)
    repo_url: str | None  # origin's URL without credentials, https form for GitHub/GitLab
    remote_url: str | None  # origin's URL as configured (credentials stripped)
    origin: Store  # the working-tree store (history reads commits through it)

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

    def site_info(self, page: str, depth: int, *, with_source: bool = True) -> SiteInfo:
        """Shared page context; ``with_source=False`` for pages kept across commits (run pages)."""
        built_from = self.snapshot.built_from if with_source else BuiltFrom(None, None, None, "", None, False, None)
        return SiteInfo(
            title=self.site_title,
            root="../" * depth,
            page=page,
            nav=tuple(NavLink(href, text, key) for key, href, text in NAV),
            built_from=built_from,
            generator=f"gitrun {__version__}",
        )

    def render(self, template: str, context: Any) -> str:
        return str(self.env.get_template(template).render(**as_template_vars(context)))

    def spec(self, kind: str, **kwargs: Any) -> dict[str, Any]:
        """A chart spec from :mod:`gitrun.charts`, cached in the manifest (no Altair import when cached)."""
        key = digest(kind, kwargs, self.charts_version)
        cached = self.writer.previous.specs.get(key) or self.writer.current.specs.get(key)
        if cached is None:
            from gitrun import charts

            cached = getattr(charts, kind)(**kwargs)
        self.writer.current.specs[key] = cached
        return dict(cached)

    @cached_property
    def charts_version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        from gitrun.charts import SPEC_VERSION

        try:
            altair = version("altair")
        except PackageNotFoundError:
            altair = "?"
        return f"{SPEC_VERSION}-{altair}"

    def tick(self, what: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(what, done, total)


def _check_output(output: Path, store: Store) -> None:
    resolved = output.resolve()
    if (resolved / ".git").exists():
        raise GitrunError(f"{output} holds a Git repository; choose an output folder of its own, e.g. _site/")
    store_root = store.root.resolve()
    if resolved == store_root or store_root in resolved.parents:
        raise GitrunError(f"{output} is inside the run store {store.root}; build the site elsewhere, e.g. _site/")


def _source_date(repo_root: Path | None, commit: str | None) -> str:
    from gitrun.site.safe import format_time

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().lstrip("-").isdigit():
        return format_time(int(epoch) * 1000) if int(epoch) else "1970-01-01 00:00:00 UTC"
    if repo_root is None or commit is None:
        return ""
    from gitrun.vcs.git import GitRepo

    out = GitRepo(repo_root).run("show", "-s", "--format=%ct", commit, check=False)
    stamp = out.stdout.strip() if out.returncode == 0 else ""
    return format_time(int(stamp) * 1000) if stamp.isdigit() else ""


def default_branch(repo: Any) -> str | None:
    """The branch history follows: origin's HEAD, else main/master, else the current branch."""
    out = repo.run("symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD", check=False)
    candidates = []
    if out.returncode == 0 and out.stdout.strip():
        remote = out.stdout.strip()
        candidates += [remote.split("/", 1)[-1], remote]
    candidates += ["main", "master", "origin/main", "origin/master"]
    for name in candidates:
        if repo.run("rev-parse", "--verify", "-q", f"{name}^{{commit}}", check=False).returncode == 0:
            return str(name)
    return repo.branch()


def read_snapshot(store: Store, options: BuildOptions) -> Snapshot:
    """Open the store (at ``options.rev`` when given) and read every experiment and run once."""
    from gitrun.site.safe import forge_commit_url, https_repo_url
    from gitrun.vcs.git import GitRepo, git_context

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
        from gitrun.vcs.revision import store_at

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
        runs = list(source.iter_runs([exp.experiment_id]))
        runs.sort(key=lambda r: (-r.start_time, r.run_id))
        records[exp.experiment_id] = runs
    return Snapshot(
        store=source,
        experiments=experiments,
        records=records,
        built_from=built_from,
        repo_root=repo.root if repo is not None else None,
        store_rel=store_rel,
        branch=default_branch(repo) if repo is not None and repo_head is not None else None,
        repo_url=https_repo_url(remote),
        remote_url=remote,
        origin=store,
    )


def build_site(store: Store, options: BuildOptions, progress: Progress | None = None) -> BuildResult:
    """Build (or bring up to date) the static site of ``store`` in ``options.output``."""
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
    from gitrun.site.pages import assets, compare, experiment, history, home, run

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
