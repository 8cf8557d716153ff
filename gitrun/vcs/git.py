"""Every call into Git lives here.

The run context uses the ``git`` executable directly (a few milliseconds, once per process):
importing GitPython would cost more than all of it. Later features that need an object model
(reading blobs at a revision, committing) use GitPython, imported lazily in this module.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from gitrun.redact import redact_credentials, strip_credentials  # strip_credentials: importable from here too


@dataclass(frozen=True)
class GitContext:
    """What a run records about the code it ran: computed once per process and directory."""

    root: str
    commit: str | None
    branch: str | None
    dirty: bool | None  # tracked files changed (as `git describe --dirty` means it)
    remote_url: str | None
    untracked: bool = False  # untracked, not ignored files exist (kept in code.diff, not "dirty")


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
    status = _git(root, "status", "--porcelain", "--untracked-files=normal", "--", ".", ":(exclude).gitrun")
    lines = status.splitlines() if status is not None else []
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
        dirty=any(not line.startswith("??") for line in lines) if status is not None else None,
        untracked=any(line.startswith("??") for line in lines),
        remote_url=remote,
    )


def script_directory() -> str:
    """Directory of the running script (MLflow's rule), else the current directory."""
    import sys

    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 and argv0 not in ("-c", "-m", "-") and os.path.exists(argv0):
        return str(Path(argv0).resolve().parent)
    return os.getcwd()


# -- repository operations (commit, revisions, history) ----------------------------------------
class GitCommandError(Exception):
    """A ``git`` command that failed. Its arguments and stderr are kept with credentials removed
    (Git quotes remote URLs, query tokens included, in its errors)."""

    def __init__(self, args: list[str], returncode: int, stderr: str):
        stderr = redact_credentials(stderr)
        super().__init__(redact_credentials(f"git {' '.join(args)} failed ({returncode}): {stderr.strip()}"))
        self.returncode = returncode
        self.stderr = stderr


class TreeEntry(NamedTuple):
    mode: str
    sha: str
    size: int
    path: str


_LS_TREE_ENTRY = re.compile(rb"(\d+) (?:blob|tree) ([0-9a-f]+) +(\d+|-)\t([^\0]*)\0")


def write_blobs(dest: Path, entries: list[TreeEntry], blobs: dict[str, bytes]) -> None:
    made: set[Path] = set()
    for entry in entries:
        target = dest / entry.path
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        with open(target, "wb") as f:
            f.write(blobs[entry.sha])


class GitRepo:
    """A Git work tree, driven through the ``git`` executable."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    def find(cls, path: Path) -> GitRepo:
        """The repository whose work tree contains ``path``."""
        from gitrun.errors import GitrunError

        probe = path if path.is_dir() else path.parent
        while not probe.exists():
            probe = probe.parent
        top = _git(str(probe), "rev-parse", "--show-toplevel")
        if top is None:
            raise GitrunError(f"{path} is not inside a Git work tree; run `git init` there first")
        return cls(Path(top.strip()))

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        input: str | bytes | None = None,
        check: bool = True,
        text: bool = True,
    ) -> Any:
        full_env = {**os.environ, "LC_ALL": "C", **(env or {})}
        proc = subprocess.run(["git", *args], cwd=self.root, env=full_env, input=input, capture_output=True, text=text)
        if check and proc.returncode != 0:
            stderr = proc.stderr if text else proc.stderr.decode("utf-8", "replace")
            raise GitCommandError(list(args), proc.returncode, stderr)
        return proc.stdout if check else proc

    @property
    def git_dir(self) -> Path:
        return Path(self.run("rev-parse", "--absolute-git-dir").strip())

    def head(self) -> str | None:
        out = self.run("rev-parse", "--verify", "-q", "HEAD", check=False)
        return out.stdout.strip() if out.returncode == 0 else None

    def branch(self) -> str | None:
        out = self.run("symbolic-ref", "-q", "--short", "HEAD", check=False)
        return out.stdout.strip() if out.returncode == 0 else None

    def operation_in_progress(self) -> str | None:
        """'merge', 'rebase', 'cherry-pick', 'revert' or 'bisect' when one is under way."""
        git_dir = self.git_dir
        markers = {
            "merge": ["MERGE_HEAD"],
            "rebase": ["rebase-merge", "rebase-apply"],
            "cherry-pick": ["CHERRY_PICK_HEAD"],
            "revert": ["REVERT_HEAD"],
            "bisect": ["BISECT_LOG"],
        }
        for name, files in markers.items():
            if any((git_dir / f).exists() for f in files):
                return name
        return None

    def rev_parse(self, rev: str) -> str:
        from gitrun.errors import GitrunError

        out = self.run("rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False)
        if out.returncode != 0:
            raise GitrunError(f"unknown revision {rev!r} in {self.root}; try a branch, tag or commit SHA")
        return str(out.stdout.strip())

    def tree_id(self, rev: str, path: str) -> str | None:
        """Object ID of the tree at ``rev:path``, or None when ``path`` does not exist there."""
        out = self.run("rev-parse", "--verify", "-q", f"{rev}:{path}" if path else f"{rev}^{{tree}}", check=False)
        return out.stdout.strip() if out.returncode == 0 else None

    def list_tree(self, treeish: str, path: str = "") -> list[TreeEntry]:
        """Every blob under ``treeish:path`` with its size, paths relative to ``path`` (one process)."""
        return [
            TreeEntry(mode.decode(), sha.decode(), int(size), rel.decode("utf-8", "surrogateescape"))
            for mode, sha, size, rel in self.ls_tree_raw(f"{treeish}:{path}" if path else treeish)
            if size != b"-"
        ]

    def ls_tree_raw(self, treeish: str, *, with_trees: bool = False) -> list[tuple[bytes, bytes, bytes, bytes]]:
        """``git ls-tree -r -l`` as raw ``(mode, sha, size, path)`` byte tuples; directories too (size
        ``b"-"``) with ``with_trees``. For large stores: callers decode only what they use."""
        args = ["git", "ls-tree", "-r", "-l", "-z", *(["-t"] if with_trees else []), treeish]
        # stdout only: one read to the end, no polling of a second pipe (this output is large).
        proc = subprocess.run(args, cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise GitCommandError(args[1:], proc.returncode, f"cannot list {treeish}")
        return _LS_TREE_ENTRY.findall(proc.stdout)

    def read_blobs(self, shas: list[str]) -> dict[str, bytes]:
        """Contents of many blobs through one ``git cat-file --batch`` (no process per file)."""
        wanted = list(dict.fromkeys(shas))
        if not wanted:
            return {}
        proc = subprocess.Popen(
            ["git", "cat-file", "--batch"], cwd=self.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert proc.stdin is not None and proc.stdout is not None

        def feed() -> None:  # from a thread, so full pipes in both directions never deadlock
            assert proc.stdin is not None
            try:
                proc.stdin.write(b"".join(sha.encode() + b"\n" for sha in wanted))
            finally:
                proc.stdin.close()

        import threading

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        data = proc.stdout.read()  # one read, then slice: far faster than a read per object
        out: dict[str, bytes] = {}
        pos = 0
        for sha in wanted:
            end = data.index(b"\n", pos)
            header = data[pos:end].split()
            pos = end + 1
            if len(header) < 3:  # "<sha> missing"
                continue
            size = int(header[2])
            out[sha] = data[pos : pos + size]
            pos += size + 1  # the newline after each object
        feeder.join()
        proc.wait()
        return out

    def materialize_tree(self, tree: str, dest: Path) -> int:
        """Write every blob of ``tree`` under ``dest``; returns the file count. Touches neither the
        work tree nor the index."""
        entries = [e for e in self.list_tree(tree) if e.mode != "120000"]  # no symlinks in a store
        write_blobs(dest, entries, self.read_blobs([e.sha for e in entries]))
        return len(entries)

    def log_paths(self, path: str, rev: str = "HEAD") -> str:
        """``git log --name-status`` of commits touching ``path``, oldest first, NUL-delimited records."""
        return str(
            self.run(
                "log",
                "--reverse",
                "--no-renames",
                "--format=%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%at%x1f%s",
                "--name-status",
                rev,
                "--",
                path,
            )
        )
