"""The version path's Git layer: one :class:`GitRepo` per work tree, built on GitPython.

Which Git call goes where, and why (docs/architecture.md repeats this):

- **GitPython's** ``Repo`` (imported on the first :class:`GitRepo` use, never by ``import gitrun``
  or the logging path): discovery (``Repo(path, search_parent_directories=True)``, no process),
  the Git directory, and refs read in process (``HEAD``, the current branch, ``origin/HEAD``,
  ``main``/``master`` for :meth:`GitRepo.default_branch`; a reftable repository, which
  GitPython cannot read, falls back to ``git symbolic-ref``/``rev-parse``).
- **GitPython's command interface** (``repo.git.execute``) for every other command of the
  version path: config values (``git config --get``: Git resolves includes and
  ``GIT_CONFIG_*``, GitPython's own parser does not), revisions given by the user
  (``rev-parse``), ``status``, ``ls-files``, the temporary index (``read-tree``,
  ``update-index``, ``write-tree`` with ``GIT_INDEX_FILE``), ``hash-object --stdin-paths``,
  ``check-attr``, ``hook run``, ``commit``, ``reset``, ``log``, ``merge-base``, ``push``/``pull``/
  ``fetch``, ``worktree add``, ``apply``, the site's ``commit-tree``/``update-ref``. Input goes
  through a temporary file (``execute`` takes a file, not bytes); :meth:`GitRepo.run`.
- **Directly** (:mod:`gitrun.gitcmd`), behind the same environment and error type:
  the batch plumbing that streams, which ``execute`` cannot feed or read as it needs:
  ``cat-file --batch`` (stdin and stdout at once, from a thread: every run file of a revision in
  one process), ``fast-import`` (every new blob of a commit in one pack, read from the files as it
  is written) and ``ls-tree -r -l`` of a whole store (one read of stdout, no stderr pipe to poll);
  :meth:`GitRepo.batch`, :meth:`GitRepo.read_blobs`, :meth:`GitRepo.ls_tree_raw`. And the write
  path's probes at ``start_run`` (``gitrun.tracking.provenance``: the four cached calls of the
  run context; ``gitrun.tracking.code``: the diff of a dirty tree), so that ``import gitrun`` and
  logging never load GitPython (tests/test_layers.py). Read-only plumbing of commands that must
  stay fast, such as a registry's one ``for-each-ref`` over all tags, belongs there too.

Both paths run with :data:`gitrun.gitcmd.BASE_ENV` (``LC_ALL=C``, ``LANGUAGE=C``,
``GIT_OPTIONAL_LOCKS=0``) and fail with :class:`~gitrun.errors.GitCommandError` (the command, its
exit status, the last lines of stderr; credentials removed).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from gitrun import gitcmd
from gitrun.errors import GitCommandError, GitrunError, NotAGitRepositoryError

if TYPE_CHECKING:
    import git


class GitResult(NamedTuple):
    """What :meth:`GitRepo.run` returns with ``check=False``."""

    returncode: int
    stdout: Any  # str, or bytes with text=False
    stderr: str


class TreeEntry(NamedTuple):
    mode: str
    sha: str
    size: int
    path: str


class TreeItem(NamedTuple):
    """One entry of a tree object: a file (``is_tree`` False) or a folder."""

    name: str
    sha: str
    is_tree: bool
    mode: str


def parse_tree(data: bytes, width: int = 20) -> list[TreeItem]:
    """The entries of a raw tree object (``<mode> <name>\\0<binary object ID>`` each); ``width`` is
    the object ID's length in bytes (20 for SHA-1, 32 in a SHA-256 repository)."""
    out = []
    pos, end = 0, len(data)
    while pos < end:
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = data[pos:space]
        out.append(
            TreeItem(
                data[space + 1 : nul].decode("utf-8", "surrogateescape"),
                data[nul + 1 : nul + 1 + width].hex(),
                mode == b"40000",
                mode.decode(),
            )
        )
        pos = nul + 1 + width
    return out


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


def _gitpython() -> Any:
    """The ``git`` package (GitPython), imported on first use; a missing Git is a GitCommandError."""
    try:
        import git
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "git":
            raise
        raise GitrunError(
            "GitPython is not installed, and gitrun-ml needs it for Git: pip install 'GitPython>=3.1.40'"
        ) from None
    except ImportError:  # GitPython checks for a usable `git` executable on import
        raise GitCommandError(["version"], 127, gitcmd.NOT_INSTALLED) from None
    return git


def _prepared(repo: git.Repo) -> git.Repo:
    """``repo`` with gitrun's environment for every command GitPython runs (its own included)."""
    repo.git.update_environment(**gitcmd.BASE_ENV)
    return repo


class GitRepo:
    """A Git work tree: GitPython's ``Repo`` for discovery and refs, its command interface for commands."""

    def __init__(self, root: Path, repo: git.Repo | None = None):
        self.root = Path(root)
        if repo is not None:
            self.__dict__["repo"] = _prepared(repo)  # what the cached property would hold

    @classmethod
    def find(cls, path: Path) -> GitRepo:
        """The repository whose work tree contains ``path`` (which need not exist yet)."""
        probe = Path(path).absolute()
        while not probe.exists():
            probe = probe.parent
        if not probe.is_dir():
            probe = probe.parent
        git = _gitpython()
        try:
            repo = git.Repo(probe, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise NotAGitRepositoryError(f"{path} is not inside a Git work tree; run `git init` there first") from None
        if repo.working_tree_dir is None:
            raise NotAGitRepositoryError(
                f"{path} is in a bare Git repository ({repo.git_dir}); use a clone with a work tree"
            )
        return cls(Path(repo.working_tree_dir).resolve(), repo)

    @cached_property
    def repo(self) -> git.Repo:
        """GitPython's ``Repo`` of this work tree, its commands run with gitrun's environment."""
        git = _gitpython()
        try:
            return _prepared(git.Repo(self.root))
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise NotAGitRepositoryError(f"{self.root} is not a Git work tree; run `git init` there first") from None

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        input: str | bytes | None = None,
        check: bool = True,
        text: bool = True,
        cwd: Path | None = None,
    ) -> Any:
        """``git ARGS`` through GitPython: its stdout when ``check`` (raising :class:`GitCommandError`
        on failure), else a :class:`GitResult`. ``cwd`` runs it in another directory (``git -C``)."""
        argv = [*(["-C", str(cwd)] if cwd is not None else []), *args]
        git = _gitpython()
        with contextlib.ExitStack() as cleanup:
            stdin = None
            if input:  # GitPython's execute takes a file for stdin, not bytes
                stdin = cleanup.enter_context(tempfile.TemporaryFile())
                stdin.write(input.encode("utf-8") if isinstance(input, str) else input)
                stdin.seek(0)
            try:
                status, out, err = self.repo.git.execute(
                    ["git", *argv],
                    istream=stdin,
                    env=env,
                    with_extended_output=True,
                    with_exceptions=False,
                    stdout_as_string=text,
                    strip_newline_in_stdout=False,
                )
            except git.GitCommandNotFound:
                raise GitCommandError(argv, 127, gitcmd.NOT_INSTALLED) from None
        err = err if isinstance(err, str) else err.decode("utf-8", "replace")
        if check and status != 0:
            raise GitCommandError(argv, status, err)
        return out if check else GitResult(status, out, err)

    def batch(self, *args: str, chunks: Iterable[bytes] = (), env: dict[str, str] | None = None) -> bytes:
        """``git ARGS`` streamed through :func:`gitrun.gitcmd.stream` (batch plumbing: see the module docstring)."""
        return gitcmd.stream(self.root, *args, chunks=chunks, env=env)

    @property
    def git_dir(self) -> Path:
        return Path(self.repo.git_dir)

    def config(self, key: str) -> str | None:
        """A config value as Git resolves it (every level, includes, ``GIT_CONFIG_*``), or None."""
        out = self.run("config", "--get", key, check=False)
        return str(out.stdout).strip() if out.returncode == 0 else None

    # -- refs ----------------------------------------------------------------------------------------
    @cached_property
    def _refs_in_files(self) -> bool:
        """False for a reftable repository (``extensions.refStorage``) or a SHA-256 one, whose refs
        GitPython cannot read (it takes 40-digit IDs only)."""
        return not (Path(self.repo.common_dir) / "reftable").is_dir() and self._oid_bytes == 20

    def _ref_sha(self, ref: str) -> str | None:
        """The object ``ref`` (a full ref name, or HEAD) points to, through symbolic refs; None if missing."""
        if not self._refs_in_files:
            out = self.run("rev-parse", "--verify", "-q", ref, check=False)
            return str(out.stdout).strip() if out.returncode == 0 else None
        from git.refs.symbolic import SymbolicReference

        try:
            return str(SymbolicReference.dereference_recursive(self.repo, ref))
        except (ValueError, OSError):
            return None

    def _symbolic_target(self, ref: str) -> str | None:
        """The full name ``ref`` points to when it is a symbolic ref (HEAD -> refs/heads/main), else None."""
        if not self._refs_in_files:
            out = self.run("symbolic-ref", "-q", ref, check=False)
            return str(out.stdout).strip() if out.returncode == 0 else None
        from git.refs.symbolic import SymbolicReference

        symbolic = SymbolicReference(self.repo, ref)
        try:
            return None if symbolic.is_detached else str(symbolic.reference.path)
        except (ValueError, TypeError, OSError):
            return None

    def head(self) -> str | None:
        """The commit HEAD points to; None on an unborn branch."""
        return self._ref_sha("HEAD")

    def branch(self) -> str | None:
        """The current branch's short name (also on an unborn branch); None when HEAD is detached."""
        target = self._symbolic_target("HEAD")
        return target.removeprefix("refs/heads/") if target else None

    def default_branch(self) -> str | None:
        """The repository's default branch, one rule for every feature (diff base, site history,
        workflows): origin's HEAD (as ``origin/<name>``, what pull requests merge into), else a
        local ``main`` or ``master``, else ``origin/main`` or ``origin/master`` (a CI checkout has
        those and no origin/HEAD), else the current branch; None when HEAD is detached and none
        of these exists."""
        origin_head = self._symbolic_target("refs/remotes/origin/HEAD")
        if origin_head and origin_head.startswith("refs/remotes/"):
            return origin_head.removeprefix("refs/remotes/")
        for ref, name in (
            ("refs/heads/main", "main"),
            ("refs/heads/master", "master"),
            ("refs/remotes/origin/main", "origin/main"),
            ("refs/remotes/origin/master", "origin/master"),
        ):
            if self._ref_sha(ref) is not None:
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
        """The commit a revision the user gave names (a branch, tag, SHA, ``main~2``...)."""
        out = None if rev.startswith("-") else self.run("rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False)
        if out is None or out.returncode != 0:
            raise GitrunError(f"unknown revision {rev!r} in {self.root}; try a branch, tag or commit SHA")
        return str(out.stdout.strip())

    def tree_id(self, rev: str, path: str) -> str | None:
        """Object ID of the tree at ``rev:path``, or None when ``path`` does not exist there."""
        out = self.run("rev-parse", "--verify", "-q", f"{rev}:{path}" if path else f"{rev}^{{tree}}", check=False)
        return out.stdout.strip() if out.returncode == 0 else None

    # -- batch plumbing (direct: gitrun.gitcmd) --------------------------------------------------
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
        return list(self.iter_tree_raw(treeish, with_trees=with_trees))

    def iter_tree_raw(self, treeish: str, *, with_trees: bool = False) -> Iterator[tuple[bytes, bytes, bytes, bytes]]:
        """:meth:`ls_tree_raw` one entry at a time, in Git's order (by path): a caller can keep a
        part of a listing of millions of entries without holding them all."""
        listing = gitcmd.read(self.root, "ls-tree", "-r", "-l", "-z", *(["-t"] if with_trees else []), treeish)
        return (m.groups() for m in _LS_TREE_ENTRY.finditer(listing))  # type: ignore[misc]

    def read_blobs(self, shas: list[str]) -> dict[str, bytes]:
        """Contents of many blobs through one ``git cat-file --batch`` (no process per file)."""
        wanted = list(dict.fromkeys(shas))
        if not wanted:
            return {}
        data = self.batch("cat-file", "--batch", chunks=[b"".join(sha.encode() + b"\n" for sha in wanted)])
        out: dict[str, bytes] = {}
        pos = 0
        for sha in wanted:
            end = data.index(b"\n", pos)
            header = data[pos:end].split()
            pos = end + 1
            if len(header) < 3 or header[-1] in (b"missing", b"ambiguous"):  # "<name> missing"
                continue
            size = int(header[2])
            out[sha] = data[pos : pos + size]
            pos += size + 1  # the newline after each object
        return out

    def blob_sizes(self, shas: list[str]) -> dict[str, int]:
        """Sizes of many objects through one ``git cat-file --batch-check`` (missing ones absent)."""
        wanted = list(dict.fromkeys(shas))
        if not wanted:
            return {}
        data = self.batch("cat-file", "--batch-check", chunks=[b"".join(sha.encode() + b"\n" for sha in wanted)])
        out = {}
        for line in data.splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[2].isdigit():
                out[fields[0].decode()] = int(fields[2])
        return out

    def read_trees(self, names: list[str]) -> dict[str, list[TreeItem]]:
        """The entries of many trees (object IDs or ``<tree>:<path>`` names) through one
        ``git cat-file --batch``: no recursive listing, only the trees asked for (missing ones absent)."""
        return {name: parse_tree(data, self._oid_bytes) for name, data in self.read_blobs(names).items()}

    @cached_property
    def _oid_bytes(self) -> int:
        """20 (SHA-1) or 32 (``extensions.objectFormat = sha256``), read from the repository's own
        config file in process (the setting lives only there)."""
        reader = self.repo.config_reader("repository")
        found = str(reader.get_value("extensions", "objectformat", "sha1")).lower()
        return 32 if found == "sha256" else 20

    @property
    def zero_oid(self) -> str:
        """The all-zero object ID of this repository's hash (``update-index`` removals, ``update-ref`` creations)."""
        return "0" * (2 * self._oid_bytes)

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
