"""``--watch``: follow what a URI names as the repository's refs change (promotions are Git tags).

A :class:`Follower` thread looks at the repository's refs every ``--watch-interval`` seconds (the
sizes and times of ``packed-refs`` and of the files under ``refs/`` and ``reftable/`` in Git's common
directory: a stat per ref, no subprocess), and with ``--fetch`` runs ``git fetch --tags`` every
``--fetch-interval`` seconds first. When they changed, it asks :func:`~gitrun.serve.served.resolve_now`
again; a new identity is loaded beside the model being served and swapped in once loaded
(:class:`~gitrun.serve.served.ModelSlot`). A version that fails to resolve or load leaves the old
one serving; the error goes to the log and ``/health``, and is not retried until the refs change
again. A URI that names a fixed model (``runs:/``, a folder) resolves to the same identity every
time, so nothing is reloaded.

A promotion is a new tag (GTO's ``NAME#STAGE#N``), so a plain ``git fetch --tags`` brings it; a tag
moved on the remote is not forced over the local one (gitrun never rewrites refs it does not own).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from gitrun.errors import GitrunError

if TYPE_CHECKING:
    from gitrun.serve.options import ServeOptions
    from gitrun.serve.served import ModelSlot
    from gitrun.store import ReadStore
    from gitrun.vcs.git import GitRepo

log = logging.getLogger(__name__)


def refs_signature(common_dir: Path) -> str:
    """A hash of the names, sizes and modification times of every ref file (cheap to poll)."""
    digest = hashlib.sha256()
    for top in ("packed-refs", "refs", "reftable"):
        path = common_dir / top
        if path.is_file():
            _add(digest, path)
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for name in sorted(filenames):
                _add(digest, Path(dirpath, name))
    return digest.hexdigest()


def _add(digest: hashlib._Hash, path: Path) -> None:
    try:
        st = path.stat()
    except OSError:
        return
    digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))


class Follower(threading.Thread):
    """Re-resolves ``options.uri`` when the refs change and swaps the new version into ``slot``."""

    def __init__(self, slot: ModelSlot, options: ServeOptions, store: ReadStore, repo: GitRepo):
        super().__init__(name="gitrun-serve-watch", daemon=True)
        self.slot = slot
        self.options = options
        self.store = store
        self.repo = repo
        self.common_dir = Path(str(repo.run("rev-parse", "--path-format=absolute", "--git-common-dir")).strip())
        self.stopped = threading.Event()
        self.checks = 0  # how many times the URI was resolved again (for the tests and the log)
        self._signature = refs_signature(self.common_dir)
        self._next_fetch = time.monotonic()

    def stop(self) -> None:
        self.stopped.set()

    def run(self) -> None:
        while not self.stopped.wait(self.options.watch_interval):
            try:
                self.tick()
            except Exception as exc:  # the thread must outlive anything a resolver or a fetch does
                log.error("--watch: %s: %s", type(exc).__name__, exc)

    def tick(self) -> None:
        """One look: fetch if due, and follow the URI if the refs changed."""
        if self.options.fetch and time.monotonic() >= self._next_fetch:
            self._next_fetch = time.monotonic() + self.options.fetch_interval
            self.fetch()
        signature = refs_signature(self.common_dir)
        if signature != self._signature:
            self._signature = signature
            self.check()

    def fetch(self) -> None:
        out = self.repo.run("fetch", "--tags", "--quiet", check=False)
        if out.returncode != 0:
            tail = " ".join(str(out.stderr).strip().splitlines()[-2:])
            log.warning("--fetch: git fetch --tags failed (exit status %s): %s", out.returncode, tail)

    def check(self) -> None:
        """Resolve the URI now; load and swap in a version other than the one served."""
        from gitrun.serve.served import load, resolve_now

        self.checks += 1
        current = self.slot.current
        try:
            resolved = resolve_now(self.options, self.store)
        except GitrunError as exc:
            self._failed("?", f"{self.options.uri} no longer resolves: {exc}")
            return
        if resolved.identity == current.resolved.identity:
            if self.slot.error is not None:
                self.slot.swap(current)  # back where it was: nothing is wrong any more
            return
        if resolved.identity == self.slot.failed_identity:
            return
        log.info("%s now names %s; loading it beside %s", self.options.uri, resolved.identity, current.version)
        started = time.monotonic()
        try:
            new = load(self.options, self.store, resolved)
        except Exception as exc:
            self._failed(resolved.identity, f"{resolved.identity} failed to load: {type(exc).__name__}: {exc}")
            return
        self.slot.swap(new)
        log.warning(
            "%s: now serving %s (was %s), loaded in %.2f s",
            self.options.uri,
            new.version,
            current.version,
            time.monotonic() - started,
        )

    def _failed(self, identity: str, message: str) -> None:
        log.error("--watch: %s; still serving %s", message, self.slot.current.version)
        self.slot.fail(identity, message)
