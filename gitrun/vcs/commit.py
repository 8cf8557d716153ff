"""``gitrun commit``: put finished runs into Git, big artifacts into DVC, and nothing else.

How the user's work stays untouched: the store paths being committed are staged in a
*temporary index* holding only them, the commit's tree is HEAD's with those paths replaced
(:mod:`gitrun.vcs.trees`), the hooks ``git commit`` would run run on a temporary index of that
tree, and only the committed entries of the real index are set to the new HEAD's. Whatever else
the user had staged or modified is exactly as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from gitrun import gitcmd
from gitrun.entities import RunStatus
from gitrun.errors import CommitRefused, ExperimentNotFoundError, GitCommandError, GitrunError, last_lines
from gitrun.formatting import format_number, parse_size
from gitrun.search.experiments import best_run
from gitrun.settings import load_project_settings
from gitrun.store import RunRecord, Store
from gitrun.store.layout import EXPERIMENT_FILE, HEARTBEAT_PREFIX, LOCK_FILE, MODEL_FILE, local_only
from gitrun.store.pointers import MD5_LINE, pointer_size
from gitrun.store.reader import holds_only_local_files, pid_alive, read_run
from gitrun.store.textio import TEMP_PREFIX, atomic_write
from gitrun.store.writer import FULL_VALUES_DIR
from gitrun.tracking.state import current_store
from gitrun.vcs import dvc
from gitrun.vcs.git import GitRepo
from gitrun.vcs.trees import TreeEdit

DEFAULT_DVC_THRESHOLD = 500 * 1024  # pre-commit's check-added-large-files default (500 KB)


@dataclass(frozen=True)
class CommittedRun:
    run_id: str
    run_name: str
    experiment_id: str
    status: str
    change: str  # "added" or "changed"


@dataclass(frozen=True)
class CommitResult:
    """What ``commit`` did. ``sha`` is None when there was nothing to commit."""

    sha: str | None
    message: str
    runs: tuple[CommittedRun, ...] = ()
    dvc_tracked: tuple[str, ...] = ()
    skipped_running: tuple[str, ...] = ()
    files: tuple[str, ...] = field(default=(), repr=False)
    registry: tuple[Any, ...] = ()  # what the participants did once committed (the registry's outcomes)


class CommitParticipant(Protocol):
    """A plugin's part in a commit (``gitrun_commit_prepare``): files it wrote join the commit."""

    paths: list[str]  # repo-relative files to commit with the runs

    def committed(self, sha: str) -> list[Any]: ...  # the commit is made: finish (tags...), report

    def abandoned(self) -> None: ...  # no commit was made: put the files back


def _participants(store: Store, records: Sequence[RunRecord]) -> list[CommitParticipant]:
    from gitrun.plugins import call_each

    return [part for _, part in call_each("gitrun_commit_prepare", store=store, runs=list(records))]


def dvc_threshold(store: Store, override: str | int | None = None) -> int:
    """Precedence: the explicit value, ``[tool.gitrun] dvc_threshold`` in pyproject.toml, the store's
    ``store.yaml``, then 500 KB."""
    if override is not None:
        return parse_size(override)
    project = load_project_settings(store.layout.work_tree).raw.get("dvc_threshold")
    if project is not None:
        return parse_size(project)
    configured = store.config().get("dvc_threshold")
    if configured is not None:
        return parse_size(configured)
    return DEFAULT_DVC_THRESHOLD


@contextlib.contextmanager
def commit_lock(repo: GitRepo, timeout: float = 120.0) -> Iterator[None]:
    """One ``gitrun commit`` at a time per repository; others wait (then find less to commit)."""
    path = repo.git_dir / "gitrun-commit.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise GitrunError(
                        f"another `gitrun commit` holds {path} for over {timeout:.0f}s; wait or remove the stale lock"
                    )
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def check_git_state(repo: GitRepo, allow_detached: bool = False) -> None:
    operation = repo.operation_in_progress()
    if operation:
        raise CommitRefused(
            f"a {operation} is in progress in {repo.root}; finish it (or abort it) before `gitrun commit`, "
            "so runs are not mixed into that commit"
        )
    if repo.branch() is None and repo.head() is not None and not allow_detached:
        raise CommitRefused(
            "HEAD is detached; switch to a branch (git switch -c NAME) or pass --allow-detached to commit anyway"
        )


def changed_run_dirs(repo: GitRepo, store: Store) -> tuple[set[Path], set[Path]]:
    """Run directories and other store files that differ from HEAD (untracked, modified, deleted)."""
    rel_store = _rel(repo, store.root)
    out = repo.run(
        "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--", rel_store, text=False
    )
    prefix = "" if rel_store == "." else rel_store + "/"
    experiments = _rel(repo, store.layout.experiments_dir) + "/"
    run_keys: set[tuple[str, str]] = set()  # (experiment ID, run ID): a run's files come as one line each
    others: set[Path] = set()
    for item in out.split(b"\0"):
        if len(item) < 4:
            continue
        rel = item[3:].decode("utf-8", "surrogateescape")
        if local_only(rel[len(prefix) :]):
            continue  # gitrun's own local files, shown when the .gitignore is missing (another branch's checkout)
        parts = rel[len(experiments) :].split("/") if rel.startswith(experiments) else []
        if len(parts) >= 3 and parts[1] == "runs":
            run_keys.add((parts[0], parts[2]))
        else:
            others.add(repo.root / rel)
    runs = {store.layout.run_dir(experiment_id, run_id) for experiment_id, run_id in run_keys}
    return runs | changed_dvc_runs(repo, store, rel_store), others


def changed_dvc_runs(repo: GitRepo, store: Store, rel_store: str) -> set[Path]:
    """Runs with a DVC-tracked file whose content differs from its ``.dvc`` pointer.

    Such files are git-ignored, so ``git status`` cannot see that an artifact was overwritten.
    Only files newer than (or sized unlike) their pointer are hashed; a match touches the pointer
    so that, e.g. after ``gitrun pull``, the same file is not hashed again.
    """
    if not dvc.is_dvc_repo(repo.root):
        return set()  # no DVC here: no pointers (and no reading of an index listing every file)
    prefix = "" if rel_store == "." else rel_store + "/"
    listed = repo.run("ls-files", "-z", "--", f":(glob){prefix}experiments/*/runs/*/**/*.dvc")
    runs: set[Path] = set()
    for item in listed.split("\0"):
        if not item:
            continue
        pointer = repo.root / item
        data = pointer.with_name(pointer.name[: -len(".dvc")])
        try:
            st = data.stat()
            recorded_size = pointer_size(pointer)
            if not data.is_file() or (st.st_mtime <= pointer.stat().st_mtime and recorded_size == st.st_size):
                continue
            recorded = MD5_LINE.search(pointer.read_text(encoding="utf-8"))
            if recorded_size == st.st_size and recorded and recorded.group(1) == _md5(data):
                os.utime(pointer)
                continue
            parts = pointer.relative_to(store.layout.experiments_dir).parts
        except (OSError, ValueError):
            continue  # not pulled here, or removed (a removed run shows in `git status`)
        runs.add(store.layout.run_dir(parts[0], parts[2]))
    return runs


def _md5(path: Path) -> str:
    import hashlib

    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def big_files(run_dir: Path, threshold: int) -> list[Path]:
    """What DVC must (re-)track in a run: artifact files, metric series and full values over ``threshold`` bytes,
    and artifact *directories* (top level of ``artifacts/``) whose total size is over it, which
    DVC tracks as one unit (a folder of many small files). A model folder (one holding an
    ``MLmodel``) is tracked file by file instead, so its MLmodel and environment files stay
    readable in Git. Unchanged tracked ones are skipped.
    """
    found: list[Path] = []
    artifacts = run_dir / "artifacts"
    if artifacts.is_dir():
        for entry in sorted(artifacts.iterdir()):
            if _bookkeeping(entry.name):
                continue
            if entry.is_dir():
                files = [p for p in entry.rglob("*") if p.is_file() and not _bookkeeping(p.name)]
                if any(p.name.endswith(".dvc") for p in entry.rglob("*.dvc")) or any(
                    p.name == MODEL_FILE for p in files
                ):
                    found += _big_single_files(files, threshold)  # DVC tracks files inside: keep doing so
                elif sum(p.stat().st_size for p in files) > threshold and not _pointer_current(entry, files):
                    found.append(entry)
            else:
                found += _big_single_files([entry], threshold)
    metrics = run_dir / "metrics"
    if metrics.is_dir():
        found += _big_single_files([p for p in metrics.rglob("*.tsv") if not p.name.startswith(".")], threshold)
    full_values = run_dir / FULL_VALUES_DIR
    if full_values.is_dir():
        found += _big_single_files([p for p in full_values.rglob("*.txt") if not _bookkeeping(p.name)], threshold)
    return found


def _bookkeeping(name: str) -> bool:
    return name.endswith(".dvc") or name == ".gitignore" or name.startswith(TEMP_PREFIX)


def _big_single_files(files: Iterable[Path], threshold: int) -> list[Path]:
    return [p for p in files if p.stat().st_size > threshold and not _pointer_current(p, [p])]


def _pointer_current(target: Path, files: list[Path]) -> bool:
    """True when ``target.dvc`` records the current size and is newer than every file it covers."""
    pointer = target.with_name(target.name + ".dvc")
    if not pointer.exists():
        return False
    size = sum(p.stat().st_size for p in files)
    newest = max((p.stat().st_mtime for p in files), default=0.0)
    return pointer_size(pointer) == size and pointer.stat().st_mtime >= newest


def default_message(store: Store, runs: Sequence[CommittedRun], records: dict[str, RunRecord]) -> str:
    experiments = sorted({r.experiment_id for r in runs})
    noun = "run" if len(runs) == 1 else "runs"
    if len(experiments) == 1:
        exp = store.get_experiment(experiments[0])
        subject = f"gitrun: {len(runs)} {noun} in {exp.name}"
        best = best_run(exp, [records[r.run_id] for r in runs])
        if best and exp.primary_metric:
            subject += f" (best {exp.primary_metric}={format_number(best[1], 6)}, {best[0].run_name})"
    else:
        subject = f"gitrun: {len(runs)} {noun} in {len(experiments)} experiments"
    lines = [subject, ""]
    for run in runs:
        lines.append(f"- {run.run_id} {run.run_name} ({run.experiment_id}, {run.status.lower()}, {run.change})")
    return "\n".join(lines) + "\n"


def experiments_message(store: Store, experiment_ids: Sequence[str]) -> str:
    """The message of a commit of experiments only (created or changed, no run)."""
    names = {}
    for experiment_id in experiment_ids:
        try:
            names[experiment_id] = store.get_experiment(experiment_id).name
        except ExperimentNotFoundError:  # its folder was removed: the commit records that
            names[experiment_id] = experiment_id
    if len(names) == 1:
        subject = f"gitrun: experiment {next(iter(names.values()))}"
    else:
        subject = f"gitrun: {len(names)} experiments"
    return "\n".join([subject, "", *(f"- {name} ({eid})" for eid, name in names.items())]) + "\n"


def commit(
    store: Store | None = None,
    message: str | None = None,
    run_ids: Iterable[str] | None = None,
    experiment: str | None = None,
    *,
    include_running: bool = False,
    no_verify: bool = False,
    allow_detached: bool = False,
    dvc_threshold_bytes: str | int | None = None,
) -> CommitResult:
    """Commit finished runs of the store (or only ``run_ids`` / ``experiment``) and nothing else.

    ``gitrun.commit(message="sweep")`` from Python is ``gitrun commit -m sweep``; the result says
    which commit was made and which runs and DVC-tracked files it holds.
    """
    if store is None:
        store = current_store()
    store.check_readable()
    if not store.layout.exists():
        raise GitrunError(f"no run store at {store.root}; log a run or run `gitrun init` first")
    repo = GitRepo.find(store.root)
    check_git_state(repo, allow_detached)
    with commit_lock(repo):
        return _commit_locked(
            repo, store, message, run_ids, experiment, include_running, no_verify, dvc_threshold_bytes
        )


def _commit_locked(
    repo: GitRepo,
    store: Store,
    message: str | None,
    run_ids: Iterable[str] | None,
    experiment: str | None,
    include_running: bool,
    no_verify: bool,
    threshold_override: str | int | None,
) -> CommitResult:
    if threshold_override is not None:
        threshold_override = parse_size(threshold_override)  # a bad size is refused before any work
    recover_interrupted_commit(repo)
    store.layout.ensure_gitignore(create=False)  # one an earlier gitrun wrote: migrated, and committed below
    changed_runs, other_paths = changed_run_dirs(repo, store)
    wanted_ids = {store.resolve_run_id(r) for r in run_ids} if run_ids else None
    experiment_id = store.resolve_experiment(experiment).experiment_id if experiment is not None else None

    selected: list[RunRecord] = []
    skipped: list[str] = []
    for run_dir in sorted(changed_runs):
        if wanted_ids is not None and run_dir.name not in wanted_ids:
            continue
        if experiment_id is not None and run_dir.parent.parent.name != experiment_id:
            continue
        gone = not run_dir.exists() or (not (run_dir / "meta.json").exists() and holds_only_local_files(run_dir))
        if gone:  # deleted from disk (gc), gitrun's local files aside: commit the removal
            selected.append(RunRecord(run_dir.name, run_dir.parent.parent.name, run_dir, {}, RunStatus.DELETED))
            continue
        found = read_run(run_dir, run_dir.parent.parent.name, store.strict)
        if found is None:  # the reader warned (no or bad meta.json): the other runs are still committed
            if wanted_ids is not None:
                store.read_run(run_dir.name)  # asked for by ID: raise the reader's error
            continue
        record = found
        if record.status == RunStatus.RUNNING and not include_running:
            skipped.append(record.run_id)
            continue
        if record.status != RunStatus.RUNNING and record.meta.get("status") == RunStatus.RUNNING:
            record = _record_killed(store, record)  # KILLED, or FAILED when an attached process failed
        selected.append(record)
    if wanted_ids:
        missing = wanted_ids - {r.run_id for r in selected} - set(skipped)
        for run_id in missing:
            store.find_run_dir(run_id)  # raises when the run does not exist at all (else: already committed)
    # Experiments created or changed without runs (create_experiment(tags=...), set_experiment_tag)
    # are committed too; a commit of chosen runs takes only their experiments' files.
    experiment_files = (
        []
        if wanted_ids is not None
        else sorted(
            p
            for p in other_paths
            if p.name == EXPERIMENT_FILE and (experiment_id is None or p.parent.name == experiment_id)
        )
    )
    if not selected and not experiment_files:
        note = f" ({len(skipped)} running run(s) skipped; pass --include-running)" if skipped else ""
        return CommitResult(None, f"nothing to commit{note}", skipped_running=tuple(skipped))
    store.layout.ensure_gitignore()  # missing after a checkout of a branch without the store
    exclude_local_files(repo, _rel(repo, store.root))

    experiment_ids = {r.experiment_id for r in selected} | {p.parent.name for p in experiment_files}
    experiments_rel = _rel(repo, store.layout.experiments_dir)  # resolved once, not once per run
    run_paths = [f"{experiments_rel}/{r.experiment_id}/runs/{r.run_id}" for r in selected]
    paths = list(run_paths)
    paths += [
        _rel(repo, store.layout.experiment_file(e))
        for e in sorted(experiment_ids)
        if store.layout.experiment_file(e).exists()
    ]
    filtered = wanted_ids is not None or experiment_id is not None
    paths += [
        _rel(repo, p)
        for p in sorted(other_paths)
        if p.name == EXPERIMENT_FILE and (not filtered or p.parent.name in experiment_ids)
    ]
    paths += [_rel(repo, store.root / name) for name in (".gitignore", "store.yaml") if (store.root / name).exists()]
    paths += _shared_code_diffs(repo, store, selected)

    threshold = dvc_threshold(store, threshold_override)
    big = [p for record in selected if record.run_dir.exists() for p in big_files(record.run_dir, threshold)]
    tracked: list[str] = []
    if big:
        biggest = max(big, key=lambda p: p.stat().st_size)
        dvc.require_dvc(
            f"committing {len(big)} file(s) over dvc_threshold ({threshold} bytes), e.g. {_rel(repo, biggest)} "
            f"({biggest.stat().st_size} bytes), which gitrun keeps out of Git with DVC,",
            "; then `gitrun init --dvc`, or raise the threshold (--dvc-threshold)",
        )
        # Committed as blobs while small (a resumed run, --include-running): DVC refuses files Git
        # tracks, so they leave the real index first (restored below if the commit fails).
        in_git = [p for c in _chunks([_rel(repo, p) for p in big], 500) for p in _ls_files(repo, c)]
        if in_git:
            _write_journal(repo.git_dir, repo.head(), paths)  # a kill from here on is repaired next time
            _rm_cached(repo, in_git)
        try:
            tracked = dvc.add(repo.root, big)
        except BaseException:
            _roll_back(repo)
            raise
    else:
        in_git = []

    records = {r.run_id: r for r in selected}
    in_head = _run_dirs_in_head(repo, store, {r.experiment_id for r in selected})
    committed = [
        CommittedRun(
            r.run_id,
            r.run_name,
            r.experiment_id,
            r.status,
            "removed" if r.status == RunStatus.DELETED else ("changed" if path in in_head else "added"),
        )
        for r, path in zip(selected, run_paths, strict=True)
    ]
    if message:
        text = message
    elif committed:
        text = default_message(store, [c for c in committed if c.change != "removed"] or committed, records)
    else:
        text = experiments_message(store, [p.parent.name for p in experiment_files])
    # Files that DVC tracks now but HEAD has as blobs (see above, or an earlier failed attempt) leave Git.
    drop = [p for c in _chunks(_dvc_pointed(repo, paths), 500) for p in _in_head(repo, c)]  # at or under a pointer
    prefix = "" if _rel(repo, store.root) == "." else _rel(repo, store.root) + "/"
    participants = _participants(store, [r for r in selected if r.status != RunStatus.DELETED])
    try:
        sha, files = commit_paths(
            repo,
            paths + [p for part in participants for p in part.paths],
            text,
            no_verify,
            drop=drop,
            complete=[path for path, r in zip(run_paths, selected, strict=True) if r.status != RunStatus.DELETED],
            local=lambda path: path.startswith(prefix) and local_only(path[len(prefix) :]),
        )
    except BaseException:
        for part in participants:
            part.abandoned()
        _roll_back(repo)
        raise
    _clear_journal(repo.git_dir)
    if sha is None:
        for part in participants:
            part.abandoned()
        return CommitResult(None, "nothing to commit (the runs are already committed)", skipped_running=tuple(skipped))
    done = tuple(item for part in participants for item in part.committed(sha))
    return CommitResult(sha, text, tuple(committed), tuple(tracked), tuple(skipped), tuple(files), done)


def _shared_code_diffs(repo: GitRepo, store: Store, records: Iterable[RunRecord]) -> list[str]:
    """The store's shared ``code/<sha256>.diff`` files the committed runs name (a run's own
    ``code.diff`` of an earlier release is in its folder, committed with it)."""
    found = set()
    for record in records:
        path = store.code_diff_path(record) if record.status != RunStatus.DELETED else None
        if path is not None and record.run_dir not in path.parents:
            found.add(_rel(repo, path))
    return sorted(found)


def exclude_local_files(repo: GitRepo, rel_store: str) -> None:
    """List gitrun's local files in ``.git/info/exclude`` too, so that on a branch without the
    store's ``.gitignore`` (runs committed on another one) its leftover locks stay out of sight and
    out of ``git add -A``. The store's ``.gitignore``, when present, overrides these lines."""
    base = "" if rel_store == "." else f"/{rel_store}"
    block = (
        f"# gitrun: its local files in {rel_store}/, on every branch (docs/format.md)\n"
        f"{base}/.cache/\n{base}/experiments/*/runs/*/{LOCK_FILE}\n{base}/experiments/*/runs/*/{HEARTBEAT_PREFIX}*\n"
        f"{base}/**/{TEMP_PREFIX}*\n"
    )
    path = repo.root / repo.run("rev-parse", "--git-path", "info/exclude").strip()
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = ""
        path.parent.mkdir(parents=True, exist_ok=True)
    if block not in current:
        with open(path, "a", encoding="utf-8") as f:
            f.write(("\n" if current and not current.endswith("\n") else "") + block)


def _ls_files(repo: GitRepo, paths: Sequence[str]) -> list[str]:
    return [p for p in repo.run("ls-files", "-z", "--", *paths).split("\0") if p]


def _in_head(repo: GitRepo, paths: Sequence[str]) -> list[str]:
    if repo.head() is None:
        return []
    return [p for p in repo.run("ls-tree", "-r", "-z", "--name-only", "HEAD", "--", *paths).split("\0") if p]


def _rm_cached(repo: GitRepo, paths: Sequence[str], env: dict[str, str] | None = None) -> None:
    if env is None and not _wait_for_index_lock(repo):
        raise GitrunError(f"{repo.git_dir / 'index.lock'} exists: another Git process is using the index")
    for chunk in _chunks(paths, 500):
        repo.run("rm", "--cached", "-q", "--ignore-unmatch", "--", *chunk, env=env)


def _record_killed(store: Store, record: RunRecord) -> RunRecord:
    """Persist the status readers derive for a run whose processes died (KILLED, or the worst
    outcome of its attached processes), so the committed record says so everywhere."""
    writer = store.writer(record.run_id, record.run_dir)
    writer.write_summary()
    last = max((p.stat().st_mtime for p in record.run_dir.rglob("*") if p.is_file()), default=time.time())
    writer.update_meta(status=record.status, end_time=int(last * 1000))
    store.close_writer(record.run_id)
    return store.read_run(record.run_id)


def _run_dirs_in_head(repo: GitRepo, store: Store, experiment_ids: Iterable[str]) -> set[str]:
    """Repo-relative directories of the runs of ``experiment_ids`` that HEAD already has (one
    ``git ls-tree`` of their ``runs/`` folders, not of the whole store)."""
    folders = [_rel(repo, store.layout.experiments_dir / e / "runs") + "/" for e in sorted(experiment_ids)]
    if repo.head() is None or not folders:
        return set()
    listing = repo.run("ls-tree", "-z", "--name-only", "HEAD", "--", *folders)
    return {p for p in listing.split("\0") if p}


def _dvc_pointed(repo: GitRepo, paths: Sequence[str]) -> list[str]:
    """The files and folders under ``paths`` (repo-relative) with a ``<name>.dvc`` pointer beside them."""
    found = []
    for path in paths:
        full = repo.root / path
        if full.is_file():
            if path.endswith(".dvc"):
                found.append(path[: -len(".dvc")])
            continue
        for dirpath, _dirnames, filenames in os.walk(full):
            prefix = os.path.relpath(dirpath, repo.root).replace(os.sep, "/")
            found += [f"{prefix}/{name[: -len('.dvc')]}" for name in filenames if name.endswith(".dvc")]
    return found


def commit_paths(
    repo: GitRepo,
    paths: Sequence[str],
    message: str,
    no_verify: bool,
    drop: Sequence[str] = (),
    *,
    complete: Sequence[str] = (),
    local: Callable[[str], bool] | None = None,
) -> tuple[str | None, list[str]]:
    """Commit exactly ``paths`` (as in the work tree) on top of HEAD.

    ``drop``: files under them that leave Git (now tracked by DVC; Git ignores only untracked
    files). ``complete``: directories whose every file must be in the commit or tracked by DVC
    (else nothing is committed). ``local``: repo-relative paths never to stage (gitrun's local
    files); given, Git's ignore rules do not apply under ``paths`` (the store's own files), else
    they do, as for ``git add -A`` (``.dvc/config.local`` and the like stay out).

    ``paths`` are staged in a temporary index holding only them, and the commit's tree is HEAD's
    with those paths replaced (:mod:`gitrun.vcs.trees`): no command reads an index of the whole
    repository unless a pre-commit or commit-msg hook needs one. The hooks run first, on a
    temporary index of the whole commit; a hook that changes what would be committed is refused.
    The user's index lists the new entries of ``paths`` before HEAD moves, and a journal in
    ``.git`` lets the next gitrun command repair it if this process is killed in between
    (:func:`recover_interrupted_commit`). HEAD moves only from the commit it was built on.
    """
    recover_interrupted_commit(repo)
    git_dir = repo.git_dir
    index = git_dir / f"{_TEMP_INDEX}{os.getpid()}"
    env = {"GIT_INDEX_FILE": str(index)}
    head = repo.head()
    edit = TreeEdit(repo, head, paths)
    paths = edit.paths
    started = time.time()
    try:
        before = edit.head_files()
        repo.run("read-tree", "--empty", env=env)
        if before:
            repo.run("update-index", "-z", "--index-info", env=env, input=b"\0".join(before) + b"\0", text=False)
        staged_files = _stage(repo, paths, env, local)
        if drop:
            _rm_cached(repo, drop, env=env)
        if complete:
            _check_complete(repo, complete, staged_files.files, local, staged_files.pointers, started)
        staged = repo.run("write-tree", env=env).strip()
        tree = edit.apply(staged)
        changed = _tree_changes(repo, head, tree)
        if not changed:
            _refresh_index(repo, head, paths, repair=True)
            return None, []
        if _has_hooks(repo, "prepare-commit-msg", *([] if no_verify else ["pre-commit", "commit-msg"])):
            repo.run("read-tree", tree, env=env)  # the hooks see the index `git commit` would give them
            if not no_verify:
                _run_hook_checked(repo, "pre-commit", env)
                _check_tree_unchanged(repo, tree, repo.run("write-tree", env=env).strip(), paths)
            message = _run_message_hooks(repo, env, message, git_dir, verify=not no_verify)
        message = _clean_message(repo, message)
        _write_journal(git_dir, head, paths)
        made: list[str] = []  # the new commit, once written (HEAD at it: nothing to roll back)
        try:
            _index_committed(repo, staged, before, staged_files.signatures)  # before HEAD moves
            sha = _commit_tree(repo, tree, head, message, made)
        except BaseException as exc:
            _roll_back(repo, ours=made[0] if made else None)
            if isinstance(exc, GitCommandError):
                raise GitrunError(
                    f"git refused the commit: {exc.summary or exc}. "
                    "Nothing was committed; your files and index are unchanged"
                ) from None
            raise
        _clear_journal(git_dir)
    finally:
        for leftover in (index, git_dir / f"{_TEMP_MESSAGE}{os.getpid()}"):
            leftover.unlink(missing_ok=True)
    _run_hook(repo, "post-commit", {})  # as `git commit` does, --no-verify or not; its status is ignored
    repo.run("maintenance", "run", "--auto", "--quiet", check=False)  # `git commit`'s `gc --auto`
    return sha, changed


def _has_hooks(repo: GitRepo, *names: str) -> bool:
    """Whether any of the hooks ``names`` exists (``core.hooksPath`` honoured) or any hook is
    configured (``hook.<name>.command``, newer Git)."""
    if repo.run("config", "--get-regexp", r"^hook\.", check=False).stdout.strip():
        return True
    return bool(_hook_files(repo, *names))


def _hook_files(repo: GitRepo, *names: str) -> list[Path]:
    """The executable hook files of ``names`` Git would run (``core.hooksPath`` honoured)."""
    found = repo.run("rev-parse", *[arg for name in names for arg in ("--git-path", f"hooks/{name}")])
    paths = [repo.root / line for line in found.splitlines() if line]
    return [path for path in paths if path.is_file() and os.access(path, os.X_OK)]


def _clean_message(repo: GitRepo, message: str) -> str:
    """The message as ``git commit -F`` would store it (``commit.cleanup`` honoured: trailing
    whitespace and surplus blank lines go; ``strip`` also drops ``#`` lines)."""
    mode = (repo.config("commit.cleanup") or "default").lower()
    if mode not in ("default", "strip", "whitespace", "verbatim", "scissors"):
        raise GitrunError(
            f"commit.cleanup is {mode!r}, which Git does not know (strip, whitespace, verbatim, scissors or "
            "default); fix it with `git config commit.cleanup default`. Nothing was committed"
        )
    if mode != "verbatim":
        message = repo.run("stripspace", *(["--strip-comments"] if mode == "strip" else []), input=message or "\n")
    if not message.strip():
        raise GitrunError("the commit message is empty (after the commit-msg hook); nothing was committed")
    return message


def _commit_tree(repo: GitRepo, tree: str, head: str | None, message: str, made: list[str]) -> str:
    """Write the commit of ``tree`` on ``head`` (its ID appended to ``made``) and move HEAD (its
    branch) to it, only if HEAD is still ``head``: a commit made meanwhile by someone else is never
    undone."""
    signed = repo.run("config", "--type=bool", "--get", "commit.gpgsign", check=False).stdout.strip() == "true"
    sha = repo.run(
        "commit-tree", tree, *(["-p", head] if head else []), *(["-S"] if signed else []), "-F", "-", input=message
    ).strip()
    made.append(str(sha))
    subject = message.split("\n", 1)[0]
    reflog = f"commit{'' if head else ' (initial)'}: {subject}"
    repo.run("update-ref", "-m", reflog, "HEAD", sha, head or repo.zero_oid)
    return str(sha)


def _index_committed(
    repo: GitRepo, staged: str, before: Sequence[bytes], signatures: dict[bytes, tuple[int, ...]]
) -> None:
    """Make the user's index list the committed files as committed: every file of ``staged`` (the
    tree of the committed paths alone), and none of ``before`` (HEAD's files there) that it lacks.
    Other entries, staged work of the user's under a run folder included, stay as they are.

    A file unchanged since it was staged (its ``signatures`` entry) is added from disk, so that
    its entry has the file's stat data as after ``git add`` (an entry without it makes every later
    ``git status`` hash the file again); one changed since gets the committed blob exactly."""
    root = os.fsencode(repo.root)
    exact: list[bytes] = []
    from_disk: list[bytes] = []
    kept: set[bytes] = set()
    for entry in repo.run("ls-tree", "-r", "-z", staged, text=False).split(b"\0"):
        if not entry:
            continue
        path = entry.partition(b"\t")[2]
        kept.add(path)
        signature = signatures.get(path)
        if signature is not None and _signature(os.path.join(root, path)) == signature:
            from_disk.append(path)
        else:
            exact.append(entry)
    for path in (entry.partition(b"\t")[2] for entry in before):
        if path not in kept:
            exact.append(b"0 " + repo.zero_oid.encode() + b"\t" + path)
    if exact:
        _update_user_index(repo, ["--index-info"], b"\0".join(exact) + b"\0")
    if from_disk:
        _update_user_index(repo, ["--add", "--replace", "--stdin"], b"\0".join(from_disk) + b"\0")


def _update_user_index(repo: GitRepo, options: Sequence[str], records: bytes) -> None:
    """``git update-index -z OPTIONS`` on the user's index, ``records`` its input."""
    _on_user_index(repo, "update-index", "-z", *options, input=records)


def _on_user_index(repo: GitRepo, *args: str, input: bytes | None = None) -> None:
    """Run ``git ARGS``, which writes the user's index, waiting while another Git process holds it."""
    while True:
        proc = repo.run(*args, input=input, text=False, check=False)
        if proc.returncode == 0:
            return
        if "index.lock" not in proc.stderr:
            raise GitrunError(f"cannot update the index: git {args[0]} said {last_lines(proc.stderr)}")
        if not _wait_for_index_lock(repo):
            raise GitrunError(
                f"cannot update the index ({last_lines(proc.stderr)}): another Git process holds "
                f"{repo.git_dir / 'index.lock'} (if none does, a crashed one left it: delete it). "
                "Nothing was committed"
            )


def _tree_changes(repo: GitRepo, head: str | None, tree: str) -> list[str]:
    if head is None:
        listing = repo.run("ls-tree", "-r", "-z", "--name-only", tree)
    else:
        listing = repo.run("diff-tree", "-r", "-z", "--name-only", "--no-renames", head, tree)
    return [c for c in listing.split("\0") if c]


def _refresh_index(repo: GitRepo, treeish: str | None, paths: Sequence[str], repair: bool = False) -> None:
    """Make the user's index list ``paths`` as ``treeish`` has them (None: an unborn branch, none of
    them), leaving every other entry as it is. ``repair``: only if they differ, saying so."""
    if repair:
        differs = treeish is not None and any(
            repo.run("diff-index", "--cached", "--quiet", treeish, "--", *chunk, check=False).returncode
            for chunk in _chunks(paths, 500)
        )
        if not differs:
            return
        warnings.warn(
            f"gitrun: the index did not list gitrun's committed files as in HEAD (an interrupted commit of an "
            f"earlier gitrun?); reset them to HEAD: {_summary(paths)}",
            stacklevel=3,
        )
    for chunk in _chunks(paths, 500):
        _on_user_index(repo, "reset", "-q", *([treeish] if treeish else []), "--", *chunk)


# -- hooks: run here on the temporary index, so gitrun's commit holds gitrun's files only -------
def _run_hook_checked(repo: GitRepo, name: str, env: dict[str, str], *args: str) -> None:
    proc = _run_hook(repo, name, env, *args)
    if proc is not None and proc.returncode != 0:
        output = last_lines(proc.stderr + "\n" + proc.stdout)
        skip = " (--no-verify skips it)" if name in ("pre-commit", "commit-msg") else ""
        raise GitrunError(
            f"git refused the commit (its {name} hook failed): {output or f'exit status {proc.returncode}'}. "
            f"Nothing was committed; your files and index are unchanged{skip}"
        )


def _run_hook(repo: GitRepo, name: str, env: dict[str, str], *args: str) -> Any:
    """Run a hook as ``git commit`` would (``core.hooksPath`` honoured); None when there is none."""
    hook_env = {**env, "GIT_EDITOR": ":"}
    proc = repo.run("hook", "run", "--ignore-missing", name, "--", *args, env=hook_env, input="", check=False)
    if proc.returncode == 0 or "is not a git command" not in proc.stderr:
        return proc
    # Git before 2.36 has no `git hook run`: find and run the hook file the way it would.
    found = _hook_files(repo, name)
    return gitcmd.run_hook_file(found[0], args, repo.root, hook_env) if found else None


def _check_tree_unchanged(repo: GitRepo, before: str, after: str, paths: Sequence[str]) -> None:
    if after == before:
        return
    changed = _tree_changes(repo, before, after)
    outside = [p for p in changed if not _under(p, paths)]
    if outside:
        what = f"staged files outside gitrun's store: {_summary(outside)}"
    else:
        what = f"changed gitrun's files: {_summary(changed)} (run files are committed as they were logged)"
    raise GitrunError(
        f"the pre-commit hook {what}. gitrun commits only its own files, so nothing was committed; your "
        "index is unchanged. Make the hook leave .gitrun/ alone (pre-commit: `exclude: ^\\.gitrun/`), "
        "or pass --no-verify"
    )


def _run_message_hooks(repo: GitRepo, env: dict[str, str], message: str, git_dir: Path, verify: bool) -> str:
    """The message after the prepare-commit-msg hook and (``verify``) the commit-msg hook, run as
    ``git commit -F`` runs them; either may edit it (to add a ticket or a trailer, say)."""
    path = git_dir / f"{_TEMP_MESSAGE}{os.getpid()}"
    path.write_text(message if message.endswith("\n") else message + "\n", encoding="utf-8")  # as Git writes it
    _run_hook_checked(repo, "prepare-commit-msg", env, str(path), "message")
    if verify:
        _run_hook_checked(repo, "commit-msg", env, str(path))
    return path.read_text(encoding="utf-8")


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") or root == "." for root in roots)


def _summary(paths: Sequence[str], limit: int = 5) -> str:
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(paths[:limit]) + more


# -- the journal: the user's index is repaired after a kill ----------------------------------------
_JOURNAL = "gitrun-commit-journal.json"
_TEMP_INDEX = "gitrun-index-"
_TEMP_MESSAGE = "gitrun-message-"
# ... and the temp file of the journal's atomic write, when a kill hits it
_TEMP_FILE_RE = re.compile(f"^(?:{_TEMP_INDEX}|{_TEMP_MESSAGE}|{re.escape(f'{TEMP_PREFIX}{_JOURNAL}.')})([0-9]+)")


def _write_journal(git_dir: Path, head: str | None, paths: Sequence[str]) -> None:
    """Record, before the user's index changes, what to undo if this process dies before HEAD moves."""
    import json

    atomic_write(git_dir / _JOURNAL, json.dumps({"pid": os.getpid(), "head": head, "paths": list(paths)}))


def _clear_journal(git_dir: Path) -> None:
    (git_dir / _JOURNAL).unlink(missing_ok=True)


def recover_interrupted_commit(repo: GitRepo) -> None:
    """Repair what a killed ``gitrun commit`` left: its index entries (from its journal) and temp files.

    Killed after it updated the index but before HEAD moved, the index lists the runs as staged:
    they are reset to HEAD again, with a warning. Killed later, the index is already right.
    """
    git_dir = repo.git_dir
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(git_dir):
            match = _TEMP_FILE_RE.match(name)
            if match and not pid_alive(int(match.group(1))):
                (git_dir / name).unlink(missing_ok=True)
    journal = _read_journal(git_dir)
    if journal is None:
        return
    pid, head, paths = journal
    if pid == os.getpid() or pid_alive(pid):
        return  # that commit is still going on (this process's own, when it moves files to DVC)
    if _undo_journal(repo, git_dir, head, paths):
        warnings.warn(
            f"gitrun: a `gitrun commit` (process {pid}) was interrupted before committing; its files were left "
            f"staged in the index, and are unstaged again (the files themselves are untouched): {_summary(paths)}",
            stacklevel=2,
        )


def _read_journal(git_dir: Path) -> tuple[int, str | None, list[str]] | None:
    import json

    try:
        journal = json.loads((git_dir / _JOURNAL).read_text(encoding="utf-8"))
        return int(journal["pid"]), journal["head"], [str(p) for p in journal["paths"]]
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        _clear_journal(git_dir)  # not one gitrun wrote (its writes are atomic): nothing to go by
        return None


def _undo_journal(repo: GitRepo, git_dir: Path, head: str | None, paths: Sequence[str]) -> bool:
    """Reset the journaled index entries to HEAD if HEAD has not moved (True then), and drop the
    journal: a HEAD that moved may be the killed process's commit, whose entries the index already
    lists. If another Git process holds the index, this raises and the journal stays."""
    undone = repo.head() == head
    if undone:
        _refresh_index(repo, head, paths)
    _clear_journal(git_dir)
    return undone


def _roll_back(repo: GitRepo, ours: str | None = None) -> None:
    """After a failure of this process's commit: its index entries as before, if it changed them,
    unless HEAD is at ``ours``, its commit, which landed. Also when someone else moved HEAD meanwhile."""
    git_dir = repo.git_dir
    journal = _read_journal(git_dir)
    if journal is not None and journal[0] == os.getpid():
        with contextlib.suppress(GitrunError):  # the journal stays; the next gitrun commit repairs it
            if ours is None or repo.head() != ours:
                _refresh_index(repo, journal[1], journal[2])
            _clear_journal(git_dir)


# -- staging -----------------------------------------------------------------------------------------
class Staged(NamedTuple):
    """What :func:`_stage` staged: the files under the paths the index lists, the DVC pointers
    among them, and each file's :func:`_signature` as it was read."""

    files: set[str]
    pointers: set[str]
    signatures: dict[bytes, tuple[int, ...]]


def _signature(path: bytes) -> tuple[int, ...] | None:
    """What tells that a file changed: :func:`_signature_of` its lstat (None: gone)."""
    try:
        return _signature_of(os.lstat(path))
    except OSError:
        return None


def _signature_of(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _stage(repo: GitRepo, paths: Sequence[str], env: dict[str, str], local: Callable[[str], bool] | None) -> Staged:
    """What ``git add -A -- paths`` does to the index ``env`` names; with ``local``, the ignore rules
    do not apply: every file under ``paths`` is staged but ``local`` ones and those DVC tracks (a
    ``.gitignore`` inside a logged folder must not hide its siblings).

    New contents are written as one pack by ``git fast-import`` instead of one loose object file per
    file (creating thousands of small files dominated committing many runs on slow file systems);
    files with a clean filter or a line-ending conversion (``.gitattributes``: Git LFS, ``text``...)
    are hashed by ``git hash-object``, which applies them as ``git add`` does.
    """
    excludes = () if local else ("--exclude-standard",)
    wanted: dict[bytes, None] = {}
    deleted: set[bytes] = set()
    tracked: set[bytes] = set()
    for chunk in _chunks(paths, 500):
        listing = repo.run("ls-files", "-z", "-t", "-c", "-o", "-m", "-d", *excludes, "--", *chunk, env=env, text=False)
        for item in listing.split(b"\0"):
            if not item:
                continue
            tag, path = item[:1], item[2:]
            if tag in b"HS":
                tracked.add(path)
            elif tag == b"R":
                deleted.add(path)
            elif not path.endswith(b"/"):  # "dir/": a nested repository, which Git cannot take
                wanted[path] = None
    pointers = {p.decode("utf-8", "surrogateescape") for p in (tracked | set(wanted)) - deleted if p.endswith(b".dvc")}
    records: list[bytes] = [b"0 " + repo.zero_oid.encode() + b"\t" + p for p in deleted]
    files = []
    root = os.fsencode(repo.root)
    for path in wanted:
        name = path.decode("utf-8", "surrogateescape")
        full = os.path.join(root, path)
        if os.path.isdir(full) and not os.path.islink(full):
            deleted.add(path)  # a file that became a folder: the entry goes, the files under it are "others"
            records.append(b"0 " + repo.zero_oid.encode() + b"\t" + path)
        elif path not in deleted and not (local and local(name)) and not (pointers and _dvc_tracked(name, pointers)):
            files.append(path)
    signatures = {path: _signature(os.path.join(root, path)) for path in tracked - deleted}
    if files:
        records += _write_blobs(repo, files, env, signatures)
    if records:
        repo.run("update-index", "-z", "--index-info", env=env, input=b"\0".join(records) + b"\0", text=False)
    in_index = {p.decode("utf-8", "surrogateescape") for p in [*(tracked - deleted), *files]}
    return Staged(in_index, pointers, {path: sig for path, sig in signatures.items() if sig is not None})


def _dvc_tracked(path: str, pointers: set[str]) -> bool:
    """True when a pointer ``<path>.dvc``, or one of a folder holding ``path``, is among ``pointers``."""
    while True:
        if path + ".dvc" in pointers:
            return True
        path, sep, _ = path.rpartition("/")
        if not sep:
            return False


def _write_blobs(
    repo: GitRepo, files: list[bytes], env: dict[str, str], signatures: dict[bytes, tuple[int, ...] | None]
) -> list[bytes]:
    """``update-index --index-info`` records of ``files`` (repo-relative), their blobs written and
    their :func:`_signature` before they were read put in ``signatures``."""
    import stat
    import tempfile

    root = os.fsencode(repo.root)
    indexed = _index_modes(repo, env)  # None when the executable bit counts (core.fileMode)
    modes = []
    for path in files:
        st = os.lstat(os.path.join(root, path))
        signatures[path] = _signature_of(st)
        if stat.S_ISLNK(st.st_mode):
            modes.append(b"120000")
        elif indexed is None:
            modes.append(b"100755" if st.st_mode & 0o111 else b"100644")
        else:
            modes.append(indexed.get(path, b"100644"))
    converted = _converted(repo, [p for p, m in zip(files, modes, strict=True) if m != b"120000"])
    shas: dict[bytes, bytes] = {}
    if converted:
        names = b"".join(p + b"\n" for p in converted if b"\n" not in p and not p.startswith(b'"'))
        out = repo.run("hash-object", "-w", "--stdin-paths", input=names, text=False).split()
        shas.update(zip([p for p in converted if b"\n" not in p and not p.startswith(b'"')], out, strict=True))
        for path in converted:  # names hash-object cannot read from a line: one process each
            if path not in shas:
                shas[path] = repo.run("hash-object", "-w", "--", os.fsdecode(path), text=False).strip()
    raw = [p for p in files if p not in shas]
    if raw:
        with tempfile.TemporaryDirectory() as tmp:
            marks = os.path.join(tmp, "marks")
            # --depth=0: no delta search (what `git add` writes is not deltified either; gc and push
            # compute deltas): 9,000 metric series of a sweep go in 0.24 s instead of 3 s.
            repo.batch(
                "fast-import",
                "--quiet",
                "--done",
                "--depth=0",
                f"--export-marks={marks}",
                chunks=_blob_stream(root, raw),
                env=env,
            )
            with open(marks, "rb") as f:
                marked = dict(line.split() for line in f.read().splitlines())
        shas.update((path, marked[b":%d" % number]) for number, path in enumerate(raw, start=1))
    return [mode + b" " + shas[path] + b"\t" + path for path, mode in zip(files, modes, strict=True)]


def _index_modes(repo: GitRepo, env: dict[str, str]) -> dict[bytes, bytes] | None:
    """With ``core.fileMode`` false, the modes the index ``env`` names lists (``git add`` keeps a
    file's recorded mode and adds new files as 100644 then); None when the executable bit counts."""
    if repo.run("config", "--type=bool", "--get", "core.filemode", check=False).stdout.strip() != "false":
        return None
    listing = repo.run("ls-files", "-s", "-z", env=env, text=False)
    return {entry.partition(b"\t")[2]: entry.split(b" ", 1)[0] for entry in listing.split(b"\0") if b"\t" in entry}


def _blob_stream(root: bytes, paths: list[bytes]) -> Iterator[bytes]:
    """``git fast-import`` commands writing each file of ``paths`` as blob ``:N`` (files read as they are sent)."""
    for number, path in enumerate(paths, start=1):
        full = os.path.join(root, path)
        if os.path.islink(full):
            data = os.fsencode(os.readlink(full))
        else:
            with open(full, "rb") as f:
                data = f.read()
        yield b"blob\nmark :%d\ndata %d\n%s\n" % (number, len(data), data)
    yield b"done\n"


_CONVERSIONS = (b"filter", b"text", b"eol", b"ident", b"working-tree-encoding")


def _converted(repo: GitRepo, files: list[bytes]) -> list[bytes]:
    """The files ``git add`` would not store byte for byte: a ``filter`` (Git LFS...), ``text``/``eol``
    line-ending conversion, ``ident`` or ``working-tree-encoding`` applies (one ``check-attr`` for
    all), or ``core.autocrlf`` is on."""
    if not files:
        return []
    autocrlf = (repo.config("core.autocrlf") or "").lower()
    if autocrlf in ("true", "input", "yes", "on", "1"):
        return files
    out = repo.run(
        "check-attr", "-z", "--stdin", *[a.decode() for a in _CONVERSIONS], input=b"\0".join(files) + b"\0", text=False
    ).split(b"\0")
    found = {out[i] for i in range(0, len(out) - 2, 3) if out[i + 2] not in (b"unspecified", b"unset")}
    return [p for p in files if p in found]


def _check_complete(
    repo: GitRepo,
    dirs: Sequence[str],
    in_index: set[str],
    local: Callable[[str], bool] | None,
    pointers: set[str],
    since: float,
) -> None:
    """Refuse the commit unless every file on disk under ``dirs`` is ``in_index``, tracked by DVC,
    or ``local``. Files created after ``since`` (a run still logging) wait for the next commit."""
    root = str(repo.root) + os.sep
    missing = []
    for rel_dir in dirs:
        for dirpath, _dirnames, filenames in os.walk(root + rel_dir):
            prefix = dirpath[len(root) :].replace(os.sep, "/")
            for name in filenames:
                path = f"{prefix}/{name}"
                if (
                    path in in_index
                    or (local is not None and local(path))
                    or (pointers and _dvc_tracked(path, pointers))
                ):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if os.lstat(repo.root / path).st_ctime < since:
                        missing.append(path)
    if missing:
        raise GitrunError(
            f"{len(missing)} file(s) of the runs would reach neither Git nor DVC: {_summary(sorted(missing))}. "
            "Nothing was committed. Git cannot store a path with a part named .git (a repository inside a "
            "logged folder, say): move or delete such files, then commit again"
        )


INDEX_LOCK_WAIT_S = 30.0


def _wait_for_index_lock(repo: GitRepo, timeout: float = INDEX_LOCK_WAIT_S) -> bool:
    """Wait until no other Git process holds the real index (an IDE's `git status` does, briefly)."""
    lock = repo.git_dir / "index.lock"
    deadline = time.monotonic() + timeout
    while lock.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _rel(repo: GitRepo, path: Path) -> str:
    return os.path.relpath(path.resolve(), repo.root.resolve()).replace(os.sep, "/")
