"""The write path: process state, the fluent API, the client, artifacts, run context, code capture.

``gitrun.tracking`` is public (MLflow scripts import ``mlflow.tracking``); it exposes the fluent
functions and the client. Nothing here imports the version path (Git, DVC) or the site.
"""

from __future__ import annotations

from gitrun.tracking.client import Client, MlflowClient
from gitrun.tracking.fluent import *  # noqa: F403
from gitrun.tracking.fluent import __all__ as _fluent_all

__all__ = ["Client", "MlflowClient", *_fluent_all]
