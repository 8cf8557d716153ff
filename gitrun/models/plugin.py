"""The models' built-in hook implementations, registered like any plugin (``gitrun.plugins.BUILTIN_PLUGINS``):
the ``python_function``, ``sklearn`` and ``lightgbm`` flavors, the built-in model URI forms, and the
autologging of scikit-learn and LightGBM (which log their models through these flavors).

Every process that starts a run imports this module (the plugin manager loads its plugins then),
so it imports nothing itself: the flavor modules load when a model is saved or loaded.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookimpl = pluggy.HookimplMarker("gitrun")


@hookimpl
def gitrun_model_flavors() -> list[Any]:
    from gitrun.models import lightgbm, pyfunc, sklearn  # the flavors only when a model is saved or loaded

    return [pyfunc.FLAVOR, sklearn.FLAVOR, lightgbm.FLAVOR]


@hookimpl
def gitrun_autolog_integrations() -> list[Any]:
    from gitrun.tracking.autolog import Integration

    return [
        Integration(
            "sklearn", "sklearn", "gitrun.models.sklearn:autolog", "scikit-learn estimators, pipelines, searches"
        ),
        Integration(
            "lightgbm", "lightgbm", "gitrun.models.lightgbm:autolog", "lightgbm.train and its scikit-learn API"
        ),
    ]


@hookimpl
def gitrun_resolve_model_uri(uri: str, store: Any, rev: str | None) -> Any:
    from gitrun.models.uri import resolve_builtin

    return resolve_builtin(uri, store, rev)
