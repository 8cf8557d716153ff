"""The model of an autologged fit: how an integration logs it without knowing the model layer.

The flavor module that enables an integration hands it a :class:`ModelLogger` (gitrun's own is
``gitrun.models.autolog.FlavorModelLogger``): ``log_model`` saves the fitted model through the
flavor into the active run, ``infer_signature`` is ``gitrun.models.infer_signature``. The
input example and signature are resolved here, as MLflow resolves them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

INPUT_EXAMPLE_SAMPLE_ROWS = 5  # MLflow's: the rows of the training data an input example keeps


class ModelLogger(Protocol):
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
        """Log ``model`` into the active run as ``artifacts/<name>/``; its model ID."""

    def infer_signature(self, model_input: Any, model_output: Any) -> Any:
        """The signature of a model taking ``model_input`` and returning ``model_output``."""


def resolve_input_example_and_signature(
    get_input_example: Callable[[], Any],
    infer_model_signature: Callable[[Any], Any],
    log_input_example: bool,
    log_model_signature: bool,
    logger: logging.Logger,
) -> tuple[Any, Any]:
    """``(input example or None, signature)`` as MLflow's autolog resolves them: the example is
    gathered when either is wanted (the signature is inferred from it), and returned only when
    ``log_input_example``; a signature that is not wanted, or could not be inferred, is ``False``
    when an example is logged (so none is inferred from the example), else None. Failures are
    warnings."""
    input_example = None
    example_error: str | None = None
    if log_input_example or log_model_signature:
        try:
            input_example = get_input_example()
        except Exception as exc:
            example_error = str(exc)
    signature: Any = None
    signature_error: str | None = None
    if log_model_signature:
        try:
            if input_example is None:
                raise ValueError(f"could not sample data to infer model signature: {example_error}")
            signature = infer_model_signature(input_example)
        except Exception as exc:
            signature_error = str(exc)
    if signature is None and input_example is not None and (not log_model_signature or signature_error is not None):
        signature = False
    if log_input_example and example_error is not None:
        logger.warning("Failed to gather input example: %s", example_error)
    if log_model_signature and signature_error is not None:
        logger.warning("Failed to infer model signature: %s", signature_error)
    return (input_example if log_input_example else None), signature
