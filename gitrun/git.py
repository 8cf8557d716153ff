"""Every call into Git lives here.

The run context uses the ``git`` executable directly (a few milliseconds, once per process):
importing GitPython would cost more than all of it. Later features that need an object model
(reading blobs at a revision, committing) use GitPython, imported lazily in this module.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class GitContext:
    """What a run records about the code it ran: computed once per process and directory."""

    root: str
    commit: str | None
    branch: str | None
    dirty: bool | None
    remote_url: str | None


def _git(cwd: str, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


@lru_cache(maxsize=16)
def git_context(directory: str) -> GitContext | None:
    """Commit, branch, dirty flag and credential-free remote URL of the repository around ``directory``.

    ``None`` outside a Git work tree or without a ``git`` executable. The dirty flag ignores the
    run store itself (``.gitrun/``), which logging changes all the time.
    """
    top = _git(directory, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    root = top.strip()
    head = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    branch = _git(root, "symbolic-ref", "-q", "--short", "HEAD")
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude).gitrun")
    remotes = _git(root, "config", "--get-regexp", r"^remote\..*\.url$") or ""
    remote = None
    for line in remotes.splitlines():  # prefer origin, else the first remote
        name, _, url = line.partition(" ")
        if remote is None or name == "remote.origin.url":
            remote = strip_credentials(url.strip())
    return GitContext(
        root=root,
        commit=head.strip() if head else None,
        branch=branch.strip() if branch else None,
        dirty=bool(status.strip()) if status is not None else None,
        remote_url=remote,
    )


def strip_credentials(url: str) -> str:
    """A remote URL without user name and password/token (``https://tok@host/x`` -> ``https://host/x``).

    scp-like SSH addresses (``git@github.com:org/repo.git``) carry no secret and stay as they are.
    """
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.scheme in ("ssh", "git+ssh") and parts.password is None:
        return url  # ssh://git@host/... names a user, not a secret
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def script_directory() -> str:
    """Directory of the running script (MLflow's rule), else the current directory."""
    import sys

    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 and argv0 not in ("-c", "-m", "-") and os.path.exists(argv0):
        return str(Path(argv0).resolve().parent)
    return os.getcwd()
