"""Where things live in a store, and the store's format version (docs/format.md).

::

    .gitrun/
      store.yaml                          format_version (written once, never rewritten)
      .gitignore                          local-only files: locks, heartbeats, caches
      experiments/<id>/experiment.yaml    name, primary metric, directions, tags (id: experiment_id_for)
      experiments/<id>/runs/<ULID>/       one directory per run
        meta.json  params.json  tags.json  metrics.json  metrics/<key>.tsv  artifacts/
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import urllib.parse
import warnings
from functools import cached_property
from pathlib import Path

from gitrun import env
from gitrun._version import __version__
from gitrun.errors import InvalidInputError, NotSupportedError, StoreFormatError, TrackingUriWarning
from gitrun.redact import strip_credentials
from gitrun.store.textio import TEMP_PREFIX, atomic_write, create_with_content

FORMAT_VERSION = "1.0"
SUPPORTED_MAJOR = 1
STORE_DIRNAME = ".gitrun"
STORE_FILE = "store.yaml"
EXPERIMENT_FILE = "experiment.yaml"
ENV_TRACKING_URI = env.TRACKING_URI.name

DEFAULT_EXPERIMENT_ID = "default"
DEFAULT_EXPERIMENT_NAME = "Default"

# gitrun's own local-only files: never committed, safe to delete when no gitrun process runs.
# Each pattern is anchored to where gitrun writes (a run's root, the store's root) or uses the
# reserved temp prefix, so that no artifact, metric or key can ever match one: everything else
# in the store is committed. `!*` first: the project's own ignore rules (*.json, metrics/,
# artifacts/...) must not hide run files either. `local_only()` states the same rules in Python.
LOCK_FILE = ".lock"
# A folder of a run's artifacts/ holding this file is a model (MLflow's format; docs/format.md).
MODEL_FILE = "MLmodel"
HEARTBEAT_PREFIX = ".heartbeat-"
GITIGNORE = f"""\
# Written by gitrun: its own local-only files, never committed (see docs/format.md).
# Everything else in the store is committed, whatever the project's ignore rules say:
!*
/.cache/
/experiments/*/runs/*/{LOCK_FILE}
/experiments/*/runs/*/{HEARTBEAT_PREFIX}*
# Finder's .DS_Store and gitrun 0.1's temp files, except in a run's folders of user-named files:
.DS_Store
.*.tmp
!/experiments/*/runs/*/*/**
{TEMP_PREFIX}*
"""

# What earlier gitrun releases wrote; `ensure_gitignore` replaces these (and only these) with GITIGNORE.
# Their unanchored patterns also matched artifacts (poetry.lock, a .cache/ folder, .DS_Store).
OLD_GITIGNORES = (
    "# Written by gitrun: local-only files, never committed (see docs/format.md).\n"
    ".cache/\n*.lock\n.heartbeat-*\n.*.tmp\n",
    "# Written by gitrun: local-only files, never committed (see docs/format.md).\n"
    "# Everything else in the store is committed, whatever the project's ignore rules say:\n"
    "!*\n.cache/\n*.lock\n.heartbeat-*\n.*.tmp\n.DS_Store\n",
)


def local_only(rel: str) -> bool:
    """True for what GITIGNORE ignores: gitrun's own local files (``rel``: a '/'-separated path
    relative to the store root). ``gitrun commit`` stages everything else under a run."""
    if not rel.startswith(".") and "/." not in rel:
        return False  # every local file has a part starting with '.' (the fast answer for run files)
    parts = rel.split("/")
    if len(parts) >= 5 and parts[0] == "experiments" and parts[2] == "runs":
        return local_in_run(parts[4:])
    return (parts[0] == ".cache" and len(parts) > 1) or any(
        _temp_or_finder(p) or p.startswith(TEMP_PREFIX) for p in parts
    )


def local_in_run(parts: list[str]) -> bool:
    """:func:`local_only` for a path inside a run directory, given as its parts."""
    if any(p.startswith(TEMP_PREFIX) for p in parts):
        return True
    if len(parts) == 1 and (parts[0] == LOCK_FILE or parts[0].startswith(HEARTBEAT_PREFIX)):
        return True
    return _temp_or_finder(parts[0])  # deeper, in artifacts/, metrics/, full_values/: user-named files


def _temp_or_finder(name: str) -> bool:
    return name == ".DS_Store" or (len(name) >= 5 and name[0] == "." and name.endswith(".tmp"))


STORE_YAML = f"""\
# gitrun run store (docs/format.md). Readers refuse a newer major version.
format_version: '{FORMAT_VERSION}'
"""

_slug_strip = re.compile(r"[^a-z0-9]+")


MLFLOW_DEFAULT_EXPERIMENT_ID = "0"  # MLflow's ID of its default experiment: an alias of `default`
# IDs no other name may take: the default experiment's, and its MLflow alias.
RESERVED_EXPERIMENT_IDS = frozenset({DEFAULT_EXPERIMENT_ID, MLFLOW_DEFAULT_EXPERIMENT_ID})


def canonical_experiment_id(experiment_id: str | int) -> str:
    """The experiment ID as stored: MLflow's default-experiment ID ``"0"`` (or ``0``) is ``default``.

    Every call that takes an experiment ID accepts MLflow's; what it returns is the stored ID, and
    no folder named ``0`` is ever made."""
    text = str(experiment_id)
    return DEFAULT_EXPERIMENT_ID if text == MLFLOW_DEFAULT_EXPERIMENT_ID else text


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _slug_strip.sub("-", ascii_name.lower()).strip("-")[:64].strip("-")


def slugify(name: str) -> str:
    """A name's slug: lowercase ASCII words joined by '-' (at most 64 characters; ``experiment-<h>``
    when nothing is left). Today's experiment IDs derive from it (:func:`experiment_id_for`); gitrun
    0.1 used it as the ID itself."""
    return _slug(name) or "experiment-" + name_hash(name)


def name_hash(name: str) -> str:
    """Short stable hash of a name, used to tell apart names that slugify alike."""
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:6]


def experiment_id_for(name: str) -> str:
    """The ID of the experiment named ``name``: a pure function of the exact name.

    A name that is its own slug keeps it (``iris-sgd``); any other name is ``<slug>-<h>``, ``<h>``
    being :func:`name_hash` (``Churn Model`` -> ``churn-model-97779c``), so names that slugify
    alike never share an ID and the same name gets the same ID on every branch. ``Default`` is
    ``default``; reserved IDs are never given to other names.
    """
    if name == DEFAULT_EXPERIMENT_NAME:
        return DEFAULT_EXPERIMENT_ID
    if name == _slug(name) and name not in RESERVED_EXPERIMENT_IDS:
        return name
    return hashed_experiment_id(name)


def hashed_experiment_id(name: str) -> str:
    """``<slug>-<h>``: the ID of a name that is not its own slug, and the fallback of one whose own
    slug is taken by an older store's folder of another name."""
    return f"{_slug(name) or 'experiment'}-{name_hash(name)}"


def experiment_id_candidates(name: str) -> list[str]:
    """Folders that may hold the experiment named ``name``, most likely first: its ID, the hashed
    form, and the plain slug (gitrun 0.1 named folders by slug, and by ``<slug>-<h>`` after a clash).
    Folders never move, so stores written by older releases keep their IDs."""
    out = [experiment_id_for(name), hashed_experiment_id(name), slugify(name)]
    return list(dict.fromkeys(out))


def find_work_tree(start: Path) -> Path | None:
    """The Git work tree containing ``start``, found by walking up to a ``.git`` entry (no subprocess)."""
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")  # two letters at least: `C:\\runs` is a path
NON_LOCAL_NAMES = frozenset({"databricks", "databricks-uc", "uc"})  # MLflow's URIs without a scheme
_reported: set[str] = set()


def local_path_of(uri: str) -> str | None:
    """The path a tracking URI names: a path as is, a ``file:`` URI's path; None for any other URI
    (``http://``, ``sqlite:///...``, ``databricks``...), which names no local directory."""
    if uri in NON_LOCAL_NAMES:
        return None
    scheme = _SCHEME.match(uri)
    if scheme is None:
        return uri
    if scheme.group(1).lower() != "file":
        return None
    parsed = urllib.parse.urlparse(uri)
    if parsed.netloc not in ("", "localhost"):
        return None  # file://server/share: not this machine's path
    return urllib.parse.unquote(parsed.path)


def _not_local(raw: str, source: str) -> None:
    """A tracking URI that is no directory: reported once (runs go to the Git store), or an error."""
    mode = (env.REMOTE_TRACKING_URI.get() or "warn").strip().lower()
    if mode not in ("warn", "error"):
        raise InvalidInputError(f"{env.REMOTE_TRACKING_URI.name}={mode!r}: use 'warn' or 'error'")
    shown = strip_credentials(raw)
    if mode == "error":
        raise NotSupportedError(
            f"{source} {shown!r} is not a local path, and {env.REMOTE_TRACKING_URI.name}=error: gitrun keeps runs "
            "in the Git repository (.gitrun/); unset the URI or give a directory"
        )
    if raw not in _reported:
        _reported.add(raw)
        warnings.warn(
            f"{source} {shown!r} is not a local path: gitrun keeps runs in the Git repository's store "
            f"(.gitrun/ at the work-tree root) instead; set {env.REMOTE_TRACKING_URI.name}=error to make this "
            "an error",
            TrackingUriWarning,
            stacklevel=4,
        )


def resolve_store_root(uri: str | os.PathLike[str] | None = None) -> Path:
    """The store directory for a tracking URI: a store directory, a work-tree root, or the default.

    Precedence: ``uri`` argument, ``GITRUN_TRACKING_URI``, ``MLFLOW_TRACKING_URI``, then
    ``.gitrun/`` at the root of the Git work tree around the current directory (or in the current
    directory outside Git). A URI that names no local directory means the default, with a warning
    (docs/format.md, "Where the store is").
    """
    found = env.TRACKING_URI.lookup()
    raw = os.fspath(uri) if uri is not None else found[1] if found else ""
    from_env = found is not None and raw == found[1]  # the CLI passes the variable's value on
    source = f"the tracking URI ({found[0]})" if found and from_env else "the tracking URI"
    if raw:
        local = local_path_of(raw)
        if local is None:
            _not_local(raw, source)
        elif local:
            path = Path(local).expanduser().absolute()
            if (path / STORE_FILE).exists() or path.name == STORE_DIRNAME:
                return path
            if (path / ".git").exists():
                return path / STORE_DIRNAME
            return path
    cwd = Path.cwd()
    tree = find_work_tree(cwd)
    return (tree or cwd) / STORE_DIRNAME


class StoreLayout:
    """Paths inside one store. Pure path arithmetic plus the format-version check."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"StoreLayout({str(self.root)!r})"

    @property
    def experiments_dir(self) -> Path:
        return self.root / "experiments"

    def experiment_dir(self, experiment_id: str) -> Path:
        return self.experiments_dir / canonical_experiment_id(experiment_id)

    def experiment_file(self, experiment_id: str) -> Path:
        return self.experiment_dir(experiment_id) / EXPERIMENT_FILE

    def runs_dir(self, experiment_id: str) -> Path:
        return self.experiment_dir(experiment_id) / "runs"

    def run_dir(self, experiment_id: str, run_id: str) -> Path:
        return self.runs_dir(experiment_id) / run_id

    @property
    def cache_dir(self) -> Path:
        return self.root / ".cache"

    @cached_property
    def work_tree(self) -> Path | None:
        """The Git work tree holding this store, if any."""
        return find_work_tree(self.root.parent if self.root.name == STORE_DIRNAME else self.root)

    def exists(self) -> bool:
        return (self.root / STORE_FILE).exists() or self.experiments_dir.is_dir()

    def ensure(self) -> None:
        """Create the store skeleton if missing (idempotent; same bytes on every machine)."""
        if (self.root / STORE_FILE).exists():
            self.check_version()
            self.ensure_gitignore()
            return
        self.experiments_dir.mkdir(parents=True, exist_ok=True)
        create_with_content(self.root / ".gitignore", GITIGNORE)
        create_with_content(self.root / STORE_FILE, STORE_YAML)

    def ensure_gitignore(self, create: bool = True) -> bool:
        """Write the store's ``.gitignore`` when it is one an earlier gitrun wrote, or (``create``)
        missing: a checkout of a branch without the store leaves gitrun's local files behind. True
        if written. A hand-edited file is left alone."""
        path = self.root / ".gitignore"
        try:
            current = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        except FileNotFoundError:
            if not create:
                return False
            self.root.mkdir(parents=True, exist_ok=True)
            return create_with_content(path, GITIGNORE)
        if current not in OLD_GITIGNORES:
            return False
        atomic_write(path, GITIGNORE)
        return True

    def check_version(self) -> str:
        """The store's format version; raises if its major version is newer than this gitrun reads."""
        path = self.root / STORE_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return FORMAT_VERSION
        match = re.search(r"^format_version:\s*['\"]?([0-9]+)(?:\.([0-9]+))?['\"]?\s*$", text, re.M)
        if not match:
            raise StoreFormatError(f"{path}: no 'format_version' line; expected format_version: '{FORMAT_VERSION}'")
        major = int(match.group(1))
        if major > SUPPORTED_MAJOR:
            raise StoreFormatError(
                f"{path}: store format {match.group(0).split(':', 1)[1].strip()} is newer than this gitrun "
                f"({__version__}) reads (format {FORMAT_VERSION}); upgrade with: pip install -U gitrun-ml"
            )
        return f"{major}.{match.group(2) or 0}"
