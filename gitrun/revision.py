"""Reading the store as it was at any commit, without a checkout; and the store's history.

``store_at(store, "main")`` materialises the store's tree at that commit into
``.gitrun/.cache/revs/<key>/`` (two git processes for the whole tree, see
:meth:`GitRepo.materialize_tree`) and returns a read-only :class:`Store` over it, so every reader
(search, diff, site, registry) works unchanged. The key is the tree's object ID, so a revision is
materialised once and shared by every commit with the same store content. Neither the work tree
nor the index is touched.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from gitrun.errors import GitrunError
from gitrun.git import GitRepo
from gitrun.store import Store

KEEP_TREES = 16  # materialised revisions kept in the cache (least recently used are removed)


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


def _store_rel(repo: GitRepo, store: Store) -> str:
    rel = os.path.relpath(store.root.resolve(), repo.root.resolve()).replace(os.sep, "/")
    if rel.startswith(".."):
        raise GitrunError(f"the store {store.root} is not inside the Git work tree {repo.root}")
    return "" if rel == "." else rel


def store_at(store: Store, rev: str) -> Store:
    """A read-only view of ``store`` as committed at ``rev`` (branch, tag, SHA, ``HEAD~2``...)."""
    repo = GitRepo.find(store.root)
    commit = repo.rev_parse(rev)
    rel = _store_rel(repo, store)
    tree = repo.tree_id(commit, rel)
    project = repo.run("rev-parse", "--verify", "-q", f"{commit}:pyproject.toml", check=False)
    project_blob = project.stdout.strip() if project.returncode == 0 else None
    key = f"{tree or 'empty'}-{(project_blob or 'none')[:12]}"
    base = store.layout.cache_dir / "revs"
    target = base / key
    if not target.exists():
        tmp = base / f".{key}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "store").mkdir(parents=True)
        if tree is not None:
            repo.materialize_tree(tree, tmp / "store")
        if project_blob is not None:
            (tmp / "pyproject.toml").write_bytes(repo.run("cat-file", "blob", project_blob, text=False))
        try:
            os.rename(tmp, target)
        except OSError:  # another process materialised it first
            shutil.rmtree(tmp, ignore_errors=True)
        _prune(base)
    else:
        os.utime(target)
    view = Store(target / "store", strict=store.strict)
    view.layout.__dict__["work_tree"] = target  # pyproject.toml as of that commit
    view.revision = commit
    view.source_repo = repo.root
    view.source_store_rel = rel
    return view


def _prune(base: Path) -> None:
    entries = sorted((p for p in base.iterdir() if not p.name.startswith(".")), key=lambda p: p.stat().st_mtime)
    for old in entries[:-KEEP_TREES]:
        shutil.rmtree(old, ignore_errors=True)


def history(store: Store, rev: str = "HEAD") -> list[StoreCommit]:
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


def read_artifact(store: Store, run_id: str, path: str) -> bytes:
    """Bytes of an artifact of a run: from the files, or through DVC when it is tracked there.

    Works on the working-tree store and on a :func:`store_at` view (DVC then reads at that commit).
    """
    from gitrun import dvc
    from gitrun.store.validation import validate_artifact_path

    rel = validate_artifact_path(path)
    _, run_dir = store.find_run_dir(run_id)
    target = run_dir / "artifacts" / rel
    if target.is_file():
        return target.read_bytes()
    pointer = target.with_name(target.name + ".dvc")
    if not pointer.exists():
        raise GitrunError(f"run {run_id} has no artifact {path!r}")
    revision = getattr(store, "revision", None)
    if revision is None:
        repo = GitRepo.find(store.root)
        repo_path = os.path.relpath(target.resolve(), repo.root.resolve())
        return dvc.read_at_rev(repo.root, repo_path, None)
    rel_store = getattr(store, "source_store_rel", "")
    repo_path = "/".join(p for p in (rel_store, os.path.relpath(target, store.root).replace(os.sep, "/")) if p)
    assert store.source_repo is not None
    return dvc.read_at_rev(store.source_repo, repo_path, revision)
