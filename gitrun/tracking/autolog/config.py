"""Each integration's autolog settings, and the decorator that records them (MLflow's
``autologging_integration``).

Calling an integration's ``autolog(...)`` records every argument it takes (defaults included)
under the integration's name, reverts the patches of its previous call, and, unless
``disable=True``, applies them anew: the last call wins. Patched code reads the settings at each
call (:func:`get_config`), so ``exclusive`` or ``disable`` take effect on the next ``fit``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from gitrun.errors import InvalidInputError
from gitrun.tracking.autolog.patches import revert_patches
from gitrun.tracking.autolog.silence import quiet

F = TypeVar("F", bound=Callable[..., Any])

GLOBALLY_CONFIGURED = "globally_configured"  # set by gitrun.autolog(): an integration's own call overrides it

CONFIGS: dict[str, dict[str, Any]] = {}
LOCK = threading.RLock()  # enabling and disabling; reentrant (gitrun.autolog() calls each integration)
_globally_disabled = False


def integration(name: str) -> Callable[[F], F]:
    """Decorate an integration's ``autolog`` function: it must take ``disable=False`` and
    ``silent=False``; its settings are recorded under ``name`` before it runs, its patches are
    reverted first, and with ``disable=True`` it does not run at all."""

    def decorate(autolog: F) -> F:
        spec = inspect.signature(autolog).parameters
        for required in ("disable", "silent"):
            if required not in spec or spec[required].default is not False:
                raise InvalidInputError(
                    f"the autolog function of integration {name!r} must take {required}=False (docs/plugins.md)"
                )
        defaults = {p.name: p.default for p in spec.values() if p.default is not inspect.Parameter.empty}

        @functools.wraps(autolog)
        def configured(*args: Any, **kwargs: Any) -> Any:
            with LOCK:
                settings = {**defaults, **dict(zip(spec, args, strict=False)), **kwargs}
                CONFIGS[name] = settings
                revert_patches(name)
                if settings.get("disable"):
                    return None
                with quiet(bool(settings.get("silent"))):
                    return autolog(*args, **kwargs)

        configured.integration_name = name  # type: ignore[attr-defined]
        return configured  # type: ignore[return-value]

    return decorate


def get_config(name: str, key: str, default: Any = None) -> Any:
    """The setting ``key`` of integration ``name`` as its last ``autolog`` call left it."""
    settings = CONFIGS.get(name)
    return default if settings is None else settings.get(key, default)


def is_disabled(name: str) -> bool:
    """Whether integration ``name`` is off: never enabled, or last called with ``disable=True``."""
    return bool(get_config(name, "disable", True))


def globally_disabled() -> bool:
    return _globally_disabled


@contextlib.contextmanager
def disable_autologging() -> Iterator[None]:
    """Turn every integration off inside the block (MLflow's ``disable_autologging``); what a
    patched ``cross_val_score`` does around its many fits."""
    global _globally_disabled
    previous = _globally_disabled
    _globally_disabled = True
    try:
        yield
    finally:
        _globally_disabled = previous
