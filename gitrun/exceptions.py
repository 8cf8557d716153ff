"""MLflow's ``mlflow.exceptions``: ``except mlflow.exceptions.MlflowException`` catches gitrun's errors.

``MlflowException`` *is* :class:`gitrun.errors.GitrunError`, the base of every error gitrun raises,
and each error carries MLflow's ``error_code`` (``RESOURCE_ALREADY_EXISTS``,
``RESOURCE_DOES_NOT_EXIST``, ``INVALID_PARAMETER_VALUE``...), so MLflow's "create the experiment,
or carry on if it exists" pattern works unchanged::

    try:
        mlflow.create_experiment("iris")
    except mlflow.exceptions.MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
"""

from __future__ import annotations

from gitrun.errors import ExecutionException, GitrunError, NotSupportedError

MlflowException = GitrunError
MlflowTracingException = NotSupportedError  # GenAI tracing is not supported: every tracing call raises it

__all__ = ["ExecutionException", "MlflowException", "MlflowTracingException"]
