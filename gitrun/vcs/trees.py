"""Editing a commit's tree without an index of the whole repository.

``gitrun commit`` changes a few thousand files under ``.gitrun/`` of a repository that may list
millions. Every Git command that reads an index pays for all of its entries (1.4 million at
100,000 runs: about 200 MB read and written per command), so the commit stages its paths in an
index holding only them, and :class:`TreeEdit` puts the tree that index writes into HEAD's tree:
only the directories on the way from the root to the committed paths are listed and rewritten
(``git mktree``), so what a commit costs follows what it commits, not the size of the store.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from gitrun.vcs.git import GitRepo

DIRECTORY_MODE = b"040000"


def outermost(paths: Iterable[str]) -> list[str]:
    """``paths`` (repo-relative, ``/``-separated) without duplicates and without those inside another."""
    wanted = {p.strip("/") or "." for p in paths}
    if "." in wanted:
        return ["."]
    kept = []
    for path in sorted(wanted):
        parent = path
        while "/" in parent:
            parent = parent.rpartition("/")[0]
            if parent in wanted:
                break
        else:
            kept.append(path)
    return kept


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _encode(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


class TreeEdit:
    """HEAD's tree (``head``: a commit, or None on an unborn branch) with ``paths`` replaced.

    :meth:`head_files` lists what HEAD has under ``paths`` (to seed the small index), and
    :meth:`apply` returns HEAD's tree with each path as a tree written from that index has it
    (removed where that tree lacks it). Directory listings are read once each (``ls-tree
    <tree>:<dir>``), never whole-tree listings.
    """

    def __init__(self, repo: GitRepo, head: str | None, paths: Sequence[str]):
        self.repo = repo
        self.head = head
        self.paths = outermost(paths)
        self._listings: dict[tuple[str, str], dict[str, bytes]] = {}

    def listing(self, treeish: str | None, directory: str) -> dict[str, bytes]:
        """name -> ``ls-tree -z`` entry of ``directory`` (``""``: the root) in ``treeish``; empty
        when there is no such directory."""
        if treeish is None:
            return {}
        key = (treeish, directory)
        if key not in self._listings:
            spec = f"{treeish}:{directory}" if directory else f"{treeish}^{{tree}}"
            proc = self.repo.run("ls-tree", "-z", spec, check=False, text=False)
            entries: dict[str, bytes] = {}
            if proc.returncode == 0:
                for entry in proc.stdout.split(b"\0"):
                    if entry:
                        entries[_decode(entry.partition(b"\t")[2])] = entry
            self._listings[key] = entries
        return self._listings[key]

    def in_head(self, path: str) -> bytes | None:
        """HEAD's ``ls-tree`` entry of ``path``, or None."""
        directory, _, name = path.rpartition("/")
        return self.listing(self.head, directory).get(name)

    def head_files(self) -> list[bytes]:
        """``ls-tree -r`` entries (``mode type sha<TAB>path``) of HEAD's files under ``paths``."""
        if self.head is None:
            return []
        present = ["."] if self.paths == ["."] else [p for p in self.paths if self.in_head(p) is not None]
        files: list[bytes] = []
        for i in range(0, len(present), 500):
            out = self.repo.run(
                "ls-tree", "-r", "-z", "--full-tree", self.head, "--", *present[i : i + 500], text=False
            )
            files += [entry for entry in out.split(b"\0") if entry]
        return files

    def apply(self, staged: str) -> str:
        """HEAD's tree with every one of ``paths`` as ``staged`` (a tree holding only them) has it."""
        if self.paths == ["."]:
            return staged
        committed: dict[str, set[str]] = {}  # directory -> names of committed paths in it
        on_the_way: dict[str, set[str]] = {}  # directory -> names of its subdirectories holding some
        for path in self.paths:
            directory, _, name = path.rpartition("/")
            committed.setdefault(directory, set()).add(name)
            while directory:
                parent, _, name = directory.rpartition("/")
                on_the_way.setdefault(parent, set()).add(name)
                directory = parent

        def build(directory: str) -> str | None:
            entries = dict(self.listing(self.head, directory))
            new = self.listing(staged, directory)
            for name in committed.get(directory, ()):
                if name in new:
                    entries[name] = new[name]
                else:
                    entries.pop(name, None)
            for name in on_the_way.get(directory, ()):
                tree = build(f"{directory}/{name}" if directory else name)
                if tree is None:
                    entries.pop(name, None)  # Git keeps no empty directory
                else:
                    entries[name] = b"%s tree %s\t%s" % (DIRECTORY_MODE, tree.encode(), _encode(name))
            if not entries:
                return None
            made = self.repo.run("mktree", "-z", input=b"\0".join(entries.values()) + b"\0", text=False)
            return made.decode().strip()

        return build("") or self.repo.run("hash-object", "-w", "-t", "tree", os.devnull).strip()
