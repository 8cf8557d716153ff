"""Where a run comes from: the user, the script, and the Git state of its code.

The Git state is asked of the ``git`` executable once per process and directory: five cached
probes (top level, HEAD, branch, status, remotes) cost a few milliseconds, and importing GitPython
would cost more than all of them, so the write path calls the executable directly
(:mod:`gitrun.gitcmd`).
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gitrun import gitcmd
from gitrun.redact import strip_credentials
from gitrun.tracking.state import STATE


@dataclass(frozen=True)
class GitContext:
    """What a run records about the code it ran: computed once per process and directory."""

    root: str
    commit: str | None
    branch: str | None
    dirty: bool | None  # tracked files changed (as `git describe --dirty` means it)
    remote_url: str | None
    untracked: bool = False  # untracked, not ignored files exist (kept in code.diff, not "dirty")


@lru_cache(maxsize=16)
def git_context(directory: str) -> GitContext | None:
    """Commit, branch, dirty flag and credential-free remote URL of the repository around ``directory``.

    ``None`` outside a Git work tree or without a ``git`` executable. The dirty flag ignores the
    run store itself (``.gitrun/``), which logging changes all the time.
    """
    top = gitcmd.output(directory, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    root = top.strip()
    head = gitcmd.output(root, "rev-parse", "--verify", "-q", "HEAD")
    branch = gitcmd.output(root, "symbolic-ref", "-q", "--short", "HEAD")
    status = gitcmd.output(root, "status", "--porcelain", "--untracked-files=normal", "--", ".", ":(exclude).gitrun")
    lines = status.splitlines() if status is not None else []
    return GitContext(
        root=root,
        commit=head.strip() if head else None,
        branch=branch.strip() if branch else None,
        dirty=any(not line.startswith("??") for line in lines) if status is not None else None,
        untracked=any(line.startswith("??") for line in lines),
        remote_url=remote_url(root),
    )


def remote_url(root: str) -> str | None:
    """The repository's remote URL without credentials: origin's, else the first remote's."""
    remotes = gitcmd.output(root, "config", "--get-regexp", r"^remote\..*\.url$") or ""
    remote = None
    for line in remotes.splitlines():
        name, _, url = line.partition(" ")
        if remote is None or name == "remote.origin.url":
            remote = strip_credentials(url.strip())
    return remote


def script_directory() -> str:
    """Directory of the running script (MLflow's rule), else the current directory; for `gitrun run`,
    the command's directory (``STATE.source``)."""
    if STATE.source is not None:
        return STATE.source[1]
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 and argv0 not in ("-c", "-m", "-"):
        found = _script_folder(argv0, "" if os.path.isabs(argv0) else os.getcwd())
        if found is not None:
            return found
    return os.getcwd()


@lru_cache(maxsize=8)
def _script_folder(argv0: str, cwd: str) -> str | None:
    # Once per script (and current directory, for a relative one): every start_run asks, twice.
    path = Path(cwd, argv0)
    return str(path.resolve().parent) if path.exists() else None


@lru_cache(maxsize=1)
def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers), no USER variable
        return "unknown"


def source_name() -> str:
    """``sys.argv[0]`` as MLflow records it: the script, ``-`` for stdin, ``<console>`` interactively
    (for `gitrun run`, the command or project it runs: ``STATE.source``)."""
    if STATE.source is not None:
        return STATE.source[0]
    if not sys.argv or not sys.argv[0]:
        return "<console>"
    return sys.argv[0]
