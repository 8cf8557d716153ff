"""``safe_patch``: autolog's code around a framework's function, which never breaks that function
(MLflow's ``safe_patch``).

The patch function gets the original function as its first argument and decides when to call
it. An exception of the original (the user's bad input) reaches the caller unchanged; an exception
of autolog's own code is a warning, and the caller still gets the original's result (the original
is called then if the patch failed before calling it). With ``manage_run=True`` a call made while
no run is active runs inside a run autolog starts, tagged ``mlflow.autologging`` with the
integration's name, and ends FINISHED, FAILED on an exception (KILLED on Ctrl-C).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from gitrun import tags
from gitrun.entities import RunStatus
from gitrun.errors import InvalidInputError
from gitrun.tracking import fluent
from gitrun.tracking.autolog.config import get_config, globally_disabled, is_disabled
from gitrun.tracking.autolog.patches import apply_patch, original_attribute
from gitrun.tracking.autolog.sessions import FAILED, SUCCEEDED, active_session, autolog_session, training_active
from gitrun.tracking.autolog.silence import quiet, speaking

log = logging.getLogger(__name__)

PatchFunction = Callable[..., Any]  # (original, *args, **kwargs) -> anything (ignored)


def run_tags(integration: str, extra_tags: Mapping[str, Any] | None) -> dict[str, str]:
    """The tags of a run autolog starts: ``mlflow.autologging`` and the user's ``extra_tags``."""
    out = {tags.AUTOLOGGING: integration}
    if extra_tags is None:
        return out
    if not isinstance(extra_tags, Mapping):
        raise InvalidInputError(f"extra_tags must be a dict of tags, got {type(extra_tags).__name__}")
    for key, value in extra_tags.items():
        if key == tags.AUTOLOGGING:
            log.warning("Tag `%s` is ignored as it is a reserved tag by autologging.", key)
            continue
        out[str(key)] = str(value)
    return out


def with_managed_run(integration: str, patch_function: PatchFunction, run_tags: Mapping[str, str]) -> PatchFunction:
    """``patch_function`` inside a run of its own when no run is active (and no ``fit`` of a worker
    thread's parent is in progress)."""

    def managed(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        run = None
        if fluent.active_run() is None and not training_active():
            run = fluent.start_run(tags=run_tags)
            log.info(
                "Created autolog run %s, which tracks the params, metrics and model of this %s fit",
                run.info.run_id,
                integration,
            )
        try:
            result = patch_function(original, *args, **kwargs)
        except KeyboardInterrupt:
            if run is not None:
                run.finish(RunStatus.KILLED)
            raise
        except Exception:
            if run is not None:
                run.finish(RunStatus.FAILED)
            raise
        if run is not None:
            run.finish(RunStatus.FINISHED)
        return result

    return managed


def _wraps(wrapper: Callable[..., Any], wrapped: Callable[..., Any]) -> Callable[..., Any]:
    """``wrapper`` with ``wrapped``'s name, docstring and signature (patch code inspects them)."""
    functools.update_wrapper(wrapper, wrapped)
    try:
        wrapper.__signature__ = inspect.signature(wrapped)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        pass
    return wrapper


def safe_patch(
    integration: str,
    destination: Any,
    name: str,
    patch_function: PatchFunction,
    *,
    manage_run: bool = False,
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Replace ``destination.name`` by ``patch_function`` around the original, safely (see the module)."""
    if manage_run:
        patch_function = with_managed_run(integration, patch_function, run_tags(integration, extra_tags))
    found = original_attribute(destination, name)
    raw = original_attribute(destination, name, raw=True)
    if isinstance(raw, property):

        def original(self: Any, *args: Any, **kwargs: Any) -> Any:
            return raw.fget(self)(*args, **kwargs)  # type: ignore[misc]

        target: Callable[..., Any] = raw.fget  # type: ignore[assignment]
    elif found is raw:
        original = target = found
    else:
        raise InvalidInputError(
            f"autolog cannot patch {destination!r}.{name}: it is a descriptor ({type(raw).__name__})"
        )

    def safe(*args: Any, **kwargs: Any) -> Any:
        with quiet(bool(get_config(integration, "silent", False))):
            session = active_session()
            user_run = fluent.active_run() is not None and session is None
            if (
                (session is not None and session.state == FAILED)
                or is_disabled(integration)
                or (user_run and get_config(integration, "exclusive", False))
                or globally_disabled()
            ):
                with speaking():
                    return original(*args, **kwargs)
            called, failed_in_original, result, error = False, False, None, None
            with autolog_session(integration) as session:

                def call_original(*og_args: Any, **og_kwargs: Any) -> Any:
                    nonlocal called, failed_in_original, result
                    called = True
                    try:
                        with speaking():
                            result = original(*og_args, **og_kwargs)
                    except Exception:
                        failed_in_original = True
                        raise
                    return result

                try:
                    patch_function(_wraps(call_original, original), *args, **kwargs)
                    session.state = SUCCEEDED
                except Exception as exc:
                    session.state = FAILED
                    if failed_in_original:
                        raise
                    error = exc
                try:
                    if called:
                        return result
                    with speaking():
                        return original(*args, **kwargs)
                finally:
                    if error is not None:
                        log.warning("Encountered unexpected error during %s autologging: %s", integration, error)

    if isinstance(raw, property):

        def bound(self: Any) -> Any:
            raw.fget(self)  # type: ignore[misc]  # raises AttributeError when the method is unavailable

            def call(*args: Any, **kwargs: Any) -> Any:
                return safe(self, *args, **kwargs)

            return _wraps(call, target)

        apply_patch(integration, destination, name, property(_wraps(bound, target)), raw)
    else:
        apply_patch(integration, destination, name, _wraps(safe, target), raw)
