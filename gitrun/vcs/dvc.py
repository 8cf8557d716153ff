"""Every call into DVC lives here; DVC is imported only when a command needs it.

gitrun drives DVC through its Python API (``dvc.repo.Repo``): one in-process ``add`` of all the
big files of a commit costs DVC's start-up once instead of once per file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitrun.errors import DvcError, DvcNotInstalledError, GitrunError, MissingExtraError
from gitrun.extras import EXTRAS, missing_extra, require
from gitrun.redact import redact_credentials, split_url, strip_credentials

DEFAULT_REMOTE_NAME = "storage"


def require_dvc(feature: str = "this command", hint: str = "") -> None:
    """Import DVC, or raise :class:`~gitrun.errors.DvcNotInstalledError` naming the ``dvc`` extra."""
    try:
        require("dvc", "dvc", feature=feature, hint=hint)
        import dvc  # noqa: F401  (found is not enough: DVC is used next, so a broken install says so here)
    except MissingExtraError as exc:
        raise DvcNotInstalledError(exc.feature, exc.extra, exc.package, exc.module, exc.hint) from None
    except ImportError:
        raise DvcNotInstalledError(feature, "dvc", EXTRAS["dvc"]["dvc"], "dvc", hint) from None
    _redact_dvc_logs()


def _failed(exc: Exception, feature: str, message: str) -> GitrunError:
    """What a failed DVC call raises: the extra to install when DVC lacks a remote's package
    (``dvc_s3`` for an s3:// remote: the ``s3`` extra), else :class:`DvcError` with ``message``."""
    return missing_extra(exc, feature) or DvcError(message)


def _redact_dvc_logs() -> None:
    """DVC prints its own log lines (``ERROR: failed to transfer ... url='...?token=...'``) through
    handlers it installs on import: make their output go through :func:`redact_credentials` too."""
    import logging

    class RedactingFormatter(logging.Formatter):
        def __init__(self, inner: logging.Formatter):
            super().__init__()
            self.inner = inner

        def format(self, record: logging.LogRecord) -> str:
            return redact_credentials(self.inner.format(record))

    for name in ("dvc", "dvc_objects", "dvc_data"):
        for handler in logging.getLogger(name).handlers:
            formatter = handler.formatter
            if formatter is not None and not getattr(formatter, "gitrun_redacts", False):
                wrapped = RedactingFormatter(formatter)
                wrapped.gitrun_redacts = True  # type: ignore[attr-defined]
                handler.setFormatter(wrapped)


def is_dvc_repo(root: Path) -> bool:
    return (root / ".dvc").is_dir()


@contextmanager
def open_repo(root: Path, rev: str | None = None, feature: str = "this command") -> Iterator[Any]:
    require_dvc(feature)
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    from dvc.repo import Repo

    try:
        repo = Repo(str(root), rev=rev) if rev else Repo(str(root))
    except Exception as exc:  # DVC's NotDvcRepoError and friends
        raise DvcError(f"cannot open the DVC repository at {root}: {exc}; set it up with `gitrun init --dvc`") from exc
    # gitrun stages DVC's pointers itself (only in its own commit): no "git add" hints from DVC.
    repo.scm_context.quiet = True
    try:
        yield repo
    finally:
        repo.close()


# Where DVC's config schema (dvc/config_schema.py) keeps the user and the password of a remote,
# by URL scheme. A URL's user info goes there, at the git-ignored "local" level (.dvc/config.local).
CREDENTIAL_FIELDS: dict[str, tuple[str, str | None]] = {
    "http": ("user", "password"),
    "https": ("user", "password"),
    "webdav": ("user", "password"),
    "webdavs": ("user", "password"),
    "webhdfs": ("user", "password"),
    "ssh": ("user", "password"),
    "s3": ("access_key_id", "secret_access_key"),
    "hdfs": ("user", None),
}


@dataclass(frozen=True)
class DvcSetup:
    files: list[str]  # repo-relative files DVC wrote that belong in Git
    remote_url: str | None  # the URL as written to .dvc/config (no credentials)
    credentials: tuple[str, ...] = ()  # the remote's fields written to .dvc/config.local


def split_remote_credentials(url: str) -> tuple[str, dict[str, str]]:
    """``(url without user info, {DVC config field: value})`` for a DVC remote URL.

    Raises :class:`DvcError` for what cannot be kept out of Git safely: credentials in a URL of a
    scheme DVC has no such fields for, and query strings or fragments (tokens travel there).
    """
    parts = split_url(url)
    if parts is None:
        return url, {}
    clean = strip_credentials(url)
    hint = (
        f"give `--remote {clean}` and set the secret in DVC's git-ignored local config yourself: "
        f"`dvc remote modify --local {DEFAULT_REMOTE_NAME} <option> <value>` (see `dvc remote modify --help`)"
    )
    if parts.rest:
        raise DvcError(f"the remote URL {clean!r} has a query or fragment, which often carries a token; {hint}")
    if "@" in parts.host + parts.path:
        # An "@" that is not the end of the user info: it could be part of a password (never echoed).
        raise DvcError(
            f"the remote URL ({parts.scheme}://...) has an '@' gitrun cannot place; write characters of a user "
            "name or password percent-encoded (%40 for '@', %2F for '/'), or set them with `dvc remote modify --local`"
        )
    if parts.userinfo is None:
        return url, {}
    fields = CREDENTIAL_FIELDS.get(parts.scheme.lower())
    user, _, password = parts.userinfo.partition(":")
    if fields is None or (password and fields[1] is None):
        raise DvcError(
            f"the remote URL {clean!r} carries credentials, and DVC has no user/password options for "
            f"{parts.scheme}:// remotes; {hint}"
        )
    from urllib.parse import unquote

    credentials = {}
    if user:
        credentials[fields[0]] = unquote(user)
    if password and fields[1] is not None:
        credentials[fields[1]] = unquote(password)
    return f"{parts.scheme}://{parts.host}{parts.path}", credentials


def init(root: Path, remote_url: str | None = None, remote_name: str = DEFAULT_REMOTE_NAME) -> DvcSetup:
    """``dvc init`` (if needed) and a default remote.

    The remote's URL goes to ``.dvc/config`` without its user info; the user name and password
    (or S3 key pair) go to ``.dvc/config.local``, which DVC's own ``.dvc/.gitignore`` keeps out of Git.
    """
    require_dvc("gitrun init --dvc")
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    from dvc.repo import Repo

    url, credentials = split_remote_credentials(remote_url) if remote_url else (None, {})
    if url is not None and "://" not in url and not os.path.isabs(url):
        url = str(Path(url).resolve())
    if not is_dvc_repo(root):
        import logging

        dvc_logger = logging.getLogger("dvc")
        level = dvc_logger.level
        dvc_logger.setLevel(logging.WARNING)  # DVC logs a welcome banner at INFO
        try:
            Repo.init(str(root))
        finally:
            dvc_logger.setLevel(level)
    try:
        with open_repo(root) as repo:
            with repo.config.edit() as conf:
                conf["core"]["analytics"] = False
                if url:
                    conf["remote"][remote_name] = {"url": url}
                    conf["core"]["remote"] = remote_name
            if credentials:
                with repo.config.edit("local") as local:
                    local["remote"].setdefault(remote_name, {}).update(credentials)
    except DvcError:
        raise
    except Exception as exc:  # DVC's ConfigError: an option its schema refuses
        raise DvcError(f"cannot write DVC's configuration in {root / '.dvc'}: {exc}") from None
    files = [p for p in (".dvc/config", ".dvc/.gitignore", ".dvcignore") if (root / p).exists()]
    return DvcSetup(files, url, tuple(credentials))


def add(root: Path, targets: Sequence[Path]) -> list[str]:
    """Track ``targets`` with DVC in one operation; returns the ``.dvc`` files (repo-relative)."""
    if not targets:
        return []
    if not is_dvc_repo(root):
        raise DvcError(
            f"{len(targets)} artifact(s) need DVC but {root} has no DVC setup; run `gitrun init --dvc "
            "[--remote URL]` first (or raise dvc_threshold)"
        )
    rel = [os.path.relpath(t, root) for t in targets]
    with open_repo(root, feature="tracking big files with DVC") as repo:
        try:
            repo.add(_absolute(root, rel))  # DVC reads relative targets from the cwd, not the root
        except Exception as exc:
            raise _failed(exc, "dvc add", f"dvc add failed for {len(rel)} file(s): {exc}") from exc
    return [r + ".dvc" for r in rel]


def _absolute(root: Path, paths: Sequence[str]) -> list[str]:
    return [str(Path(root, p).absolute()) for p in paths]


def push(root: Path, targets: Sequence[str] | None = None, remote: str | None = None) -> int:
    with open_repo(root, feature="pushing DVC-tracked files") as repo:
        try:
            return int(repo.push(targets=_absolute(root, targets) if targets else None, remote=remote) or 0)
        except Exception as exc:
            raise _failed(exc, "dvc push", f"dvc push failed: {exc}") from exc


def pull(root: Path, targets: Sequence[str] | None = None, remote: str | None = None) -> int:
    with open_repo(root, feature="pulling DVC-tracked files") as repo:
        try:
            result = repo.pull(targets=_absolute(root, targets) if targets else None, remote=remote)
        except Exception as exc:
            raise _failed(exc, "dvc pull", f"dvc pull failed: {exc}; check the remote with `dvc remote list`") from exc
    if isinstance(result, dict):
        return len(result.get("fetched", [])) + len(result.get("added", []))
    return int(result or 0)


def read_at_rev(root: Path, path: str, rev: str | None, remote: str | None = None) -> bytes:
    """Content of a DVC-tracked file at ``rev`` (from the cache, else the remote)."""
    require_dvc(f"reading {path} (its content is in DVC)")
    import dvc.api

    try:
        data = dvc.api.read(path, repo=str(root), rev=rev, remote=remote, mode="rb")
    except Exception as exc:
        raise _failed(
            exc,
            f"reading {path} through DVC",
            f"cannot read {path} at {rev or 'the working tree'} through DVC: {exc}; try `gitrun pull`",
        ) from exc
    return bytes(data)


# -- DVC's cache, read directly -----------------------------------------------------------------
# Loading a model at a revision must stay fast: when the content a pointer names is in the local
# cache, gitrun reads it there by its hash (DVC 3: <cache>/files/md5/<2>/<30>; DVC 2 pointers, which
# have no `hash:` field: <cache>/<2>/<30>) without importing DVC; otherwise DVC fetches it.
@dataclass(frozen=True)
class Pointer:
    """The one output of a ``.dvc`` pointer file."""

    path: str
    md5: str  # ends in ".dir" for a directory
    size: int | None
    legacy: bool  # written by DVC 2 (no `hash: md5`): cache at the cache root, text hashed dos2unix

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")


def read_pointer(text: str) -> Pointer | None:
    """The output a ``.dvc`` file tracks, or None when it is not a one-output pointer."""
    import yaml

    try:
        data = yaml.safe_load(text)
        out = data["outs"][0]
        md5 = str(out["md5"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None
    size = out.get("size")
    return Pointer(
        str(out.get("path", "")), md5, int(size) if isinstance(size, int) else None, out.get("hash") != "md5"
    )


def cache_dir(root: Path) -> Path:
    """The DVC cache of the repository at ``root`` (``cache.dir`` of .dvc/config.local or .dvc/config)."""
    import re

    for name in ("config.local", "config"):
        try:
            text = (root / ".dvc" / name).read_text(encoding="utf-8")
        except OSError:
            continue
        section = re.search(r"^\[cache\][^\n]*\n((?:[ \t]+[^\n]*\n?|\s*\n)*)", text, re.M)
        found = section and re.search(r"^\s*dir\s*=\s*(.+?)\s*$", section.group(1), re.M)
        if found:
            return (root / ".dvc" / os.path.expanduser(found.group(1))).resolve()
    return root / ".dvc" / "cache"


def cached_object(root: Path, md5: str, legacy: bool) -> Path | None:
    """Where the object of hash ``md5`` is in the local cache, if it is there."""
    base = cache_dir(root)
    old, new = base / md5[:2] / md5[2:], base / "files" / "md5" / md5[:2] / md5[2:]
    return next((p for p in ((old, new) if legacy else (new, old)) if p.is_file()), None)


def fetch_at_rev(root: Path, path: str, rev: str | None, dest: Path, remote: str | None = None) -> None:
    """Write what the DVC-tracked ``path`` (repo-relative; a file or a directory) holds at ``rev`` to
    ``dest``, from the cache or else the remote."""
    require_dvc()
    from dvc.api import DVCFileSystem

    try:
        fs = DVCFileSystem(str(root), rev=rev, remote=remote)
        fs.get(path, str(dest), recursive=True)
    except Exception as exc:
        raise DvcError(
            f"cannot get {path} at {rev or 'the working tree'} through DVC: {exc}; push it from where it was "
            "committed (`gitrun push`), or check the remote with `dvc remote list`"
        ) from exc
