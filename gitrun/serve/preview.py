"""``gitrun site serve``: a local preview on 127.0.0.1 that rebuilds when the store changes.

The store is polled (a walk of its files' sizes and modification times, skipping the local cache),
so it works the same on every file system; each change triggers an incremental build. The files
are served by the standard library's ``http.server`` (a preview needs no ``serve`` extra).
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gitrun.errors import GitrunError
from gitrun.site.build import BuildOptions, BuildResult, build_site
from gitrun.store import ReadStore
from gitrun.store.layout import local_only


def store_signature(store: ReadStore) -> str:
    """A hash of the store's file names, sizes and mtimes (cheap enough to poll every second)."""
    digest = hashlib.sha256()
    root = str(store.root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".cache")
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        for name in sorted(filenames):
            if local_only(name if rel == "." else f"{rel}/{name}"):  # gitrun's locks, heartbeats, temp files
                continue
            try:
                st = os.stat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            digest.update(f"{dirpath}/{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_server(directory: Path, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise GitrunError(
            f"cannot serve on {host}:{port}: {exc.strerror or exc}; choose another port (--port 0 picks a free one)"
        ) from None


def serve(
    store: ReadStore,
    options: BuildOptions,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    interval: float = 1.0,
    on_build: Callable[[BuildResult], None] | None = None,
    on_ready: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Build, serve ``options.output`` over HTTP, and rebuild on every store change until ``stop`` is set."""
    stop = stop or threading.Event()
    server = make_server(Path(options.output), host, port)  # a busy port fails before the build
    try:
        result = build_site(store, options)
    except BaseException:
        server.server_close()
        raise
    if on_build:
        on_build(result)
    signature = store_signature(store)
    thread = threading.Thread(target=server.serve_forever, name="gitrun-site-serve", daemon=True)
    thread.start()
    if on_ready:
        bound_port = server.server_address[1]
        on_ready(f"http://{host}:{bound_port}/index.html")
    try:
        while not stop.wait(interval):
            now = store_signature(store)
            if now != signature:
                signature = now
                result = build_site(store, options)
                if on_build:
                    on_build(result)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
