"""``PythonModel``: the base class of custom Python models (``gitrun.pyfunc.PythonModel``).

This module imports nothing of gitrun on purpose: a saved ``python_model.pkl`` carries these
classes by value (cloudpickle), so MLflow loads a gitrun pyfunc model where gitrun is not
installed. Its wrapper calls ``load_context``, ``predict`` and reads ``predict_type_hints``, which
are all here.
"""

from __future__ import annotations

from typing import Any


class TypeHints:
    """What MLflow's pyfunc wrapper reads of a model's type hints (gitrun infers none from them);
    the fields of MLflow's ``_TypeHints``, which pickles of MLflow's models hold."""

    def __init__(self, input_: Any = None, output: Any = None):
        self.input = input_
        self.output = output


class PythonModel:
    """A custom model: subclass it, override ``predict`` (and ``load_context`` to load artifacts)."""

    def load_context(self, context: Any) -> None:
        """Called once at load time with a ``PythonModelContext`` (``context.artifacts``: name -> path)."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict on ``model_input`` (the signature is already enforced); ``params``: inference params."""
        raise NotImplementedError(f"{type(self).__name__} must define predict(self, context, model_input, params=None)")

    def predict_stream(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not stream predictions")

    @property
    def predict_type_hints(self) -> TypeHints:
        return TypeHints()


class FunctionPythonModel(PythonModel):
    """A plain function ``f(model_input)`` as a PythonModel (MLflow's ``_FunctionPythonModel`` fields)."""

    def __init__(self, func: Any, signature: Any = None):
        self.func = func
        self.signature = signature

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:  # type: ignore[override]
        return self.func(model_input)


class PythonModelContext:
    """What ``load_context`` and ``predict`` get: the model's artifacts and its ``model_config``."""

    def __init__(self, artifacts: dict[str, str], model_config: dict[str, Any] | None = None):
        self._artifacts = artifacts
        self._model_config = model_config

    @property
    def artifacts(self) -> dict[str, str]:
        """Name -> absolute path of each artifact saved with the model."""
        return self._artifacts

    @property
    def model_config(self) -> dict[str, Any] | None:
        return self._model_config
