"""What autolog writes into a run, with MLflow's truncation (MLflow's ``MlflowAutologgingQueueingClient``,
without its queue: gitrun's writes are fast enough to make synchronously).

Autolog logs values it did not choose (``get_params()`` holds whole estimators): a key over 250
characters, a param value over 6000 or a tag value over 8000 is cut to the limit, ending in
``...``, with a warning naming it, as MLflow's autolog does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gitrun.entities import RunTag
from gitrun.store.validation import MAX_KEY_LENGTH, MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH
from gitrun.tracking import fluent
from gitrun.tracking.client import Client

log = logging.getLogger(__name__)

ELLIPSIS = "..."


def ellipsize(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def truncate(values: Mapping[Any, Any], value_limit: int | None) -> dict[str, Any]:
    """``values`` with over-long keys (and string forms of values, when ``value_limit``) cut, as MLflow cuts them."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = str(key)
        if len(name) > MAX_KEY_LENGTH:
            name = ellipsize(name, MAX_KEY_LENGTH)
            log.warning("Truncated the key `%s`", name)
        if value_limit is not None and len(str(value)) > value_limit:
            value = ellipsize(value, value_limit)
            log.warning("Truncated the value of the key `%s`. Truncated value: `%s`", name, value)
        out[name] = value
    return out


def log_params(run_id: str, params: Mapping[Any, Any]) -> None:
    if params:
        fluent.log_params({k: str(v) for k, v in truncate(params, MAX_PARAM_VALUE_LENGTH).items()}, run_id=run_id)


def set_tags(run_id: str, tags: Mapping[str, Any]) -> None:
    if tags:
        Client().log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in truncate(tags, MAX_TAG_VALUE_LENGTH).items()])


def log_metrics(run_id: str, metrics: Mapping[str, Any], step: int | None = None, model_id: str | None = None) -> None:
    """Log ``metrics`` at ``step`` (0 when None), also as metrics of the logged model ``model_id``."""
    if metrics:
        fluent.log_metrics(truncate(metrics, None), step=step or 0, run_id=run_id, model_id=model_id)
