"""The optional extras of ``gitrun-ml`` (pyproject.toml), and the one check a feature makes on entry.

A feature that needs an extra calls :func:`require` before it starts work, so a missing package
is one line naming the extra to install (``gitrun site build needs altair, which is not
installed (no module 'altair'): pip install 'gitrun-ml[site]'``), not a ``ModuleNotFoundError``
from deep inside. The CLI maps a ``ModuleNotFoundError`` of any module listed here the same way
(:func:`missing_extra`), for an import no ``require`` guarded. tests/test_extras.py checks this
table against pyproject.toml.
"""

from __future__ import annotations

import importlib.util

from gitrun.errors import MissingExtraError

# extra -> {importable module: the distribution that brings it}, as pyproject.toml declares them
EXTRAS: dict[str, dict[str, str]] = {
    "dvc": {"dvc": "dvc"},
    "s3": {"dvc_s3": "dvc-s3"},
    "site": {
        "jinja2": "Jinja2",
        "altair": "altair",
        "markdown": "Markdown",
        "nh3": "nh3",
        "vl_convert": "vl-convert-python",
    },
    "images": {"PIL": "pillow", "matplotlib": "matplotlib"},
    "models": {"numpy": "numpy", "cloudpickle": "cloudpickle"},
    "sklearn": {"sklearn": "scikit-learn", "skops": "skops"},
    "lightgbm": {"lightgbm": "lightgbm", "skops": "skops"},
    "evaluate": {"sklearn": "scikit-learn", "matplotlib": "matplotlib"},
    "projects": {"dask": "dask", "distributed": "distributed"},
    "system-metrics": {"psutil": "psutil"},
    "serve": {"starlette": "starlette", "uvicorn": "uvicorn"},
    "registry": {"ruamel": "ruamel.yaml"},
    "demo": {"sklearn": "scikit-learn"},  # last: a module of several extras is named by its first
}


def require(extra: str, *modules: str, feature: str, hint: str = "") -> None:
    """Check that ``modules`` of ``extra`` (all of its modules when none are named) are installed,
    or raise :class:`~gitrun.errors.MissingExtraError` saying that ``feature`` needs it.

    The check finds the modules without importing them (an incremental site build never imports
    Altair); a module that is installed but fails to import is reported the same way where it is
    imported (:func:`missing_extra`)."""
    for module in modules or tuple(EXTRAS[extra]):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise MissingExtraError(feature, extra, EXTRAS[extra][module], module, hint) from None


def missing_extra(exc: BaseException, feature: str) -> MissingExtraError | None:
    """The :class:`~gitrun.errors.MissingExtraError` that ``exc`` means when it is (or was caused by)
    a failed import of a module listed here, else None. DVC, say, reports a missing ``dvc_s3`` as
    its own ImportError raised from the ModuleNotFoundError."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MissingExtraError):
            return current
        if isinstance(current, ImportError):
            top = (current.name or "").split(".")[0]
            for extra, modules in EXTRAS.items():
                if top in modules:
                    return MissingExtraError(feature, extra, modules[top], top)
        current = current.__cause__ or current.__context__
    return None
