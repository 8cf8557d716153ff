"""Running the ``git`` executable: one environment and one error type for every direct call.

The version path drives Git through GitPython (``gitrun.vcs.git``); the calls that must stay
cheaper than GitPython's import go straight to the executable through :func:`run`: the run
context and code capture at ``start_run`` (``gitrun.tracking.provenance``), and the batch plumbing
that makes commits and revision reads fast (``fast-import``, ``ls-tree``, ``cat-file --batch``,
``for-each-ref``). Failures are :class:`~gitrun.errors.GitCommandError`, as GitPython's are
once mapped.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import Any

from gitrun.errors import GitCommandError

# What every gitrun Git process runs with: untranslated messages (gitrun reads some of them), and
# no optional index refresh (a reader must not rewrite the user's index).
BASE_ENV = {"LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a gitrun ``git`` process: this process's, gitrun's settings, then ``extra``."""
    return {**os.environ, **BASE_ENV, **(extra or {})}


def run(
    cwd: str | os.PathLike[str],
    *args: str,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    check: bool = True,
    text: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[Any]:
    """``git ARGS`` in ``cwd``; raises :class:`GitCommandError` when it fails (unless ``check`` is False)."""
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=environment(env),
            input=input,
            capture_output=True,
            text=text,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise GitCommandError(list(args), 127, "git is not installed (or not on PATH); install Git") from None
    except subprocess.TimeoutExpired:
        raise GitCommandError(list(args), -1, f"timed out after {timeout} s") from None
    if check and proc.returncode != 0:
        stderr = proc.stderr if text else proc.stderr.decode("utf-8", "replace")
        raise GitCommandError(list(args), proc.returncode, stderr)
    return proc


def output(cwd: str | os.PathLike[str], *args: str, timeout: float | None = 30) -> str | None:
    """stdout of ``git ARGS``, or None when it fails or Git is missing (for probes that may fail)."""
    try:
        proc = run(cwd, *args, check=False, timeout=timeout)
    except GitCommandError:
        return None
    return str(proc.stdout) if proc.returncode == 0 else None
