"""The one place gitrun starts the ``git`` executable (or a Git hook) itself: one environment, one error type.

The version path drives Git through GitPython (:mod:`gitrun.vcs.git`, which gives GitPython the
same :data:`BASE_ENV`). What runs here instead, and why, is listed in that module's docstring:
in short, the write path's probes at ``start_run`` (``import gitrun`` never loads GitPython), and
the batch plumbing that streams (``cat-file --batch``, ``fast-import``, a large ``ls-tree``),
which GitPython's ``execute`` cannot feed or read the way it needs. Every failure is a
:class:`~gitrun.errors.GitCommandError`: the command, its exit status and the last lines of its
stderr, credentials removed.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gitrun.errors import GitCommandError

# What every gitrun Git process runs with, direct or through GitPython: untranslated messages
# (gitrun reads some of them; GitPython sets LANGUAGE and LC_ALL too), and no optional index
# refresh (a reader must not rewrite the user's index).
BASE_ENV = {"LANGUAGE": "C", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
NOT_INSTALLED = "git is not installed (or not on PATH); install Git"


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
        raise GitCommandError(list(args), 127, NOT_INSTALLED) from None
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


def stream(
    cwd: str | os.PathLike[str],
    *args: str,
    chunks: Iterable[bytes] = (),
    env: Mapping[str, str] | None = None,
) -> bytes:
    """``git ARGS`` fed ``chunks`` on stdin while its stdout is read to the end in one read; returns stdout.

    For batch plumbing (``cat-file --batch``: thousands of objects; ``fast-import``: every new
    blob of a commit). stdin is written from a thread, so full pipes in both directions never
    deadlock, and ``chunks`` may be a generator that reads files as it goes. stderr goes to a
    temporary file (no second pipe to poll) and into the error when the command fails. An
    exception raised by ``chunks`` is raised here, after the process has ended.
    """
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                ["git", *args],
                cwd=cwd,
                env=environment(env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
        except FileNotFoundError:
            raise GitCommandError(list(args), 127, NOT_INSTALLED) from None
        assert proc.stdin is not None and proc.stdout is not None
        failed: list[BaseException] = []

        def feed() -> None:
            assert proc.stdin is not None
            try:
                for chunk in chunks:
                    proc.stdin.write(chunk)
            except BrokenPipeError:
                pass  # git stopped reading: its exit status and stderr say why
            except BaseException as exc:
                failed.append(exc)
                proc.kill()  # half a stream must not be taken for a whole one
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        data = proc.stdout.read()  # one read, then the caller slices: far faster than a read per object
        feeder.join()
        proc.stdout.close()
        returncode = proc.wait()
        if failed:
            raise failed[0]
        if returncode != 0:
            errors.seek(0)
            raise GitCommandError(list(args), returncode, errors.read().decode("utf-8", "replace"))
    return data


def read(cwd: str | os.PathLike[str], *args: str, env: Mapping[str, str] | None = None) -> bytes:
    """stdout of ``git ARGS`` as bytes, read in one go (large listings: ``ls-tree -r`` of a whole store)."""
    return stream(cwd, *args, env=env)


def run_hook_file(
    path: str | os.PathLike[str], args: Sequence[str], cwd: str | os.PathLike[str], env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run a hook file the way ``git`` runs it (for Git before 2.36, which has no ``git hook run``)."""
    return subprocess.run(
        [os.fspath(path), *args], cwd=cwd, env=environment(env), input="", capture_output=True, text=True
    )
