"""What a model is, for people: ``gitrun models show``, ``gitrun runs show`` and the site's run page.

A :class:`ModelSummary` is read from the MLmodel and the small files beside it, in the work tree
or from Git objects at a revision: showing a model never fetches its DVC-tracked content. It
carries the exact commands that load, predict with and serve the model.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitrun import tags
from gitrun.models.mlmodel import (
    EXAMPLE_FILE,
    MLMODEL_FILE,
    PYFUNC,
    REQUIREMENTS_FILE,
    SERVING_EXAMPLE_FILE,
    MLModel,
    parse_mlmodel,
)
from gitrun.models.signature import ColSpec, ParamSchema, Schema, TensorSpec
from gitrun.models.uri import ModelLocation, list_models, resolve

if TYPE_CHECKING:
    from gitrun.store import ReadStore
    from gitrun.vcs.git import GitRepo

EXAMPLE_SHOWN_CHARS = 2000


@dataclass(frozen=True)
class SpecRow:
    """One input, output or param of a signature, as a table row."""

    name: str  # "" for an unnamed column or tensor
    type: str  # "double", "Array(string)", "tensor float64 [-1, 4]"...
    required: bool = True
    default: str | None = None  # params only


@dataclass(frozen=True)
class ModelFile:
    path: str
    size: int | None
    in_dvc: bool  # the content is tracked by DVC (the folder holds its pointer)


@dataclass(frozen=True)
class ModelSummary:
    """One model: its flavors, signature, size, example, lineage and how to use it."""

    uri: str
    name: str
    model_id: str | None
    run_id: str | None
    experiment_id: str | None
    commit: str | None  # the commit it was read at (None: the work tree)
    created: str
    flavors: tuple[str, ...]
    loader_module: str | None
    serialization_format: str | None
    predict_fn: str | None
    inputs: tuple[SpecRow, ...]
    outputs: tuple[SpecRow, ...]
    params: tuple[SpecRow, ...]
    size_bytes: int | None
    files: tuple[ModelFile, ...]
    requirements: tuple[str, ...]
    input_example: str | None  # input_example.json, cut at EXAMPLE_SHOWN_CHARS
    code_commit: str | None  # the commit the run that logged it ran
    registered_model_name: str | None
    commands: tuple[tuple[str, str], ...]  # (what it does, the command)
    repo_path: str | None = None  # the folder, relative to the work tree
    registered: Mapping[str, Any] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["commands"] = [{"what": what, "command": cmd} for what, cmd in self.commands]
        return out


def _rows(schema: Schema | None) -> tuple[SpecRow, ...]:
    if schema is None:
        return ()
    rows = []
    for spec in schema.inputs:
        name = "" if spec.name is None else str(spec.name)
        if isinstance(spec, TensorSpec):
            rows.append(SpecRow(name, f"tensor {spec.dtype_name} {list(spec.shape)}"))
        else:
            assert isinstance(spec, ColSpec)
            rows.append(SpecRow(name, repr(spec.type), spec.required))
    return tuple(rows)


def _param_rows(params: ParamSchema | None) -> tuple[SpecRow, ...]:
    if params is None:
        return ()
    out = []
    for p in params:
        shape = "" if p.shape is None else " (list)"
        out.append(SpecRow(p.name, f"{p.dtype!r}{shape}", True, repr(p.default)))
    return tuple(out)


def _serialization(mlmodel: MLModel) -> str | None:
    for name, conf in mlmodel.flavors.items():
        if name != PYFUNC and conf.get("serialization_format"):
            if conf.get("model_class") == "lightgbm.basic.Booster":
                return "lightgbm (text)"
            return str(conf["serialization_format"])
    pyfunc = mlmodel.pyfunc or {}
    return "cloudpickle" if pyfunc.get("python_model") else None


def commands(uri: str, mlmodel: MLModel, rev: str | None, repo_path: str | None) -> tuple[tuple[str, str], ...]:
    """The exact commands that load, predict with and serve this model."""
    rev_arg = f", rev={rev!r}" if rev else ""
    rev_opt = f" --rev {rev}" if rev else ""
    quoted = shlex.quote(uri)
    out = [("load (Python)", f"gitrun.pyfunc.load_model({uri!r}{rev_arg})")]
    native = next((f for f in mlmodel.flavors if f != PYFUNC and f in ("sklearn", "lightgbm")), None)
    if native:
        out.append((f"load the {native} model", f"gitrun.{native}.load_model({uri!r}{rev_arg})"))
    if mlmodel.pyfunc is not None:
        example = ""
        if (
            repo_path
            and mlmodel.saved_input_example_info
            and mlmodel.saved_input_example_info.get("serving_input_path")
        ):
            example = f" -i {shlex.quote(repo_path + '/' + SERVING_EXAMPLE_FILE)}" if not rev else ""
        out.append(("predict", f"gitrun models predict -m {quoted}{rev_opt}{example or ' -i input.json'}"))
        if repo_path and not rev:
            out.append(
                (
                    "serve (MLflow's scoring server)",
                    f"mlflow models serve -m {shlex.quote(repo_path)} --env-manager local",
                )
            )
    return tuple(out)


def summarize(
    uri: str,
    location: ModelLocation,
    files: Mapping[str, ModelFile],
    read: Callable[[str], str | None],
    code_commit: str | None = None,
) -> ModelSummary:
    text = read(MLMODEL_FILE)
    if text is None:
        from gitrun.models.mlmodel import ModelFormatError

        raise ModelFormatError(f"{uri!r} has no {MLMODEL_FILE} file: it is not a model folder")
    mlmodel = parse_mlmodel(text, f"{uri} ({MLMODEL_FILE})")
    signature = mlmodel.signature
    example = None
    info = mlmodel.saved_input_example_info
    if info:
        raw = read(str(info.get("artifact_path", EXAMPLE_FILE)))
        if raw is not None:
            example = raw if len(raw) <= EXAMPLE_SHOWN_CHARS else raw[:EXAMPLE_SHOWN_CHARS] + " ..."
    requirements = tuple(ln.strip() for ln in (read(REQUIREMENTS_FILE) or "").splitlines() if ln.strip())
    pyfunc = mlmodel.pyfunc or {}
    logged = mlmodel.extra.get("logged_model") if isinstance(mlmodel.extra.get("logged_model"), Mapping) else {}
    size = mlmodel.model_size_bytes
    if size is None:
        size = sum(f.size or 0 for f in files.values()) or None
    repo_path = location.repo_path
    if repo_path is None and location.local_dir is not None:
        repo_path = _relative_to_cwd(location.local_dir)
    shown_uri = uri if not uri.startswith(("/", ".")) else (repo_path or uri)
    return ModelSummary(
        uri=shown_uri,
        name=location.artifact_path or (Path(repo_path).name if repo_path else uri),
        model_id=mlmodel.model_id,
        run_id=location.run_id or mlmodel.run_id,
        experiment_id=location.experiment_id,
        commit=location.commit,
        created=mlmodel.utc_time_created,
        flavors=tuple(sorted(mlmodel.flavors)),
        loader_module=pyfunc.get("loader_module"),
        serialization_format=_serialization(mlmodel),
        predict_fn=pyfunc.get("predict_fn"),
        inputs=_rows(signature.inputs if signature else None),
        outputs=_rows(signature.outputs if signature else None),
        params=_param_rows(signature.params if signature else None),
        size_bytes=size,
        files=tuple(files[k] for k in sorted(files)),
        requirements=requirements,
        input_example=example,
        code_commit=code_commit,
        registered_model_name=(logged or {}).get("registered_model_name"),
        commands=commands(shown_uri, mlmodel, location.commit, repo_path),
        repo_path=repo_path,
        registered=location.registered,
    )


def _relative_to_cwd(path: Path) -> str:
    try:
        return os.path.relpath(path, Path.cwd()).replace(os.sep, "/")
    except ValueError:
        return str(path)


def local_files(folder: Path) -> tuple[dict[str, ModelFile], Callable[[str], str | None]]:
    """The files of a model folder on disk (DVC pointers stand for their files) and a reader of the small ones."""
    from gitrun.store.pointers import pointer_size

    files: dict[str, ModelFile] = {}
    for dirpath, _, names in os.walk(folder):
        present = set(names)
        for name in names:
            path = Path(dirpath, name)
            rel = path.relative_to(folder).as_posix()
            if name.endswith(".dvc"):
                target = rel[:-4]
                files[target] = ModelFile(target, pointer_size(path), True)
            elif name == ".gitignore" or f"{name}.dvc" in present:
                if f"{name}.dvc" in present:
                    files.setdefault(rel, ModelFile(rel, path.stat().st_size, True))
                continue
            else:
                files[rel] = ModelFile(rel, path.stat().st_size, False)

    def read(rel: str) -> str | None:
        try:
            return (folder / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    return files, read


def git_files(repo: GitRepo, commit: str, repo_path: str) -> tuple[dict[str, ModelFile], Callable[[str], str | None]]:
    """The same, from the Git tree of the folder at ``commit`` (no file is written, nothing is fetched)."""
    from gitrun.store.pointers import SIZE_LINE

    entries = {e.path: e for e in repo.list_tree(commit, repo_path)}
    small = [
        e.sha for p, e in entries.items() if p.endswith(".dvc") or p in (MLMODEL_FILE, REQUIREMENTS_FILE, EXAMPLE_FILE)
    ]
    blobs = repo.read_blobs(small)
    files: dict[str, ModelFile] = {}
    for path, entry in entries.items():
        if path.endswith(".dvc") and path[:-4] not in entries:
            match = SIZE_LINE.search(blobs.get(entry.sha, b"").decode("utf-8", "replace"))
            files[path[:-4]] = ModelFile(path[:-4], int(match.group(1)) if match else None, True)
        elif not path.endswith((".dvc", ".gitignore")):
            files[path] = ModelFile(path, entry.size, False)

    def read(rel: str) -> str | None:
        entry = entries.get(rel)
        if entry is None:
            return None
        data = blobs.get(entry.sha)
        if data is None:
            data = repo.read_blobs([entry.sha]).get(entry.sha, b"")
        return data.decode("utf-8", "replace")

    return files, read


def model_summary(
    uri: str | os.PathLike[str], *, rev: str | None = None, store: ReadStore | None = None
) -> ModelSummary:
    """What ``gitrun models show URI [--rev REV]`` shows."""
    from gitrun.tracking.state import current_store

    store = store if store is not None else current_store()
    text = os.fspath(uri)
    location = resolve(text, rev=rev, store=store)
    if location.local_dir is not None:
        files, read = local_files(location.local_dir)
    else:
        from gitrun.vcs.git import GitRepo

        assert location.repo_root is not None and location.repo_path is not None and location.commit is not None
        files, read = git_files(GitRepo(location.repo_root), location.commit, location.repo_path)
    return summarize(text, location, files, read, _code_commit(store, location))


def _code_commit(store: ReadStore, location: ModelLocation) -> str | None:
    if location.run_id is None or location.commit is not None:
        return None
    try:
        return store.read_run(location.run_id).tags.get(tags.GIT_COMMIT)
    except Exception:
        return None


def run_models(store: ReadStore, run_id: str, run_dir: Path, code_commit: str | None = None) -> list[ModelSummary]:
    """Summaries of every model a run holds (``run_dir`` as the store gives it, at its revision)."""
    if store.source_repo is not None and store.revision is not None:
        in_store = os.path.relpath(run_dir, store.root).replace(os.sep, "/")
        run_path: str | None = "/".join(p for p in (store.source_store_rel, in_store) if p)
    elif store.layout.work_tree is not None:
        run_path = os.path.relpath(run_dir, store.layout.work_tree).replace(os.sep, "/")
    else:
        run_path = None
    return models_in(run_dir, run_id, run_path, store.revision, code_commit)


def models_in(
    run_dir: Path, run_id: str, run_path: str | None, commit: str | None, code_commit: str | None = None
) -> list[ModelSummary]:
    """Summaries of the models in a run's folder (``run_path``: that folder relative to the work tree;
    ``commit``: the revision it was read at, None for the work tree)."""
    artifacts = run_dir / "artifacts"
    out = []
    for rel in list_models(artifacts):
        files, read = local_files(artifacts / rel)
        repo_path = f"{run_path}/artifacts/{rel}" if run_path else None
        location = ModelLocation(
            f"runs:/{run_id}/{rel}", run_id=run_id, artifact_path=rel, commit=commit, repo_path=repo_path
        )
        out.append(summarize(location.uri, location, files, read, code_commit))
    return out
