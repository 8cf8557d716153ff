"""Every call into DVC lives here; DVC is imported only when a command needs it.

gitrun drives DVC through its Python API (``dvc.repo.Repo``): one in-process ``add`` of all the
big files of a commit costs DVC's start-up once instead of once per file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitrun.errors import GitrunError

INSTALL_HINT = "pip install 'gitrun-ml[dvc]'"
DEFAULT_REMOTE_NAME = "storage"


class DvcNotInstalledError(GitrunError):
    pass


class DvcError(GitrunError):
    pass


def dvc_available() -> bool:
    try:
        import dvc  # noqa: F401
    except ImportError:
        return False
    return True


def require_dvc() -> None:
    if not dvc_available():
        raise DvcNotInstalledError(f"DVC is not installed: {INSTALL_HINT}")


def is_dvc_repo(root: Path) -> bool:
    return (root / ".dvc").is_dir()


@contextmanager
def open_repo(root: Path, rev: str | None = None) -> Iterator[Any]:
    require_dvc()
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


def init(root: Path, remote_url: str | None = None, remote_name: str = DEFAULT_REMOTE_NAME) -> list[str]:
    """``dvc init`` (if needed) and a default remote; returns the repo-relative files DVC wrote."""
    require_dvc()
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    from dvc.repo import Repo

    if not is_dvc_repo(root):
        import logging

        dvc_logger = logging.getLogger("dvc")
        level = dvc_logger.level
        dvc_logger.setLevel(logging.WARNING)  # DVC logs a welcome banner at INFO
        try:
            Repo.init(str(root))
        finally:
            dvc_logger.setLevel(level)
    with open_repo(root) as repo, repo.config.edit() as conf:
        conf["core"]["analytics"] = False
        if remote_url:
            url = remote_url
            if "://" not in url and not os.path.isabs(url):
                url = str(Path(url).resolve())
            conf["remote"][remote_name] = {"url": url}
            conf["core"]["remote"] = remote_name
    return [p for p in (".dvc/config", ".dvc/.gitignore", ".dvcignore") if (root / p).exists()]


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
    with open_repo(root) as repo:
        try:
            repo.add(_absolute(root, rel))  # DVC reads relative targets from the cwd, not the root
        except Exception as exc:
            raise DvcError(f"dvc add failed for {len(rel)} file(s): {exc}") from exc
    return [r + ".dvc" for r in rel]


def _absolute(root: Path, paths: Sequence[str]) -> list[str]:
    return [str(Path(root, p).absolute()) for p in paths]


def push(root: Path, targets: Sequence[str] | None = None, remote: str | None = None) -> int:
    with open_repo(root) as repo:
        try:
            return int(repo.push(targets=_absolute(root, targets) if targets else None, remote=remote) or 0)
        except Exception as exc:
            raise DvcError(f"dvc push failed: {exc}") from exc


def pull(root: Path, targets: Sequence[str] | None = None, remote: str | None = None) -> int:
    with open_repo(root) as repo:
        try:
            result = repo.pull(targets=_absolute(root, targets) if targets else None, remote=remote)
        except Exception as exc:
            raise DvcError(f"dvc pull failed: {exc}; check the remote with `dvc remote list`") from exc
    if isinstance(result, dict):
        return len(result.get("fetched", [])) + len(result.get("added", []))
    return int(result or 0)


def read_at_rev(root: Path, path: str, rev: str | None, remote: str | None = None) -> bytes:
    """Content of a DVC-tracked file at ``rev`` (from the cache, else the remote)."""
    require_dvc()
    import dvc.api

    try:
        data = dvc.api.read(path, repo=str(root), rev=rev, remote=remote, mode="rb")
    except Exception as exc:
        raise DvcError(
            f"cannot read {path} at {rev or 'the working tree'} through DVC: {exc}; try `gitrun pull`"
        ) from exc
    return bytes(data)


SIZE_LINE = re.compile(r"^\s*size:\s*(\d+)\s*$", re.M)


def pointer_is_dir(dvc_file: Path) -> bool:
    """True when the pointer tracks a directory (DVC records ``nfiles`` and a ``.dir`` hash)."""
    try:
        return "nfiles:" in dvc_file.read_text(encoding="utf-8")
    except OSError:
        return False


def pointer_size(dvc_file: Path) -> int | None:
    """The ``size`` a ``.dvc`` pointer records (no YAML parse needed for this one field)."""
    try:
        match = SIZE_LINE.search(dvc_file.read_text(encoding="utf-8"))
    except OSError:
        return None
    return int(match.group(1)) if match else None
