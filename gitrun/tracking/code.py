"""The code state of a run: the diff of a dirty working tree, captured at ``start_run``.

At ``start_run`` in a dirty work tree, the run keeps ``code.diff`` (tracked changes against its
commit, plus untracked text files), computed once per process and shared by its runs. Files that
may hold secrets are left out, judged by name, by the content the diff adds to them
(:mod:`gitrun.secretscan`) and by the project's ``[tool.gitrun.code_diff]`` lists, with a
:class:`CodeDiffWarning` naming them; a diff over the size cap is skipped. The run says what
happened in its ``gitrun.git.diff`` tag. ``gitrun runs checkout`` (``gitrun.vcs.checkout``)
rebuilds the code in a separate ``git worktree``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gitrun import gitcmd
from gitrun.errors import CodeDiffWarning
from gitrun.formatting import parse_size
from gitrun.tracking.provenance import git_context

DIFF_FILE = "code.diff"
DEFAULT_MAX_BYTES = 1024 * 1024
ENV_MAX_BYTES = "GITRUN_CODE_DIFF_MAX_BYTES"
# Never captured, whatever their size or content: names of files that commonly hold secrets.
SECRET_PATTERNS = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ed25519*",
    "id_ecdsa*",
    ".netrc",
    "_netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    ".my.cnf",
    ".s3cfg",
    ".boto",
    ".dockercfg",
    ".htpasswd",
    "*.tfvars",
    "*.tfvars.json",
    "*.tfstate",
    "*.tfstate.backup",
    "credentials",
    "credentials.*",
    "*secret*",
    ".git-credentials",
)


@dataclass(frozen=True)
class CodeState:
    commit: str
    diff: bytes | None  # None: clean tree, or skipped (see note)
    note: str  # value of the gitrun.git.diff tag


def _is_secret(path: str) -> bool:
    return _matches(path.lower(), SECRET_PATTERNS)  # .ENV and ID_RSA too


def _matches(path: str, patterns: Sequence[str]) -> bool:
    """A pattern with a ``/`` matches the repo-relative path (``*`` crosses folders); one without, the file name."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path if "/" in pattern else name, pattern) for pattern in patterns)


def max_bytes() -> int:
    raw = os.environ.get(ENV_MAX_BYTES)
    if raw:
        return parse_size(raw)
    return DEFAULT_MAX_BYTES


# Whatever the user's diff.* configuration (noprefix, mnemonicPrefix, external tools, colour): a
# patch `git apply` takes back, with file headers this module can read.
_DIFF_OPTIONS = ("--binary", "--no-color", "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/")


class _Rules:
    """Which files ``code.diff`` may hold: the project's ``[tool.gitrun.code_diff]`` lists, then gitrun's checks.

    (A plain class, not a dataclass: this module is imported by every ``start_run``.)"""

    def __init__(self, include: Sequence[str] = (), exclude: Sequence[str] = ()):
        self.include = tuple(include)
        self.exclude = tuple(exclude)

    def by_name(self, path: str) -> str | None:
        """Why ``path`` stays out whatever its content (None: its content decides, or it is opted in)."""
        if _matches(path, self.exclude):
            return "[tool.gitrun.code_diff] exclude"
        if self.opted_in(path):
            return None
        return "file name" if _is_secret(path) else None

    def opted_in(self, path: str) -> bool:
        return _matches(path, self.include) and not _matches(path, self.exclude)

    def by_content(self, path: str, patch: bytes) -> str | None:
        """The kind of secret the lines ``patch`` adds to ``path`` hold (None for opted-in files)."""
        if self.opted_in(path):
            return None
        from gitrun.tracking.secretscan import find_secret  # only in a dirty tree

        return find_secret(_added_lines(patch))


def _rules(root: Path) -> _Rules:
    if not (root / "pyproject.toml").exists():
        return _Rules()  # no settings to read: spare start_run the import of gitrun.settings
    from gitrun.settings import load_project_settings

    settings = load_project_settings(root)
    return _Rules(settings.code_diff_include, settings.code_diff_exclude)


def _added_lines(patch: bytes) -> bytes:
    """The lines a one-file patch adds (binary patches add no text to scan)."""
    start = patch.find(b"\n@@")
    if start == -1:
        return b""
    return b"\n".join(line[1:] for line in patch[start + 1 :].split(b"\n") if line.startswith(b"+"))


_SECTION_START = re.compile(rb"^(?=diff --git )", re.M)
_NEW_PATH = re.compile(rb"^\+\+\+ (.*)$", re.M)
_C_ESCAPES = dict(zip(b'abtnvfr"\\', b'\a\b\t\n\v\f\r"\\', strict=True))  # Git's quoting of unusual path characters


def _sections(patch: bytes) -> list[tuple[str | None, bytes]]:
    """A multi-file ``git diff`` as ``(new path, section)`` pairs (path None: no text added, e.g. a deletion)."""
    out: list[tuple[str | None, bytes]] = []
    for section in _SECTION_START.split(patch):
        if not section:
            continue
        hunks = section.find(b"\n@@")
        match = _NEW_PATH.search(section, 0, hunks if hunks != -1 else len(section))
        path = None
        if match and match.group(1) != b"/dev/null":
            raw = _c_unquote(match.group(1).removesuffix(b"\t"))  # git adds a TAB after names with spaces
            path = raw.removeprefix(b"b/").decode("utf-8", "surrogateescape")
        out.append((path, section))
    return out


def _c_unquote(raw: bytes) -> bytes:
    """A path as Git quotes unusual names: ``"b/tab\\there \\303\\251"`` (C escapes, octal bytes)."""
    if len(raw) < 2 or not raw.startswith(b'"') or not raw.endswith(b'"'):
        return raw
    out = bytearray()
    body, i = raw[1:-1], 0
    while i < len(body):
        if body[i] == 0x5C and i + 1 < len(body):
            if body[i + 1] in _C_ESCAPES:
                out.append(_C_ESCAPES[body[i + 1]])
                i += 2
                continue
            if body[i + 1 : i + 4].isdigit():
                out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
                i += 4
                continue
        out.append(body[i])
        i += 1
    return bytes(out)


@lru_cache(maxsize=8)
def code_state(directory: str) -> CodeState | None:
    """The diff of the repository around ``directory`` against its commit, untracked files included
    (once per process); None when there is nothing beyond the commit.

    Files that may hold secrets are left out, with a :class:`CodeDiffWarning` naming them: by name
    (:data:`SECRET_PATTERNS`), by the content the diff adds (:mod:`gitrun.secretscan`), or as the
    project's ``[tool.gitrun.code_diff]`` lists say.
    """
    ctx = git_context(directory)
    if ctx is None or not (ctx.dirty or ctx.untracked) or ctx.commit is None:
        return None
    root = Path(ctx.root)
    rules = _rules(root)
    tracked = gitcmd.run(root, "diff", "--name-only", "-z", "HEAD", "--", ".", ":(exclude).gitrun").stdout.split("\0")
    untracked = gitcmd.run(
        root, "ls-files", "-z", "--others", "--exclude-standard", "--", ".", ":(exclude).gitrun"
    ).stdout.split("\0")
    excluded: dict[str, str] = {}  # path -> why
    for path in tracked + untracked:
        reason = rules.by_name(path) if path else None
        if reason:
            excluded[path] = reason
    specs = [f":(exclude,literal){p}" for p in excluded]
    patch = gitcmd.run(root, "diff", *_DIFF_OPTIONS, "HEAD", "--", ".", ":(exclude).gitrun", *specs, text=False).stdout
    kept = []
    for path, section in _sections(patch):
        reason = rules.by_content(path, section) if path is not None else None
        if reason and path is not None:
            excluded[path] = reason
        else:
            kept.append(section)
    patch = b"".join(kept)
    limit = max_bytes()
    for path in untracked:
        if not path or path in excluded or len(patch) > limit:
            continue
        # `git diff --no-index` exits 1 when files differ: that is the normal case here.
        proc = gitcmd.run(root, "diff", *_DIFF_OPTIONS, "--no-index", "--", "/dev/null", path, text=False, check=False)
        reason = rules.by_content(path, proc.stdout)
        if reason:
            excluded[path] = reason
        else:
            patch += proc.stdout
    if len(patch) > limit:
        return CodeState(
            ctx.commit, None, f"skipped: diff is {len(patch)} bytes, over the {limit}-byte cap ({ENV_MAX_BYTES})"
        )
    if excluded:
        listing = ", ".join(f"{path} ({why})" for path, why in sorted(excluded.items()))
        warnings.warn(
            f"gitrun: left out of the run's code.diff, as they may hold secrets: {listing}. A file wrongly taken for "
            "one: list it in [tool.gitrun.code_diff] include = [...] in pyproject.toml (docs/format.md)",
            CodeDiffWarning,
            stacklevel=3,
        )
    note = DIFF_FILE + (f" (excluded secrets: {', '.join(sorted(excluded))})" if excluded else "")
    return CodeState(ctx.commit, patch, note)
