"""The registry's files: ``artifacts.yaml`` (gto reads it) and the ``artifacts:`` section of
``dvc.yaml`` (DVC reads it), at the root of the work tree (``dir/dvc.yaml`` for ``dir:name``).

gto's entry: ``type: model``, ``path``, ``description``, and ``custom`` (any value), where gitrun
keeps what MLflow's API needs and GTO has no place for::

    churn:
      type: model
      path: .gitrun/experiments/iris/runs/01JD.../artifacts/model
      description: Churn classifier
      custom:
        gitrun:
          name: churn model        # the MLflow name, when it is not a GTO name
          version: v0.0.3          # the version registered last (every registration changes the file)
          run_id: 01JD...
          tags: {team: risk}       # the registered model's tags
          versions:                # descriptions and tags of versions (MLflow's), when set
            v0.0.2: {description: ..., tags: {...}}

DVC's entry: ``path`` (relative to the dvc.yaml), ``type``, ``desc`` (DVC's schema is strict:
``description`` there makes DVC reject the whole file) and ``meta``. Both files are edited with
ruamel.yaml's round-trip mode, so the user's comments, order and other entries are kept.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitrun import gitcmd
from gitrun.errors import RegistryError
from gitrun.registry.grammar import SEPARATOR_IN_NAME

ARTIFACTS_FILE = "artifacts.yaml"
DVC_FILE = "dvc.yaml"
CUSTOM_KEY = "gitrun"


@dataclass(frozen=True)
class Entry:
    """What ``artifacts.yaml`` says of one model (at some commit)."""

    name: str
    path: str | None = None
    type: str | None = None
    description: str | None = None
    mlflow_name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    versions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # version -> description, tags
    run_id: str | None = None

    @property
    def display_name(self) -> str:
        return self.mlflow_name or self.name


def parse_index(text: str) -> dict[str, Entry]:
    """The entries of an ``artifacts.yaml`` text (entries that are not mappings are skipped)."""
    import yaml

    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise RegistryError(f"{ARTIFACTS_FILE} is not valid YAML ({exc}); fix it, or restore it with git") from None
    if not isinstance(data, dict):
        return {}
    out = {}
    for name, raw in data.items():
        if not isinstance(raw, dict):
            continue
        custom = raw.get("custom")
        own = custom.get(CUSTOM_KEY) if isinstance(custom, dict) else None
        own = own if isinstance(own, dict) else {}
        raw_versions, raw_tags = own.get("versions"), own.get("tags")
        versions: dict[str, Any] = raw_versions if isinstance(raw_versions, dict) else {}
        tags: dict[str, Any] = raw_tags if isinstance(raw_tags, dict) else {}
        out[str(name)] = Entry(
            name=str(name),
            path=_text(raw.get("path")),
            type=_text(raw.get("type")),
            description=_text(raw.get("description")),
            mlflow_name=_text(own.get("name")),
            tags={str(k): str(v) for k, v in tags.items()},
            versions={str(k): v for k, v in versions.items() if isinstance(v, dict)},
            run_id=_text(own.get("run_id")),
        )
    return out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def read_index(root: Path, rev: str = "HEAD") -> dict[str, Entry]:
    """``artifacts.yaml`` as committed at ``rev`` (empty when it has none)."""
    proc = gitcmd.run(root, "cat-file", "blob", f"{rev}:{ARTIFACTS_FILE}", check=False, text=False)
    if proc.returncode != 0:
        return {}
    return parse_index(proc.stdout.decode("utf-8", "replace"))


def read_indexes(root: Path, commits: list[str]) -> dict[str, dict[str, Entry]]:
    """``artifacts.yaml`` at each commit (one ``git cat-file --batch``): commit -> entries."""
    from gitrun.vcs.git import GitRepo

    wanted = list(dict.fromkeys(commits))
    if not wanted:
        return {}
    blobs = GitRepo(root).read_blobs([f"{c}:{ARTIFACTS_FILE}" for c in wanted])
    return {
        c: parse_index(blobs[f"{c}:{ARTIFACTS_FILE}"].decode("utf-8", "replace"))
        for c in wanted
        if f"{c}:{ARTIFACTS_FILE}" in blobs
    }


def dvc_file(name: str) -> tuple[str, str]:
    """``(dvc.yaml's repo-relative path, the entry's name in it)`` of a model name."""
    if SEPARATOR_IN_NAME in name:
        folder, _, short = name.partition(SEPARATOR_IN_NAME)
        return f"{folder.strip('/')}/{DVC_FILE}", short
    return DVC_FILE, name


# -- editing the files -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Edit:
    """What to change in a model's entries. ``None`` leaves a field as it is."""

    path: str | None = None  # the model folder, repo-relative
    description: str | None = None
    mlflow_name: str | None = None
    version: str | None = None
    run_id: str | None = None
    tags: Mapping[str, str | None] | None = None  # registered-model tags; None values delete
    version_fields: Mapping[str, Mapping[str, Any]] | None = None  # version -> {"description"/"tags"}


def dirty_files(root: Path, paths: list[str]) -> list[str]:
    """Those of ``paths`` the user has changed (staged, unstaged or untracked): gitrun will not commit over them."""
    out = gitcmd.run(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths).stdout
    return sorted({item[3:] for item in out.split("\0") if len(item) > 3})


def check_clean(root: Path, paths: list[str]) -> None:
    changed = dirty_files(root, paths)
    if changed:
        raise RegistryError(
            f"{', '.join(changed)} ha{'s' if len(changed) == 1 else 've'} changes you have not committed; gitrun "
            "commits its registry entries there itself, and your next commit would drop them (or commit yours). "
            "Commit or stash your changes first"
        )


class Files:
    """The registry's files of one work tree, read once, edited, written, and restorable."""

    def __init__(self, root: Path):
        self.root = root
        self._original: dict[str, bytes | None] = {}
        self._docs: dict[str, Any] = {}

    def _load(self, rel: str) -> Any:
        if rel not in self._docs:
            path = self.root / rel
            try:
                data: bytes | None = path.read_bytes()
            except FileNotFoundError:
                data = None
            self._original[rel] = data
            yaml = _yaml()
            doc = yaml.load(data.decode("utf-8")) if data else None
            if doc is None:
                from ruamel.yaml.comments import CommentedMap

                doc = CommentedMap()
            if not isinstance(doc, dict):
                raise RegistryError(
                    f"{rel} does not hold a mapping at its top level; gitrun cannot add its entry there"
                )
            self._docs[rel] = doc
        return self._docs[rel]

    def edit(self, name: str, change: Edit, *, dvc: bool) -> None:
        """Apply ``change`` to the entry ``name`` of artifacts.yaml and (``dvc``) of its dvc.yaml."""
        from ruamel.yaml.comments import CommentedMap

        doc = self._load(ARTIFACTS_FILE)
        entry = doc.get(name)
        if not isinstance(entry, dict):
            entry = CommentedMap()
            entry["type"] = "model"
            doc[name] = entry
        if change.path is not None:
            entry["path"] = change.path
        if change.description is not None:
            entry["description"] = _scalar(change.description)
        if change.mlflow_name is not None or change.version or change.run_id or change.tags or change.version_fields:
            custom = entry.setdefault("custom", CommentedMap())
            if not isinstance(custom, dict):
                raise RegistryError(f"{ARTIFACTS_FILE}: {name}.custom is not a mapping; gitrun keeps its fields there")
            own = custom.setdefault(CUSTOM_KEY, CommentedMap())
            if change.mlflow_name is not None and change.mlflow_name != name:
                own["name"] = change.mlflow_name
            if change.version:
                own["version"] = change.version
            if change.run_id:
                own["run_id"] = change.run_id
            if change.tags:
                _merge(own, "tags", change.tags)
            for version, fields in (change.version_fields or {}).items():
                versions = own.setdefault("versions", CommentedMap())
                slot = versions.setdefault(version, CommentedMap())
                if "description" in fields:
                    slot["description"] = _scalar(fields["description"])
                if fields.get("tags"):
                    _merge(slot, "tags", fields["tags"])
        if dvc and entry.get("path"):
            self._edit_dvc(name, entry, change)

    def _edit_dvc(self, name: str, entry: Mapping[str, Any], change: Edit) -> None:
        from ruamel.yaml.comments import CommentedMap

        rel, short = dvc_file(name)
        doc = self._load(rel)
        section = doc.get("artifacts")
        if section is None:
            section = CommentedMap()
            doc["artifacts"] = section
        if not isinstance(section, dict):
            raise RegistryError(f"{rel}: its 'artifacts' section is not a mapping; gitrun cannot add {short!r} to it")
        item = section.get(short)
        if not isinstance(item, dict):
            item = CommentedMap()
            section[short] = item
        folder = os.path.dirname(rel)
        item["path"] = (
            os.path.relpath(str(entry["path"]), folder or ".").replace(os.sep, "/") if folder else entry["path"]
        )
        item["type"] = "model"
        if entry.get("description"):
            item["desc"] = entry["description"]
        meta = item.setdefault("meta", CommentedMap())
        if isinstance(meta, dict):
            if change.version:
                meta["gitrun_version"] = change.version
            if change.run_id:
                meta["run_id"] = change.run_id
            if change.mlflow_name is not None and change.mlflow_name != name:
                meta["mlflow_name"] = change.mlflow_name

    @property
    def paths(self) -> list[str]:
        return sorted(self._docs)

    def write(self) -> list[str]:
        """Write every file edited; returns those whose bytes changed."""
        changed = []
        for rel, doc in self._docs.items():
            buffer = io.StringIO()
            _yaml().dump(doc, buffer)
            data = buffer.getvalue().encode("utf-8")
            if data == self._original.get(rel):
                continue
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.gitrun-tmp.{os.getpid()}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            changed.append(rel)
        return changed

    def restore(self) -> None:
        """Put every file back as it was before :meth:`write` (a failed commit leaves nothing behind)."""
        for rel, data in self._original.items():
            path = self.root / rel
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)


def _merge(target: Any, key: str, values: Mapping[str, Any]) -> None:
    from ruamel.yaml.comments import CommentedMap

    current = target.setdefault(key, CommentedMap())
    for k, v in values.items():
        if v is None:
            current.pop(k, None)
        else:
            current[str(k)] = _scalar(v)
    if not current:
        del target[key]


def _scalar(value: Any) -> Any:
    """``value`` as text that every YAML reader reads back as that text: quoted when a YAML 1.1
    reader (PyYAML, gto's) would read it as something else (``yes`` is true there)."""
    import yaml

    text = str(value)
    try:
        plain = yaml.safe_load(text) == text
    except yaml.YAMLError:
        plain = False
    if plain:
        return text
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return DoubleQuotedScalarString(text)


def _yaml() -> Any:
    from gitrun.extras import require

    require("registry", feature="gitrun models register (artifacts.yaml, dvc.yaml)")
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: comments, order and quoting survive
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml
