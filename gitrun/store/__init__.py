"""The run store: one directory of plain files per run, inside the user's Git work tree.

:class:`Store` is the one object the tracking API, the client and the CLI use to reach the files.
The format itself is specified in docs/format.md; ``layout`` has the paths, ``writer`` the
append-only and atomic writes, ``reader`` the tolerant reads.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitrun.entities import (
    DatasetInput,
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    ViewType,
)
from gitrun.errors import (
    AlreadyExistsError,
    AmbiguousRunIdError,
    ExperimentNotFoundError,
    GitrunError,
    InvalidInputError,
    RunNotFoundError,
    RunStateError,
)
from gitrun.settings import load_project_settings
from gitrun.store import code, datasets, heartbeat, textio
from gitrun.store.layout import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    LOCK_FILE,
    StoreLayout,
    canonical_experiment_id,
    experiment_id_candidates,
    experiment_id_for,
    hashed_experiment_id,
    resolve_store_root,
    slugify,
)
from gitrun.store.pointers import pointer_is_dir, pointer_size
from gitrun.store.reader import (
    HOSTNAME,
    OUTCOMES_FILE,
    RunRecord,
    attached_processes,
    drop_heartbeats,
    heartbeat_name,
    holds_only_local_files,
    metric_history,
    process_alive,
    process_id,
    read_json_file,
    read_outcomes,
    read_run,
    worst_status,
)
from gitrun.store.textio import decode_json_bytes, problem
from gitrun.store.validation import (
    validate_artifact_path,
    validate_direction,
    validate_experiment_name,
    validate_key,
    validate_run_id,
    validate_run_time,
)
from gitrun.store.writer import RunWriter, new_run_files, now_ms, run_lock
from gitrun.tags import RUN_NAME

__all__ = ["ReadStore", "RunRecord", "Store", "experiment_not_found", "resolve_store_root", "slugify"]

_writers: dict[Path, RunWriter] = {}
_writers_lock = threading.Lock()


class ReadStore:
    """A run store rooted at ``root``, read-only: the experiments, runs and artifacts it holds.

    The working tree's store is a :class:`Store` (which also writes); a past commit's is a
    read-only ``gitrun.vcs.revision.RevisionStore``. Readers take a ``ReadStore``.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, strict: bool = False):
        self.layout = StoreLayout(resolve_store_root(root))
        self.root = self.layout.root
        self.strict = strict
        self._checked = False  # format version checked
        self._ensured = False  # skeleton (store.yaml, .gitignore) made sure of, for writing
        # Set on read-only views of a past commit (gitrun.vcs.revision.store_at).
        self.revision: str | None = None
        self.source_repo: Path | None = None
        self.source_store_rel = ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"

    @property
    def where(self) -> str:
        """The store as messages name it: its folder (a view at a commit names the commit too)."""
        return str(self.root)

    def check_readable(self) -> None:
        if not self._checked and self.layout.exists():
            self.layout.check_version()
            self._checked = True

    def config(self) -> dict[str, Any]:
        """Settings in ``store.yaml`` besides the format version (e.g. ``dvc_threshold``)."""
        return self._read_yaml(self.root / "store.yaml", "using default settings")

    # -- experiments -----------------------------------------------------------------------
    def experiment_ids(self) -> list[str]:
        try:
            return sorted(
                e.name for e in os.scandir(self.layout.experiments_dir) if e.is_dir() and not e.name.startswith(".")
            )
        except FileNotFoundError:
            return []

    def _read_experiment_file(self, experiment_id: str) -> dict[str, Any]:
        return self._read_yaml(self.layout.experiment_file(experiment_id), "using defaults for this experiment")

    def _read_yaml(self, path: Path, fallback: str) -> dict[str, Any]:
        """A YAML mapping file; {} when missing, and {} with a warning naming file and line when bad."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return {}
        text = decode_json_bytes(raw, str(path), self.strict)
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            problem(f"{where}: cannot parse YAML ({getattr(exc, 'problem', exc)}); {fallback}", self.strict)
            return {}
        if not isinstance(data, dict):
            problem(f"{path}: expected a YAML mapping; {fallback}", self.strict)
            return {}
        return data

    def get_experiment(self, experiment_id: str) -> Experiment:
        self.check_readable()
        experiment_id = canonical_experiment_id(experiment_id)
        folder = self.layout.experiment_dir(str(experiment_id))
        if not folder.is_dir():
            raise experiment_not_found(str(experiment_id), self.where, self.list_experiments(ViewType.ALL), "ID")
        return self._experiment(str(experiment_id), self._read_experiment_file(str(experiment_id)))

    def _experiment(self, experiment_id: str, data: Mapping[str, Any]) -> Experiment:
        name = str(
            data.get("name") or (DEFAULT_EXPERIMENT_NAME if experiment_id == DEFAULT_EXPERIMENT_ID else experiment_id)
        )
        primary, directions = load_project_settings(self.layout.work_tree).for_experiment(name)
        own_directions = data.get("directions") or {}
        if isinstance(own_directions, dict):
            directions.update({str(k): str(v) for k, v in own_directions.items() if v in ("min", "max")})
        times = self._run_times(experiment_id)
        return Experiment(
            experiment_id=experiment_id,
            name=name,
            creation_time=times[0],
            last_update_time=times[1],
            artifact_location=self.layout.runs_dir(experiment_id).as_uri(),
            lifecycle_stage=str(data.get("lifecycle_stage", LifecycleStage.ACTIVE)),
            tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
            primary_metric=data.get("primary_metric") or primary,
            directions=directions,
        )

    def _run_times(self, experiment_id: str) -> tuple[int | None, int | None]:
        """When the experiment's oldest and newest runs started, from their time-sortable IDs: an
        experiment stores no time of its own, so two branches that create it merge cleanly
        (docs/format.md, "No timestamps"). ``(None, None)`` without runs."""
        try:
            names = [e.name for e in os.scandir(self.layout.runs_dir(experiment_id)) if not e.name.startswith(".")]
        except (FileNotFoundError, NotADirectoryError):
            return None, None
        times = [t for t in map(run_id_time, names) if t is not None]
        return (min(times), max(times)) if times else (None, None)

    def list_experiments(self, view_type: int = ViewType.ACTIVE_ONLY) -> list[Experiment]:
        self.check_readable()
        out = []
        for experiment_id in self.experiment_ids():
            data = self._read_experiment_file(experiment_id)
            if not data and self._only_local_files(experiment_id):
                continue  # gitrun's local files of runs committed on another branch, no experiment
            exp = self._experiment(experiment_id, data)
            if _visible(exp.lifecycle_stage, view_type):
                out.append(exp)
        return out

    def _only_local_files(self, experiment_id: str) -> bool:
        if self.layout.experiment_file(experiment_id).exists():
            return False
        runs = self.layout.runs_dir(experiment_id)
        return all(holds_only_local_files(runs / run_id) for run_id in _list_dirs(runs))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        # Its ID first, then the folders older releases chose for that name (IDs never change).
        for candidate in experiment_id_candidates(name):
            if self.layout.experiment_dir(candidate).is_dir():
                exp = self.get_experiment(candidate)
                if exp.name == name:
                    return exp
        for exp in self.list_experiments(ViewType.ALL):  # renamed or hand-made folders
            if exp.name == name:
                return exp
        return None

    def resolve_experiment(self, name_or_id: str) -> Experiment:
        """The experiment named ``name_or_id``, else the one with that ID: how every command and
        function that takes "an experiment" finds it. Unknown: :func:`experiment_not_found`."""
        found = self.get_experiment_by_name(name_or_id)
        if found is None and canonical_experiment_id(name_or_id) in self.experiment_ids():
            found = self.get_experiment(name_or_id)
        if found is None:
            raise experiment_not_found(name_or_id, self.where, self.list_experiments(ViewType.ALL))
        return found

    def find_run_dir(self, run_id: str) -> tuple[str, Path]:
        validate_run_id(run_id)
        self.check_readable()
        for experiment_id in self.experiment_ids():
            candidate = self.layout.run_dir(experiment_id, run_id)
            if candidate.is_dir():
                return experiment_id, candidate
        raise RunNotFoundError(f"no run {run_id!r} in {self.root}")

    def resolve_run_id(self, prefix: str) -> str:
        """Full run ID from a unique prefix (as ``git`` does for commits); a full ID is returned as is."""
        prefix = prefix.strip().upper()
        if len(prefix) == 26:
            return prefix
        matches = sorted(r for r in self.run_ids() if r.startswith(prefix))
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise RunNotFoundError(f"no run whose ID starts with {prefix!r} in {self.where}")
        shown = ", ".join(matches[:3]) + (", ..." if len(matches) > 3 else "")
        raise AmbiguousRunIdError(
            f"run ID prefix {prefix!r} is ambiguous ({len(matches)} runs) in {self.where}: {shown}; give more characters"
        )

    def run_ids(self) -> Iterator[str]:
        """Every run's ID, deleted runs included (directory names: nothing is read)."""
        for experiment_id in self.experiment_ids():
            yield from _list_dirs(self.layout.runs_dir(experiment_id))

    def read_run(self, run_id: str) -> RunRecord:
        experiment_id, run_dir = self.find_run_dir(run_id)
        record = read_run(run_dir, experiment_id, self.strict)
        if record is None:
            if holds_only_local_files(run_dir):
                raise RunNotFoundError(
                    f"no run {run_id!r} in {self.root}: {run_dir} holds only gitrun's local files (the run is "
                    "committed on another branch, or was removed); they are safe to delete"
                )
            raise RunNotFoundError(f"run {run_id} in {run_dir} cannot be read (see the warning above)")
        return record

    def iter_runs(
        self, experiment_ids: Iterable[str] | None = None, view_type: int = ViewType.ACTIVE_ONLY
    ) -> Iterator[RunRecord]:
        self.check_readable()
        ids = self.experiment_ids() if experiment_ids is None else [str(e) for e in experiment_ids]
        for experiment_id in ids:
            for run_id in _list_dirs(self.layout.runs_dir(experiment_id)):
                record = read_run(self.layout.run_dir(experiment_id, run_id), experiment_id, self.strict)
                if record is not None and _visible(record.lifecycle_stage, view_type):
                    yield record

    def to_run(self, record: RunRecord) -> Run:
        """MLflow-shaped :class:`Run` from a record."""
        return record_to_run(record)

    def get_run(self, run_id: str) -> Run:
        """The run, with its dataset and model inputs (``run.inputs``; ``search_runs`` leaves them out)."""
        record = self.read_run(run_id)
        run = self.to_run(record)
        data, label = self.inputs_files_of([record])[record.run_id]
        found = datasets.inputs_from(data, label, self.strict)
        models = datasets.model_inputs_from(data, label, self.strict)
        return dataclasses.replace(run, inputs=RunInputs(found, models)) if found or models else run

    def read_inputs(self, record: RunRecord) -> list[DatasetInput]:
        """The run's dataset inputs (its ``inputs.json``; a revision view reads it from Git)."""
        return self.read_inputs_of([record])[record.run_id]

    def read_inputs_of(self, records: Iterable[RunRecord]) -> dict[str, list[DatasetInput]]:
        """:meth:`read_inputs` of many runs, by run ID (a revision view reads them in one batch)."""
        return {
            run_id: datasets.inputs_from(data, label, self.strict)
            for run_id, (data, label) in self.inputs_files_of(records).items()
        }

    def inputs_files_of(self, records: Iterable[RunRecord]) -> dict[str, tuple[Any, str]]:
        """Each run's parsed ``inputs.json`` (``{}`` without one) and the name warnings give it, by run ID."""
        out = {}
        for record in records:
            path = record.run_dir / datasets.INPUTS_FILE
            out[record.run_id] = (read_json_file(path, self.strict, {}), str(path))
        return out

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        _, run_dir = self.find_run_dir(run_id)
        return metric_history(run_dir, key, self.strict)

    # -- code ------------------------------------------------------------------------------
    def code_diff_path(self, record: RunRecord) -> Path | None:
        """The file holding a dirty run's code diff (the store's shared ``code/<sha256>.diff``, or the
        run's own ``code.diff``); None when the run kept none. Every reader of a run's diff asks here."""
        return code.run_diff_path(self.root, record.run_dir, record.tags)

    def code_diff(self, record: RunRecord) -> bytes | None:
        """A dirty run's code diff (see :meth:`code_diff_path`)."""
        path = self.code_diff_path(record)
        return path.read_bytes() if path is not None else None

    # -- artifacts -------------------------------------------------------------------------
    def artifact_dir(self, run_id: str) -> Path:
        return self.find_run_dir(run_id)[1] / "artifacts"

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        root = self.artifact_dir(run_id)
        folder = _inside(root, path) if path else root
        if not folder.is_dir():
            return []
        entries = {e.name: e for e in os.scandir(folder)}
        # A DVC pointer `x.dvc` stands for `x`, whether or not its content is here; DVC's own
        # `.gitignore` entries are bookkeeping, not artifacts.
        visible = {n[:-4] if n.endswith(".dvc") else n for n in entries if n != ".gitignore"}
        out = []
        for name in sorted(visible):
            rel = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            entry = entries.get(name)
            if entry is None:  # content in DVC, not here: the pointer says what it is
                pointer = folder / f"{name}.dvc"
                out.append(FileInfo(path=rel, is_dir=pointer_is_dir(pointer), file_size=pointer_size(pointer)))
            elif entry.is_dir():
                out.append(FileInfo(path=rel, is_dir=True, file_size=None))
            else:
                out.append(FileInfo(path=rel, is_dir=False, file_size=entry.stat().st_size))
        return out

    def artifact_files(self, run_id: str) -> list[FileInfo]:
        """Every artifact file of a run, recursively (DVC-tracked files by their pointer's size)."""
        out: list[FileInfo] = []
        pending: list[str | None] = [None]
        while pending:
            for info in self.list_artifacts(run_id, pending.pop()):
                if info.is_dir:
                    pending.append(info.path)
                else:
                    out.append(info)
        return sorted(out, key=lambda f: f.path)

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | os.PathLike[str] | None = None) -> str:
        source = _inside(self.artifact_dir(run_id), path) if path else self.artifact_dir(run_id)
        if not source.exists():
            raise GitrunError(f"run {run_id} has no artifact {path!r}; list them with `gitrun runs show {run_id}`")
        if dst_path is None:
            return str(source.absolute())  # MLflow returns an absolute path
        dst = (Path(dst_path) / source.name).absolute()
        if source.is_dir():
            shutil.copytree(source, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dst)
        return str(dst)


class Store(ReadStore):
    """The writable run store of a working tree (usually ``<work tree>/.gitrun``)."""

    # -- setup -----------------------------------------------------------------------------
    def ensure(self) -> None:
        """Create the store if needed and check its format version (once per Store object)."""
        if not self._ensured:
            try:
                self.layout.ensure()
            except OSError as exc:  # a read-only file system, a full disk...
                raise textio.write_error(Path(exc.filename or self.root), exc, "nothing was written") from None
            self._checked = self._ensured = True

    def create_experiment(
        self,
        name: str,
        tags: Mapping[str, Any] | None = None,
        primary_metric: str | None = None,
        directions: Mapping[str, str] | None = None,
        *,
        exist_ok: bool = False,
    ) -> str:
        """Create an experiment and return its ID (:func:`~gitrun.store.layout.experiment_id_for`: a
        pure function of the name, so the same name gets the same folder on every branch).

        ``exist_ok``: when it exists (another process may create it at the same moment: a parallel
        sweep), apply the settings and tags to it and return its ID instead of raising."""
        validate_experiment_name(name)
        self.ensure()
        existing = self.get_experiment_by_name(name)
        experiment_id = existing.experiment_id if existing is not None else self._free_experiment_id(name)
        if existing is not None or self._read_experiment_file(experiment_id).get("name") == name:
            if not exist_ok:
                raise AlreadyExistsError(
                    f"experiment {name!r} already exists in {self.root}; use set_experiment() to select it"
                )
            self.update_experiment(experiment_id, primary_metric=primary_metric, directions=directions, tags=tags)
            return experiment_id
        data: dict[str, Any] = {"name": name}
        if tags:
            data["tags"] = {str(k): str(v) for k, v in tags.items()}
        self._apply_settings(data, primary_metric, directions)
        textio.make_dirs(self.layout.experiment_dir(experiment_id))
        self._write_experiment_file(experiment_id, data)
        return experiment_id

    def _free_experiment_id(self, name: str) -> str:
        """``name``'s ID, or its hashed form when an older store's folder of another name holds it
        (the ID of a folder another process has just created for ``name`` counts as free)."""
        taken: list[str] = []
        for candidate in dict.fromkeys((experiment_id_for(name), hashed_experiment_id(name))):
            holder = self._read_experiment_file(candidate).get("name")
            if holder is None or holder == name:
                return candidate
            taken.append(f"{candidate} ({holder!r})")
        raise InvalidInputError(
            f"cannot create experiment {name!r}: its IDs are taken by other experiments in "
            f"{self.layout.experiments_dir}: {', '.join(taken)}. Choose another name, or rename one of "
            "those folders' experiments"
        )

    def ensure_default_experiment(self) -> str:
        self.ensure()
        if not self.layout.experiment_file(DEFAULT_EXPERIMENT_ID).exists():
            textio.make_dirs(self.layout.experiment_dir(DEFAULT_EXPERIMENT_ID))
            self._write_experiment_file(DEFAULT_EXPERIMENT_ID, {"name": DEFAULT_EXPERIMENT_NAME})
        return DEFAULT_EXPERIMENT_ID

    def update_experiment(
        self,
        experiment_id: str,
        *,
        primary_metric: str | None = None,
        directions: Mapping[str, str] | None = None,
        tags: Mapping[str, Any] | None = None,
        lifecycle_stage: str | None = None,
        delete_tags: Sequence[str] = (),
    ) -> None:
        """Change an experiment's settings; the file is rewritten only when its content changes."""
        data = self._read_experiment_file(experiment_id)
        before = dict(data, directions=dict(data.get("directions") or {}), tags=dict(data.get("tags") or {}))
        data = dict(before)
        if not data.get("name"):
            data["name"] = self.get_experiment(experiment_id).name
        self._apply_settings(data, primary_metric, directions)
        if tags:
            data["tags"] = {**data["tags"], **{str(k): str(v) for k, v in tags.items()}}
        for key in delete_tags:
            if key not in data["tags"]:
                raise InvalidInputError(f"experiment {experiment_id} has no tag {key!r} to delete")
            data["tags"] = {k: v for k, v in data["tags"].items() if k != key}
        if lifecycle_stage is not None:
            data["lifecycle_stage"] = lifecycle_stage
        if data != before:
            self._write_experiment_file(experiment_id, data)

    @staticmethod
    def _apply_settings(data: dict[str, Any], primary_metric: str | None, directions: Mapping[str, str] | None) -> None:
        if primary_metric is not None:
            data["primary_metric"] = validate_key("metric", primary_metric)
        if directions:
            merged = dict(data.get("directions") or {})
            merged.update({validate_key("metric", k): validate_direction(k, v) for k, v in directions.items()})
            data["directions"] = merged

    def _write_experiment_file(self, experiment_id: str, data: Mapping[str, Any]) -> None:
        import yaml

        clean = {k: v for k, v in data.items() if v not in (None, {}, [])}
        if clean.get("lifecycle_stage") == LifecycleStage.ACTIVE:
            del clean["lifecycle_stage"]
        text = "# gitrun experiment (docs/format.md)\n" + yaml.safe_dump(
            clean, sort_keys=True, default_flow_style=False, allow_unicode=True
        )
        textio.atomic_write(self.layout.experiment_file(experiment_id), text)

    # -- runs ------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        run_name: str,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        user: str = "",
        source: str = "",
        run_id: str | None = None,
    ) -> str:
        """Create a RUNNING run and return its ID (a ULID: time-sortable, unique across machines).

        ``run_id``: an ID chosen with :func:`new_run_id` by the process that scheduled the run (a
        sweep's driver), so it is known before the run starts elsewhere; refused if it exists."""
        writer, _ = self.new_run(
            experiment_id,
            run_name=run_name,
            start_time=start_time,
            tags=tags,
            parent_run_id=parent_run_id,
            user=user,
            source=source,
            run_id=run_id,
        )
        return writer.run_id

    def new_run(
        self,
        experiment_id: str,
        *,
        run_name: str,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        user: str = "",
        source: str = "",
        run_id: str | None = None,
        attach: bool = False,
    ) -> tuple[RunWriter, dict[str, Any]]:
        """:meth:`create_run`, returning the run's writer and the ``meta.json`` it wrote.

        Nobody else can know a run before its folder exists, so its files are written without the
        run's lock. ``attach``: this process starts the run (``start_run``); the run's ``.lock``,
        created now holding this process's ``<host>-<pid>``, is its heartbeat (until :meth:`end_attached`)."""
        self.ensure()
        experiment_id = canonical_experiment_id(experiment_id)
        run_id = validate_run_id(run_id) if run_id else new_run_id()
        meta = {
            "end_time": None,
            "host": _hostname(),
            "lifecycle_stage": LifecycleStage.ACTIVE,
            "parent_run_id": parent_run_id,
            "pid": os.getpid(),
            "run_id": run_id,
            "run_name": (tags or {}).get(RUN_NAME) or run_name,  # a non-empty name tag names the run
            "source": source,
            "start_time": now_ms() if start_time is None else validate_run_time("start_time", start_time),
            "status": RunStatus.RUNNING,
            "user": user,
        }
        run_dir = self.layout.run_dir(experiment_id, run_id)
        try:
            try:
                new_run_files(run_dir, meta)
            except FileNotFoundError:  # no runs/ folder: the experiment's first run, or no such experiment
                self._check_experiment(experiment_id)
                textio.make_dirs(run_dir.parent)
                new_run_files(run_dir, meta)
        except FileExistsError:
            raise AlreadyExistsError(f"run {run_id} already exists in {self.root}; a new run needs a new ID") from None
        writer = self.writer(run_id, run_dir)
        if tags:
            writer.write_new_tags(tags)
        if attach:
            heartbeat.attach(run_dir, _start_heartbeat(run_dir))
        return writer, meta

    def keep_code_diff(self, diff: bytes) -> str:
        """Keep a dirty tree's diff once in this store (``code/<sha256>.diff``); returns the SHA-256,
        the value of the run's ``gitrun.git.diff.sha256`` tag."""
        self.ensure()
        return code.keep(self.root, diff)

    def _check_experiment(self, experiment_id: str) -> None:
        if self.layout.experiment_dir(experiment_id).is_dir():
            return
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            self.ensure_default_experiment()
            return
        raise experiment_not_found(
            experiment_id, self.root, self.list_experiments(ViewType.ALL), "ID", "create it with set_experiment()"
        )

    def writer(self, run_id: str, run_dir: Path | None = None) -> RunWriter:
        """The process-wide writer of a run (shared so series descriptors are opened once)."""
        if run_dir is None:
            _, run_dir = self.find_run_dir(run_id)
        writer = _writers.get(run_dir)
        if writer is None:
            with _writers_lock:
                writer = _writers.setdefault(run_dir, RunWriter(run_dir, run_id))
        return writer

    def install_writer(self, writer: RunWriter) -> RunWriter:
        """Make ``writer`` (a subclass, e.g. one that also reports what it writes to plugins) the
        process-wide writer of its run, taking over the one cached until now."""
        with _writers_lock:
            old = _writers.get(writer.run_dir)
            if old is not None and old is not writer:
                writer.take_over(old)
            _writers[writer.run_dir] = writer
        return writer

    def writable(self, run_id: str) -> RunWriter:
        """Writer of a run that accepts data: refuses deleted runs, as MLflow does."""
        writer = self.writer(run_id)
        meta = read_run_meta(writer.run_dir)
        if meta.get("lifecycle_stage") == LifecycleStage.DELETED:
            raise RunStateError(
                f"run {run_id} is deleted; restore it with `gitrun runs restore {run_id}` before logging to it"
            )
        if meta.get("status", RunStatus.RUNNING) != RunStatus.RUNNING:
            # A run that has ended may still be written to (MLflow allows it): a series append or a
            # new artifact changes no folder's mtime, which is what the record cache checks
            # (gitrun.search.record_cache.iter_runs); touching the run's folder first makes it re-read.
            touch_run_dir(writer.run_dir)
        return writer

    def close_writer(self, run_id: str) -> None:
        for path, writer in list(_writers.items()):
            if writer.run_id == run_id:
                writer.close()
                _writers.pop(path, None)

    def set_terminated(
        self,
        run_id: str,
        status: str = RunStatus.FINISHED,
        end_time: int | None = None,
        *,
        writer: RunWriter | None = None,
    ) -> None:
        """End a run at once, whatever processes are attached to it (``Client.set_terminated``):
        write its metric summary, then its status and end time. ``writer``: the run's writer when
        the caller holds it (saves looking the run's directory up). A process's own end of a run
        it started or resumed is :meth:`end_attached`."""
        if status not in RunStatus.ALL:
            raise InvalidInputError(f"unknown run status {status!r}; use one of {', '.join(RunStatus.ALL)}")
        writer = writer or self.writer(run_id)
        with run_lock(writer.run_dir):
            writer.write_summary()
            writer.update_meta(
                status=status, end_time=now_ms() if end_time is None else validate_run_time("end_time", end_time)
            )
            _unlink(writer.run_dir / OUTCOMES_FILE)  # the run is over: earlier outcomes no longer count

    def end_attached(self, run_id: str, status: str = RunStatus.FINISHED, *, writer: RunWriter | None = None) -> str:
        """This process's end of a run it is attached to (started or resumed with ``start_run``,
        with its heartbeat: the ``.lock`` for the starter, a heartbeat file for a process that
        resumed it); returns the run's stored status afterwards.

        The run ends when the last attached process ends it: if another attached process still
        lives, this one only records its outcome (``.heartbeat-outcomes``) and removes its
        heartbeat, and the run stays RUNNING. The last one writes the summary, the end time and
        the worst status of all (FAILED over KILLED over FINISHED; a dead heartbeat counts as
        KILLED). All of it happens under the run's lock, so two processes ending at the same moment
        are serialised and exactly one of them is last. A run already ended from outside
        (:meth:`set_terminated`) is left as it is."""
        if status not in RunStatus.ALL:
            raise InvalidInputError(f"unknown run status {status!r}; use one of {', '.join(RunStatus.ALL)}")
        writer = writer or self.writer(run_id)
        try:
            return self._end_attached(writer, status)
        finally:
            heartbeat.detach(writer.run_dir)

    def _end_attached(self, writer: RunWriter, status: str) -> str:
        run_dir = writer.run_dir
        me = process_id()
        started_here = heartbeat.beat_of(run_dir) == run_dir / LOCK_FILE  # the .lock names this process
        with run_lock(run_dir):
            names = os.listdir(run_dir)
            meta = writer._read_json("meta.json")
            stored = str(meta.get("status", RunStatus.RUNNING))
            beats = attached_processes(run_dir, names, me if started_here else None)
            mine = beats.pop(me, [])
            if stored != RunStatus.RUNNING:
                drop_heartbeats(mine)
                return stored
            if beats:
                now = time.time()
                if any(process_alive(process, paths, now) for process, paths in beats.items()):
                    with open(run_dir / OUTCOMES_FILE, "a", encoding="utf-8") as f:
                        f.write(f"{me}\t{status}\t{now_ms()}\n")
                    drop_heartbeats(mine)  # after the outcome: a kill in between loses nothing
                    return RunStatus.RUNNING
            ended = read_outcomes(run_dir) if OUTCOMES_FILE in names else {}
            killed = [RunStatus.KILLED for process in beats if process not in ended]
            final = worst_status([status, *ended.values(), *killed])
            writer.write_summary(names)
            meta.update(status=final, end_time=now_ms())
            textio.atomic_write(run_dir / "meta.json", textio.dumps(meta))
            drop_heartbeats([*mine, *(path for paths in beats.values() for path in paths)])
            if OUTCOMES_FILE in names:
                _unlink(run_dir / OUTCOMES_FILE)
            return final

    def set_running(self, run_id: str, *, attach: bool = False) -> RunWriter:
        """Make a run RUNNING again (resume it); returns its writer.

        ``attach``: this process joins the run, with its heartbeat file created under the run's
        lock, so a process ending the run at that moment counts it. When no other attached process
        lives, the run starts afresh: earlier processes' outcomes and dead heartbeats are dropped."""
        writer = self.writable(run_id)
        run_dir = writer.run_dir
        with run_lock(run_dir):
            if attach:
                heartbeat.attach(run_dir, _join(run_dir))
            writer.update_meta(status=RunStatus.RUNNING, end_time=None, pid=os.getpid(), host=_hostname())
        return writer

    def delete_run(self, run_id: str) -> None:
        self.writer(run_id).update_meta(lifecycle_stage=LifecycleStage.DELETED, deleted_time=now_ms())

    def restore_run(self, run_id: str) -> None:
        self.writer(run_id).update_meta(drop=("deleted_time",), lifecycle_stage=LifecycleStage.ACTIVE)


_last_id: tuple[int, int] = (0, 0)
_id_lock = threading.Lock()


def experiment_not_found(
    wanted: str, where: object, known: Iterable[Experiment], by: str = "name or ID", fix: str = ""
) -> ExperimentNotFoundError:
    """The one error for an experiment that is not there (``by`` says how it was looked for); it
    names the experiments that are, with their IDs where those differ from the names."""
    names = sorted({e.name if e.name == e.experiment_id else f"{e.name} (ID {e.experiment_id})" for e in known})
    message = f"no experiment {wanted!r} in {where} (by {by}); known: {', '.join(names) or 'none'}"
    return ExperimentNotFoundError(f"{message}; {fix}" if fix else message)


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # the ULID spec's base 32


def run_id_time(run_id: str) -> int | None:
    """The milliseconds a ULID run ID encodes (its first 10 characters), None for another ID."""
    if len(run_id) != 26:
        return None
    value = 0
    for char in run_id[:10].upper():
        digit = _CROCKFORD.find(char)
        if digit < 0:
            return None
        value = value * 32 + digit
    return value


def new_run_id() -> str:
    """A ULID, monotonic within this process: runs started in the same millisecond still sort in
    creation order (the random part is incremented, as the ULID spec's monotonic mode does).

    Encoded here, as python-ulid does (48 bits of milliseconds, 80 random bits from ``os.urandom``,
    26 characters): importing that package would cost every run start more than all of this."""
    global _last_id
    with _id_lock:
        ms, rand = time.time_ns() // 1_000_000, int.from_bytes(os.urandom(10), "big")
        last_ms, last_rand = _last_id
        if ms <= last_ms:
            ms, rand = last_ms, last_rand + 1
        _last_id = (ms, rand)
    value = (ms << 80) | rand
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def record_to_run(record: RunRecord) -> Run:
    """MLflow-shaped :class:`Run` from a record."""
    return Run(
        info=RunInfo(
            run_id=record.run_id,
            experiment_id=record.experiment_id,
            run_name=record.run_name,
            user_id=str(record.meta.get("user") or ""),
            status=record.status,
            start_time=record.start_time,
            end_time=record.end_time,
            artifact_uri=(record.run_dir / "artifacts").as_uri(),
            lifecycle_stage=record.lifecycle_stage,
        ),
        data=RunData(metrics=record.metrics, params=dict(record.params), tags=dict(record.tags)),
    )


def read_run_meta(run_dir: Path) -> dict[str, Any]:
    import json

    try:
        with open(run_dir / "meta.json", encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _inside(root: Path, rel: str) -> Path:
    """``root / rel``, refusing paths that would leave ``root``."""
    return root / validate_artifact_path(rel)


def _list_dirs(folder: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
    except FileNotFoundError:
        return []


def touch_run_dir(run_dir: Path) -> None:
    """Set a run folder's mtime to now (what the record cache's freshness check reads)."""
    try:
        os.utime(run_dir)
    except FileNotFoundError:
        pass
    except OSError as exc:  # e.g. a read-only store: the write that follows would fail the same way
        raise textio.write_error(run_dir, exc, "nothing was written") from None


def _visible(stage: str, view_type: int) -> bool:
    if view_type == ViewType.ALL:
        return True
    deleted = stage == LifecycleStage.DELETED
    return deleted if view_type == ViewType.DELETED_ONLY else not deleted


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _join(run_dir: Path) -> Path:
    """Attach this process to a run (the caller holds the run's lock): see :meth:`Store.set_running`.
    Returns its heartbeat file."""
    me = process_id()
    names = os.listdir(run_dir)
    beats = attached_processes(run_dir, names)
    beats.pop(me, None)
    now = time.time()
    if not any(process_alive(process, paths, now) for process, paths in beats.items()):
        # A new session: nothing of the earlier processes counts any more.
        drop_heartbeats(path for paths in beats.values() for path in paths)
        if OUTCOMES_FILE in names:
            _unlink(run_dir / OUTCOMES_FILE)
    elif OUTCOMES_FILE in names:  # rejoining after ending it here: this process's end no longer holds
        path = run_dir / OUTCOMES_FILE
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
        mine = me + "\t"
        if any(line.startswith(mine) for line in lines):
            textio.atomic_write(path, "".join(line for line in lines if not line.startswith(mine)))
    beat = run_dir / heartbeat_name()
    os.close(os.open(beat, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644))
    return beat


def _start_heartbeat(run_dir: Path) -> Path:
    """The heartbeat of the process starting a run: the run's ``.lock``, created holding its
    ``<host>-<pid>``. Should the lock exist already (a process that guessed the new run's ID took
    it), a heartbeat file of its own, made under the lock as when joining a run."""
    path = run_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    except FileExistsError:
        with run_lock(run_dir):
            return _join(run_dir)
    except OSError as exc:
        raise textio.write_error(path, exc, "the run was created without its heartbeat") from None
    try:
        textio.write_all(fd, process_id().encode())
    except OSError as exc:
        raise textio.write_error(path, exc, "the run was created without its heartbeat") from None
    finally:
        os.close(fd)
    return path


def _hostname() -> str:
    return HOSTNAME
