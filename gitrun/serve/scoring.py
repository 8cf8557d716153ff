"""One scoring request in, one answer out: MLflow's status codes and error bodies.

The body is parsed, predicted on and encoded by :func:`gitrun.models.payload.predict_text`, the code
path of ``gitrun models predict``. What can go wrong answers as MLflow's scoring server does:

| what | status | body |
|---|---|---|
| not JSON, not UTF-8, wrong or several format keys, a table pandas cannot make | 400 | ``BAD_REQUEST`` |
| the input does not fit the model's signature | 400 | ``INVALID_PARAMETER_VALUE``, ``SCHEMA_ENFORCEMENT_FAILED`` |
| a content type or charset the protocol does not take | 415 | text/plain |
| a body over ``--max-body`` | 413 | ``REQUEST_LIMIT_EXCEEDED`` |
| over ``--timeout`` | 504 | ``DEADLINE_EXCEEDED``, "Request processing time exceeded limit" |
| the model raises | 500 | ``INTERNAL_ERROR``, ``PREDICTION_FUNCTION_FAILED``; the traceback only with ``--debug`` |

Error bodies are ``{"error_code", "message", "sqlstate", "error_class"}`` (MLflow's keys and
classification codes), plus ``"stack_trace"`` with ``--debug``.
"""

from __future__ import annotations

import json
import logging
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitrun.errors import GitrunError, UnsupportedContentTypeError

if TYPE_CHECKING:
    from gitrun.models.loading import PyFuncModel

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"

# error_code -> (HTTP status, MLflow's sqlstate, MLflow's error_class), as mlflow.exceptions maps them
ERROR_CODES = {
    "BAD_REQUEST": (400, "KAM00", "INVALID_PARAMETER_VALUE"),
    "INVALID_PARAMETER_VALUE": (400, "KAM00", "INVALID_PARAMETER_VALUE"),
    "RESOURCE_DOES_NOT_EXIST": (404, "KAM00", "RESOURCE_NOT_FOUND"),
    "REQUEST_LIMIT_EXCEEDED": (413, "KAMC3", "CP_REQUEST_RATE_LIMITED"),
    "INTERNAL_ERROR": (500, "XXM00", "CLIENT_INTERNAL_ERROR"),
    "DEADLINE_EXCEEDED": (504, "XXM00", "CLIENT_INTERNAL_ERROR"),
}
ERROR_CLASS_SQLSTATES = {"SCHEMA_ENFORCEMENT_FAILED": "KAM01", "PREDICTION_FUNCTION_FAILED": "KAM02"}
TIMEOUT_MESSAGE = "Request processing time exceeded limit"  # MLflow's words


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    media_type: str = JSON_TYPE


def error_answer(code: str, message: str, *, error_class: str | None = None, stack_trace: str | None = None) -> Answer:
    """An error in MLflow's JSON shape, its HTTP status taken from ``code``."""
    status, sqlstate, default_class = ERROR_CODES[code]
    error_class = error_class or default_class
    body = {
        "error_code": code,
        "message": message,
        "sqlstate": ERROR_CLASS_SQLSTATES.get(error_class, sqlstate),
        "error_class": error_class,
    }
    if stack_trace is not None:
        body["stack_trace"] = stack_trace
    return Answer(status, json.dumps(body).encode("utf-8"))


def answer(model: PyFuncModel, body: bytes, content_type: str | None, *, debug: bool = False) -> Answer:
    """What ``POST /invocations`` answers for ``body`` (runs in a worker thread: it may be slow)."""
    from gitrun.models.payload import predict_text

    try:
        return Answer(200, predict_text(model, body, content_type).encode("utf-8"))
    except UnsupportedContentTypeError as exc:
        return Answer(415, str(exc).encode("utf-8"), TEXT_TYPE)
    except GitrunError as exc:
        code = getattr(exc, "error_code", None)
        if code in ERROR_CODES:
            return error_answer(
                code,
                str(exc),
                error_class=getattr(exc, "error_class", None),
                stack_trace=traceback.format_exc() if debug else None,
            )
        return _model_failed(exc, debug)
    except Exception as exc:
        return _model_failed(exc, debug)


def _model_failed(exc: BaseException, debug: bool) -> Answer:
    log.warning("the model raised %s: %s", type(exc).__name__, exc, exc_info=debug)
    return error_answer(
        "INTERNAL_ERROR",
        f"The model raised an error while predicting: {type(exc).__name__}: {exc}",
        error_class="PREDICTION_FUNCTION_FAILED",
        stack_trace=traceback.format_exc() if debug else None,
    )
