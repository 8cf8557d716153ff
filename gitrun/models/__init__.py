"""Models: MLflow's MLmodel format, flavors as plugins, signatures, model URIs at any revision.

The flavor modules are ``gitrun.pyfunc``, ``gitrun.sklearn`` and ``gitrun.lightgbm`` (MLflow's
``mlflow.<flavor>`` names); this package holds what they share. Everything loads on first use:
``import gitrun`` stays fast, and numpy, pandas or scikit-learn load only with a model.
The format and the flavor API are in docs/models.md.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "ModelSignature": "gitrun.models.signature",
    "Schema": "gitrun.models.signature",
    "ColSpec": "gitrun.models.signature",
    "TensorSpec": "gitrun.models.signature",
    "ParamSchema": "gitrun.models.signature",
    "ParamSpec": "gitrun.models.signature",
    "DataType": "gitrun.models.signature",
    "Array": "gitrun.models.signature",
    "Object": "gitrun.models.signature",
    "Property": "gitrun.models.signature",
    "Map": "gitrun.models.signature",
    "AnyType": "gitrun.models.signature",
    "infer_signature": "gitrun.models.infer",
    "MLModel": "gitrun.models.mlmodel",
    "Model": "gitrun.models.mlmodel",
    "read_mlmodel": "gitrun.models.mlmodel",
    "ModelInfo": "gitrun.models.logged",
    "LoggedModel": "gitrun.models.logged",
    "get_logged_model": "gitrun.models.logged",
    "search_logged_models": "gitrun.models.logged",
    "Flavor": "gitrun.models.flavors",
    "SavedFlavor": "gitrun.models.flavors",
    "LoadOptions": "gitrun.models.flavors",
    "PyFuncModel": "gitrun.models.loading",
    "load_native": "gitrun.models.loading",
    "save_model": "gitrun.models.save",
    "log_model": "gitrun.models.save",
    "make_metric": "gitrun.models.evaluate",
    "ModelLocation": "gitrun.models.uri",
    "resolve": "gitrun.models.uri",
    "evaluate": "gitrun.models.evaluate",
    "EvaluationResult": "gitrun.models.evaluate",
    "model_summary": "gitrun.models.info",
    "ModelSummary": "gitrun.models.info",
}
_ALIASES = {"Model": "MLModel"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), _ALIASES.get(name, name))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gitrun.models' has no attribute {name!r}")
