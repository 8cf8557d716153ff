"""What one site build shares: its options, the store snapshot read once, and the :class:`Builder`
the page modules render through (templates, chart specs, the output writer, progress).

The page modules (``gitrun.site.pages``) import this module; ``gitrun.site.build`` runs the pages
the ``gitrun_site_pages`` hook declares, so nothing here knows the pages.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from gitrun import charts  # specs only: Altair is imported when a spec is first made
from gitrun._version import __version__
from gitrun.entities import Experiment, RunStatus
from gitrun.errors import GitrunError
from gitrun.formatting import format_time
from gitrun.search import record_cache
from gitrun.search.experiments import best_run
from gitrun.search.index import SETTLE_NS
from gitrun.site.context import BuiltFrom, NavLink, SiteInfo, as_template_vars
from gitrun.site.output import SiteWriter, digest
from gitrun.site.safe import forge_commit_url, https_repo_url
from gitrun.store import ReadStore, RunRecord
from gitrun.tracking.provenance import remote_url
from gitrun.vcs.git import GitRepo
from gitrun.vcs.revision import RevisionStore, store_at

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
    table_chunk_rows: int = 500  # runs per chunk of an experiment's runs table, on average
    full: bool = False  # rebuild every page, whatever the last build recorded
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
    # run ID -> what identifies its files without reading them (:func:`content_key`)
    content_keys: dict[str, str] = field(default_factory=dict)

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
    _best: dict[tuple[str, str], tuple[RunRecord, float] | None] = field(default_factory=dict)

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

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, or what it returned for ``key`` in the last build (kept in the manifest:
        JSON values only); pass a key that covers every input."""
        value = self.writer.previous.data.get(key, self.writer.current.data.get(key))
        if value is None:
            value = compute()
        self.writer.current.data[key] = value
        return value

    def best(self, experiment: Experiment, metric: str) -> tuple[RunRecord, float] | None:
        """The experiment's best run by ``metric`` (:func:`gitrun.search.experiments.best_run`),
        worked out once per build for all the pages that show it."""
        key = (experiment.experiment_id, metric)
        if key not in self._best:
            self._best[key] = best_run(experiment, self.snapshot.records[experiment.experiment_id], metric)
        return self._best[key]

    def tick(self, what: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(what, done, total)


def _source_date(repo_root: Path | None, commit: str | None) -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().lstrip("-").isdigit():
        return format_time(int(epoch) * 1000) if int(epoch) else "1970-01-01 00:00:00 UTC"
    if repo_root is None or commit is None:
        return ""
    out = GitRepo(repo_root).run("log", "-1", "--format=%ct", commit, "--", check=False)  # `git show`: 30x slower
    stamp = out.stdout.strip() if out.returncode == 0 else ""
    return format_time(int(stamp) * 1000) if stamp.isdigit() else ""


def read_snapshot(store: ReadStore, options: BuildOptions) -> Snapshot:
    """Open the store (at ``options.rev`` when given) and read every experiment and run once."""
    repo: GitRepo | None
    try:
        repo = GitRepo.find(store.root)
    except GitrunError:
        repo = None
    repo_head = repo.head() if repo is not None else None
    source = store
    commit = repo_head
    branch = repo.branch() if repo is not None else None
    store_rel = ""
    if repo is not None:
        rel = os.path.relpath(store.root.resolve(), repo.root.resolve()).replace(os.sep, "/")
        store_rel = "" if rel == "." else rel
    committed: Committed | None = None
    if options.rev:
        if repo is None:
            raise GitrunError(f"--rev {options.rev} needs a Git repository, and {store.root} is not in one")
        source = store_at(store, options.rev)
        commit = source.revision
        branch = None
    elif repo is not None and repo_head is not None:
        committed = _committed(store, repo, repo_head, store_rel)
    experiments = sorted(source.list_experiments(), key=lambda e: (e.name.lower(), e.experiment_id))
    records: dict[str, list[RunRecord]] = {exp.experiment_id: [] for exp in experiments}
    # One pass over every experiment: the record cache is loaded and saved once per build.
    for record in record_cache.iter_runs(source, list(records)):
        records[record.experiment_id].append(record)
    for runs in records.values():
        runs.sort(key=lambda r: (-r.start_time, r.run_id))
    everything = [r for runs in records.values() for r in runs]
    if isinstance(source, RevisionStore):
        content_keys = {r.run_id: f"{source.run_trees[r.run_id][1]}:{r.status}" for r in everything}
        dirty = False
    else:
        content_keys = _work_tree_keys(everything, committed.trees if committed else {})
        if committed is None:
            dirty = repo is not None  # a repository without commits (or whose status failed)
        else:
            dirty = committed.changed or any(
                r.run_id not in committed.trees and r.run_id not in committed.edited for r in everything
            )
            dirty = dirty or any(e.experiment_id not in committed.experiments for e in experiments)
    remote = remote_url(str(repo.root)) if repo is not None else None
    built_from = BuiltFrom(
        commit=commit,
        short=commit[:10] if commit else None,
        branch=branch,
        date=_source_date(repo.root if repo else None, commit),
        revision=options.rev,
        dirty=dirty,
        commit_url=forge_commit_url(remote, commit),
    )
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
        content_keys=content_keys,
    )


@dataclass(frozen=True)
class Committed:
    """What HEAD holds of the store, against the working tree."""

    trees: dict[str, str]  # run ID -> its folder's tree ID, for the runs whose tracked files are as committed
    edited: set[str]  # runs in HEAD whose tracked files changed
    experiments: set[str]  # experiment IDs in HEAD
    changed: bool  # any tracked file of the store changed


def _committed(store: ReadStore, repo: GitRepo, head: str, store_rel: str) -> Committed | None:
    """The store in HEAD and which of its tracked files changed (``git status -uno``: new files are
    found as runs and experiments HEAD lacks, without Git walking every folder for untracked files)."""
    status = repo.run("status", "--porcelain", "-z", "--untracked-files=no", "--", store_rel or ".", check=False)
    if status.returncode != 0:
        return None
    prefix = f"{store_rel}/experiments/" if store_rel else "experiments/"
    edited: set[str] = set()
    entries = status.stdout.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        if entry[0] in "RC":  # a rename or copy: the next field is the source path
            i += 1
        path = entry[3:]
        if path.startswith(prefix):
            parts = path[len(prefix) :].split("/")
            if len(parts) >= 3 and parts[1] == "runs":
                edited.add(parts[2])
    try:
        at_head = store_at(store, head)
    except GitrunError:
        return None
    return Committed(
        trees={run_id: tree for run_id, (_, tree) in at_head.run_trees.items() if run_id not in edited},
        edited=edited,
        experiments={e.experiment_id for e in at_head.list_experiments()},
        changed=bool(status.stdout.strip("\0")),
    )


def _work_tree_keys(records: list[RunRecord], trees: dict[str, str]) -> dict[str, str]:
    """run ID -> "<tree ID or ->:<inode>:<mtime>:<status>" of each run that has ended and whose
    folder has not changed for two seconds. A write to an ended run touches its folder
    (:meth:`gitrun.store.Store.writable`), and the tree ID catches a checkout that changed files
    deep inside it; files edited by hand deep in a run folder are not seen (``--full``)."""
    settled = time.time_ns() - SETTLE_NS
    keys: dict[str, str] = {}
    for record in records:
        if record.status == RunStatus.RUNNING or record.meta.get("status") == RunStatus.RUNNING:
            continue
        try:
            st = os.stat(record.run_dir)
        except OSError:
            continue
        if st.st_mtime_ns < settled:
            keys[record.run_id] = f"{trees.get(record.run_id, '-')}:{st.st_ino}:{st.st_mtime_ns}:{record.status}"
    return keys


def content_key(snapshot: Snapshot, record: RunRecord) -> str | None:
    """What identifies ``record``'s files in this build without reading them, or None when they
    must be read: at ``--rev`` its folder's Git tree ID (and its effective status, which Git does
    not hold); in the working tree, for a run that has ended, its folder's inode and mtime and,
    when its tracked files are as committed, its tree ID in HEAD (:func:`_work_tree_keys`)."""
    return snapshot.content_keys.get(record.run_id)
