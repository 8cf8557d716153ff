"""Writing the site: only files whose bytes changed, and a manifest for incremental rebuilds.

The manifest (``.gitrun-site.json`` in the output folder; a dot-file, so GitHub's Pages upload
leaves it out) records, per build unit (a run, the vendored Vega bundle...), the hash of its
inputs and the files it produced. A unit whose inputs hash the same as last time, and whose files
are all still there, is skipped without being rendered; files that no unit produces any more are
removed. The manifest also caches chart specs, the per-commit history and the experiments' best
curves, so an incremental build neither imports Altair nor walks old commits nor re-reads series.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from gitrun.store import textio

MANIFEST_NAME = ".gitrun-site.json"
MANIFEST_VERSION = 1


def digest(*parts: Any) -> str:
    """A stable hash of JSON-serialisable parts."""
    data = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def digest_text(*parts: str) -> str:
    """:func:`digest` of strings only, without JSON: for the keys made per run of large stores."""
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Manifest:
    units: dict[str, dict[str, Any]] = field(default_factory=dict)  # unit -> {"key": ..., "files": [...]}
    specs: dict[str, Any] = field(default_factory=dict)  # cache key -> Vega-Lite spec
    history: dict[str, Any] = field(default_factory=dict)  # cache key -> per-commit summary
    data: dict[str, Any] = field(default_factory=dict)  # cache key -> derived page data (best curves)

    @classmethod
    def load(cls, output: Path) -> Manifest:
        try:
            data = json.loads((output / MANIFEST_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
            return cls()
        return cls(
            units=dict(data.get("units") or {}),
            specs=dict(data.get("specs") or {}),
            history=dict(data.get("history") or {}),
            data=dict(data.get("data") or {}),
        )

    def to_text(self) -> str:
        """One line of JSON: without ``indent``, Python's C encoder writes it (ten times faster at
        10,000 runs); sorted keys keep it byte-identical for the same build."""
        data = {
            "version": MANIFEST_VERSION,
            "units": self.units,
            "specs": self.specs,
            "history": self.history,
            "data": self.data,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def write_if_changed(path: Path, data: str | bytes, made_dirs: set[Path] | None = None) -> bool:
    """Write ``data`` to ``path`` atomically unless the file already holds exactly these bytes."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if path.stat().st_size == len(payload) and path.read_bytes() == payload:
            return False
    except OSError:
        pass
    if made_dirs is None or path.parent not in made_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        if made_dirs is not None:
            made_dirs.add(path.parent)
    textio.atomic_write(path, payload, durable=False)  # checked writes: a full disk leaves the old file
    return True


class SiteWriter:
    """Writes files under ``output`` when their bytes differ; remembers which unit made which file."""

    def __init__(self, output: Path, previous: Manifest, *, full: bool = False):
        """``previous`` is the last build's manifest; ``full=True`` reuses nothing of it (every unit
        is rebuilt, no cached spec or history is read) but still removes the files it lists."""
        self.output = output
        self.previous = Manifest() if full else previous
        self._old_files = {f for unit in previous.units.values() for f in unit.get("files") or []}
        self.current = Manifest()
        self.written: list[str] = []
        self.unchanged = 0
        self._unit: str | None = None
        self._made_dirs: set[Path] = set()

    # -- units ---------------------------------------------------------------------------
    def is_fresh(self, unit: str, key: str) -> bool:
        """True (and the unit's files carried over) when ``unit`` was built from the same inputs
        and its files are still there.

        A file in a folder that holds several units' files (``runs/``, ``data/runs/``...) is looked
        up in that folder's listing, made once per build; the files in a unit's own folders
        (``data/runs/<id>/``, ``artifacts/<id>/``) are taken from the manifest, which saves a
        ``stat`` per file of every run. ``gitrun site build --full`` rebuilds everything."""
        old = self.previous.units.get(unit)
        if not old or old.get("key") != key:
            return False
        files = list(old.get("files") or [])
        missing = self._missing
        if missing and any(f in missing for f in files):
            return False
        self.current.units[unit] = {"key": key, "files": files}
        self.unchanged += len(files)
        return True

    @cached_property
    def _missing(self) -> set[str]:
        """The files of the previous build, in folders holding several units' files, that are gone
        (one listing per such folder)."""
        owner: dict[str, str] = {}
        shared: set[str] = set()
        by_folder: dict[str, list[str]] = {}
        for unit, entry in self.previous.units.items():
            for rel in entry.get("files") or ():
                folder = rel.rpartition("/")[0]
                by_folder.setdefault(folder, []).append(rel)
                if owner.setdefault(folder, unit) != unit:
                    shared.add(folder)
        missing: set[str] = set()
        for folder in shared:
            try:
                names = set(os.listdir(os.path.join(self.output, folder)))
            except OSError:
                names = set()
            missing.update(rel for rel in by_folder[folder] if rel.rpartition("/")[2] not in names)
        return missing

    def begin(self, unit: str, key: str) -> None:
        self._unit = unit
        self.current.units[unit] = {"key": key, "files": []}

    def end(self) -> None:
        if self._unit is not None:
            self.current.units[self._unit]["files"].sort()
        self._unit = None

    # -- files ---------------------------------------------------------------------------
    def write(self, rel: str, data: str | bytes) -> None:
        if write_if_changed(self.output / rel, data, self._made_dirs):
            self.record(rel, True)
        else:
            self.record(rel, False)

    def record(self, rel: str, written: bool) -> None:
        """Note that the current unit produced ``rel`` (written by this process or a worker)."""
        if self._unit is None:
            raise RuntimeError(f"file {rel!r} outside a build unit")
        self.current.units[self._unit]["files"].append(rel)
        if written:
            self.written.append(rel)
        else:
            self.unchanged += 1

    def finish(self) -> list[str]:
        """Remove files the previous build made and this one did not; write the manifest."""
        keep = {f for unit in self.current.units.values() for f in unit["files"]}
        removed = sorted(self._old_files - keep)
        for rel in removed:
            path = self.output / rel
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            parent = path.parent
            while parent != self.output and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
        text = self.current.to_text()
        manifest = self.output / MANIFEST_NAME
        try:
            same = manifest.read_text(encoding="utf-8") == text
        except OSError:
            same = False
        if not same:
            self.output.mkdir(parents=True, exist_ok=True)
            textio.atomic_write(manifest, text, durable=False)
        return removed
