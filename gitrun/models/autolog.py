"""How autolog logs a fitted model: through its flavor's ``log_model`` (a
``gitrun.tracking.autolog.examples.ModelLogger``).

The flavor modules' ``autolog`` functions hand their integration a :class:`FlavorModelLogger`, so
the write path's autolog code logs models without importing this package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gitrun.models.logged import ModelInfo


class FlavorModelLogger:
    """Logs models with a flavor's ``log_model`` and infers their signatures."""

    def __init__(self, log_model: Callable[..., ModelInfo]):
        self._log_model = log_model

    def log_model(
        self,
        model: Any,
        name: str,
        *,
        signature: Any = None,
        input_example: Any = None,
        params: Mapping[str, Any] | None = None,
        registered_model_name: str | None = None,
        **options: Any,
    ) -> str | None:
        info = self._log_model(
            model,
            name=name,
            signature=signature,
            input_example=input_example,
            params=params,
            registered_model_name=registered_model_name,
            **options,
        )
        return info.model_id

    def infer_signature(self, model_input: Any, model_output: Any) -> Any:
        from gitrun.models.infer import infer_signature

        return infer_signature(model_input, model_output)
