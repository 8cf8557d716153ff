"""MLflow's GenAI tracing (``mlflow.trace``, ``start_span``...): not supported, with a clear error.

Each name MLflow's fluent API has for traces exists here, so a script fails where it first
uses tracing (``@mlflow.trace`` fails when the decorated function is defined) with a
:class:`~gitrun.errors.NotSupportedError` saying so, instead of an ``AttributeError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from gitrun.errors import NotSupportedError

NAMES = (
    "add_trace",
    "delete_trace_tag",
    "flush_trace_async_logging",
    "get_active_trace_id",
    "get_current_active_span",
    "get_last_active_trace_id",
    "get_trace",
    "log_trace",
    "search_traces",
    "set_trace_tag",
    "start_span",
    "start_span_no_context",
    "trace",
    "update_current_trace",
)


def unsupported(name: str) -> Callable[..., NoReturn]:
    def call(*args: Any, **kwargs: Any) -> NoReturn:
        raise NotSupportedError(
            f"mlflow.{name}: GenAI tracing is not supported by gitrun, which tracks training runs in Git; "
            "remove the tracing calls, or run this script with MLflow for its traces"
        )

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"MLflow's ``{name}``: raises NotSupportedError (GenAI tracing is not supported)."
    return call


# One function per name, made from NAMES (gitrun's lazy attributes resolve them here).
globals().update({name: unsupported(name) for name in NAMES})
