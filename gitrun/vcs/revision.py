"""Reading the store as it was at any commit, without a checkout; and the store's history.

``store_at(store, "main")`` returns a read-only :class:`~gitrun.store.ReadStore` of the store as
committed there, so every reader (search, diff, site, registry) works unchanged. Opening it reads
a few tree objects (no recursive listing) and writes a small skeleton (store.yaml, each
experiment.yaml, pyproject.toml) into ``.gitrun/.cache/revs/<key>/``, keyed by the store's tree
ID, so it is shared by every commit with the same store content. Run records come from the
record cache (:mod:`gitrun.search.record_cache`) by each run's tree ID; only the runs it lacks
are read from Git. Neither the work tree nor the index is touched.

When ``.gitrun/.cache`` cannot be written (a read-only file system, a full disk, no permission),
revisions are materialised in a temp folder of this process instead, removed at exit: reading
never needs a writable store.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from gitrun.entities import Metric, ViewType
from gitrun.errors import GitrunError, RunNotFoundError
from gitrun.search.record_cache import RecordCache, RunBrief
from gitrun.store import ReadStore, RunRecord, _visible, code, textio
from gitrun.store.datasets import INPUTS_FILE
from gitrun.store.pointers import SIZE_LINE
from gitrun.store.reader import build_record, parse_json_text, summaries_from
from gitrun.store.series import parse_series_text
from gitrun.store.textio import decode_json_bytes, decode_series_bytes, problem
from gitrun.store.validation import validate_artifact_path
from gitrun.vcs import dvc
from gitrun.vcs.git import GitRepo, TreeEntry, write_blobs

KEEP_TREES = 16  # materialised revisions kept in the cache (least recently used are removed)
RUN_JSON = ("meta.json", "params.json", "tags.json", "metrics.json")  # what a record is parsed from
LIST_ABOVE = 500  # runs to read from Git beyond which one recursive listing beats reading their trees
CHUNK = 5000  # runs read from Git at once: the blobs of one chunk are held, not those of 100,000 runs

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RunRef:
    run_id: str
    experiment_id: str


@dataclass(frozen=True)
class StoreCommit:
    """One commit that changed the store, with the runs it added, changed and removed."""

    sha: str
    parents: tuple[str, ...]
    author: str
    email: str
    timestamp: int  # seconds since the epoch
    subject: str
    added: tuple[RunRef, ...] = field(default_factory=tuple)
    changed: tuple[RunRef, ...] = field(default_factory=tuple)
    removed: tuple[RunRef, ...] = field(default_factory=tuple)


def _store_rel(repo: GitRepo, store: ReadStore) -> str:
    rel = os.path.relpath(store.root.resolve(), repo.root.resolve()).replace(os.sep, "/")
    if rel.startswith(".."):
        raise GitrunError(f"the store {store.root} is not inside the Git work tree {repo.root}")
    return "" if rel == "." else rel


class RevisionStore(ReadStore):
    """A read-only :class:`~gitrun.store.ReadStore` of the run store as committed at ``commit``.

    Nothing is listed recursively: the store's tree, its experiments and their ``runs/`` folders
    are read as tree objects (a few ``git cat-file --batch`` calls), which gives each run's Git
    tree ID (:attr:`run_trees`). A run's record comes from the record cache when its tree ID is
    there (:mod:`gitrun.search.record_cache`: parsed once, valid at every commit with the same
    tree); only the runs it lacks are read from Git: their trees, the sizes of their series (so
    summaries are checked without reading series) and their four small JSON files, in one batch
    for all of them. Only a skeleton (store.yaml, each experiment.yaml, the project's
    pyproject.toml as of that commit) is written to disk. A run's full directory (series,
    artifacts, code.diff) is written to the cache only when asked for (:meth:`find_run_dir`).
    Neither the work tree nor the index is touched.
    """

    def __init__(self, base: ReadStore, repo: GitRepo, commit: str, rel: str):
        self.repo = repo
        tree = repo.tree_id(commit, rel)
        project = repo.run("rev-parse", "--verify", "-q", f"{commit}:pyproject.toml", check=False)
        project_blob = project.stdout.strip() if project.returncode == 0 else None
        key = f"{tree or 'empty'}-{(project_blob or 'none')[:12]}"
        # The skeleton (store-level files, each experiment's files) and each run's tree ID.
        top: list[TreeEntry] = []
        # run ID -> (experiment ID, Git tree ID of its directory): equal IDs mean identical runs.
        self.run_trees: dict[str, tuple[str, str]] = {}
        root = repo.read_trees([tree]).get(tree, []) if tree else []
        top += [TreeEntry(e.mode, e.sha, 0, e.name) for e in root if not e.is_tree]
        experiments_tree = next((e.sha for e in root if e.is_tree and e.name == "experiments"), None)
        listed = repo.read_trees([experiments_tree]).get(experiments_tree, []) if experiments_tree else []
        experiments = {e.sha: e.name for e in listed if e.is_tree}
        runs_trees: dict[str, str] = {}
        for sha, entries in repo.read_trees(list(experiments)).items():
            experiment_id = experiments[sha]
            top += [
                TreeEntry(e.mode, e.sha, 0, f"experiments/{experiment_id}/{e.name}") for e in entries if not e.is_tree
            ]
            runs_trees.update((e.sha, experiment_id) for e in entries if e.is_tree and e.name == "runs")
        for sha, entries in repo.read_trees(list(runs_trees)).items():
            self.run_trees.update((e.name, (runs_trees[sha], e.sha)) for e in entries if e.is_tree)
        self._runs_tree = {experiment_id: sha for sha, experiment_id in runs_trees.items()}
        cache = _revisions_cache(base)
        names = sorted(experiments.values())
        try:
            skeleton = _skeleton(cache / key, repo, top, names, project_blob)
        except OSError as exc:
            if _scratch and cache == _scratch[0]:
                raise textio.write_error(
                    cache / key, exc, "the cache is derived data: the store is untouched"
                ) from None
            log.info("cannot materialise %s in %s (%s); using %s", commit, cache, exc, _scratch_cache())
            skeleton = _skeleton(_scratch_cache() / key, repo, top, names, project_blob)
        super().__init__(skeleton / "store", strict=base.strict)
        self.layout.__dict__["work_tree"] = skeleton  # pyproject.toml as of that commit
        self.revision = commit
        self.source_repo = repo.root
        self.source_store_rel = rel
        self._where = f"{repo.root / rel} at {commit[:10]}"
        self._record_cache = RecordCache(base.layout.cache_dir)
        self._files: dict[str, dict[str, TreeEntry]] = {}  # run ID -> {path in the run: entry}, on demand

    def __repr__(self) -> str:
        return f"RevisionStore({str(self.source_repo)!r} at {self.revision})"

    def run_ids(self) -> Iterator[str]:
        return iter(self.run_trees)

    @property
    def where(self) -> str:
        return self._where

    def _run_files(self, run_id: str) -> dict[str, TreeEntry]:
        """Every file of the run's directory (one ``git ls-tree -r -l`` of its tree, on first use)."""
        files = self._files.get(run_id)
        if files is None:
            files = self._files[run_id] = {
                rel.decode("utf-8", "surrogateescape"): TreeEntry(mode.decode(), sha.decode(), int(size), "")
                for mode, sha, size, rel in self.repo.ls_tree_raw(self.run_trees[run_id][1])
            }
        return files

    def find_run_dir(self, run_id: str) -> tuple[str, Path]:
        """The run's directory, written to the cache from Git on first use."""
        if run_id not in self.run_trees:
            raise RunNotFoundError(f"no run {run_id!r} at {self.revision}")
        experiment_id = self.run_trees[run_id][0]
        run_dir = self.layout.run_dir(experiment_id, run_id)
        if not (run_dir / ".complete").exists():
            entries = [e._replace(path=p) for p, e in self._run_files(run_id).items() if e.mode != "120000"]
            try:
                write_blobs(run_dir, entries, self.repo.read_blobs([e.sha for e in entries]))
                (run_dir / ".complete").touch()
            except OSError as exc:
                raise textio.write_error(run_dir, exc, "the cache is derived data: the store is untouched") from None
        return experiment_id, run_dir

    def code_diff_path(self, record: RunRecord) -> Path | None:
        """The run's code diff as committed: the shared ``code/<sha256>.diff`` read from Git into the
        cache on first use, else the run's own ``code.diff``."""
        name = code.shared_name(record.tags)
        if name is not None:
            path = code.shared_path(self.root, name)
            if not path.is_file():
                rel = f"{self.source_store_rel}/" if self.source_store_rel else ""
                spec = f"{self.revision}:{rel}{code.CODE_DIR}/{name}.diff"
                blob = self.repo.read_blobs([spec]).get(spec)
                if blob is not None:  # the cache is derived data; a write error names it
                    textio.make_dirs(path.parent)
                    textio.atomic_write(path, blob, durable=False)
            if path.is_file():
                return path
        _, run_dir = self.find_run_dir(record.run_id)
        own = run_dir / code.RUN_FILE
        return own if own.is_file() else None

    def read_runs(self, run_ids: Iterable[str]) -> list[RunRecord]:
        """Records of several runs: cached ones from the record cache, the rest in one batch of Git reads
        (unknown IDs are skipped)."""
        return self._records([r for r in run_ids if r in self.run_trees])

    def briefs(self, run_ids: Iterable[str]) -> list[RunBrief]:
        """:meth:`read_runs` reduced to what ranking reads (:class:`~gitrun.search.record_cache.RunBrief`):
        cached runs cost no record at all, the rest are read from Git and cached as by :meth:`read_runs`."""
        wanted = [r for r in run_ids if r in self.run_trees]
        return self._cached_or_read(wanted, lambda r: self._record_cache.brief(self.run_trees[r][1], r), RunBrief.of)

    def read_run(self, run_id: str) -> RunRecord:
        if run_id not in self.run_trees:
            raise RunNotFoundError(f"no run {run_id!r} at {self.revision}")
        records = self._records([run_id])
        if not records:
            raise RunNotFoundError(f"run {run_id} at {self.revision} cannot be read (see the warning above)")
        return records[0]

    def iter_runs(
        self, experiment_ids: Iterable[str] | None = None, view_type: int = ViewType.ACTIVE_ONLY
    ) -> Iterator[RunRecord]:
        wanted = None if experiment_ids is None else {str(e) for e in experiment_ids}
        ids = sorted(r for r, (exp, _) in self.run_trees.items() if wanted is None or exp in wanted)
        for record in self._records(ids):
            if _visible(record.lifecycle_stage, view_type):
                yield record

    def _records(self, run_ids: list[str]) -> list[RunRecord]:
        runs_root = self.layout.experiments_dir

        def cached(run_id: str) -> RunRecord | None:
            experiment_id, tree = self.run_trees[run_id]
            return self._record_cache.get(tree, runs_root / experiment_id / "runs" / run_id, experiment_id)

        return self._cached_or_read(run_ids, cached, lambda record: record)

    def _cached_or_read(
        self, run_ids: list[str], cached: Callable[[str], T | None], keep: Callable[[RunRecord], T]
    ) -> list[T]:
        """Each run as ``cached`` gives it from the record cache, else read from Git (:meth:`_read_missing`)
        and made by ``keep``; in the order of ``run_ids``, runs that cannot be read left out."""
        found: dict[str, T] = {}
        missing = []
        for run_id in run_ids:
            value = cached(run_id)
            if value is None:
                missing.append(run_id)
            else:
                found[run_id] = value
        found.update(self._read_missing(missing, keep))
        return [found[r] for r in run_ids if r in found]

    def _read_missing(self, run_ids: list[str], keep: Callable[[RunRecord], T]) -> dict[str, T]:
        """Runs the record cache lacks, read from Git :data:`CHUNK` runs at a time (so the blobs of
        only one chunk are held) and cached, the cache saved once; ``keep`` turns each record into
        what the caller holds on to. A run that warned is not cached, so its warning shows on every read."""
        if not run_ids:
            return {}
        out: dict[str, T] = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for files in self._file_batches(run_ids):
                before = len(caught)
                records = self._parse_runs(files)
                warned = " ".join(str(w.message) for w in caught[before:])
                for record in records:
                    out[record.run_id] = keep(record)
                    if record.run_id not in warned:
                        self._record_cache.put(self.run_trees[record.run_id][1], record)
        for warning in caught:  # shown as without the cache
            warnings.warn(warning.message, warning.category, stacklevel=4)
        self._record_cache.save()
        return out

    def _parse_runs(self, files: dict[str, dict[str, TreeEntry]]) -> list[RunRecord]:
        """Records of runs from their small files (:meth:`_file_batches`): the JSON files, the
        pointers of series in DVC and any series its summary does not cover, in two or three batches."""
        run_ids = list(files)
        shas = [f[n].sha for r in run_ids for n in RUN_JSON if n in (f := files[r])]
        shas += [e.sha for r in run_ids for p, e in files[r].items() if p.endswith(".tsv.dvc")]
        blobs = self.repo.read_blobs(shas)
        runs_root = self.layout.experiments_dir
        parsed = []
        for run_id in run_ids:
            run_dir = runs_root / self.run_trees[run_id][0] / "runs" / run_id
            prefix = f"{run_dir}/"

            def load(
                name: str, default: Any, run_files: dict[str, TreeEntry] = files[run_id], prefix: str = prefix
            ) -> Any:
                entry = run_files.get(name)
                if entry is None:
                    return default
                label = f"{prefix}{name} (at {self.revision})"
                return parse_json_text(
                    decode_json_bytes(blobs[entry.sha], label, self.strict), label, self.strict, default
                )

            meta = load("meta.json", None)
            if meta is None:
                problem(
                    f"{run_dir / 'meta.json'} (at {self.revision}): missing or unreadable; skipping this run",
                    self.strict,
                )
                continue
            parsed.append((run_id, run_dir, meta, load("params.json", {}), load("tags.json", {}), load))
        # Series a summary does not cover (e.g. points logged after the run ended): read in one batch.
        docs = {run_id: load("metrics.json", {}) for run_id, *_, load in parsed}
        sizes = {run_id: _series_sizes(files[run_id], blobs) for run_id, *_ in parsed}
        stale = [
            files[run_id][f"metrics/{key}.tsv"].sha
            for run_id, doc in docs.items()
            for key, size in sizes[run_id].items()
            if not (isinstance(doc, dict) and isinstance(entry := doc.get(key), dict) and entry.get("bytes") == size)
            and f"metrics/{key}.tsv" in files[run_id]
        ]
        series = self.repo.read_blobs(stale)
        out = []
        for run_id, run_dir, meta, params, tags, _ in parsed:
            summaries = summaries_from(
                docs[run_id],
                f"{run_dir}/metrics.json",
                sizes[run_id],
                functools.partial(self._series_points, run_id, prefetched=(files[run_id], series)),
                self.strict,
            )
            record = build_record(run_dir, self.run_trees[run_id][0], meta, params, tags, summaries, self.strict)
            if record is not None:
                out.append(record)
        return out

    def _file_batches(self, run_ids: list[str]) -> Iterator[dict[str, dict[str, TreeEntry]]]:
        """Each run's top-level files and everything under ``metrics/`` (series with their sizes),
        :data:`CHUNK` runs at a time. An experiment with more than :data:`LIST_ABOVE` of its runs
        wanted, and more than a third of them, is read from one ``git ls-tree -r -l`` of its
        ``runs/`` folder (cheaper per run); otherwise the runs' trees are read as tree objects."""
        by_experiment: dict[str, list[str]] = {}
        for run_id in run_ids:
            by_experiment.setdefault(self.run_trees[run_id][0], []).append(run_id)
        sizes = Counter(experiment_id for experiment_id, _ in self.run_trees.values())
        for experiment_id, ids in by_experiment.items():
            if len(ids) > LIST_ABOVE and 3 * len(ids) > sizes[experiment_id]:
                yield from self._listed_files(experiment_id, set(ids))
            else:
                for start in range(0, len(ids), CHUNK):
                    yield self._tree_files(ids[start : start + CHUNK])

    def _tree_files(self, run_ids: list[str]) -> dict[str, dict[str, TreeEntry]]:
        """:meth:`_file_batches` of a few runs: their trees, then ``metrics/`` one level per round."""
        out: dict[str, dict[str, TreeEntry]] = {r: {} for r in run_ids}
        # (tree ID, run ID, its path in the run): identical trees (two runs' equal series) are read once
        pending = [(self.run_trees[r][1], r, "") for r in run_ids]
        series: list[tuple[str, str, str]] = []  # (run ID, path in the run, blob ID) of .tsv files
        while pending:
            trees = self.repo.read_trees([tree for tree, _, _ in pending])
            step = []
            for tree, run_id, where in pending:
                for e in trees.get(tree, []):
                    path = f"{where}{e.name}"
                    if e.is_tree:
                        if path == "metrics" or where.startswith("metrics/"):
                            step.append((e.sha, run_id, f"{path}/"))
                    elif path.endswith(".tsv") and where:
                        series.append((run_id, path, e.sha))
                    else:
                        out[run_id][path] = TreeEntry(e.mode, e.sha, 0, "")
            pending = step
        sizes = self.repo.blob_sizes([sha for _, _, sha in series])
        for run_id, path, sha in series:
            out[run_id][path] = TreeEntry("100644", sha, sizes.get(sha, -1), "")
        return out

    def _listed_files(self, experiment_id: str, wanted: set[str]) -> Iterator[dict[str, dict[str, TreeEntry]]]:
        """:meth:`_file_batches` from one recursive listing of the experiment's ``runs/`` folder,
        taken a run at a time (Git lists by path, so a run's files come together)."""
        out: dict[str, dict[str, TreeEntry]] = {}
        current, files = b"", None
        for mode, sha, size, path in self.repo.iter_tree_raw(self._runs_tree[experiment_id]):
            run_id, _, rel = path.partition(b"/")
            if run_id != current:
                if len(out) >= CHUNK:
                    yield out
                    out = {}
                current, name = run_id, run_id.decode("utf-8", "surrogateescape")
                files = None
                if name in wanted:
                    files = out[name] = {}
                    wanted.discard(name)
            if files is not None and (b"/" not in rel or rel.startswith(b"metrics/")):
                files[rel.decode("utf-8", "surrogateescape")] = TreeEntry(mode.decode(), sha.decode(), int(size), "")
        out.update((run_id, {}) for run_id in wanted)  # not listed at all: read as a run without files
        if out:
            yield out

    def _series_points(
        self, run_id: str, key: str, prefetched: tuple[dict[str, TreeEntry], dict[str, bytes]] | None = None
    ) -> list[tuple[int, int, float]]:
        """A series' points at this commit; ``prefetched`` (the run's files, blobs already read) saves a read."""
        experiment_id, tree = self.run_trees[run_id]
        entry = prefetched[0].get(f"metrics/{key}.tsv") if prefetched else None
        if prefetched and entry is not None and entry.sha in prefetched[1]:
            data: bytes | None = prefetched[1][entry.sha]
        else:
            name = f"{tree}:metrics/{key}.tsv"
            data = self.repo.read_blobs([name]).get(name)
        if data is None:  # content in DVC: read it at this commit
            parts = (self.source_store_rel, "experiments", experiment_id, "runs", run_id, "metrics", f"{key}.tsv")
            assert self.source_repo is not None
            data = dvc.read_at_rev(self.source_repo, "/".join(p for p in parts if p), self.revision)
        label = f"{run_id}/metrics/{key}.tsv@{(self.revision or '')[:12]}"
        return parse_series_text(decode_series_bytes(data, label, self.strict), label, self.strict)

    def inputs_files_of(self, records: Iterable[RunRecord]) -> dict[str, tuple[Any, str]]:
        """Each run's ``inputs.json`` at this revision: ``<tree>:inputs.json`` reads in one batch (no checkout)."""
        records = list(records)
        names = {
            r.run_id: f"{self.run_trees[r.run_id][1]}:{INPUTS_FILE}" for r in records if r.run_id in self.run_trees
        }
        blobs = self.repo.read_blobs(list(names.values()))
        out: dict[str, tuple[Any, str]] = {}
        for record in records:
            label = f"{record.run_dir / INPUTS_FILE} (at {self.revision})"
            blob = blobs.get(names.get(record.run_id, ""))
            if blob is None:  # no such run here, or a run without inputs
                out[record.run_id] = ({}, label)
                continue
            out[record.run_id] = (
                parse_json_text(decode_json_bytes(blob, label, self.strict), label, self.strict, {}),
                label,
            )
        return out

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        if run_id not in self.run_trees:
            raise RunNotFoundError(f"no run {run_id!r} at {self.revision}")
        return [Metric(key=key, value=v, timestamp=ts, step=st) for st, ts, v in self._series_points(run_id, key)]


def _series_sizes(files: dict[str, TreeEntry], blobs: dict[str, bytes]) -> dict[str, int | None]:
    sizes: dict[str, int | None] = {}
    for path, entry in files.items():
        if not path.startswith("metrics/"):
            continue
        if path.endswith(".tsv"):
            sizes[path[8:-4]] = entry.size
        elif path.endswith(".tsv.dvc"):
            match = SIZE_LINE.search(blobs.get(entry.sha, b"").decode("utf-8", "replace"))
            sizes.setdefault(path[8:-8], int(match.group(1)) if match else None)
    return sizes


def _skeleton(
    target: Path, repo: GitRepo, keep: list[TreeEntry], experiments: list[str], project_blob: str | None
) -> Path:
    """Write (once per store tree) the few files a revision view reads from disk: store.yaml,
    .gitignore, each experiment.yaml, an empty ``runs/`` per experiment, pyproject.toml."""
    if target.exists():
        try:
            os.utime(target)  # recently used: kept by _prune
        except OSError:
            pass  # a read-only cache still serves what it holds
        return target
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write_blobs(tmp / "store", keep, repo.read_blobs([e.sha for e in keep]))
        for experiment in experiments:
            (tmp / "store" / "experiments" / experiment / "runs").mkdir(parents=True, exist_ok=True)
        (tmp / "store").mkdir(parents=True, exist_ok=True)
        if project_blob is not None:
            (tmp / "pyproject.toml").write_bytes(repo.run("cat-file", "blob", project_blob, text=False))
        target.parent.mkdir(parents=True, exist_ok=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a full disk must not leave half a revision behind
        raise
    try:
        os.rename(tmp, target)
    except OSError:  # another process wrote it first
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(target.parent)
    return target


_scratch: list[Path] = []  # this process's temp cache, created on first need


def _scratch_cache() -> Path:
    """A temp folder of this process for materialised revisions, removed at exit."""
    if not _scratch:
        folder = Path(tempfile.mkdtemp(prefix="gitrun-revs-"))
        atexit.register(shutil.rmtree, folder, True)
        _scratch.append(folder)
    return _scratch[0]


def _revisions_cache(base: ReadStore) -> Path:
    """``<store>/.cache/revs`` when this process can write there, else :func:`_scratch_cache`."""
    return derived_cache(base, "revs")


def derived_cache(base: ReadStore, name: str) -> Path:
    """``<store>/.cache/<name>`` when this process can write there, else a folder of :func:`_scratch_cache`
    (derived data never needs a writable store)."""
    folder = base.layout.cache_dir / name
    probe = textio.temp_path(folder / "probe")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        os.unlink(probe)
        return folder
    except OSError as exc:
        log.info("the store's cache %s is not writable (%s); using a temp folder", folder, exc)
        return _scratch_cache() if name == "revs" else _scratch_cache() / f".{name}"  # not pruned as a revision


def store_at(store: ReadStore, rev: str) -> RevisionStore:
    """A read-only view of ``store`` as committed at ``rev`` (branch, tag, SHA, ``HEAD~2``...)."""
    repo = GitRepo.find(store.root)
    return RevisionStore(store, repo, repo.rev_parse(rev), _store_rel(repo, store))


def _prune(base: Path) -> None:
    entries = sorted((p for p in base.iterdir() if not p.name.startswith(".")), key=lambda p: p.stat().st_mtime)
    for old in entries[:-KEEP_TREES]:
        shutil.rmtree(old, ignore_errors=True)


def history(store: ReadStore, rev: str = "HEAD") -> list[StoreCommit]:
    """Commits reachable from ``rev`` that changed the store, oldest first (one ``git log``)."""
    repo = GitRepo.find(store.root)
    if repo.head() is None:
        return []
    rel = _store_rel(repo, store)
    raw = repo.log_paths(rel or ".", repo.rev_parse(rev))
    out = []
    prefix = f"{rel}/experiments/" if rel else "experiments/"
    for record in raw.split("\x1e"):
        if not record.strip():
            continue
        header, _, body = record.partition("\n")
        sha, parents, author, email, ts, subject = header.split("\x1f")
        added: dict[RunRef, None] = {}
        changed: dict[RunRef, None] = {}
        removed: dict[RunRef, None] = {}
        for line in body.splitlines():
            if "\t" not in line:
                continue
            status, path = line.split("\t", 1)
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            if len(parts) < 4 or parts[1] != "runs":
                continue
            ref = RunRef(parts[2], parts[0])
            if parts[3] == "meta.json" and status == "A":
                added[ref] = None
            elif parts[3] == "meta.json" and status == "D":
                removed[ref] = None
            else:
                changed[ref] = None
        out.append(
            StoreCommit(
                sha=sha,
                parents=tuple(parents.split()),
                author=author,
                email=email,
                timestamp=int(ts),
                subject=subject,
                added=tuple(added),
                changed=tuple(r for r in changed if r not in added and r not in removed),
                removed=tuple(removed),
            )
        )
    return out


def read_artifact(store: ReadStore, run_id: str, path: str) -> bytes:
    """Bytes of an artifact of a run: from the files, or through DVC when it is tracked there.

    Works on the working-tree store and on a :func:`store_at` view (DVC then reads at that commit).
    """
    rel = validate_artifact_path(path)
    _, run_dir = store.find_run_dir(run_id)
    target = run_dir / "artifacts" / rel
    if target.is_file():
        return target.read_bytes()
    # The file, or a directory above it inside artifacts/, may be tracked by DVC.
    artifacts = run_dir / "artifacts"
    covering = [p for p in (target, *target.parents) if p != artifacts and artifacts in p.parents]
    if not any(p.with_name(p.name + ".dvc").exists() for p in covering):
        raise GitrunError(f"run {run_id} has no artifact {path!r}")
    if store.revision is None:
        repo = GitRepo.find(store.root)
        repo_path = os.path.relpath(target.resolve(), repo.root.resolve())
        return dvc.read_at_rev(repo.root, repo_path, None)
    in_store = os.path.relpath(target, store.root).replace(os.sep, "/")
    repo_path = f"{store.source_store_rel}/{in_store}" if store.source_store_rel else in_store
    assert store.source_repo is not None
    return dvc.read_at_rev(store.source_repo, repo_path, store.revision)
