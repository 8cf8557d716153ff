"""DVC's own files read without DVC: stages in ``dvc.yaml``, entries of ``dvc.lock`` and ``.dvc``
pointers, and DVC 3's hashes computed the way DVC computes them.

A file's hash is the MD5 of its bytes; a directory's is the MD5 of the JSON list of its files
(``[{"md5": ..., "relpath": "a/b"}, ...]`` sorted by path, ``json.dumps(..., sort_keys=True)``)
followed by ``.dir``: the values ``dvc.lock`` and ``.dvc`` files hold, so a run's recorded hashes
can be compared with DVC's (tests/test_projects_dvc.py does, after a real ``dvc repro``).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitrun.errors import GitrunError

CHUNK = 1024 * 1024


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def dir_md5(path: Path) -> tuple[str, int, int]:
    """DVC's hash of a directory (``<md5>.dir``), its total size and its number of files."""
    entries = []
    size = 0
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if d != ".dvc"]
        for name in filenames:
            full = Path(dirpath) / name
            if name == ".dvcignore" or not full.is_file():
                continue
            entries.append({"md5": file_md5(full), "relpath": full.relative_to(path).as_posix()})
            size += full.stat().st_size
    entries.sort(key=lambda e: e["relpath"])
    listing = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(listing, usedforsecurity=False).hexdigest() + ".dir", size, len(entries)


@dataclass(frozen=True)
class PathHash:
    """A path of a DVC project (relative to its root, ``/``-separated) and DVC's hash of its content."""

    path: str
    md5: str | None  # None: the path does not exist (an out not written yet)
    size: int | None = None
    nfiles: int | None = None


def hash_path(root: Path, rel: str) -> PathHash:
    full = root / rel
    if full.is_dir():
        md5, size, nfiles = dir_md5(full)
        return PathHash(rel, md5, size, nfiles)
    if full.is_file():
        return PathHash(rel, file_md5(full), full.stat().st_size)
    return PathHash(rel, None)


def find_root(start: Path) -> Path | None:
    """The DVC project around ``start`` (the first folder up holding a ``.dvc`` directory)."""
    probe = start.resolve()
    for folder in (probe, *probe.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


@dataclass(frozen=True)
class Stage:
    """A stage of ``dvc.yaml`` as DVC runs it: its address (``DVC_STAGE``), deps and outs relative to the root."""

    address: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    skipped: tuple[str, ...] = ()  # entries gitrun could not resolve (templated: ${...})


def _yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise GitrunError(f"{path}: cannot read it ({exc})") from None


def read_stage(root: Path, address: str) -> Stage:
    """The stage ``address`` names (``train``, or ``sub/dvc.yaml:train``), from its ``dvc.yaml``."""
    file_part, sep, name = address.rpartition(":")
    dvc_yaml = root / (file_part if sep else "dvc.yaml")
    stage_name = name if sep else address
    data = _yaml(dvc_yaml)
    stages = data.get("stages") if isinstance(data, dict) else None
    base, _, key = stage_name.partition("@")
    spec = (stages or {}).get(stage_name) or (stages or {}).get(base)
    if not isinstance(spec, dict):
        raise GitrunError(f"{dvc_yaml}: no stage {stage_name!r} (DVC_STAGE={address!r})")
    wdir = dvc_yaml.parent / str(spec.get("wdir", "."))
    skipped: list[str] = []
    if key or "foreach" in spec or "matrix" in spec:
        warnings.warn(
            f"{dvc_yaml}: stage {stage_name!r} is a foreach/matrix stage; gitrun records no deps or outs for it",
            stacklevel=2,
        )
        return Stage(address, (), (), (stage_name,))

    def paths(entries: Any) -> tuple[str, ...]:
        out = []
        for entry in entries or []:
            raw = next(iter(entry)) if isinstance(entry, dict) else entry
            text = str(raw)
            if "${" in text:
                skipped.append(text)
                continue
            out.append(os.path.relpath(os.path.normpath(wdir / text), root).replace(os.sep, "/"))
        return tuple(out)

    outs = paths([*(spec.get("outs") or []), *(spec.get("metrics") or []), *(spec.get("plots") or [])])
    stage = Stage(address, paths(spec.get("deps")), outs, tuple(skipped))
    if skipped:
        warnings.warn(
            f"{dvc_yaml}: stage {stage_name!r} has templated paths gitrun does not resolve "
            f"({', '.join(skipped)}); they are left out of the run's inputs",
            stacklevel=2,
        )
    return stage


def tracked_md5(root: Path, rel: str) -> str | None:
    """The hash DVC recorded for ``rel``: its ``.dvc`` pointer's, else an out of ``dvc.lock``'s."""
    pointer = root / f"{rel}.dvc"
    if pointer.is_file():
        for out in _yaml(pointer).get("outs") or []:
            if isinstance(out, dict) and out.get("md5"):
                return str(out["md5"])
    lock = root / "dvc.lock"
    if lock.is_file():
        for stage in (_yaml(lock).get("stages") or {}).values():
            for out in (stage or {}).get("outs") or []:
                if isinstance(out, dict) and out.get("path") == rel and out.get("md5"):
                    return str(out["md5"])
    return None
