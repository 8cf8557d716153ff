"""Running the scoring server: the listening socket, uvicorn, pre-forked workers, signals.

:func:`serve` loads the model *before* it listens (as MLflow does), binds the socket itself (so
``--port 0`` picks a free port and every worker shares one socket), then runs uvicorn in this
process, or with ``--workers N`` in N processes forked after the model was loaded (their memory
shares it; each worker follows ``--watch`` on its own). SIGTERM (and Ctrl+C) stop accepting,
let the requests in flight finish (each is bounded by ``--timeout``) and exit 0.

uvicorn waits for a request's headers forever; :func:`guarded` adds a deadline (a slowloris that
trickles its headers is closed), and the body is read under ``--timeout`` by the app.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from gitrun.errors import ServeError
from gitrun.extras import require
from gitrun.serve.options import ServeOptions

if TYPE_CHECKING:
    import asyncio

    from gitrun.serve.served import ServedModel
    from gitrun.store import ReadStore

log = logging.getLogger(__name__)

HEADER_TIMEOUT = 10.0  # seconds a client has to send a request's headers (capped by --timeout)
MAX_CONNECTIONS = 512  # per worker; past it uvicorn answers 503 (memory stays bounded)
RESTART_DELAY = 1.0  # seconds before a worker that died is started again


def guarded(base: type[asyncio.Protocol], header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol ``base`` with a deadline for each request's headers."""

    class Guarded(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._waiting_since = self.loop.time()
            self._header_timer = self.loop.call_later(header_timeout, self._check_headers)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._waiting_since = self.loop.time()  # the next request's headers are due from now

        def _check_headers(self) -> None:
            if self.transport.is_closing():
                return
            busy = self.cycle is not None and not self.cycle.response_complete
            late = self.loop.time() - self._waiting_since >= header_timeout
            if not busy and late:
                self.transport.close()
                return
            self._header_timer = self.loop.call_later(header_timeout / 2, self._check_headers)

        def connection_lost(self, exc: Exception | None) -> None:
            self._header_timer.cancel()
            super().connection_lost(exc)

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded


def bind(host: str, port: int) -> socket.socket:
    """The listening socket on ``host:port`` (``port`` 0: a free one), or a :class:`ServeError`."""
    try:
        # proto=IPPROTO_TCP, as asyncio's own sockets: asyncio sets TCP_NODELAY only on those, and
        # without it the body of a response waits for the client's delayed ACK (40 ms).
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        hint = " (is another server on it? pick another with --port, or --port 0 for a free one)"
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint if port else ''}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class StopRequest:
    """SIGTERM or SIGINT, remembered from before uvicorn handles them itself (the server is announced
    first): the server stops as soon as it runs. uvicorn re-raises the signal once it drained; this
    handler takes it, so the process exits 0."""

    def __init__(self) -> None:
        self.requested = False
        self.server: Any = None  # the uvicorn.Server once there is one

    def __call__(self, sig: int, frame: Any) -> None:
        self.requested = True
        if self.server is not None:
            self.server.should_exit = True


@contextlib.contextmanager
def handling(handler: Callable[[int, Any], None]) -> Iterator[None]:
    """``handler`` handles SIGTERM and SIGINT in the block."""
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_worker(
    sock: socket.socket, served: ServedModel, options: ServeOptions, store: ReadStore, stop: StopRequest
) -> None:
    """Serve on ``sock`` in this process until SIGTERM or SIGINT (``stop``), then drain and return."""
    import uvicorn
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    from gitrun.serve.app import create_app
    from gitrun.serve.served import ModelSlot

    slot = ModelSlot(served)
    follower = None
    if options.watch:
        from gitrun.serve.follow import Follower
        from gitrun.vcs.git import GitRepo

        follower = Follower(slot, options, store, GitRepo.find(store.root))
        follower.start()
    config = uvicorn.Config(
        create_app(slot, options),
        http=guarded(AutoHTTPProtocol, min(HEADER_TIMEOUT, options.timeout)),
        lifespan="off",
        log_config=None,
        log_level="info" if options.debug else "warning",
        access_log=options.debug,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=int(options.timeout) + 5,
    )
    stop.server = server = uvicorn.Server(config)
    server.should_exit = stop.requested
    server.run(sockets=[sock])
    if follower is not None:
        follower.stop()


def run_forked(
    sock: socket.socket, served: ServedModel, options: ServeOptions, store: ReadStore, stop: StopRequest
) -> None:
    """``options.workers`` processes forked from this one (the model loaded once), restarted if one dies;
    SIGTERM or SIGINT stops them all, each draining its requests."""
    children: dict[int, int] = {}
    stopping = False

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                own = StopRequest()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, own)
                run_worker(sock, served, options, store, own)
                code = 0
            except BaseException as exc:
                log.error("worker %d failed: %s: %s", os.getpid(), type(exc).__name__, exc)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = index

    parent = os.getpid()

    def stop_all(sig: int, frame: Any) -> None:
        nonlocal stopping
        if os.getpid() != parent:  # a worker stopped before it set its own handler: it serves nothing yet
            os._exit(0)
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    stopping = stop.requested
    with handling(stop_all):
        for index in range(options.workers):
            if not stopping:
                spawn(index)
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            index = children.pop(pid, -1)
            if not stopping and index >= 0:
                log.error("worker %d exited (status %d); starting another", pid, os.waitstatus_to_exitcode(status))
                time.sleep(RESTART_DELAY)
                if not stopping:
                    spawn(index)


def serve(
    options: ServeOptions,
    store: ReadStore,
    *,
    on_ready: Callable[[str, ServedModel], None] | None = None,
    argv: list[str] | None = None,
) -> None:
    """Load ``options.uri`` and serve it until SIGTERM/SIGINT (then drain, and return).

    With ``--env-manager venv`` this process is replaced by ``gitrun serve`` running in the model's
    own environment (``argv``: the command's arguments, passed on)."""
    from gitrun.serve.served import load

    if options.venv:
        from gitrun.serve.venv import exec_in_env

        exec_in_env(options, store, argv or sys.argv[1:])
    require("serve", feature="gitrun serve")
    if options.exposed:
        log.warning(
            "listening on %s: anyone who can reach this machine can call the model; gitrun serve has no "
            "authentication (put it behind a proxy that has, or keep the default 127.0.0.1)",
            options.host,
        )
    if options.workers > 1 and not hasattr(os, "fork"):
        raise ServeError("--workers above 1 needs os.fork (Linux, macOS); run one worker per process instead")
    served = load(options, store)
    sock = bind(options.host, options.port)
    stop = StopRequest()
    try:
        with handling(stop):
            if on_ready is not None:
                on_ready(url_of(sock), served)
            if options.workers == 1:
                run_worker(sock, served, options, store, stop)
            else:
                run_forked(sock, served, options, store, stop)
    finally:
        sock.close()
