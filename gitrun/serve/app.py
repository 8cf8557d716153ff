"""The scoring server's ASGI application (Starlette): MLflow's routes, plus ``/metadata``.

- ``GET /ping``, ``GET /health``: 200, body ``"\\n"`` (MLflow's); ``/health`` says ``degraded`` in a
  JSON body when a newer version failed to load and the old one still answers.
- ``GET /version``: gitrun's version.
- ``GET /metadata``: what is served (:meth:`~gitrun.serve.served.ServedModel.metadata`).
- ``POST /invocations``: :func:`gitrun.serve.scoring.answer`, in a worker thread, under a deadline
  (``--timeout``: 504, and the server goes on; the thread finishes on its own), after the body was
  read within ``--max-body`` (413, refused from ``Content-Length`` before reading anything).

Every response of ``/invocations`` and ``/metadata`` names the version that answered in
``X-Gitrun-Model-Version``. Unknown routes and methods answer as FastAPI (MLflow's server) does:
``{"detail": "Not Found"}``, ``{"detail": "Method Not Allowed"}``; an error of the server itself is
a 500 in MLflow's error shape, never a traceback unless ``--debug``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from gitrun._version import __version__
from gitrun.formatting import format_size
from gitrun.serve.scoring import JSON_TYPE, TIMEOUT_MESSAGE, Answer, answer, error_answer

if TYPE_CHECKING:
    from gitrun.serve.options import ServeOptions
    from gitrun.serve.served import ModelSlot

log = logging.getLogger(__name__)

VERSION_HEADER = "X-Gitrun-Model-Version"
_TIMEOUT: Any = getattr(asyncio, "timeout", None)  # Python 3.11+
PREDICT_THREADS = 8  # a prediction past its deadline keeps its thread until the model returns


class WorkerPool:
    """Daemon threads that run predictions: a prediction that never returns cannot keep the
    process from exiting (``concurrent.futures`` joins its threads at exit)."""

    def __init__(self, size: int = PREDICT_THREADS):
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.AbstractEventLoop, asyncio.Future[Any]]]
        self._jobs = queue.SimpleQueue()
        for i in range(size):
            threading.Thread(target=self._work, name=f"gitrun-serve-predict-{i}", daemon=True).start()

    def run(self, job: Callable[[], Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((job, loop, future))
        return future

    def _work(self) -> None:
        while True:
            job, loop, future = self._jobs.get()
            if future.done():  # timed out before a thread took it
                continue
            try:
                result, error = job(), None
            except BaseException as exc:  # answer() catches the model's errors; this is a bug of ours
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the loop is closed: the server stopped
                pass


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _TooLarge(Exception):
    pass


def _response(result: Answer, version: str, close: bool = False) -> Response:
    headers = {VERSION_HEADER: version}
    if close:
        headers["Connection"] = "close"
    return Response(result.body, status_code=result.status, media_type=result.media_type, headers=headers)


def create_app(slot: ModelSlot, options: ServeOptions, pool: WorkerPool | None = None) -> Starlette:
    """The application serving ``slot``'s model with ``options``' limits."""
    pool = pool or WorkerPool()
    limit = options.max_body

    def too_large(size: int | None) -> Answer:
        got = f"{format_size(size)} " if size is not None else "larger than that "
        return error_answer(
            "REQUEST_LIMIT_EXCEEDED",
            f"The request body is {got}; this server takes at most {format_size(limit)} (--max-body)",
        )

    async def read_body(request: Request) -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def invocations(request: Request) -> Response:
        served = slot.current  # a swap from here on does not touch this request
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _response(too_large(int(declared)), served.version, close=True)
        content_type = request.headers.get("content-type")

        async def respond() -> Answer:
            body = await read_body(request)
            return await pool.run(lambda: answer(served.model, body, content_type, debug=options.debug))

        try:  # the deadline covers reading the body and the prediction
            if _TIMEOUT is not None:
                async with _TIMEOUT(options.timeout):  # no task of its own, unlike wait_for
                    result = await respond()
            else:  # Python 3.10
                result = await asyncio.wait_for(respond(), options.timeout)
        except (TimeoutError, asyncio.TimeoutError):
            log.warning("a request took longer than %s s (--timeout); answered 504", options.timeout)
            message = f"{TIMEOUT_MESSAGE} ({options.timeout:g} s, --timeout)"
            return _response(error_answer("DEADLINE_EXCEEDED", message), served.version, close=True)
        except _TooLarge:
            return _response(too_large(None), served.version, close=True)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening any more
        return _response(result, served.version)

    async def ping(request: Request) -> Response:
        return Response("\n", media_type=JSON_TYPE)

    async def health(request: Request) -> Response:
        problem = slot.health()
        if problem is None:
            return Response("\n", media_type=JSON_TYPE)
        return Response(json.dumps(problem), media_type=JSON_TYPE)

    async def version(request: Request) -> Response:
        return Response(__version__, media_type=JSON_TYPE)

    async def metadata(request: Request) -> Response:
        served = slot.current
        body = {**served.metadata(), "watch": options.watch, "load_error": slot.error}
        return Response(
            json.dumps(body, sort_keys=True), media_type=JSON_TYPE, headers={VERSION_HEADER: served.version}
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return Response(
            json.dumps({"detail": exc.detail}, separators=(",", ":")), status_code=exc.status_code, media_type=JSON_TYPE
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("the server failed on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        trace = traceback.format_exc() if options.debug else None
        result = error_answer("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}", stack_trace=trace)
        return Response(result.body, status_code=500, media_type=JSON_TYPE)

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/metadata", metadata, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
    ]
    return Starlette(
        debug=False,  # Starlette's debug pages show tracebacks: --debug puts them in the JSON instead
        routes=routes,
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
