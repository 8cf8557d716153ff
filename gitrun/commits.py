"""``gitrun commit``: put finished runs into Git, big artifacts into DVC, and nothing else.

How the user's work stays untouched: the commit is built in a *temporary index* (HEAD's tree
plus the store paths being committed), ``git commit`` runs on it (so hooks run as usual), and
afterwards only the store's entries of the real index are refreshed to the new HEAD. Whatever
else the user had staged or modified is exactly as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitrun import dvc
from gitrun.entities import RunStatus
from gitrun.errors import GitrunError
from gitrun.git import GitCommandError, GitRepo
from gitrun.store import RunRecord, Store

DEFAULT_DVC_THRESHOLD = 500 * 1024  # pre-commit's check-added-large-files default (500 KB)
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.I)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class CommitRefused(GitrunError):
    """Git's state makes committing unsafe (merge in progress, detached HEAD...)."""


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


def parse_size(value: str | int) -> int:
    """Bytes from ``500000``, ``"500KB"``, ``"2 MiB"``, ``"1.5M"`` (K/M/G are powers of 1024)."""
    if isinstance(value, int):
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise GitrunError(f"cannot read size {value!r}; write it like 500KB, 2MB or 1048576")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").lower()[:1]])


def dvc_threshold(store: Store, override: str | int | None = None) -> int:
    """Precedence: the explicit value, ``[tool.gitrun] dvc_threshold`` in pyproject.toml, the store's
    ``store.yaml``, then 500 KB."""
    if override is not None:
        return parse_size(override)
    from gitrun.settings import load_project_settings

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
    runs: set[Path] = set()
    others: set[Path] = set()
    for item in out.split(b"\0"):
        if len(item) < 4:
            continue
        rel = item[3:].decode("utf-8", "surrogateescape")
        path = repo.root / rel
        try:
            parts = path.relative_to(store.layout.experiments_dir).parts
        except ValueError:
            others.add(path)
            continue
        if len(parts) >= 3 and parts[1] == "runs":
            runs.add(store.layout.run_dir(parts[0], parts[2]))
        else:
            others.add(path)
    return runs | changed_dvc_runs(repo, store, rel_store), others


_POINTER_MD5 = re.compile(r"^[\s-]*md5:\s*([0-9a-f]{32})\s*$", re.M)


def changed_dvc_runs(repo: GitRepo, store: Store, rel_store: str) -> set[Path]:
    """Runs with a DVC-tracked file whose content differs from its ``.dvc`` pointer.

    Such files are git-ignored, so ``git status`` cannot see that an artifact was overwritten.
    Only files newer than (or sized unlike) their pointer are hashed; a match touches the pointer
    so that, e.g. after ``gitrun pull``, the same file is not hashed again.
    """
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
            recorded_size = dvc.pointer_size(pointer)
            if not data.is_file() or (st.st_mtime <= pointer.stat().st_mtime and recorded_size == st.st_size):
                continue
            recorded = _POINTER_MD5.search(pointer.read_text(encoding="utf-8"))
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
    """What DVC must (re-)track in a run: artifact files and metric series over ``threshold`` bytes,
    and artifact *directories* (top level of ``artifacts/``) whose total size is over it, which
    DVC tracks as one unit (a saved model of many small files). Unchanged tracked ones are skipped.
    """
    found: list[Path] = []
    artifacts = run_dir / "artifacts"
    if artifacts.is_dir():
        for entry in sorted(artifacts.iterdir()):
            if _bookkeeping(entry.name):
                continue
            if entry.is_dir():
                files = [p for p in entry.rglob("*") if p.is_file() and not _bookkeeping(p.name)]
                if any(p.name.endswith(".dvc") for p in entry.rglob("*.dvc")):
                    found += _big_single_files(files, threshold)  # DVC tracks files inside: keep doing so
                elif sum(p.stat().st_size for p in files) > threshold and not _pointer_current(entry, files):
                    found.append(entry)
            else:
                found += _big_single_files([entry], threshold)
    metrics = run_dir / "metrics"
    if metrics.is_dir():
        found += _big_single_files([p for p in metrics.rglob("*.tsv") if not p.name.startswith(".")], threshold)
    return found


def _bookkeeping(name: str) -> bool:
    return name.endswith(".dvc") or name == ".gitignore" or (name.startswith(".") and name.endswith(".tmp"))


def _big_single_files(files: Iterable[Path], threshold: int) -> list[Path]:
    return [p for p in files if p.stat().st_size > threshold and not _pointer_current(p, [p])]


def _pointer_current(target: Path, files: list[Path]) -> bool:
    """True when ``target.dvc`` records the current size and is newer than every file it covers."""
    pointer = target.with_name(target.name + ".dvc")
    if not pointer.exists():
        return False
    size = sum(p.stat().st_size for p in files)
    newest = max((p.stat().st_mtime for p in files), default=0.0)
    return dvc.pointer_size(pointer) == size and pointer.stat().st_mtime >= newest


def default_message(store: Store, runs: Sequence[CommittedRun], records: dict[str, RunRecord]) -> str:
    from gitrun.experiments_api import best_run

    experiments = sorted({r.experiment_id for r in runs})
    noun = "run" if len(runs) == 1 else "runs"
    if len(experiments) == 1:
        exp = store.get_experiment(experiments[0])
        subject = f"gitrun: {len(runs)} {noun} in {exp.name}"
        best = best_run(exp, [records[r.run_id] for r in runs])
        if best and exp.primary_metric:
            subject += f" (best {exp.primary_metric}={best[1]:.6g}, {best[0].run_name})"
    else:
        subject = f"gitrun: {len(runs)} {noun} in {len(experiments)} experiments"
    lines = [subject, ""]
    for run in runs:
        lines.append(f"- {run.run_id} {run.run_name} ({run.experiment_id}, {run.status.lower()}, {run.change})")
    return "\n".join(lines) + "\n"


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
        from gitrun.tracking import get_tracking_uri

        store = Store(get_tracking_uri())
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
    changed_runs, other_paths = changed_run_dirs(repo, store)
    wanted_ids = {store.resolve_run_id(r) for r in run_ids} if run_ids else None
    experiment_id = None
    if experiment is not None:
        exp = store.get_experiment_by_name(experiment)
        experiment_id = exp.experiment_id if exp else experiment
        store.get_experiment(experiment_id)  # raises a clear error when unknown

    selected: list[RunRecord] = []
    skipped: list[str] = []
    for run_dir in sorted(changed_runs):
        if wanted_ids is not None and run_dir.name not in wanted_ids:
            continue
        if experiment_id is not None and run_dir.parent.parent.name != experiment_id:
            continue
        if not run_dir.exists():  # deleted from disk (gc): commit the removal
            selected.append(RunRecord(run_dir.name, run_dir.parent.parent.name, run_dir, {}, "DELETED"))
            continue
        record = store.read_run(run_dir.name)
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
    if not selected:
        note = f" ({len(skipped)} running run(s) skipped; pass --include-running)" if skipped else ""
        return CommitResult(None, f"nothing to commit{note}", skipped_running=tuple(skipped))

    threshold = dvc_threshold(store, threshold_override)
    big = [p for record in selected if record.run_dir.exists() for p in big_files(record.run_dir, threshold)]
    tracked: list[str] = []
    if big:
        if not dvc.dvc_available():
            biggest = max(big, key=lambda p: p.stat().st_size)
            raise dvc.DvcNotInstalledError(
                f"{len(big)} file(s) exceed dvc_threshold ({threshold} bytes), e.g. {_rel(repo, biggest)} "
                f"({biggest.stat().st_size} bytes); gitrun keeps such files out of Git with DVC. Install it: "
                f"{dvc.INSTALL_HINT}, then `gitrun init --dvc`; or raise the threshold (--dvc-threshold)"
            )
        # Committed as blobs while small (a resumed run, --include-running): DVC refuses files Git
        # tracks, so they leave the real index first (restored below if the commit fails).
        in_git = [p for c in _chunks([_rel(repo, p) for p in big], 500) for p in _ls_files(repo, c)]
        if in_git:
            _rm_cached(repo, in_git)
        try:
            tracked = dvc.add(repo.root, big)
        except BaseException:
            _restore_index(repo, in_git)
            raise
    else:
        in_git = []

    experiment_ids = {r.experiment_id for r in selected}
    paths = [_rel(repo, r.run_dir) for r in selected]
    paths += [
        _rel(repo, store.layout.experiment_file(e))
        for e in sorted(experiment_ids)
        if store.layout.experiment_file(e).exists()
    ]
    filtered = wanted_ids is not None or experiment_id is not None
    paths += [
        _rel(repo, p)
        for p in sorted(other_paths)
        if p.name in ("store.yaml", ".gitignore")
        or (p.name == "experiment.yaml" and (not filtered or p.parent.name in experiment_ids))
    ]
    records = {r.run_id: r for r in selected}
    in_head = _run_dirs_in_head(repo, store)
    committed = [
        CommittedRun(
            r.run_id,
            r.run_name,
            r.experiment_id,
            r.status,
            "removed" if r.status == "DELETED" else ("changed" if _rel(repo, r.run_dir) in in_head else "added"),
        )
        for r in selected
    ]
    text = (
        message
        if message
        else default_message(store, [c for c in committed if c.change != "removed"] or committed, records)
    )
    # Files that DVC tracks now but HEAD has as blobs (see above, or an earlier failed attempt) leave Git.
    drop = [p for c in _chunks(paths, 500) for p in _in_head(repo, c) if os.path.isfile(repo.root / f"{p}.dvc")]
    try:
        sha, files = commit_paths(repo, paths, text, no_verify, drop=drop)
    except BaseException:
        _restore_index(repo, in_git)
        raise
    if sha is None:
        return CommitResult(None, "nothing to commit (the runs are already committed)", skipped_running=tuple(skipped))
    return CommitResult(sha, text, tuple(committed), tuple(tracked), tuple(skipped), tuple(files))


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


def _restore_index(repo: GitRepo, paths: Sequence[str]) -> None:
    for chunk in _chunks(paths, 500):
        repo.run("reset", "-q", "HEAD", "--", *chunk, check=False)


def _record_killed(store: Store, record: RunRecord) -> RunRecord:
    """Persist the status readers derive for a run whose processes died (KILLED, or the worst
    outcome of its attached processes), so the committed record says so everywhere."""
    writer = store.writer(record.run_id, record.run_dir)
    writer.write_summary()
    last = max((p.stat().st_mtime for p in record.run_dir.rglob("*") if p.is_file()), default=time.time())
    writer.update_meta(status=record.status, end_time=int(last * 1000))
    store.close_writer(record.run_id)
    return store.read_run(record.run_id)


def _run_dirs_in_head(repo: GitRepo, store: Store) -> set[str]:
    """Repo-relative directories of the runs HEAD already has (one ``git ls-tree``)."""
    if repo.head() is None:
        return set()
    prefix = _rel(repo, store.layout.experiments_dir) + "/"
    listing = repo.run("ls-tree", "-r", "-d", "-z", "--name-only", "HEAD", "--", prefix)
    return {p for p in listing.split("\0") if p.count("/") == prefix.count("/") + 2 and p.split("/")[-2] == "runs"}


def commit_paths(
    repo: GitRepo, paths: Sequence[str], message: str, no_verify: bool, drop: Sequence[str] = ()
) -> tuple[str | None, list[str]]:
    """Commit exactly ``paths`` (as in the work tree) on top of HEAD, through a temporary index;
    ``drop``: files under them that leave Git (now tracked by DVC; Git ignores only untracked files)."""
    index = repo.git_dir / f"gitrun-index-{os.getpid()}"
    env = {"GIT_INDEX_FILE": str(index)}
    head = repo.head()
    try:
        if head is None:
            repo.run("read-tree", "--empty", env=env)
        else:
            repo.run("read-tree", head, env=env)
        _stage(repo, paths, env)
        if drop:
            _rm_cached(repo, drop, env=env)
        if head is None:
            listing = repo.run("ls-files", "-z", env=env)
        else:
            listing = repo.run("diff", "--cached", "--name-only", "--no-renames", "-z", head, env=env)
        changed = [c for c in listing.split("\0") if c]
        if not changed:
            return None, []
        args = ["commit", "-q", "--no-edit", "-F", "-"]
        if no_verify:
            args.append("--no-verify")
        if not _wait_for_index_lock(repo):
            raise GitrunError(
                f"{repo.git_dir / 'index.lock'} exists: another Git process is using the index (if none is, "
                "a crashed one left the lock: delete it). Nothing was committed"
            )
        try:
            repo.run(*args, env=env, input=message)
        except GitCommandError as exc:
            raise GitrunError(
                f"git refused the commit (a hook or Git itself): {exc.stderr.strip() or exc}. "
                "Nothing was committed; your files and index are unchanged"
            ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            index.unlink()
    sha = repo.head()
    # Refresh only the store's entries of the user's real index to the new HEAD. Left undone, the
    # index would still lack them, i.e. stage their deletion: retry while another Git holds the lock.
    for chunk in _chunks(paths, 500):
        while True:
            proc = repo.run("reset", "-q", "HEAD", "--", *chunk, check=False)
            if proc.returncode == 0 or "index.lock" not in proc.stderr:
                break
            if not _wait_for_index_lock(repo):
                raise GitrunError(
                    f"committed {sha}, but another Git process holds the index, so it does not list the "
                    f"committed files yet; when it is done, run: git reset -q HEAD -- {os.path.commonpath(paths) or ' '.join(paths)}"
                )
    return sha, changed


def _stage(repo: GitRepo, paths: Sequence[str], env: dict[str, str]) -> None:
    """What ``git add -A -- paths`` does to the index ``env`` names, with new contents written as
    one pack by ``git fast-import`` instead of one loose object file per file (creating thousands
    of small files dominated committing many runs on slow file systems).

    ``ls-files --others --modified --deleted --exclude-standard`` lists exactly what ``add -A``
    would stage, ignore rules included (DVC's ``.gitignore`` entries keep big files out).
    """
    import subprocess
    import tempfile

    wanted: dict[bytes, None] = {}
    deleted: set[bytes] = set()
    for chunk in _chunks(paths, 500):
        listing = repo.run(
            "ls-files", "-z", "-t", "-o", "-m", "-d", "--exclude-standard", "--", *chunk, env=env, text=False
        )
        for item in listing.split(b"\0"):
            if not item:
                continue
            tag, path = item[:1], item[2:]
            if tag == b"R":
                deleted.add(path)
            else:
                wanted[path] = None
    records: list[bytes] = [b"0 " + b"0" * 40 + b"\t" + p for p in deleted]
    files = [p for p in wanted if p not in deleted]
    if files:
        with tempfile.TemporaryDirectory() as tmp:
            marks = os.path.join(tmp, "marks")
            with open(os.path.join(tmp, "stderr"), "w+b") as errors:
                proc = subprocess.Popen(
                    ["git", "fast-import", "--quiet", "--done", f"--export-marks={marks}"],
                    cwd=repo.root,
                    env={**os.environ, **env},
                    stdin=subprocess.PIPE,
                    stderr=errors,
                )
                assert proc.stdin is not None
                modes = []
                try:
                    for number, path in enumerate(files, start=1):
                        full = os.path.join(os.fsencode(repo.root), path)
                        if os.path.islink(full):
                            data, mode = os.fsencode(os.readlink(full)), b"120000"
                        else:
                            with open(full, "rb") as f:
                                data = f.read()
                            mode = b"100755" if os.stat(full).st_mode & 0o111 else b"100644"
                        modes.append(mode)
                        proc.stdin.write(b"blob\nmark :%d\ndata %d\n%s\n" % (number, len(data), data))
                    proc.stdin.write(b"done\n")
                finally:
                    proc.stdin.close()
                    proc.wait()
                if proc.returncode != 0:
                    errors.seek(0)
                    raise GitrunError(f"git fast-import failed: {errors.read().decode(errors='replace').strip()}")
            with open(marks, "rb") as f:
                shas = dict(line.split() for line in f.read().splitlines())
        records += [modes[i] + b" " + shas[b":%d" % (i + 1)] + b"\t" + path for i, path in enumerate(files)]
    if records:
        repo.run("update-index", "-z", "--index-info", env=env, input=b"\0".join(records) + b"\0", text=False)


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
