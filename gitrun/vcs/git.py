"""The version path's Git layer: one :class:`GitRepo` per work tree.

Commands go through :mod:`gitrun.gitcmd` (one environment, one error type:
:class:`~gitrun.errors.GitCommandError`). The run context's own probes live in
``gitrun.tracking.provenance``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

from gitrun import gitcmd
from gitrun.errors import GitCommandError, GitrunError, NotAGitRepositoryError


# -- repository operations (commit, revisions, history) ----------------------------------------
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
        probe = path if path.is_dir() else path.parent
        while not probe.exists():
            probe = probe.parent
        top = gitcmd.output(probe, "rev-parse", "--show-toplevel")
        if top is None:
            raise NotAGitRepositoryError(f"{path} is not inside a Git work tree; run `git init` there first")
        return cls(Path(top.strip()))

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        input: str | bytes | None = None,
        check: bool = True,
        text: bool = True,
    ) -> Any:
        proc = gitcmd.run(self.root, *args, env=env, input=input, check=check, text=text)
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

    def default_branch(self) -> str | None:
        """The repository's default branch, one rule for every feature (diff base, site history,
        workflows): origin's HEAD (as ``origin/<name>``, what pull requests merge into), else a
        local ``main`` or ``master``, else ``origin/main`` or ``origin/master`` (a CI checkout has
        those and no origin/HEAD), else the current branch; None when HEAD is detached and none
        of these exists."""
        out = self.run("symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD", check=False)
        if out.returncode == 0 and out.stdout.strip():
            return str(out.stdout.strip())
        for ref, name in (
            ("refs/heads/main", "main"),
            ("refs/heads/master", "master"),
            ("refs/remotes/origin/main", "origin/main"),
            ("refs/remotes/origin/master", "origin/master"),
        ):
            if self.run("rev-parse", "--verify", "-q", ref, check=False).returncode == 0:
                return name
        return self.branch()

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
        proc = subprocess.run(
            args, cwd=self.root, env=gitcmd.environment(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        if proc.returncode != 0:
            raise GitCommandError(args[1:], proc.returncode, f"cannot list {treeish}")
        return _LS_TREE_ENTRY.findall(proc.stdout)

    def read_blobs(self, shas: list[str]) -> dict[str, bytes]:
        """Contents of many blobs through one ``git cat-file --batch`` (no process per file)."""
        wanted = list(dict.fromkeys(shas))
        if not wanted:
            return {}
        proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=self.root,
            env=gitcmd.environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
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
