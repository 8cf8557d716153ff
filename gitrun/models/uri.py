"""Model URIs: one resolver with a plugin point, and model folders at any Git revision.

Forms gitrun resolves itself (``gitrun.models.plugin`` registers them through the
``gitrun_resolve_model_uri`` hook, like any plugin): a local path; ``file:`` URIs; ``runs:/RUN_ID/NAME``
(a unique prefix of the run ID works, and NAME may be left out when the run has one model);
``models:/m-<id>``, MLflow 3's logged-model form. ``models:/NAME/VERSION``, ``models:/NAME@ALIAS``
and the like belong to the registry, which answers through the same hook.

``rev=`` reads the model as committed there: :func:`materialize` writes the model folder into a
content-addressed cache, ``<store>/.cache/models/<Git tree ID of the folder>/`` (the tree ID
covers the DVC pointers, so it names the content), small files from Git objects and DVC-tracked
ones from DVC's cache by their hash (no DVC import), or through DVC from its remote when the cache
lacks them. The work tree and the index are never touched. A model of the work tree is loaded in
place, unless a file of it is only a DVC pointer there (a clone without ``gitrun pull``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitrun.errors import GitrunError, InvalidInputError, ModelNotFoundError, RunNotFoundError
from gitrun.models.mlmodel import MLMODEL_FILE

if TYPE_CHECKING:
    from gitrun.store import ReadStore
    from gitrun.vcs.git import GitRepo

log = logging.getLogger(__name__)

LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")
KEEP_MODELS = 16  # materialised model folders kept in the cache (least recently used are removed)


@dataclass(frozen=True)
class ModelLocation:
    """Where a model URI points: a folder on disk, or a folder of a Git repository at a commit."""

    uri: str
    local_dir: Path | None = None
    repo_root: Path | None = None
    repo_path: str | None = None  # '/'-separated, relative to the work tree
    commit: str | None = None
    run_id: str | None = None
    experiment_id: str | None = None
    artifact_path: str | None = None  # the model's folder inside the run's artifacts/
    registered: Mapping[str, Any] | None = None  # what the registry knows (name, version, stage...)


def resolve(uri: str | os.PathLike[str], *, rev: str | None = None, store: ReadStore | None = None) -> ModelLocation:
    """Where ``uri`` points, asking every ``gitrun_resolve_model_uri`` implementation (plugins first)."""
    from gitrun.plugins import get_plugin_manager
    from gitrun.tracking.state import current_store

    text = os.fspath(uri)
    store = store if store is not None else current_store()
    found = get_plugin_manager().hook.gitrun_resolve_model_uri(uri=text, store=store, rev=rev)
    if found is None:
        if text.startswith("models:/"):
            raise ModelNotFoundError(
                f"cannot resolve {text!r}: models:/NAME/VERSION and models:/NAME@ALIAS need the model registry "
                "(gitrun models register); a logged model is models:/m-<id>"
            )
        raise ModelNotFoundError(
            f"cannot resolve {text!r}: give a model folder, runs:/RUN_ID/NAME, models:/m-<id> or a file: URI"
        )
    return found  # type: ignore[no-any-return]


# -- the built-in forms (called by gitrun.models.plugin) -------------------------------------------
def resolve_builtin(uri: str, store: ReadStore, rev: str | None) -> ModelLocation | None:
    if uri.startswith("runs:/"):
        return _resolve_run(uri, store, rev)
    if uri.startswith("models:/"):
        ident = uri[len("models:/") :].strip("/")
        return _resolve_logged(uri, ident, store, rev) if LOGGED_MODEL_ID.match(ident) else None
    if uri.startswith("file:"):
        from urllib.parse import urlparse
        from urllib.request import url2pathname

        return _resolve_path(uri, Path(url2pathname(urlparse(uri).path)), store, rev)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", uri):
        return None  # another scheme (s3://, http://...): not gitrun's
    return _resolve_path(uri, Path(uri).expanduser(), store, rev)


def _resolve_path(uri: str, path: Path, store: ReadStore, rev: str | None) -> ModelLocation:
    if rev is None:
        if not path.is_dir():
            raise ModelNotFoundError(f"no model folder at {str(path)!r} (it does not exist or is not a folder)")
        return ModelLocation(uri, local_dir=path.absolute())
    from gitrun.vcs.git import GitRepo

    absolute = path.absolute()
    repo = GitRepo.find(absolute)
    rel = os.path.relpath(absolute.resolve(), repo.root.resolve())
    if rel.startswith(".."):
        raise ModelNotFoundError(f"{str(path)!r} is not inside the Git work tree {repo.root}; --rev reads paths of it")
    return ModelLocation(uri, repo_root=repo.root, repo_path=rel.replace(os.sep, "/"), commit=repo.rev_parse(rev))


def _split_run_uri(uri: str) -> tuple[str, str]:
    rest = uri[len("runs:/") :].strip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidInputError(f"{uri!r}: a runs:/ URI is runs:/RUN_ID/NAME, e.g. runs:/01JD5Z3F/model")
    return run_id, path.strip("/")


def _resolve_run(uri: str, store: ReadStore, rev: str | None) -> ModelLocation:
    from gitrun.store.validation import validate_artifact_path

    prefix, path = _split_run_uri(uri)
    if rev is not None:
        return _run_at_revision(uri, store, prefix, path, rev)
    run_id = store.resolve_run_id(prefix)
    experiment_id, run_dir = store.find_run_dir(run_id)
    artifacts = run_dir / "artifacts"
    if not path:
        path = _only_model(artifacts, run_id, uri)
    folder = artifacts / validate_artifact_path(path)
    if not (folder / MLMODEL_FILE).is_file():
        raise ModelNotFoundError(_no_model_message(uri, run_id, path, list_models(artifacts)))
    return ModelLocation(uri, local_dir=folder, run_id=run_id, experiment_id=experiment_id, artifact_path=path)


def list_models(artifacts: Path, depth: int = 4) -> list[str]:
    """The model folders (holding an MLmodel) under a run's ``artifacts/``, as artifact paths."""
    found: list[str] = []
    pending = [(artifacts, 0)]
    while pending:
        folder, level = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        if level and any(e.name == MLMODEL_FILE and e.is_file() for e in entries):
            found.append(folder.relative_to(artifacts).as_posix())
            continue
        if level < depth:
            pending.extend((Path(e.path), level + 1) for e in entries if e.is_dir() and not e.name.startswith("."))
    return sorted(found)


def _only_model(artifacts: Path, run_id: str, uri: str) -> str:
    models = list_models(artifacts)
    if len(models) == 1:
        return models[0]
    raise InvalidInputError(
        f"{uri!r} names no model; run {run_id} has "
        + (f"models {', '.join(models)}: say which, e.g. runs:/{run_id}/{models[0]}" if models else "no model")
    )


def _no_model_message(uri: str, run_id: str, path: str, models: list[str]) -> str:
    known = f"its models: {', '.join(models)}" if models else "it has no model"
    return f"{uri!r}: run {run_id} has no model {path!r} ({known})"


def _store_rel(repo: GitRepo, store: ReadStore) -> str:
    rel = os.path.relpath(store.root.resolve(), repo.root.resolve()).replace(os.sep, "/")
    if rel.startswith(".."):
        raise GitrunError(f"the store {store.root} is not inside the Git work tree {repo.root}; --rev needs Git")
    return "" if rel == "." else rel


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def _ls_names(repo: GitRepo, treeish: str) -> list[str]:
    out = repo.run("ls-tree", "--name-only", "-z", treeish, check=False)
    return [n for n in out.stdout.split("\0") if n] if out.returncode == 0 else []


def _run_at_revision(uri: str, store: ReadStore, prefix: str, path: str, rev: str) -> ModelLocation:
    from gitrun.vcs.git import GitRepo

    repo = GitRepo.find(store.root)
    commit = repo.rev_parse(rev)
    experiments_path = _join(_store_rel(repo, store), "experiments")
    wanted = prefix.strip().upper()
    matches = []
    for experiment in _ls_names(repo, f"{commit}:{experiments_path}"):
        runs = _ls_names(repo, f"{commit}:{experiments_path}/{experiment}/runs")
        matches += [(experiment, r) for r in runs if r.startswith(wanted)]
    if not matches:
        raise RunNotFoundError(f"{uri!r}: no run whose ID starts with {prefix!r} at {rev} ({commit[:12]})")
    if len(matches) > 1:
        raise InvalidInputError(f"{uri!r}: run ID prefix {prefix!r} is ambiguous at {rev} ({len(matches)} runs)")
    experiment, run_id = matches[0]
    artifacts = f"{experiments_path}/{experiment}/runs/{run_id}/artifacts"
    if not path:
        listing = repo.run("ls-tree", "-r", "--name-only", "-z", f"{commit}:{artifacts}", check=False)
        names = listing.stdout.split("\0") if listing.returncode == 0 else []
        models = sorted(n[: -len(MLMODEL_FILE) - 1] for n in names if n.endswith("/" + MLMODEL_FILE))
        if len(models) != 1:
            raise InvalidInputError(f"{uri!r} names no model; run {run_id} has models: {', '.join(models) or 'none'}")
        path = models[0]
    repo_path = f"{artifacts}/{path}"
    if repo.run("cat-file", "-e", f"{commit}:{repo_path}/{MLMODEL_FILE}", check=False).returncode != 0:
        raise ModelNotFoundError(f"{uri!r}: run {run_id} has no model {path!r} at {rev} ({commit[:12]})")
    return ModelLocation(
        uri,
        repo_root=repo.root,
        repo_path=repo_path,
        commit=commit,
        run_id=run_id,
        experiment_id=experiment,
        artifact_path=path,
    )


def _resolve_logged(uri: str, model_id: str, store: ReadStore, rev: str | None) -> ModelLocation:
    from gitrun.models.logged import find_logged_model

    found = find_logged_model(store, model_id, rev)
    if found is None:
        where = f"at {rev}" if rev else f"in {store.root}"
        raise ModelNotFoundError(f"no logged model {model_id} {where}")
    run_id, experiment_id, artifact_path, commit = found
    if commit is None:
        _, run_dir = store.find_run_dir(run_id)
        return ModelLocation(
            uri,
            local_dir=run_dir / "artifacts" / artifact_path,
            run_id=run_id,
            experiment_id=experiment_id,
            artifact_path=artifact_path,
        )
    return _run_at_revision(uri, store, run_id, artifact_path, commit)


# -- materialising a model folder ------------------------------------------------------------------
def materialize(location: ModelLocation, store: ReadStore) -> Path:
    """A local folder holding the whole model ``location`` names (every DVC-tracked file's content)."""
    if location.local_dir is not None:
        pointers = _missing_content(location.local_dir)
        if not pointers:
            return location.local_dir
        return _materialize_work_tree(location.local_dir, pointers, store)
    assert location.repo_root is not None and location.repo_path is not None and location.commit is not None
    from gitrun.vcs.git import GitRepo

    repo = GitRepo(location.repo_root)
    tree = repo.tree_id(location.commit, location.repo_path)
    if tree is None:
        raise ModelNotFoundError(f"{location.uri!r}: nothing at {location.repo_path} in commit {location.commit[:12]}")
    cache = _cache(store)
    target = cache / tree
    if target.is_dir():
        _touch(target)
        return target
    tmp = cache / f".{tree}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write_tree(repo, tree, location, tmp)
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(cache)
    return target


def _cache(store: ReadStore) -> Path:
    from gitrun.vcs.revision import derived_cache

    folder = derived_cache(store, "models")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass


def _publish(tmp: Path, target: Path) -> None:
    try:
        os.rename(tmp, target)
    except OSError:
        if not target.is_dir():  # another process did not publish it first: a real failure
            raise


def _prune(cache: Path) -> None:
    entries = sorted((p for p in cache.iterdir() if not p.name.startswith(".")), key=lambda p: p.stat().st_mtime)
    for old in entries[:-KEEP_MODELS]:
        shutil.rmtree(old, ignore_errors=True)


def _dvc_gitignore(name: str, data: bytes, pointer_names: set[str]) -> bool:
    """True for the ``.gitignore`` DVC writes beside the files it tracks (``/model.skops`` lines)."""
    if not name.endswith(".gitignore"):
        return False
    folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    lines = [ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return bool(lines) and all(ln.startswith("/") and f"{folder}{ln[1:]}.dvc" in pointer_names for ln in lines)


def _write_tree(repo: GitRepo, tree: str, location: ModelLocation, dest: Path) -> None:
    from gitrun.vcs import dvc
    from gitrun.vcs.git import write_blobs

    entries = [e for e in repo.list_tree(tree) if e.mode != "120000"]  # no symlinks out of the model
    names = {e.path for e in entries}
    pointer_names = {p for p in names if p.endswith(".dvc") and p[:-4] not in names}
    blobs = repo.read_blobs([e.sha for e in entries])
    plain = [
        e for e in entries if e.path not in pointer_names and not _dvc_gitignore(e.path, blobs[e.sha], pointer_names)
    ]
    write_blobs(dest, plain, blobs)
    dest.mkdir(parents=True, exist_ok=True)
    assert location.repo_root is not None and location.repo_path is not None
    for name in sorted(pointer_names):
        pointer = dvc.read_pointer(blobs[next(e.sha for e in entries if e.path == name)].decode("utf-8", "replace"))
        target = dest / name[:-4]
        if pointer is None:
            raise GitrunError(f"{location.repo_path}/{name} at {location.commit}: not a DVC pointer gitrun can read")
        fetch_tracked(location.repo_root, f"{location.repo_path}/{name[:-4]}", location.commit, pointer, target)


def fetch_tracked(root: Path, repo_path: str, rev: str | None, pointer: Any, target: Path) -> None:
    """The content of a DVC-tracked file or folder: from DVC's local cache by its hash when it is
    there (checked), else through DVC (its remote)."""
    from gitrun.vcs import dvc

    target.parent.mkdir(parents=True, exist_ok=True)
    if _from_cache(root, pointer.md5, pointer.legacy, pointer.size, target):
        return
    log.info("%s is not in the DVC cache; fetching it through DVC", repo_path)
    dvc.fetch_at_rev(root, repo_path, rev, target)


def _from_cache(root: Path, md5: str, legacy: bool, size: int | None, target: Path) -> bool:
    from gitrun.vcs import dvc

    cached = dvc.cached_object(root, md5, legacy)
    if cached is None:
        return False
    if md5.endswith(".dir"):
        import json

        try:
            listing = json.loads(cached.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        target.mkdir(parents=True, exist_ok=True)
        for item in listing:
            rel = str(item.get("relpath", ""))
            if not rel or rel.startswith(("/", "..")) or "/../" in f"/{rel}/":
                raise GitrunError(f"DVC's listing {cached} names an unsafe path {rel!r}")
            if not _from_cache(root, str(item["md5"]), legacy, None, target / rel):
                return False
        return True
    if size is not None and cached.stat().st_size != size:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(cached, target)
    except OSError:
        shutil.copyfile(cached, target)
    if not legacy and _md5(target) != md5:  # DVC 2 hashed text files dos2unix: its hashes are not checkable
        target.unlink()
        raise GitrunError(
            f"DVC's cache file {cached} does not hold what its hash says; remove it and run `gitrun pull`"
        )
    return True


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _missing_content(model_dir: Path) -> list[Path]:
    """The ``.dvc`` pointers of a work-tree model whose content is not beside them."""
    out = []
    for dirpath, _, files in os.walk(model_dir):
        names = set(files)
        out += [
            Path(dirpath, n)
            for n in files
            if n.endswith(".dvc") and n[:-4] not in names and not Path(dirpath, n[:-4]).is_dir()
        ]
    return out


def _materialize_work_tree(model_dir: Path, pointers: list[Path], store: ReadStore) -> Path:
    """A cache copy of a work-tree model with its DVC content filled in (keyed by its files' state)."""
    from gitrun.vcs import dvc
    from gitrun.vcs.git import GitRepo

    state = []
    for dirpath, _, files in os.walk(model_dir):
        for name in sorted(files):
            st = os.stat(os.path.join(dirpath, name))
            state.append(f"{os.path.relpath(os.path.join(dirpath, name), model_dir)}\t{st.st_size}\t{st.st_mtime_ns}")
    key = "wt-" + hashlib.sha1("\n".join(sorted(state)).encode(), usedforsecurity=False).hexdigest()
    cache = _cache(store)
    target = cache / key
    if target.is_dir():
        _touch(target)
        return target
    repo = GitRepo.find(model_dir)
    tmp = cache / f".{key}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        pointer_set = {p.relative_to(model_dir).as_posix() for p in pointers}
        for dirpath, _, files in os.walk(model_dir):
            for name in files:
                source = Path(dirpath, name)
                rel = source.relative_to(model_dir).as_posix()
                if rel in pointer_set or _dvc_gitignore(rel, source.read_bytes(), pointer_set):
                    continue
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, tmp / rel)
        for pointer_file in pointers:
            pointer = dvc.read_pointer(pointer_file.read_text(encoding="utf-8"))
            if pointer is None:
                raise GitrunError(f"{pointer_file}: not a DVC pointer gitrun can read")
            rel = pointer_file.relative_to(model_dir).as_posix()[:-4]
            repo_path = os.path.relpath(model_dir / rel, repo.root).replace(os.sep, "/")
            fetch_tracked(repo.root, repo_path, None, pointer, tmp / rel)
        tmp.mkdir(parents=True, exist_ok=True)
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(cache)
    return target
